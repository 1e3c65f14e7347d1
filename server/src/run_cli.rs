//! `mortar run FILE`: runs one flow in this process, with a store of its
//! own, printing its logs as they come; the exit status is 0 only for
//! SUCCESS or WARNING.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use engine::executor::{ExecutionError, Executor, Launch};
use engine::ids::{ExecutionId, FlowId, Namespace};
use engine::log::Level;
use engine::logs::LogPipeline;
use engine::plan::Plan;
use engine::secret_store::SecretStore;
use engine::state::State;
use engine::storage::Storage;
use engine::task::Services;
use serde_json::{Map, Value};

use crate::config::{RunArgs, config_error};

pub async fn run_main(args: RunArgs) -> anyhow::Result<ExitCode> {
    let source = match std::fs::read_to_string(&args.file) {
        Ok(source) => source,
        Err(error) => {
            return Ok(config_error(format_args!(
                "cannot read {}: {error}",
                args.file.display()
            )));
        }
    };
    // The same checks as a save through the API: a flow with an error
    // does not run, and every problem is shown with its position.
    let parsed = engine::flow::parse(&source);
    for problem in &parsed.problems {
        let kind = if problem.severity == engine::flow::Severity::Warning {
            "warning: "
        } else {
            ""
        };
        eprintln!(
            "{}:{}:{}: {kind}{}",
            args.file.display(),
            problem.line,
            problem.column,
            problem.message
        );
    }
    if !parsed.is_valid() {
        return Ok(ExitCode::FAILURE);
    }
    let Some(flow) = parsed.flow.as_ref() else {
        return Ok(ExitCode::FAILURE);
    };
    let plan = match Plan::from_flow(flow) {
        Ok(plan) => Arc::new(plan),
        Err(error) => {
            eprintln!("{}: {error}", args.file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut raw_inputs = Vec::new();
    for input in &args.inputs {
        match input.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                raw_inputs.push((name.to_owned(), value.to_owned()))
            }
            _ => {
                return Ok(config_error(format_args!(
                    "--input {input:?}: write it as name=value (or name=@file for a file)"
                )));
            }
        }
    }

    // A temporary data dir unless one is given; removed when it drops.
    let temporary = match &args.data_dir {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("mortar-run-").tempdir()?),
    };
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| temporary.as_ref().map(|t| t.path().to_owned()))
        .unwrap_or_default();
    let store = match crate::secrets::open_store(&data_dir, &args.key).await {
        Ok(store) => store,
        Err(code) => return Ok(code),
    };
    // The data dir's namespace secrets, loaded now so that one that does
    // not decrypt stops the run before it starts.
    let namespace_secrets = SecretStore::load(store.clone()).await?;
    let databricks = match crate::databricks_connection(&args.databricks, None).await {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let (pipeline, writer) = LogPipeline::with_max_line(store.clone(), args.limits.max_log_line);
    let storage = Storage::new(data_dir.join("storage"));
    let services = Services {
        store: store.clone(),
        storage: storage.clone(),
        logs: pipeline.sender(),
    };
    let variables = match args.variables.load(None) {
        Ok(variables) => variables,
        Err(message) => return Ok(config_error(message)),
    };
    let settings = engine::executor::Settings {
        variables,
        render_limits: args.limits.render_limits(),
        node: None,
        plans: Default::default(),
        namespace_secrets: Some(namespace_secrets),
    };
    let executor = Executor::with_settings(
        services,
        crate::runners(
            Some(&databricks.default),
            args.limits.allowed_hosts.clone().unwrap_or_default(),
        ),
        crate::secrets::from_env(std::env::vars()),
        settings,
    );

    let id = ExecutionId::generate();
    let mut inputs = Map::new();
    for (name, value) in raw_inputs {
        match value.strip_prefix('@') {
            Some(path) => {
                let file = match tokio::fs::File::open(path).await {
                    Ok(file) => file,
                    Err(error) => {
                        return Ok(config_error(format_args!(
                            "--input {name}=@{path}: {error}"
                        )));
                    }
                };
                let file_name = std::path::Path::new(path)
                    .file_name()
                    .map_or("file".into(), |n| n.to_string_lossy().into_owned());
                let uri = Storage::execution_uri(
                    &Namespace::new(&plan.namespace),
                    &FlowId::new(&plan.id),
                    &id,
                    &format!("{name}-{file_name}"),
                );
                storage.write(&uri, file).await?;
                inputs.insert(name, Value::String(uri));
            }
            None => {
                inputs.insert(name, Value::String(value));
            }
        }
    }

    let mut live = pipeline.subscribe();
    let started = Instant::now();
    let launched = executor
        .launch(Launch {
            id: Some(id.clone()),
            plan,
            flow_revision: 1,
            inputs,
            labels: Default::default(),
            trigger_vars: None,
        })
        .await;
    match launched {
        Ok(_) => {}
        Err(ExecutionError::Inputs(problems)) => {
            for problem in problems {
                eprintln!("{}: {problem}", args.file.display());
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(error) => {
            eprintln!("{}: {error}", args.file.display());
            return Ok(ExitCode::FAILURE);
        }
    }
    println!("execution {id} started");

    let (stop_printing, mut stop) = tokio::sync::oneshot::channel::<()>();
    let printer = {
        let id = id.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    line = live.recv() => match line {
                        Ok(line) if line.execution_id == id => print_line(&line),
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                    _ = &mut stop => {
                        // Every line was stored and broadcast before the
                        // stop was sent: print what is still queued.
                        while let Ok(line) = live.try_recv() {
                            if line.execution_id == id {
                                print_line(&line);
                            }
                        }
                        break;
                    }
                }
            }
        })
    };
    let state = tokio::select! {
        state = executor.wait(&id) => state?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: killing execution {id}");
            executor.kill(&id).await?;
            executor.wait(&id).await?
        }
    };
    pipeline.sender().flush().await;
    let _ = stop_printing.send(());
    let _ = printer.await;
    // The writer ends with the last sender; the executor holds one.
    drop(executor);
    drop(pipeline);
    let _ = writer.await;
    println!(
        "execution {id} ended {state} in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    if let Some(embedded) = databricks.embedded {
        embedded.shutdown().await;
    }
    Ok(if matches!(state, State::Success | State::Warning) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_line(line: &engine::store::LogRecord) {
    let time = jiff::Timestamp::from_millisecond(line.at)
        .map(|t| t.strftime("%H:%M:%S%.3f").to_string())
        .unwrap_or_default();
    let task = line
        .task_id
        .as_ref()
        .map_or(String::new(), |t| format!(" [{t}]"));
    let level = match line.level {
        Level::Warn => "WARN ",
        Level::Info => "INFO ",
        other => other.as_str(),
    };
    println!("{time} {level}{task} {}", line.message);
}
