//! Kestra's script plugins (`io.kestra.plugin.scripts.*`): shell, Python
//! and Node commands and inline scripts, run in a working directory of
//! their own (or the enclosing WorkingDirectory's) by a task runner: the
//! local process by default, or a Docker container when the task asks for
//! one and a Docker engine answers (never silently on the host instead).
//!
//! What they share is declared here once ([`common`]); each language's file
//! adds its main property and its runner. The runtime half is `exec.rs`:
//! the process (its group ended on a kill or a timeout), Kestra's output
//! protocol (`::{"outputs": …}::` lines), the logs, the output files.

pub mod node;
pub mod python;
pub mod shell;

#[cfg(feature = "runtime")]
mod docker;
#[cfg(feature = "runtime")]
pub(crate) mod exec;
#[cfg(feature = "runtime")]
mod python_env;

use crate::flow::registry::Kind::*;
use crate::flow::registry::{Property, def, ex, per_item, prop};

/// What a script's commands, script, env and input files read beside the
/// task's variables: its directory (Kestra's `{{ workingDir }}`, and the
/// older `{{ outputDir }}`, the same directory here).
pub const GIVEN: &[&str] = &["workingDir", "outputDir"];

/// The task runners Mortar runs.
pub const PROCESS: &str = "io.kestra.plugin.core.runner.Process";
pub const DOCKER: &str = "io.kestra.plugin.scripts.runner.docker.Docker";
pub const RUNNERS: &[&str] = &[PROCESS, DOCKER];

/// The Docker and Process runners' properties, for [`common`].
pub const TASK_RUNNER_PROPERTIES: &[Property] = &[
    crate::flow::registry::req(
        "type",
        Enum { values: RUNNERS },
        "Process runs on this machine; Docker runs the task's `containerImage` in a container, and fails, naming the image, when no Docker engine answers.",
    ),
    prop(
        "image",
        String,
        "Docker: the image, when `containerImage` is not set.",
    ),
    def(
        "pullPolicy",
        Enum {
            values: &["IF_NOT_PRESENT", "ALWAYS", "NEVER"],
        },
        "\"ALWAYS\"",
        "Docker: when to pull the image.",
    ),
    prop("user", String, "Docker: the user the container runs as."),
    prop(
        "entryPoint",
        StringList,
        "Docker: the container's entry point.",
    ),
    prop(
        "extraHosts",
        StringList,
        "Docker: `host:ip` entries added to /etc/hosts.",
    ),
    prop(
        "networkMode",
        String,
        "Docker: the network (`host`, `bridge`, a network's name).",
    ),
    prop(
        "volumes",
        StringList,
        "Docker: `host:container` volumes to mount.",
    ),
    prop("shmSize", String, "Docker: the size of /dev/shm (`512m`)."),
    prop("memory", Any, "Docker: `{ memory: 512MB }` and the like."),
    prop("cpu", Any, "Docker: `{ cpus: 1.5 }`."),
    prop(
        "privileged",
        Boolean,
        "Docker: run the container privileged.",
    ),
    def(
        "delete",
        Boolean,
        "true",
        "Docker: remove the container at its end.",
    ),
    prop(
        "host",
        String,
        "Docker: the engine's address (DOCKER_HOST).",
    ),
    prop(
        "config",
        Any,
        "Docker: the client's config.json, accepted; the engine's own login is used.",
    ),
    prop(
        "credentials",
        Any,
        "Docker: registry credentials, accepted; the engine's own login is used.",
    ),
    prop("deviceRequests", Any, "Docker: accepted, not passed on."),
    prop(
        "fileHandlingStrategy",
        Enum {
            values: &["VOLUME", "MOUNT"],
        },
        "Docker: the working directory is mounted either way.",
    ),
    prop("resume", Boolean, "Docker: accepted."),
    prop("wait", Boolean, "Docker: accepted."),
    prop("killTimeout", Duration, "Docker: accepted."),
    prop("version", String, "The plugin version; accepted."),
];

/// `namespaceFiles`, for [`common`].
pub const NAMESPACE_FILES_PROPERTY: Property = prop(
    "namespaceFiles",
    Object {
        properties: crate::task::core::flow::NAMESPACE_FILES,
    },
    "The namespace's files to copy into the working directory (`enabled`, `include`, `exclude`, `namespaces`, `folderPerNamespace`).",
);

/// Every script type's properties after its main one, as Kestra's
/// AbstractExecScript declares them; `container_image` is the type's
/// default image for the Docker runner.
macro_rules! common {
    ($container_image:literal $(, $extra:expr)* $(,)?) => {
        &[
            $($extra,)*
            crate::flow::registry::prop(
                "taskRunner",
                crate::flow::registry::Kind::Object { properties: crate::task::scripts::TASK_RUNNER_PROPERTIES },
                "Where the commands run: `{type: io.kestra.plugin.core.runner.Process}` (the default) or `{type: io.kestra.plugin.scripts.runner.docker.Docker}`.",
            ),
            crate::flow::registry::def(
                "containerImage",
                crate::flow::registry::Kind::String,
                concat!("\"", $container_image, "\""),
                "The image the Docker task runner runs; the Process runner ignores it.",
            ),
            crate::flow::registry::per_item(
                crate::flow::registry::prop(
                    "beforeCommands",
                    crate::flow::registry::Kind::StringList,
                    "Commands run first, in the same shell (`pip install -r requirements.txt`).",
                ),
                crate::task::scripts::GIVEN,
            ),
            crate::flow::registry::per_item(
                crate::flow::registry::prop(
                    "env",
                    crate::flow::registry::Kind::Map,
                    "Environment variables of the process, by name.",
                ),
                crate::task::scripts::GIVEN,
            ),
            crate::flow::registry::def(
                "warningOnStdErr",
                crate::flow::registry::Kind::Boolean,
                "true",
                "End WARNING when the commands wrote to standard error (a non-zero exit fails the task regardless).",
            ),
            crate::flow::registry::def(
                "interpreter",
                crate::flow::registry::Kind::StringList,
                "[\"/bin/sh\", \"-c\"]",
                "The program the commands are given to, as its last argument.",
            ),
            crate::flow::registry::def(
                "failFast",
                crate::flow::registry::Kind::Boolean,
                "true",
                "Stop at the first command that fails (`set -e`).",
            ),
            crate::task::scripts::NAMESPACE_FILES_PROPERTY,
            crate::flow::registry::per_item(
                crate::flow::registry::prop(
                    "inputFiles",
                    crate::flow::registry::Kind::Any,
                    "Files written into the working directory first: a mapping of path to content (a storage:// URI is that file), or that mapping as JSON.",
                ),
                crate::task::scripts::GIVEN,
            ),
            crate::flow::registry::prop(
                "outputFiles",
                crate::flow::registry::Kind::StringList,
                "Glob patterns of the files to keep in internal storage at the end (`*.csv`); the output `outputFiles` maps each one's path to its URI.",
            ),
            crate::flow::registry::prop(
                "outputDirectory",
                crate::flow::registry::Kind::Boolean,
                "Deprecated in Kestra: `{{ outputDir }}` is the working directory here; keep files with `outputFiles`.",
            ),
            crate::flow::registry::def(
                "targetOS",
                crate::flow::registry::Kind::Enum { values: &["LINUX", "WINDOWS", "AUTO"] },
                "\"AUTO\"",
                "The system the commands are written for; Mortar runs them on Linux.",
            ),
            crate::flow::registry::prop(
                "runner",
                crate::flow::registry::Kind::Enum { values: &["PROCESS", "DOCKER"] },
                "Deprecated in Kestra for `taskRunner`: PROCESS or DOCKER.",
            ),
            crate::flow::registry::prop(
                "docker",
                crate::flow::registry::Kind::Any,
                "Deprecated in Kestra for `taskRunner`: the Docker options (`image`, `pullPolicy`, …).",
            ),
        ]
    };
}
pub(crate) use common;

/// A script type's list of commands, rendered with [`GIVEN`].
pub const COMMANDS: Property = per_item(
    ex(
        crate::flow::registry::req(
            "commands",
            StringList,
            "The commands, run one after the other in the working directory.",
        ),
        "[\"echo 'hello'\"]",
    ),
    GIVEN,
);

/// The outputs every script type gives.
pub const OUTPUTS: &[(&str, &str)] = &[
    (
        "vars",
        "What the commands printed as `::{\"outputs\": {...}}::` lines (Kestra's output protocol, which `Kestra.outputs()` of the kestra Python package prints), merged.",
    ),
    ("exitCode", "The exit code of the commands: 0."),
    (
        "outputFiles",
        "The files `outputFiles` matched, each one's path to its storage:// URI.",
    ),
];
