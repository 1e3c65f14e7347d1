//! Blueprints: ready-made flows shipped inside the binary, a catalogue to
//! start from. They are the flows of `blueprints/` at the repository's root.

use crate::header::{FlowHeader, read_header};

/// A blueprint: its source and the header read from it.
#[derive(Debug, Clone)]
pub struct Blueprint {
    pub header: FlowHeader,
    pub source: &'static str,
}

const SOURCES: &[&str] = &[
    include_str!("../../blueprints/hello_world.yml"),
    include_str!("../../blueprints/databricks_upload_query.yml"),
    include_str!("../../blueprints/databricks_cluster_job.yml"),
    include_str!("../../blueprints/databricks_dag.yml"),
    include_str!("../../blueprints/nightly_schedule.yml"),
    // Mortar's own, beyond the shared ones.
    include_str!("../../blueprints/databricks_sales_report.yml"),
    include_str!("../../blueprints/databricks_job_run_now.yml"),
    // Plugin tasks chained with the Databricks ones (issue 18): scripts,
    // serdes, SQLite, Slack and email. They read the secrets SLACK_WEBHOOK,
    // SMTP_HOST and SMTP_PORT.
    include_str!("../../blueprints/python_csv_to_slack.yml"),
    include_str!("../../blueprints/sensor_quality_gate.yml"),
    include_str!("../../blueprints/shell_export_cleanup.yml"),
    include_str!("../../blueprints/sqlite_stock_to_databricks.yml"),
    // Databricks beyond clusters, DBFS, SQL and jobs (issue 19): Unity
    // Catalog, a volume's new files, Genie (SLACK_WEBHOOK) and a repair.
    include_str!("../../blueprints/unity_catalog_landing.yml"),
    include_str!("../../blueprints/volume_new_files_loader.yml"),
    include_str!("../../blueprints/genie_answer_to_slack.yml"),
    include_str!("../../blueprints/databricks_repair_run.yml"),
];

/// Every blueprint, in catalogue order.
pub fn all() -> Vec<Blueprint> {
    SOURCES
        .iter()
        .map(|source| Blueprint {
            // The test below proves every shipped blueprint has a header.
            header: read_header(source).expect("a shipped blueprint has a valid header"),
            source,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn every_blueprint_has_a_header_and_a_unique_id() {
        let all = super::all();
        let mut ids: Vec<_> = all.iter().map(|b| b.header.id.to_string()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
    }

    /// The shared blueprints are the source of truth; the copies in the
    /// repository (embedded at build time) must not drift from them.
    #[test]
    fn the_embedded_copies_match_the_shared_blueprints() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/flows");
        let Ok(entries) = std::fs::read_dir(&shared) else {
            // A checkout without ../shared (a packaged crate) has nothing to compare.
            return;
        };
        let mut names = Vec::new();
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let ours = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../blueprints")
                    .join(&name);
                let theirs = std::fs::read_to_string(&path).unwrap();
                let ours = std::fs::read_to_string(&ours).unwrap_or_else(|_| {
                    panic!("blueprints/{name} is missing: copy it from ../shared/flows")
                });
                assert_eq!(
                    ours, theirs,
                    "blueprints/{name} differs from ../shared/flows/{name}"
                );
                assert!(
                    super::SOURCES.contains(&theirs.as_str()),
                    "the shared blueprint {name} is not embedded in SOURCES"
                );
                names.push(name);
            }
        }
        // Mortar has blueprints of its own too.
        assert!(
            names.len() <= super::SOURCES.len(),
            "a shared blueprint is not embedded in SOURCES"
        );
    }
}
