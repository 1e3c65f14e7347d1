//! Flows and their revisions.

use serde::{Deserialize, Serialize};

use super::WritePool as _;
use super::{Store, StoreError, escape_like, now_ms};
use crate::ids::{FlowId, Namespace};

/// One flow as lists show it: the current revision, without its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSummary {
    pub namespace: Namespace,
    pub id: FlowId,
    pub revision: i64,
    pub description: Option<String>,
    /// Unix milliseconds of the last save.
    pub updated_at: i64,
}

/// A flow's source with the fields the store indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSource {
    pub namespace: Namespace,
    pub id: FlowId,
    pub description: Option<String>,
    pub source: String,
}

/// A flow's current revision with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFlow {
    pub revision: i64,
    pub description: Option<String>,
    pub source: String,
    pub updated_at: i64,
}

/// The most rows a search returns.
const SEARCH_LIMIT: i64 = 1000;

/// Saves one flow in a write transaction of either backend (see
/// [`Store::save_flow`]); the current revision.
macro_rules! save_in {
    ($tx:ident, $flow:expr, $d:ident) => {{
        let flow: &FlowSource = $flow;
        'save: {
        let current: Option<(i64, String, i64)> =
            sqlx::query_as(locked!($d, "SELECT revision, source, deleted FROM flows WHERE namespace = $1 AND id = $2"))
                .bind(flow.namespace.as_str())
                .bind(flow.id.as_str())
                .fetch_optional(&mut *$tx)
                .await?;
        if let Some((revision, source, 0)) = &current
            && *source == flow.source
        {
            break 'save *revision;
        }
        // Revisions keep counting across a delete, as Kestra's do, so that
        // an old revision number never names two different sources.
        let revision: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(revision), 0) + 1 FROM flow_revisions WHERE namespace = $1 AND id = $2",
        )
        .bind(flow.namespace.as_str())
        .bind(flow.id.as_str())
        .fetch_one(&mut *$tx)
        .await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO flow_revisions (namespace, id, revision, source, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(flow.namespace.as_str())
        .bind(flow.id.as_str())
        .bind(revision)
        .bind(&flow.source)
        .bind(now)
        .execute(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO flows (namespace, id, revision, description, source, deleted, updated_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6)
             ON CONFLICT (namespace, id) DO UPDATE SET
                revision = excluded.revision, description = excluded.description,
                source = excluded.source, deleted = 0, updated_at = excluded.updated_at",
        )
        .bind(flow.namespace.as_str())
        .bind(flow.id.as_str())
        .bind(revision)
        .bind(&flow.description)
        .bind(&flow.source)
        .bind(now)
        .execute(&mut *$tx)
        .await?;
        revision

        }
    }};
}

impl Store {
    /// Saves a flow. A changed source becomes a new revision; saving the
    /// same source again changes nothing. Returns the current revision.
    pub async fn save_flow(&self, flow: &FlowSource) -> Result<i64, StoreError> {
        let revision = with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let revision = save_in!(tx, flow, d);
            tx.commit().await?;
            revision
        });
        self.flows_changed();
        Ok(revision)
    }

    /// Makes a namespace's flows these ones, in one transaction (Kestra's
    /// `POST /flows/{namespace}`, what CI/CD deploys with): each is saved as
    /// `save_flow` does, and with `delete_others` the namespace's other flows
    /// are deleted. Returns each flow's revision, in order, and the ids
    /// deleted.
    pub async fn save_namespace(
        &self,
        namespace: &Namespace,
        flows: &[FlowSource],
        delete_others: bool,
    ) -> Result<(Vec<i64>, Vec<FlowId>), StoreError> {
        let (revisions, deleted) = with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let mut revisions = Vec::with_capacity(flows.len());
            for flow in flows {
                revisions.push(save_in!(tx, flow, d));
            }
            let mut deleted = Vec::new();
            if delete_others {
                let existing: Vec<String> =
                    sqlx::query_scalar("SELECT id FROM flows WHERE namespace = $1 AND deleted = 0")
                        .bind(namespace.as_str())
                        .fetch_all(&mut *tx)
                        .await?;
                for id in existing
                    .into_iter()
                    .filter(|id| !flows.iter().any(|f| f.id.as_str() == id))
                {
                    sqlx::query("UPDATE flows SET deleted = 1, updated_at = $1 WHERE namespace = $2 AND id = $3")
                    .bind(now_ms())
                    .bind(namespace.as_str())
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                    deleted.push(FlowId::new(id));
                }
            }
            tx.commit().await?;
            (revisions, deleted)
        });
        self.flows_changed();
        Ok((revisions, deleted))
    }

    /// The current revision of a flow, `None` if there is none or it was
    /// deleted.
    pub async fn flow_revision(
        &self,
        namespace: &Namespace,
        id: &FlowId,
    ) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| sqlx::query_scalar(
            "SELECT revision FROM flows WHERE namespace = $1 AND id = $2 AND deleted = 0"
        )
        .bind(namespace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)?)
    }

    /// A flow's current revision, `None` if there is none or it was deleted.
    pub async fn get_flow(
        &self,
        namespace: &Namespace,
        id: &FlowId,
    ) -> Result<Option<StoredFlow>, StoreError> {
        let row: Option<(i64, Option<String>, String, i64)> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(
            "SELECT revision, description, source, updated_at FROM flows WHERE namespace = $1 AND id = $2 AND deleted = 0",
        )
        .bind(namespace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        })?;
        Ok(
            row.map(|(revision, description, source, updated_at)| StoredFlow {
                revision,
                description,
                source,
                updated_at,
            }),
        )
    }

    /// The source of one revision, deleted or not (executions of a deleted
    /// flow still show and recover).
    pub async fn flow_revision_source(
        &self,
        namespace: &Namespace,
        id: &FlowId,
        revision: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| sqlx::query_scalar(
            "SELECT source FROM flow_revisions WHERE namespace = $1 AND id = $2 AND revision = $3"
        )
        .bind(namespace.as_str())
        .bind(id.as_str())
        .bind(revision)
        .fetch_optional(pool)
        .await)?)
    }

    /// Every revision of a flow, oldest first: (revision, source, created at).
    pub async fn flow_revisions(
        &self,
        namespace: &Namespace,
        id: &FlowId,
    ) -> Result<Vec<(i64, String, i64)>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| {
            sqlx::query_as("SELECT revision, source, created_at FROM flow_revisions WHERE namespace = $1 AND id = $2 ORDER BY revision")
            .bind(namespace.as_str())
            .bind(id.as_str())
            .fetch_all(pool)
            .await
        })?)
    }

    /// Deletes a flow; its revisions stay. Returns whether it existed.
    pub async fn delete_flow(
        &self,
        namespace: &Namespace,
        id: &FlowId,
    ) -> Result<bool, StoreError> {
        let done = with_pool!(&self.pool, |pool, d| {
            sqlx::query("UPDATE flows SET deleted = 1, updated_at = $1 WHERE namespace = $2 AND id = $3 AND deleted = 0")
            .bind(now_ms())
            .bind(namespace.as_str())
            .bind(id.as_str())
            .execute(pool)
            .await.map(|done| done.rows_affected())
        })?;
        self.flows_changed();
        Ok(done == 1)
    }

    /// Flows whose namespace, id or description contains `query` (case
    /// insensitive), ordered by namespace then id. An empty query lists all.
    pub async fn search_flows(&self, query: &str) -> Result<Vec<FlowSummary>, StoreError> {
        let pattern = format!("%{}%", escape_like(query.trim()));
        let rows: Vec<(String, String, i64, Option<String>, i64)> = with_pool!(
            &self.pool,
            |pool, d| {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT namespace, id, revision, description, updated_at FROM flows
             WHERE deleted = 0
               AND (namespace {like} $1 ESCAPE '\\' OR id {like} $1 ESCAPE '\\' OR description {like} $1 ESCAPE '\\')
             ORDER BY namespace, id
             LIMIT $2",
            like = d.ilike()
        )))
        .bind(pattern)
        .bind(SEARCH_LIMIT)
        .fetch_all(pool)
        .await
            }
        )?;
        Ok(rows
            .into_iter()
            .map(
                |(namespace, id, revision, description, updated_at)| FlowSummary {
                    namespace: Namespace::new(namespace),
                    id: FlowId::new(id),
                    revision,
                    description,
                    updated_at,
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DATABASE_FILE;

    fn flow(namespace: &str, id: &str, description: &str, source: &str) -> FlowSource {
        FlowSource {
            namespace: Namespace::new(namespace),
            id: FlowId::new(id),
            description: Some(description.to_owned()),
            source: source.to_owned(),
        }
    }

    fn ids(flows: &[FlowSummary]) -> Vec<String> {
        flows
            .iter()
            .map(|f| format!("{}.{}", f.namespace, f.id))
            .collect()
    }

    #[tokio::test]
    async fn a_changed_source_is_a_new_revision_and_the_same_one_is_not() {
        let store = Store::scratch().await.unwrap();
        let first = flow("company.team", "hello", "says hello", "id: hello\n");
        assert_eq!(store.save_flow(&first).await.unwrap(), 1);
        assert_eq!(store.save_flow(&first).await.unwrap(), 1);
        let changed = flow(
            "company.team",
            "hello",
            "says hello",
            "id: hello\n# changed\n",
        );
        assert_eq!(store.save_flow(&changed).await.unwrap(), 2);
        let listed = store.search_flows("").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revision, 2);
    }

    #[tokio::test]
    async fn search_matches_namespace_id_and_description_and_escapes_wildcards() {
        let store = Store::scratch().await.unwrap();
        store
            .save_flow(&flow("company.team", "hello", "says hello", "a"))
            .await
            .unwrap();
        store
            .save_flow(&flow("data.eng", "nightly", "loads 100% of rows", "b"))
            .await
            .unwrap();
        store
            .save_flow(&flow("data.eng", "upload_query", "upload then query", "c"))
            .await
            .unwrap();

        assert_eq!(ids(&store.search_flows("").await.unwrap()).len(), 3);
        assert_eq!(
            ids(&store.search_flows("DATA").await.unwrap()),
            ["data.eng.nightly", "data.eng.upload_query"]
        );
        assert_eq!(
            ids(&store.search_flows("says").await.unwrap()),
            ["company.team.hello"]
        );
        assert_eq!(
            ids(&store.search_flows("100%").await.unwrap()),
            ["data.eng.nightly"]
        );
        // `_` is a literal underscore, not LIKE's any-character.
        assert_eq!(
            ids(&store.search_flows("e_l").await.unwrap()),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(&store.search_flows("upload_").await.unwrap()),
            ["data.eng.upload_query"]
        );
    }

    #[tokio::test]
    async fn open_creates_a_wal_database_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("nested/data");
        let store = Store::open(&data_dir).await.unwrap();
        assert!(store.health().await.unwrap().schema_version >= 1);
        let crate::store::Pool::Sqlite(pool) = &store.pool else {
            panic!("Store::open makes a SQLite store")
        };
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        store.close().await;
        assert!(data_dir.join(DATABASE_FILE).exists());
    }
}

#[cfg(test)]
mod revision_tests {
    use super::*;

    #[tokio::test]
    async fn revisions_are_kept_across_a_delete() {
        let store = Store::scratch().await.unwrap();
        let (ns, id) = (Namespace::new("a"), FlowId::new("f"));
        let flow = |source: &str| FlowSource {
            namespace: ns.clone(),
            id: id.clone(),
            description: None,
            source: source.into(),
        };
        store.save_flow(&flow("one")).await.unwrap();
        store.save_flow(&flow("two")).await.unwrap();
        assert!(store.delete_flow(&ns, &id).await.unwrap());
        assert!(!store.delete_flow(&ns, &id).await.unwrap());
        assert!(store.get_flow(&ns, &id).await.unwrap().is_none());
        assert_eq!(
            store
                .flow_revision_source(&ns, &id, 1)
                .await
                .unwrap()
                .as_deref(),
            Some("one")
        );
        assert_eq!(store.save_flow(&flow("three")).await.unwrap(), 3);
        let revisions: Vec<i64> = store
            .flow_revisions(&ns, &id)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(revisions, [1, 2, 3]);
    }
}
