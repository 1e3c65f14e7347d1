//! Namespace secrets and SECRET inputs on a real SQLite store in a temp
//! dir: encrypted at rest, the key checked at open, looked up through the
//! namespace's parents, rotated.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use engine::executor::{Executor, Launch, Settings};
use engine::ids::{ExecutionId, Namespace, SecretName};
use engine::logs::LogPipeline;
use engine::plan::Plan;
use engine::secret::Secret;
use engine::secret_key::{KEY_FILE, SecretKey};
use engine::secret_store::SecretStore;
use engine::state::State;
use engine::storage::Storage;
use engine::store::{KeyChoice, KeyProblem, Store, StoreError};
use engine::task::{Outputs, Runner, Runners, Services, TaskContext, TaskError};
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

fn ns(namespace: &str) -> Namespace {
    Namespace::new(namespace)
}

fn name(name: &str) -> SecretName {
    SecretName::parse(name).unwrap()
}

/// Whether `needle` appears in the database file or its WAL.
fn on_disk(dir: &Path, needle: &str) -> bool {
    ["mortar.db", "mortar.db-wal"].iter().any(|file| {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn set_list_delete_and_the_value_is_never_on_disk_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let secrets = SecretStore::load(store.clone()).await.unwrap();
    let value = "s3cr3t-value-0123456789";
    secrets
        .set(
            &ns("company.team"),
            &name("DB_PASSWORD"),
            &Secret::new(value),
            "alice",
        )
        .await
        .unwrap();
    secrets
        .set(
            &ns("company.team"),
            &name("API_TOKEN"),
            &Secret::new("tok-abcdef-987654"),
            "bob",
        )
        .await
        .unwrap();
    secrets
        .set(
            &ns("company.team"),
            &name("API_TOKEN"),
            &Secret::new("tok-replaced-111"),
            "carol",
        )
        .await
        .unwrap();

    let listed = secrets.list(&ns("company.team")).await.unwrap();
    let shown: Vec<(&str, &str)> = listed
        .iter()
        .map(|e| (e.name.as_str(), e.set_by.as_str()))
        .collect();
    assert_eq!(shown, [("API_TOKEN", "carol"), ("DB_PASSWORD", "alice")]);
    assert!(listed.iter().all(|e| e.updated_at > 0));
    assert_eq!(
        secrets
            .lookup("company.team", "DB_PASSWORD")
            .unwrap()
            .expose(),
        value
    );
    assert_eq!(
        secrets
            .lookup("company.team", "API_TOKEN")
            .unwrap()
            .expose(),
        "tok-replaced-111"
    );

    // In the database, the value is sealed: not the text, and not in the
    // file or the WAL.
    let (stored,): (Vec<u8>,) =
        sqlx::query_as("SELECT value FROM secrets WHERE name = 'DB_PASSWORD'")
            .fetch_one(
                &sqlx::SqlitePool::connect(&format!(
                    "sqlite://{}",
                    dir.path().join("mortar.db").display()
                ))
                .await
                .unwrap(),
            )
            .await
            .unwrap();
    assert_ne!(stored, value.as_bytes());
    assert!(!stored.windows(value.len()).any(|w| w == value.as_bytes()));
    assert!(
        !on_disk(dir.path(), value),
        "the value is in the database file or WAL"
    );
    assert!(!on_disk(dir.path(), "tok-abcdef-987654"));

    assert!(
        secrets
            .delete(&ns("company.team"), &name("API_TOKEN"))
            .await
            .unwrap()
    );
    assert!(
        !secrets
            .delete(&ns("company.team"), &name("API_TOKEN"))
            .await
            .unwrap()
    );
    assert_eq!(secrets.lookup("company.team", "API_TOKEN"), None);
    assert_eq!(secrets.list(&ns("company.team")).await.unwrap().len(), 1);

    // The rules: a bad namespace or an oversized value is refused.
    let bad = store
        .set_secret(&ns("Company"), &name("X"), &Secret::new("v"), "alice")
        .await
        .unwrap_err();
    assert!(
        bad.to_string().contains("namespace \"Company\" must start"),
        "{bad}"
    );
    let big = store
        .set_secret(
            &ns("a"),
            &name("X"),
            &Secret::new("v".repeat(70_000)),
            "alice",
        )
        .await
        .unwrap_err();
    assert!(big.to_string().contains("at most 65536"), "{big}");

    store.close().await;
    let store = Store::open(dir.path()).await.unwrap();
    let secrets = SecretStore::load(store).await.unwrap();
    assert_eq!(
        secrets
            .lookup("company.team", "DB_PASSWORD")
            .unwrap()
            .expose(),
        value,
        "round trip through a reopen"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_its_wal_and_the_key_file_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store
        .set_secret(&ns("a"), &name("X"), &Secret::new("v"), "alice")
        .await
        .unwrap();
    for file in ["mortar.db", "mortar.db-wal", "mortar.db-shm", KEY_FILE] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
    store.close().await;
    // A database an older Mortar left readable by others is made private.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("mortar.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).await.unwrap();
    assert_eq!(mode(&dir.path().join("mortar.db")), 0o600);
    store.close().await;
}

#[tokio::test]
async fn a_wrong_key_or_a_missing_key_file_is_an_error_at_open_that_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store
        .set_secret(&ns("a"), &name("X"), &Secret::new("v"), "alice")
        .await
        .unwrap();
    store.close().await;

    let wrong = KeyChoice::Given {
        key: SecretKey::generate(),
        from: "MORTAR_SECRET_KEY".into(),
    };
    let error = Store::open_with_key(dir.path(), wrong).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Key(KeyProblem::Wrong { .. })),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("MORTAR_SECRET_KEY does not decrypt"),
        "{message}"
    );
    assert!(
        message.contains("give the key they were written with"),
        "{message}"
    );

    let right = SecretKey::read_file(&dir.path().join(KEY_FILE))
        .unwrap()
        .unwrap();
    std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
    let error = Store::open(dir.path()).await.unwrap_err();
    assert!(
        matches!(error, StoreError::Key(KeyProblem::MissingFile { .. })),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("key file")
            && message.contains("is missing")
            && message.contains("restore"),
        "{message}"
    );
    assert!(
        !dir.path().join(KEY_FILE).exists(),
        "no new key was made over the secrets"
    );

    // The right key, given, opens it.
    let store = Store::open_with_key(
        dir.path(),
        KeyChoice::Given {
            key: right,
            from: "MORTAR_SECRET_KEY".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        SecretStore::load(store)
            .await
            .unwrap()
            .lookup("a", "X")
            .unwrap()
            .expose(),
        "v"
    );
}

#[tokio::test]
async fn lookup_goes_from_the_namespace_up_through_its_parents() {
    let store = Store::in_memory().await.unwrap();
    let secrets = SecretStore::load(store).await.unwrap();
    for (namespace, secret, value) in [
        ("a.b.c", "X", "abc"),
        ("a.b", "X", "ab"),
        ("a", "X", "a"),
        ("a.b", "Y", "ab"),
        ("a", "Y", "a"),
        ("a", "Z", "a"),
        ("a.bb", "W", "abb"),
    ] {
        secrets
            .set(&ns(namespace), &name(secret), &Secret::new(value), "alice")
            .await
            .unwrap();
    }
    let found = |namespace: &str, secret: &str| {
        secrets
            .lookup(namespace, secret)
            .map(|s| s.expose().to_owned())
    };
    assert_eq!(found("a.b.c", "X").as_deref(), Some("abc"));
    assert_eq!(found("a.b.c", "Y").as_deref(), Some("ab"));
    assert_eq!(found("a.b.c", "Z").as_deref(), Some("a"));
    assert_eq!(found("a.b", "X").as_deref(), Some("ab"));
    assert_eq!(found("a.b.c", "W"), None, "a.bb is not a parent of a.b.c");
    assert_eq!(found("other", "X"), None);
}

/// The executor: namespace secrets first (the namespace, then its
/// parents), then the environment's; a change made by another process on
/// the same database is seen by the next execution.
#[tokio::test]
async fn secret_in_a_flow_reads_the_namespace_then_its_parents_then_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let secrets = SecretStore::load(store.clone()).await.unwrap();
    for (namespace, secret, value) in [
        ("a.b.c", "X", "x-abc"),
        ("a.b", "X", "x-ab"),
        ("a", "X", "x-a"),
        ("a.b", "Y", "y-ab"),
        ("a", "Y", "y-a"),
        ("a", "Z", "z-a"),
    ] {
        secrets
            .set(&ns(namespace), &name(secret), &Secret::new(value), "alice")
            .await
            .unwrap();
    }
    let (pipeline, _writer) = LogPipeline::start(store.clone());
    let services = Services {
        store: store.clone(),
        storage: Storage::new(dir.path().join("storage")),
        logs: pipeline.sender(),
    };
    let env = Arc::new(|name: &str| {
        ["X", "Y", "Z", "W"]
            .contains(&name)
            .then(|| format!("{}-env", name.to_lowercase()))
    });
    let settings = Settings {
        namespace_secrets: Some(SecretStore::new(store.clone())),
        ..Settings::default()
    };
    let executor = Executor::with_settings(services, Runners::core(), env, settings);
    // What a secret decides is not masked (a string derived from one is):
    // a ternary per secret shows which value was found.
    let pick = |secret: &str, candidates: &[&str]| {
        candidates.iter().rev().fold("'?'".to_owned(), |rest, c| {
            format!(
                "(secret('{secret}') == '{c}' ? '{}' : {rest})",
                c.to_uppercase()
            )
        })
    };
    let format = [
        pick("X", &["x-abc", "x-ab", "x-a", "x-env"]),
        pick("Y", &["y-ab", "y-a", "y-env"]),
        pick("Z", &["z-a", "z-env"]),
        pick("W", &["w-abc", "w-env"]),
    ]
    .map(|e| format!("{{{{ {e} }}}}"))
    .join(" ");
    let yaml = format!(
        "id: f\nnamespace: a.b.c\ntasks:\n  - id: say\n    type: debug.Return\n    format: \"{format}\"\n"
    );
    let yaml = yaml.as_str();
    let said = |id: ExecutionId| {
        let store = store.clone();
        async move {
            let runs = store.task_runs(&id).await.unwrap();
            runs[0].outputs.as_ref().unwrap()["value"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let id = run(&executor, yaml, json!({})).await;
    assert_eq!(said(id).await, "X-ABC Y-AB Z-A W-ENV");

    // Another process (the CLI beside a running server) changes a secret.
    let other = Store::open(dir.path()).await.unwrap();
    other
        .set_secret(&ns("a.b.c"), &name("W"), &Secret::new("w-abc"), "bob")
        .await
        .unwrap();
    other.delete_secret(&ns("a.b.c"), &name("X")).await.unwrap();
    let id = run(&executor, yaml, json!({})).await;
    assert_eq!(said(id).await, "X-AB Y-AB Z-A W-ABC");
    executor.shutdown().await;
}

async fn run(executor: &Executor, yaml: &str, inputs: Value) -> ExecutionId {
    let plan = Arc::new(Plan::from_yaml(yaml).unwrap());
    let inputs: Map<String, Value> = inputs.as_object().cloned().unwrap_or_default();
    let record = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs,
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap();
    let state = tokio::time::timeout(Duration::from_secs(20), executor.wait(&record.id))
        .await
        .expect("the execution ends")
        .unwrap();
    assert!(matches!(state, State::Success | State::Failed), "{state}");
    record.id
}

/// Fails while its count of runs is zero, then succeeds.
struct FailOnce(AtomicU32);

impl Runner for FailOnce {
    fn run<'a>(&'a self, _ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(TaskError::Failed("the first run fails".into()));
            }
            Ok(Outputs::new())
        })
    }
}

/// An executor whose `test.FailOnce` fails its first run, or never.
fn executor_on(store: &Store, dir: &Path, pipeline: &LogPipeline, fail_first: bool) -> Executor {
    let services = Services {
        store: store.clone(),
        storage: Storage::new(dir.join("storage")),
        logs: pipeline.sender(),
    };
    let mut runners = Runners::core();
    runners.register(
        "test.FailOnce",
        Arc::new(FailOnce(AtomicU32::new(u32::from(!fail_first)))),
    );
    Executor::new(services, runners, Arc::new(|_: &str| None))
}

const PIN_FLOW: &str = "id: f\nnamespace: t\ninputs:\n  - id: pin\n    type: SECRET\ntasks:\n  - id: flaky\n    type: test.FailOnce\n  - id: say\n    type: debug.Return\n    format: \"{{ inputs.pin == 'pin-4321-zyxw' ? 'PIN-OK' : 'PIN-WRONG' }}\"\n";

#[tokio::test]
async fn secret_inputs_are_sealed_and_still_there_after_a_restart_of_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let pin = "pin-4321-zyxw";
    let id = {
        let store = Store::open(dir.path()).await.unwrap();
        let (pipeline, writer) = LogPipeline::start(store.clone());
        let executor = executor_on(&store, dir.path(), &pipeline, true);
        let id = run(&executor, PIN_FLOW, json!({"pin": pin})).await;
        assert_eq!(
            store.get_execution(&id).await.unwrap().unwrap().state,
            State::Failed
        );
        executor.shutdown().await;
        pipeline.sender().flush().await;
        drop((executor, pipeline));
        let _ = writer.await;
        store.close().await;
        id
    };
    assert!(
        !on_disk(dir.path(), pin),
        "the SECRET input is in the database in clear"
    );

    // A new process: the input comes back from the store for the restart.
    let store = Store::open(dir.path()).await.unwrap();
    assert_eq!(store.execution_secrets(&id).await.unwrap()["pin"], pin);
    let (pipeline, _writer) = LogPipeline::start(store.clone());
    let executor = executor_on(&store, dir.path(), &pipeline, false);
    executor
        .restart(&id, Arc::new(Plan::from_yaml(PIN_FLOW).unwrap()))
        .await
        .unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
            .await
            .unwrap()
            .unwrap(),
        State::Success
    );
    let runs = store.task_runs(&id).await.unwrap();
    let say = runs.iter().find(|r| r.task_id.as_str() == "say").unwrap();
    assert_eq!(say.outputs.as_ref().unwrap()["value"], "PIN-OK");
    executor.shutdown().await;
}

#[tokio::test]
async fn secret_inputs_an_older_mortar_stored_in_clear_are_sealed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let (pipeline, _writer) = LogPipeline::start(store.clone());
    let executor = executor_on(&store, dir.path(), &pipeline, true);
    let id = run(&executor, PIN_FLOW, json!({"pin": "new-pin"})).await;
    executor.shutdown().await;
    store.close().await;
    // As a database of before 0006 has it: the JSON in `inputs`, no seal.
    let url = format!("sqlite://{}", dir.path().join("mortar.db").display());
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "UPDATE execution_secrets SET inputs = '{\"pin\":\"legacy-pin-5678\"}', sealed = NULL",
    )
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
    assert!(
        on_disk(dir.path(), "legacy-pin-5678"),
        "the byte search finds a value in clear"
    );

    let store = Store::open(dir.path()).await.unwrap();
    assert_eq!(
        store.execution_secrets(&id).await.unwrap()["pin"],
        "legacy-pin-5678"
    );
    store.close().await;
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (inputs, sealed): (String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT inputs, sealed FROM execution_secrets")
            .fetch_one(&raw)
            .await
            .unwrap();
    raw.close().await;
    assert_eq!(inputs, "");
    assert!(sealed.is_some());
    assert!(
        !on_disk(dir.path(), "legacy-pin-5678"),
        "the value in clear is still on disk"
    );
}

#[tokio::test]
async fn rotation_re_encrypts_everything_and_the_old_key_no_longer_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store
        .set_secret(&ns("a.b"), &name("X"), &Secret::new("x-value"), "alice")
        .await
        .unwrap();
    let (pipeline, _writer) = LogPipeline::start(store.clone());
    let executor = executor_on(&store, dir.path(), &pipeline, true);
    let id = run(&executor, PIN_FLOW, json!({"pin": "rotated-pin"})).await;
    executor.shutdown().await;
    let old = SecretKey::read_file(&dir.path().join(KEY_FILE))
        .unwrap()
        .unwrap();

    let new = SecretKey::generate();
    let rotated = store.rotate_key(new.clone()).await.unwrap();
    assert_eq!((rotated.secrets, rotated.execution_secrets), (1, 1));
    // This handle goes on with the new key.
    store
        .set_secret(&ns("a.b"), &name("Y"), &Secret::new("y-value"), "alice")
        .await
        .unwrap();
    store.close().await;
    assert_eq!(
        SecretKey::read_file(&dir.path().join(KEY_FILE))
            .unwrap()
            .unwrap()
            .to_base64(),
        new.to_base64()
    );
    assert!(!dir.path().join("secret.key.new").exists());

    let error = Store::open_with_key(
        dir.path(),
        KeyChoice::Given {
            key: old,
            from: "the old key".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, StoreError::Key(KeyProblem::Wrong { .. })),
        "{error}"
    );

    let store = Store::open(dir.path()).await.unwrap();
    let secrets = SecretStore::load(store.clone()).await.unwrap();
    assert_eq!(secrets.lookup("a.b", "X").unwrap().expose(), "x-value");
    assert_eq!(secrets.lookup("a.b", "Y").unwrap().expose(), "y-value");
    assert_eq!(
        store.execution_secrets(&id).await.unwrap()["pin"],
        "rotated-pin"
    );
}

#[tokio::test]
async fn a_rotation_that_stopped_before_renaming_its_key_file_is_finished_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store
        .set_secret(&ns("a"), &name("X"), &Secret::new("x-value"), "alice")
        .await
        .unwrap();
    let old = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    store.rotate_key(SecretKey::generate()).await.unwrap();
    store.close().await;
    // As if the process had died between the commit and the rename.
    std::fs::rename(dir.path().join(KEY_FILE), dir.path().join("secret.key.new")).unwrap();
    std::fs::write(dir.path().join(KEY_FILE), old).unwrap();

    let store = Store::open(dir.path()).await.unwrap();
    assert_eq!(
        SecretStore::load(store)
            .await
            .unwrap()
            .lookup("a", "X")
            .unwrap()
            .expose(),
        "x-value"
    );
    assert!(!dir.path().join("secret.key.new").exists());
}
