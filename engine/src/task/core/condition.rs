//! Kestra's `io.kestra.plugin.core.condition` package: the conditions a
//! Schedule trigger checks against its date and a Flow trigger against
//! the execution that ended, each declared with its check.
//!
//! A caller renders a trigger's `conditions` first (`{{ trigger.date }}`
//! and the like), then [`all`] checks them with the [`Facts`] it has. A
//! condition that needs a fact the trigger lacks (a date on a Flow trigger
//! without one, an execution on a Schedule) fails with a message, as
//! Kestra refuses it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::flow::registry::Kind::{self, Any, Boolean, Conditions, Enum, Object, StringList};
use crate::flow::registry::{Category, Property, TaskType, def, ex, prop, req};

/// What a condition is checked against.
#[derive(Debug, Default)]
pub struct Facts<'a> {
    /// The trigger's date (a Schedule's scheduled time), for conditions
    /// without their own `date`.
    pub date: Option<When>,
    /// The ended execution a Flow trigger looks at.
    pub execution: Option<Execution<'a>>,
}

/// A date-time as a condition reads it: as written (its own offset's wall
/// clock), and the instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct When {
    pub civil: jiff::civil::DateTime,
    pub instant: jiff::Timestamp,
}

impl When {
    /// An ISO-8601 date or date-time, with an offset or zone (`Z`,
    /// `+01:00`, `[Europe/Paris]`) or without (read in UTC).
    pub fn parse(text: &str) -> Result<Self, std::string::String> {
        let (civil, instant) =
            crate::flow::pebble::dates::parse_written(text).ok_or_else(|| {
                format!(
                    "{text:?} is not an ISO-8601 date or date-time such as 2025-01-06T10:00:00Z"
                )
            })?;
        let instant = match instant {
            Some(instant) => instant,
            None => civil
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .map_err(|e| e.to_string())?
                .timestamp(),
        };
        Ok(Self { civil, instant })
    }

    /// The offset from UTC the date-time was written in, in nanoseconds.
    fn offset_nanos(&self) -> i128 {
        let as_utc = self
            .civil
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_nanosecond())
            .unwrap_or_default();
        as_utc - self.instant.as_nanosecond()
    }
}

/// What a Flow trigger's conditions read of an execution.
#[derive(Debug, Clone, Copy)]
pub struct Execution<'a> {
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub state: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// The flow outputs it ended with.
    pub outputs: &'a Value,
    /// The state of every attempt of its task runs that had more than one.
    pub retried: &'a [String],
}

/// A condition's check, on its rendered properties.
pub type Check = fn(&Map<String, Value>, &Facts) -> Result<bool, String>;

/// Whether every condition of a rendered `conditions` property holds (a
/// list, or Kestra's older mapping of name to condition). The first that
/// fails to evaluate gives the error.
pub fn all(conditions: &Value, facts: &Facts) -> Result<bool, String> {
    for condition in list(conditions)? {
        if !one(condition, facts)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One condition, found by its `type`.
pub fn one(condition: &Value, facts: &Facts) -> Result<bool, String> {
    let map = condition
        .as_object()
        .ok_or("a condition is a mapping with a `type`")?;
    let name = map
        .get("type")
        .and_then(Value::as_str)
        .ok_or("a condition has no `type`")?;
    let declared =
        find(name).ok_or_else(|| format!("the condition type {name:?} is not supported"))?;
    let check = declared
        .check
        .ok_or_else(|| format!("{name} is not a condition"))?;
    check(map, facts).map_err(|why| format!("{}: {why}", declared.alias))
}

/// A condition type by full name, alias, or Kestra's older names
/// (`io.kestra.core.models.conditions.types.DayWeekCondition`).
pub fn find(name: &str) -> Option<&'static TaskType> {
    if let Some(found) =
        crate::flow::registry::lookup(name).filter(|t| t.category == Category::Condition)
    {
        return Some(found);
    }
    let last = name.rsplit('.').next()?;
    let short = last.trim_end_matches("Condition");
    crate::task::TYPES.iter().find(|t| {
        t.category == Category::Condition
            && t.name
                .rsplit('.')
                .next()
                .is_some_and(|own| own == short || own == last)
    })
}

fn list(conditions: &Value) -> Result<Vec<&Value>, String> {
    match conditions {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items.iter().collect()),
        Value::Object(map) => Ok(map.values().collect()),
        _ => Err("`conditions` is a list of conditions".into()),
    }
}

const DAYS: &[&str] = &[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];

const DATE: Property = def(
    "date",
    Kind::String,
    "\"{{ trigger.date }}\"",
    "The date to check: any ISO-8601 date or date-time; the trigger's date when unset.",
);

const fn condition(
    name: &'static str,
    alias: &'static str,
    doc: &'static str,
    properties: &'static [Property],
    check: Check,
) -> TaskType {
    TaskType {
        name,
        alias,
        category: Category::Condition,
        doc,
        properties,
        outputs: &[],
        run: None,
        check: Some(check),
        aliases: &[],
    }
}

pub const EXECUTION_FLOW: TaskType = condition(
    "io.kestra.plugin.core.condition.ExecutionFlow",
    "condition.ExecutionFlow",
    "The execution is of this flow.",
    &[
        req("namespace", Kind::String, "The flow's namespace."),
        req("flowId", Kind::String, "The flow's id."),
    ],
    |p, f| {
        let e = execution(f)?;
        Ok(text(p, "namespace") == Some(e.namespace) && text(p, "flowId") == Some(e.flow_id))
    },
);

pub const EXECUTION_STATUS: TaskType = condition(
    "io.kestra.plugin.core.condition.ExecutionStatus",
    "condition.ExecutionStatus",
    "The execution ended in one of `in` and none of `notIn`.",
    &[
        ex(
            prop("in", StringList, "The states that match."),
            "[FAILED, WARNING]",
        ),
        prop("notIn", StringList, "The states that do not match."),
    ],
    |p, f| {
        let state = execution(f)?.state;
        let within = strings(p.get("in"));
        let without = strings(p.get("notIn"));
        Ok((within.is_empty() || within.iter().any(|s| s == state))
            && !without.iter().any(|s| s == state))
    },
);

pub const EXECUTION_NAMESPACE: TaskType = condition(
    "io.kestra.plugin.core.condition.ExecutionNamespace",
    "condition.ExecutionNamespace",
    "The execution's namespace is this one, or starts or ends with it.",
    &[
        req("namespace", Kind::String, "The namespace."),
        prop(
            "comparison",
            Enum {
                values: &["EQUALS", "PREFIX", "SUFFIX"],
            },
            "How to compare: EQUALS when unset (PREFIX with `prefix: true`).",
        ),
        def(
            "prefix",
            Boolean,
            "false",
            "The older form of comparison: PREFIX.",
        ),
    ],
    |p, f| {
        let actual = execution(f)?.namespace;
        let namespace = text(p, "namespace").unwrap_or("");
        let comparison = match text(p, "comparison") {
            Some(c) => c.to_ascii_uppercase(),
            None if p.get("prefix").and_then(Value::as_bool) == Some(true) => "PREFIX".into(),
            None => "EQUALS".into(),
        };
        Ok(match comparison.as_str() {
            "PREFIX" => actual.starts_with(namespace),
            "SUFFIX" => actual.ends_with(namespace),
            _ => actual == namespace,
        })
    },
);

pub const EXECUTION_OUTPUTS: TaskType = condition(
    "io.kestra.plugin.core.condition.ExecutionOutputs",
    "condition.ExecutionOutputs",
    "The execution ended with flow outputs and `expression` (which reads them as `trigger.outputs`) is neither blank nor false.",
    &[ex(
        req(
            "expression",
            Kind::String,
            "The expression, over `trigger.outputs.<name>`.",
        ),
        "{{ trigger.outputs.rows > 0 }}",
    )],
    |p, f| {
        let outputs = execution(f)?.outputs;
        if outputs.as_object().is_none_or(|o| o.is_empty()) {
            return Ok(false);
        }
        let rendered = p.get("expression").map(plain).unwrap_or_default();
        Ok(!(rendered.trim().is_empty() || rendered.trim() == "false"))
    },
);

pub const HAS_RETRY_ATTEMPT: TaskType = condition(
    "io.kestra.plugin.core.condition.HasRetryAttempt",
    "condition.HasRetryAttempt",
    "A task of the execution was retried: one attempt of a task run with several is in `in` (when given) and not in `notIn`.",
    &[
        prop("in", StringList, "Attempt states that count."),
        prop("notIn", StringList, "Attempt states that do not count."),
    ],
    |p, f| {
        let (within, without) = (strings(p.get("in")), strings(p.get("notIn")));
        Ok(execution(f)?
            .retried
            .iter()
            .any(|state| (within.is_empty() || within.contains(state)) && !without.contains(state)))
    },
);

pub const FLOW_CONDITION: TaskType = condition(
    "io.kestra.plugin.core.condition.FlowCondition",
    "condition.FlowCondition",
    "The execution is of this flow (Kestra's older name of ExecutionFlow).",
    &[
        req("namespace", Kind::String, "The flow's namespace."),
        req("flowId", Kind::String, "The flow's id."),
    ],
    |p, f| {
        let execution = execution(f)?;
        Ok(text(p, "namespace") == Some(execution.namespace)
            && text(p, "flowId") == Some(execution.flow_id))
    },
);

pub const FLOW_NAMESPACE_CONDITION: TaskType = condition(
    "io.kestra.plugin.core.condition.FlowNamespaceCondition",
    "condition.FlowNamespaceCondition",
    "The execution's namespace is this one, or starts with it with `prefix` (Kestra's older name of ExecutionNamespace).",
    &[
        req(
            "namespace",
            Kind::String,
            "The namespace, or its start with prefix.",
        ),
        def(
            "prefix",
            Boolean,
            "false",
            "Compare the start only (case sensitive).",
        ),
    ],
    |p, f| {
        let actual = execution(f)?.namespace;
        let namespace = text(p, "namespace").unwrap_or("");
        Ok(
            if p.get("prefix")
                .is_some_and(|v| v == &Value::Bool(true) || v == "true")
            {
                actual.starts_with(namespace)
            } else {
                actual == namespace
            },
        )
    },
);

/// Kestra's TimeWindow: the period within which a MultipleCondition's (or
/// `preconditions`') conditions must all hold.
pub const TIME_WINDOW: &[Property] = &[
    def(
        "type",
        Enum {
            values: &[
                "DURATION_WINDOW",
                "SLIDING_WINDOW",
                "DAILY_TIME_DEADLINE",
                "DAILY_TIME_WINDOW",
            ],
        },
        "\"DURATION_WINDOW\"",
        "How the window is placed: fixed periods from midnight UTC (DURATION_WINDOW), a period from the first execution that counts (SLIDING_WINDOW), each day until `deadline`, or each day from `startTime` to `endTime`.",
    ),
    def(
        "window",
        Kind::Duration,
        "\"PT24H\"",
        "The length of the window.",
    ),
    prop(
        "windowAdvance",
        Kind::Duration,
        "How far after the period's start a DURATION_WINDOW starts.",
    ),
    ex(
        prop(
            "deadline",
            Kind::String,
            "DAILY_TIME_DEADLINE: the time of day (UTC) the conditions must all hold by.",
        ),
        "09:00:00",
    ),
    prop(
        "startTime",
        Kind::String,
        "DAILY_TIME_WINDOW: the time of day (UTC) the window opens.",
    ),
    prop(
        "endTime",
        Kind::String,
        "DAILY_TIME_WINDOW: the time of day (UTC) it closes.",
    ),
];

pub const MULTIPLE_CONDITION: TaskType = condition(
    "io.kestra.plugin.core.condition.MultipleCondition",
    "condition.MultipleCondition",
    "On a Flow trigger: every one of its conditions must have held, each for some ended execution, within one time window (two upstream flows both succeeded today). Once they all have, the flow starts and the window starts over.",
    &[
        ex(
            req(
                "id",
                Kind::String,
                "The condition's id, unique in the flow: what held so far is kept under it.",
            ),
            "upstreams",
        ),
        req(
            "conditions",
            Conditions,
            "The conditions, by name (a mapping), each checked against every ended execution.",
        ),
        prop(
            "timeWindow",
            Object {
                properties: TIME_WINDOW,
            },
            "The window; a day from midnight UTC when unset.",
        ),
        prop(
            "window",
            Kind::Duration,
            "The older form of timeWindow.window.",
        ),
        prop(
            "windowAdvance",
            Kind::Duration,
            "The older form of timeWindow.windowAdvance.",
        ),
        def(
            "resetOnSuccess",
            Boolean,
            "true",
            "Start over once they all held; false fires again on each execution that matches later in the window.",
        ),
    ],
    |_, _| {
        Err(
            "MultipleCondition counts executions within a window: it belongs on a Flow trigger"
                .into(),
        )
    },
);

/// Where the window that contains `now` (Unix ms) starts and ends, both
/// included, as Kestra's MultipleConditionStorageInterface places it (in UTC).
pub fn window_at(
    spec: &Map<std::string::String, Value>,
    now: i64,
) -> Result<(i64, i64), std::string::String> {
    let time_window = spec.get("timeWindow").and_then(Value::as_object);
    // `window` and `windowAdvance` may also sit on a MultipleCondition itself
    // (its older form); `type` there is the condition's own.
    let field = |name: &str| {
        time_window
            .and_then(|w| w.get(name))
            .or_else(|| if name == "type" { None } else { spec.get(name) })
            .and_then(Value::as_str)
    };
    let duration = |name: &str| -> Result<Option<i64>, std::string::String> {
        field(name)
            .map(|t| {
                super::parse_duration(t)
                    .map(|d| d.as_millis() as i64)
                    .map_err(|e| format!("{name}: {e}"))
            })
            .transpose()
    };
    let time_of_day = |name: &str| -> Result<i64, std::string::String> {
        let text =
            field(name).ok_or_else(|| format!("timeWindow.{name} is required for this type"))?;
        let time: jiff::civil::Time = text.parse().map_err(|_| {
            format!("timeWindow.{name}: {text:?} is not a time of day such as 09:00:00")
        })?;
        Ok(i64::from(time.hour()) * 3_600_000
            + i64::from(time.minute()) * 60_000
            + i64::from(time.second()) * 1000)
    };
    const DAY: i64 = 86_400_000;
    let now = now - now.rem_euclid(1000);
    let midnight = now - now.rem_euclid(DAY);
    let kind = field("type")
        .unwrap_or("DURATION_WINDOW")
        .to_ascii_uppercase();
    Ok(match kind.as_str() {
        "DURATION_WINDOW" => {
            let window = duration("window")?.unwrap_or(DAY).max(1000);
            // Kestra's truncation: to the day for a window of a day or
            // more, to the hour for one of an hour or more, else to a
            // multiple of the window's minutes within the hour.
            let hour = now - now.rem_euclid(3_600_000);
            let minutes = window / 60_000;
            let start = if window >= DAY {
                midnight
            } else if window >= 3_600_000 {
                hour + 60_000 * (minutes * ((now - hour) / 60_000 / minutes.max(1)))
            } else if minutes > 0 {
                hour + 60_000 * (minutes * ((now - hour) / 60_000 / minutes))
            } else {
                now
            };
            let start = start + duration("windowAdvance")?.unwrap_or(0);
            (start, start + window - 1)
        }
        "SLIDING_WINDOW" => (now, now + duration("window")?.unwrap_or(DAY)),
        "DAILY_TIME_WINDOW" => (
            midnight + time_of_day("startTime")?,
            midnight + time_of_day("endTime")?,
        ),
        "DAILY_TIME_DEADLINE" => (midnight, midnight + time_of_day("deadline")?),
        other => {
            return Err(format!(
                "timeWindow.type {other:?} is not DURATION_WINDOW, SLIDING_WINDOW, DAILY_TIME_DEADLINE or DAILY_TIME_WINDOW"
            ));
        }
    })
}

pub const PUBLIC_HOLIDAY: TaskType = condition(
    "io.kestra.plugin.core.condition.PublicHoliday",
    "condition.PublicHoliday",
    "The date is a national public holiday of the country (AT, BE, DE, ES, FR, GB, IE, IT, NL, PL, PT, US; substitute days and regional holidays are not counted).",
    &[
        DATE,
        ex(
            req(
                "country",
                Kind::String,
                "The ISO 3166-1 alpha-2 country code.",
            ),
            "FR",
        ),
        prop(
            "subDivision",
            Kind::String,
            "A subdivision, as Jollyday names it (`by`) or by ISO 3166-2 (`DE-BY`): Germany's states; another is refused, naming those known.",
        ),
    ],
    |p, f| {
        super::holidays::is_holiday(
            text(p, "country").unwrap_or_default(),
            text(p, "subDivision"),
            date(p, f)?,
        )
    },
);

pub const EXECUTION_LABELS: TaskType = condition(
    "io.kestra.plugin.core.condition.ExecutionLabels",
    "condition.ExecutionLabels",
    "The execution has every one of these labels.",
    &[ex(
        req(
            "labels",
            Any,
            "The labels, as a mapping or a list of {key, value}.",
        ),
        "{ team: data }",
    )],
    |p, f| {
        let have = execution(f)?.labels;
        let wanted: Vec<(std::string::String, std::string::String)> = match p.get("labels") {
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), plain(v))).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    Some((
                        item.get("key")?.as_str()?.to_owned(),
                        plain(item.get("value")?),
                    ))
                })
                .collect::<Option<_>>()
                .ok_or("`labels` items are {key, value}")?,
            _ => return Err("`labels` is a mapping or a list of {key, value}".into()),
        };
        Ok(wanted.iter().all(|(k, v)| have.get(k) == Some(v)))
    },
);

pub const EXPRESSION: TaskType = TaskType {
    // Kestra's oldest name of it.
    aliases: &["io.kestra.core.models.conditions.types.VariableCondition"],
    ..condition(
        "io.kestra.plugin.core.condition.Expression",
        "condition.Expression",
        "The expression renders to something other than blank or false.",
        &[ex(
            req("expression", Kind::String, "The expression."),
            "{{ trigger.state == 'FAILED' }}",
        )],
        |p, _| {
            Ok(match p.get("expression") {
                Some(Value::String(s)) => !(s.trim().is_empty() || s.trim() == "false"),
                Some(Value::Bool(b)) => *b,
                Some(Value::Null) | None => false,
                Some(_) => true,
            })
        },
    )
};

pub const DAY_WEEK: TaskType = condition(
    "io.kestra.plugin.core.condition.DayWeek",
    "condition.DayWeek",
    "The date is on this day of the week.",
    &[
        DATE,
        ex(
            req("dayOfWeek", Enum { values: DAYS }, "The day."),
            "MONDAY",
        ),
    ],
    |p, f| Ok(day_name(date(p, f)?.weekday()) == text(p, "dayOfWeek").unwrap_or("")),
);

pub const DAY_WEEK_IN_MONTH: TaskType = condition(
    "io.kestra.plugin.core.condition.DayWeekInMonth",
    "condition.DayWeekInMonth",
    "The date is the first (second, third, fourth or last) given day of the week of its month.",
    &[
        DATE,
        ex(
            req("dayOfWeek", Enum { values: DAYS }, "The day."),
            "MONDAY",
        ),
        req(
            "dayInMonth",
            Enum {
                values: &["FIRST", "SECOND", "THIRD", "FOURTH", "LAST"],
            },
            "Which of the month's such days.",
        ),
    ],
    |p, f| {
        let day = date(p, f)?;
        if day_name(day.weekday()) != text(p, "dayOfWeek").unwrap_or("") {
            return Ok(false);
        }
        let nth = (day.day() - 1) / 7 + 1;
        Ok(match text(p, "dayInMonth").unwrap_or("") {
            "FIRST" => nth == 1,
            "SECOND" => nth == 2,
            "THIRD" => nth == 3,
            "FOURTH" => nth == 4,
            "LAST" => i16::from(day.day()) + 7 > i16::from(day.days_in_month()),
            other => {
                return Err(format!(
                    "dayInMonth {other:?} is not FIRST, SECOND, THIRD, FOURTH or LAST"
                ));
            }
        })
    },
);

pub const WEEKEND: TaskType = condition(
    "io.kestra.plugin.core.condition.Weekend",
    "condition.Weekend",
    "The date is a Saturday or a Sunday.",
    &[DATE],
    |p, f| {
        Ok(matches!(
            date(p, f)?.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ))
    },
);

pub const TIME_BETWEEN: TaskType = condition(
    "io.kestra.plugin.core.condition.TimeBetween",
    "condition.TimeBetween",
    "The date's time of day is after `after` and before `before` (times with an offset, such as 09:00:00+01:00), compared as Java's OffsetTime does.",
    &[
        def(
            "date",
            Kind::String,
            "\"{{ trigger.date }}\"",
            "The date-time to check; the trigger's date when unset.",
        ),
        ex(
            prop("after", Kind::String, "The earliest time, excluded."),
            "08:00:00+01:00",
        ),
        ex(
            prop("before", Kind::String, "The latest time, excluded."),
            "18:00:00+01:00",
        ),
    ],
    |p, f| {
        let at = offset_time(&when(p, f)?);
        between(p, at, |t| parse_offset_time(t))
    },
);

pub const DATE_TIME_BETWEEN: TaskType = condition(
    "io.kestra.plugin.core.condition.DateTimeBetween",
    "condition.DateTimeBetween",
    "The date is after `after` and before `before` (date-times with a zone or offset).",
    &[
        def(
            "date",
            Kind::String,
            "\"{{ trigger.date }}\"",
            "The date-time to check; the trigger's date when unset.",
        ),
        ex(
            prop("after", Kind::String, "The earliest date-time, excluded."),
            "2025-01-01T00:00:00Z",
        ),
        ex(
            prop("before", Kind::String, "The latest date-time, excluded."),
            "2025-12-31T23:59:59Z",
        ),
    ],
    |p, f| {
        let at = when(p, f)?.instant.as_nanosecond();
        between(p, at, |t| When::parse(t).map(|w| w.instant.as_nanosecond()))
    },
);

pub const NOT: TaskType = condition(
    "io.kestra.plugin.core.condition.Not",
    "condition.Not",
    "None of its conditions holds.",
    &[req(
        "conditions",
        Conditions,
        "The conditions that must all be false.",
    )],
    |p, f| {
        for condition in list(p.get("conditions").unwrap_or(&Value::Null))? {
            if one(condition, f)? {
                return Ok(false);
            }
        }
        Ok(true)
    },
);

pub const OR: TaskType = condition(
    "io.kestra.plugin.core.condition.Or",
    "condition.Or",
    "At least one of its conditions holds.",
    &[req(
        "conditions",
        Conditions,
        "The conditions, one of which must be true.",
    )],
    |p, f| {
        for condition in list(p.get("conditions").unwrap_or(&Value::Null))? {
            if one(condition, f)? {
                return Ok(true);
            }
        }
        Ok(false)
    },
);

/// The states a list names, upper case.
pub fn strings(value: Option<&Value>) -> Vec<std::string::String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_uppercase)
            .collect(),
        Some(Value::String(one)) => vec![one.to_ascii_uppercase()],
        _ => Vec::new(),
    }
}

fn text<'a>(p: &'a Map<std::string::String, Value>, name: &str) -> Option<&'a str> {
    p.get(name).and_then(Value::as_str)
}

fn plain(value: &Value) -> std::string::String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn execution<'a>(f: &Facts<'a>) -> Result<Execution<'a>, std::string::String> {
    f.execution
        .ok_or_else(|| "this condition reads an execution: use it on a Flow trigger".into())
}

fn day_name(day: jiff::civil::Weekday) -> &'static str {
    DAYS[usize::from(day.to_monday_zero_offset().unsigned_abs())]
}

/// The condition's `date`, else the trigger's.
fn when(p: &Map<std::string::String, Value>, f: &Facts) -> Result<When, std::string::String> {
    match text(p, "date").filter(|d| !d.trim().is_empty()) {
        Some(text) => When::parse(text),
        None => f.date.ok_or_else(|| {
            "this condition reads a date: give it `date`, or use it on a Schedule".into()
        }),
    }
}

fn date(
    p: &Map<std::string::String, Value>,
    f: &Facts,
) -> Result<jiff::civil::Date, std::string::String> {
    Ok(when(p, f)?.civil.date())
}

/// Java's OffsetTime order: the time of day less the offset, unwrapped.
fn offset_time(at: &When) -> i128 {
    let t = at.civil.time();
    let local = i128::from(t.hour()) * 3_600_000_000_000
        + i128::from(t.minute()) * 60_000_000_000
        + i128::from(t.second()) * 1_000_000_000
        + i128::from(t.subsec_nanosecond());
    local - at.offset_nanos()
}

fn parse_offset_time(text: &str) -> Result<i128, std::string::String> {
    // A time with an offset, read on any day.
    let at = When::parse(&format!("2000-01-01T{}", text.trim()))
        .map_err(|_| format!("{text:?} is not a time with an offset such as 09:00:00+01:00"))?;
    Ok(offset_time(&at))
}

fn between(
    p: &Map<std::string::String, Value>,
    at: i128,
    parse: impl Fn(&str) -> Result<i128, std::string::String>,
) -> Result<bool, std::string::String> {
    let after = text(p, "after").map(&parse).transpose()?;
    let before = text(p, "before").map(&parse).transpose()?;
    match (after, before) {
        (None, None) => Err("give `after`, `before` or both".into()),
        (after, before) => Ok(after.is_none_or(|a| at > a) && before.is_none_or(|b| at < b)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn on(date: &str, condition: Value) -> Result<bool, std::string::String> {
        one(
            &condition,
            &Facts {
                date: Some(When::parse(date).unwrap()),
                execution: None,
            },
        )
    }

    #[test]
    fn dates_are_checked_as_kestra_checks_them() {
        // 2026-12-05 is a Saturday, 2026-12-07 a Monday.
        assert_eq!(
            on(
                "2026-12-05T02:00:00+01:00",
                json!({"type": "io.kestra.plugin.core.condition.Weekend"})
            ),
            Ok(true)
        );
        assert_eq!(
            on(
                "2026-12-07T02:00:00+01:00",
                json!({"type": "condition.Weekend"})
            ),
            Ok(false)
        );
        // The date's own offset decides the day: Sunday 23:30 in UTC-5 is Monday in UTC.
        assert_eq!(
            on(
                "2026-12-06T23:30:00-05:00",
                json!({"type": "condition.Weekend"})
            ),
            Ok(true)
        );
        assert_eq!(
            on(
                "2026-12-07T08:00:00Z",
                json!({"type": "condition.DayWeek", "dayOfWeek": "MONDAY"})
            ),
            Ok(true)
        );
        assert_eq!(
            on(
                "2026-12-07T08:00:00Z",
                json!({"type": "io.kestra.core.models.conditions.types.DayWeekCondition", "dayOfWeek": "TUESDAY"})
            ),
            Ok(false)
        );
        // A `date` of its own wins over the trigger's.
        assert_eq!(
            on(
                "2026-12-07T08:00:00Z",
                json!({"type": "condition.DayWeek", "dayOfWeek": "SATURDAY", "date": "2026-12-05"})
            ),
            Ok(true)
        );
        // December 2026: Mondays 7, 14, 21, 28.
        let nth = |date: &str, which: &str| {
            on(
                date,
                json!({"type": "condition.DayWeekInMonth", "dayOfWeek": "MONDAY", "dayInMonth": which}),
            )
        };
        assert_eq!(nth("2026-12-07T00:00:00Z", "FIRST"), Ok(true));
        assert_eq!(nth("2026-12-14T00:00:00Z", "SECOND"), Ok(true));
        assert_eq!(nth("2026-12-21T00:00:00Z", "THIRD"), Ok(true));
        assert_eq!(nth("2026-12-28T00:00:00Z", "FOURTH"), Ok(true));
        assert_eq!(nth("2026-12-28T00:00:00Z", "LAST"), Ok(true));
        assert_eq!(nth("2026-12-21T00:00:00Z", "LAST"), Ok(false));
        assert_eq!(nth("2026-12-08T00:00:00Z", "FIRST"), Ok(false));
    }

    #[test]
    fn between_excludes_its_bounds_and_needs_one() {
        let time = |date: &str, after: &str, before: &str| {
            on(
                date,
                json!({"type": "condition.TimeBetween", "after": after, "before": before}),
            )
        };
        assert_eq!(
            time(
                "2026-12-07T10:00:00+01:00",
                "08:00:00+01:00",
                "18:00:00+01:00"
            ),
            Ok(true)
        );
        assert_eq!(
            time(
                "2026-12-07T08:00:00+01:00",
                "08:00:00+01:00",
                "18:00:00+01:00"
            ),
            Ok(false)
        );
        // 09:30 UTC is 10:30 at +01:00.
        assert_eq!(
            time("2026-12-07T09:30:00Z", "10:00:00+01:00", "11:00:00+01:00"),
            Ok(true)
        );
        let span = |date: &str| {
            on(
                date,
                json!({"type": "condition.DateTimeBetween", "after": "2026-01-01T00:00:00Z", "before": "2027-01-01T00:00:00+01:00"}),
            )
        };
        assert_eq!(span("2026-12-31T23:30:00Z"), Ok(false));
        assert_eq!(span("2026-12-31T22:30:00Z"), Ok(true));
        assert!(
            on(
                "2026-12-07T09:30:00Z",
                json!({"type": "condition.TimeBetween"})
            )
            .unwrap_err()
            .contains("after")
        );
    }

    #[test]
    fn not_or_and_expressions_combine() {
        let weekend = json!({"type": "condition.Weekend"});
        let monday = json!({"type": "condition.DayWeek", "dayOfWeek": "MONDAY"});
        assert_eq!(
            on(
                "2026-12-07T00:00:00Z",
                json!({"type": "condition.Not", "conditions": [weekend]})
            ),
            Ok(true)
        );
        assert_eq!(
            on(
                "2026-12-05T00:00:00Z",
                json!({"type": "condition.Or", "conditions": [monday, weekend]})
            ),
            Ok(true)
        );
        assert_eq!(
            on(
                "2026-12-08T00:00:00Z",
                json!({"type": "condition.Or", "conditions": [monday, weekend]})
            ),
            Ok(false)
        );
        assert_eq!(
            on(
                "2026-12-08T00:00:00Z",
                json!({"type": "condition.Expression", "expression": " false "})
            ),
            Ok(false)
        );
        assert_eq!(
            on(
                "2026-12-08T00:00:00Z",
                json!({"type": "condition.Expression", "expression": "yes"})
            ),
            Ok(true)
        );
        let error = on(
            "2026-12-08T00:00:00Z",
            json!({"type": "condition.ExecutionFlow", "namespace": "a", "flowId": "b"}),
        )
        .unwrap_err();
        assert!(error.contains("Flow trigger"), "{error}");
    }

    #[test]
    fn executions_are_matched_by_flow_state_namespace_and_labels() {
        let labels = BTreeMap::from([("team".to_owned(), "data".to_owned())]);
        let outputs = json!({"rows": 3});
        let retried = vec!["FAILED".to_owned(), "SUCCESS".to_owned()];
        let facts = Facts {
            date: None,
            execution: Some(Execution {
                namespace: "company.team",
                flow_id: "etl",
                state: "FAILED",
                labels: &labels,
                outputs: &outputs,
                retried: &retried,
            }),
        };
        let check = |c: Value| one(&c, &facts);
        assert_eq!(
            check(
                json!({"type": "condition.ExecutionFlow", "namespace": "company.team", "flowId": "etl"})
            ),
            Ok(true)
        );
        assert_eq!(
            check(json!({"type": "condition.ExecutionStatus", "in": ["FAILED", "WARNING"]})),
            Ok(true)
        );
        assert_eq!(
            check(json!({"type": "condition.ExecutionStatus", "notIn": ["FAILED"]})),
            Ok(false)
        );
        assert_eq!(
            check(
                json!({"type": "condition.ExecutionNamespace", "namespace": "company", "comparison": "PREFIX"})
            ),
            Ok(true)
        );
        assert_eq!(
            check(json!({"type": "condition.ExecutionNamespace", "namespace": "company"})),
            Ok(false)
        );
        assert_eq!(
            check(
                json!({"type": "condition.ExecutionNamespace", "namespace": "team", "comparison": "SUFFIX"})
            ),
            Ok(true)
        );
        assert_eq!(
            check(json!({"type": "condition.ExecutionLabels", "labels": {"team": "data"}})),
            Ok(true)
        );
        assert_eq!(
            check(
                json!({"type": "condition.ExecutionLabels", "labels": [{"key": "team", "value": "ops"}]})
            ),
            Ok(false)
        );
        // As rendered: the expression has already read trigger.outputs.
        assert_eq!(
            check(json!({"type": "condition.ExecutionOutputs", "expression": "true"})),
            Ok(true)
        );
        assert_eq!(
            check(json!({"type": "condition.ExecutionOutputs", "expression": " false "})),
            Ok(false)
        );
        assert_eq!(
            check(json!({"type": "condition.HasRetryAttempt"})),
            Ok(true)
        );
        assert_eq!(
            check(json!({"type": "condition.HasRetryAttempt", "in": ["KILLED"]})),
            Ok(false)
        );
        assert_eq!(
            check(json!({"type": "condition.HasRetryAttempt", "notIn": ["FAILED", "SUCCESS"]})),
            Ok(false)
        );
        assert_eq!(
            check(
                json!({"type": "io.kestra.plugin.core.condition.FlowCondition", "namespace": "company.team", "flowId": "etl"})
            ),
            Ok(true)
        );
        assert_eq!(
            check(
                json!({"type": "io.kestra.core.models.conditions.types.FlowNamespaceCondition", "namespace": "company", "prefix": true})
            ),
            Ok(true)
        );
        let none = json!({});
        let plain = Facts {
            date: None,
            execution: Some(Execution {
                outputs: &none,
                retried: &[],
                ..facts.execution.unwrap()
            }),
        };
        assert_eq!(
            one(
                &json!({"type": "condition.ExecutionOutputs", "expression": "true"}),
                &plain
            ),
            Ok(false),
            "no outputs: false"
        );
        assert_eq!(
            one(&json!({"type": "condition.HasRetryAttempt"}), &plain),
            Ok(false)
        );
    }

    #[test]
    fn windows_are_placed_as_kestra_places_them() {
        let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let place = |spec: Value, now: &str| {
            let (start, end) = window_at(spec.as_object().unwrap(), at(now)).unwrap();
            (
                jiff::Timestamp::from_millisecond(start)
                    .unwrap()
                    .to_string(),
                jiff::Timestamp::from_millisecond(end).unwrap().to_string(),
            )
        };
        let day = |s: &str, e: &str| (s.to_owned(), e.to_owned());
        assert_eq!(
            place(json!({}), "2026-12-03T16:47:12Z"),
            day("2026-12-03T00:00:00Z", "2026-12-03T23:59:59.999Z")
        );
        assert_eq!(
            place(
                json!({"window": "P1D", "windowAdvance": "P0D"}),
                "2026-12-03T16:47:12Z"
            ),
            day("2026-12-03T00:00:00Z", "2026-12-03T23:59:59.999Z")
        );
        assert_eq!(
            place(
                json!({"timeWindow": {"window": "PT6H", "windowAdvance": "PT6H"}}),
                "2026-12-03T16:47:12Z"
            ),
            day("2026-12-03T22:00:00Z", "2026-12-04T03:59:59.999Z")
        );
        assert_eq!(
            place(
                json!({"timeWindow": {"window": "PT15M"}}),
                "2026-12-03T16:47:12Z"
            ),
            day("2026-12-03T16:45:00Z", "2026-12-03T16:59:59.999Z")
        );
        assert_eq!(
            place(
                json!({"timeWindow": {"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00"}}),
                "2026-12-03T16:47:12Z"
            ),
            day("2026-12-03T00:00:00Z", "2026-12-03T09:00:00Z")
        );
        assert_eq!(
            place(
                json!({"timeWindow": {"type": "DAILY_TIME_WINDOW", "startTime": "06:00:00", "endTime": "09:00:00"}}),
                "2026-12-03T07:00:00Z"
            ),
            day("2026-12-03T06:00:00Z", "2026-12-03T09:00:00Z")
        );
        assert_eq!(
            place(
                json!({"timeWindow": {"type": "SLIDING_WINDOW", "window": "PT1H"}}),
                "2026-12-03T07:00:00.250Z"
            ),
            day("2026-12-03T07:00:00Z", "2026-12-03T08:00:00Z")
        );
        assert!(
            window_at(
                json!({"timeWindow": {"type": "DAILY_TIME_DEADLINE"}})
                    .as_object()
                    .unwrap(),
                0
            )
            .unwrap_err()
            .contains("deadline")
        );
    }
}
