//! The scheduler: fires the Schedule triggers of stored flows.
//!
//! One tokio task. It reads the flows that have a Schedule trigger, fires
//! what is due, then sleeps until the next scheduled time or until a flow
//! is saved or deleted (the store says so): an idle server does not poll.
//!
//! Each trigger's last scheduled time is kept in the store. A schedule
//! missed while Mortar was down is recovered as `recoverMissedSchedules`
//! says (ALL by default, as in Kestra; LAST; NONE). An execution's id is
//! derived from its flow, trigger and scheduled time, so a crash between
//! starting it and recording it never fires it twice. A trigger's
//! `conditions` (Weekend, DayWeek, …) are checked at each scheduled time,
//! rendered with `trigger.*`: a time they refuse starts nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::executor::{Executor, Launch};
use crate::flow::model::{Flow, Trigger};
use crate::ids::ExecutionId;
use crate::plan::Plan;
use crate::store::{ScheduledFlow, Store, StoreError};

/// The most missed schedules of one trigger started at once.
const MAX_CATCH_UP: usize = 100;
/// Looks again at least this often, in case the clock jumped.
const LONGEST_SLEEP: Duration = Duration::from_secs(3600);

/// Runs the scheduler until `stop` is cancelled.
pub fn spawn(
    store: Store,
    executor: Executor,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut changes = store.watch_flows();
        loop {
            let next = match tick(&store, &executor, Timestamp::now()).await {
                Ok(next) => next,
                Err(error) => {
                    tracing::error!(%error, "the scheduler could not read the store; it tries again in a minute");
                    Some(Timestamp::now() + Duration::from_secs(60))
                }
            };
            let sleep = next
                .map(|at| {
                    at.duration_since(Timestamp::now())
                        .unsigned_abs()
                        .min(LONGEST_SLEEP)
                })
                .unwrap_or(LONGEST_SLEEP);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(sleep) => {}
                changed = changes.changed() => if changed.is_err() { return },
            }
        }
    })
}

/// One Schedule (or ScheduleOnDates) trigger, ready to compute its times.
struct Schedule {
    id: String,
    times: Times,
    zone: TimeZone,
    inputs: serde_json::Map<String, Value>,
    recover: Recover,
    backfill_start: Option<Timestamp>,
    /// The trigger's `conditions`, as written.
    conditions: Option<Value>,
}

/// When a trigger fires: on a cron expression, or on listed dates.
enum Times {
    Cron(croner::Cron),
    Dates(Vec<Timestamp>),
}

impl Schedule {
    /// The first time strictly after `after`.
    fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.times {
            Times::Cron(cron) => next_after(cron, &self.zone, after),
            Times::Dates(dates) => dates.iter().copied().find(|d| *d > after),
        }
    }

    fn type_name(&self) -> &'static str {
        match self.times {
            Times::Cron(_) => "io.kestra.plugin.core.trigger.Schedule",
            Times::Dates(_) => "io.kestra.plugin.core.trigger.ScheduleOnDates",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Recover {
    All,
    Last,
    None,
}

/// Fires every schedule due at `now`; returns the next scheduled time.
pub async fn tick(
    store: &Store,
    executor: &Executor,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let mut earliest: Option<Timestamp> = None;
    // Triggers turned off from the UI, the API or a Toggle task.
    let off = store.disabled_triggers().await?;
    let mut flows = store.scheduled_flows().await?;
    for kind in crate::polling::POLLED {
        for polled in store
            .flows_with_source_like(&format!("%{}%", kind.trigger.alias))
            .await?
        {
            if !flows
                .iter()
                .any(|f| f.namespace == polled.namespace && f.id == polled.id)
            {
                flows.push(polled);
            }
        }
    }
    for flow in flows {
        let Some(model) = crate::flow::parse(&flow.source).flow else {
            continue;
        };
        if model.disabled {
            continue;
        }
        for trigger in &model.triggers {
            if off.contains(&(
                flow.namespace.to_string(),
                flow.id.to_string(),
                trigger.id.value.clone(),
            )) {
                continue;
            }
            if let Some(polled) = trigger
                .kind
                .filter(|_| !trigger.disabled)
                .and_then(|k| crate::polling::polled(k.alias))
            {
                match crate::polling::poll(store, executor, &flow, &model, trigger, polled, now)
                    .await
                {
                    Ok(next) => earliest = Some(earliest.map_or(next, |e| e.min(next))),
                    Err(error) => {
                        tracing::warn!(flow = %format!("{}.{}", flow.namespace, flow.id), trigger = %trigger.id.value, %error, "a polling trigger cannot poll")
                    }
                }
                continue;
            }
            let schedule = match schedule(trigger) {
                Ok(Some(schedule)) => schedule,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(flow = %format!("{}.{}", flow.namespace, flow.id), trigger = %trigger.id.value, %error, "a schedule cannot run");
                    continue;
                }
            };
            if let Some(next) = fire_due(store, executor, &flow, &model, &schedule, now).await? {
                earliest = Some(earliest.map_or(next, |e| e.min(next)));
            }
        }
    }
    Ok(earliest)
}

fn schedule(trigger: &Trigger) -> Result<Option<Schedule>, String> {
    let on_dates = match trigger.kind.map(|k| k.alias) {
        _ if trigger.disabled => return Ok(None),
        Some("trigger.Schedule") => false,
        Some("trigger.ScheduleOnDates") => true,
        _ => return Ok(None),
    };
    let props = trigger.node.to_json();
    let text = |name: &str| props.get(name).and_then(Value::as_str);
    let zone_name = text("timezone").unwrap_or("Etc/UTC");
    let zone =
        TimeZone::get(zone_name).map_err(|e| format!("unknown time zone {zone_name:?}: {e}"))?;
    let times = if on_dates {
        Times::Dates(dates(props.get("dates").unwrap_or(&Value::Null), &zone)?)
    } else {
        Times::Cron(
            text("cron")
                .ok_or("no `cron`")?
                .parse()
                .map_err(|e| format!("bad cron: {e}"))?,
        )
    };
    let recover = match text("recoverMissedSchedules")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("ALL") => Recover::All,
        Some("LAST") => Recover::Last,
        Some("NONE") => Recover::None,
        Some(other) => {
            return Err(format!(
                "recoverMissedSchedules is ALL, LAST or NONE, not {other:?}"
            ));
        }
    };
    let backfill_start = props
        .get("backfill")
        .and_then(|b| b.get("start"))
        .and_then(Value::as_str)
        .map(|start| parse_time(start, &zone))
        .transpose()?;
    Ok(Some(Schedule {
        id: trigger.id.value.clone(),
        times,
        zone,
        inputs: props
            .get("inputs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        recover,
        backfill_start,
        conditions: props.get("conditions").filter(|c| !c.is_null()).cloned(),
    }))
}

/// ScheduleOnDates' `dates`, rendered (they may be expressions, as in
/// Kestra) and sorted.
fn dates(written: &Value, zone: &TimeZone) -> Result<Vec<Timestamp>, String> {
    let rendered = crate::flow::expr::Renderer::new(Arc::new(crate::flow_triggers::NoSecrets))
        .render("", "dates", written, &json!({}))
        .map_err(|e| e.message)?;
    let list = match rendered {
        Value::Array(items) => items,
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => items,
            _ => vec![Value::String(text)],
        },
        Value::Null => return Err("no `dates`".into()),
        other => return Err(format!("`dates` is a list of date-times, not {other}")),
    };
    let mut dates = list
        .iter()
        .map(|d| {
            d.as_str()
                .ok_or_else(|| format!("`dates`: {d} is not a date-time"))
                .and_then(|t| parse_time(t, zone))
        })
        .collect::<Result<Vec<_>, _>>()?;
    dates.sort();
    dates.dedup();
    Ok(dates)
}

/// `2024-01-01T00:00:00Z`, `2024-01-01T00:00:00+01:00`, or a civil time
/// (`2024-01-01T00:00:00`, `2024-01-01`) in the trigger's time zone.
fn parse_time(text: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let civil = text
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| {
            text.parse::<jiff::civil::Date>()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
        .map_err(|_| format!("{text:?} is not a date or time such as 2024-01-01T00:00:00Z"))?;
    zone.to_ambiguous_zoned_datetime(civil)
        .compatible()
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}

/// The first scheduled time strictly after `after`. The cron expression is
/// read on the wall clock of the trigger's zone; a time that a DST change
/// skips runs at the moment after the gap, as Kestra does.
pub fn next_after(cron: &croner::Cron, zone: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    let wall = after.to_zoned_datetime(zone.clone()).datetime();
    let mut start = chrono::NaiveDate::from_ymd_opt(
        wall.year().into(),
        wall.month() as u32,
        wall.day() as u32,
    )?
    .and_hms_nano_opt(
        wall.hour() as u32,
        wall.minute() as u32,
        wall.second() as u32,
        wall.subsec_nanosecond() as u32,
    )?;
    // A fall-back hour repeats wall times: step past those already behind.
    for _ in 0..8 {
        let next = cron.find_next_occurrence(&start, false).ok()?;
        use chrono::{Datelike, Timelike};
        let civil = jiff::civil::DateTime::new(
            i16::try_from(next.year()).ok()?,
            next.month() as i8,
            next.day() as i8,
            next.hour() as i8,
            next.minute() as i8,
            next.second() as i8,
            0,
        )
        .ok()?;
        let at = zone
            .to_ambiguous_zoned_datetime(civil)
            .compatible()
            .ok()?
            .timestamp();
        if at > after {
            return Some(at);
        }
        start = next;
    }
    None
}

/// Starts the executions due for one trigger; returns its next time.
async fn fire_due(
    store: &Store,
    executor: &Executor,
    flow: &ScheduledFlow,
    model: &Flow,
    schedule: &Schedule,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let last = match store
        .trigger_last_date(&flow.namespace, &flow.id, &schedule.id)
        .await?
    {
        Some(ms) => Timestamp::from_millisecond(ms).unwrap_or(now),
        None => {
            // First sight: count from the backfill start, or from now.
            let from = schedule.backfill_start.unwrap_or(now);
            store
                .set_trigger_last_date(
                    &flow.namespace,
                    &flow.id,
                    &schedule.id,
                    from.as_millisecond() - 1,
                )
                .await?;
            from - Duration::from_millis(1)
        }
    };
    let mut due = Vec::new();
    let mut cursor = last;
    while let Some(next) = schedule.next_after(cursor) {
        if next > now {
            break;
        }
        due.push(next);
        cursor = next;
        if due.len() > 10 * MAX_CATCH_UP {
            // Years behind on a minutely schedule: keep the latest ones.
            due.drain(..due.len() - MAX_CATCH_UP);
        }
    }
    let fire: Vec<Timestamp> = match schedule.recover {
        // What is due now is not "missed": it runs under every policy.
        _ if due.len() <= 1 => due.clone(),
        Recover::All => due[due.len().saturating_sub(MAX_CATCH_UP)..].to_vec(),
        Recover::Last => due[due.len() - 1..].to_vec(),
        Recover::None => due
            .iter()
            .copied()
            .filter(|d| now.duration_since(*d).unsigned_abs() < Duration::from_secs(60))
            .collect(),
    };
    for at in &fire {
        start(store, executor, flow, model, schedule, *at).await?;
    }
    if let Some(latest) = due.last() {
        store
            .set_trigger_last_date(
                &flow.namespace,
                &flow.id,
                &schedule.id,
                latest.as_millisecond(),
            )
            .await?;
    }
    let next = schedule.next_after(cursor.max(now));
    store
        .set_trigger_evaluated(
            &flow.namespace,
            &flow.id,
            &schedule.id,
            next.map(Timestamp::as_millisecond),
            now.as_millisecond(),
        )
        .await?;
    Ok(next)
}

/// Starts one scheduled execution, unless it already exists.
async fn start(
    store: &Store,
    executor: &Executor,
    flow: &ScheduledFlow,
    model: &Flow,
    schedule: &Schedule,
    at: Timestamp,
) -> Result<(), StoreError> {
    let id = scheduled_id(flow, &schedule.id, at);
    if store.get_execution(&id).await?.is_some() {
        return Ok(());
    }
    let plan = match Plan::from_flow(model) {
        Ok(plan) => Arc::new(plan),
        Err(error) => {
            tracing::warn!(flow = %format!("{}.{}", flow.namespace, flow.id), %error, "a scheduled flow cannot run");
            return Ok(());
        }
    };
    let iso = |t: Timestamp| {
        t.to_zoned_datetime(schedule.zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    let previous = prev_before(schedule, at);
    let next = schedule.next_after(at);
    let trigger_vars = json!({
        "id": schedule.id,
        "type": schedule.type_name(),
        "date": iso(at),
        "next": next.map(iso),
        "previous": previous.map(iso),
    });
    if let Some(conditions) = &schedule.conditions {
        let name = format!("{}.{} trigger {}", flow.namespace, flow.id, schedule.id);
        match holds(conditions, &trigger_vars, schedule, at) {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(trigger = %name, date = %at, "the trigger's conditions do not hold at this time: nothing starts");
                return Ok(());
            }
            Err(why) => {
                tracing::warn!(trigger = %name, date = %at, %why, "the trigger's conditions cannot be checked: nothing starts");
                return Ok(());
            }
        }
    }
    let launch = Launch {
        id: Some(id),
        plan,
        flow_revision: flow.revision,
        inputs: schedule.inputs.clone(),
        labels: BTreeMap::new(),
        trigger_vars: Some(trigger_vars),
    };
    match executor.launch(launch).await {
        Ok(record) => {
            tracing::info!(execution_id = %record.id, flow = %format!("{}.{}", flow.namespace, flow.id), trigger = %schedule.id, date = %at, "scheduled execution started");
            store
                .set_trigger_fired(
                    &flow.namespace,
                    &flow.id,
                    &schedule.id,
                    record.id.as_str(),
                    Timestamp::now().as_millisecond(),
                )
                .await?;
        }
        // Another scheduler node fired this tick first.
        Err(crate::executor::ExecutionError::Store(StoreError::Duplicate(_))) => {}
        Err(error) => {
            tracing::warn!(flow = %format!("{}.{}", flow.namespace, flow.id), trigger = %schedule.id, %error, "a scheduled execution could not start")
        }
    }
    Ok(())
}

/// Whether a Schedule's conditions hold at `at`, rendered with `trigger.*`.
fn holds(
    conditions: &Value,
    trigger_vars: &Value,
    schedule: &Schedule,
    at: Timestamp,
) -> Result<bool, String> {
    use crate::task::core::condition::{Facts, When};
    let date = When {
        civil: at.to_zoned_datetime(schedule.zone.clone()).datetime(),
        instant: at,
    };
    crate::flow_triggers::conditions_hold(
        conditions,
        trigger_vars,
        &Facts {
            date: Some(date),
            execution: None,
        },
    )
}

/// The scheduled time before `at`, for `trigger.previous`.
fn prev_before(schedule: &Schedule, at: Timestamp) -> Option<Timestamp> {
    if let Times::Dates(dates) = &schedule.times {
        return dates.iter().copied().rev().find(|d| *d < at);
    }
    // Walk forward from a day before: schedules are rarely sparser than
    // daily, and a sparser one simply has no `previous`.
    let mut cursor = at - Duration::from_secs(86_400 * 32);
    let mut previous = None;
    for _ in 0..50_000 {
        match schedule.next_after(cursor) {
            Some(next) if next < at => {
                previous = Some(next);
                cursor = next;
            }
            _ => break,
        }
    }
    previous
}

/// An execution id that only this flow, trigger and time give: 22 base-62
/// digits of a 128-bit FNV-1a hash, the width of generated ids.
fn scheduled_id(flow: &ScheduledFlow, trigger: &str, at: Timestamp) -> ExecutionId {
    derived_id(&format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        flow.namespace,
        flow.id,
        trigger,
        at.as_millisecond()
    ))
}

/// An execution id that `key` decides: whoever starts the execution for
/// that key (a schedule's tick, a Flow trigger on an ended execution) on
/// whichever node makes the same id, and the store's insert refuses the
/// second one.
pub(crate) fn derived_id(key: &str) -> ExecutionId {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in key.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    let mut out = [b'0'; 22];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(hash % 62) as usize];
        hash /= 62;
    }
    ExecutionId::new(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn next_times_follow_the_wall_clock_of_the_zone_across_dst() {
        let cron: croner::Cron = "0 2 * * *".parse().unwrap();
        let paris = TimeZone::get("Europe/Paris").unwrap();
        // Winter: 02:00 in Paris is 01:00 UTC.
        assert_eq!(
            next_after(&cron, &paris, at("2026-01-10T12:00:00Z")),
            Some(at("2026-01-11T01:00:00Z"))
        );
        // Summer: 00:00 UTC.
        assert_eq!(
            next_after(&cron, &paris, at("2026-07-10T12:00:00Z")),
            Some(at("2026-07-11T00:00:00Z"))
        );
        // 2026-03-29 02:00 does not exist in Paris: it runs at 03:00 CEST (01:00 UTC).
        assert_eq!(
            next_after(&cron, &paris, at("2026-03-28T12:00:00Z")),
            Some(at("2026-03-29T01:00:00Z"))
        );
        let utc = TimeZone::UTC;
        let every_5: croner::Cron = "*/5 * * * *".parse().unwrap();
        assert_eq!(
            next_after(&every_5, &utc, at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-01T00:05:00Z"))
        );
    }

    #[test]
    fn backfill_starts_parse_in_the_zone() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            parse_time("2026-01-01", &paris).unwrap(),
            at("2025-12-31T23:00:00Z")
        );
        assert_eq!(
            parse_time("2026-01-01T00:00:00Z", &paris).unwrap(),
            at("2026-01-01T00:00:00Z")
        );
        assert!(
            parse_time("yesterday", &paris)
                .unwrap_err()
                .contains("not a date")
        );
    }
}
