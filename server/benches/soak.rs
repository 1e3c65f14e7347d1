//! The soak: 10,000 executions of the shipped blueprints (`blueprints/`,
//! round robin, 32 at a time) through the REST API of a Mortar served on
//! 127.0.0.1:0, whose Databricks is an emulator in the same process with
//! its clock sped up a thousand times. Samples the process's resident
//! memory every 1,000 executions and prints it, with the executions'
//! final states and the rate; the memory should be flat over the second
//! half (what grows there is kept per execution or leaks).
//!
//! `cargo bench -p server --bench soak` (`MORTAR_BENCH_SOAK` changes the
//! count; `MORTAR_BENCH_SOAK_ONLY=hello_world,…` runs only those flows, to
//! tell Mortar's memory from the emulator's, which keeps what the
//! Databricks flows create: clusters, runs, jobs, files).
//! `MORTAR_BENCH_SOAK_EMULATOR=URL` and `MORTAR_BENCH_SOAK_TOKEN=T` use an
//! emulator in another process (`mortar emulator --token T`) instead, so
//! that the memory sampled is Mortar's alone.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use engine::store::Store;
use futures::StreamExt;

const CONCURRENCY: usize = 32;
const SAMPLE_EVERY: usize = 1_000;

/// The resident set of this process, in MiB (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::var("MORTAR_BENCH_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let data_dir = tempfile::tempdir()?;
    let outside = std::env::var("MORTAR_BENCH_SOAK_EMULATOR")
        .ok()
        .zip(std::env::var("MORTAR_BENCH_SOAK_TOKEN").ok());
    let emulator = match outside {
        Some(_) => None,
        None => Some(
            emulator::Emulator::start(emulator::EmulatorConfig {
                time_scale: 0.001,
                ..Default::default()
            })
            .await?,
        ),
    };
    let (host, token) = match (&outside, &emulator) {
        (Some((url, token)), _) => (url.clone(), token.clone()),
        (None, Some(inside)) => (inside.url(), inside.token().to_owned()),
        (None, None) => unreachable!("one emulator or the other"),
    };
    let store = Store::open(data_dir.path()).await?;
    let databricks = server::DefaultConnection {
        connection: engine::databricks::Connection {
            host,
            auth: engine::databricks::Auth::Token(engine::secret::Secret::new(token)),
        },
        embedded: true,
    };
    let state = server::AppState::new(
        store,
        data_dir.path(),
        Arc::new(|_: &str| None),
        Some(databricks),
    );
    let served = support::serve(state).await?;
    let url = served.url.clone();
    let client = engine::http::client();

    // The blueprints, each with what its inputs need (a CSV for a FILE).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../blueprints");
    let mut flows = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    names.sort();
    let only: Option<Vec<String>> = std::env::var("MORTAR_BENCH_SOAK_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    for path in names {
        let yaml = std::fs::read_to_string(&path)?;
        let saved = client
            .post(format!("{url}/api/v1/flows"))
            .header("content-type", "application/x-yaml")
            .body(yaml.clone())
            .send()
            .await?;
        anyhow::ensure!(
            saved.status().is_success(),
            "{}: {}",
            path.display(),
            saved.text().await?
        );
        let flow = engine::flow::parse(&yaml)
            .flow
            .ok_or_else(|| anyhow::anyhow!("{} is not a flow", path.display()))?;
        let files: Vec<String> = flow
            .inputs
            .iter()
            .filter(|i| i.input_type == engine::flow::model::InputType::File)
            .map(|i| i.id.value.clone())
            .collect();
        if only
            .as_ref()
            .is_none_or(|only| only.contains(&flow.id.value))
        {
            flows.push((flow.namespace.value, flow.id.value, files));
        }
    }
    let whose = if outside.is_some() {
        "Mortar's (the emulator runs apart)"
    } else {
        "Mortar's and the emulator's"
    };
    println!(
        "soak: {total} executions of {} blueprints, {CONCURRENCY} at a time; {whose} resident memory every {SAMPLE_EVERY}",
        flows.len()
    );

    let csv = "region,amount\nEU,10\nUS,25\nEU,7\nAPAC,4\n";
    let started = Instant::now();
    let mut samples = vec![(0usize, rss_mib(), 0.0_f64)];
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0usize;
    let mut runs = futures::stream::iter(0..total)
        .map(|i| {
            let (namespace, id, files) = flows[i % flows.len()].clone();
            let (client, url) = (client.clone(), url.clone());
            async move {
                let mut form = reqwest::multipart::Form::new();
                for file in files {
                    form = form.part(
                        file,
                        reqwest::multipart::Part::text(csv)
                            .file_name("sales.csv")
                            .mime_str("text/csv")
                            .expect("a MIME type"),
                    );
                }
                let answer = client
                    .post(format!(
                        "{url}/api/v1/executions/{namespace}/{id}?wait=true"
                    ))
                    .multipart(form)
                    .send()
                    .await;
                match answer {
                    Ok(answer) => answer.json::<serde_json::Value>().await.map_or_else(
                        |e| format!("unreadable answer: {e}"),
                        |body| {
                            body["state"]["current"]
                                .as_str()
                                .map_or_else(|| format!("refused: {body}"), |s| format!("{id} {s}"))
                        },
                    ),
                    Err(error) => format!("request failed: {error}"),
                }
            }
        })
        .buffer_unordered(CONCURRENCY);
    while let Some(state) = runs.next().await {
        *states.entry(state).or_default() += 1;
        done += 1;
        if done.is_multiple_of(SAMPLE_EVERY) || done == total {
            let sample = (done, rss_mib(), started.elapsed().as_secs_f64());
            println!(
                "  {:>6} executions  {:>7.1} MiB  {:>6.1} s",
                sample.0, sample.1, sample.2
            );
            samples.push(sample);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("final states:");
    for (state, count) in &states {
        println!("  {count:>6}  {state}");
    }
    let half = samples
        .iter()
        .find(|s| s.0 >= total / 2)
        .map_or(0.0, |s| s.1);
    let end = samples.last().map_or(0.0, |s| s.1);
    println!(
        "{total} executions in {elapsed:.1} s = {:.0} executions/s; resident memory {:.1} MiB at the start, {half:.1} MiB at half, {end:.1} MiB at the end ({:+.1} MiB over the second half)",
        total as f64 / elapsed,
        samples[0].1,
        end - half
    );
    served.stop().await?;
    drop(emulator);
    Ok(())
}
