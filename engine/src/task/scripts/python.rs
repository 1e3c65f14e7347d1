//! Kestra's `io.kestra.plugin.scripts.python` package.

use super::{COMMANDS, GIVEN, OUTPUTS, common};
use crate::flow::registry::Kind::*;
use crate::flow::registry::{Category, TaskType, def, ex, per_item, prop, req, runner};

/// What the Python types add to the shared properties.
macro_rules! python {
    ($main:expr) => {
        common!(
            "python:3.13-slim",
            $main,
            ex(
                prop(
                    "dependencies",
                    StringList,
                    "Packages to install first (pip requirement specifiers); installed once per set into a cached directory and reused, the install logged.",
                ),
                "[\"requests\", \"pandas==2.2.3\"]",
            ),
            prop(
                "pythonVersion",
                String,
                "The Python wanted (`3.12`): the machine's python3 is used; a different version is logged.",
            ),
            def(
                "packageManager",
                Enum {
                    values: &["PIP", "UV"]
                },
                "\"PIP\"",
                "How dependencies are installed: pip here (UV is accepted and installs with pip).",
            ),
            def(
                "dependencyCacheEnabled",
                Boolean,
                "true",
                "Reuse the installed dependencies across runs.",
            ),
        )
    };
}

pub const COMMANDS_TASK: TaskType = TaskType {
    name: "io.kestra.plugin.scripts.python.Commands",
    alias: "scripts.python.Commands",
    category: Category::Task,
    doc: "Runs commands (`python main.py`) in a working directory of their own, with `dependencies` installed; `Kestra.outputs({...})` of the kestra package (or a printed `::{\"outputs\": {...}}::` line) sets the output `vars`.",
    properties: python!(COMMANDS),
    outputs: OUTPUTS,
    run: runner!(super::exec::Exec {
        language: super::exec::Language::Python,
        script: false,
        cli: None,
    }),
    check: None,
    aliases: &[],
};

pub const SCRIPT: TaskType = TaskType {
    name: "io.kestra.plugin.scripts.python.Script",
    alias: "scripts.python.Script",
    category: Category::Task,
    doc: "Runs an inline Python script (written to a .py file, after `true`, `false` and `null` aliases as Kestra adds them) in a working directory of its own, with `dependencies` installed.",
    properties: python!(per_item(
        ex(
            req("script", String, "The script's Python."),
            "print('hello from {{ flow.id }}')",
        ),
        GIVEN,
    )),
    outputs: OUTPUTS,
    run: runner!(super::exec::Exec {
        language: super::exec::Language::Python,
        script: true,
        cli: None,
    }),
    check: None,
    aliases: &[],
};
