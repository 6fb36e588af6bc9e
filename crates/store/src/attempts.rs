//! OAuth connection attempts: the PKCE verifier (encrypted) kept server-side for 10 minutes.

use crate::{Conn, Result};
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRow {
    pub merchant_id: String,
    pub id: String,
    pub series: String,
    /// Set for a reconnect: the connection the attempt updates.
    pub connection_id: Option<String>,
    pub verifier_enc: String,
    pub redirect_uri: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_attempt(c: &mut Conn, a: &AttemptRow) -> Result<()> {
    sqlx::query("INSERT INTO oauth_attempts (merchant_id, id, series, connection_id, verifier_enc, redirect_uri, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&a.merchant_id)
        .bind(&a.id)
        .bind(&a.series)
        .bind(&a.connection_id)
        .bind(&a.verifier_enc)
        .bind(&a.redirect_uri)
        .bind(a.created_at)
        .bind(a.expires_at)
        .execute(c)
        .await?;
    Ok(())
}

/// Marks the attempt used and returns it, exactly once: a replay gets `None`.
pub async fn take_attempt(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
    now: i64,
) -> Result<Option<AttemptRow>> {
    let row = sqlx::query(
        "UPDATE oauth_attempts SET used_at = $3 WHERE merchant_id = $1 AND id = $2 AND used_at IS NULL \
         RETURNING merchant_id, id, series, connection_id, verifier_enc, redirect_uri, created_at, expires_at",
    )
    .bind(merchant_id)
    .bind(id)
    .bind(now)
    .fetch_optional(c)
    .await?;
    row.map(|r| {
        Ok(AttemptRow {
            merchant_id: r.try_get("merchant_id")?,
            id: r.try_get("id")?,
            series: r.try_get("series")?,
            connection_id: r.try_get("connection_id")?,
            verifier_enc: r.try_get("verifier_enc")?,
            redirect_uri: r.try_get("redirect_uri")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Deletes attempts that expired before `cutoff` (verifiers are not kept longer than needed).
pub async fn purge_expired(c: &mut Conn, cutoff: i64) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM oauth_attempts WHERE expires_at < $1")
            .bind(cutoff)
            .execute(c)
            .await?
            .rows_affected(),
    )
}
