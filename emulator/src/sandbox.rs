//! The SQLite database statements run on: a pool of connections over one
//! private database file, each connection fenced in and interruptible.
//!
//! - **Shared by several connections.** The database is a file in a private
//!   temporary directory (removed when the engine drops), in WAL mode, so a
//!   long statement blocks neither readers nor a writer of another
//!   statement. Measured against the alternatives while a 1.4 s recursive
//!   CTE read a table: with WAL, `SELECT 1`, a read of that table and an
//!   INSERT into it each answered in under 4 ms; with the `memdb` VFS the
//!   INSERT waited for the reader (rollback-journal locking: 1.1 s); with a
//!   shared-cache in-memory database even `SELECT 1` waited 1.6 s (table
//!   locks). Throughput was alike (2000 autocommit INSERTs: 0.20 s WAL,
//!   0.24 s memdb; a million-row CTAS: 0.40 s, 0.51 s), so WAL it is.
//!   Writers still take turns: one waits up to [`BUSY_TIMEOUT`] for another.
//! - **Fenced in.** Every connection gets an authorizer that refuses
//!   ATTACH, DETACH, virtual tables, `load_extension()` and PRAGMAs other
//!   than a few read-only ones, `SQLITE_LIMIT_ATTACHED = 0` (which also
//!   stops VACUUM INTO, whose output is an attached database), extension
//!   loading off, SQLite's defensive mode, and bounds on value and
//!   statement length and on the database's size. A statement can reach no
//!   file but this database.
//! - **Interruptible.** A [`Session`] installs a progress handler that
//!   stops SQLite as soon as the session is dropped (a cancel, a wait
//!   timeout with CANCEL, a run that is killed) or its deadline passes. A
//!   flag per session, rather than `sqlite3_interrupt` on the raw handle:
//!   an interrupt sent just as the connection went back to the pool would
//!   hit the next statement on it, and the raw pointer would outlive the
//!   lock that makes it safe to use. The connection goes back to the pool
//!   only once SQLite has stopped (see [`reset`]), and with no transaction
//!   or temporary table left over.

// The authorizer and the limits are C API calls sqlx does not wrap. The
// emulator's Cargo.toml denies unsafe code; this module alone allows it.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Sqlite, SqlitePool};

/// Statements that run at once; the next one waits for a free connection.
pub(crate) const CONNECTIONS: u32 = 8;
/// How long a write waits for another statement's write to finish.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest string or blob a statement may build.
pub(crate) const MAX_VALUE_BYTES: c_int = 64 * 1024 * 1024;
/// The longest statement SQLite accepts (the API takes 16 MiB; rewriting
/// Databricks syntax can lengthen it).
const MAX_SQL_BYTES: c_int = 32 * 1024 * 1024;
/// Pages of 4 KiB: the database holds at most 2 GiB.
pub(crate) const MAX_PAGES: u32 = 512 * 1024;
/// VM instructions between two looks at the session's flag: about a
/// microsecond of work, so a stop takes effect at once.
const PROGRESS_OPS: i32 = 1000;

/// PRAGMAs a statement may run: they read the schema and change nothing.
const READ_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "collation_list",
    "function_list",
];

const RUNNING: u8 = 0;
const STOPPED: u8 = 1;
const TIMED_OUT: u8 = 2;

pub(crate) struct Database {
    pool: SqlitePool,
    timeout: Duration,
    /// Dropped after the pool (fields drop in order): removes the file.
    _dir: tempfile::TempDir,
}

impl Database {
    /// Creates the database; each statement may run for `timeout`.
    pub async fn open(timeout: Duration) -> Result<Self, sqlx::Error> {
        let dir = tempfile::Builder::new()
            .prefix("mortar-emulator-sql-")
            .tempdir()?;
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("workspace.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // The file is thrown away at exit: durability buys nothing.
            .synchronous(SqliteSynchronous::Off)
            // TEMP tables (CSV loads) in memory, not in more files.
            .pragma("temp_store", "memory")
            .pragma("max_page_count", MAX_PAGES.to_string())
            .busy_timeout(BUSY_TIMEOUT);
        // One connection makes the new file a WAL database before the pool
        // opens several: connections switching it at once can fail with
        // "database is locked" (the same fix as Mortar's store).
        SqliteConnection::connect_with(&options)
            .await?
            .close()
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(CONNECTIONS)
            .min_connections(0)
            // A statement waits for a connection as long as it may run.
            .acquire_timeout(timeout)
            .idle_timeout(Some(Duration::from_secs(600)))
            .max_lifetime(None)
            .after_connect(|conn, _| Box::pin(async move { fence(conn).await }))
            .after_release(|conn, _| Box::pin(async move { reset(conn).await.map(|()| true) }))
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            timeout,
            _dir: dir,
        })
    }

    /// A connection for one statement, stopped when the session drops or
    /// its deadline passes.
    pub async fn session(&self) -> Result<Session, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let flag = Arc::new(AtomicU8::new(RUNNING));
        let seen = flag.clone();
        let deadline = Instant::now() + self.timeout;
        conn.lock_handle()
            .await?
            .set_progress_handler(PROGRESS_OPS, move || {
                if seen.load(Ordering::Relaxed) != RUNNING {
                    return false;
                }
                if Instant::now() >= deadline {
                    seen.store(TIMED_OUT, Ordering::Relaxed);
                    return false;
                }
                true
            });
        Ok(Session { conn, flag })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// A pooled connection running one statement. Dropping it stops SQLite.
pub(crate) struct Session {
    conn: PoolConnection<Sqlite>,
    flag: Arc<AtomicU8>,
}

impl Session {
    /// Whether SQLite was stopped because the deadline passed.
    pub fn timed_out(&self) -> bool {
        self.flag.load(Ordering::Relaxed) == TIMED_OUT
    }
}

impl Deref for Session {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Before the connection goes back: SQLite, possibly still running
        // this session's statement on the connection's worker thread,
        // stops at its next progress check.
        let _ = self
            .flag
            .compare_exchange(RUNNING, STOPPED, Ordering::Relaxed, Ordering::Relaxed);
    }
}

fn config_error(what: &str) -> sqlx::Error {
    sqlx::Error::Configuration(format!("could not fence in a SQL connection: {what}").into())
}

/// Fences a new connection in: limits, no extensions, defensive mode, the
/// authorizer.
async fn fence(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let limits = [
        (ffi::SQLITE_LIMIT_ATTACHED, 0),
        (ffi::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES),
        (ffi::SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES),
    ];
    // SAFETY: `handle` holds the connection's lock, so its worker thread
    // makes no call on `db` meanwhile, and `db` stays open while `handle`
    // lives. `authorize` has the signature SQLite expects and reads no user
    // data (null).
    unsafe {
        for (id, value) in limits {
            ffi::sqlite3_limit(db, id, value);
            if ffi::sqlite3_limit(db, id, -1) != value {
                return Err(config_error("a limit did not take"));
            }
        }
        let off: c_int = 0;
        let on: c_int = 1;
        if ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION,
            off,
            std::ptr::null_mut::<c_int>(),
        ) != ffi::SQLITE_OK
        {
            return Err(config_error("extension loading"));
        }
        if ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_DEFENSIVE,
            on,
            std::ptr::null_mut::<c_int>(),
        ) != ffi::SQLITE_OK
        {
            return Err(config_error("defensive mode"));
        }
        if ffi::sqlite3_set_authorizer(db, Some(authorize), std::ptr::null_mut()) != ffi::SQLITE_OK
        {
            return Err(config_error("the authorizer"));
        }
    }
    Ok(())
}

/// SQLite's authorizer callback: what a statement may do, decided while it
/// is prepared.
unsafe extern "C" fn authorize(
    _: *mut c_void,
    action: c_int,
    arg1: *const c_char,
    arg2: *const c_char,
    _database: *const c_char,
    _trigger: *const c_char,
) -> c_int {
    let text = |p: *const c_char| {
        // SAFETY: SQLite passes NUL-terminated strings, or NULL.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes())
    };
    let allowed = match action {
        ffi::SQLITE_ATTACH
        | ffi::SQLITE_DETACH
        | ffi::SQLITE_CREATE_VTABLE
        | ffi::SQLITE_DROP_VTABLE => false,
        ffi::SQLITE_PRAGMA => text(arg1).is_some_and(|name| {
            READ_PRAGMAS
                .iter()
                .any(|p| p.as_bytes().eq_ignore_ascii_case(name))
        }),
        ffi::SQLITE_FUNCTION => {
            !text(arg2).is_some_and(|name| name.eq_ignore_ascii_case(b"load_extension"))
        }
        _ => true,
    };
    if allowed {
        ffi::SQLITE_OK
    } else {
        ffi::SQLITE_DENY
    }
}

/// Readies a connection the pool gets back for the next statement: waits
/// until SQLite has stopped (locking the handle waits for the worker
/// thread), removes the session's progress handler, rolls back a
/// transaction left open (a `BEGIN` without `COMMIT`, which would hold the
/// write lock for everyone) and drops the temporary tables and views, so a
/// statement never sees another's. An error closes the connection.
async fn reset(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let in_transaction = {
        let mut handle = conn.lock_handle().await?;
        handle.remove_progress_handler();
        // SAFETY: as in `fence`, the locked handle is ours alone.
        unsafe { ffi::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) == 0 }
    };
    if in_transaction {
        sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await?;
    }
    let temp: Vec<(String, String)> = sqlx::query_as(
        "SELECT type, name FROM temp.sqlite_master WHERE type IN ('view', 'table') ORDER BY type = 'table'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (kind, name) in temp {
        let sql = format!(
            "DROP {} IF EXISTS temp.\"{}\"",
            if kind == "view" { "VIEW" } else { "TABLE" },
            name.replace('"', "\"\"")
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
