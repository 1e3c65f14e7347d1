//! The server-side render of `/executions` over a history of 100,000
//! executions: fills a fresh database through the store, serves Mortar on
//! 127.0.0.1:0 and times whole HTTP responses (render included) for the
//! default page and a few filters and sorts. Prints p50 and p95.
//!
//! `cargo bench -p server --bench executions_page` (`MORTAR_BENCH_EXECUTIONS`
//! and `MORTAR_BENCH_SAMPLES` change the sizes).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::state::Event;
use engine::store::{NewExecution, Store};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let executions = env_number("MORTAR_BENCH_EXECUTIONS", 100_000);
    let samples = env_number("MORTAR_BENCH_SAMPLES", 200);
    let data_dir = tempfile::tempdir()?;
    let store = Store::open(data_dir.path()).await?;

    let started = Instant::now();
    let flows = ["load_sales", "daily_report", "cluster_job", "upload_query", "hello"];
    let namespaces = ["company.data", "company.finance", "tutorial"];
    for i in 0..executions {
        let labels = BTreeMap::from([("env".to_owned(), if i % 3 == 0 { "prod" } else { "dev" }.to_owned())]);
        let new = NewExecution {
            id: ExecutionId::generate(),
            namespace: Namespace::new(namespaces[i % namespaces.len()]),
            flow_id: FlowId::new(flows[i % flows.len()]),
            flow_revision: 1,
            inputs: serde_json::json!({"day": "2026-11-25"}),
            labels,
            trigger_vars: None,
            original_id: None,
        };
        store.create_started_execution(&new).await?;
        // Nine in ten have ended, one in twenty of them failed.
        if i % 10 != 0 {
            let event = if i % 20 == 1 { Event::Fail } else { Event::Succeed };
            store.end_execution(&new.id, event).await?;
        }
    }
    println!("filled {executions} executions in {:.1} s", started.elapsed().as_secs_f64());

    let state = server::AppState::new(store.clone(), data_dir.path(), std::sync::Arc::new(|_: &str| None), None);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::run(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();

    println!("{:<48} {:>9} {:>9} {:>9}", "GET", "p50 ms", "p95 ms", "max ms");
    for path in [
        "/executions",
        "/executions?page=200",
        "/executions?state=FAILED",
        "/executions?namespace=company.data&flow=load_sales",
        "/executions?label=env:prod",
        "/executions?q=report",
        "/executions?sort=duration&dir=desc",
        "/",
    ] {
        // Warm up: the first requests fill SQLite's page cache.
        for _ in 0..5 {
            client.get(format!("{url}{path}")).send().await?.bytes().await?;
        }
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let start = Instant::now();
            let response = client.get(format!("{url}{path}")).send().await?;
            anyhow::ensure!(response.status().is_success(), "{path}: {}", response.status());
            let body = response.bytes().await?;
            times.push(start.elapsed());
            anyhow::ensure!(body.len() > 1000, "{path}: a short page");
        }
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("{path:<48} {:>9.2} {:>9.2} {:>9.2}", ms(at(0.50)), ms(at(0.95)), ms(*times.last().unwrap()));
    }
    let _ = stop.send(());
    serving.await??;
    Ok(())
}
