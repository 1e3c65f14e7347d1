//! The store: one SQLite database (WAL) in the data dir, migrated at open.
//!
//! Every state change is one transaction. The store knows nothing of HTTP or
//! of the web app; it hands out plain records.

mod executions;
mod flows;
mod history;
mod logs;
mod migrations;
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
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Counts saves and deletes of flows, for whoever follows them (the
    /// scheduler), so that nobody polls the database for changes.
    flow_changes: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

/// What `health` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHealth {
    /// The newest migration applied.
    pub schema_version: i64,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and applies
    /// every pending migration.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across process crashes in WAL mode; only a
            // power loss can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        Self::connect(options).await
    }

    /// A private in-memory database, for tests.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
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
        Ok(Self { pool, flow_changes: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)) })
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

/// Now, in Unix milliseconds.
fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
