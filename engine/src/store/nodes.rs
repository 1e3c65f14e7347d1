//! The nodes of a deployment, their heartbeats, and which node runs each
//! execution (`executions.owner`): what several Mortar nodes on one
//! PostgreSQL coordinate through. The protocol is described in
//! ARCHITECTURE.md ("Several nodes") and migrations/sqlite/0008_nodes.sql.

use super::{Store, StoreError, now_ms};
use crate::ids::ExecutionId;

/// The states of an execution under way, which an owner runs.
pub(crate) const UNFINISHED: &str = "('CREATED', 'RUNNING', 'KILLING', 'RETRYING', 'PAUSED')";

/// A node as the nodes page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeRecord {
    pub id: String,
    /// `web`, `executor`, `scheduler`.
    pub roles: Vec<String>,
    pub host: String,
    pub pid: i64,
    pub version: String,
    /// Unix milliseconds.
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub stopped_at: Option<i64>,
    /// How many executions under way it owns.
    pub running: i64,
}

impl NodeRecord {
    /// Beating within the lease ([`crate::cluster::LEASE`]), and not
    /// stopped: its executions are its own.
    pub fn alive(&self) -> bool {
        let lease = i64::try_from(crate::cluster::LEASE.as_millis()).unwrap_or(i64::MAX);
        self.stopped_at.is_none() && now_ms() - self.heartbeat_at < lease
    }
}

/// What registering a node says about it.
#[derive(Debug, Clone)]
pub struct NewNode {
    pub id: String,
    pub roles: Vec<String>,
    pub host: String,
    pub pid: i64,
    pub version: String,
}

type NodeRow = (
    String,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    Option<i64>,
    i64,
);

impl Store {
    /// Records a node that starts, with its first heartbeat.
    pub async fn register_node(&self, node: &NewNode) -> Result<(), StoreError> {
        let now = now_ms();
        with_pool!(&self.pool, |pool, d| {
            sqlx::query(
            "INSERT INTO nodes (id, roles, host, pid, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $6)"
        )
        .bind(&node.id)
        .bind(node.roles.join(","))
        .bind(&node.host)
        .bind(node.pid)
        .bind(&node.version)
        .bind(now)
        .execute(pool)
        .await.map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Renews a node's lease on what it runs; false when the node is not
    /// registered (or stopped).
    pub async fn heartbeat(&self, node: &str) -> Result<bool, StoreError> {
        let done = with_pool!(&self.pool, |pool, d| sqlx::query(
            "UPDATE nodes SET heartbeat_at = $1 WHERE id = $2 AND stopped_at IS NULL"
        )
        .bind(now_ms())
        .bind(node)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// A node stops cleanly: its executions under way are released at once
    /// (another node claims them without waiting for the lease to end),
    /// in the transaction that marks it stopped.
    pub async fn stop_node(&self, node: &str) -> Result<u64, StoreError> {
        use super::WritePool as _;
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let released = sqlx::query("UPDATE executions SET owner = NULL WHERE owner = $1")
                .bind(node)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("UPDATE nodes SET stopped_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(node)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(released)
        })
    }

    /// The nodes, newest first, with how many executions each runs. Nodes
    /// stopped or silent for over a day are left out.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let since = now_ms() - 24 * 3600 * 1000;
        let rows: Vec<NodeRow> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT n.id, n.roles, n.host, n.pid, n.version, n.started_at, n.heartbeat_at, n.stopped_at,
                    (SELECT COUNT(*) FROM executions e WHERE e.owner = n.id AND e.state IN {UNFINISHED})
             FROM nodes n WHERE n.heartbeat_at > $1 ORDER BY n.started_at DESC"
        )))
        .bind(since)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows
            .into_iter()
            .map(
                |(id, roles, host, pid, version, started_at, heartbeat_at, stopped_at, running)| {
                    NodeRecord {
                        id,
                        roles: roles
                            .split(',')
                            .filter(|r| !r.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        host,
                        pid,
                        version,
                        started_at,
                        heartbeat_at,
                        stopped_at,
                        running,
                    }
                },
            )
            .collect())
    }

    /// Claims up to `limit` executions under way that no live node owns:
    /// unowned ones, and those of nodes whose last heartbeat is older than
    /// `lease_ms`. One UPDATE: on PostgreSQL the rows are locked and
    /// others' locked rows skipped (`FOR UPDATE SKIP LOCKED`), so two
    /// nodes claiming at once take different executions. The owner test
    /// reads the live nodes in a sub-select, not a join: when a row was
    /// claimed and committed by another node between this statement's
    /// snapshot and its lock, PostgreSQL re-checks the condition on the
    /// row's new version, and a joined node row would still be the old
    /// one's (none), letting the claim through twice.
    pub async fn claim_executions(
        &self,
        node: &str,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<ExecutionId>, StoreError> {
        let dead = now_ms() - lease_ms;
        let ids: Vec<String> = with_pool!(&self.pool, |pool, d| {
            let lock = match d {
                super::Dialect::Sqlite => "",
                super::Dialect::Postgres => "FOR UPDATE OF e SKIP LOCKED",
            };
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "UPDATE executions SET owner = $1 WHERE id IN (
                     SELECT e.id FROM executions e
                     WHERE e.state IN {UNFINISHED}
                       AND (e.owner IS NULL
                            OR e.owner NOT IN (SELECT n.id FROM nodes n WHERE n.stopped_at IS NULL AND n.heartbeat_at >= $2))
                     ORDER BY e.created_at LIMIT $3 {lock})
                 RETURNING id"
            )))
            .bind(node)
            .bind(dead)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(ids.into_iter().map(ExecutionId::new).collect())
    }

    /// Gives an execution to `owner` (None: to whichever executor claims
    /// it next).
    pub async fn set_owner(&self, id: &ExecutionId, owner: Option<&str>) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| sqlx::query(
            "UPDATE executions SET owner = $1 WHERE id = $2"
        )
        .bind(owner)
        .bind(id.as_str())
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Gives up an execution `node` owns, for any executor to claim; no
    /// effect if another node owns it now.
    pub async fn release(&self, id: &ExecutionId, node: &str) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| sqlx::query(
            "UPDATE executions SET owner = NULL WHERE id = $1 AND owner = $2"
        )
        .bind(id.as_str())
        .bind(node)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Gives up every execution under way `node` owns (it lost its lease
    /// for a while); returns how many.
    pub async fn release_all(&self, node: &str) -> Result<u64, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| sqlx::query(
            sqlx::AssertSqlSafe(format!(
                "UPDATE executions SET owner = NULL WHERE owner = $1 AND state IN {UNFINISHED}"
            ))
        )
        .bind(node)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?)
    }

    /// Which of `ids` (executions `node` walks) have another owner now, or
    /// none: their walks must stop.
    pub async fn lost_executions(
        &self,
        node: &str,
        ids: &[ExecutionId],
    ) -> Result<Vec<ExecutionId>, StoreError> {
        let list = serde_json::to_string(&ids.iter().map(ExecutionId::as_str).collect::<Vec<_>>())
            .unwrap_or_default();
        let lost: Vec<String> = with_pool!(&self.pool, |pool, d| {
            let listed = match d {
                super::Dialect::Sqlite => "SELECT value FROM json_each($2)",
                super::Dialect::Postgres => "SELECT jsonb_array_elements_text($2::jsonb)",
            };
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM executions WHERE id IN ({listed}) AND (owner IS NULL OR owner <> $1)"
            )))
            .bind(node)
            .bind(&list)
            .fetch_all(pool)
            .await?
        });
        Ok(lost.into_iter().map(ExecutionId::new).collect())
    }

    /// Up to `limit` executions under way `node` runs, oldest first.
    pub async fn owned_executions(
        &self,
        node: &str,
        limit: i64,
    ) -> Result<Vec<ExecutionId>, StoreError> {
        let ids: Vec<String> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM executions WHERE owner = $1 AND state IN {UNFINISHED} ORDER BY created_at LIMIT $2"
        )))
        .bind(node)
        .bind(limit)
        .fetch_all(pool)
        .await
        })?;
        Ok(ids.into_iter().map(ExecutionId::new).collect())
    }

    /// The owner of an execution and whether its lease is live.
    pub async fn owner_of(
        &self,
        id: &ExecutionId,
        lease_ms: i64,
    ) -> Result<Option<(String, bool)>, StoreError> {
        let row: Option<(Option<String>, Option<i64>, Option<i64>)> = with_pool!(
            &self.pool,
            |pool, d| {
                sqlx::query_as(
            "SELECT e.owner, n.heartbeat_at, n.stopped_at FROM executions e LEFT JOIN nodes n ON n.id = e.owner WHERE e.id = $1"
        )
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
            }
        )?;
        let dead = now_ms() - lease_ms;
        Ok(row.and_then(|(owner, beat, stopped)| {
            owner.map(|owner| (owner, stopped.is_none() && beat.is_some_and(|b| b >= dead)))
        }))
    }

    /// Sends a notification to every node listening on `channel`
    /// (PostgreSQL's NOTIFY); nothing on SQLite, where one process runs
    /// everything.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        if let super::Pool::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// A listener on the PostgreSQL channels `channels`; None on SQLite.
    pub async fn listen(
        &self,
        channels: &[&str],
    ) -> Result<Option<sqlx::postgres::PgListener>, StoreError> {
        match &self.pool {
            super::Pool::Sqlite(_) => Ok(None),
            super::Pool::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen_all(channels.iter().copied()).await?;
                Ok(Some(listener))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{TaskId, TaskRunId};
    use crate::store::NewTaskRun;
    use crate::store::executions::search_tests::seed;

    fn node(id: &str) -> NewNode {
        NewNode {
            id: id.to_owned(),
            roles: vec!["executor".into()],
            host: "h".into(),
            pid: 1,
            version: "0".into(),
        }
    }

    fn run_in(execution: &ExecutionId, task: &str) -> NewTaskRun {
        NewTaskRun {
            id: TaskRunId::generate(),
            execution_id: execution.clone(),
            task_id: TaskId::new(task),
            parent_task_run_id: None,
            value: None,
        }
    }

    #[tokio::test]
    async fn two_nodes_claiming_at_once_take_different_executions_and_a_dead_nodes_are_claimed_again()
     {
        let store = Store::scratch().await.unwrap();
        store.register_node(&node("a")).await.unwrap();
        store.register_node(&node("b")).await.unwrap();
        let mut all = Vec::new();
        for _ in 0..40 {
            all.push(seed(&store, "company", "f", &[]).await);
        }
        let (a, b) = tokio::join!(
            store.claim_executions("a", 10_000, 25),
            store.claim_executions("b", 10_000, 25)
        );
        let (mut a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 40, "every execution claimed once");
        assert!(
            a.iter().all(|id| !b.contains(id)),
            "no execution claimed by both"
        );
        // Claimed ones are not claimable while their owner beats.
        assert!(
            store
                .claim_executions("b", 10_000, 100)
                .await
                .unwrap()
                .is_empty()
        );
        // a falls silent: b takes its executions over.
        store.heartbeat("b").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        store.heartbeat("b").await.unwrap();
        let mut taken = store.claim_executions("b", 20, 100).await.unwrap();
        taken.sort();
        a.sort();
        assert_eq!(taken, a);
        assert_eq!(store.lost_executions("a", &a).await.unwrap().len(), a.len());
        assert!(store.lost_executions("b", &a).await.unwrap().is_empty());
        // A node that stops cleanly gives its executions up at once.
        assert_eq!(store.stop_node("b").await.unwrap(), 40);
        store.register_node(&node("c")).await.unwrap();
        assert_eq!(
            store
                .claim_executions("c", 10_000, 100)
                .await
                .unwrap()
                .len(),
            40
        );
        let nodes = store.nodes().await.unwrap();
        let c = nodes.iter().find(|n| n.id == "c").unwrap();
        assert_eq!(c.running, 40);
        assert!(
            nodes
                .iter()
                .find(|n| n.id == "b")
                .unwrap()
                .stopped_at
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_node_that_lost_an_execution_starts_no_task_in_it_and_a_place_has_one_task_run() {
        let store = Store::scratch().await.unwrap();
        store.register_node(&node("a")).await.unwrap();
        store.register_node(&node("b")).await.unwrap();
        let id = seed(&store, "company", "f", &[]).await;
        assert_eq!(
            store.claim_executions("a", 10_000, 10).await.unwrap(),
            vec![id.clone()]
        );
        store
            .start_task_run(&run_in(&id, "first"), Some("a"))
            .await
            .unwrap();
        // b owns it now (a's lease ran out): a's next task is refused.
        store.set_owner(&id, Some("b")).await.unwrap();
        let refused = store
            .start_task_run(&run_in(&id, "second"), Some("a"))
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Lost(_)), "{refused}");
        let refused = store
            .create_task_runs(&[run_in(&id, "second")], Some("a"))
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Lost(_)), "{refused}");
        // b resumes; a second run of a task already started is refused
        // even to the owner: it re-attaches to the first instead.
        let again = store
            .start_task_run(&run_in(&id, "first"), Some("b"))
            .await
            .unwrap_err();
        assert!(matches!(again, StoreError::Lost(_)), "{again}");
        store
            .start_task_run(&run_in(&id, "second"), Some("b"))
            .await
            .unwrap();
        let runs = store.task_runs(&id).await.unwrap();
        assert_eq!(
            runs.iter().map(|r| r.task_id.as_str()).collect::<Vec<_>>(),
            ["first", "second"]
        );
        // Without a node (mortar run), nothing is checked but the place.
        let other = seed(&store, "company", "f", &[]).await;
        store
            .start_task_run(&run_in(&other, "first"), None)
            .await
            .unwrap();
        // A released execution is claimable at once.
        store.release(&id, "b").await.unwrap();
        assert_eq!(
            store.claim_executions("a", 10_000, 10).await.unwrap().len(),
            2
        );
    }
}
