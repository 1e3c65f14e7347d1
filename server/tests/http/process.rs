//! The `mortar` binary as a process: start-up line, bad configuration,
//! signals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MORTAR: &str = env!("CARGO_BIN_EXE_mortar");

/// Spawns `command`, waits for its `listening on URL` line, returns both.
fn spawn_listening(command: &mut Command) -> (Child, String) {
    // Its log goes to a file, read back if it does not start.
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log.reopen().unwrap()))
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            let status = child.wait().ok();
            let log = std::fs::read_to_string(log.path()).unwrap_or_default();
            panic!("unexpected first line {line:?}; exit {status:?}; its log:\n{log}")
        });
    (child, url.to_owned())
}

/// The admin the served data dirs have, and their password: the helpers
/// below send them as basic auth, as Kestra's clients do.
const ADMIN: (&str, &str) = ("admin", "correct horse battery");

/// `mortar users add admin --role admin --password-stdin` on `data_dir`,
/// before or while a server runs there.
fn add_admin(data_dir: &std::path::Path) {
    use std::io::Write;
    let mut child = Command::new(MORTAR)
        .args([
            "users",
            "add",
            ADMIN.0,
            "--role",
            "admin",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", ADMIN.1).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "mortar users add: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `mortar serve` on port 0 with the embedded emulator, whatever the
/// machine has configured, and an admin.
fn serve(data_dir: &std::path::Path) -> (Child, String) {
    if !data_dir.join("mortar.db").exists() {
        add_admin(data_dir);
    }
    let mut command = Command::new(MORTAR);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir);
    for name in [
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "DATABRICKS_CONFIG_PROFILE",
    ] {
        command.env_remove(name);
    }
    spawn_listening(&mut command)
}

fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "mortar did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serves_on_port_zero_and_stops_cleanly_on_sigterm_and_sigint() {
    for signal in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, url) = serve(dir.path());
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        assert!(!url.ends_with(":0"));
        let health = reqwest::blocking_get(&format!("{url}/api/v1/health"));
        assert_eq!(health, 200);
        Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let status = wait_for_exit(&mut child);
        assert!(status.success(), "{signal}: {status}");
        assert!(dir.path().join("mortar.db").exists());
    }
}

#[test]
fn a_bad_flag_is_one_line_naming_it_and_exit_status_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "--listen", "not-an-address"], "--listen"),
        (
            &["serve", "--data-dir", "/proc/mortar-cannot-be-here"],
            "--data-dir",
        ),
        (&["serve", "--no-such-flag"], "--no-such-flag"),
    ];
    for (args, flag) in cases {
        let output = Command::new(MORTAR)
            .args(*args)
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}

#[test]
fn the_environment_sets_listen_and_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(MORTAR)
        .arg("serve")
        .env("MORTAR_LISTEN", "127.0.0.1:0")
        .env("MORTAR_DATA_DIR", dir.path().join("from-env"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    assert!(dir.path().join("from-env/mortar.db").exists());
    // SIGTERM: its embedded emulator removes its files on the way out.
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    wait_for_exit(&mut child);
}

mod reqwest {
    /// A plain blocking GET without pulling in reqwest's blocking client.
    pub fn blocking_get(url: &str) -> u16 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            engine::http::client()
                .get(url)
                .basic_auth(super::ADMIN.0, Some(super::ADMIN.1))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    }
}

/// GET a JSON document with a blocking runtime of its own.
fn get_json(url: &str) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        engine::http::client()
            .get(url)
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

fn send(method: &str, url: &str, content_type: &str, body: &str) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = engine::http::client();
        let request = match method {
            "POST" => client.post(url),
            _ => client.put(url),
        };
        let response = request
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        response.json().await.unwrap_or(serde_json::Value::Null)
    })
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn after_kill_9_a_restarted_server_finishes_the_execution_without_rerunning_finished_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(dir.path());
    let flow = "id: crash\nnamespace: t\ntasks:\n  - id: first\n    type: debug.Return\n    format: one\n  - id: middle\n    type: flow.Sleep\n    duration: PT1S\n  - id: last\n    type: debug.Return\n    format: \"{{ outputs.first.value }}-three\"\n";
    send(
        "POST",
        &format!("{url}/api/v1/flows"),
        "application/x-yaml",
        flow,
    );
    let started = send(
        "POST",
        &format!("{url}/api/v1/executions/t/crash"),
        "application/json",
        "{}",
    );
    let id = started["id"].as_str().unwrap().to_owned();
    let run_state = |body: &serde_json::Value, task: &str| {
        body["taskRunList"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["taskId"] == task))
            .map(|r| r["state"]["current"].as_str().unwrap_or("").to_owned())
    };
    wait_until("the sleep to start", || {
        run_state(
            &get_json(&format!("{url}/api/v1/executions/{id}")),
            "middle",
        )
        .as_deref()
            == Some("RUNNING")
    });

    // SIGKILL: no clean-up of any kind.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, url) = serve(dir.path());
    let mut last = serde_json::Value::Null;
    wait_until("the execution to end", || {
        last = get_json(&format!("{url}/api/v1/executions/{id}"));
        last["state"]["current"] == "SUCCESS"
    });
    let runs = last["taskRunList"].as_array().unwrap();
    let count = |task: &str| runs.iter().filter(|r| r["taskId"] == task).count();
    assert_eq!(
        (count("first"), count("middle"), count("last")),
        (1, 1, 1),
        "{last}"
    );
    let first = runs.iter().find(|r| r["taskId"] == "first").unwrap();
    assert_eq!(
        first["attempts"].as_array().unwrap().len(),
        1,
        "a finished task is not run again"
    );
    let final_output = runs.iter().find(|r| r["taskId"] == "last").unwrap();
    assert_eq!(
        final_output["outputs"]["value"], "one-three",
        "outputs from before the crash are still there"
    );
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(wait_for_exit(&mut child).success());
}

#[test]
fn mortar_run_streams_logs_and_exits_by_the_final_state() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.yml");
    std::fs::write(&ok, "id: ok\nnamespace: t\ninputs:\n  - id: name\n    type: STRING\n  - id: data\n    type: FILE\ntasks:\n  - id: hi\n    type: log.Log\n    message: \"hi {{ inputs.name }} from {{ inputs.data }}\"\n").unwrap();
    let data = dir.path().join("data.csv");
    std::fs::write(&data, "a,b\n1,2\n").unwrap();
    let output = Command::new(MORTAR)
        .args(["run"])
        .arg(&ok)
        .args(["--input", "name=you", "--input"])
        .arg(format!("data=@{}", data.display()))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("[hi] hi you from storage:///t/ok/executions/"),
        "{stdout}"
    );
    assert!(stdout.contains("-data.csv"), "{stdout}");
    assert!(
        stdout.lines().last().unwrap().contains("ended SUCCESS"),
        "{stdout}"
    );

    let failing = dir.path().join("fail.yml");
    std::fs::write(&failing, "id: f\nnamespace: t\ntasks:\n  - id: boom\n    type: execution.Fail\n    errorMessage: nope\n").unwrap();
    let output = Command::new(MORTAR)
        .arg("run")
        .arg(&failing)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("[boom] nope") && stdout.contains("ended FAILED"),
        "{stdout}"
    );

    let output = Command::new(MORTAR)
        .arg("run")
        .arg(&ok)
        .args(["--input", "nmae=x"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("input \"nmae\" is not declared"));

    // An invalid flow does not run: its problems are shown with positions.
    let invalid = dir.path().join("invalid.yml");
    std::fs::write(
        &invalid,
        "id: f\nnamespace: t\ntasks:\n  - id: a\n    type: log.Lgo\n    message: x\n",
    )
    .unwrap();
    let output = Command::new(MORTAR)
        .arg("run")
        .arg(&invalid)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:5:11: unknown task type", invalid.display())),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("started"));
}

#[test]
fn serve_embeds_the_emulator_when_no_databricks_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve(dir.path());
    let health = get_json(&format!("{url}/api/v1/health"));
    assert_eq!(health["databricks"]["embeddedEmulator"], true, "{health}");
    let host = health["databricks"]["host"].as_str().unwrap().to_owned();
    assert!(host.starts_with("http://127.0.0.1:"), "{host}");
    assert!(
        !health.to_string().contains("dapi"),
        "no token in the health answer: {health}"
    );
    let metadata = get_json(&format!("{host}/.well-known/databricks-config"));
    assert!(metadata["oidc_endpoint"].is_string(), "{metadata}");
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(wait_for_exit(&mut child).success());
}

#[test]
fn mortar_emulator_prints_its_address_and_token_and_refuses_bad_flags() {
    let mut child = Command::new(MORTAR)
        .args(["emulator", "--listen", "127.0.0.1:0", "--time-scale", "0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    stdout.read_line(&mut first).unwrap();
    stdout.read_line(&mut second).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first:?}"))
        .to_owned();
    let token = second
        .trim()
        .strip_prefix("token: ")
        .unwrap_or_else(|| panic!("{second:?}"))
        .to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (with_token, without) = runtime.block_on(async {
        let client = engine::http::client();
        let with = client
            .get(format!("{url}/api/2.0/clusters/list"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        let without = client
            .get(format!("{url}/api/2.0/clusters/list"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        (with, without)
    });
    assert_eq!((with_token, without), (200, 401));
    Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(wait_for_exit(&mut child).success());

    let output = Command::new(MORTAR)
        .args(["emulator", "--time-scale", "fast"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--time-scale") && stderr.trim().lines().count() == 1,
        "{stderr}"
    );
}

/// What each blueprint that posts to Slack must say, by blueprint id: parts
/// of the JSON body the receiver got.
const SLACK_POSTS: &[(&str, &[&str])] = &[
    (
        "python_csv_to_slack",
        &[
            "*Orders by region* (3 regions",
            r"region,orders,total\nAPAC,10,615\nEMEA,10,535\nAMER,10,515",
        ],
    ),
    (
        "sensor_quality_gate",
        &[
            "Sensor readings passed the quality gate: 5.0% missing",
            "2 of 40 readings missing",
        ],
    ),
    (
        "shell_export_cleanup",
        &[
            "Store export cleaned up: 9 lines kept",
            "[company.data] shell_export_cleanup",
            "Succeeded after",
            r#""title":"Stores","value":"3""#,
            // `afterExecution` reports the final state, as Kestra's does.
            "shell_export_cleanup ➛ SUCCESS",
        ],
    ),
    (
        "genie_answer_to_slack",
        &[
            "*What was total revenue by region?* Total revenue by region, from the sales data set.",
            r"AMER: 312.25\nAPAC: 249.9\nEMEA: 228.8",
            "By month: 1 months.",
        ],
    ),
    (
        "sqlite_stock_to_databricks",
        &[
            "*Restock 2 products* (fewer than 50 on hand)",
            r"product,on_hand,sales,revenue\nwidget,12,3,430.4\ngizmo,31,2,75.55",
        ],
    ),
];

#[test]
fn every_blueprint_runs_to_success_from_mortar_run() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, "region,amount\nnorth,10\nsouth,5\n").unwrap();
    let receivers = Receivers::start();
    for blueprint in engine::blueprints::all() {
        let id = blueprint.header.id.to_string();
        let file = dir.path().join(format!("{id}.yml"));
        std::fs::write(&file, blueprint.source).unwrap();
        let plan = engine::plan::Plan::from_yaml(blueprint.source).unwrap();
        let mut command = mortar_run(&file, &receivers.secrets(&id));
        for input in plan.inputs.iter().filter(|i| i.kind == "FILE") {
            command
                .arg("--input")
                .arg(format!("{}=@{}", input.id, csv.display()));
        }
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{id}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.lines().last().unwrap().contains("ended SUCCESS"),
            "{stdout}"
        );
        let posted = receivers.posted(&id);
        match SLACK_POSTS.iter().find(|(name, _)| *name == id) {
            Some((_, parts)) => {
                assert_eq!(posted.len(), 1, "{id} posted {posted:?}\n{stdout}");
                for part in *parts {
                    assert!(
                        posted[0].contains(part),
                        "{id}: {part:?} not in {}",
                        posted[0]
                    );
                }
            }
            None => assert!(
                !blueprint.source.contains("SLACK_WEBHOOK"),
                "{id} posts to Slack: say what in SLACK_POSTS"
            ),
        }
    }
    assert_eq!(
        receivers.mails(),
        Vec::<String>::new(),
        "a success sends no email"
    );
}

/// The quality gate closes on a stricter threshold: the Assert fails the
/// execution, `errors` emails the data team the error lines, and nothing
/// reaches Slack.
#[test]
fn the_quality_gate_blueprint_fails_and_emails_the_data_team_on_a_stricter_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let receivers = Receivers::start();
    let file = dir.path().join("sensor_quality_gate.yml");
    std::fs::write(
        &file,
        include_str!("../../../blueprints/sensor_quality_gate.yml"),
    )
    .unwrap();
    let output = mortar_run(&file, &receivers.secrets("sensor_quality_gate"))
        .args(["--input", "max_missing_percent=1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.lines().last().unwrap().contains("ended FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("5.0% of the readings are missing; at most 1.0% may be"),
        "{stdout}"
    );
    assert_eq!(
        receivers.posted("sensor_quality_gate"),
        Vec::<String>::new()
    );
    let mails = receivers.mails();
    assert_eq!(mails.len(), 1, "{mails:?}\n{stdout}");
    let mail = &mails[0];
    assert!(mail.contains("RCPT TO:<data-team@company.com>"), "{mail}");
    assert!(
        mail.contains("Subject: company.data.sensor_quality_gate failed its data-quality gate"),
        "{mail}"
    );
    // The HTML body is quoted-printable: its soft line breaks are undone.
    let body = mail.replace("=\n", "");
    assert!(body.contains("of sensor_quality_gate stopped"), "{mail}");
    assert!(body.contains("gate: 1 assertion failed!"), "{mail}");
}

/// `mortar run FILE` against its embedded emulator, with `secrets` given
/// as Kestra's open-source edition reads them: `SECRET_<NAME>`, in base64.
fn mortar_run(file: &std::path::Path, secrets: &[(&str, String)]) -> Command {
    use base64::Engine as _;
    let mut command = Command::new(MORTAR);
    command
        .arg("run")
        .arg(file)
        .env("RUST_LOG", "warn")
        .env("MORTAR_EMULATOR_TIME_SCALE", "0.001");
    for name in [
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "DATABRICKS_CONFIG_PROFILE",
    ] {
        command.env_remove(name);
    }
    for (name, value) in secrets {
        command.env(
            format!("SECRET_{name}"),
            base64::engine::general_purpose::STANDARD.encode(value),
        );
    }
    command
}

type Kept = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A Slack incoming webhook (HTTP, keeping each body by path) and a plain
/// SMTP server (keeping each email), both on free ports, served by a
/// runtime of their own while the test waits on `mortar run`; they stop
/// when it is dropped.
struct Receivers {
    _runtime: tokio::runtime::Runtime,
    http: u16,
    smtp: u16,
    posts: Kept,
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Receivers {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let posts = Kept::default();
        let mails = std::sync::Arc::<std::sync::Mutex<Vec<String>>>::default();
        let (http, smtp) = runtime.block_on(async {
            let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let smtp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            (http, smtp)
        });
        let ports = (
            http.local_addr().unwrap().port(),
            smtp.local_addr().unwrap().port(),
        );
        let kept = posts.clone();
        let app = axum::Router::new().route(
            "/{*path}",
            axum::routing::post(
                move |axum::extract::Path(path): axum::extract::Path<String>, body: String| {
                    let kept = kept.clone();
                    async move {
                        kept.lock().unwrap().push((path, body));
                        "ok"
                    }
                },
            ),
        );
        runtime.spawn(async move { axum::serve(http, app).await });
        runtime.spawn(smtp_server(smtp, mails.clone()));
        Self {
            _runtime: runtime,
            http: ports.0,
            smtp: ports.1,
            posts,
            mails,
        }
    }

    /// The secrets the blueprints read; the webhook's path is `slack/<id>`.
    fn secrets(&self, id: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "SLACK_WEBHOOK",
                format!("http://127.0.0.1:{}/slack/{id}", self.http),
            ),
            ("SMTP_HOST", "127.0.0.1".to_owned()),
            ("SMTP_PORT", self.smtp.to_string()),
        ]
    }

    /// The bodies posted to `slack/<id>`.
    fn posted(&self, id: &str) -> Vec<String> {
        let path = format!("slack/{id}");
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Each email's envelope and message, lines ending in `\n`.
    fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }
}

/// Plain SMTP, enough of RFC 5321 for lettre without TLS: a greeting, 250
/// to EHLO, MAIL and RCPT, 354 to DATA and the message up to its lone dot,
/// 221 to QUIT.
async fn smtp_server(
    listener: tokio::net::TcpListener,
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    while let Ok((socket, _)) = listener.accept().await {
        let mails = mails.clone();
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 localhost ESMTP test\r\n").await?;
            let mut mail = String::new();
            while let Some(line) = lines.next_line().await? {
                let upper = line.to_ascii_uppercase();
                if upper == "DATA" {
                    write.write_all(b"354 go on\r\n").await?;
                    while let Some(data) = lines.next_line().await? {
                        if data == "." {
                            break;
                        }
                        mail.push_str(&data);
                        mail.push('\n');
                    }
                    mails.lock().unwrap().push(std::mem::take(&mut mail));
                    write.write_all(b"250 queued\r\n").await?;
                } else if upper == "QUIT" {
                    write.write_all(b"221 bye\r\n").await?;
                    break;
                } else {
                    if upper.starts_with("MAIL") || upper.starts_with("RCPT") {
                        mail.push_str(&line);
                        mail.push('\n');
                    }
                    write.write_all(b"250 ok\r\n").await?;
                }
            }
            std::io::Result::Ok(())
        });
    }
}

/// An emulator in a process of its own, so that it outlives a crash of
/// `mortar serve`.
fn external_emulator(time_scale: &str) -> (Child, String) {
    spawn_listening(Command::new(MORTAR).args([
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--token",
        "dapi-crash-test",
        "--time-scale",
        time_scale,
    ]))
}

/// `mortar serve` with the workspace at `host` as its Databricks.
fn serve_against(data_dir: &std::path::Path, host: &str) -> (Child, String) {
    if !data_dir.join("mortar.db").exists() {
        add_admin(data_dir);
    }
    let mut command = Command::new(MORTAR);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("DATABRICKS_HOST", host)
        .env("DATABRICKS_TOKEN", "dapi-crash-test")
        .env_remove("DATABRICKS_CLIENT_ID")
        .env_remove("DATABRICKS_CONFIG_PROFILE");
    spawn_listening(&mut command)
}

fn workspace_get(host: &str, path: &str) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        engine::http::client()
            .get(format!("{host}{path}"))
            .bearer_auth("dapi-crash-test")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

#[test]
fn a_crash_during_a_databricks_run_reattaches_without_a_second_cluster_or_run() {
    let (mut emulator, host) = external_emulator("0.2");
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve_against(dir.path(), &host);
    let flow = "id: durable\nnamespace: t\ntasks:\n  - id: cluster\n    type: databricks.cluster.CreateCluster\n    clusterName: durable\n    sparkVersion: 15.4.x-scala2.12\n    numWorkers: 1\n  - id: job\n    type: databricks.job.SubmitRun\n    runTasks:\n      - taskKey: aggregate\n        existingClusterId: \"{{ outputs.cluster.clusterId }}\"\n        notebookTask:\n          notebookPath: /Shared/mortar-examples/aggregate\n    waitForCompletion: PT10M\n";
    send(
        "POST",
        &format!("{url}/api/v1/flows"),
        "application/x-yaml",
        flow,
    );
    let started = send(
        "POST",
        &format!("{url}/api/v1/executions/t/durable"),
        "application/json",
        "{}",
    );
    let id = started["id"].as_str().unwrap().to_owned();
    // Crash once the run exists on the workspace and is not finished.
    wait_until("the run to be submitted", || {
        workspace_get(&host, "/api/2.2/jobs/runs/list?active_only=true")["runs"]
            .as_array()
            .is_some_and(|runs| !runs.is_empty())
    });
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, url) = serve_against(dir.path(), &host);
    let mut last = serde_json::Value::Null;
    wait_until("the execution to end", || {
        last = get_json(&format!("{url}/api/v1/executions/{id}"));
        ["SUCCESS", "FAILED", "KILLED"].contains(&last["state"]["current"].as_str().unwrap_or(""))
    });
    assert_eq!(last["state"]["current"], "SUCCESS", "{last}");
    let clusters = workspace_get(&host, "/api/2.1/clusters/list");
    let ours = clusters["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["custom_tags"]["mortar_execution"] == id.as_str())
        .count();
    assert_eq!(ours, 1, "one cluster: {clusters}");
    let runs = workspace_get(&host, "/api/2.2/jobs/runs/list");
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "one run: {runs}");
    let job = last["taskRunList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["taskId"] == "job")
        .unwrap();
    assert_eq!(
        job["attempts"].as_array().unwrap().len(),
        1,
        "re-attached in the same attempt: {job}"
    );
    for process in [&mut child, &mut emulator] {
        Command::new("kill")
            .arg("-TERM")
            .arg(process.id().to_string())
            .status()
            .unwrap();
        wait_for_exit(process);
    }
}

/// Peak resident memory (VmHWM) of a running process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn a_300_mb_file_moves_through_dbfs_and_a_volume_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (mut emulator, host) = spawn_listening(
        Command::new(MORTAR)
            .args([
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--token",
                "dapi-crash-test",
                "--time-scale",
                "0",
                "--data-dir",
            ])
            .arg(dir.path().join("workspace")),
    );
    let big = dir.path().join("big.bin");
    let size: u64 = 300 * 1024 * 1024;
    std::fs::File::create(&big).unwrap().set_len(size).unwrap();
    let flow = dir.path().join("big.yml");
    std::fs::write(
        &flow,
        "id: big\nnamespace: t\ninputs:\n  - id: data\n    type: FILE\ntasks:\n  - id: to_dbfs\n    type: databricks.dbfs.Upload\n    from: \"{{ inputs.data }}\"\n    to: dbfs:/big/big.bin\n  - id: to_volume\n    type: databricks.dbfs.Upload\n    from: \"{{ inputs.data }}\"\n    to: /Volumes/main/default/files/big.bin\n  - id: back\n    type: databricks.dbfs.Download\n    from: /Volumes/main/default/files/big.bin\n",
    )
    .unwrap();
    let mut child = Command::new(MORTAR)
        .arg("run")
        .arg(&flow)
        .arg("--input")
        .arg(format!("data=@{}", big.display()))
        .arg("--data-dir")
        .arg(dir.path().join("run"))
        .env("RUST_LOG", "warn")
        .env("DATABRICKS_HOST", &host)
        .env("DATABRICKS_TOKEN", "dapi-crash-test")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = child.wait_with_output().unwrap();
    assert!(
        status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("uploaded {size} bytes to dbfs:/big/big.bin")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("downloaded {size} bytes")),
        "{stdout}"
    );
    // Bounded: a fraction of the file, whatever its size (1 MiB blocks, streams).
    assert!(peak < 128 * 1024, "peak RSS {peak} KiB for a 300 MiB file");
    eprintln!("peak RSS of mortar run moving 300 MiB: {} MiB", peak / 1024);
    Command::new("kill")
        .arg("-TERM")
        .arg(emulator.id().to_string())
        .status()
        .unwrap();
    wait_for_exit(&mut emulator);
}

#[test]
fn mortar_validate_prints_positions_and_mortar_schema_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for blueprint in engine::blueprints::all() {
        let file = dir.path().join(format!("{}.yml", blueprint.header.id));
        std::fs::write(&file, blueprint.source).unwrap();
        files.push(file);
    }
    let output = Command::new(MORTAR)
        .arg("validate")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(output.stdout.is_empty());

    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "id: bad\nnamespace: t\ntasks:\n  - id: a\n    type: log.Lgo\n    message: hi\n",
    )
    .unwrap();
    let output = Command::new(MORTAR)
        .arg("validate")
        .arg(&files[0])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(&format!(
            "{}:5:11: unknown task type \"log.Lgo\"",
            bad.display()
        )),
        "{stdout}"
    );

    let output = Command::new(MORTAR).arg("schema").output().unwrap();
    assert!(output.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        schema["$defs"]
            .as_object()
            .is_some_and(|d| d.contains_key("io.kestra.plugin.core.log.Log")),
        "{schema}"
    );
}

/// Kestra's Pebble, not Jinja: functions, `??` and the ternary validate,
/// and an unknown filter is an error at its own position with a fix.
#[test]
fn mortar_validate_accepts_kestra_expressions_and_points_at_unknown_filters() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("pebble.yml");
    std::fs::write(
        &good,
        r#"id: pebble
namespace: t
inputs:
  - id: x
    type: STRING
    required: false
tasks:
  - id: a
    type: log.Log
    message: "{{ secret('TOKEN') }} at {{ now() }}: {{ inputs.x ?? 'd' }} {{ inputs.x is defined ? 'set' : 'unset' }}"
"#,
    )
    .unwrap();
    let output = Command::new(MORTAR)
        .arg("validate")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "id: bad\nnamespace: t\ntasks:\n  - id: a\n    type: log.Log\n    message: \"{{ 'a' | uper }}\"\n").unwrap();
    let output = Command::new(MORTAR)
        .arg("validate")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(&format!(
            "{}:6:24: bad expression: unknown filter `uper`: did you mean `upper`?",
            bad.display()
        )),
        "{stdout}"
    );
}

/// Kestra's own examples of SetVariables/UnsetVariables, LoopUntil and
/// Count validate without a warning (`vars.message` is set by a task,
/// `count` is Count's own variable) and run from `mortar run`.
#[test]
fn mortar_validate_and_run_take_kestras_variables_loop_and_count_examples() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("examples.yml");
    std::fs::write(
        &flow,
        r#"id: variables
namespace: company.team
variables:
  name: World
tasks:
  - id: set_vars
    type: io.kestra.plugin.core.execution.SetVariables
    variables:
      message: Hello
      name: Loïc
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ vars.message }} {{ vars.name }}"
  - id: unset_variables
    type: io.kestra.plugin.core.execution.UnsetVariables
    variables:
      - message
      - name
  - id: loop
    type: io.kestra.plugin.core.flow.LoopUntil
    condition: "{{ outputs.return.value == '4' }}"
    checkFrequency:
      interval: PT0.01S
    tasks:
      - id: return
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.loop.iterationCount }}"
  - id: count
    type: io.kestra.plugin.core.execution.Count
    flows:
      - namespace: company.team
        flowId: variables
    startDate: "{{ now() | dateAdd(-30, 'DAYS') }}"
    expression: "{{ count >= 0 }}"
  - id: show
    type: log.Log
    message: "looped {{ outputs.loop.iterationCount }} times; counted {{ outputs.count.total }}"
"#,
    )
    .unwrap();
    let output = Command::new(MORTAR)
        .arg("validate")
        .arg(&flow)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let output = Command::new(MORTAR)
        .arg("run")
        .arg(&flow)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Hello Loïc"), "{stdout}");
    // The running execution counts itself.
    assert!(stdout.contains("looped 4 times; counted 1"), "{stdout}");
}

/// The server's part of the context, from `mortar run`: `envs` from `ENV_`
/// variables, `globals` from `--globals`, `kestra.url` from `--url`; and
/// Kestra's encrypt/decrypt, fileSize and fileURI on a real execution.
#[test]
fn mortar_run_gives_flows_envs_globals_kestra_url_and_the_file_functions() {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("context.yml");
    std::fs::write(
        &flow,
        r#"id: context
namespace: company.team
inputs:
  - id: data
    type: FILE
tasks:
  - id: show
    type: log.Log
    message: "env={{ envs.greeting }} global={{ globals.region.name }} url={{ kestra.url }} size={{ fileSize(inputs.data) }} uri={{ fileURI('sql/q.sql') }}"
  - id: crypt
    type: log.Log
    message: "round trip={{ decrypt(secret('KEY'), encrypt(secret('KEY'), 'plain text')) == 'plain text' }}, shown as {{ decrypt(secret('KEY'), encrypt(secret('KEY'), 'plain text')) }}"
"#,
    )
    .unwrap();
    let globals = dir.path().join("globals.yml");
    std::fs::write(&globals, "region:\n  name: eu-west\n").unwrap();
    let data = dir.path().join("data.csv");
    std::fs::write(&data, "a,b\n1,2\n").unwrap();
    // SECRET_ values are base64 of the secret: here the base64 of a 32-byte key.
    let key = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";
    let secret = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key);
    let output = Command::new(MORTAR)
        .arg("run")
        .arg(&flow)
        .arg("--input")
        .arg(format!("data=@{}", data.display()))
        .arg("--globals")
        .arg(&globals)
        .args(["--url", "https://mortar.example.com/"])
        .env("ENV_GREETING", "bonjour")
        .env("SECRET_KEY", secret)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("env=bonjour global=eu-west url=https://mortar.example.com/ size=8 uri=kestra:///company/team/_files/sql/q.sql"),
        "{stdout}"
    );
    // What is decrypted with a secret is derived from it, and masked.
    assert!(
        stdout.contains("round trip=true, shown as ******"),
        "{stdout}"
    );

    // A globals file that is not a mapping is refused before anything runs, naming the flag.
    std::fs::write(&globals, "- a\n- b\n").unwrap();
    let output = Command::new(MORTAR)
        .arg("run")
        .arg(&flow)
        .arg("--globals")
        .arg(&globals)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--globals"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn first_start_prints_a_setup_link_that_makes_the_first_admin_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(MORTAR)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .env_remove("DATABRICKS_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    stdout.read_line(&mut first).unwrap();
    stdout.read_line(&mut second).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let link = second
        .split_whitespace()
        .find(|w| w.contains("/setup?token="))
        .unwrap_or_else(|| panic!("no setup link: {second:?}"))
        .to_owned();
    assert!(link.starts_with(&format!("{url}/setup?token=")), "{link}");
    assert!(second.contains("30 minutes"), "{second}");
    let token = link.split("token=").nth(1).unwrap().to_owned();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let browser = engine::http::client_builder()
            .redirect(::reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = browser.get(&link).send().await.unwrap();
        assert_eq!(form.status(), 200);
        assert!(form.text().await.unwrap().contains("Create the admin"));
        let wrong = browser
            .get(format!("{url}/setup?token=guess"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 403);
        let fields = [
            ("token", token.as_str()),
            ("user", "root"),
            ("password", "correct horse battery"),
            ("confirm", "correct horse battery"),
        ];
        let created = browser
            .post(format!("{url}/setup"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 303);
        let cookie = created.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let me: serde_json::Value = browser
            .get(format!("{url}/api/v1/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["name"], "root");
        assert_eq!(me["grants"], serde_json::json!(["admin"]));
        let again = browser
            .post(format!("{url}/setup"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 409, "the link works once");
    });

    // The shell manages users while the server runs on the same data dir.
    let mut add = Command::new(MORTAR)
        .args([
            "users",
            "add",
            "vic",
            "--role",
            "viewer:a",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(add.stdin.take().unwrap(), "another password").unwrap();
    }
    assert!(add.wait_with_output().unwrap().status.success());
    let list = Command::new(MORTAR)
        .args(["users", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "root\tadmin\nvic\tviewer:a.*\n"
    );
    let short = Command::new(MORTAR)
        .args([
            "users",
            "add",
            "x",
            "--role",
            "viewer",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(short.status.code(), Some(2), "an empty password is refused");
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    let status = runtime_get_as(
        &format!("{url}/api/v1/flows/search"),
        ("vic", "another password"),
    );
    assert_eq!(status, 200);
    let token = Command::new(MORTAR)
        .args(["users", "token", "vic", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    assert!(token.starts_with("mtk_"), "{token}");
    let disabled = Command::new(MORTAR)
        .args(["users", "disable", "vic", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(disabled.status.success());
    assert_eq!(
        runtime_get_as(
            &format!("{url}/api/v1/flows/search"),
            ("vic", "another password")
        ),
        401
    );
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(wait_for_exit(&mut child).success());
}

/// The status of a GET with basic auth.
fn runtime_get_as(url: &str, (user, password): (&str, &str)) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        engine::http::client()
            .get(url)
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

/// A literal `host` with a path is an error of `mortar validate`, at its
/// position, saying what to write instead.
#[test]
fn mortar_validate_refuses_a_host_with_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fetch.yml");
    std::fs::write(
        &file,
        "id: fetch\nnamespace: t\ntasks:\n  - id: get\n    type: io.kestra.plugin.databricks.dbfs.Download\n    host: \"http://127.0.0.1:47999/internal/data.txt#\"\n    authentication:\n      token: t\n    from: /x\n",
    )
    .unwrap();
    let output = Command::new(MORTAR)
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(&format!(
            "{}:6:11: `host`: use only scheme://host[:port], without the path \"/internal/data.txt\"",
            file.display()
        )),
        "{stdout}"
    );
}

/// Through the CLI: an ENUM input runs as Kestra's SELECT (its values
/// checked), `mortar validate` refuses a duplicate input and an empty
/// Switch with positions, and a Sequential's own errors and finally run.
#[test]
fn mortar_takes_enum_inputs_refuses_duplicate_inputs_and_empty_switches_and_runs_flowable_errors_and_finally()
 {
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("enum.yml");
    std::fs::write(
        &flow,
        "id: enum\nnamespace: t\ninputs:\n  - id: color\n    type: ENUM\n    values: [RED, GREEN]\ntasks:\n  - id: say\n    type: log.Log\n    message: \"color {{ inputs.color }}\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let ok = Command::new(MORTAR)
        .arg("run")
        .arg(&flow)
        .args(["--input", "color=GREEN", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("color GREEN"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let bad = Command::new(MORTAR)
        .arg("run")
        .arg(&flow)
        .args(["--input", "color=BLUE", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&bad.stdout),
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(
        said.contains("color") && said.contains("RED") && said.contains("GREEN"),
        "{said}"
    );

    let invalid = dir.path().join("invalid.yml");
    std::fs::write(
        &invalid,
        "id: invalid\nnamespace: t\ninputs:\n  - id: a\n    type: STRING\n  - id: a\n    type: STRING\ntasks:\n  - id: s\n    type: flow.Switch\n    value: x\n",
    )
    .unwrap();
    let output = Command::new(MORTAR)
        .arg("validate")
        .arg(&invalid)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "{}:6:9: duplicate input id `a` (also on line 4)",
            invalid.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{}:9:9: Switch s has no tasks to run",
            invalid.display()
        )),
        "{stdout}"
    );

    // A flowable's own errors and finally validate and run.
    let branches = dir.path().join("branches.yml");
    std::fs::write(
        &branches,
        "id: branches\nnamespace: t\ntasks:\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - id: boom\n        type: io.kestra.plugin.core.execution.Fail\n    errors:\n      - id: handle\n        type: io.kestra.plugin.core.log.Log\n        message: handled it\n    finally:\n      - id: tidy\n        type: io.kestra.plugin.core.log.Log\n        message: tidied up\n",
    )
    .unwrap();
    let output = Command::new(MORTAR)
        .arg("validate")
        .arg(&branches)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let ran = Command::new(MORTAR)
        .arg("run")
        .arg(&branches)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(ran.status.code(), Some(1), "the Sequential stays FAILED");
    let said = String::from_utf8_lossy(&ran.stdout);
    assert!(
        said.contains("handled it") && said.contains("tidied up"),
        "{said}"
    );
}
