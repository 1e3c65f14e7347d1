//! What the scheduler keeps: where each Schedule trigger is, and the flows
//! that have one.

use super::{Store, StoreError};
use crate::ids::{FlowId, Namespace};

/// A flow's current revision, for the scheduler.
#[derive(Debug, Clone)]
pub struct ScheduledFlow {
    pub namespace: Namespace,
    pub id: FlowId,
    pub revision: i64,
    pub source: String,
}

impl Store {
    /// The current revisions of the flows that may have a Schedule trigger
    /// (their source names one; the scheduler parses them to be sure).
    pub async fn scheduled_flows(&self) -> Result<Vec<ScheduledFlow>, StoreError> {
        self.flows_with_source_like("%Schedule%").await
    }

    /// The current revisions of the flows whose source matches a LIKE
    /// pattern: a cheap first filter before parsing.
    pub async fn flows_with_source_like(
        &self,
        pattern: &str,
    ) -> Result<Vec<ScheduledFlow>, StoreError> {
        let rows: Vec<(String, String, i64, String)> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(
            "SELECT namespace, id, revision, source FROM flows WHERE deleted = 0 AND source LIKE $1 ORDER BY namespace, id",
        )
        .bind(pattern)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(namespace, id, revision, source)| ScheduledFlow {
                namespace: Namespace::new(namespace),
                id: FlowId::new(id),
                revision,
                source,
            })
            .collect())
    }

    /// The last scheduled time (Unix ms) a trigger fired for, if it has a
    /// record.
    pub async fn trigger_last_date(
        &self,
        namespace: &Namespace,
        flow_id: &FlowId,
        trigger_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| {
            sqlx::query_scalar("SELECT last_date FROM triggers WHERE namespace = $1 AND flow_id = $2 AND trigger_id = $3")
            .bind(namespace.as_str())
            .bind(flow_id.as_str())
            .bind(trigger_id)
            .fetch_optional(pool)
            .await
        })?)
    }

    pub async fn set_trigger_last_date(
        &self,
        namespace: &Namespace,
        flow_id: &FlowId,
        trigger_id: &str,
        date: i64,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| {
            sqlx::query(
            "INSERT INTO triggers (namespace, flow_id, trigger_id, last_date) VALUES ($1, $2, $3, $4)
             ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET last_date = excluded.last_date",
        )
        .bind(namespace.as_str())
        .bind(flow_id.as_str())
        .bind(trigger_id)
        .bind(date)
        .execute(pool)
        .await.map(|done| done.rows_affected())
        })?;
        Ok(())
    }
}

/// What is kept of one trigger (Kestra's trigger context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerState {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// A Schedule's last scheduled time (Unix ms) it has fired for.
    pub last_date: i64,
    pub disabled: bool,
    /// When a Schedule fires next, as the scheduler last computed it.
    pub next_date: Option<i64>,
    /// When the scheduler last looked at it.
    pub evaluated_at: Option<i64>,
    /// When it last started an execution, and which.
    pub last_triggered: Option<i64>,
    pub last_execution_id: Option<String>,
    pub updated_at: i64,
}

type StateRow = (
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
);

fn state_of(row: StateRow) -> TriggerState {
    let (
        namespace,
        flow_id,
        trigger_id,
        last_date,
        disabled,
        next_date,
        evaluated_at,
        last_triggered,
        last_execution_id,
        updated_at,
    ) = row;
    TriggerState {
        namespace,
        flow_id,
        trigger_id,
        last_date,
        disabled: disabled != 0,
        next_date,
        evaluated_at,
        last_triggered,
        last_execution_id,
        updated_at,
    }
}

const STATE_COLUMNS: &str = "namespace, flow_id, trigger_id, last_date, disabled, next_date, evaluated_at, last_triggered, last_execution_id, updated_at";

impl Store {
    /// Every trigger's kept state, or one namespace's, or one flow's.
    pub async fn trigger_states(
        &self,
        namespace: Option<&str>,
        flow_id: Option<&str>,
    ) -> Result<Vec<TriggerState>, StoreError> {
        let rows: Vec<StateRow> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {STATE_COLUMNS} FROM triggers WHERE ($1 IS NULL OR namespace = $1) AND ($2 IS NULL OR flow_id = $2) ORDER BY namespace, flow_id, trigger_id"
        )))
        .bind(namespace)
        .bind(flow_id)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows.into_iter().map(state_of).collect())
    }

    /// The triggers turned off (from the UI, the API or a Toggle), as
    /// (namespace, flow, trigger): what the scheduler and flow triggers skip.
    pub async fn disabled_triggers(
        &self,
    ) -> Result<std::collections::HashSet<(String, String, String)>, StoreError> {
        let rows: Vec<(String, String, String)> =
            with_pool!(&self.pool, |pool, d| sqlx::query_as(
                "SELECT namespace, flow_id, trigger_id FROM triggers WHERE disabled <> 0"
            )
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().collect())
    }

    /// Whether a trigger was turned off (from the UI, the API or a Toggle).
    pub async fn trigger_disabled(
        &self,
        namespace: &Namespace,
        flow_id: &FlowId,
        trigger_id: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_scalar("SELECT disabled FROM triggers WHERE namespace = $1 AND flow_id = $2 AND trigger_id = $3")
            .bind(namespace.as_str())
            .bind(flow_id.as_str())
            .bind(trigger_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(found.is_some_and(|d| d != 0))
    }

    /// Turns a trigger off or on. Turned on again, a Schedule counts from
    /// `now`: what it would have fired while off is not caught up. Wakes
    /// the scheduler (and, on PostgreSQL, the other nodes).
    pub async fn set_trigger_disabled(
        &self,
        namespace: &Namespace,
        flow_id: &FlowId,
        trigger_id: &str,
        disabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| {
            sqlx::query(
            "INSERT INTO triggers (namespace, flow_id, trigger_id, last_date, disabled, updated_at) VALUES ($1, $2, $3, $4, $5, $4)
             ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET
               last_date = CASE WHEN triggers.disabled <> 0 AND excluded.disabled = 0 THEN excluded.last_date ELSE triggers.last_date END,
               next_date = CASE WHEN excluded.disabled <> 0 THEN NULL ELSE triggers.next_date END,
               disabled = excluded.disabled,
               updated_at = excluded.updated_at",
        )
        .bind(namespace.as_str())
        .bind(flow_id.as_str())
        .bind(trigger_id)
        .bind(now)
        .bind(i64::from(disabled))
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        })?;
        self.flows_changed();
        Ok(())
    }

    /// What the scheduler saw of a Schedule: when it looked, when it fires next.
    pub async fn set_trigger_evaluated(
        &self,
        namespace: &Namespace,
        flow_id: &FlowId,
        trigger_id: &str,
        next_date: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| {
            sqlx::query("UPDATE triggers SET next_date = $4, evaluated_at = $5 WHERE namespace = $1 AND flow_id = $2 AND trigger_id = $3")
            .bind(namespace.as_str())
            .bind(flow_id.as_str())
            .bind(trigger_id)
            .bind(next_date)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// A trigger started an execution.
    pub async fn set_trigger_fired(
        &self,
        namespace: &Namespace,
        flow_id: &FlowId,
        trigger_id: &str,
        execution_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| {
            sqlx::query(
            "INSERT INTO triggers (namespace, flow_id, trigger_id, last_date, last_triggered, last_execution_id, updated_at) VALUES ($1, $2, $3, $4, $4, $5, $4)
             ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET last_triggered = excluded.last_triggered, last_execution_id = excluded.last_execution_id",
        )
        .bind(namespace.as_str())
        .bind(flow_id.as_str())
        .bind(trigger_id)
        .bind(now)
        .bind(execution_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        })?;
        Ok(())
    }
}

/// A MultipleCondition's (or a trigger's `preconditions`') current window:
/// which of its conditions have held within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionWindow {
    pub start: i64,
    pub end: i64,
    pub results: Vec<String>,
}

impl Store {
    pub async fn condition_window(
        &self,
        namespace: &Namespace,
        flow_id: &FlowId,
        condition_id: &str,
    ) -> Result<Option<ConditionWindow>, StoreError> {
        let row: Option<(i64, i64, String)> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(
            "SELECT start_ms, end_ms, results FROM condition_windows WHERE namespace = $1 AND flow_id = $2 AND condition_id = $3"
        )
        .bind(namespace.as_str())
        .bind(flow_id.as_str())
        .bind(condition_id)
        .fetch_optional(pool)
        .await
        })?;
        Ok(row.map(|(start, end, results)| ConditionWindow {
            start,
            end,
            results: serde_json::from_str(&results).unwrap_or_default(),
        }))
    }

    /// Records the window, adding `held` to what held within it already
    /// (in one statement, so two nodes seeing two executions lose neither).
    pub async fn add_to_condition_window(
        &self,
        namespace: &Namespace,
        flow_id: &FlowId,
        condition_id: &str,
        window: (i64, i64),
        held: &[String],
    ) -> Result<ConditionWindow, StoreError> {
        use super::WritePool as _;
        let (namespace, flow_id) = (namespace.as_str(), flow_id.as_str());
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let found: Option<(i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT start_ms, end_ms, results FROM condition_windows WHERE namespace = $1 AND flow_id = $2 AND condition_id = $3{}",
                if matches!(d, super::Dialect::Postgres) { " FOR UPDATE" } else { "" }
            )))
            .bind(namespace)
            .bind(flow_id)
            .bind(condition_id)
            .fetch_optional(&mut *tx)
            .await?;
            // A window that still runs keeps what held in it; an ended one is replaced.
            let mut current = match found {
                Some((start, end, results))
                    if start == window.0 || (start <= window.0 && window.0 <= end) =>
                {
                    ConditionWindow {
                        start,
                        end,
                        results: serde_json::from_str(&results).unwrap_or_default(),
                    }
                }
                _ => ConditionWindow {
                    start: window.0,
                    end: window.1,
                    results: Vec::new(),
                },
            };
            for id in held {
                if !current.results.contains(id) {
                    current.results.push(id.clone());
                }
            }
            current.results.sort();
            sqlx::query(
                "INSERT INTO condition_windows (namespace, flow_id, condition_id, start_ms, end_ms, results) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (namespace, flow_id, condition_id) DO UPDATE SET start_ms = excluded.start_ms, end_ms = excluded.end_ms, results = excluded.results",
            )
            .bind(namespace)
            .bind(flow_id)
            .bind(condition_id)
            .bind(current.start)
            .bind(current.end)
            .bind(serde_json::to_string(&current.results).unwrap_or_else(|_| "[]".into()))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(current)
        })
    }

    /// Forgets a window (its conditions all held and the flow started).
    pub async fn delete_condition_window(
        &self,
        namespace: &Namespace,
        flow_id: &FlowId,
        condition_id: &str,
    ) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| {
            sqlx::query("DELETE FROM condition_windows WHERE namespace = $1 AND flow_id = $2 AND condition_id = $3")
            .bind(namespace.as_str())
            .bind(flow_id.as_str())
            .bind(condition_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Forgets the windows that ended before `now`.
    pub async fn delete_ended_condition_windows(&self, now: i64) -> Result<u64, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| sqlx::query(
            "DELETE FROM condition_windows WHERE end_ms < $1"
        )
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?)
    }
}
