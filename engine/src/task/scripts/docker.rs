//! The Docker task runner: the commands run in a container of the task's
//! image, its working directory mounted at the same path, through the
//! `docker` client. Without a Docker engine the task fails and names the
//! image; it never falls back to running on the host.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use serde_json::{Map, Value};

use super::exec::{Ran, stream};
use crate::log::Level;
use crate::task::{TaskContext, TaskError};

/// Runs `argv` in a container of `image`.
pub(super) async fn run(
    ctx: &TaskContext,
    image: &str,
    options: &Map<String, Value>,
    argv: &[String],
    env: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<Ran, TaskError> {
    let host = options
        .get("host")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty());
    let client = |args: &[&str]| {
        let mut command = tokio::process::Command::new("docker");
        command.args(args).stdin(Stdio::null());
        if let Some(host) = host {
            command.env("DOCKER_HOST", host);
        }
        command
    };
    let unavailable = |why: String| {
        TaskError::Failed(format!(
            "the Docker task runner needs a Docker engine to run the image {image}, and {why}; start one (or set taskRunner.host), or run the task with taskRunner: {{type: io.kestra.plugin.core.runner.Process}}"
        ))
    };
    if super::exec::on_path("docker").is_none() {
        return Err(unavailable(
            "there is no `docker` client on this machine".into(),
        ));
    }
    let info = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        client(&["info", "--format", "{{.ServerVersion}}"]).output(),
    )
    .await;
    match info {
        Ok(Ok(out)) if out.status.success() => {}
        Ok(Ok(out)) => {
            let said = String::from_utf8_lossy(&out.stderr);
            let first = said
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no answer");
            return Err(unavailable(format!(
                "none answers (docker info: {})",
                first.trim()
            )));
        }
        Ok(Err(e)) => return Err(unavailable(format!("`docker info` cannot run: {e}"))),
        Err(_) => {
            return Err(unavailable(
                "none answered `docker info` within 20 s".into(),
            ));
        }
    }
    let name = format!("mortar-{}", ctx.task_run_id).to_ascii_lowercase();
    let path = dir.to_string_lossy().into_owned();
    let mut args: Vec<String> = vec![
        "run".into(),
        "--name".into(),
        name.clone(),
        "--volume".into(),
        format!("{path}:{path}"),
        "--workdir".into(),
        path.clone(),
    ];
    if options
        .get("delete")
        .and_then(Value::as_bool)
        .unwrap_or(true)
    {
        args.push("--rm".into());
    }
    let pull = match options
        .get("pullPolicy")
        .and_then(Value::as_str)
        .unwrap_or("ALWAYS")
    {
        "NEVER" => "never",
        "IF_NOT_PRESENT" => "missing",
        _ => "always",
    };
    args.push(format!("--pull={pull}"));
    for (k, v) in env {
        args.push("--env".into());
        args.push(format!("{k}={v}"));
    }
    let text = |name: &str| {
        options
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let list = |name: &str| -> Vec<String> {
        options
            .get(name)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(user) = text("user") {
        args.extend(["--user".into(), user.into()]);
    }
    if let Some(network) = text("networkMode") {
        args.extend(["--network".into(), network.into()]);
    }
    if let Some(size) = text("shmSize") {
        args.extend(["--shm-size".into(), size.into()]);
    }
    if options.get("privileged").and_then(Value::as_bool) == Some(true) {
        args.push("--privileged".into());
    }
    for volume in list("volumes") {
        args.extend(["--volume".into(), volume]);
    }
    for host in list("extraHosts") {
        args.extend(["--add-host".into(), host]);
    }
    if let Some(memory) = options
        .get("memory")
        .and_then(|m| m.get("memory"))
        .and_then(Value::as_str)
    {
        args.extend([
            "--memory".into(),
            memory.trim_end_matches('B').to_ascii_lowercase(),
        ]);
    }
    if let Some(cpus) = options.get("cpu").and_then(|c| c.get("cpus")) {
        args.extend([
            "--cpus".into(),
            cpus.as_str()
                .map_or_else(|| cpus.to_string(), str::to_owned),
        ]);
    }
    // Kestra's default entry point is empty: the image's own is replaced.
    let entry = if options.contains_key("entryPoint") {
        list("entryPoint")
    } else {
        vec![String::new()]
    };
    args.extend([
        "--entrypoint".into(),
        entry.first().cloned().unwrap_or_default(),
    ]);
    args.push(image.to_owned());
    args.extend(entry.into_iter().skip(1));
    args.extend(argv.iter().cloned());
    ctx.log(Level::Debug, format!("docker run of {image} as {name}"))
        .await;
    let mut command = client(&args.iter().map(String::as_str).collect::<Vec<_>>());
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| unavailable(format!("`docker run` cannot start: {e}")))?;
    let mut container = Container {
        name,
        host: host.map(str::to_owned),
        ended: false,
    };
    let ran = stream(ctx, child).await;
    container.ended = ran.is_ok();
    ran
}

/// Removes the container when the run ends early (killed, timed out): the
/// `docker` client's end alone leaves it running.
struct Container {
    name: String,
    host: Option<String>,
    /// The container ended by itself (`--rm` removes it then).
    ended: bool,
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        // tokio reaps it in the background; the drop does not wait.
        let mut command = tokio::process::Command::new("docker");
        command
            .args(["rm", "--force", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(host) = &self.host {
            command.env("DOCKER_HOST", host);
        }
        let _ = command.spawn();
    }
}
