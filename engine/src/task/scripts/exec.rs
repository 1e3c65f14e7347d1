//! Running a script task: its working directory, its files, its process
//! (or container), Kestra's output protocol and its outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::executor::working_dir::WorkingDir;
use crate::log::Level;
use crate::storage::Storage;
use crate::task::{Outputs, Runner, TaskContext, TaskError};

/// The language a script task runs, and whether its main property is a
/// list of commands or a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Language {
    Shell,
    Python,
    Node,
}

pub(crate) struct Exec {
    pub(crate) language: Language,
    /// `script` (a text) rather than `commands` (a list).
    pub(crate) script: bool,
    /// One of the Databricks CLI tasks (task/databricks/cli.rs).
    pub(crate) cli: Option<Cli>,
}

/// A Databricks CLI: the workspace's (`databricks`) or the SQL one
/// (`dbsqlcli`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cli {
    Workspace,
    Sql,
}

impl Cli {
    fn program(self) -> &'static str {
        match self {
            Self::Workspace => "databricks",
            Self::Sql => "dbsqlcli",
        }
    }

    fn how_to_get(self) -> &'static str {
        match self {
            Self::Workspace => "install the Databricks CLI (its release, or `pip install databricks-cli` for the older Python one)",
            Self::Sql => "install it with `pip install databricks-sql-cli`",
        }
    }

    /// The variables the program reads its workspace and credentials from.
    fn env(self, ctx: &TaskContext, env: &mut BTreeMap<String, String>) -> Result<(), TaskError> {
        let given = |name: &str| string(ctx, name);
        match self {
            Self::Workspace => {
                let host = given("databricksHost").ok_or_else(|| ctx.invalid("databricksHost is required: the workspace URL"))?;
                env.insert("DATABRICKS_HOST".into(), host);
                match (given("databricksToken"), given("clientId"), given("clientSecret")) {
                    (Some(token), _, _) => {
                        env.insert("DATABRICKS_TOKEN".into(), token);
                    }
                    (None, Some(id), Some(secret)) => {
                        env.insert("DATABRICKS_CLIENT_ID".into(), id);
                        env.insert("DATABRICKS_CLIENT_SECRET".into(), secret);
                    }
                    _ => {
                        return Err(ctx.invalid(
                            "DatabricksCLI requires authentication: set `databricksToken` (PAT) or both `clientId` and `clientSecret` (OAuth M2M).",
                        ));
                    }
                }
            }
            Self::Sql => {
                let token = given("token").ok_or_else(|| ctx.invalid("token is required: a personal access token"))?;
                env.insert("DATABRICKS_TOKEN".into(), token);
            }
        }
        Ok(())
    }

    /// The SQL CLI's one command for the statements: `dbsqlcli --hostname
    /// … --access-token "$DATABRICKS_TOKEN" --http-path … -e "<statements>"
    /// --clirc .dbsqlclirc`.
    fn sql_command(ctx: &TaskContext, statements: &[String]) -> Result<String, TaskError> {
        let host = string(ctx, "host").ok_or_else(|| ctx.invalid("host is required"))?;
        let host = host.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/').to_owned();
        let path = string(ctx, "httpPath").ok_or_else(|| ctx.invalid("httpPath is required"))?;
        let mut command = format!(
            "dbsqlcli --hostname {} --access-token \"$DATABRICKS_TOKEN\" --http-path {}",
            shell_quote(&host),
            shell_quote(&path)
        );
        // dbsqlcli keeps only the last of several `-e` (Kestra passes one
        // per statement, so only its last statement runs); one `-e` with
        // the statements joined by `;` runs each, in order.
        let joined: Vec<&str> = statements
            .iter()
            .map(|s| s.trim().trim_end_matches(';').trim_end())
            .filter(|s| !s.is_empty())
            .collect();
        command.push_str(&format!(" -e {}", shell_quote(&joined.join(";\n"))));
        let options = ctx.properties.get("options").and_then(Value::as_object);
        // Without --clirc, a first run writes ~/.dbsqlcli/dbsqlclirc and
        // exits before running anything; a file of the working directory
        // (given through inputFiles, or absent) is read instead.
        if !options.is_some_and(|o| o.contains_key("--clirc")) {
            command.push_str(" --clirc .dbsqlclirc");
        }
        if let Some(options) = options {
            for (name, value) in options {
                command.push_str(&format!(" {}", shell_quote(name)));
                let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                if !value.trim().is_empty() {
                    command.push_str(&format!(" {}", shell_quote(&value)));
                }
            }
        }
        Ok(command)
    }
}

/// Whether `program` is an executable file that `path` (the PATH the
/// process gets, which the task's `env` may set) finds.
fn findable(program: &str, path: Option<&String>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.into_iter()
        .flat_map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Mortar's `kestra` Python module (`Kestra.outputs`, `counter`, `timer`,
/// `logger`), which prints Kestra's protocol lines.
const KESTRA_MODULE: &str = include_str!("kestra.py");

/// The environment variables of the server a script sees: enough to find
/// programs, behave (PATH, HOME, locale, TMPDIR) and reach the network as
/// the machine does (its proxies and the CAs it trusts), not the server's
/// own settings and credentials (Kestra passes its whole environment; a
/// script here gets what `env` gives it).
const PASSED_ENV: &[&str] = &[
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL",
    "TERM", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR",
];

/// Where a task runs.
#[derive(Debug, Clone, PartialEq)]
enum Where {
    Process,
    Docker {
        image: String,
        options: Map<String, Value>,
    },
}

impl Runner for Exec {
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move { self.run_script(ctx).await })
    }
}

fn text_list(ctx: &TaskContext, name: &str, value: &Value) -> Result<Vec<String>, TaskError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(one) => match serde_json::from_str::<Vec<String>>(one) {
            // A lone expression rendered to a JSON list.
            Ok(list) if one.trim_start().starts_with('[') => Ok(list),
            _ => Ok(vec![one.clone()]),
        },
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Err(ctx.invalid(format!("{name}: an item is null"))),
                other => Ok(other.to_string()),
            })
            .collect(),
        other => Err(ctx.invalid(format!("{name}: a list of texts, not {other}"))),
    }
}

fn string(ctx: &TaskContext, name: &str) -> Option<String> {
    ctx.properties
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Exec {
    async fn run_script(&self, ctx: &TaskContext) -> Result<Outputs, TaskError> {
        let place = self.place(ctx)?;
        let dir = match &ctx.working_dir {
            Some(path) => WorkingDir::existing(path.clone()),
            None => WorkingDir::create(&ctx.task_run_id)
                .await
                .map_err(TaskError::Failed)?,
        };
        let path = dir.path().to_string_lossy().into_owned();
        let given = json!({"workingDir": path, "outputDir": path});

        // The namespace's files, then inputFiles (Kestra's order).
        if let Some(spec) = ctx
            .properties
            .get("namespaceFiles")
            .filter(|v| !v.is_null())
        {
            let written = dir
                .write_namespace_files(spec, &ctx.storage, ctx.namespace.as_str())
                .await
                .map_err(TaskError::Failed)?;
            if !written.is_empty() {
                ctx.log(
                    Level::Debug,
                    format!("namespaceFiles: {}", written.join(", ")),
                )
                .await;
            }
        }
        let inputs = ctx.render_item("inputFiles", &given)?;
        dir.write_inputs(&inputs, &ctx.storage)
            .await
            .map_err(TaskError::Failed)?;

        let mut staged = 0usize;
        let mut commands = Vec::new();
        if self.script {
            let script = match ctx.render_item("script", &given)? {
                Value::String(s) => s,
                Value::Null => return Err(ctx.invalid("script: the script's text is missing")),
                other => other.to_string(),
            };
            let script = with_local_files(ctx, dir.path(), &script, &mut staged).await?;
            match self.language {
                Language::Shell => commands.push(script),
                Language::Python | Language::Node => {
                    let (extension, prelude) = if self.language == Language::Python {
                        // Pebble prints true, false and null; Python wants
                        // True, False and None (Kestra adds the same lines).
                        ("py", "true = True\nfalse = False\nnull = None\n")
                    } else {
                        ("js", "")
                    };
                    let file = dir
                        .path()
                        .join(format!(".mortar-script-{}.{extension}", ctx.task_run_id));
                    tokio::fs::write(&file, format!("{prelude}{script}"))
                        .await
                        .map_err(|e| TaskError::Failed(format!("cannot write the script: {e}")))?;
                    let program = if self.language == Language::Python {
                        "python"
                    } else {
                        "node"
                    };
                    commands.push(format!(
                        "{program} {}",
                        shell_quote(&file.to_string_lossy())
                    ));
                }
            }
        } else {
            for command in text_list(ctx, "commands", &ctx.render_item("commands", &given)?)? {
                commands.push(with_local_files(ctx, dir.path(), &command, &mut staged).await?);
            }
            if commands.is_empty() {
                return Err(ctx.invalid("commands: give at least one command"));
            }
        }
        let before = text_list(
            ctx,
            "beforeCommands",
            &ctx.render_item("beforeCommands", &given)?,
        )?;
        if self.cli == Some(Cli::Sql) {
            commands = vec![Cli::sql_command(ctx, &commands)?];
        }
        let mut lines = Vec::new();
        if ctx.flag("failFast", true)? {
            lines.push("set -e".to_owned());
        }
        lines.extend(before);
        lines.extend(commands);
        let interpreter = match ctx.properties.get("interpreter") {
            None | Some(Value::Null) => vec!["/bin/sh".to_owned(), "-c".to_owned()],
            Some(value) => text_list(ctx, "interpreter", value)?,
        };
        if interpreter.is_empty() {
            return Err(ctx.invalid("interpreter: give the program, such as [\"/bin/sh\", \"-c\"]"));
        }
        let mut argv = interpreter;
        argv.push(lines.join("\n"));

        let mut env: BTreeMap<String, String> = BTreeMap::new();
        if place == Where::Process {
            for name in PASSED_ENV {
                if let Ok(value) = std::env::var(name) {
                    env.insert((*name).to_owned(), value);
                }
            }
        }
        env.insert("WORKING_DIR".into(), path.clone());
        env.insert("OUTPUT_DIR".into(), path.clone());
        if self.language == Language::Python {
            env.insert("PYTHONUNBUFFERED".into(), "true".into());
            env.insert("PIP_ROOT_USER_ACTION".into(), "ignore".into());
            env.insert("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into());
        }
        match ctx.render_item("env", &given)? {
            Value::Null => {}
            Value::Object(vars) => {
                for (name, value) in vars {
                    let value = match value {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    env.insert(name, value);
                }
            }
            other => {
                return Err(ctx.invalid(format!("env: a mapping of names to values, not {other}")));
            }
        }
        if let Some(cli) = self.cli {
            cli.env(ctx, &mut env)?;
            if place == Where::Process && !findable(cli.program(), env.get("PATH")) {
                return Err(TaskError::Failed(format!(
                    "`{}` is not on the PATH of the Process task runner: {}, or run the task with the Docker task runner (`taskRunner: {{type: io.kestra.plugin.scripts.runner.docker.Docker}}`)",
                    cli.program(),
                    cli.how_to_get()
                )));
            }
        }
        if self.language == Language::Python && place == Where::Process {
            let deps = text_list(
                ctx,
                "dependencies",
                ctx.properties.get("dependencies").unwrap_or(&Value::Null),
            )?;
            let python = python_program().await?;
            if !deps.is_empty() {
                let packages = super::python_env::packages(ctx, &python, &deps).await?;
                let joined = match env.get("PYTHONPATH") {
                    Some(existing) if !existing.is_empty() => {
                        format!("{}:{existing}", packages.display())
                    }
                    _ => packages.to_string_lossy().into_owned(),
                };
                env.insert("PYTHONPATH".into(), joined);
            }
            // `from kestra import Kestra` without installing the package,
            // unless the task installs it.
            if !deps.iter().any(|d| {
                d.trim()
                    .to_ascii_lowercase()
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                    .next()
                    == Some("kestra")
            }) {
                let module = dir.path().join(".mortar-python");
                tokio::fs::create_dir_all(&module)
                    .await
                    .map_err(|e| TaskError::Failed(format!("cannot prepare python: {e}")))?;
                tokio::fs::write(module.join("kestra.py"), KESTRA_MODULE)
                    .await
                    .map_err(|e| TaskError::Failed(format!("cannot prepare python: {e}")))?;
                let joined = match env.get("PYTHONPATH") {
                    Some(existing) if !existing.is_empty() => {
                        format!("{existing}:{}", module.display())
                    }
                    _ => module.to_string_lossy().into_owned(),
                };
                env.insert("PYTHONPATH".into(), joined);
            }
            // `python` in the commands is the interpreter found (python3
            // where there is no `python`).
            let bin = dir.path().join(".mortar-bin");
            tokio::fs::create_dir_all(&bin)
                .await
                .map_err(|e| TaskError::Failed(format!("cannot prepare python: {e}")))?;
            let link = bin.join("python");
            let _ = tokio::fs::remove_file(&link).await;
            tokio::fs::symlink(&python, &link)
                .await
                .map_err(|e| TaskError::Failed(format!("cannot prepare python: {e}")))?;
            let path = env.get("PATH").cloned().unwrap_or_default();
            env.insert("PATH".into(), format!("{}:{path}", bin.display()));
        }

        let result = match &place {
            Where::Process => run_process(ctx, &argv, &env, dir.path()).await?,
            Where::Docker { image, options } => {
                super::docker::run(ctx, image, options, &argv, &env, dir.path()).await?
            }
        };
        if result.exit_code != 0 {
            return Err(TaskError::Failed(format!(
                "Command failed with exit code {}",
                result.exit_code
            )));
        }
        let storage = ctx.storage.clone();
        let uri_of = |relative: &str| {
            Storage::execution_uri(
                &ctx.namespace,
                &ctx.flow_id,
                &ctx.execution_id,
                &format!("{}_{relative}", ctx.task_run_id),
            )
        };
        let patterns = ctx
            .properties
            .get("outputFiles")
            .cloned()
            .unwrap_or(Value::Null);
        let kept = dir
            .keep_outputs(&patterns, &storage, uri_of)
            .await
            .map_err(TaskError::Failed)?;
        if ctx.flag("warningOnStdErr", true)? && result.stderr_lines > 0 {
            ctx.end_in_warning();
        }
        let mut outputs = Outputs::new();
        outputs.insert("vars".into(), Value::Object(result.vars));
        outputs.insert("exitCode".into(), result.exit_code.into());
        outputs.insert("outputFiles".into(), Value::Object(kept));
        Ok(outputs)
    }

    /// The task runner the task asks for: `taskRunner`, or the older
    /// `runner: DOCKER` with `docker`.
    fn place(&self, ctx: &TaskContext) -> Result<Where, TaskError> {
        let runner = ctx
            .properties
            .get("taskRunner")
            .cloned()
            .unwrap_or(Value::Null);
        let legacy = string(ctx, "runner").map(|r| r.to_ascii_uppercase());
        let kind = runner
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| (legacy.as_deref() == Some("DOCKER")).then(|| super::DOCKER.to_owned()))
            .unwrap_or_else(|| super::PROCESS.to_owned());
        match kind.as_str() {
            super::PROCESS | "core.runner.Process" | "runner.Process" => Ok(Where::Process),
            super::DOCKER | "scripts.runner.docker.Docker" => {
                let mut options = runner.as_object().cloned().unwrap_or_default();
                let docker = ctx.properties.get("docker").and_then(Value::as_object);
                if let Some(older) = docker {
                    for (k, v) in older {
                        options.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                let image = options
                    .get("image")
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_owned)
                    .or_else(|| string(ctx, "containerImage"))
                    .or_else(|| {
                        ctx.task_type
                            .and_then(|t| t.property("containerImage"))
                            .and_then(|p| p.default)
                            .and_then(|d| serde_json::from_str::<String>(d).ok())
                    })
                    .unwrap_or_else(|| "ubuntu".to_owned());
                Ok(Where::Docker { image, options })
            }
            other => Err(ctx.invalid(format!(
                "taskRunner: {other} is not a task runner Mortar has ({}); the cloud runners of Kestra's enterprise edition are not here",
                super::RUNNERS.join(", ")
            ))),
        }
    }
}

/// The interpreter of the machine: `python3`, else `python`, as the real
/// executable it runs (`sys.executable`), found once: a version manager's
/// shim (pyenv's is a shell script) would cost every task its start.
async fn python_program() -> Result<PathBuf, TaskError> {
    static FOUND: tokio::sync::OnceCell<Option<PathBuf>> = tokio::sync::OnceCell::const_new();
    let found = FOUND
        .get_or_init(|| async {
            let program = ["python3", "python"].into_iter().find_map(on_path)?;
            let real = tokio::process::Command::new(&program)
                .args(["-c", "import sys; print(sys.executable)"])
                .stdin(Stdio::null())
                .output()
                .await
                .ok()
                .filter(|out| out.status.success())
                .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
                .filter(|path| path.is_absolute() && path.exists());
            Some(real.unwrap_or(program))
        })
        .await;
    found.clone().ok_or_else(|| {
        TaskError::Failed(
            "no Python on this machine: install python3 (Debian: apt-get install python3 python3-pip), or run the task with the Docker task runner".into(),
        )
    })
}

/// A program on the server's PATH.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `text` quoted for /bin/sh.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Kestra's ScriptService.replaceInternalStorage: each internal storage URI
/// in `text` becomes the path of a copy of that file in the working
/// directory, so that a script reads it as a local file.
async fn with_local_files(
    ctx: &TaskContext,
    dir: &Path,
    text: &str,
    staged: &mut usize,
) -> Result<String, TaskError> {
    const SCHEME: &str = crate::storage::SCHEME;
    if !text.contains(SCHEME) {
        return Ok(text.to_owned());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-%._+~#=/".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(SCHEME) {
        out.push_str(&rest[..at]);
        let tail = &rest[at + SCHEME.len()..];
        let end = tail.find(|c: char| !allowed(c)).unwrap_or(tail.len());
        let uri = format!("{SCHEME}{}", &tail[..end]);
        rest = &tail[end..];
        let name = uri.rsplit('/').next().unwrap_or("file").to_owned();
        *staged += 1;
        let local_dir = dir.join(".mortar-inputs").join(staged.to_string());
        tokio::fs::create_dir_all(&local_dir)
            .await
            .map_err(|e| TaskError::Failed(format!("cannot copy {uri}: {e}")))?;
        let local = local_dir.join(if name.is_empty() { "file" } else { &name });
        let (mut reader, _) = ctx.storage.open(&uri).await?;
        let mut file = tokio::fs::File::create(&local)
            .await
            .map_err(|e| TaskError::Failed(format!("cannot copy {uri}: {e}")))?;
        tokio::io::copy(&mut reader, &mut file)
            .await
            .map_err(|e| TaskError::Failed(format!("cannot copy {uri}: {e}")))?;
        out.push_str(&local.to_string_lossy());
    }
    out.push_str(rest);
    Ok(out)
}

/// How a run ended.
pub(crate) struct Ran {
    pub exit_code: i32,
    pub stderr_lines: u64,
    /// Kestra's `vars`: every `outputs` the protocol lines set, merged.
    pub vars: Map<String, Value>,
}

/// Kills a process group when dropped (a kill, a timeout, the walk
/// stopped), so that nothing the commands started is left running.
pub(crate) struct Group(pub Option<i32>);

impl Drop for Group {
    fn drop(&mut self) {
        // A group that already ended gives ESRCH, which is ignored.
        if let Some(pgid) = self.0.take().and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

/// Runs `argv` in `dir` with exactly `env`, in a process group of its
/// own; its lines go to the logs and through Kestra's protocol.
async fn run_process(
    ctx: &TaskContext,
    argv: &[String],
    env: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<Ran, TaskError> {
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| TaskError::Failed(format!("cannot start {}: {e}", argv[0])))?;
    stream(ctx, child).await
}

/// Reads a started child's output to its end (or kills its group when the
/// execution is killed) and waits for it.
pub(crate) async fn stream(
    ctx: &TaskContext,
    mut child: tokio::process::Child,
) -> Result<Ran, TaskError> {
    let group = Group(child.id().and_then(|id| i32::try_from(id).ok()));
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut ran = Ran {
        exit_code: 0,
        stderr_lines: 0,
        vars: Map::new(),
    };
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            () = ctx.cancel.cancelled() => {
                drop(group);
                let _ = child.kill().await;
                return Err(TaskError::Killed);
            }
            line = out.next_line(), if out_open => match line {
                Ok(Some(line)) => protocol(ctx, &line, false, &mut ran).await,
                _ => out_open = false,
            },
            line = err.next_line(), if err_open => match line {
                Ok(Some(line)) => {
                    ran.stderr_lines += 1;
                    protocol(ctx, &line, true, &mut ran).await
                }
                _ => err_open = false,
            },
        }
    }
    let status = tokio::select! {
        () = ctx.cancel.cancelled() => {
            drop(group);
            let _ = child.kill().await;
            return Err(TaskError::Killed);
        }
        status = child.wait() => status.map_err(|e| TaskError::Failed(format!("waiting for the commands: {e}")))?,
    };
    // Whatever the commands left in the background ends with them.
    drop(group);
    ran.exit_code = status.code().unwrap_or(-1);
    Ok(ran)
}

/// Kestra's PluginUtilsService.parseOut: a line `::{...}::` sets outputs,
/// publishes metrics or logs at a level; any other line is logged, INFO
/// from stdout and ERROR from stderr.
async fn protocol(ctx: &TaskContext, line: &str, stderr: bool, ran: &mut Ran) {
    let trimmed = line.trim_end_matches('\r');
    if let Some(body) = trimmed
        .strip_prefix("::")
        .and_then(|rest| rest.strip_suffix("::"))
        .filter(|b| b.starts_with('{') && b.ends_with('}'))
    {
        match serde_json::from_str::<Map<String, Value>>(body) {
            Ok(command) => {
                if let Some(Value::Object(outputs)) = command.get("outputs") {
                    for (k, v) in outputs {
                        ran.vars.insert(k.clone(), v.clone());
                    }
                }
                if let Some(Value::Array(metrics)) = command.get("metrics") {
                    publish(ctx, metrics).await;
                }
                if let Some(Value::Array(logs)) = command.get("logs") {
                    for entry in logs {
                        let level = entry
                            .get("level")
                            .and_then(Value::as_str)
                            .and_then(Level::parse)
                            .unwrap_or(Level::Info);
                        let message = entry
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        ctx.log(level, message).await;
                    }
                }
                return;
            }
            Err(e) => {
                ctx.log(Level::Warn, format!("Invalid outputs '{e}'")).await;
                return;
            }
        }
    }
    ctx.log(if stderr { Level::Error } else { Level::Info }, trimmed)
        .await;
}

/// The metrics of a protocol line: `{name, type: counter|timer|gauge,
/// value, tags}`; a timer's number is seconds (Jackson reads a Duration
/// from a number as seconds), or an ISO-8601 duration.
async fn publish(ctx: &TaskContext, metrics: &[Value]) {
    let mut entries = Vec::new();
    for metric in metrics {
        let (Some(name), Some(kind)) = (
            metric.get("name").and_then(Value::as_str),
            metric.get("type").and_then(Value::as_str),
        ) else {
            continue;
        };
        let kind = match kind {
            "counter" => "counter",
            "timer" => "timer",
            "gauge" => "gauge",
            _ => continue,
        };
        let value = match (kind, metric.get("value")) {
            ("timer", Some(Value::Number(n))) => n.as_f64().map(|s| s * 1000.0),
            ("timer", Some(Value::String(s))) => crate::task::core::parse_duration(s)
                .ok()
                .map(|d| d.as_secs_f64() * 1000.0),
            (_, Some(Value::Number(n))) => n.as_f64(),
            (_, Some(Value::String(s))) => s.trim().parse().ok(),
            _ => None,
        };
        let Some(value) = value.filter(|v| v.is_finite()) else {
            continue;
        };
        let tags = metric
            .get("tags")
            .and_then(Value::as_object)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        entries.push((kind, name.to_owned(), value, tags));
    }
    if !entries.is_empty()
        && let Err(error) = ctx.metrics(entries).await
    {
        ctx.log(Level::Warn, format!("the metrics were not kept: {error}"))
            .await;
    }
}
