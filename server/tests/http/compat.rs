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
- **Databricks job runs** (SubmitRun, RunNow, CreateJob) give each task's output in `outputs` (a notebook's result, logs, error and its trace, SQL and dbt output), where Kestra only logs them; Kestra's state outputs (lifeCycleState, resultState, …) are there too. Restarting a failed one submits a new run; **Repair** (a button of the execution page, `POST /api/v1/executions/{id}/repair`, or the `job.RepairRun` task) runs the failed tasks again in the same run. `cluster.ResizeCluster` and `job.RepairRun` are Mortar's own types.
- **The Databricks CLI tasks** run on the Process task runner by default (Kestra's default is Docker), with the `databricks` or `dbsqlcli` found on the PATH; the host and token are environment variables, not prefixed to each command. DatabricksSQLCLI gives dbsqlcli its statements in one `-e`, joined by `;`, so each runs in order (Kestra passes one `-e` per statement, of which dbsqlcli keeps only the last), and passes `--clirc .dbsqlclirc` (without it, dbsqlcli's first run only writes its settings file and exits).
- **Search filters** take Kestra's `filters[field][OPERATION]=value` on every search; OR groups (`filters[or][…]`) are refused with a message, and a trigger search by worker or date.
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

    // The REST operations: Kestra's, as its Python client `kestrapy` calls
    // them (`kestrapy-operations.tsv`, listed by
    // scripts/kestrapy-operations.py), against the OpenAPI document the
    // server serves.
    let mortar = mortar_operations().await;
    let kestra: Vec<(&str, &str, &str)> = include_str!("kestrapy-operations.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split('\t');
            (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
        })
        .collect();
    let open: Vec<_> = kestra.iter().filter(|(_, _, c)| !enterprise(c)).collect();
    let served = open.iter().filter(|(m, p, _)| mortar.contains(&key(m, p))).count();
    let _ = write!(
        out,
        "\n## REST API\n\nKestra's operations as its Python client `kestrapy` 2.0.3 calls them. Mortar serves {served} of the {} that Kestra's open-source edition has; the {} of the enterprise edition (apps, assets, audit logs, roles, groups, users, service accounts, tenants, test suites, worker groups, policies and the like) are left out. Every path answers with the tenant (`/api/v1/main/…`, as below) and without it (`/api/v1/…`).\n\n| method | path | kestrapy | Mortar |\n|---|---|---|---|\n",
        open.len(),
        kestra.len() - open.len()
    );
    let mut known = BTreeSet::new();
    for (method, path, client) in &kestra {
        let status = if mortar.contains(&key(method, path)) {
            known.insert(key(method, path));
            "supported"
        } else if enterprise(client) {
            "enterprise edition, left out"
        } else {
            "not supported yet"
        };
        let _ = writeln!(out, "| {method} | `{path}` | `{client}` | {status} |");
    }
    out.push_str("\n### Mortar's own operations\n\n| method | path |\n|---|---|\n");
    for (method, path) in mortar_paths().await {
        if !known.contains(&key(&method, &path)) {
            let _ = writeln!(out, "| {method} | `{path}` |");
        }
    }
    out
}

/// The kestrapy API classes of Kestra's enterprise edition.
fn enterprise(client: &str) -> bool {
    const OPEN: &[&str] = &[
        "ai", "blueprints", "dashboards", "executions", "files", "flows", "kv", "logs", "metrics",
        "misc", "namespaces", "outputs", "plugins", "triggers",
    ];
    !OPEN.contains(&client.split('.').next().unwrap_or_default())
}

/// An operation's method and path without the tenant, its parameters
/// unnamed.
fn key(method: &str, path: &str) -> (String, String) {
    let path = path.replace("/api/v1/{tenant}/", "/api/v1/");
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    (method.to_uppercase(), out)
}

/// Every operation of the server's OpenAPI document, without the tenant:
/// its method and path.
async fn mortar_paths() -> Vec<(String, String)> {
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
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.contains("{tenant}") {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

async fn mortar_operations() -> BTreeSet<(String, String)> {
    mortar_paths()
        .await
        .iter()
        .map(|(m, p)| key(m, p))
        .collect()
}

/// Every operation the OpenAPI document lists is routed: a request on it
/// (its parameters `x`, an empty body) reaches an operation, not the API's
/// "no API operation" 404 or a 405.
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let paths = mortar_paths().await;
    let app = TestApp::spawn().await;
    let mut unrouted = Vec::new();
    for (method, path) in &paths {
        let mut concrete = String::new();
        let mut in_param = false;
        for c in path.chars() {
            match c {
                '{' => {
                    in_param = true;
                    concrete.push('x');
                }
                '}' => in_param = false,
                _ if in_param => {}
                _ => concrete.push(c),
            }
        }
        for url in [concrete.clone(), concrete.replacen("/api/v1/", "/api/v1/main/", 1)] {
            let response = app
                .client
                .request(method.parse().unwrap(), app.url(&url))
                .timeout(std::time::Duration::from_secs(10))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if status == 405 || (status == 404 && body.contains("no API operation")) {
                unrouted.push(format!("{method} {url}: {status}"));
            }
        }
    }
    app.stop().await;
    assert!(unrouted.is_empty(), "documented but not routed: {unrouted:#?}");
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
