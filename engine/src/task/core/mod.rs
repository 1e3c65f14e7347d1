//! Kestra's core plugin (`io.kestra.plugin.core.*`), one file per package,
//! and the helpers its tasks and the executor share.

pub mod condition;
pub mod debug;
pub mod execution;
pub mod flow;
pub mod holidays;
pub mod http;
pub mod kv;
pub mod log;
pub mod metric;
pub mod namespace;
pub mod output;
pub mod state;
pub mod storage;
pub mod templating;
pub mod trigger;

use std::time::Duration;

use serde_json::Value;

/// An ISO-8601 date-time property as Unix milliseconds (the purge tasks).
#[cfg(feature = "runtime")]
pub(crate) fn millis(
    ctx: &crate::task::TaskContext,
    name: &str,
    text: &str,
) -> Result<i64, crate::task::TaskError> {
    condition::When::parse(text)
        .map(|w| w.instant.as_millisecond())
        .map_err(|why| ctx.invalid(format!("{name}: {why}")))
}

/// A rendered condition's truth, as Kestra's `runIf` reads it.
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "" | "false" | "0" | "null" | "none"
        ),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A rendered value as text: a string as it is, anything else as JSON.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Kestra's MapUtils.deepMerge: mappings merge key by key, anything else
/// is replaced (SetVariables, kv.Put, state.Set).
pub fn deep_merge(into: &mut serde_json::Map<String, Value>, from: serde_json::Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(more)) => deep_merge(existing, more),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// An ISO-8601 duration such as `PT30S`, `PT1H30M` or `P1D` (a day is 24 h).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    // jiff also reads "5 minutes"; flows use ISO-8601 only, as Kestra's do,
    // so that what validates is what runs.
    if !text.trim_start_matches(['-', '+']).starts_with(['P', 'p']) {
        return Err(format!(
            "{text:?} is not an ISO-8601 duration such as PT30S or PT5M"
        ));
    }
    let signed = match text.parse::<jiff::SignedDuration>() {
        Ok(duration) => duration,
        Err(_) => {
            let span = text.parse::<jiff::Span>().map_err(|e| {
                format!("{text:?} is not an ISO-8601 duration such as PT30S or PT5M: {e}")
            })?;
            span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .map_err(|e| format!("{text:?} cannot be a fixed length of time: {e}"))?
        }
    };
    Duration::try_from(signed).map_err(|_| format!("{text:?} is negative"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use std::sync::Arc;

    use super::*;
    use crate::ids::{ExecutionId, FlowId, Namespace, TaskId, TaskRunId};
    use crate::log::Level;
    use crate::logs::LogPipeline;
    use crate::storage::Storage;
    use crate::store::Store;
    use crate::task::{Outputs, Runners, Services, TaskContext, TaskError, TaskRunRef};

    struct Harness {
        store: Store,
        services: Services,
        _pipeline: LogPipeline,
        _dir: tempfile::TempDir,
    }

    async fn harness() -> Harness {
        let store = Store::scratch().await.unwrap();
        let (pipeline, _writer) = LogPipeline::start(store.clone());
        let dir = tempfile::tempdir().unwrap();
        let services = Services {
            store: store.clone(),
            storage: Storage::new(dir.path()),
            logs: pipeline.sender(),
        };
        Harness {
            store,
            services,
            _pipeline: pipeline,
            _dir: dir,
        }
    }

    fn context(h: &Harness, properties: Value, cancel: CancellationToken) -> TaskContext {
        let run = TaskRunRef {
            namespace: Namespace::new("n"),
            flow_id: FlowId::new("f"),
            execution_id: ExecutionId::new("e"),
            task_run_id: TaskRunId::new("r"),
            task_id: TaskId::new("t"),
            attempt: 1,
        };
        let mask: super::super::Mask = Arc::new(|text: &str| text.replace("s3cr3t", "******"));
        TaskContext::new(&h.services, run, properties, None, cancel, mask)
    }

    async fn run(task_type: &str, h: &Harness, properties: Value) -> Result<Outputs, TaskError> {
        let runner = Runners::core().get(task_type).expect("a core task");
        let ctx = context(h, properties, CancellationToken::new())
            .with_type(crate::flow::registry::lookup(task_type));
        runner.run(&ctx).await
    }

    #[tokio::test]
    async fn a_runner_reads_only_what_its_type_declares() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct Reads {
            message: Value,
            log_level: Option<String>,
            not_declared: Option<String>,
        }
        let h = harness().await;
        let ctx = context(&h, json!({"message": "x"}), CancellationToken::new())
            .with_type(crate::flow::registry::lookup("log.Log"));
        // `logLevel` is a property every task has; `notDeclared` is no property of log.Log.
        let error = ctx.properties::<Reads>().unwrap_err().to_string();
        assert!(
            error.contains("io.kestra.plugin.core.log.Log reads the property `notDeclared`"),
            "{error}"
        );
        assert!(ctx.prop("level").is_ok_and(Value::is_null));
        assert!(
            ctx.prop("levels")
                .unwrap_err()
                .to_string()
                .contains("`levels`")
        );
        // A map is not checked field by field.
        assert!(ctx.properties::<serde_json::Map<String, Value>>().is_ok());
    }

    #[tokio::test]
    async fn log_writes_each_message_at_its_level_masked() {
        let h = harness().await;
        run(
            "log.Log",
            &h,
            json!({"message": ["one", "token s3cr3t"], "level": "warn"}),
        )
        .await
        .unwrap();
        h.services.logs.flush().await;
        let lines = h
            .store
            .logs(&ExecutionId::new("e"), Level::Trace, 0, 10)
            .await
            .unwrap();
        let got: Vec<(Level, &str)> = lines
            .iter()
            .map(|l| (l.level, l.message.as_str()))
            .collect();
        assert_eq!(got, [(Level::Warn, "one"), (Level::Warn, "token ******")]);
        assert_eq!(lines[0].task_id.as_ref().unwrap().as_str(), "t");
        let bad = run(
            "io.kestra.plugin.core.log.Log",
            &h,
            json!({"message": "x", "level": "LOUD"}),
        )
        .await
        .unwrap_err();
        assert!(bad.to_string().contains("LOUD"), "{bad}");
    }

    #[tokio::test]
    async fn return_outputs_its_format() {
        let h = harness().await;
        let outputs = run("debug.Return", &h, json!({"format": "Hello World"}))
            .await
            .unwrap();
        assert_eq!(Value::Object(outputs), json!({"value": "Hello World"}));
    }

    #[tokio::test]
    async fn sleep_stops_at_once_when_killed() {
        let h = harness().await;
        let cancel = CancellationToken::new();
        let ctx = context(&h, json!({"duration": "PT1H"}), cancel.clone());
        let runner = Runners::core().get("flow.Sleep").unwrap();
        let sleeping = tokio::spawn(async move { runner.run(&ctx).await });
        cancel.cancel();
        assert!(matches!(sleeping.await.unwrap(), Err(TaskError::Killed)));
        let bad = run("flow.Sleep", &h, json!({"duration": "soon"}))
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("PT30S"), "{bad}");
    }

    #[tokio::test]
    async fn fail_fails_with_its_message_or_when_its_condition_holds() {
        let h = harness().await;
        let error = run("execution.Fail", &h, json!({"errorMessage": "bad s3cr3t"}))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "bad ******");
        assert!(
            run("execution.Fail", &h, json!({"condition": "false"}))
                .await
                .is_ok()
        );
        assert!(
            run("execution.Fail", &h, json!({"condition": "true"}))
                .await
                .is_err()
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT30S"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("PT1H30M"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("P1D"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("PT0.25S"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("-PT1S").is_err());
    }

    #[test]
    fn truthiness() {
        for yes in [
            json!(true),
            json!("yes"),
            json!(1),
            json!("TRUE"),
            json!([1]),
        ] {
            assert!(is_truthy(&yes), "{yes}");
        }
        for no in [
            json!(false),
            json!("false"),
            json!(""),
            json!(0),
            json!(null),
            json!(" False "),
        ] {
            assert!(!is_truthy(&no), "{no}");
        }
    }
}
