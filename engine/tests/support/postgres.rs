//! A PostgreSQL database for a test: on the server MORTAR_TEST_POSTGRES
//! names, else on one the test starts itself (scripts/postgres.sh, Debian's
//! packages).

use std::path::{Path, PathBuf};

use sqlx::Connection;

/// A PostgreSQL database for the test; the server stops when dropped if
/// the test started it.
pub struct Postgres {
    /// `host:port/database`, for a JDBC URL.
    pub place: String,
    started: Option<PathBuf>,
}

impl Postgres {
    pub async fn start() -> Self {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let (server, started) = match std::env::var("MORTAR_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(url) => (url, None),
            None => {
                // Directly under /tmp: as root the cluster belongs to the
                // `postgres` user, who must reach it.
                let dir = PathBuf::from(format!("/tmp/mortar-jdbc-test-{:016x}", rand_u64()));
                let out = std::process::Command::new("bash")
                    .arg(&scripts)
                    .arg("start")
                    .arg(&dir)
                    .output()
                    .expect("scripts/postgres.sh runs");
                assert!(
                    out.status.success(),
                    "scripts/postgres.sh start: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let url = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .last()
                    .unwrap()
                    .trim()
                    .to_owned();
                (url, Some(dir))
            }
        };
        let name = format!("jdbc_{:016x}", rand_u64());
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = url::Url::parse(&server).unwrap();
        let place = format!(
            "{}:{}/{name}",
            url.host_str().unwrap(),
            url.port().unwrap_or(5432)
        );
        Self { place, started }
    }

    /// The server's URL as its admin (`mortar`), on the database `postgres`.
    pub fn admin_url(&self) -> String {
        let server = self.place.split('/').next().unwrap_or_default();
        format!("postgres://mortar@{server}/postgres")
    }

    /// The database's name.
    pub fn database(&self) -> &str {
        self.place.rsplit('/').next().unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("jdbc:postgresql://{}", self.place)
    }

    pub async fn connect(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&format!("postgres://mortar@{}", self.place))
            .await
            .unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(dir) = &self.started {
            let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
            let _ = std::process::Command::new("bash")
                .arg(scripts)
                .arg("stop")
                .arg(dir)
                .output();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    hasher.finish()
}
