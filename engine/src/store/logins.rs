//! What every web node must see the same about logins: failed attempts
//! counted per key (the server's lockout decides the keys and the waits)
//! and the one-time setup link's token.

use super::{Store, StoreError, WritePool as _};

impl Store {
    /// The latest time (Unix ms) until which `user_key` or `address_key`
    /// must wait, if one waits past `now`. One query: every password
    /// check asks.
    pub async fn login_wait(
        &self,
        user_key: &str,
        address_key: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(&self.pool, |pool, d| sqlx::query_scalar(
            "SELECT MAX(until_ms) FROM login_failures WHERE key IN ($1, $2) AND until_ms > $3"
        )
        .bind(user_key)
        .bind(address_key)
        .bind(now)
        .fetch_one(pool)
        .await)?)
    }

    /// Counts a failed attempt under `key`; `wait(count)` says how long
    /// (ms) the next attempt must wait after `count` failures (0: none).
    /// Entries idle for `forget_ms` are dropped on the way. Returns the
    /// count.
    pub async fn login_failed(
        &self,
        key: &str,
        now: i64,
        forget_ms: i64,
        wait: impl Fn(i64) -> i64,
    ) -> Result<i64, StoreError> {
        with_pool!(&self.pool, |pool, d| {
            let mut tx = pool.write().await?;
            sqlx::query("DELETE FROM login_failures WHERE last_ms < $1")
                .bind(now - forget_ms)
                .execute(&mut *tx)
                .await?;
            let count: Option<i64> = sqlx::query_scalar(locked!(
                d,
                "SELECT count FROM login_failures WHERE key = $1"
            ))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            let count = count.unwrap_or(0) + 1;
            sqlx::query(
                "INSERT INTO login_failures (key, count, until_ms, last_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE SET count = excluded.count, until_ms = excluded.until_ms, last_ms = excluded.last_ms",
            )
            .bind(key)
            .bind(count)
            .bind(now + wait(count))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(count)
        })
    }

    /// Forgets the failures counted under `key` (a login succeeded).
    pub async fn login_succeeded(&self, key: &str) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| sqlx::query(
            "DELETE FROM login_failures WHERE key = $1"
        )
        .bind(key)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Records a setup token's digest, good until `until` (Unix ms).
    pub async fn add_setup_token(&self, digest: &str, until: i64) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool, d| sqlx::query(
            "INSERT INTO setup_tokens (digest, until_ms) VALUES ($1, $2)"
        )
        .bind(digest)
        .bind(until)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Uses up a live setup token: true if it was live (once, whichever
    /// node asks).
    pub async fn take_setup_token(&self, digest: &str, now: i64) -> Result<bool, StoreError> {
        let done = with_pool!(&self.pool, |pool, d| sqlx::query(
            "DELETE FROM setup_tokens WHERE digest = $1 AND until_ms > $2"
        )
        .bind(digest)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Whether a setup token is live, without using it.
    pub async fn setup_token_is_live(&self, digest: &str, now: i64) -> Result<bool, StoreError> {
        let found: Option<i64> = with_pool!(&self.pool, |pool, d| sqlx::query_scalar(
            "SELECT until_ms FROM setup_tokens WHERE digest = $1 AND until_ms > $2"
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }
}
