//! Databricks task benchmarks against the emulator (in this process, files
//! on disk). Prints figures; asserts nothing. Run with
//! `cargo bench -p engine --bench databricks` after `scripts/test.sh` has
//! made `.venv` (for the official Python SDK's side).
//!
//! - upload and download throughput, DBFS and a volume: Mortar's tasks
//!   beside the official Python SDK (`w.dbfs`, `w.files`) on the same emulator;
//! - how soon a finished run is noticed by `job.SubmitRun`, and how many
//!   runs/get requests its wait costs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use engine::databricks::{Auth, ClientOptions, Connection};
use engine::executor::{Executor, Launch};
use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::logs::LogPipeline;
use engine::plan::Plan;
use engine::secret::Secret;
use engine::state::State;
use engine::storage::Storage;
use engine::store::Store;
use engine::task::databricks::Databricks;
use engine::task::{Runners, Services};
use serde_json::{Value, json};

const MIB: u64 = 1024 * 1024;
const SIZE_MIB: u64 = 64;

/// The emulator on a runtime of its own (its own threads), so that it does
/// not share Mortar's scheduler, as it would not in real life; the Python
/// SDK runs in its own process anyway.
struct OwnRuntime {
    url: String,
    token: String,
    _stop: std::sync::mpsc::Sender<()>,
}

impl OwnRuntime {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn token(&self) -> &str {
        &self.token
    }
}

fn start_emulator(config: EmulatorConfig) -> OwnRuntime {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let handle: EmulatorHandle = Emulator::start(config).await.unwrap();
            ready_tx
                .send((handle.url(), handle.token().to_owned()))
                .unwrap();
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
            handle.shutdown().await;
        });
    });
    let (url, token) = ready_rx.recv().unwrap();
    OwnRuntime {
        url,
        token,
        _stop: stop_tx,
    }
}

struct Bench {
    emulator: OwnRuntime,
    store: Store,
    storage: Storage,
    executor: Executor,
    _pipeline: LogPipeline,
    dir: tempfile::TempDir,
}

async fn bench(time_scale: f64) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let emulator = start_emulator(EmulatorConfig {
        time_scale,
        data_dir: Some(dir.path().join("workspace")),
        ..Default::default()
    });
    let store = Store::open(&dir.path().join("mortar")).await.unwrap();
    let (pipeline, _) = LogPipeline::start(store.clone());
    let storage = Storage::new(dir.path().join("storage"));
    let services = Services {
        store: store.clone(),
        storage: storage.clone(),
        logs: pipeline.sender(),
    };
    let connection = Connection {
        host: emulator.url(),
        auth: Auth::Token(Secret::new(emulator.token())),
    };
    let runners = Runners::new(Databricks::new(
        Some(connection),
        None,
        ClientOptions::default(),
        engine::base_url::AllowedHosts::any(),
    ));
    let executor = Executor::new(services, runners, Arc::new(|_: &str| None));
    Bench {
        emulator,
        store,
        storage,
        executor,
        _pipeline: pipeline,
        dir,
    }
}

impl Bench {
    /// Runs a one-task flow; returns how long the task's attempt took.
    async fn task_time(&self, task: &str, inputs: Value, id: ExecutionId) -> Duration {
        let yaml = format!(
            "id: bench\nnamespace: bench\ninputs:\n  - id: data\n    type: FILE\n    required: false\ntasks:\n{task}"
        );
        let plan = Arc::new(Plan::from_yaml(&yaml).unwrap());
        let record = self
            .executor
            .launch(Launch {
                id: Some(id),
                plan,
                flow_revision: 1,
                inputs: inputs.as_object().cloned().unwrap_or_default(),
                labels: Default::default(),
                trigger_vars: None,
            })
            .await
            .unwrap();
        assert_eq!(
            self.executor.wait(&record.id).await.unwrap(),
            State::Success
        );
        let run = self.store.task_runs(&record.id).await.unwrap().remove(0);
        let attempt = &run.attempts[0];
        Duration::from_millis((attempt.end.unwrap() - attempt.start) as u64)
    }
}

fn rate(duration: Duration) -> f64 {
    SIZE_MIB as f64 / duration.as_secs_f64()
}

/// The official Python SDK moving the same file on the same emulator;
/// `None` when `.venv` has no databricks-sdk.
fn python_sdk(host: &str, token: &str, file: &Path) -> Option<Value> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if !python.exists() {
        return None;
    }
    let script = r#"
import io, json, os, sys, time
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
w = WorkspaceClient(config=Config(host=os.environ["H"], token=os.environ["T"], retry_timeout_seconds=60))
path = sys.argv[1]
out = {}
def timed(name, f):
    t = time.perf_counter(); f(); out[name] = time.perf_counter() - t
with open(path, "rb") as f:
    timed("dbfs_upload", lambda: w.dbfs.upload("/bench/sdk.bin", f, overwrite=True))
timed("dbfs_download", lambda: w.dbfs.download("/bench/sdk.bin").read())
with open(path, "rb") as f:
    timed("volume_upload", lambda: w.files.upload("/Volumes/main/default/files/sdk.bin", f, overwrite=True))
timed("volume_download", lambda: w.files.download("/Volumes/main/default/files/sdk.bin").contents.read())
print(json.dumps(out))
"#;
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(file)
        .env("H", host)
        .env("T", token)
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!(
            "python SDK side failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

#[tokio::main]
async fn main() {
    // `-- transfer` or `-- runs` runs one part only.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    if wants("transfer") {
        transfer().await;
    }
    if wants("runs") {
        runs().await;
    }
}

async fn transfer() {
    // 1. Throughput.
    let b = bench(0.0).await;
    let file = b.dir.path().join("data.bin");
    let pattern: Vec<u8> = (0..MIB).map(|i| (i * 7 % 251) as u8).collect();
    let mut content = Vec::with_capacity((SIZE_MIB * MIB) as usize);
    for _ in 0..SIZE_MIB {
        content.extend_from_slice(&pattern);
    }
    std::fs::write(&file, &content).unwrap();
    drop(content);
    let id = ExecutionId::generate();
    let uri = Storage::execution_uri(
        &Namespace::new("bench"),
        &FlowId::new("bench"),
        &id,
        "data.bin",
    );
    b.storage
        .write(&uri, tokio::fs::File::open(&file).await.unwrap())
        .await
        .unwrap();
    let inputs = json!({"data": uri});
    let mortar = [
        ("dbfs_upload", b.task_time("  - id: t\n    type: databricks.dbfs.Upload\n    from: \"{{ inputs.data }}\"\n    to: dbfs:/bench/mortar.bin\n", inputs.clone(), id).await),
        ("dbfs_download", b.task_time("  - id: t\n    type: databricks.dbfs.Download\n    from: dbfs:/bench/mortar.bin\n", json!({}), ExecutionId::generate()).await),
        ("volume_upload", b.task_time(&format!("  - id: t\n    type: databricks.dbfs.Upload\n    from: \"{uri}\"\n    to: /Volumes/main/default/files/mortar.bin\n"), json!({}), ExecutionId::generate()).await),
        ("volume_download", b.task_time("  - id: t\n    type: databricks.dbfs.Download\n    from: /Volumes/main/default/files/mortar.bin\n", json!({}), ExecutionId::generate()).await),
    ];
    // What the emulator takes at best: one PUT of bytes already in memory,
    // and one streamed from the file, by a bare HTTP client.
    let raw = engine::http::client();
    let bytes = bytes::Bytes::from(std::fs::read(&file).unwrap());
    let put = |name: &str| {
        format!(
            "{}/api/2.0/fs/files/Volumes/main/default/files/{name}?overwrite=true",
            b.emulator.url()
        )
    };
    let started = Instant::now();
    raw.put(put("raw.bin"))
        .bearer_auth(b.emulator.token())
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let from_memory = started.elapsed();
    let started = Instant::now();
    let stream = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
        tokio::fs::File::open(&file).await.unwrap(),
        MIB as usize,
    ));
    raw.put(put("raw2.bin"))
        .bearer_auth(b.emulator.token())
        .header("content-length", bytes.len())
        .body(stream)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let streamed = started.elapsed();
    drop(bytes);
    let sdk = python_sdk(&b.emulator.url(), b.emulator.token(), &file);
    println!(
        "a bare PUT of {SIZE_MIB} MiB to a volume: {:.1} MiB/s from memory, {:.1} MiB/s streamed from the file",
        rate(from_memory),
        rate(streamed)
    );
    println!(
        "transfer of {SIZE_MIB} MiB on the emulator (MiB/s; Mortar's task vs the official Python SDK):"
    );
    for (name, took) in &mortar {
        let theirs = sdk
            .as_ref()
            .and_then(|s| s[*name].as_f64())
            .map(|secs| SIZE_MIB as f64 / secs);
        match theirs {
            Some(theirs) => println!(
                "  {name:16} mortar {:8.1}   python-sdk {:8.1}   x{:.1}",
                rate(*took),
                theirs,
                rate(*took) / theirs
            ),
            None => println!(
                "  {name:16} mortar {:8.1}   python-sdk (not measured: no .venv)",
                rate(*took)
            ),
        }
    }
}

async fn runs() {
    // 2. Noticing a finished run.
    let mut delays = Vec::new();
    for scale in [0.25, 0.5, 1.0, 2.0, 4.0] {
        let b = bench(scale).await;
        for _ in 0..3 {
            let flow = "  - id: t\n    type: databricks.job.SubmitRun\n    runTasks:\n      - taskKey: a\n        newCluster:\n          sparkVersion: 15.4.x-scala2.12\n          numWorkers: 1\n        notebookTask:\n          notebookPath: /Shared/mortar-examples/aggregate\n    waitForCompletion: PT10M\n";
            let id = ExecutionId::generate();
            let started = Instant::now();
            b.task_time(flow, json!({}), id.clone()).await;
            let run = b.store.task_runs(&id).await.unwrap().remove(0);
            let run_id = run.outputs.as_ref().unwrap()["runId"].as_i64().unwrap();
            let details: Value = engine::http::client()
                .get(format!(
                    "{}/api/2.2/jobs/runs/get?run_id={run_id}",
                    b.emulator.url()
                ))
                .bearer_auth(b.emulator.token())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let ended = details["end_time"].as_i64().unwrap();
            let noticed = run.attempts[0].end.unwrap();
            delays.push((
                Duration::from_millis((noticed - ended).max(0) as u64),
                started.elapsed(),
            ));
        }
    }
    delays.sort();
    let p50 = delays[delays.len() / 2].0;
    let longest = delays.iter().map(|d| d.1).max().unwrap();
    let mut backoff = engine::databricks::poll::PollBackoff::new();
    let (mut waited, mut polls) = (Duration::ZERO, 0);
    while waited < Duration::from_secs(600) {
        waited += backoff.next_delay();
        polls += 1;
    }
    println!(
        "finished run noticed after: p50 {:.2} s, max {:.2} s over {} runs of up to {:.1} s; a 10-minute wait costs {polls} runs/get requests (one per {:.1} s)",
        p50.as_secs_f64(),
        delays.iter().map(|d| d.0).max().unwrap().as_secs_f64(),
        delays.len(),
        longest.as_secs_f64(),
        600.0 / polls as f64
    );
}
