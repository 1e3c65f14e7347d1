//! `docs/kestra-compatibility.md`, the page for Kestra users moving flows
//! over, is generated from what Mortar declares (the task registry, the
//! input types, the expression library, the REST API's OpenAPI document)
//! against the list of Kestra's core types (`kestra-core-types.txt`, read
//! off Kestra's source). This test fails when the page is stale;
//! `MORTAR_BLESS=1 cargo test -p server --test http compat` rewrites it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use engine::flow::pebble::library::{self, Kind};
use serde_json::Value;

use super::support::TestApp;

/// Kestra's input types (`io.kestra.core.models.flows.Type`).
const KESTRA_INPUT_TYPES: &[&str] = &[
    "STRING",
    "ENUM",
    "SELECT",
    "MULTISELECT",
    "INT",
    "FLOAT",
    "BOOLEAN",
    "BOOL",
    "DATETIME",
    "DATE",
    "TIME",
    "DURATION",
    "FILE",
    "JSON",
    "URI",
    "SECRET",
    "ARRAY",
    "YAML",
    "EMAIL",
];

/// What a Kestra user must know, said once here.
const DIFFERENCES: &str = "\
- **One tenant.** Every API path answers with and without `/main` after `/api/v1` (`/api/v1/main/flows` and `/api/v1/flows`); there are no other tenants.
- **Logins** are Mortar's own users with roles per namespace (viewer, operator, editor, admin), API tokens (`Authorization: Bearer`) and basic auth on `/api/v1`; there is no SSO.
- **Secrets** are stored per namespace, encrypted at rest (`mortar secrets set`), and looked up in the execution's namespace, then its parents, as in Kestra's enterprise edition; then in `SECRET_<NAME>` environment variables holding base64, as in Kestra's open-source edition.
- **Internal storage URIs** are `storage:///…` rather than `kestra:///…`; `read()`, `fileSize()` and the tasks take the URIs Mortar gives them.
- **`taskrun.value`** is also set in the tasks nested in a ForEach's Sequential, If or Switch (Kestra sets it only in the ForEach's direct children).
- **The KV store** keeps each key as a file in internal storage, as Kestra does; `kv()` fails on a missing key unless `errorOnMissing=false`, and reads the parent namespaces' keys.
- **`envs`** are the environment variables that start with `ENV_` (`--env-vars-prefix`), without the prefix and in lower case.
- **Older type names** that Kestra still accepts (`io.kestra.core.tasks.log.Log`, `io.kestra.core.tasks.flows.Parallel`, `io.kestra.core.models.triggers.types.Schedule`, `io.kestra.core.models.conditions.types.…Condition`, `io.kestra.plugin.fs.http.Request`, …) are accepted too, and so is the older Pause with `tasks`.
- **Namespace files** live in internal storage under their namespace, as in Kestra, with every revision kept; a deleted file keeps its history and writing it again goes on from its last revision.
- **PublicHoliday** knows the national holidays of AT, BE, DE, ES, FR, GB, IE, IT, NL, PL and PT, the US federal ones and the regional ones of Germany's states (`subDivision: by` or `DE-BY`); Kestra's Jollyday knows more countries and their regions (another `subDivision` is refused, naming those known).
- **Templates** (flow.Template) are read when an execution is walked, as Kestra reads them; Mortar keeps them on without Kestra's `kestra.templates.enabled`.
- **Metric aggregates** (`/api/v1/metrics/aggregates/…`) keep the bucket that holds `endDate`; Kestra's fill stops a whole unit before it, leaving out today's values from its default range.
- **LoopUntil** stops after `maxIterations` iterations (Kestra's check lets one more run).
- **A trigger turned off** (from the UI, the API or a Toggle task) and turned on again counts from then: a Schedule does not catch up what it missed while off.
- **Validation is stricter than Kestra's** where run time would fail anyway: an unknown function, filter or test, a syntax error, an undeclared input or an unknown task in `outputs.<task>` is an error when the flow is saved (a read guarded by `??`, `???`, `| default` or `is defined` is not).
";

fn status(supported: bool) -> &'static str {
    if supported {
        "supported"
    } else {
        "not supported yet"
    }
}

async fn page() -> String {
    let mut out = String::from(
        "# Kestra compatibility\n\nWhat of Kestra's flow language and API Mortar supports. Generated from Mortar's own declarations by `server/tests/http/compat.rs` (`MORTAR_BLESS=1 cargo test -p server --test http compat` rewrites it); do not edit by hand.\n\n## Differences to know\n\n",
    );
    out.push_str(DIFFERENCES);

    // Task, trigger and condition types: Kestra's core ones and Mortar's own.
    let kestra: BTreeSet<&str> = include_str!("kestra-core-types.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mortar: BTreeSet<&str> = engine::flow::task_types().iter().map(|t| t.name).collect();
    let core = kestra.iter().filter(|t| mortar.contains(*t)).count();
    let _ = write!(
        out,
        "\n## Task, trigger and condition types\n\n{core} of Kestra's {} core types are supported, and {} Databricks types.\n\n| type | Mortar |\n|---|---|\n",
        kestra.len(),
        mortar.iter().filter(|t| t.contains(".databricks.")).count()
    );
    for name in kestra.union(&mortar) {
        let _ = writeln!(out, "| `{name}` | {} |", status(mortar.contains(name)));
    }

    out.push_str("\n## Input types\n\n| type | Mortar |\n|---|---|\n");
    for name in KESTRA_INPUT_TYPES {
        let _ = writeln!(
            out,
            "| `{name}` | {} |",
            status(engine::flow::model::InputType::parse(name).is_some())
        );
    }

    out.push_str(
        "\n## Expression functions, filters and tests\n\n| name | kind | Mortar |\n|---|---|---|\n",
    );
    let mut names: Vec<(String, Kind, bool)> = library::declarations()
        .map(|d| (d.name.to_owned(), d.kind, true))
        .collect();
    names.extend(
        library::not_yet()
            .iter()
            .map(|(kind, name)| ((*name).to_owned(), *kind, false)),
    );
    names.sort_by(|a, b| (a.1.noun(), &a.0).cmp(&(b.1.noun(), &b.0)));
    for (name, kind, supported) in names {
        let _ = writeln!(
            out,
            "| `{name}` | {} | {} |",
            kind.noun(),
            status(supported)
        );
    }

    // The REST operations, from the OpenAPI document the server serves.
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.stop().await;
    out.push_str("\n## REST API\n\nEvery operation below also answers under `/api/v1/main/…`.\n\n| method | path |\n|---|---|\n");
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.contains("{tenant}") {
            continue;
        }
        for method in ["get", "post", "put", "delete"] {
            if item.get(method).is_some() {
                let _ = writeln!(out, "| {} | `{path}` |", method.to_uppercase());
            }
        }
    }
    out
}

#[tokio::test]
async fn the_kestra_compatibility_page_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/kestra-compatibility.md"
    );
    let generated = page().await;
    if std::env::var_os("MORTAR_BLESS").is_some() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs")).unwrap();
        std::fs::write(path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/kestra-compatibility.md is stale: run `MORTAR_BLESS=1 cargo test -p server --test http compat` and commit it"
    );
}
