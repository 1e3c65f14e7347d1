//! Counting executions per flow (Kestra's `execution.Count`).

use super::{Store, StoreError};
use crate::state::State;

/// How many executions a flow has in a window, in some states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowCount {
    pub namespace: String,
    pub flow_id: String,
    pub count: u64,
}

impl Store {
    /// The executions created from `start` (Unix ms, included) until `end`
    /// (excluded), counted per flow, in `states` (any when empty), of the
    /// flows named and of every flow of the namespaces named. A named flow
    /// without execution counts 0, as in Kestra.
    pub async fn execution_counts(
        &self,
        flows: &[(String, String)],
        namespaces: &[String],
        states: &[State],
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<FlowCount>, StoreError> {
        let rows: Vec<(String, String, String, i64)> =
            with_pool!(&self.pool, |pool, d| sqlx::query_as(
                "SELECT namespace, flow_id, state, COUNT(*) FROM executions
             WHERE ($1 IS NULL OR created_at >= $1) AND ($2 IS NULL OR created_at < $2)
             GROUP BY namespace, flow_id, state ORDER BY namespace, flow_id"
            )
            .bind(start)
            .bind(end)
            .fetch_all(pool)
            .await)?;
        let mut counts: Vec<FlowCount> = flows
            .iter()
            .map(|(namespace, flow_id)| FlowCount {
                namespace: namespace.clone(),
                flow_id: flow_id.clone(),
                count: 0,
            })
            .collect();
        for (namespace, flow_id, state, count) in rows {
            if !states.is_empty() && !State::parse(&state).is_some_and(|s| states.contains(&s)) {
                continue;
            }
            let named = flows.iter().any(|(n, f)| *n == namespace && *f == flow_id);
            if !named && !namespaces.contains(&namespace) {
                continue;
            }
            match counts
                .iter_mut()
                .find(|c| c.namespace == namespace && c.flow_id == flow_id)
            {
                Some(found) => found.count += count as u64,
                None => counts.push(FlowCount {
                    namespace,
                    flow_id,
                    count: count as u64,
                }),
            }
        }
        Ok(counts)
    }
}
