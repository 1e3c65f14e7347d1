//! Python `dependencies`: installed once per set (and Python) with pip into
//! a directory of packages that PYTHONPATH points at, as Kestra installs
//! them, kept and reused by every later run that asks for the same set.
//! An install goes to a directory of its own and is renamed into place
//! when complete, so that two runs installing at once never see half of
//! one, and an install that failed is never reused.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::log::Level;
use crate::task::{TaskContext, TaskError};

/// Where the installed sets are kept.
fn cache_root() -> PathBuf {
    std::env::var_os("MORTAR_PYTHON_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mortar-python-packages"))
}

/// The directory of packages for `deps` under `python`, installed now if
/// it is not yet.
pub(super) async fn packages(
    ctx: &TaskContext,
    python: &Path,
    deps: &[String],
) -> Result<PathBuf, TaskError> {
    let version = version_of(python).await?;
    let mut sorted: Vec<&str> = deps
        .iter()
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hasher = Sha256::new();
    hasher.update(version.as_bytes());
    for dep in &sorted {
        hasher.update(b"\n");
        hasher.update(dep.as_bytes());
    }
    let key: String = hasher.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let target = cache_root().join(&key);
    if tokio::fs::try_exists(target.join(".complete"))
        .await
        .unwrap_or(false)
    {
        ctx.log(
            Level::Debug,
            format!(
                "dependencies {} from the cache ({})",
                sorted.join(" "),
                target.display()
            ),
        )
        .await;
        return Ok(target);
    }
    let staging = cache_root().join(format!(".{key}-{}", ctx.task_run_id));
    let _ = tokio::fs::remove_dir_all(&staging).await;
    tokio::fs::create_dir_all(&staging)
        .await
        .map_err(|e| TaskError::Failed(format!("cannot prepare the dependencies: {e}")))?;
    ctx.info(format!(
        "installing {} with pip ({version})",
        sorted.join(" ")
    ))
    .await;
    let mut command = tokio::process::Command::new(python);
    command
        .args([
            "-m",
            "pip",
            "install",
            "--no-input",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&staging)
        .args(&sorted)
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| TaskError::Failed(format!("cannot run pip: {e}")))?;
    let ran = super::exec::stream(ctx, child).await;
    let ran = match ran {
        Ok(ran) => ran,
        Err(error) => {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(error);
        }
    };
    if ran.exit_code != 0 {
        let _ = tokio::fs::remove_dir_all(&staging).await;
        return Err(TaskError::Failed(format!(
            "installing the dependencies {} failed (pip exited with {}): see the lines above; is pip installed for {} (Debian: apt-get install python3-pip)?",
            sorted.join(" "),
            ran.exit_code,
            python.display()
        )));
    }
    tokio::fs::write(staging.join(".complete"), sorted.join("\n"))
        .await
        .map_err(|e| TaskError::Failed(format!("cannot keep the dependencies: {e}")))?;
    match tokio::fs::rename(&staging, &target).await {
        Ok(()) => {}
        // Another run installed the same set meanwhile: use theirs.
        Err(_)
            if tokio::fs::try_exists(target.join(".complete"))
                .await
                .unwrap_or(false) =>
        {
            let _ = tokio::fs::remove_dir_all(&staging).await;
        }
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(TaskError::Failed(format!(
                "cannot keep the dependencies: {e}"
            )));
        }
    }
    Ok(target)
}

/// `Python 3.11.7`, from the interpreter itself.
async fn version_of(python: &Path) -> Result<String, TaskError> {
    let output = tokio::process::Command::new(python)
        .arg("--version")
        .output()
        .await
        .map_err(|e| TaskError::Failed(format!("cannot run {}: {e}", python.display())))?;
    let text = String::from_utf8_lossy(if output.stdout.is_empty() {
        &output.stderr
    } else {
        &output.stdout
    })
    .trim()
    .to_owned();
    Ok(text)
}
