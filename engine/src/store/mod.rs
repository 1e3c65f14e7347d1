//! The store: one SQLite database (WAL) in the data dir, migrated at open.
//!
//! Every state change is one transaction. The store knows nothing of HTTP or
//! of the web app; it hands out plain records.

mod executions;
mod flows;
mod history;
mod logs;
mod migrations;
mod secrets;
mod triggers;
mod users;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use executions::{Attempt, ExecutionFilter, ExecutionPage, ExecutionRecord, LabelsOutcome, NewExecution, NewTaskRun, StateChange, TaskRunRecord, TaskRunVersion};
pub use flows::{FlowSource, FlowSummary, StoredFlow};
pub use history::{ExecutionQuery, ExecutionSort, ExecutionSummary, StateCount, SummaryPage};
pub use logs::{LogQuery, LogRecord, NewLog};
pub use secrets::{KeyChoice, KeyProblem, MAX_SECRET_VALUE, Rotated, SecretEntry};
pub use triggers::ScheduledFlow;
pub use users::{AuditQuery, AuditRecord, NewAudit, TokenRecord, UserRecord};

/// The database file's name inside the data dir.
pub const DATABASE_FILE: &str = "mortar.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data dir {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error(transparent)]
    Illegal(#[from] crate::state::IllegalTransition),
    #[error("the database holds something unexpected: {0}")]
    Corrupt(String),
    /// The key that seals secrets is wrong, missing or unreadable.
    #[error(transparent)]
    Key(#[from] KeyProblem),
    /// A namespace, a name or a value the caller gave breaks a rule.
    #[error("{0}")]
    Invalid(String),
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Counts saves and deletes of flows, for whoever follows them (the
    /// scheduler), so that nobody polls the database for changes.
    flow_changes: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    /// Seals namespace secrets and SECRET inputs; swapped by a rotation.
    key: std::sync::Arc<std::sync::RwLock<std::sync::Arc<crate::secret_key::SecretKey>>>,
    /// The key file, when the key lives in the data dir.
    key_file: Option<PathBuf>,
}

/// What `health` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHealth {
    /// The newest migration applied.
    pub schema_version: i64,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`, applies every
    /// pending migration, and unlocks its secrets with the data dir's key
    /// file (created, mode 0600, at the first open).
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_key(data_dir, KeyChoice::File).await
    }

    /// As [`Store::open`], with the key chosen by the caller. A key that
    /// does not decrypt what the database holds is an error here, and so
    /// is a missing key file when secrets exist.
    pub async fn open_with_key(data_dir: &Path, key: KeyChoice) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let database = data_dir.join(DATABASE_FILE);
        private_files(&database)?;
        let options = SqliteConnectOptions::new()
            .filename(&database)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across process crashes in WAL mode; only a
            // power loss can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Deleted or replaced rows are zeroed in their pages, so an
            // old SECRET input sealed at open leaves no copy in clear.
            .pragma("secure_delete", "FAST")
            .busy_timeout(Duration::from_secs(5));
        let pool = Self::connect(options).await?;
        // SQLite gives the -wal and -shm files the database's mode when it
        // creates them; these may be older.
        private_files(&database)?;
        let (key, key_file) = secrets::unlock(&pool, Some(data_dir), key).await?;
        Ok(Self::from_parts(pool, key, key_file))
    }

    /// A private in-memory database, for tests; its key is made for it.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let pool = Self::connect(options).await?;
        let (key, key_file) = secrets::unlock(&pool, None, KeyChoice::File).await?;
        Ok(Self::from_parts(pool, key, key_file))
    }

    fn from_parts(pool: SqlitePool, key: crate::secret_key::SecretKey, key_file: Option<PathBuf>) -> Self {
        Self {
            pool,
            flow_changes: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)),
            key: std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(key))),
            key_file,
        }
    }

    async fn connect(options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
        let in_memory = options.get_filename() == Path::new(":memory:");
        if !in_memory {
            // A new file becomes a WAL database on its first connection,
            // which takes a lock for it: done alone, before the pool opens
            // others, or a second connection opening at the same moment
            // fails with "database is locked" (seen about once in 20 runs
            // of `mortar run`, which always starts on a new file).
            use sqlx::{ConnectOptions, Connection};
            options.connect().await?.close().await?;
        }
        // One connection for an in-memory database: each connection would
        // otherwise see a database of its own.
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { 8 })
            .min_connections(1)
            // A ping before each use is a round trip to the connection's
            // thread and finds nothing on an embedded file: it was one
            // query in three of a task run.
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        migrations::sqlite().run(&pool).await?;
        Ok(pool)
    }

    /// Changes each time a flow is saved or deleted.
    pub fn watch_flows(&self) -> tokio::sync::watch::Receiver<u64> {
        self.flow_changes.subscribe()
    }

    pub(crate) fn flows_changed(&self) {
        self.flow_changes.send_modify(|n| *n += 1);
    }

    /// Checks that the database answers, and reports its schema version.
    pub async fn health(&self) -> Result<StoreHealth, StoreError> {
        let schema_version: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        Ok(StoreHealth { schema_version })
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock at once
    /// (waiting up to the busy timeout): a deferred transaction that reads
    /// and then writes fails at once under WAL when another connection wrote
    /// in between, instead of waiting its turn.
    pub(crate) async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Closes every connection, waiting for them to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes the database file (created empty if missing, so it is never
/// readable by others even for a moment) and its -wal and -shm files
/// readable and writable by their owner only.
fn private_files(database: &Path) -> Result<(), StoreError> {
    let error = |source| StoreError::DataDir { path: database.to_owned(), source };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(database).map_err(error)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut path = database.as_os_str().to_owned();
            path.push(suffix);
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(error(e)),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (database, error);
    Ok(())
}

/// Now, in Unix milliseconds.
fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
