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
    pub async fn flows_with_source_like(&self, pattern: &str) -> Result<Vec<ScheduledFlow>, StoreError> {
        let rows: Vec<(String, String, i64, String)> = with_pool!(&self.pool, |pool, d| sqlx::query_as(
            "SELECT namespace, id, revision, source FROM flows WHERE deleted = 0 AND source LIKE $1 ORDER BY namespace, id",
        )
        .bind(pattern)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(namespace, id, revision, source)| ScheduledFlow { namespace: Namespace::new(namespace), id: FlowId::new(id), revision, source })
            .collect())
    }

    /// The last scheduled time (Unix ms) a trigger fired for, if it has a
    /// record.
    pub async fn trigger_last_date(&self, namespace: &Namespace, flow_id: &FlowId, trigger_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| sqlx::query_scalar("SELECT last_date FROM triggers WHERE namespace = $1 AND flow_id = $2 AND trigger_id = $3")
            .bind(namespace.as_str())
            .bind(flow_id.as_str())
            .bind(trigger_id)
            .fetch_optional(pool)
            .await)?)
    }

    pub async fn set_trigger_last_date(&self, namespace: &Namespace, flow_id: &FlowId, trigger_id: &str, date: i64) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| sqlx::query(
            "INSERT INTO triggers (namespace, flow_id, trigger_id, last_date) VALUES ($1, $2, $3, $4)
             ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET last_date = excluded.last_date",
        )
        .bind(namespace.as_str())
        .bind(flow_id.as_str())
        .bind(trigger_id)
        .bind(date)
        .execute(pool)
        .await.map(|done| done.rows_affected()))?;
        Ok(())
    }
}
