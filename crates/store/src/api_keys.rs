//! API keys, stored as SHA-256 hashes; the plaintext is shown once at creation.

use crate::{Conn, Result};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRow {
    pub id: String,
    /// `None` for an installation-wide key.
    pub merchant_id: Option<String>,
    pub name: String,
    /// The first characters of the key, to recognise it in lists.
    pub prefix: String,
    #[serde(skip)]
    pub hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

fn key(r: &sqlx::any::AnyRow) -> Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: r.try_get("id")?,
        merchant_id: r.try_get("merchant_id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        hash: r.try_get("hash")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

pub async fn insert(c: &mut Conn, k: &ApiKeyRow) -> Result<()> {
    sqlx::query("INSERT INTO api_keys (id, merchant_id, name, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&k.id)
        .bind(&k.merchant_id)
        .bind(&k.name)
        .bind(&k.prefix)
        .bind(&k.hash)
        .bind(k.created_at)
        .execute(c)
        .await?;
    Ok(())
}

/// The active key with this hash.
pub async fn find_active(c: &mut Conn, hash: &str) -> Result<Option<ApiKeyRow>> {
    let row = sqlx::query("SELECT * FROM api_keys WHERE hash = $1 AND revoked_at IS NULL")
        .bind(hash)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(key).transpose()
}

pub async fn touch(c: &mut Conn, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn list(c: &mut Conn, merchant_id: Option<&str>) -> Result<Vec<ApiKeyRow>> {
    let rows = sqlx::query(
        "SELECT * FROM api_keys WHERE ($1 IS NULL OR merchant_id = $1) ORDER BY created_at, id",
    )
    .bind(merchant_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(key).collect()
}

pub async fn revoke(c: &mut Conn, id: &str, now: i64) -> Result<bool> {
    Ok(
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected()
            == 1,
    )
}
