//! Metrics that tasks publish (Kestra's MetricEntry): a counter, a timer
//! (kept in milliseconds, as Kestra keeps it) or a gauge, each of one task
//! run, read back per execution and aggregated per flow over time.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Store, StoreError};
use crate::ids::{ExecutionId, FlowId, Namespace, TaskId, TaskRunId};

/// A metric to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMetric {
    pub namespace: Namespace,
    pub flow_id: FlowId,
    pub task_id: Option<TaskId>,
    pub execution_id: Option<ExecutionId>,
    pub task_run_id: Option<TaskRunId>,
    /// `counter`, `timer` or `gauge`.
    pub kind: String,
    pub name: String,
    /// A timer's value is in milliseconds.
    pub value: f64,
    /// Unix milliseconds.
    pub at: i64,
    pub tags: BTreeMap<String, String>,
}

/// A stored metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRecord {
    pub id: i64,
    pub metric: NewMetric,
}

/// How an execution's metrics are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricSort {
    /// As they were published.
    #[default]
    Published,
    Name(bool),
    Timestamp(bool),
    Value(bool),
    TaskId(bool),
}

impl MetricSort {
    /// Kestra's `sort` parameter: `name`, `timestamp`, `value` or `taskId`,
    /// with `:asc` (the default) or `:desc`.
    pub fn parse(text: &str) -> Option<Self> {
        let (field, order) = text.split_once(':').unwrap_or((text, "asc"));
        let ascending = match order {
            "asc" => true,
            "desc" => false,
            _ => return None,
        };
        Some(match field {
            "name" => Self::Name(ascending),
            "timestamp" => Self::Timestamp(ascending),
            "value" => Self::Value(ascending),
            "taskId" => Self::TaskId(ascending),
            _ => return None,
        })
    }

    /// The ORDER BY clause: static text, never the caller's.
    fn clause(self) -> &'static str {
        match self {
            Self::Published => "id",
            Self::Name(true) => "name, id",
            Self::Name(false) => "name DESC, id DESC",
            Self::Timestamp(true) => "at, id",
            Self::Timestamp(false) => "at DESC, id DESC",
            Self::Value(true) => "value, id",
            Self::Value(false) => "value DESC, id DESC",
            Self::TaskId(true) => "task_id, id",
            Self::TaskId(false) => "task_id DESC, id DESC",
        }
    }
}

/// Which of an execution's metrics to read, and which page.
#[derive(Debug, Clone)]
pub struct MetricQuery {
    pub task_id: Option<String>,
    pub task_run_id: Option<String>,
    pub sort: MetricSort,
    pub limit: i64,
    pub offset: i64,
}

impl Default for MetricQuery {
    fn default() -> Self {
        Self {
            task_id: None,
            task_run_id: None,
            sort: MetricSort::default(),
            limit: i64::MAX,
            offset: 0,
        }
    }
}

type MetricRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    f64,
    i64,
    String,
);

fn record(row: MetricRow) -> Result<MetricRecord, StoreError> {
    let (id, namespace, flow_id, task_id, execution_id, task_run_id, kind, name, value, at, tags) =
        row;
    Ok(MetricRecord {
        id,
        metric: NewMetric {
            namespace: Namespace::new(namespace),
            flow_id: FlowId::new(flow_id),
            task_id: task_id.map(TaskId::new),
            execution_id: execution_id.map(ExecutionId::new),
            task_run_id: task_run_id.map(TaskRunId::new),
            kind,
            name,
            value,
            at,
            tags: serde_json::from_str(&tags)
                .map_err(|e| StoreError::Corrupt(format!("metric {id}'s tags: {e}")))?,
        },
    })
}

impl Store {
    /// Stores metrics in one transaction.
    pub async fn insert_metrics(&self, metrics: &[NewMetric]) -> Result<(), StoreError> {
        use super::WritePool as _;
        if metrics.is_empty() {
            return Ok(());
        }
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            for m in metrics {
                let tags = serde_json::to_string(&m.tags).unwrap_or_else(|_| "{}".into());
                sqlx::query(
                    "INSERT INTO metrics (namespace, flow_id, task_id, execution_id, task_run_id, type, name, value, at, tags)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(m.namespace.as_str())
                .bind(m.flow_id.as_str())
                .bind(m.task_id.as_ref().map(TaskId::as_str))
                .bind(m.execution_id.as_ref().map(ExecutionId::as_str))
                .bind(m.task_run_id.as_ref().map(TaskRunId::as_str))
                .bind(&m.kind)
                .bind(&m.name)
                .bind(m.value)
                .bind(m.at)
                .bind(tags)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// An execution's metrics that `query` selects, and how many it
    /// selects in all.
    pub async fn execution_metrics(
        &self,
        execution_id: &ExecutionId,
        query: &MetricQuery,
    ) -> Result<(Vec<MetricRecord>, i64), StoreError> {
        let filter = "WHERE execution_id = $1 AND ($2 IS NULL OR task_id = $2) AND ($3 IS NULL OR task_run_id = $3)";
        let sql = format!(
            "SELECT id, namespace, flow_id, task_id, execution_id, task_run_id, type, name, value, at, tags
             FROM metrics {filter} ORDER BY {} LIMIT $4 OFFSET $5",
            query.sort.clause()
        );
        let count_sql = format!("SELECT COUNT(*) FROM metrics {filter}");
        let (rows, total): (Vec<MetricRow>, i64) = with_pool!(&self.pool, |pool, d| {
            let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(execution_id.as_str())
                .bind(query.task_id.as_deref())
                .bind(query.task_run_id.as_deref())
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(pool)
                .await?;
            let total = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone()))
                .bind(execution_id.as_str())
                .bind(query.task_id.as_deref())
                .bind(query.task_run_id.as_deref())
                .fetch_one(pool)
                .await?;
            Ok::<_, StoreError>((rows, total))
        })?;
        Ok((
            rows.into_iter().map(record).collect::<Result<_, _>>()?,
            total,
        ))
    }

    /// The names of a flow's metrics (of one of its tasks if given), sorted.
    pub async fn metric_names(
        &self,
        namespace: &str,
        flow_id: &str,
        task_id: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| {
            sqlx::query_scalar(
                "SELECT DISTINCT name FROM metrics
                 WHERE namespace = $1 AND flow_id = $2 AND ($3 IS NULL OR task_id = $3) ORDER BY name",
            )
            .bind(namespace)
            .bind(flow_id)
            .bind(task_id)
            .fetch_all(pool)
            .await
        })?)
    }

    /// The tasks of a flow that published metrics, sorted.
    pub async fn metric_tasks(
        &self,
        namespace: &str,
        flow_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| {
            sqlx::query_scalar(
                "SELECT DISTINCT task_id FROM metrics
                 WHERE namespace = $1 AND flow_id = $2 AND task_id IS NOT NULL ORDER BY task_id",
            )
            .bind(namespace)
            .bind(flow_id)
            .fetch_all(pool)
            .await
        })?)
    }

    /// The (time, value) of a flow's metric `name` (of one task if given)
    /// published from `start` to `end` (Unix milliseconds, both included).
    pub async fn metric_values(
        &self,
        namespace: &str,
        flow_id: &str,
        task_id: Option<&str>,
        name: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(
                "SELECT at, value FROM metrics
                 WHERE namespace = $1 AND flow_id = $2 AND ($3 IS NULL OR task_id = $3)
                   AND name = $4 AND at >= $5 AND at <= $6 ORDER BY at",
            )
            .bind(namespace)
            .bind(flow_id)
            .bind(task_id)
            .bind(name)
            .bind(start)
            .bind(end)
            .fetch_all(pool)
            .await
        })?)
    }
}

/// How metrics over a time range are put in buckets: by Kestra's rule, from
/// the length of the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Month,
    Week,
    Day,
    Hour,
    Minute,
}

impl GroupBy {
    /// More than 365 days: months; more than 180: weeks; more than one:
    /// days; more than 6 hours: hours; else minutes.
    pub fn for_range(start: i64, end: i64) -> Self {
        let ms = end.saturating_sub(start);
        let days = ms / 86_400_000;
        let hours = ms / 3_600_000;
        if days > 365 {
            Self::Month
        } else if days > 180 {
            Self::Week
        } else if days > 1 {
            Self::Day
        } else if hours > 6 {
            Self::Hour
        } else {
            Self::Minute
        }
    }

    /// The start of the bucket holding `ms` (UTC calendar units; a week
    /// starts on Monday).
    fn bucket(self, ms: i64) -> i64 {
        use jiff::civil::Weekday;
        let Ok(at) = jiff::Timestamp::from_millisecond(ms) else {
            return ms;
        };
        let dt = at.to_zoned_datetime(jiff::tz::TimeZone::UTC).datetime();
        let day = dt.date();
        let start = match self {
            Self::Month => day
                .first_of_month()
                .to_datetime(jiff::civil::Time::midnight()),
            Self::Week => {
                let back = i64::from(day.weekday().since(Weekday::Monday));
                day.checked_sub(jiff::Span::new().days(back))
                    .unwrap_or(day)
                    .to_datetime(jiff::civil::Time::midnight())
            }
            Self::Day => day.to_datetime(jiff::civil::Time::midnight()),
            Self::Hour => day.at(dt.hour(), 0, 0, 0),
            Self::Minute => day.at(dt.hour(), dt.minute(), 0, 0),
        };
        jiff::tz::TimeZone::UTC
            .to_ambiguous_zoned_datetime(start)
            .compatible()
            .map_or(ms, |z| z.timestamp().as_millisecond())
    }

    /// `ms` moved on by one bucket.
    fn step(self, ms: i64) -> i64 {
        let span = match self {
            Self::Month => jiff::Span::new().months(1),
            Self::Week => jiff::Span::new().weeks(1),
            Self::Day => jiff::Span::new().days(1),
            Self::Hour => jiff::Span::new().hours(1),
            Self::Minute => jiff::Span::new().minutes(1),
        };
        jiff::Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC))
            .and_then(|z| z.checked_add(span).ok())
            .map_or(i64::MAX, |z| z.timestamp().as_millisecond())
    }
}

/// Kestra's `avg`, `sum`, `min` or `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Avg,
    Sum,
    Min,
    Max,
}

impl Aggregation {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "avg" => Self::Avg,
            "sum" => Self::Sum,
            "min" => Self::Min,
            "max" => Self::Max,
            _ => return None,
        })
    }

    fn of(self, values: &[f64]) -> f64 {
        match self {
            Self::Sum => values.iter().sum(),
            Self::Avg => values.iter().sum::<f64>() / values.len().max(1) as f64,
            Self::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
            Self::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// One bucket of an aggregation: Kestra's MetricAggregation (`name` is
/// absent, and `value` 0, where the bucket holds no metric).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub value: f64,
    /// Unix milliseconds.
    #[serde(skip)]
    pub date: i64,
}

/// The values of a metric aggregated per bucket from `start` to `end`,
/// every bucket present, as Kestra fills them: a bucket with no value has
/// the time it was reached from `start`, one with values its own start.
/// Unlike Kestra's fill, which stops a whole unit before `end` and so
/// leaves out today's values from its default range, the bucket that holds
/// `end` is kept.
pub fn aggregate(
    name: &str,
    values: &[(i64, f64)],
    start: i64,
    end: i64,
    aggregation: Aggregation,
) -> (GroupBy, Vec<Bucket>) {
    let group = GroupBy::for_range(start, end);
    let mut by_bucket: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (at, value) in values {
        by_bucket.entry(group.bucket(*at)).or_default().push(*value);
    }
    let mut buckets = Vec::new();
    let mut current = start;
    let last = group.bucket(end);
    while group.bucket(current) <= last && buckets.len() < 100_000 {
        let key = group.bucket(current);
        buckets.push(match by_bucket.get(&key) {
            Some(found) => Bucket {
                name: Some(name.to_owned()),
                value: aggregation.of(found),
                date: key,
            },
            None => Bucket {
                name: None,
                value: 0.0,
                date: current,
            },
        });
        current = group.step(current);
    }
    (group, buckets)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn ranges_pick_kestras_buckets() {
        assert_eq!(GroupBy::for_range(0, 30 * DAY), GroupBy::Day);
        assert_eq!(GroupBy::for_range(0, 200 * DAY), GroupBy::Week);
        assert_eq!(GroupBy::for_range(0, 400 * DAY), GroupBy::Month);
        assert_eq!(GroupBy::for_range(0, 7 * 3_600_000), GroupBy::Hour);
        assert_eq!(GroupBy::for_range(0, 3_600_000), GroupBy::Minute);
    }

    #[test]
    fn values_are_aggregated_per_day_and_empty_days_are_filled() {
        // 2026-01-01T00:00Z is 1767225600000.
        let start = 1_767_225_600_000 + 3_600_000;
        let values = [
            (start + 60_000, 2.0),
            (start + 120_000, 4.0),
            (start + 2 * DAY, 10.0),
        ];
        let (group, buckets) = aggregate("n", &values, start, start + 3 * DAY, Aggregation::Sum);
        assert_eq!(group, GroupBy::Day);
        assert_eq!(buckets.len(), 4, "the day `end` falls in is kept");
        assert_eq!(buckets[0].value, 6.0);
        assert_eq!(buckets[0].date, 1_767_225_600_000, "the day's start");
        assert_eq!(buckets[1].name, None);
        assert_eq!(buckets[1].value, 0.0);
        assert_eq!(buckets[1].date, start + DAY, "where the range reached");
        assert_eq!(buckets[2].value, 10.0);
        let (_, avg) = aggregate("n", &values, start, start + 3 * DAY, Aggregation::Avg);
        assert_eq!(avg[0].value, 3.0);
        let (_, max) = aggregate("n", &values, start, start + 3 * DAY, Aggregation::Max);
        assert_eq!(max[0].value, 4.0);
        let (_, min) = aggregate("n", &values, start, start + 3 * DAY, Aggregation::Min);
        assert_eq!(min[0].value, 2.0);
    }
}
