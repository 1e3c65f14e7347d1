//! Users, sessions, API tokens and the audit log.
//!
//! Sessions and tokens are found by the SHA-256 of their secret; the secret
//! itself is never stored. A disabled user's sessions are deleted and their
//! tokens stop working.

use serde_json::Value;
use sqlx::AssertSqlSafe;

use super::WritePool as _;
use super::{Store, StoreError, now_ms};
use crate::auth::Grant;

/// A user, without their password hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserRecord {
    pub name: String,
    pub grants: Vec<Grant>,
    pub disabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// An API token as lists show it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub user: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Something a user did, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct NewAudit {
    pub actor: String,
    pub action: String,
    pub namespace: Option<String>,
    pub target: Option<String>,
    pub address: Option<String>,
    pub detail: Option<Value>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub namespace: Option<String>,
    pub target: Option<String>,
    pub address: Option<String>,
    pub detail: Option<Value>,
}

/// Which lines of the audit log to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// This namespace and those under it.
    pub namespace: Option<String>,
    /// Only lines older than this id (the next page).
    pub before: Option<i64>,
    pub limit: u32,
}

/// `USER_COLUMNS`, as read.
type UserRow = (String, String, i64, i64, i64);
const USER_COLUMNS: &str = "u.name, u.grants, u.disabled, u.created_at, u.updated_at";

fn user_from_row(row: &UserRow) -> Result<UserRecord, StoreError> {
    let (name, grants, disabled, created_at, updated_at) = row;
    Ok(UserRecord {
        name: name.clone(),
        grants: serde_json::from_str(grants)
            .map_err(|e| StoreError::Corrupt(format!("grants of a user: {e}")))?,
        disabled: *disabled != 0,
        created_at: *created_at,
        updated_at: *updated_at,
    })
}

type TokenRow = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

fn token_from_row(row: TokenRow) -> TokenRecord {
    let (id, user, name, created_at, expires_at, last_used, revoked_at) = row;
    TokenRecord {
        id,
        user,
        name,
        created_at,
        expires_at,
        last_used,
        revoked_at,
    }
}

fn grants_json(grants: &[Grant]) -> String {
    serde_json::to_string(grants).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// How many users exist (disabled ones too).
    pub async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| sqlx::query_scalar(
            "SELECT COUNT(*) FROM users"
        )
        .fetch_one(pool)
        .await)?)
    }

    /// Creates a user; `Ok(false)` when the name is taken.
    pub async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        grants: &[Grant],
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = with_pool!(&self.pool, |pool, d| {
            sqlx::query(
            "INSERT INTO users (name, password_hash, grants, disabled, created_at, updated_at) VALUES ($1, $2, $3, 0, $4, $5)
             ON CONFLICT(name) DO NOTHING",
        )
        .bind(name)
        .bind(password_hash)
        .bind(grants_json(grants))
        .bind(now)
        .bind(now)
        .execute(pool)
        .await.map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows: Vec<UserRow> = with_pool!(&self.pool, |pool, d| sqlx::query_as(AssertSqlSafe(
            format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name")
        ))
        .fetch_all(pool)
        .await)?;
        rows.iter().map(user_from_row).collect()
    }

    /// A user and their password hash.
    pub async fn user(&self, name: &str) -> Result<Option<(UserRecord, String)>, StoreError> {
        let row: Option<(String, String, i64, i64, i64, String)> =
            with_pool!(&self.pool, |pool, d| sqlx::query_as(AssertSqlSafe(
                format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = $1")
            ))
            .bind(name)
            .fetch_optional(pool)
            .await)?;
        row.map(|(a, b, c, d, e, hash)| Ok((user_from_row(&(a, b, c, d, e))?, hash)))
            .transpose()
    }

    /// Sets a user's password and ends their sessions except `keep` (the
    /// session that changed it). `Ok(false)` when there is no such user.
    pub async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<bool, StoreError> {
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let done =
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE name = $3")
                    .bind(password_hash)
                    .bind(now_ms())
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            sqlx::query("DELETE FROM sessions WHERE user_name = $1 AND digest IS DISTINCT FROM $2")
                .bind(name)
                .bind(keep)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() == 1)
        })
    }

    pub async fn set_grants(&self, name: &str, grants: &[Grant]) -> Result<bool, StoreError> {
        let done = with_pool!(&self.pool, |pool, d| sqlx::query(
            "UPDATE users SET grants = $1, updated_at = $2 WHERE name = $3"
        )
        .bind(grants_json(grants))
        .bind(now_ms())
        .bind(name)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Disables (ending their sessions) or enables a user.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            let done =
                sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE name = $3")
                    .bind(i64::from(disabled))
                    .bind(now_ms())
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            if disabled {
                sqlx::query("DELETE FROM sessions WHERE user_name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(done.rows_affected() == 1)
        })
    }

    pub async fn create_session(
        &self,
        user: &str,
        digest: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            // Expired sessions go as new ones come.
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO sessions (digest, user_name, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(digest)
            .bind(user)
            .bind(csrf)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The enabled user of a live session, and the session's CSRF token.
    pub async fn session(&self, digest: &str) -> Result<Option<(UserRecord, String)>, StoreError> {
        let row: Option<(String, String, i64, i64, i64, String)> = with_pool!(
            &self.pool,
            |pool, d| sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS}, s.csrf FROM sessions s JOIN users u ON u.name = s.user_name
             WHERE s.digest = $1 AND s.expires_at > $2 AND u.disabled = 0"
            )))
            .bind(digest)
            .bind(now_ms())
            .fetch_optional(pool)
            .await
        )?;
        row.map(|(a, b, c, d, e, csrf)| Ok((user_from_row(&(a, b, c, d, e))?, csrf)))
            .transpose()
    }

    pub async fn delete_session(&self, digest: &str) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| sqlx::query(
            "DELETE FROM sessions WHERE digest = $1"
        )
        .bind(digest)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    pub async fn create_token(
        &self,
        id: &str,
        user: &str,
        name: &str,
        digest: &str,
        expires_at: Option<i64>,
    ) -> Result<TokenRecord, StoreError> {
        let now = now_ms();
        with_pool!(&self.pool, |pool, d| {
            sqlx::query("INSERT INTO api_tokens (id, user_name, name, digest, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(user)
            .bind(name)
            .bind(digest)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await.map(|done| done.rows_affected())
        })?;
        Ok(TokenRecord {
            id: id.into(),
            user: user.into(),
            name: name.into(),
            created_at: now,
            expires_at,
            last_used: None,
            revoked_at: None,
        })
    }

    /// A user's tokens, newest first, revoked ones included.
    pub async fn tokens(&self, user: &str) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<TokenRow> = with_pool!(&self.pool, |pool, d| {
            sqlx::query_as(
            "SELECT id, user_name, name, created_at, expires_at, last_used, revoked_at FROM api_tokens WHERE user_name = $1 ORDER BY created_at DESC"
        )
        .bind(user)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows.into_iter().map(token_from_row).collect())
    }

    /// The enabled user of a live token whose id is `id` and whose digest is
    /// `digest`; marks it used (at most once a minute).
    pub async fn token_user(
        &self,
        id: &str,
        digest: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let now = now_ms();
        let row: Option<(String, String, i64, i64, i64, String, Option<i64>)> = with_pool!(
            &self.pool,
            |pool, d| {
                sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, t.digest, t.last_used
             FROM api_tokens t JOIN users u ON u.name = t.user_name
             WHERE t.id = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.disabled = 0"
        )))
        .bind(id)
        .bind(now)
        .fetch_optional(pool)
        .await
            }
        )?;
        let Some((a, b, c, d, e, stored, last_used)) = row else {
            return Ok(None);
        };
        if !crate::auth::token::same(&stored, digest) {
            return Ok(None);
        }
        if last_used.is_none_or(|t| now - t > 60_000) {
            with_pool!(&self.pool, |pool, d| sqlx::query(
                "UPDATE api_tokens SET last_used = $1 WHERE id = $2"
            )
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        }
        user_from_row(&(a, b, c, d, e)).map(Some)
    }

    /// Revokes `user`'s token `id`; `Ok(false)` when they have no such live
    /// token.
    pub async fn revoke_token(&self, user: &str, id: &str) -> Result<bool, StoreError> {
        let done = with_pool!(&self.pool, |pool, d| {
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_name = $3 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .bind(user)
            .execute(pool)
            .await.map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Adds a line to the audit log.
    pub async fn audit(&self, entry: NewAudit) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| {
            sqlx::query("INSERT INTO audit (at, actor, action, namespace, target, address, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(now_ms())
            .bind(entry.actor)
            .bind(entry.action)
            .bind(entry.namespace)
            .bind(entry.target)
            .bind(entry.address)
            .bind(entry.detail.map(|d| d.to_string()))
            .execute(pool)
            .await.map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Lines of the audit log, newest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT id, at, actor, action, namespace, target, address, detail FROM audit WHERE 1 = 1",
        );
        if query.actor.is_some() {
            sql.push_str(" AND actor = ?");
        }
        if query.action.is_some() {
            sql.push_str(" AND action = ?");
        }
        if query.namespace.is_some() {
            sql.push_str(" AND (namespace = ? OR substr(namespace, 1, length(?) + 1) = ? || '.')");
        }
        if query.before.is_some() {
            sql.push_str(" AND id < ?");
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        let sql = super::numbered(&sql);
        type AuditRow = (
            i64,
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<AuditRow> = with_pool!(&self.pool, |pool, d| {
            // Only fixed clauses are added; every value is bound.
            let mut q = sqlx::query_as::<_, AuditRow>(AssertSqlSafe(sql));
            if let Some(actor) = &query.actor {
                q = q.bind(actor);
            }
            if let Some(action) = &query.action {
                q = q.bind(action);
            }
            if let Some(namespace) = &query.namespace {
                q = q.bind(namespace).bind(namespace).bind(namespace);
            }
            if let Some(before) = query.before {
                q = q.bind(before);
            }
            q.bind(i64::from(query.limit.clamp(1, 1000)))
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, at, actor, action, namespace, target, address, detail)| AuditRecord {
                    id,
                    at,
                    actor,
                    action,
                    namespace,
                    target,
                    address,
                    detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[tokio::test]
    async fn users_sessions_tokens_and_audit() {
        let store = Store::scratch().await.unwrap();
        let admin = [Grant {
            role: Role::Admin,
            namespace: None,
        }];
        assert_eq!(store.count_users().await.unwrap(), 0);
        assert!(store.create_user("ann", "hash", &admin).await.unwrap());
        assert!(
            !store.create_user("ann", "other", &admin).await.unwrap(),
            "a taken name"
        );
        let (ann, hash) = store.user("ann").await.unwrap().unwrap();
        assert_eq!(
            (ann.grants.as_slice(), hash.as_str()),
            (admin.as_slice(), "hash")
        );

        let far = now_ms() + 60_000;
        store.create_session("ann", "d1", "c1", far).await.unwrap();
        store.create_session("ann", "d2", "c2", far).await.unwrap();
        store
            .create_session("ann", "old", "c3", now_ms() - 1)
            .await
            .unwrap();
        assert_eq!(store.session("d1").await.unwrap().unwrap().1, "c1");
        assert!(store.session("old").await.unwrap().is_none(), "expired");
        // A new password ends the other sessions.
        store
            .set_password("ann", "hash2", Some("d1"))
            .await
            .unwrap();
        assert!(store.session("d1").await.unwrap().is_some());
        assert!(store.session("d2").await.unwrap().is_none());

        store
            .create_token("t1", "ann", "ci", "digest1", None)
            .await
            .unwrap();
        store
            .create_token("t2", "ann", "old", "digest2", Some(now_ms() - 1))
            .await
            .unwrap();
        assert_eq!(
            store
                .token_user("t1", "digest1")
                .await
                .unwrap()
                .unwrap()
                .name,
            "ann"
        );
        assert!(
            store.token_user("t1", "digest2").await.unwrap().is_none(),
            "wrong secret"
        );
        assert!(
            store.token_user("t2", "digest2").await.unwrap().is_none(),
            "expired"
        );
        assert!(store.revoke_token("ann", "t1").await.unwrap());
        assert!(
            store.token_user("t1", "digest1").await.unwrap().is_none(),
            "revoked"
        );

        store
            .create_token("t3", "ann", "ci", "digest3", None)
            .await
            .unwrap();
        store.set_disabled("ann", true).await.unwrap();
        assert!(
            store.session("d1").await.unwrap().is_none(),
            "disabled users have no sessions"
        );
        assert!(
            store.token_user("t3", "digest3").await.unwrap().is_none(),
            "nor working tokens"
        );

        for (action, namespace) in [
            ("flow.save", Some("a.b")),
            ("login", None),
            ("flow.save", Some("ab")),
        ] {
            let entry = NewAudit {
                actor: "ann".into(),
                action: action.into(),
                namespace: namespace.map(Into::into),
                ..Default::default()
            };
            store.audit(entry).await.unwrap();
        }
        let page = store
            .audit_log(&AuditQuery {
                namespace: Some("a".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            page.iter()
                .map(|r| r.namespace.as_deref())
                .collect::<Vec<_>>(),
            [Some("a.b")]
        );
        let page = store
            .audit_log(&AuditQuery {
                action: Some("flow.save".into()),
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page[0].namespace.as_deref(), Some("ab"), "newest first");
        let next = store
            .audit_log(&AuditQuery {
                action: Some("flow.save".into()),
                before: Some(page[0].id),
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(next.len(), 1);
    }
}
