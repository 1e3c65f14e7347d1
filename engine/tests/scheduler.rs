//! The scheduler over a real store and executor: schedules fire on the
//! zone's wall clock, missed ones are recovered by policy, nothing fires
//! twice, and a saved flow wakes the scheduler.

use std::time::Duration;

use engine::executor::Executor;
use engine::ids::{FlowId, Namespace};
use engine::state::State;
use engine::store::{ExecutionFilter, ExecutionRecord, Store};
use jiff::Timestamp;

mod support;

struct Harness {
    store: Store,
    executor: Executor,
    _base: support::Harness,
}

async fn harness() -> Harness {
    let base = support::harness().await;
    Harness {
        store: base.store.clone(),
        executor: base.executor(),
        _base: base,
    }
}

async fn save(h: &Harness, id: &str, trigger: &str) {
    let source = format!(
        "id: {id}\nnamespace: t\ninputs:\n  - id: who\n    type: STRING\n    defaults: nobody\ntasks:\n  - id: when\n    type: debug.Return\n    format: \"{{{{ trigger.date }}}} for {{{{ inputs.who }}}}, previous {{{{ trigger.previous }}}}\"\ntriggers:\n{trigger}"
    );
    support::save(&h.store, &source).await;
}

async fn executions(h: &Harness, flow: &str) -> Vec<ExecutionRecord> {
    let filter = ExecutionFilter {
        flow_id: Some(flow.to_owned()),
        ..Default::default()
    };
    let mut all = h
        .store
        .search_executions(&filter, 1, 1000)
        .await
        .unwrap()
        .results;
    all.sort_by(|a, b| {
        a.trigger_vars.as_ref().unwrap()["date"]
            .as_str()
            .cmp(&b.trigger_vars.as_ref().unwrap()["date"].as_str())
    });
    all
}

async fn outputs(h: &Harness, execution: &ExecutionRecord) -> String {
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), h.executor.wait(&execution.id))
            .await
            .unwrap()
            .unwrap(),
        State::Success
    );
    let runs = h.store.task_runs(&execution.id).await.unwrap();
    runs[0].outputs.as_ref().unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

const HOURLY_PARIS: &str = "  - id: hourly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 * * * *\"\n    timezone: Europe/Paris\n    inputs:\n      who: the scheduler\n";

#[tokio::test]
async fn missed_schedules_all_run_once_each_with_their_dates() {
    let h = harness().await;
    save(&h, "hourly", HOURLY_PARIS).await;
    // First sight counts from now: nothing is due yet.
    let next = engine::scheduler::tick(&h.store, &h.executor, at("2026-01-10T10:30:00Z"))
        .await
        .unwrap();
    assert_eq!(next, Some(at("2026-01-10T11:00:00Z")));
    assert!(executions(&h, "hourly").await.is_empty());

    // Three hours later (down meanwhile): 11:00, 12:00 and 13:00 UTC run.
    let next = engine::scheduler::tick(&h.store, &h.executor, at("2026-01-10T13:10:00Z"))
        .await
        .unwrap();
    assert_eq!(next, Some(at("2026-01-10T14:00:00Z")));
    let runs = executions(&h, "hourly").await;
    assert_eq!(runs.len(), 3);
    assert_eq!(
        outputs(&h, &runs[0]).await,
        "2026-01-10T12:00:00+01:00 for the scheduler, previous 2026-01-10T11:00:00+01:00"
    );
    assert_eq!(
        runs[2].trigger_vars.as_ref().unwrap()["date"],
        "2026-01-10T14:00:00+01:00"
    );

    // The same moment again, or a lost record of it: nothing twice.
    engine::scheduler::tick(&h.store, &h.executor, at("2026-01-10T13:10:00Z"))
        .await
        .unwrap();
    h.store
        .set_trigger_last_date(
            &Namespace::new("t"),
            &FlowId::new("hourly"),
            "hourly",
            at("2026-01-10T10:30:00Z").as_millisecond(),
        )
        .await
        .unwrap();
    engine::scheduler::tick(&h.store, &h.executor, at("2026-01-10T13:10:00Z"))
        .await
        .unwrap();
    assert_eq!(executions(&h, "hourly").await.len(), 3);
}

#[tokio::test]
async fn recover_last_or_none_and_a_disabled_trigger_or_flow_fire_less() {
    let h = harness().await;
    save(
        &h,
        "last",
        &HOURLY_PARIS.replace(
            "    inputs:",
            "    recoverMissedSchedules: LAST\n    inputs:",
        ),
    )
    .await;
    save(
        &h,
        "none",
        &HOURLY_PARIS.replace(
            "    inputs:",
            "    recoverMissedSchedules: NONE\n    inputs:",
        ),
    )
    .await;
    save(
        &h,
        "off",
        &HOURLY_PARIS.replace("    inputs:", "    disabled: true\n    inputs:"),
    )
    .await;
    engine::scheduler::tick(&h.store, &h.executor, at("2026-01-10T10:30:00Z"))
        .await
        .unwrap();
    engine::scheduler::tick(&h.store, &h.executor, at("2026-01-10T13:00:30Z"))
        .await
        .unwrap();
    let last = executions(&h, "last").await;
    assert_eq!(last.len(), 1);
    assert_eq!(
        last[0].trigger_vars.as_ref().unwrap()["date"],
        "2026-01-10T14:00:00+01:00"
    );
    // NONE skips the missed 11:00 and 12:00 but runs 13:00, due just now.
    let none = executions(&h, "none").await;
    assert_eq!(none.len(), 1, "{none:?}");
    assert!(executions(&h, "off").await.is_empty());
}

#[tokio::test]
async fn a_backfill_start_runs_the_past_schedules_from_then() {
    let h = harness().await;
    let daily = "  - id: daily\n    type: trigger.Schedule\n    cron: \"0 2 * * *\"\n    backfill:\n      start: \"2026-01-01\"\n";
    save(&h, "daily", daily).await;
    engine::scheduler::tick(&h.store, &h.executor, at("2026-01-04T12:00:00Z"))
        .await
        .unwrap();
    let runs = executions(&h, "daily").await;
    let dates: Vec<&str> = runs
        .iter()
        .map(|r| r.trigger_vars.as_ref().unwrap()["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        [
            "2026-01-01T02:00:00+00:00",
            "2026-01-02T02:00:00+00:00",
            "2026-01-03T02:00:00+00:00",
            "2026-01-04T02:00:00+00:00"
        ]
    );
    assert_eq!(
        outputs(&h, &runs[0]).await,
        "2026-01-01T02:00:00+00:00 for nobody, previous 2025-12-31T02:00:00+00:00"
    );
}

#[tokio::test]
async fn saving_a_flow_wakes_the_running_scheduler_which_fires_on_time() {
    let h = harness().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let task = engine::scheduler::spawn(h.store.clone(), h.executor.clone(), stop.clone());
    // Saved after the scheduler went to sleep (for an hour, with no flows).
    tokio::time::sleep(Duration::from_millis(100)).await;
    save(&h, "every_second", "  - id: tick\n    type: trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while executions(&h, "every_second").await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the schedule fires every second"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    task.await.unwrap();
}

/// Kestra's blueprints `schedule-condition-weekend` and `-dayweek`: the
/// conditions are checked at each scheduled time, in the trigger's zone,
/// and a time they refuse starts nothing (nor is it started later).
#[tokio::test]
async fn conditions_keep_only_the_times_they_allow() {
    let h = harness().await;
    let daily = |id: &str, conditions: &str| {
        format!(
            "  - id: {id}\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"30 0 * * *\"\n    timezone: America/New_York\n    conditions:\n{conditions}"
        )
    };
    save(
        &h,
        "weekend",
        &daily(
            "weekend",
            "      - type: io.kestra.plugin.core.condition.Weekend\n",
        ),
    )
    .await;
    save(
        &h,
        "mondays_not_first",
        &daily(
            "mondays",
            "      - type: io.kestra.plugin.core.condition.DayWeek\n        dayOfWeek: MONDAY\n      - type: io.kestra.plugin.core.condition.Not\n        conditions:\n          - type: io.kestra.plugin.core.condition.DayWeekInMonth\n            dayOfWeek: MONDAY\n            dayInMonth: FIRST\n",
        ),
    )
    .await;
    // First sight on Monday 2026-11-30 (Sunday evening in New York)...
    engine::scheduler::tick(&h.store, &h.executor, at("2026-11-30T04:00:00Z"))
        .await
        .unwrap();
    // ...then three weeks on: 21 daily times are due for each flow.
    engine::scheduler::tick(&h.store, &h.executor, at("2026-12-21T06:00:00Z"))
        .await
        .unwrap();
    let dates = |runs: Vec<ExecutionRecord>| -> Vec<String> {
        runs.iter()
            .map(|r| r.trigger_vars.as_ref().unwrap()["date"].as_str().unwrap()[..10].to_owned())
            .collect()
    };
    // 00:30 in New York is 05:30 UTC: the zone's own day decides.
    assert_eq!(
        dates(executions(&h, "weekend").await),
        [
            "2026-12-05",
            "2026-12-06",
            "2026-12-12",
            "2026-12-13",
            "2026-12-19",
            "2026-12-20"
        ]
    );
    // Mondays, but not the first of the month (December 7).
    assert_eq!(
        dates(executions(&h, "mondays_not_first").await),
        ["2026-11-30", "2026-12-14", "2026-12-21"]
    );
    // Nothing refused is started by a later tick.
    engine::scheduler::tick(&h.store, &h.executor, at("2026-12-21T06:00:00Z"))
        .await
        .unwrap();
    assert_eq!(executions(&h, "weekend").await.len(), 6);
}

/// ScheduleOnDates fires once on each listed date (written with an offset,
/// or without one in its zone); a trigger turned off fires nothing, and
/// turned on again counts from then; what the scheduler saw is kept.
#[tokio::test]
async fn schedule_on_dates_fires_on_each_date_and_a_trigger_turned_off_does_not() {
    let h = harness().await;
    let (ns, flow) = (Namespace::new("t"), FlowId::new("dates"));
    save(
        &h,
        "dates",
        "  - id: dates\n    type: io.kestra.plugin.core.trigger.ScheduleOnDates\n    timezone: Europe/Paris\n    dates:\n      - 2026-01-10T12:00:00Z\n      - \"2026-01-10T15:00:00\"\n      - 2026-01-12T09:00:00+01:00\n",
    )
    .await;
    let next = engine::scheduler::tick(&h.store, &h.executor, at("2026-01-10T11:00:00Z"))
        .await
        .unwrap();
    assert_eq!(next, Some(at("2026-01-10T12:00:00Z")));
    let next = engine::scheduler::tick(&h.store, &h.executor, at("2026-01-10T13:00:00Z"))
        .await
        .unwrap();
    assert_eq!(next, Some(at("2026-01-10T14:00:00Z")), "15:00 in Paris");
    let runs = executions(&h, "dates").await;
    assert_eq!(runs.len(), 1);
    let vars = runs[0].trigger_vars.clone().unwrap();
    assert_eq!(
        (
            vars["type"].as_str(),
            vars["date"].as_str(),
            vars["next"].as_str()
        ),
        (
            Some("io.kestra.plugin.core.trigger.ScheduleOnDates"),
            Some("2026-01-10T13:00:00+01:00"),
            Some("2026-01-10T15:00:00+01:00")
        )
    );
    let state = h
        .store
        .trigger_states(Some("t"), Some("dates"))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (state.next_date, state.evaluated_at),
        (
            Some(at("2026-01-10T14:00:00Z").as_millisecond()),
            Some(at("2026-01-10T13:00:00Z").as_millisecond())
        )
    );
    assert_eq!(
        state.last_execution_id.as_deref(),
        Some(runs[0].id.as_str())
    );

    // Off: the 15:00 date passes without an execution.
    h.store
        .set_trigger_disabled(
            &ns,
            &flow,
            "dates",
            true,
            at("2026-01-10T13:30:00Z").as_millisecond(),
        )
        .await
        .unwrap();
    assert!(h.store.trigger_disabled(&ns, &flow, "dates").await.unwrap());
    engine::scheduler::tick(&h.store, &h.executor, at("2026-01-11T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(executions(&h, "dates").await.len(), 1);
    assert_eq!(
        h.store
            .trigger_states(Some("t"), Some("dates"))
            .await
            .unwrap()[0]
            .next_date,
        None
    );
    // On again: the date missed while off is not caught up; the next one runs.
    h.store
        .set_trigger_disabled(
            &ns,
            &flow,
            "dates",
            false,
            at("2026-01-11T12:00:00Z").as_millisecond(),
        )
        .await
        .unwrap();
    let next = engine::scheduler::tick(&h.store, &h.executor, at("2026-01-12T09:00:00Z"))
        .await
        .unwrap();
    assert_eq!(next, None, "no date left");
    let runs = executions(&h, "dates").await;
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[1].trigger_vars.as_ref().unwrap()["date"],
        "2026-01-12T09:00:00+01:00"
    );
}

/// trigger.Toggle turns a trigger of a stored flow off and on, and names
/// a flow or trigger that does not exist.
#[tokio::test]
async fn a_toggle_task_turns_a_trigger_off_and_on() {
    let h = harness().await;
    save(&h, "hourly", HOURLY_PARIS).await;
    let toggle = |enabled: bool, trigger: &str| {
        format!(
            "id: toggler\nnamespace: ops\ntasks:\n  - id: toggle\n    type: io.kestra.plugin.core.trigger.Toggle\n    namespace: t\n    flowId: hourly\n    trigger: {trigger}\n    enabled: {enabled}\n"
        )
    };
    let run = |source: String| {
        let executor = h.executor.clone();
        async move {
            let plan = std::sync::Arc::new(engine::plan::Plan::from_yaml(&source).unwrap());
            let launch = engine::executor::Launch {
                id: None,
                plan,
                flow_revision: 1,
                inputs: Default::default(),
                labels: Default::default(),
                trigger_vars: None,
            };
            let id = executor.launch(launch).await.unwrap().id;
            (
                tokio::time::timeout(Duration::from_secs(10), executor.wait(&id))
                    .await
                    .unwrap()
                    .unwrap(),
                id,
            )
        }
    };
    let (ns, flow) = (Namespace::new("t"), FlowId::new("hourly"));
    assert_eq!(run(toggle(false, "hourly")).await.0, State::Success);
    assert!(
        h.store
            .trigger_disabled(&ns, &flow, "hourly")
            .await
            .unwrap()
    );
    assert_eq!(run(toggle(true, "hourly")).await.0, State::Success);
    assert!(
        !h.store
            .trigger_disabled(&ns, &flow, "hourly")
            .await
            .unwrap()
    );
    let (state, id) = run(toggle(false, "nope")).await;
    assert_eq!(state, State::Failed);
    h._base.services.logs.flush().await;
    let logs = h
        .store
        .logs(&id, engine::log::Level::Trace, 0, 100)
        .await
        .unwrap();
    assert!(
        logs.iter().any(|l| l
            .message
            .contains("Unable to find trigger nope for the flow t.hourly")),
        "{logs:?}"
    );
}

/// Kestra's PublicHoliday blueprint: a daily schedule that runs only on
/// French public holidays (14 July 2026 yes, 15 July no).
#[tokio::test]
async fn a_public_holiday_condition_keeps_only_the_holidays() {
    let h = harness().await;
    save(&h, "holidays", "  - id: schedule\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 11 * * *\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.PublicHoliday\n        country: FR\n").await;
    engine::scheduler::tick(&h.store, &h.executor, at("2026-07-13T12:00:00Z"))
        .await
        .unwrap();
    engine::scheduler::tick(&h.store, &h.executor, at("2026-07-15T12:00:00Z"))
        .await
        .unwrap();
    let runs = executions(&h, "holidays").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].trigger_vars.as_ref().unwrap()["date"],
        "2026-07-14T11:00:00+00:00"
    );
}

/// PublicHoliday with a German state: Corpus Christi (4 June 2026) is a
/// holiday in Bavaria, not in Berlin.
#[tokio::test]
async fn a_public_holiday_condition_reads_the_state_it_names() {
    let h = harness().await;
    for (flow, region) in [("bavaria", "by"), ("berlin", "DE-BE")] {
        save(&h, flow, &format!("  - id: schedule\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 11 * * *\"\n    conditions:\n      - type: io.kestra.plugin.core.condition.PublicHoliday\n        country: DE\n        subDivision: {region}\n")).await;
    }
    engine::scheduler::tick(&h.store, &h.executor, at("2026-06-03T12:00:00Z"))
        .await
        .unwrap();
    engine::scheduler::tick(&h.store, &h.executor, at("2026-06-04T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(executions(&h, "bavaria").await.len(), 1);
    assert_eq!(executions(&h, "berlin").await.len(), 0);
}
