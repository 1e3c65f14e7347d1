//! `cli.DatabricksCLI` and `cli.DatabricksSQLCLI`: commands of the
//! Databricks CLI (`databricks`) and of the Databricks SQL CLI (`dbsqlcli`)
//! run as a shell task does (scripts/exec.rs), in a working directory of
//! their own, with the workspace's host and credentials in the
//! environment. On the Process runner (the default) the program comes from
//! the server's PATH; a missing one is an error naming it and how to get it.

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, ex, prop, req, runner};
use crate::task::scripts::{COMMANDS, OUTPUTS, common};

pub const DATABRICKS_CLI: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.cli.DatabricksCLI",
    alias: "databricks.cli.DatabricksCLI",
    category: Category::Task,
    doc: "Runs Databricks CLI commands (`databricks clusters list`) with DATABRICKS_HOST and DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET, for OAuth machine-to-machine) in their environment; a token wins over a client.",
    properties: common!(
        "ghcr.io/databricks/cli:latest",
        COMMANDS,
        ex(
            req("databricksHost", String, "The workspace URL, with its scheme."),
            "{{ secret('DATABRICKS_HOST') }}"
        ),
        ex(
            prop("databricksToken", String, "A personal access token; use secret('...')."),
            "{{ secret('DATABRICKS_TOKEN') }}"
        ),
        prop("clientId", String, "A service principal's client id, for OAuth machine-to-machine."),
        prop("clientSecret", String, "Its secret; use secret('...')."),
    ),
    outputs: OUTPUTS,
    run: runner!(crate::task::scripts::exec::Exec {
        language: crate::task::scripts::exec::Language::Shell,
        script: false,
        cli: Some(crate::task::scripts::exec::Cli::Workspace),
    }),
    check: None,
    aliases: &[],
};

pub const DATABRICKS_SQL_CLI: TaskType = TaskType {
    name: "io.kestra.plugin.databricks.cli.DatabricksSQLCLI",
    alias: "databricks.cli.DatabricksSQLCLI",
    category: Category::Task,
    doc: "Runs SQL statements with the Databricks SQL CLI (`dbsqlcli -e …`, one after the other, each result printed) on a SQL warehouse; the token goes in the environment (DATABRICKS_TOKEN), not on the command line.",
    properties: common!(
        "ghcr.io/kestra-io/databricks-sql-cli",
        ex(
            req("commands", StringList, "The SQL statements, run one after the other."),
            "[\"SELECT * FROM samples.nyctaxi.trips LIMIT 10\"]"
        ),
        ex(
            req("host", String, "The workspace's host name, without a trailing slash."),
            "{{ secret('DATABRICKS_HOST') }}"
        ),
        ex(
            req("token", String, "A personal access token; use secret('...')."),
            "{{ secret('DATABRICKS_TOKEN') }}"
        ),
        ex(
            req("httpPath", String, "The SQL warehouse's HTTP path."),
            "/sql/1.0/warehouses/a1b2c3d4e5f60718"
        ),
        prop("options", Map, "More options of dbsqlcli, by name (`--table-format: csv`); an empty value is a flag. Its settings file is `.dbsqlclirc` in the working directory (give one through `inputFiles`) unless `--clirc` is set here."),
    ),
    outputs: OUTPUTS,
    run: runner!(crate::task::scripts::exec::Exec {
        language: crate::task::scripts::exec::Language::Shell,
        script: false,
        cli: Some(crate::task::scripts::exec::Cli::Sql),
    }),
    check: None,
    aliases: &[],
};
