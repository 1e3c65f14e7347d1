//! Flow triggers over a real store and executor: a flow starts when another
//! one ends, as its conditions say, with the ended execution's outputs.

use std::sync::Arc;
use std::time::Duration;

use engine::executor::{Executor, Launch};
use engine::plan::Plan;
use engine::state::State;
use engine::store::{ExecutionFilter, Store};
use serde_json::Map;

mod support;
use support::save;

async fn setup() -> (Store, Executor, support::Harness) {
    let h = support::harness().await;
    (h.store.clone(), h.executor(), h)
}

const UPSTREAM: &str = "id: upstream\nnamespace: sales.daily\ninputs:\n  - id: fail\n    type: BOOLEAN\n    defaults: false\ntasks:\n  - id: count\n    type: debug.Return\n    format: \"42\"\n  - id: maybe\n    type: execution.Fail\n    runIf: \"{{ inputs.fail }}\"\noutputs:\n  - id: rows\n    type: STRING\n    value: \"{{ outputs.count.value }}\"\n";

const DOWNSTREAM: &str = "id: downstream\nnamespace: reports\ninputs:\n  - id: rows\n    type: STRING\ntasks:\n  - id: report\n    type: debug.Return\n    format: \"{{ inputs.rows }} rows from {{ trigger.namespace }}.{{ trigger.flowId }} ({{ trigger.state }})\"\ntriggers:\n  - id: after_upstream\n    type: io.kestra.plugin.core.trigger.Flow\n    inputs:\n      rows: \"{{ trigger.outputs.rows }}\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: sales.daily\n        flowId: upstream\n      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [SUCCESS]\n";

const ON_FAILURE: &str = "id: alert\nnamespace: ops\ntasks:\n  - id: page\n    type: log.Log\n    message: \"{{ trigger.executionId }} failed\"\ntriggers:\n  - id: failures_in_sales\n    type: trigger.Flow\n    states: [FAILED]\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionNamespaceCondition\n        namespace: sales\n        prefix: true\n";

/// Kestra's Expression condition, rendered with `trigger.*`, inside an Or.
const ON_BIG_BATCH: &str = "id: big_batch\nnamespace: reports\ntasks:\n  - id: note\n    type: log.Log\n    message: big\ntriggers:\n  - id: big\n    type: trigger.Flow\n    conditions:\n      - type: io.kestra.plugin.core.condition.Expression\n        expression: \"{{ trigger.outputs.rows == '42' and trigger.flowId == 'upstream' }}\"\n      - type: io.kestra.plugin.core.condition.Or\n        conditions:\n          - type: io.kestra.plugin.core.condition.ExecutionStatus\n            in: [SUCCESS]\n          - type: io.kestra.plugin.core.condition.ExecutionLabels\n            labels:\n              never: set\n";

const ON_SMALL_BATCH: &str = "id: small_batch\nnamespace: reports\ntasks:\n  - id: note\n    type: log.Log\n    message: small\ntriggers:\n  - id: small\n    type: trigger.Flow\n    conditions:\n      - type: io.kestra.plugin.core.condition.Expression\n        expression: \"{{ trigger.outputs.rows == '1' }}\"\n";

async fn run_upstream(store: &Store, executor: &Executor, fail: bool) -> engine::ids::ExecutionId {
    let mut inputs = Map::new();
    inputs.insert("fail".into(), fail.into());
    let plan = Arc::new(Plan::from_yaml(UPSTREAM).unwrap());
    let record = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs,
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap();
    let _ = store;
    record.id
}

async fn executions_of(store: &Store, flow: &str) -> Vec<engine::store::ExecutionRecord> {
    let filter = ExecutionFilter {
        flow_id: Some(flow.to_owned()),
        ..Default::default()
    };
    store
        .search_executions(&filter, 1, 100)
        .await
        .unwrap()
        .results
}

#[tokio::test]
async fn a_success_starts_the_downstream_flow_with_the_upstream_outputs_and_a_failure_the_alert() {
    let (store, executor, _harness) = setup().await;
    save(&store, UPSTREAM).await;
    save(&store, DOWNSTREAM).await;
    save(&store, ON_FAILURE).await;
    save(&store, ON_BIG_BATCH).await;
    save(&store, ON_SMALL_BATCH).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let task = engine::flow_triggers::spawn(store.clone(), executor.clone(), stop.clone());

    let ok = run_upstream(&store, &executor, false).await;
    assert_eq!(executor.wait(&ok).await.unwrap(), State::Success);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let downstream = loop {
        if let Some(found) = executions_of(&store, "downstream").await.pop() {
            break found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the downstream flow starts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(executor.wait(&downstream.id).await.unwrap(), State::Success);
    let runs = store.task_runs(&downstream.id).await.unwrap();
    assert_eq!(
        runs[0].outputs.as_ref().unwrap()["value"],
        "42 rows from sales.daily.upstream (SUCCESS)"
    );
    assert_eq!(downstream.labels["system.correlationId"], ok.as_str());
    assert!(
        executions_of(&store, "alert").await.is_empty(),
        "no alert for a success"
    );

    let failed = run_upstream(&store, &executor, true).await;
    assert_eq!(executor.wait(&failed).await.unwrap(), State::Failed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while executions_of(&store, "alert").await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the alert flow starts on a failure in sales.*"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        executions_of(&store, "downstream").await.len(),
        1,
        "a failure does not start the downstream flow"
    );
    assert_eq!(
        executions_of(&store, "big_batch").await.len(),
        1,
        "the expression and the Or hold for the success only"
    );
    assert!(
        executions_of(&store, "small_batch").await.is_empty(),
        "the expression never holds"
    );
    stop.cancel();
    task.await.unwrap();
}

const ON_OUTPUTS: &str = "id: on_outputs\nnamespace: reports\ntasks:\n  - id: note\n    type: log.Log\n    message: outputs\ntriggers:\n  - id: rows\n    type: trigger.Flow\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionOutputs\n        expression: \"{{ trigger.outputs.rows == '42' }}\"\n";

const ON_RETRY: &str = "id: on_retry\nnamespace: reports\ntasks:\n  - id: note\n    type: log.Log\n    message: retried\ntriggers:\n  - id: retried\n    type: trigger.Flow\n    conditions:\n      - type: io.kestra.plugin.core.condition.HasRetryAttempt\n        in: [FAILED]\n";

/// ExecutionOutputs reads the flow outputs the execution ended with,
/// HasRetryAttempt its attempts; a trigger turned off starts nothing.
#[tokio::test]
async fn outputs_and_retries_conditions_and_a_trigger_turned_off() {
    let (store, executor, _harness) = setup().await;
    save(&store, UPSTREAM).await;
    save(&store, ON_OUTPUTS).await;
    save(&store, ON_RETRY).await;
    save(&store, DOWNSTREAM).await;
    store
        .set_trigger_disabled(
            &engine::ids::Namespace::new("reports"),
            &engine::ids::FlowId::new("downstream"),
            "after_upstream",
            true,
            jiff::Timestamp::now().as_millisecond(),
        )
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let task = engine::flow_triggers::spawn(store.clone(), executor.clone(), stop.clone());
    let ok = run_upstream(&store, &executor, false).await;
    assert_eq!(executor.wait(&ok).await.unwrap(), State::Success);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while executions_of(&store, "on_outputs").await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ExecutionOutputs holds for rows = 42"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A flow whose task is retried once.
    let flaky = "id: flaky\nnamespace: sales\ntasks:\n  - id: once\n    type: execution.Fail\n    condition: \"{{ taskrun.attemptsCount == 0 }}\"\n    retry:\n      type: constant\n      interval: PT0.01S\n      maxAttempts: 2\n";
    let plan = Arc::new(Plan::from_yaml(flaky).unwrap());
    let retried = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Map::new(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap()
        .id;
    assert_eq!(executor.wait(&retried).await.unwrap(), State::Success);
    let runs = store.task_runs(&retried).await.unwrap();
    assert_eq!(runs[0].attempts.len(), 2, "{runs:?}");
    while executions_of(&store, "on_retry").await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "HasRetryAttempt holds for the flaky flow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        executions_of(&store, "on_retry").await.len(),
        1,
        "the upstream flow was not retried"
    );
    assert!(
        executions_of(&store, "downstream").await.is_empty(),
        "the trigger turned off starts nothing"
    );
    let state = store
        .trigger_states(Some("reports"), Some("on_outputs"))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        state.last_execution_id,
        executions_of(&store, "on_outputs")
            .await
            .first()
            .map(|e| e.id.to_string())
    );
    stop.cancel();
    task.await.unwrap();
}

async fn run_flow(executor: &Executor, source: &str) -> State {
    let plan = Arc::new(Plan::from_yaml(source).unwrap());
    let id = executor
        .launch(Launch {
            id: None,
            plan,
            flow_revision: 1,
            inputs: Map::new(),
            labels: Default::default(),
            trigger_vars: None,
        })
        .await
        .unwrap()
        .id;
    executor.wait(&id).await.unwrap()
}

/// How many executions `flow` has once things settle.
async fn settled_count(store: &Store, flow: &str, at_least: usize) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while executions_of(store, flow).await.len() < at_least {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{flow} starts {at_least} times"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    executions_of(store, flow).await.len()
}

/// Kestra's own test flows (core/src/test/resources/flows/valids),
/// unchanged: `trigger-multiplecondition-listener` starts once both
/// upstream flows have succeeded within the day, and starts over after;
/// `flow-trigger-preconditions-flow-listen` once flow A (with its label)
/// and flow B have ended, whatever their order.
#[tokio::test]
async fn multiple_conditions_and_preconditions_wait_for_every_upstream_flow_within_the_window() {
    let (store, executor, _harness) = setup().await;
    let listener = "id: trigger-multiplecondition-listener\nnamespace: io.kestra.tests.trigger\n\ntasks:\n  - id: only-listener\n    type: io.kestra.plugin.core.debug.Return\n    format: \"childs\"\n\ntriggers:\n  - id: multiple-listen-flow\n    type: io.kestra.plugin.core.trigger.Flow\n    conditions:\n      - id: multiple\n        type: io.kestra.plugin.core.condition.MultipleCondition\n        window: P1D\n        windowAdvance: P0D\n        conditions:\n          success:\n            type: io.kestra.plugin.core.condition.ExecutionStatus\n            in:\n              - SUCCESS\n          flow-a:\n            type: io.kestra.plugin.core.condition.ExecutionFlow\n            namespace: io.kestra.tests.trigger\n            flowId: trigger-multiplecondition-flow-a\n          flow-b:\n            type: io.kestra.plugin.core.condition.ExecutionFlow\n            namespace: io.kestra.tests.trigger\n            flowId: trigger-multiplecondition-flow-b\n";
    let flow_a = "id: trigger-multiplecondition-flow-a\nnamespace: io.kestra.tests.trigger\n\ntasks:\n  - id: only\n    type: io.kestra.plugin.core.debug.Return\n    format: \"from parents: {{execution.id}}\"\n";
    let flow_b = flow_a.replace("flow-a", "flow-b");
    let preconditions = "id: flow-trigger-preconditions-flow-listen\nnamespace: io.kestra.tests.trigger.preconditions\n\ntriggers:\n  - id: flow\n    type: io.kestra.plugin.core.trigger.Flow\n    preconditions:\n      id: flow\n      flows:\n        - namespace: io.kestra.tests.trigger.preconditions\n          flowId: flow-trigger-preconditions-flow-a\n          states: [SUCCESS, WARNING, FAILED]\n        - namespace: io.kestra.tests.trigger.preconditions\n          flowId: flow-trigger-preconditions-flow-b\n          states: [SUCCESS]\n      where:\n        - id: flow1\n          filters:\n            - field: NAMESPACE\n              type: STARTS_WITH\n              value: io.kestra.tests.trigger\n            - field: FLOW_ID\n              type: EQUAL_TO\n              value: flow-trigger-preconditions-flow-a\n            - field: EXPRESSION\n              type: IS_TRUE\n              value: \"{{labels.some == 'label'}}\"\n        - id: flow2\n          filters:\n            - field: NAMESPACE\n              type: ENDS_WITH\n              value: trigger.preconditions\n            - field: FLOW_ID\n              type: EQUAL_TO\n              value: flow-trigger-preconditions-flow-b\n\ntasks:\n  - id: only\n    type: io.kestra.plugin.core.debug.Return\n    format: \"It works\"\n";
    let pre_a = "id: flow-trigger-preconditions-flow-a\nnamespace: io.kestra.tests.trigger.preconditions\n\nlabels:\n  some: label\n\ntasks:\n  - id: only\n    type: io.kestra.plugin.core.debug.Return\n    format: \"from parents: {{execution.id}}\"\n";
    let pre_b = pre_a
        .replace("flow-a", "flow-b")
        .replace("labels:\n  some: label\n\n", "");
    for source in [listener, flow_a, &flow_b, preconditions, pre_a, &pre_b] {
        assert!(engine::flow::parse(source).is_valid(), "{source}");
        save(&store, source).await;
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let task = engine::flow_triggers::spawn(store.clone(), executor.clone(), stop.clone());

    assert_eq!(run_flow(&executor, flow_a).await, State::Success);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        executions_of(&store, "trigger-multiplecondition-listener")
            .await
            .is_empty(),
        "flow B has not run yet"
    );
    assert_eq!(run_flow(&executor, &flow_b).await, State::Success);
    assert_eq!(
        settled_count(&store, "trigger-multiplecondition-listener", 1).await,
        1
    );
    // The window started over: B alone again starts nothing.
    assert_eq!(run_flow(&executor, &flow_b).await, State::Success);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        executions_of(&store, "trigger-multiplecondition-listener")
            .await
            .len(),
        1
    );
    assert_eq!(run_flow(&executor, flow_a).await, State::Success);
    assert_eq!(
        settled_count(&store, "trigger-multiplecondition-listener", 2).await,
        2
    );

    // Preconditions, B first this time.
    assert_eq!(run_flow(&executor, &pre_b).await, State::Success);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        executions_of(&store, "flow-trigger-preconditions-flow-listen")
            .await
            .is_empty()
    );
    assert_eq!(run_flow(&executor, pre_a).await, State::Success);
    assert_eq!(
        settled_count(&store, "flow-trigger-preconditions-flow-listen", 1).await,
        1
    );
    stop.cancel();
    task.await.unwrap();
}
