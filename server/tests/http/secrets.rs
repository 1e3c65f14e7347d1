//! `mortar secrets` through the real binary: set from standard input, list,
//! delete, rotate the key; `mortar run --data-dir` reads the namespace
//! secrets (masked); a wrong MORTAR_SECRET_KEY stops `serve` and `run`
//! with exit status 2 and one line naming it.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;

const MORTAR: &str = env!("CARGO_BIN_EXE_mortar");

/// `mortar ARGS` with `stdin`, the key from `key` (none: the key file).
fn mortar(args: &[&str], data_dir: &Path, key: Option<&str>, stdin: &str) -> Output {
    let mut command = Command::new(MORTAR);
    command
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn");
    command
        .env_remove("MORTAR_SECRET_KEY")
        .env_remove("MORTAR_DATA_DIR")
        .env_remove("MORTAR_DATABASE_URL");
    // A test store on PostgreSQL (MORTAR_TEST_POSTGRES) names its database
    // in the data dir: the command opens the same one.
    if let Ok(url) = std::fs::read_to_string(data_dir.join("scratch-database.url")) {
        command.env("MORTAR_DATABASE_URL", url);
    }
    for name in [
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_CLIENT_SECRET",
        "DATABRICKS_CONFIG_PROFILE",
    ] {
        command.env_remove(name);
    }
    if let Some(key) = key {
        command.env("MORTAR_SECRET_KEY", key);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const VALUE: &str = "tok-value-42";

/// A flow of a namespace below the secret's: the value is found through
/// the parent, and masked in the log (its length shows it was found).
fn flow(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("flow.yml");
    std::fs::write(
        &path,
        "id: uses_secret\nnamespace: company.team.sub\ntasks:\n  - id: say\n    type: log.Log\n    message: \"token {{ secret('TOKEN') }} of length {{ secret('TOKEN') | length }}\"\n",
    )
    .unwrap();
    path
}

fn run_flow(dir: &Path, data_dir: &Path, key: Option<&str>) -> Output {
    mortar(&["run", flow(dir).to_str().unwrap()], data_dir, key, "")
}

fn assert_ran_with_the_secret(output: &Output) {
    let all = text(output);
    assert!(output.status.success(), "{all}");
    assert!(all.contains("token ****** of length 12"), "{all}");
    assert!(!all.contains(VALUE), "{all}");
}

fn assert_refused_naming_the_key(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{}", text(output));
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("MORTAR_SECRET_KEY"), "{stderr}");
}

#[test]
fn set_list_run_rotate_delete_with_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let set = mortar(
        &["secrets", "set", "company.team", "TOKEN", "--value-stdin"],
        &data,
        None,
        &format!("{VALUE}\n"),
    );
    assert!(set.status.success(), "{}", text(&set));
    let list = mortar(&["secrets", "list", "company.team"], &data, None, "");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success() && listed.starts_with("TOKEN\t"),
        "{}",
        text(&list)
    );
    assert!(!listed.contains(VALUE));

    assert_ran_with_the_secret(&run_flow(dir.path(), &data, None));

    let key_before = std::fs::read_to_string(data.join("secret.key")).unwrap();
    let rotate = mortar(&["secrets", "rotate-key"], &data, None, "");
    assert!(rotate.status.success(), "{}", text(&rotate));
    assert!(
        rotate.stdout.is_empty(),
        "a key file's key is not printed: {}",
        text(&rotate)
    );
    assert_ne!(
        std::fs::read_to_string(data.join("secret.key")).unwrap(),
        key_before
    );
    assert_ran_with_the_secret(&run_flow(dir.path(), &data, None));

    // The old key, given, no longer opens the data dir: `run` and `serve`
    // stop with one line naming MORTAR_SECRET_KEY.
    assert_refused_naming_the_key(&run_flow(dir.path(), &data, Some(key_before.trim())));
    assert_refused_naming_the_key(&mortar(
        &["serve", "--listen", "127.0.0.1:0"],
        &data,
        Some(key_before.trim()),
        "",
    ));
    assert_refused_naming_the_key(&mortar(
        &["serve", "--listen", "127.0.0.1:0"],
        &data,
        Some("not a key"),
        "",
    ));

    let delete = mortar(
        &["secrets", "delete", "company.team", "TOKEN"],
        &data,
        None,
        "",
    );
    assert!(delete.status.success(), "{}", text(&delete));
    let list = mortar(&["secrets", "list", "company.team"], &data, None, "");
    assert!(
        list.status.success() && list.stdout.is_empty(),
        "{}",
        text(&list)
    );
    let run = run_flow(dir.path(), &data, None);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(
        text(&run).contains("secret \"TOKEN\" is not set"),
        "{}",
        text(&run)
    );

    // A bad name, or no --value-stdin, is one line and exit status 2.
    let bad = mortar(
        &[
            "secrets",
            "set",
            "company.team",
            "no spaces",
            "--value-stdin",
        ],
        &data,
        None,
        "v",
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let bad = mortar(
        &["secrets", "set", "company.team", "TOKEN"],
        &data,
        None,
        "v",
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stderr).trim().lines().count() == 1
            && text(&bad).contains("add --value-stdin"),
        "{}",
        text(&bad)
    );
}

#[test]
fn rotating_a_key_from_the_environment_prints_the_new_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let old = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);

    let set = mortar(
        &["secrets", "set", "company", "TOKEN", "--value-stdin"],
        &data,
        Some(&old),
        VALUE,
    );
    assert!(set.status.success(), "{}", text(&set));
    assert!(
        !data.join("secret.key").exists(),
        "a given key makes no key file"
    );
    assert_ran_with_the_secret(&run_flow(dir.path(), &data, Some(&old)));

    let rotate = mortar(&["secrets", "rotate-key"], &data, Some(&old), "");
    assert!(rotate.status.success(), "{}", text(&rotate));
    let new = String::from_utf8_lossy(&rotate.stdout).trim().to_owned();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&new)
            .map(|k| k.len())
            .ok(),
        Some(32),
        "{}",
        text(&rotate)
    );
    assert!(
        String::from_utf8_lossy(&rotate.stderr).contains("set MORTAR_SECRET_KEY"),
        "{}",
        text(&rotate)
    );

    assert_ran_with_the_secret(&run_flow(dir.path(), &data, Some(&new)));
    assert_refused_naming_the_key(&run_flow(dir.path(), &data, Some(&old)));
}

/// `mortar secrets set` from the shell beside a running server: the server
/// sees the new value at its next execution (the secrets' generation), and
/// an existing one replaced.
#[tokio::test]
async fn a_running_server_sees_secrets_set_by_the_cli_on_its_data_dir() {
    let app = super::support::TestApp::spawn().await;
    let response = app
        .post_flow("id: len\nnamespace: company.team\ntasks:\n  - id: n\n    type: debug.Return\n    format: \"{{ secret('TOKEN') | length }}\"\n")
        .await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let data = app.data_dir().to_owned();
    let set = |value: &'static str| {
        let data = data.clone();
        tokio::task::spawn_blocking(move || {
            mortar(
                &["secrets", "set", "company", "TOKEN", "--value-stdin"],
                &data,
                None,
                value,
            )
        })
    };
    let length = || async {
        let ended: serde_json::Value = app
            .client
            .post(app.url("/api/v1/executions/company.team/len?wait=true"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = ended["id"].as_str().unwrap().to_owned();
        let execution: serde_json::Value = app
            .client
            .get(app.url(&format!("/api/v1/executions/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(execution["state"]["current"], "SUCCESS", "{execution}");
        execution["taskRunList"][0]["outputs"]["value"].clone()
    };
    let output = set(VALUE).await.unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(length().await, "12");
    let output = set("short").await.unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(length().await, "5");
    app.stop().await;
}
