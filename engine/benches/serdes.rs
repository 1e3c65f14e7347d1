//! A large CSV through `serdes.csv.CsvToIon` and back through
//! `serdes.csv.IonToCsv`, in one flow on the executor: the time each
//! takes, and the process's memory (peak RSS) before and after, which stays
//! flat because both tasks stream a line at a time. Prints figures;
//! asserts only that the round trip gives the same bytes back. Run with
//! `cargo bench -p engine --bench serdes`; `MORTAR_BENCH_CSV_MB` sets the
//! file's size (1024 by default; it needs about 3.5 times that on disk).

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use engine::executor::{Executor, Launch};
use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::logs::LogPipeline;
use engine::plan::Plan;
use engine::state::State;
use engine::storage::Storage;
use engine::store::Store;
use engine::task::{Runners, Services};

/// A field of /proc/self/status, in KiB (`VmHWM`, the peak RSS; `VmRSS`).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() {
    let megabytes: u64 = std::env::var("MORTAR_BENCH_CSV_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let (pipeline, _) = LogPipeline::start(store.clone());
    let storage = Storage::new(dir.path().join("storage"));
    let services = Services {
        store: store.clone(),
        storage: storage.clone(),
        logs: pipeline.sender(),
    };
    let executor = Executor::new(services, Runners::core(), Arc::new(|_: &str| None));

    // The CSV, written as it is generated: quoted fields with commas, nulls,
    // numbers, about 100 bytes a row.
    let source = Storage::execution_uri(
        &Namespace::new("bench"),
        &FlowId::new("bench"),
        &ExecutionId::new("source"),
        "big.csv",
    );
    let path = storage.path_of(&source).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let started = Instant::now();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&path).unwrap());
    writeln!(out, "id,customer,region,amount,note").unwrap();
    let target = megabytes * 1024 * 1024;
    let mut written = 0u64;
    let mut rows = 0u64;
    while written < target {
        let line = format!(
            "{rows},customer-{:08},{},{}.{:02},\"note {rows}, with a comma and \"\"quotes\"\"\"\n",
            rows * 7919 % 100_000_000,
            ["north", "south", "east", "west", "\\N"][(rows % 5) as usize],
            rows % 10_000,
            rows % 100
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        rows += 1;
    }
    out.flush().unwrap();
    drop(out);
    println!(
        "generated {:.0} MiB, {rows} rows, in {:.1} s",
        written as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );

    let yaml = format!(
        "id: bench\nnamespace: bench\ntasks:\n  - id: to_ion\n    type: io.kestra.plugin.serdes.csv.CsvToIon\n    from: \"{source}\"\n  - id: to_csv\n    type: io.kestra.plugin.serdes.csv.IonToCsv\n    from: \"{{{{ outputs.to_ion.uri }}}}\"\n"
    );
    let before = status_kib("VmHWM");
    let rss_before = status_kib("VmRSS");
    let plan = Arc::new(Plan::from_yaml(&yaml).unwrap());
    let started = Instant::now();
    let record = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Default::default(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap();
    let state = executor.wait(&record.id).await.unwrap();
    let total = started.elapsed();
    assert_eq!(state, State::Success);
    let runs = store.task_runs(&record.id).await.unwrap();
    let duration = |task: &str| {
        let run = runs.iter().find(|r| r.task_id.as_str() == task).unwrap();
        (run.ended_at.unwrap_or(0) - run.created_at) as f64 / 1000.0
    };
    let outputs = |task: &str| {
        runs.iter()
            .find(|r| r.task_id.as_str() == task)
            .and_then(|r| r.outputs.clone())
            .unwrap()
    };
    let ion = storage
        .path_of(outputs("to_ion")["uri"].as_str().unwrap())
        .unwrap();
    let back = storage
        .path_of(outputs("to_csv")["uri"].as_str().unwrap())
        .unwrap();
    let ion_size = std::fs::metadata(&ion).unwrap().len();
    let back_size = std::fs::metadata(&back).unwrap().len();
    let after = status_kib("VmHWM");
    println!(
        "CsvToIon {:.1} s ({:.0} MiB/s), Ion {:.0} MiB; IonToCsv {:.1} s ({:.0} MiB/s); flow {:.1} s",
        duration("to_ion"),
        written as f64 / 1048576.0 / duration("to_ion"),
        ion_size as f64 / 1048576.0,
        duration("to_csv"),
        ion_size as f64 / 1048576.0 / duration("to_csv"),
        total.as_secs_f64()
    );
    println!(
        "memory: RSS {:.1} MiB before; peak RSS {:.1} MiB before, {:.1} MiB after (+{:.1} MiB for {:.0} MiB of CSV)",
        mib(rss_before),
        mib(before),
        mib(after),
        mib(after.saturating_sub(before)),
        written as f64 / 1048576.0
    );
    // The round trip gives the bytes back, but for `\N`: null in Ion, an
    // empty field in the CSV written (one row in five).
    let expected = std::fs::read(&path).unwrap().len() as u64 - (rows / 5) * 2;
    println!(
        "round trip: {back_size} bytes written back for {expected} expected ({})",
        if back_size == expected { "same" } else { "DIFFERENT" }
    );
    assert_eq!(back_size, expected);
}
