//! The integration log per connection: newest first, at most 100 entries, identical
//! consecutive entries collapsed into one with a count and first/last timestamps.

use crate::{Conn, Result};
use sqlx::Row;

pub const MAX_ENTRIES: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogEntry {
    pub level: String,
    pub message: String,
    pub count: i64,
    pub first_at: i64,
    pub last_at: i64,
}

pub async fn append(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    level: &str,
    message: &str,
    now: i64,
) -> Result<()> {
    let last = sqlx::query("SELECT id, level, message FROM integration_log WHERE merchant_id = $1 AND connection_id = $2 ORDER BY id DESC LIMIT 1")
        .bind(merchant_id)
        .bind(connection_id)
        .fetch_optional(&mut *c)
        .await?;
    if let Some(row) = last {
        let (id, l, m): (i64, String, String) = (
            row.try_get("id")?,
            row.try_get("level")?,
            row.try_get("message")?,
        );
        if l == level && m == message {
            sqlx::query("UPDATE integration_log SET count = count + 1, last_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(c)
                .await?;
            return Ok(());
        }
    }
    sqlx::query("INSERT INTO integration_log (merchant_id, connection_id, level, message, count, first_at, last_at) VALUES ($1, $2, $3, $4, 1, $5, $5)")
        .bind(merchant_id)
        .bind(connection_id)
        .bind(level)
        .bind(message)
        .bind(now)
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "DELETE FROM integration_log WHERE merchant_id = $1 AND connection_id = $2 AND id NOT IN \
         (SELECT id FROM integration_log WHERE merchant_id = $1 AND connection_id = $2 ORDER BY id DESC LIMIT $3)",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(MAX_ENTRIES)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn list(c: &mut Conn, merchant_id: &str, connection_id: &str) -> Result<Vec<LogEntry>> {
    let rows = sqlx::query("SELECT level, message, count, first_at, last_at FROM integration_log WHERE merchant_id = $1 AND connection_id = $2 ORDER BY id DESC LIMIT $3")
        .bind(merchant_id)
        .bind(connection_id)
        .bind(MAX_ENTRIES)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LogEntry {
                level: r.try_get("level")?,
                message: r.try_get("message")?,
                count: r.try_get("count")?,
                first_at: r.try_get("first_at")?,
                last_at: r.try_get("last_at")?,
            })
        })
        .collect()
}
