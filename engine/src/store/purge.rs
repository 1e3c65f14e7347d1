//! Purging what ended executions leave (Kestra's PurgeExecutions and
//! PurgeLogs): the executions themselves (their task runs and secrets go
//! with them, by foreign key), their logs and metrics, or logs alone.

use super::{Store, StoreError};
use crate::ids::{ExecutionId, FlowId, Namespace};
use crate::log::Level;
use crate::state::State;

/// Which executions (or their logs) to purge: those created before `end`
/// (and from `start`), of a namespace, a flow or one execution if given.
#[derive(Debug, Clone, Default)]
pub struct PurgeFilter {
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    pub execution_id: Option<String>,
    /// Unix milliseconds, included.
    pub start: Option<i64>,
    /// Unix milliseconds, excluded.
    pub end: i64,
}

/// The most executions one purge reads at once.
const BATCH: i64 = 10_000;

impl Store {
    /// Ended executions that `filter` matches, in `states` if any is
    /// given: each one's id, namespace and flow.
    pub async fn ended_executions(
        &self,
        filter: &PurgeFilter,
        states: &[State],
    ) -> Result<Vec<(ExecutionId, Namespace, FlowId)>, StoreError> {
        let rows: Vec<(String, String, String, String)> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(
            "SELECT id, namespace, flow_id, state FROM executions
             WHERE created_at < $1 AND ($2 IS NULL OR created_at >= $2)
               AND ($3 IS NULL OR namespace = $3) AND ($4 IS NULL OR flow_id = $4) AND ($5 IS NULL OR id = $5)
             ORDER BY created_at LIMIT $6"
        )
        .bind(filter.end)
        .bind(filter.start)
        .bind(filter.namespace.as_deref())
        .bind(filter.flow_id.as_deref())
        .bind(filter.execution_id.as_deref())
        .bind(BATCH)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, namespace, flow_id, state)| {
                let state = State::parse(&state)?;
                (state.is_terminal() && (states.is_empty() || states.contains(&state))).then(|| {
                    (
                        ExecutionId::new(id),
                        Namespace::new(namespace),
                        FlowId::new(flow_id),
                    )
                })
            })
            .collect())
    }

    /// Deletes the logs of `ids`, with `metrics` their metrics and, with
    /// `executions`, the executions; returns how many log lines and
    /// metrics went.
    pub async fn purge_executions(
        &self,
        ids: &[ExecutionId],
        executions: bool,
        logs: bool,
        metrics: bool,
    ) -> Result<(u64, u64), StoreError> {
        use super::WritePool as _;
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let (mut deleted_logs, mut deleted_metrics) = (0, 0);
            for id in ids {
                if logs {
                    deleted_logs += sqlx::query("DELETE FROM logs WHERE execution_id = $1")
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                if metrics {
                    deleted_metrics += sqlx::query("DELETE FROM metrics WHERE execution_id = $1")
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                if executions {
                    sqlx::query("DELETE FROM executions WHERE id = $1")
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok((deleted_logs, deleted_metrics))
        })
    }

    /// Deletes the log lines written before `filter.end` (and from
    /// `start`) of the executions it names, at the given levels (every
    /// level when none); returns how many.
    pub async fn purge_logs(
        &self,
        filter: &PurgeFilter,
        levels: &[Level],
    ) -> Result<u64, StoreError> {
        // Levels come from their enum, never from the caller's text.
        let level_list = levels
            .iter()
            .map(|l| format!("'{}'", l.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let level_clause = if levels.is_empty() {
            String::new()
        } else {
            format!(" AND level IN ({level_list})")
        };
        let sql = format!(
            "DELETE FROM logs WHERE at < $1 AND ($2 IS NULL OR at >= $2) AND ($3 IS NULL OR execution_id = $3){level_clause}
               AND ($4 IS NULL AND $5 IS NULL OR execution_id IN
                    (SELECT id FROM executions WHERE ($4 IS NULL OR namespace = $4) AND ($5 IS NULL OR flow_id = $5)))"
        );
        let done = with_pool!(&self.pool, |pool, d| sqlx::query(sqlx::AssertSqlSafe(
            sql.clone()
        ))
        .bind(filter.end)
        .bind(filter.start)
        .bind(filter.execution_id.as_deref())
        .bind(filter.namespace.as_deref())
        .bind(filter.flow_id.as_deref())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done)
    }
}
