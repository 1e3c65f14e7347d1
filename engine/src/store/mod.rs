//! The store: one SQLite database (WAL) in the data dir, migrated at open,
//! or a PostgreSQL database that several Mortar nodes share.
//!
//! Every state change is one transaction. The store knows nothing of HTTP or
//! of the web app; it hands out plain records.
//!
//! Each query is written once: [`with_pool!`] expands it for both backends,
//! so each runs on its own sqlx driver (no `Any` layer) and a query that does
//! not type-check on one backend fails the build. The SQL uses `$1`-style
//! placeholders, which both accept; where the dialects differ, [`Dialect`]
//! gives the backend's spelling.

/// Runs `$body` on the store's backend: `$pool` is its sqlx pool and `$d`
/// its [`Dialect`]. The body is compiled once per backend.
macro_rules! with_pool {
    ($pools:expr, |$pool:ident, $d:ident| $body:expr) => {
        match $pools {
            $crate::store::Pool::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $d = $crate::store::Dialect::Sqlite;
                $body
            }
            $crate::store::Pool::Postgres($pool) => {
                #[allow(unused_variables)]
                let $d = $crate::store::Dialect::Postgres;
                $body
            }
        }
    };
}

/// A SELECT that a transaction reads in order to write: on PostgreSQL it
/// locks its rows (`FOR UPDATE`: another node's transaction waits), where
/// SQLite's `BEGIN IMMEDIATE` already holds the write lock. Static text on
/// both.
macro_rules! locked {
    ($d:ident, $sql:literal) => {
        match $d {
            $crate::store::Dialect::Sqlite => $sql,
            $crate::store::Dialect::Postgres => concat!($sql, " FOR UPDATE"),
        }
    };
}

mod counts;
mod executions;
mod flows;
mod history;
mod logins;
mod logs;
mod metrics;
mod migrations;
mod nodes;
mod purge;
pub mod query;
mod secrets;
mod templates;
mod triggers;
mod users;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use counts::FlowCount;
pub use executions::{
    Attempt, ExecutionField, ExecutionFilter, ExecutionPage, ExecutionRecord, LabelsOutcome, NewExecution,
    NewTaskRun, Slot, StateChange, TaskRunRecord, TaskRunVersion,
};
pub use flows::{FlowSource, FlowSummary, StoredFlow};
pub use history::{ExecutionQuery, ExecutionSort, ExecutionSummary, StateCount, SummaryPage};
pub use logs::{FoundLog, LogField, LogQuery, LogRecord, LogSearch, NewLog};
pub use metrics::{
    Aggregation, Bucket, GroupBy, MetricQuery, MetricRecord, MetricSort, NewMetric, aggregate,
};
pub use nodes::{NewNode, NodeRecord};
pub use purge::PurgeFilter;
pub use secrets::{KeyChoice, KeyProblem, MAX_SECRET_VALUE, Rotated, SecretEntry};
pub use templates::StoredTemplate;
pub use triggers::{ConditionWindow, ScheduledFlow, TriggerState};
pub use users::{AuditQuery, AuditRecord, NewAudit, TokenRecord, UserRecord};

/// The database file's name inside the data dir.
pub const DATABASE_FILE: &str = "mortar.db";

/// The environment variable that names the database, as `--database` does.
pub const DATABASE_URL_VAR: &str = "MORTAR_DATABASE_URL";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} does not exist")]
    NotFound(String),
    /// An insert found the id taken.
    #[error("{0} exists already")]
    Duplicate(String),
    /// A node wrote for an execution another node runs now (its lease
    /// ran out and the execution was claimed): the write did not happen.
    #[error("execution {0} is run by another node now")]
    Lost(String),
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
    /// `--database` names something this store cannot open.
    #[error("{0}")]
    Url(String),
}

/// Where the store lives: `--database` (or `MORTAR_DATABASE_URL`).
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// `sqlite://PATH` (a file), or nothing: `mortar.db` in the data dir.
    Sqlite(Option<PathBuf>),
    /// `postgres://user:password@host:port/database?…`, shared by nodes.
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Database {
    /// Reads `--database`'s value: `sqlite://PATH`, `sqlite:PATH`,
    /// `postgres://…` or `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Url(format!("--database {}: {e}", redact(url))))?;
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(StoreError::Url(
                    "--database sqlite://PATH needs the path of the database file".into(),
                ));
            }
            return Ok(Self::Sqlite(Some(PathBuf::from(path))));
        }
        Err(StoreError::Url(format!(
            "--database {}: give sqlite://PATH (one node, the default is mortar.db in the data dir) or postgres://USER:PASSWORD@HOST:PORT/DATABASE (several nodes)",
            redact(url)
        )))
    }

    /// The database as logs and errors show it: never a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(None) => format!("sqlite (data dir's {DATABASE_FILE})"),
            Self::Sqlite(Some(path)) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => redact(url),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// A database URL without its password.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(an unreadable URL)".to_owned(),
    }
}

/// The pool of one backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Where the two SQL dialects differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Case-insensitive LIKE (SQLite's LIKE already is, for ASCII).
    pub(crate) fn ilike(self) -> &'static str {
        match self {
            Self::Sqlite => "LIKE",
            Self::Postgres => "ILIKE",
        }
    }

    /// A column that orders a table's rows as they were inserted.
    pub(crate) fn insertion_order(self) -> &'static str {
        match self {
            Self::Sqlite => "rowid",
            Self::Postgres => "seq",
        }
    }
}

/// Opens a write transaction on either backend.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    fn write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>
    + Send;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    /// `BEGIN IMMEDIATE` takes the write lock at once (waiting up to the
    /// busy timeout): a deferred transaction that reads and then writes
    /// fails at once under WAL when another connection wrote in between,
    /// instead of waiting its turn.
    fn write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>,
    > + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    /// READ COMMITTED; the reads that decide a write lock their rows
    /// ([`Dialect::for_update`]).
    fn write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>,
    > + Send {
        self.begin()
    }
}

/// Numbers the `?` placeholders of a query built in pieces (`$1`, `$2`…),
/// leaving quoted text alone.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
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
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
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
        Self::open_database(&Database::Sqlite(None), data_dir, key).await
    }

    /// Opens `database` (SQLite in the data dir, a SQLite file, or
    /// PostgreSQL), applies its pending migrations (on PostgreSQL under an
    /// advisory lock, so nodes that start together take turns) and unlocks
    /// its secrets. The data dir holds the key file when the key is not
    /// given.
    pub async fn open_database(
        database: &Database,
        data_dir: &Path,
        key: KeyChoice,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let (pool, shown) = match database {
            Database::Sqlite(file) => {
                let file = file.clone().unwrap_or_else(|| data_dir.join(DATABASE_FILE));
                if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| StoreError::DataDir {
                        path: parent.to_owned(),
                        source,
                    })?;
                }
                (Pool::Sqlite(Self::open_sqlite(&file).await?), file)
            }
            Database::Postgres(url) => (
                Pool::Postgres(Self::connect_postgres(url, 32).await?),
                PathBuf::from(database.describe()),
            ),
        };
        let (key, key_file) = secrets::unlock(&pool, Some(data_dir), &shown, key).await?;
        Ok(Self::from_parts(pool, key, key_file))
    }

    async fn open_sqlite(database: &Path) -> Result<SqlitePool, StoreError> {
        private_files(database)?;
        let options = SqliteConnectOptions::new()
            .filename(database)
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
        private_files(database)?;
        Ok(pool)
    }

    /// A pool on a PostgreSQL database, migrated. `connections` bounds it.
    async fn connect_postgres(url: &str, connections: u32) -> Result<PgPool, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(format!("--database {}: {e}", redact(url))))?;
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .min_connections(1)
            // Hundreds of walks share the pool: a query waits its turn
            // rather than failing the walk.
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Url(format!("cannot connect to {}: {e}", redact(url))))?;
        // sqlx's migrator holds a PostgreSQL advisory lock while it runs.
        migrations::postgres().run(&pool).await?;
        Ok(pool)
    }

    /// A private in-memory database, for tests; its key is made for it.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let pool = Pool::Sqlite(Self::connect(options).await?);
        let (key, key_file) =
            secrets::unlock(&pool, None, Path::new(":memory:"), KeyChoice::File).await?;
        Ok(Self::from_parts(pool, key, key_file))
    }

    /// A new, empty store for a test: in memory, or, when the environment
    /// names a PostgreSQL server in `MORTAR_TEST_POSTGRES` (a URL whose
    /// user may create databases), a new database of its own there. The
    /// test command runs the store's, executor's and API's tests once
    /// each way.
    pub async fn scratch() -> Result<Self, StoreError> {
        match test_server() {
            None => Self::in_memory().await,
            Some(server) => {
                let url = scratch_database(&server).await?;
                let pool = Pool::Postgres(Self::connect_postgres(&url, 4).await?);
                let (key, key_file) =
                    secrets::unlock(&pool, None, Path::new(":memory:"), KeyChoice::File).await?;
                Ok(Self::from_parts(pool, key, key_file))
            }
        }
    }

    /// As [`Store::scratch`], for a test with a data dir (the key file
    /// lives there): SQLite in the data dir, or a new database on the test
    /// server, the same one each time the test opens this data dir again
    /// (a restart).
    pub async fn scratch_in(data_dir: &Path) -> Result<Self, StoreError> {
        let Some(server) = test_server() else {
            return Self::open(data_dir).await;
        };
        let file = data_dir.join("scratch-database.url");
        let url = match std::fs::read_to_string(&file) {
            Ok(url) => url,
            Err(_) => {
                let url = scratch_database(&server).await?;
                std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
                    path: data_dir.to_owned(),
                    source,
                })?;
                std::fs::write(&file, &url).map_err(|source| StoreError::DataDir {
                    path: file.clone(),
                    source,
                })?;
                url
            }
        };
        Self::open_database(&Database::Postgres(url), data_dir, KeyChoice::File).await
    }

    fn from_parts(
        pool: Pool,
        key: crate::secret_key::SecretKey,
        key_file: Option<PathBuf>,
    ) -> Self {
        Self {
            pool,
            flow_changes: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)),
            key: std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(key))),
            key_file,
        }
    }

    async fn connect(options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
        // REGEXP for Kestra's REGEX search filter, as PostgreSQL's `~`.
        let options = options.with_regexp();
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

    /// Which backend holds the store.
    pub fn is_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// Changes each time a flow is saved or deleted, on this node or (on
    /// PostgreSQL, through the cluster listener) on another.
    pub fn watch_flows(&self) -> tokio::sync::watch::Receiver<u64> {
        self.flow_changes.subscribe()
    }

    /// A flow was saved or deleted here: this node's watchers look again,
    /// and other nodes are told (`mortar_flows`).
    pub(crate) fn flows_changed(&self) {
        self.flows_changed_elsewhere();
        if self.is_postgres()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let store = self.clone();
            runtime.spawn(async move {
                if let Err(error) = store
                    .notify(crate::cluster::FLOWS, crate::cluster::this_process())
                    .await
                {
                    tracing::warn!(%error, "cannot tell other nodes that a flow changed");
                }
            });
        }
    }

    /// Another node saved or deleted a flow.
    pub fn flows_changed_elsewhere(&self) {
        self.flow_changes.send_modify(|n| *n += 1);
    }

    /// Checks that the database answers, and reports its schema version.
    pub async fn health(&self) -> Result<StoreHealth, StoreError> {
        let (schema_version, backend): (i64, &str) = with_pool!(&self.pool, |pool, d| (
            sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success"
            )
            .fetch_one(pool)
            .await?,
            match d {
                Dialect::Sqlite => "sqlite",
                Dialect::Postgres => "postgres",
            }
        ));
        Ok(StoreHealth {
            schema_version,
            backend,
        })
    }

    /// Closes every connection, waiting for them to finish.
    pub async fn close(&self) {
        with_pool!(&self.pool, |pool, d| pool.close().await)
    }
}

/// The PostgreSQL server tests make their databases on, if any.
fn test_server() -> Option<String> {
    std::env::var("MORTAR_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Makes a new database named `mortar_test_<random>` on `server` and
/// returns its URL.
async fn scratch_database(server: &str) -> Result<String, StoreError> {
    use sqlx::Connection;
    let mut url = url::Url::parse(server)
        .map_err(|e| StoreError::Url(format!("MORTAR_TEST_POSTGRES: {e}")))?;
    let name = format!("mortar_test_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    url.set_path(&name);
    Ok(url.to_string())
}

/// Makes the database file (created empty if missing, so it is never
/// readable by others even for a moment) and its -wal and -shm files
/// readable and writable by their owner only.
fn private_files(database: &Path) -> Result<(), StoreError> {
    let error = |source| StoreError::DataDir {
        path: database.to_owned(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(database)
            .map_err(error)?;
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

/// Escapes LIKE's wildcards so that a user's `%` or `_` matches itself.
pub(crate) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
