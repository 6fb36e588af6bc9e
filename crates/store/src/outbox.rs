//! Alert mails: queued in the transaction that raises the alert, so an alert is never lost
//! and never queued without its cause, then sent (or written out) by the mailer.

use crate::{Conn, Result};
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailRow {
    pub merchant_id: String,
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i64,
}

pub async fn queue(c: &mut Conn, m: &MailRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox_mails (merchant_id, id, recipient, subject, body, created_at, sent_at, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, $6)",
    )
    .bind(&m.merchant_id)
    .bind(&m.id)
    .bind(&m.recipient)
    .bind(&m.subject)
    .bind(&m.body)
    .bind(m.created_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Unsent mails due at `now`, oldest first.
pub async fn due(c: &mut Conn, now: i64, limit: i64) -> Result<Vec<MailRow>> {
    let rows = sqlx::query(
        "SELECT merchant_id, id, recipient, subject, body, created_at, attempts FROM outbox_mails \
         WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MailRow {
                merchant_id: r.try_get("merchant_id")?,
                id: r.try_get("id")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                created_at: r.try_get("created_at")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

pub async fn mark_sent(c: &mut Conn, merchant_id: &str, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE outbox_mails SET sent_at = $3, last_error = NULL WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn mark_failed(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
    error: &str,
    retry_at: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox_mails SET attempts = attempts + 1, last_error = $3, next_attempt_at = $4 WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant_id)
    .bind(id)
    .bind(error)
    .bind(retry_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// A merchant's mails, newest first: (subject, recipient, sent_at, last_error).
pub async fn list(
    c: &mut Conn,
    merchant_id: &str,
    limit: i64,
) -> Result<Vec<(String, String, Option<i64>, Option<String>)>> {
    let rows = sqlx::query(
        "SELECT subject, recipient, sent_at, last_error FROM outbox_mails WHERE merchant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(merchant_id)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("subject")?,
                r.try_get("recipient")?,
                r.try_get("sent_at")?,
                r.try_get("last_error")?,
            ))
        })
        .collect()
}
