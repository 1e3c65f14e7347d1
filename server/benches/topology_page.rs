//! The server-side render of a flow's page with its topology, for big
//! flows: a Dag of N tasks each depending on all earlier ones, N tasks in a
//! line, N tasks in one Parallel, and a line past the topology's limit.
//! Serves Mortar on 127.0.0.1:0 and times whole HTTP responses (parse,
//! layout and render) of the flow's Overview and Topology tabs and of an
//! execution's page; then two dense pages at once while `/flows` is asked
//! for, to show that the other requests go on; and the process's peak RSS.
//!
//! `cargo bench -p server --bench topology_page` (`MORTAR_BENCH_TASKS`,
//! default 1000, and `MORTAR_BENCH_SAMPLES`, default 7, change the sizes).

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::store::{FlowSource, NewExecution, Store};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A Dag of `n` tasks, each depending on all earlier ones.
fn dense_dag(id: &str, n: usize) -> String {
    let mut yaml = format!(
        "id: {id}\nnamespace: bench\ntasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n"
    );
    for i in 0..n {
        write!(yaml, "      - task:\n          id: t{i}\n          type: io.kestra.plugin.core.log.Log\n          message: m\n").unwrap();
        if i > 0 {
            let deps: Vec<String> = (0..i).map(|d| format!("t{d}")).collect();
            writeln!(yaml, "        dependsOn: [{}]", deps.join(", ")).unwrap();
        }
    }
    yaml
}

/// `n` tasks in a line, or in one Parallel.
fn wide(id: &str, n: usize, parallel: bool) -> String {
    let mut yaml = format!("id: {id}\nnamespace: bench\ntasks:\n");
    let indent = if parallel {
        yaml.push_str("  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n");
        "    "
    } else {
        ""
    };
    for i in 0..n {
        write!(yaml, "{indent}  - id: t{i}\n{indent}    type: io.kestra.plugin.core.log.Log\n{indent}    message: m\n").unwrap();
    }
    yaml
}

/// The peak resident set of this process (server included), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tasks = env_number("MORTAR_BENCH_TASKS", 1000);
    let samples = env_number("MORTAR_BENCH_SAMPLES", 7);
    let temp = tempfile::tempdir()?;
    let store = Store::open(temp.path()).await?;
    let flows = [
        ("dense", dense_dag("dense", tasks)),
        ("dense300", dense_dag("dense300", 300)),
        ("line", wide("line", tasks, false)),
        ("parallel", wide("parallel", tasks, true)),
        // Past the limit: the topology says so instead of drawing.
        ("too_big", wide("too_big", 12_000, false)),
    ];
    let mut executions = BTreeMap::new();
    for (id, source) in &flows {
        let revision = store
            .save_flow(&FlowSource {
                namespace: Namespace::new("bench"),
                id: FlowId::new(*id),
                description: None,
                source: source.clone(),
            })
            .await?;
        let new = NewExecution {
            id: ExecutionId::generate(),
            namespace: Namespace::new("bench"),
            flow_id: FlowId::new(*id),
            flow_revision: revision,
            inputs: serde_json::json!({}),
            labels: BTreeMap::new(),
            trigger_vars: None,
            original_id: None,
        };
        store.create_started_execution(&new).await?;
        executions.insert(*id, new.id);
    }

    let state = server::AppState::new(
        store.clone(),
        temp.path(),
        std::sync::Arc::new(|_: &str| None),
        None,
    );
    let served = support::serve(state).await?;
    let url = served.url.clone();
    let client = engine::http::client();
    let get = |path: String| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let start = Instant::now();
            let response = client.get(format!("{url}{path}")).send().await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            let body = response.text().await?;
            anyhow::Ok((start.elapsed(), body))
        }
    };

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{tasks} tasks, {samples} samples each; the too_big flow has 12,000");
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>10}",
        "GET (whole response)", "p50 ms", "max ms", "KiB", "source KiB"
    );
    for (id, source) in &flows {
        for path in [
            format!("/flows/bench/{id}"),
            format!("/flows/bench/{id}/topology"),
            format!("/executions/{}", executions[id]),
        ] {
            let (_, body) = get(path.clone()).await?;
            if *id == "too_big" {
                anyhow::ensure!(
                    body.contains("This topology is not drawn"),
                    "{path}: no message"
                );
            } else {
                anyhow::ensure!(body.contains(r#"data-task-id="t1""#), "{path}: no topology");
            }
            let mut times = Vec::with_capacity(samples);
            for _ in 0..samples {
                times.push(get(path.clone()).await?.0);
            }
            times.sort();
            let what = if path.starts_with("/executions") {
                format!("/executions/<id> of {id}")
            } else {
                path.clone()
            };
            println!(
                "{what:<44} {:>9.1} {:>9.1} {:>9} {:>10}",
                ms(times[times.len() / 2]),
                ms(*times.last().unwrap()),
                body.len() / 1024,
                source.len() / 1024
            );
        }
    }

    // Two dense pages at once; meanwhile, a small page is asked for again
    // and again, and its slowest response is what another user waits.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(get("/flows".to_owned()).await?.0);
    }
    idle.sort();
    let heavy = || get("/flows/bench/dense".to_owned());
    let started = Instant::now();
    let both = tokio::spawn({
        let (a, b) = (heavy(), heavy());
        async move { futures::future::join(a, b).await }
    });
    let mut during = Vec::new();
    while !both.is_finished() {
        during.push(get("/flows".to_owned()).await?.0);
    }
    // A failed response is shown, not fatal: two flow pages rendered at
    // once sometimes lose one to a panic in Leptos (a disposed reactive
    // value read by the page's title); see BENCHMARKS.md.
    let (a, b) = both.await?;
    let shown = |r: anyhow::Result<(Duration, String)>| match r {
        Ok((d, _)) => format!("{:.1} ms", ms(d)),
        Err(e) => format!("failed ({e})"),
    };
    during.sort();
    println!(
        "two dense pages at once: {} and {} ({:.1} ms in all); meanwhile {} GET /flows, max {:.1} ms (alone: p50 {:.1} ms, max {:.1} ms)",
        shown(a),
        shown(b),
        ms(started.elapsed()),
        during.len(),
        during.last().map_or(0.0, |d| ms(*d)),
        ms(idle[idle.len() / 2]),
        ms(*idle.last().unwrap()),
    );
    if let Some(peak) = peak_rss_mib() {
        println!("peak RSS of the process (server and client): {peak:.0} MiB");
    }
    served.stop().await?;
    Ok(())
}
