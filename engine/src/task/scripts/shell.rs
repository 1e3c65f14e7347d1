//! Kestra's `io.kestra.plugin.scripts.shell` package.

use super::{COMMANDS, GIVEN, OUTPUTS, common};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, ex, per_item, req, runner};

pub const COMMANDS_TASK: TaskType = TaskType {
    name: "io.kestra.plugin.scripts.shell.Commands",
    alias: "scripts.shell.Commands",
    category: Category::Task,
    doc: "Runs shell commands in a working directory of their own; `::{\"outputs\": {...}}::` lines they print become the output `vars`.",
    properties: common!("ubuntu", COMMANDS),
    outputs: OUTPUTS,
    run: runner!(super::exec::Exec {
        language: super::exec::Language::Shell,
        script: false,
        cli: None,
    }),
    check: None,
    aliases: &[],
};

pub const SCRIPT: TaskType = TaskType {
    name: "io.kestra.plugin.scripts.shell.Script",
    alias: "scripts.shell.Script",
    category: Category::Task,
    doc: "Runs an inline shell script in a working directory of its own; `::{\"outputs\": {...}}::` lines it prints become the output `vars`.",
    properties: common!(
        "ubuntu",
        per_item(
            ex(
                req("script", String, "The script's text."),
                "echo \"hello from {{ flow.id }}\"",
            ),
            GIVEN,
        ),
    ),
    outputs: OUTPUTS,
    run: runner!(super::exec::Exec {
        language: super::exec::Language::Shell,
        script: true,
        cli: None,
    }),
    check: None,
    aliases: &[],
};
