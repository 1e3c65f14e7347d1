//! runs/get throughput and tail latency with 200 concurrent clients, then
//! RSS before and after a create / poll / delete soak (clusters, runs,
//! statements, DBFS files). Not run by
//! `cargo test`; run it with `cargo bench -p emulator`.
//!
//! BENCH_SECS (default 10) sets the length of each phase.

use std::time::{Duration, Instant};

use emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

const CLIENTS: usize = 200;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let emu = Emulator::start(EmulatorConfig {
        time_scale: 0.001,
        ..Default::default()
    })
    .await
    .expect("emulator starts");
    let (url, token) = (emu.url(), emu.token().to_owned());
    // reqwest is built without a TLS provider (see engine/src/http.rs).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("client");
    let post = |path: &str, body: Value| {
        client
            .post(format!("{url}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    // A hundred finished runs to poll.
    let mut runs = Vec::new();
    for i in 0..100 {
        let body = json!({"run_name": format!("bench {i}"), "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/mortar-examples/aggregate"}}]});
        let v: Value = post("/api/2.2/jobs/runs/submit", body)
            .await
            .expect("submit")
            .json()
            .await
            .expect("json");
        runs.push(v["run_id"].as_i64().expect("run_id"));
    }

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, url, token, runs) = (client.clone(), url.clone(), token.clone(), runs.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = c;
            while Instant::now() < deadline {
                let run = runs[i % runs.len()];
                i += 1;
                let t = Instant::now();
                let resp = client
                    .get(format!("{url}/api/2.2/jobs/runs/get?run_id={run}"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => {}
                }
            }
            lat
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let p = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "runs/get: {CLIENTS} clients, {} requests in {elapsed:.1} s = {:.0} req/s; p50 {:?}, p99 {:?}",
        all.len(),
        all.len() as f64 / elapsed,
        p(0.50),
        p(0.99)
    );

    // Soak: create, poll and delete clusters, runs and statements.
    let before = rss_kib();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut cycles = 0u64;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let send = |m: reqwest::Method, path: String, body: Option<Value>| {
                let rb = client.request(m, format!("{url}{path}")).bearer_auth(&token);
                let rb = match body {
                    Some(b) => rb.json(&b),
                    None => rb,
                };
                async move { rb.send().await.ok()?.json::<Value>().await.ok() }
            };
            while Instant::now() < deadline {
                let c = send(reqwest::Method::POST, "/api/2.1/clusters/create".into(), Some(json!({"spark_version": "16.4.x-scala2.12", "num_workers": 1}))).await;
                let id = c.and_then(|v| v["cluster_id"].as_str().map(str::to_owned)).unwrap_or_default();
                send(reqwest::Method::GET, format!("/api/2.1/clusters/get?cluster_id={id}"), None).await;
                send(reqwest::Method::POST, "/api/2.1/clusters/permanent-delete".into(), Some(json!({"cluster_id": id}))).await;
                let r = send(reqwest::Method::POST, "/api/2.2/jobs/runs/submit".into(), Some(json!({"tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/Shared/mortar-examples/transform"}}]}))).await;
                let run = r.and_then(|v| v["run_id"].as_i64()).unwrap_or(0);
                loop {
                    let v = send(reqwest::Method::GET, format!("/api/2.2/jobs/runs/get?run_id={run}"), None).await;
                    let life = v.as_ref().and_then(|v| v["state"]["life_cycle_state"].as_str().map(str::to_owned)).unwrap_or_default();
                    if life.is_empty() || ["TERMINATED", "INTERNAL_ERROR", "SKIPPED"].contains(&life.as_str()) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                send(reqwest::Method::POST, "/api/2.2/jobs/runs/delete".into(), Some(json!({"run_id": run}))).await;
                send(reqwest::Method::POST, "/api/2.0/sql/statements".into(), Some(json!({"warehouse_id": "a1b2c3d4e5f60718", "statement": "SELECT id, id * 2 FROM range(100)", "wait_timeout": "10s"}))).await;
                send(reqwest::Method::POST, "/api/2.0/dbfs/put".into(), Some(json!({"path": format!("/soak/{n}"), "contents": "aGVsbG8=", "overwrite": true}))).await;
                send(reqwest::Method::POST, "/api/2.0/dbfs/delete".into(), Some(json!({"path": format!("/soak/{n}")}))).await;
                n += 1;
            }
            n
        }));
    }
    // RSS every tenth of the soak: it climbs while the emulator fills what
    // it keeps by design (finished statements up to their cap, the
    // allocator's high-water mark), then stays flat.
    let mut samples = Vec::new();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(secs) / 10).await;
        samples.push(rss_kib() / 1024);
    }
    for t in tasks {
        cycles += t.await.expect("soak task");
    }
    let after = rss_kib();
    println!(
        "soak: {cycles} create/poll/delete cycles (each with a statement) in {secs} s; RSS {} MiB before, then every {} s: {:?} MiB; {} MiB at the end",
        before / 1024,
        secs / 10,
        samples,
        after / 1024
    );
    emu.shutdown().await;
}
