//! The `mortar` binary as a process: start-up line, bad configuration,
//! signals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MORTAR: &str = env!("CARGO_BIN_EXE_mortar");

fn serve(data_dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(MORTAR)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, url.to_owned())
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
        Command::new("kill").arg(signal).arg(child.id().to_string()).status().unwrap();
        let status = wait_for_exit(&mut child);
        assert!(status.success(), "{signal}: {status}");
        assert!(dir.path().join("mortar.db").exists());
    }
}

#[test]
fn a_bad_flag_is_one_line_naming_it_and_exit_status_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["serve", "--listen", "not-an-address"], "--listen"),
        (&["serve", "--data-dir", "/proc/mortar-cannot-be-here"], "--data-dir"),
        (&["serve", "--no-such-flag"], "--no-such-flag"),
    ];
    for (args, flag) in cases {
        let output = Command::new(MORTAR).args(*args).env("RUST_LOG", "off").output().unwrap();
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
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    assert!(dir.path().join("from-env/mortar.db").exists());
    child.kill().unwrap();
    child.wait().unwrap();
}

mod reqwest {
    /// A plain blocking GET without pulling in reqwest's blocking client.
    pub fn blocking_get(url: &str) -> u16 {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async { ::reqwest::get(url).await.unwrap().status().as_u16() })
    }
}
