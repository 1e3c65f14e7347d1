//! Three Mortar nodes on one PostgreSQL (started by the test with
//! scripts/postgres.sh): a web and scheduler node takes 500 executions of a
//! Databricks flow, two executor nodes run them, one is killed with
//! SIGKILL mid-run and started again. Every execution ends, each ran its
//! Databricks run once, and no stored log line is lost or doubled.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MORTAR: &str = env!("CARGO_BIN_EXE_mortar");
const ADMIN: (&str, &str) = ("admin", "cluster admin password");
const TOKEN: &str = "dapi-cluster-test";
/// Every node seals secrets with the same key.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const EXECUTIONS: usize = 500;

/// A PostgreSQL server of the test's own, stopped when dropped.
struct Postgres {
    dir: PathBuf,
    url: String,
}

impl Postgres {
    fn start() -> Self {
        let dir = PathBuf::from(format!(
            "/tmp/mortar-cluster-pg.{}.{}",
            std::process::id(),
            rand_suffix()
        ));
        let output = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "scripts/postgres.sh start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Self { dir, url }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh")
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .into()
}

/// A process stopped when dropped, unless it already ended: SIGTERM, so
/// that it cleans up (the emulator removes its SQL engine's files), then
/// SIGKILL after 10 s.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.0.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_listening(command: &mut Command, log: &Path) -> (Process, String) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let status = child.wait().ok();
            panic!(
                "unexpected first line {line:?}; exit {status:?}; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
    (Process(child), url)
}

struct Deployment {
    database: String,
    host: String,
    storage: PathBuf,
    root: PathBuf,
}

impl Deployment {
    fn node(&self, name: &str, roles: &str) -> (Process, String) {
        let data_dir = self.root.join(name);
        let mut command = Command::new(MORTAR);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--roles",
                roles,
                "--data-dir",
            ])
            .arg(&data_dir)
            .arg("--storage-dir")
            .arg(&self.storage)
            .env("MORTAR_DATABASE_URL", &self.database)
            .env("MORTAR_SECRET_KEY", KEY)
            .env("DATABRICKS_HOST", &self.host)
            .env("DATABRICKS_TOKEN", TOKEN)
            .env_remove("DATABRICKS_CLIENT_ID")
            .env_remove("DATABRICKS_CONFIG_PROFILE");
        spawn_listening(&mut command, &self.root.join(format!("{name}.log")))
    }
}

fn client() -> reqwest::Client {
    engine::http::client()
}

async fn json(request: reqwest::RequestBuilder) -> serde_json::Value {
    let response = request
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

async fn workspace(host: &str, path: &str) -> serde_json::Value {
    client()
        .get(format!("{host}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every run the workspace has, through runs/list's pages.
async fn all_runs(host: &str) -> Vec<serde_json::Value> {
    let mut runs = Vec::new();
    let mut token = String::new();
    loop {
        let page = workspace(
            host,
            &format!("/api/2.1/jobs/runs/list?limit=25&page_token={token}"),
        )
        .await;
        runs.extend(page["runs"].as_array().cloned().unwrap_or_default());
        match page["next_page_token"].as_str() {
            Some(next) => token = next.to_owned(),
            None => return runs,
        }
    }
}

async fn count(web: &str, state: &str) -> u64 {
    let page = json(client().get(format!(
        "{web}/api/v1/executions/search?namespace=cluster&state={state}&size=1"
    )))
    .await;
    page["total"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_postgresql_survive_a_killed_executor_without_running_anything_twice() {
    if std::env::var_os("MORTAR_TEST_POSTGRES").is_some() {
        // The second pass of the test command: this test starts its own
        // server and ran in the first.
        return;
    }
    let postgres = Postgres::start();
    // Kept on failure, for the nodes' logs; removed at the end otherwise.
    let root = tempfile::Builder::new()
        .prefix("mortar-cluster-")
        .tempdir()
        .unwrap()
        .keep();
    let root = &root;
    let (_emulator, host) = spawn_listening(
        Command::new(MORTAR).args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--token",
            TOKEN,
            "--time-scale",
            "0.05",
        ]),
        &root.join("emulator.log"),
    );
    let deployment = Deployment {
        database: postgres.url.clone(),
        host: host.clone(),
        storage: root.join("shared-storage"),
        root: root.to_owned(),
    };

    // The first admin, from the shell, on the shared database.
    let mut add = Command::new(MORTAR)
        .args([
            "users",
            "add",
            ADMIN.0,
            "--role",
            "admin",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(root.join("cli"))
        .env("MORTAR_DATABASE_URL", &postgres.url)
        .env("MORTAR_SECRET_KEY", KEY)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "{}", ADMIN.1).unwrap();
    let added = add.wait_with_output().unwrap();
    assert!(
        added.status.success(),
        "mortar users add: {}",
        String::from_utf8_lossy(&added.stderr)
    );

    let (_web, web) = deployment.node("web", "web,scheduler");
    let (mut first, _) = deployment.node("executor-1", "executor");
    let (_second, second_url) = deployment.node("executor-2", "executor");
    // A node without the web role answers its health probe and nothing else.
    let health = client()
        .get(format!("{second_url}/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let flows = client()
        .get(format!("{second_url}/api/v1/flows/search"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(flows.status(), 404);

    // A cluster the runs share, created once.
    let created: serde_json::Value = client()
        .post(format!("{host}/api/2.1/clusters/create"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"cluster_name": "shared", "spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cluster = created["cluster_id"].as_str().unwrap().to_owned();
    let flow = format!(
        "id: run\nnamespace: cluster\ntasks:\n  - id: job\n    type: io.kestra.plugin.databricks.job.SubmitRun\n    runName: \"run-{{{{ execution.id }}}}\"\n    runTasks:\n      - taskKey: t\n        existingClusterId: {cluster}\n        notebookTask:\n          notebookPath: /Shared/mortar-examples/aggregate\n    waitForCompletion: PT10M\n  - id: done\n    type: io.kestra.plugin.core.log.Log\n    message: \"done {{{{ execution.id }}}}\"\n"
    );
    json(
        client()
            .post(format!("{web}/api/v1/flows"))
            .header("content-type", "application/x-yaml")
            .body(flow.clone()),
    )
    .await;

    let mut ids = Vec::with_capacity(EXECUTIONS);
    for _ in 0..EXECUTIONS {
        let started = json(
            client()
                .post(format!("{web}/api/v1/executions/cluster/run"))
                .json(&serde_json::json!({})),
        )
        .await;
        ids.push(started["id"].as_str().unwrap().to_owned());
    }

    // The web node streams the last execution's log lines while executor
    // nodes write them: the stream must be what is stored, no line missing
    // or twice.
    let followed = ids.last().unwrap().clone();
    let follow = {
        let url = format!("{web}/api/v1/logs/{followed}/follow");
        tokio::spawn(async move {
            let response = client()
                .get(url)
                .basic_auth(ADMIN.0, Some(ADMIN.1))
                .send()
                .await
                .unwrap();
            let body = tokio::time::timeout(Duration::from_secs(400), response.text())
                .await
                .expect("the stream ends")
                .unwrap();
            let blocks: Vec<String> = body.split("\n\n").map(str::to_owned).collect();
            assert!(blocks.iter().any(|b| b.contains("event: end")), "{body}");
            blocks
                .iter()
                .filter(|block| block.contains("event: log"))
                .filter_map(|block| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .map(str::to_owned)
                })
                .map(|data| {
                    serde_json::from_str::<serde_json::Value>(&data).unwrap()["message"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect::<Vec<String>>()
        })
    };

    // Mid-run: some done, many under way. Then the first executor dies.
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&web, "SUCCESS").await < 50 {
        assert!(
            Instant::now() < deadline,
            "no execution ended within 2 minutes; the logs are in {}",
            root.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // It dies holding executions: the nodes API says what each runs.
    let nodes = json(client().get(format!("{web}/api/v1/cluster/nodes"))).await;
    let pid = i64::from(first.0.id());
    let held = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["pid"] == pid)
        .map_or(0, |n| n["running"].as_i64().unwrap_or(0));
    assert!(held > 0, "the executor to kill runs nothing: {nodes}");
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let before_restart = count(&web, "SUCCESS").await;
    assert!(
        before_restart < EXECUTIONS as u64,
        "everything ended before the kill: make the runs longer"
    );
    let (_first_again, _) = deployment.node("executor-1", "executor");

    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let ended: u64 = count(&web, "SUCCESS").await
            + count(&web, "FAILED").await
            + count(&web, "KILLED").await
            + count(&web, "WARNING").await;
        if ended == EXECUTIONS as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ended} of {EXECUTIONS} ended in 5 minutes; the logs are in {}",
            root.display()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A kill asked on the web node reaches the executor node that runs the
    // execution, which cancels its Databricks run: one of a flow whose run
    // lasts (100 s here), once its run is submitted.
    let long = flow.replace("id: run\n", "id: long\n").replace(
        "          notebookPath: /Shared/mortar-examples/aggregate\n",
        "          notebookPath: /Shared/mortar-examples/aggregate\n          baseParameters:\n            emulator_sleep: \"2000\"\n",
    );
    assert!(long.contains("emulator_sleep"), "{long}");
    json(
        client()
            .post(format!("{web}/api/v1/flows"))
            .header("content-type", "application/x-yaml")
            .body(long),
    )
    .await;
    let killed = json(
        client()
            .post(format!("{web}/api/v1/executions/cluster/long"))
            .json(&serde_json::json!({})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let execution = json(client().get(format!("{web}/api/v1/executions/{killed}"))).await;
        let runs = execution["taskRunList"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if runs
            .iter()
            .any(|r| r["taskId"] == "job" && r["state"]["current"] == "RUNNING")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{killed} never started its job: {execution}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let runs_of_long = || async {
        all_runs(&host)
            .await
            .into_iter()
            .find(|r| r["run_name"] == format!("run-{killed}"))
    };
    while runs_of_long().await.is_none() {
        assert!(
            Instant::now() < deadline,
            "{killed}'s Databricks run was never submitted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let response = client()
        .delete(format!("{web}/api/v1/executions/{killed}/kill"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let execution = json(client().get(format!("{web}/api/v1/executions/{killed}"))).await;
        if execution["state"]["current"] == "KILLED" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the kill did not end {killed}: {execution}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_eq!(
        count(&web, "SUCCESS").await,
        EXECUTIONS as u64,
        "every execution but the killed one succeeds"
    );
    assert_eq!(count(&web, "KILLED").await, 1);

    // One Databricks run per execution: none submitted twice.
    let runs = all_runs(&host).await;
    let mut names: Vec<String> = runs
        .iter()
        .map(|r| r["run_name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    let total = names.len();
    names.dedup();
    assert_eq!(
        (total, names.len()),
        (EXECUTIONS + 1, EXECUTIONS + 1),
        "one run per execution"
    );
    // Databricks cancels asynchronously: the run goes TERMINATING, then
    // TERMINATED with CANCELED.
    let run_id = runs
        .iter()
        .find(|r| r["run_name"] == format!("run-{killed}"))
        .unwrap()["run_id"]
        .clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let cancelled = workspace(&host, &format!("/api/2.1/jobs/runs/get?run_id={run_id}")).await;
        if cancelled["state"]["life_cycle_state"] != "TERMINATING" {
            assert_eq!(
                cancelled["state"]["result_state"], "CANCELED",
                "{cancelled}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cancelled run stays TERMINATING: {cancelled}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each execution's log has its last line once.
    for id in &ids {
        let logs = json(client().get(format!("{web}/api/v1/logs/{id}"))).await;
        let lines: Vec<&str> = logs
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["message"].as_str())
            .collect();
        let done = format!("done {id}");
        assert_eq!(
            lines.iter().filter(|l| **l == done).count(),
            1,
            "{id}: {lines:?}"
        );
    }
    let logs = json(client().get(format!("{web}/api/v1/logs/{killed}"))).await;
    assert!(
        !logs.to_string().contains(&format!("done {killed}")),
        "the killed execution went on: {logs}"
    );

    let streamed = follow.await.unwrap();
    let stored = json(client().get(format!("{web}/api/v1/logs/{followed}"))).await;
    let stored: Vec<String> = stored
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(stored.len() >= 2, "{stored:?}");
    assert_eq!(streamed, stored, "the followed stream is the stored log");

    // A file a task writes on an executor node is served by the web node
    // (the nodes share --storage-dir).
    let files = "id: files\nnamespace: cluster\ntasks:\n  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n    inputFiles:\n      out.txt: \"made by {{ execution.id }}\"\n    outputFiles: [out.txt]\n    tasks:\n      - id: noop\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n";
    json(
        client()
            .post(format!("{web}/api/v1/flows"))
            .header("content-type", "application/x-yaml")
            .body(files),
    )
    .await;
    let made = json(
        client()
            .post(format!("{web}/api/v1/executions/cluster/files?wait=true"))
            .json(&serde_json::json!({})),
    )
    .await;
    assert_eq!(made["state"]["current"], "SUCCESS", "{made}");
    let made_id = made["id"].as_str().unwrap();
    let outputs = json(client().get(format!("{web}/api/v1/executions/{made_id}"))).await;
    let run = outputs["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "wd")
        .unwrap()
        .clone();
    let uri = run["outputs"]["outputFiles"]["out.txt"]
        .as_str()
        .unwrap_or_else(|| panic!("{run}"))
        .to_owned();
    let response = client()
        .get(format!("{web}/api/v1/executions/{made_id}/file"))
        .query(&[("path", uri.as_str())])
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), format!("made by {made_id}"));

    // The survivor never lost an execution it ran, nor met a second walk
    // of one (a double claim shows as a store error or a stopped walk).
    let survivor = std::fs::read_to_string(root.join("executor-2.log")).unwrap();
    for symptom in [
        "another node runs this execution now",
        "store error",
        "lease ran out",
    ] {
        assert!(
            !survivor.contains(symptom),
            "executor-2 logged {symptom:?}; the logs are in {}",
            root.display()
        );
    }

    // The nodes page lists the three live nodes and the dead one.
    let nodes = json(client().get(format!("{web}/api/v1/cluster/nodes"))).await;
    let alive = nodes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["alive"] == true)
        .count();
    assert_eq!(alive, 3, "{nodes}");
    drop(postgres);
    let _ = std::fs::remove_dir_all(root);
}
