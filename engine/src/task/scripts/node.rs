//! Kestra's `io.kestra.plugin.scripts.node` package.

use super::{COMMANDS, GIVEN, OUTPUTS, common};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, ex, per_item, req, runner};

pub const COMMANDS_TASK: TaskType = TaskType {
    name: "io.kestra.plugin.scripts.node.Commands",
    alias: "scripts.node.Commands",
    category: Category::Task,
    doc: "Runs commands (`node main.js`) in a working directory of their own, with Node.js on the PATH.",
    properties: common!("node", COMMANDS),
    outputs: OUTPUTS,
    run: runner!(super::exec::Exec {
        language: super::exec::Language::Node,
        script: false,
        cli: None,
    }),
    check: None,
    aliases: &[],
};

pub const SCRIPT: TaskType = TaskType {
    name: "io.kestra.plugin.scripts.node.Script",
    alias: "scripts.node.Script",
    category: Category::Task,
    doc: "Runs an inline Node.js script (written to a .js file) in a working directory of its own.",
    properties: common!(
        "node",
        per_item(
            ex(
                req("script", String, "The script's JavaScript."),
                "\"console.log('hello from {{ flow.id }}')\"",
            ),
            GIVEN,
        ),
    ),
    outputs: OUTPUTS,
    run: runner!(super::exec::Exec {
        language: super::exec::Language::Node,
        script: true,
        cli: None,
    }),
    check: None,
    aliases: &[],
};
