//! Kestra's templates: a named list of tasks per namespace, run by
//! flow.Template. Kept as their YAML source, one row each.

use super::WritePool as _;
use super::{Store, StoreError, escape_like, now_ms};

/// A stored template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    pub namespace: String,
    pub id: String,
    pub description: Option<String>,
    pub source: String,
    /// Unix milliseconds of the last save.
    pub updated_at: i64,
}

/// The most templates a search returns.
const SEARCH_LIMIT: i64 = 1000;

type TemplateRow = (String, String, Option<String>, String, i64);

fn stored((namespace, id, description, source, updated_at): TemplateRow) -> StoredTemplate {
    StoredTemplate {
        namespace,
        id,
        description,
        source,
        updated_at,
    }
}

impl Store {
    /// Creates or replaces a template; whether it existed before.
    pub async fn save_template(
        &self,
        namespace: &str,
        id: &str,
        description: Option<&str>,
        source: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let existed: Option<i64> = sqlx::query_scalar(locked!(
                d,
                "SELECT updated_at FROM templates WHERE namespace = $1 AND id = $2"
            ))
            .bind(namespace)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if existed.is_some() {
                sqlx::query(
                    "UPDATE templates SET description = $3, source = $4, updated_at = $5
                     WHERE namespace = $1 AND id = $2",
                )
                .bind(namespace)
                .bind(id)
                .bind(description)
                .bind(source)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            } else {
                sqlx::query(
                    "INSERT INTO templates (namespace, id, description, source, updated_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(namespace)
                .bind(id)
                .bind(description)
                .bind(source)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(existed.is_some())
        })
    }

    pub async fn get_template(
        &self,
        namespace: &str,
        id: &str,
    ) -> Result<Option<StoredTemplate>, StoreError> {
        let row: Option<TemplateRow> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(
                "SELECT namespace, id, description, source, updated_at FROM templates
                 WHERE namespace = $1 AND id = $2",
            )
            .bind(namespace)
            .bind(id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(stored))
    }

    /// Deletes a template; whether there was one.
    pub async fn delete_template(&self, namespace: &str, id: &str) -> Result<bool, StoreError> {
        let done = with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let done = sqlx::query("DELETE FROM templates WHERE namespace = $1 AND id = $2")
                .bind(namespace)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok::<_, StoreError>(done)
        })?;
        Ok(done == 1)
    }

    /// Templates whose namespace, id or description contains `query`
    /// (case insensitive), in `namespace` or below it if given, ordered by
    /// namespace then id.
    pub async fn search_templates(
        &self,
        query: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<StoredTemplate>, StoreError> {
        let pattern = format!("%{}%", escape_like(query.trim()));
        let below = namespace.map(|n| format!("{}.%", escape_like(n)));
        let rows: Vec<TemplateRow> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT namespace, id, description, source, updated_at FROM templates
                 WHERE (namespace {like} $1 ESCAPE '\\' OR id {like} $1 ESCAPE '\\' OR description {like} $1 ESCAPE '\\')
                   AND ($2 IS NULL OR namespace = $2 OR namespace LIKE $3 ESCAPE '\\')
                 ORDER BY namespace, id
                 LIMIT $4",
                like = d.ilike()
            )))
            .bind(&pattern)
            .bind(namespace)
            .bind(below.as_deref())
            .bind(SEARCH_LIMIT)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(stored).collect())
    }

    /// Every namespace that holds a template, sorted.
    pub async fn template_namespaces(&self) -> Result<Vec<String>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| {
            sqlx::query_scalar("SELECT DISTINCT namespace FROM templates ORDER BY namespace")
                .fetch_all(pool)
                .await
        })?)
    }
}
