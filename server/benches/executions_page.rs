//! The server-side render of `/executions` over a history of 100,000
//! executions: fills a fresh database through the store, serves Mortar on
//! 127.0.0.1:0 and times whole HTTP responses (render included) for the
//! default page and a few filters and sorts. Prints p50 and p95.
//!
//! Also times the store's query alone (`Store::list_executions`), to tell
//! the database's share from the render's.
//!
//! `cargo bench -p server --bench executions_page` (`MORTAR_BENCH_EXECUTIONS`
//! and `MORTAR_BENCH_SAMPLES` change the sizes; `MORTAR_BENCH_DATA_DIR` keeps
//! the filled database there and reuses it on the next run).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::state::Event;
use engine::store::{ExecutionQuery, NewExecution, Store};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let executions = env_number("MORTAR_BENCH_EXECUTIONS", 100_000);
    let samples = env_number("MORTAR_BENCH_SAMPLES", 200);
    let temp = tempfile::tempdir()?;
    let data_dir = std::env::var_os("MORTAR_BENCH_DATA_DIR")
        .map_or_else(|| temp.path().to_owned(), std::path::PathBuf::from);
    let store = Store::open(&data_dir).await?;
    let have = store
        .list_executions(&ExecutionQuery {
            page: 1,
            size: 1,
            ..Default::default()
        })
        .await?
        .total;
    let executions = executions.saturating_sub(usize::try_from(have)?);

    let started = Instant::now();
    let flows = [
        "load_sales",
        "daily_report",
        "cluster_job",
        "upload_query",
        "hello",
    ];
    let namespaces = ["company.data", "company.finance", "tutorial"];
    for i in 0..executions {
        let labels = BTreeMap::from([(
            "env".to_owned(),
            if i % 3 == 0 { "prod" } else { "dev" }.to_owned(),
        )]);
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
            let event = if i % 20 == 1 {
                Event::Fail
            } else {
                Event::Succeed
            };
            store.end_execution(&new.id, event).await?;
        }
    }
    println!(
        "added {executions} executions to {have} in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let report = |what: &str, mut times: Vec<Duration>| {
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "{what:<52} {:>9.2} {:>9.2} {:>9.2}",
            ms(at(0.50)),
            ms(at(0.95)),
            ms(*times.last().unwrap())
        );
    };
    println!(
        "{:<52} {:>9} {:>9} {:>9}",
        "store only", "p50 ms", "p95 ms", "max ms"
    );
    for (what, query) in [
        (
            "list_executions, first page",
            ExecutionQuery {
                descending: true,
                page: 1,
                size: 25,
                ..Default::default()
            },
        ),
        (
            "list_executions, page 200",
            ExecutionQuery {
                descending: true,
                page: 200,
                size: 25,
                ..Default::default()
            },
        ),
    ] {
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let start = Instant::now();
            store.list_executions(&query).await?;
            times.push(start.elapsed());
        }
        report(what, times);
    }

    let state = server::AppState::new(
        store.clone(),
        &data_dir,
        std::sync::Arc::new(|_: &str| None),
        None,
    );
    let served = support::serve(state).await?;
    let url = served.url.clone();
    let client = engine::http::client();

    println!(
        "{:<52} {:>9} {:>9} {:>9}",
        "GET (whole response)", "p50 ms", "p95 ms", "max ms"
    );
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
            client
                .get(format!("{url}{path}"))
                .send()
                .await?
                .bytes()
                .await?;
        }
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let start = Instant::now();
            let response = client.get(format!("{url}{path}")).send().await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            let body = response.bytes().await?;
            times.push(start.elapsed());
            anyhow::ensure!(body.len() > 1000, "{path}: a short page");
        }
        report(path, times);
    }
    served.stop().await?;
    Ok(())
}
