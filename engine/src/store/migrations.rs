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
    (1, "flows", include_str!("../../../migrations/sqlite/0001_flows.sql")),
    (2, "executions", include_str!("../../../migrations/sqlite/0002_executions.sql")),
    (3, "execution history", include_str!("../../../migrations/sqlite/0003_execution_history.sql")),
    (4, "execution secrets", include_str!("../../../migrations/sqlite/0004_execution_secrets.sql")),
    (5, "triggers", include_str!("../../../migrations/sqlite/0005_triggers.sql")),
    (6, "namespace secrets", include_str!("../../../migrations/sqlite/0006_namespace_secrets.sql")),
    (7, "users", include_str!("../../../migrations/sqlite/0007_users.sql")),
];

/// The migrations of the SQLite store.
pub(crate) fn sqlite() -> Migrator {
    Migrator::with_migrations(
        SQLITE
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sqlx::SqlStr::from_static(sql), false)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_folder_is_listed_with_its_version_and_description() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> =
            SQLITE.iter().map(|(version, description, _)| format!("{version:04}_{}.sql", description.replace(' ', "_"))).collect();
        assert_eq!(files, listed, "add the new file to SQLITE in engine/src/store/migrations.rs");
        for ((_, _, sql), file) in SQLITE.iter().zip(&files) {
            assert_eq!(*sql, std::fs::read_to_string(folder.join(file)).unwrap());
        }
    }
}
