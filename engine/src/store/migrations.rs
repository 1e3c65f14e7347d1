//! The store's schema: one migration per file under `migrations/sqlite`,
//! embedded in the binary.
//!
//! Listed here rather than found by `sqlx::migrate!`: that macro needs sqlx's
//! query macros, which build a second SQLite for the compiler, about a
//! minute of every cold build. Versions, descriptions and checksums (the
//! SHA-384 of the text, computed by `Migration::new`) are those the macro
//! recorded, so databases made before carry on.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQL), in order. A test checks that every file of
/// the folder is here.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "flows",
        include_str!("../../../migrations/sqlite/0001_flows.sql"),
    ),
    (
        2,
        "executions",
        include_str!("../../../migrations/sqlite/0002_executions.sql"),
    ),
    (
        3,
        "execution history",
        include_str!("../../../migrations/sqlite/0003_execution_history.sql"),
    ),
    (
        4,
        "execution secrets",
        include_str!("../../../migrations/sqlite/0004_execution_secrets.sql"),
    ),
    (
        5,
        "triggers",
        include_str!("../../../migrations/sqlite/0005_triggers.sql"),
    ),
    (
        6,
        "namespace secrets",
        include_str!("../../../migrations/sqlite/0006_namespace_secrets.sql"),
    ),
    (
        7,
        "users",
        include_str!("../../../migrations/sqlite/0007_users.sql"),
    ),
    (
        8,
        "nodes",
        include_str!("../../../migrations/sqlite/0008_nodes.sql"),
    ),
    (
        9,
        "login state",
        include_str!("../../../migrations/sqlite/0009_login_state.sql"),
    ),
    (
        10,
        "trigger state",
        include_str!("../../../migrations/sqlite/0010_trigger_state.sql"),
    ),
    (
        11,
        "condition windows",
        include_str!("../../../migrations/sqlite/0011_condition_windows.sql"),
    ),
    (
        12,
        "metrics",
        include_str!("../../../migrations/sqlite/0012_metrics.sql"),
    ),
    (
        13,
        "templates",
        include_str!("../../../migrations/sqlite/0013_templates.sql"),
    ),
];

/// (version, description, SQL) of the PostgreSQL store, in order.
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "schema",
        include_str!("../../../migrations/postgres/0001_schema.sql"),
    ),
    (
        2,
        "nodes",
        include_str!("../../../migrations/postgres/0002_nodes.sql"),
    ),
    (
        3,
        "login state",
        include_str!("../../../migrations/postgres/0003_login_state.sql"),
    ),
    (
        4,
        "trigger state",
        include_str!("../../../migrations/postgres/0004_trigger_state.sql"),
    ),
    (
        5,
        "condition windows",
        include_str!("../../../migrations/postgres/0005_condition_windows.sql"),
    ),
    (
        6,
        "metrics",
        include_str!("../../../migrations/postgres/0006_metrics.sql"),
    ),
    (
        7,
        "templates",
        include_str!("../../../migrations/postgres/0007_templates.sql"),
    ),
];

/// The migrations of the SQLite store.
pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The migrations of the PostgreSQL store. sqlx runs them under an
/// advisory lock, so that nodes starting together take turns.
pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

fn migrator(list: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sqlx::SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_folders_is_listed_with_its_version_and_description() {
        listed("sqlite", SQLITE);
        listed("postgres", POSTGRES);
    }

    fn listed(backend: &str, list: &[(i64, &str, &str)]) {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(backend);
        let mut files: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = list
            .iter()
            .map(|(version, description, _)| {
                format!("{version:04}_{}.sql", description.replace(' ', "_"))
            })
            .collect();
        assert_eq!(
            files,
            listed,
            "add the new file to {} in engine/src/store/migrations.rs",
            backend.to_uppercase()
        );
        for ((_, _, sql), file) in list.iter().zip(&files) {
            assert_eq!(*sql, std::fs::read_to_string(folder.join(file)).unwrap());
        }
    }
}
