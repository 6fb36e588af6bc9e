//! Outbound webhooks: the embedding app's endpoints, one delivery per (endpoint, event) and the
//! log of every attempt. An endpoint belongs to a merchant or, with no merchant, to the
//! installation (it receives every merchant's events); every query names the merchant or the
//! endpoint's owner, so a merchant never reads another's endpoints or deliveries.

use crate::{Conn, Result, StoreError};
use sqlx::Row;

/// The event consumer that turns events into deliveries (its job's stream key).
pub const CONSUMER: &str = "webhooks";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: String,
    /// `None`: the installation's endpoint.
    pub merchant_id: Option<String>,
    pub url: String,
    pub description: Option<String>,
    /// Event types and `prefix.*` patterns; empty: every event.
    pub event_types: Vec<String>,
    pub secret_enc: String,
    pub previous_secret_enc: Option<String>,
    pub previous_valid_until: Option<i64>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl EndpointRow {
    /// Whether `event_type` passes the endpoint's filter.
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.is_empty()
            || self.event_types.iter().any(|t| match t.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => t == event_type,
            })
    }
}

const ENDPOINT_COLUMNS: &str =
    "id, merchant_id, url, description, event_types, secret_enc, previous_secret_enc, \
     previous_valid_until, enabled, disabled_reason, failing_since, created_at, updated_at";

fn endpoint_of(r: &sqlx::any::AnyRow) -> Result<EndpointRow> {
    let types: String = r.try_get("event_types")?;
    Ok(EndpointRow {
        id: r.try_get("id")?,
        merchant_id: r.try_get("merchant_id")?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        event_types: serde_json::from_str(&types)
            .map_err(|e| StoreError::Corrupt(format!("webhook endpoint event types: {e}")))?,
        secret_enc: r.try_get("secret_enc")?,
        previous_secret_enc: r.try_get("previous_secret_enc")?,
        previous_valid_until: r.try_get("previous_valid_until")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        disabled_reason: r.try_get("disabled_reason")?,
        failing_since: r.try_get("failing_since")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_endpoint(c: &mut Conn, e: &EndpointRow) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO outbound_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&e.id)
    .bind(&e.merchant_id)
    .bind(&e.url)
    .bind(&e.description)
    .bind(serde_json::to_string(&e.event_types).unwrap_or_else(|_| "[]".into()))
    .bind(&e.secret_enc)
    .bind(&e.previous_secret_enc)
    .bind(e.previous_valid_until)
    .bind(i64::from(e.enabled))
    .bind(&e.disabled_reason)
    .bind(e.failing_since)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Writes every mutable field of an endpoint.
pub async fn update_endpoint(c: &mut Conn, e: &EndpointRow) -> Result<()> {
    sqlx::query(
        "UPDATE outbound_endpoints SET url = $2, description = $3, event_types = $4, secret_enc = $5, previous_secret_enc = $6, \
         previous_valid_until = $7, enabled = $8, disabled_reason = $9, failing_since = $10, updated_at = $11 WHERE id = $1",
    )
    .bind(&e.id)
    .bind(&e.url)
    .bind(&e.description)
    .bind(serde_json::to_string(&e.event_types).unwrap_or_else(|_| "[]".into()))
    .bind(&e.secret_enc)
    .bind(&e.previous_secret_enc)
    .bind(e.previous_valid_until)
    .bind(i64::from(e.enabled))
    .bind(&e.disabled_reason)
    .bind(e.failing_since)
    .bind(e.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

/// One endpoint, if `owner` may see it: `None` sees every endpoint, `Some(m)` only merchant
/// `m`'s own.
pub async fn endpoint(c: &mut Conn, owner: Option<&str>, id: &str) -> Result<Option<EndpointRow>> {
    let row = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM outbound_endpoints WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(c)
    .await?;
    let found = row.as_ref().map(endpoint_of).transpose()?;
    Ok(found.filter(|e| owner.is_none() || e.merchant_id.as_deref() == owner))
}

/// The endpoints `owner` may see (all for `None`), oldest first.
pub async fn list_endpoints(c: &mut Conn, owner: Option<&str>) -> Result<Vec<EndpointRow>> {
    let rows = match owner {
        None => {
            sqlx::query(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM outbound_endpoints ORDER BY created_at, id"
            ))
            .fetch_all(c)
            .await?
        }
        Some(m) => {
            sqlx::query(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM outbound_endpoints WHERE merchant_id = $1 ORDER BY created_at, id"
            ))
            .bind(m)
            .fetch_all(c)
            .await?
        }
    };
    rows.iter().map(endpoint_of).collect()
}

/// The enabled endpoints that receive merchant `merchant_id`'s events: its own and the
/// installation's.
pub async fn endpoints_for(c: &mut Conn, merchant_id: &str) -> Result<Vec<EndpointRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM outbound_endpoints WHERE enabled = 1 AND (merchant_id = $1 OR merchant_id IS NULL) ORDER BY id"
    ))
    .bind(merchant_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(endpoint_of).collect()
}

/// Deletes an endpoint with its deliveries and attempts.
pub async fn delete_endpoint(c: &mut Conn, id: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM outbound_attempts WHERE delivery_id IN (SELECT id FROM outbound_deliveries WHERE endpoint_id = $1)",
    )
    .bind(id)
    .execute(&mut *c)
    .await?;
    sqlx::query("DELETE FROM outbound_deliveries WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM outbound_endpoints WHERE id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryRow {
    pub merchant_id: String,
    pub id: String,
    pub endpoint_id: String,
    pub event_seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    #[serde(rename = "attempt_count")]
    pub attempts: i64,
    pub schedule_step: i64,
    pub next_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const DELIVERY_COLUMNS: &str = "merchant_id, id, endpoint_id, event_seq, event_id, event_type, status, attempts, schedule_step, \
     next_attempt_at, last_status_code, last_error, delivered_at, created_at, updated_at";

fn delivery_of(r: &sqlx::any::AnyRow) -> Result<DeliveryRow> {
    Ok(DeliveryRow {
        merchant_id: r.try_get("merchant_id")?,
        id: r.try_get("id")?,
        endpoint_id: r.try_get("endpoint_id")?,
        event_seq: r.try_get("event_seq")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        schedule_step: r.try_get("schedule_step")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_status_code: r.try_get("last_status_code")?,
        last_error: r.try_get("last_error")?,
        delivered_at: r.try_get("delivered_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Records a delivery unless this endpoint already has one for the event.
pub async fn insert_delivery(c: &mut Conn, d: &DeliveryRow) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO outbound_deliveries ({DELIVERY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (endpoint_id, merchant_id, event_seq) DO NOTHING"
    ))
    .bind(&d.merchant_id)
    .bind(&d.id)
    .bind(&d.endpoint_id)
    .bind(d.event_seq)
    .bind(&d.event_id)
    .bind(&d.event_type)
    .bind(&d.status)
    .bind(d.attempts)
    .bind(d.schedule_step)
    .bind(d.next_attempt_at)
    .bind(d.last_status_code)
    .bind(&d.last_error)
    .bind(d.delivered_at)
    .bind(d.created_at)
    .bind(d.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Writes a delivery's state after an attempt or a redelivery request.
pub async fn update_delivery(c: &mut Conn, d: &DeliveryRow) -> Result<()> {
    sqlx::query(
        "UPDATE outbound_deliveries SET status = $3, attempts = $4, schedule_step = $5, next_attempt_at = $6, last_status_code = $7, \
         last_error = $8, delivered_at = $9, updated_at = $10 WHERE merchant_id = $1 AND id = $2",
    )
    .bind(&d.merchant_id)
    .bind(&d.id)
    .bind(&d.status)
    .bind(d.attempts)
    .bind(d.schedule_step)
    .bind(d.next_attempt_at)
    .bind(d.last_status_code)
    .bind(&d.last_error)
    .bind(d.delivered_at)
    .bind(d.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Pending deliveries of a merchant due at `now`, oldest event first.
pub async fn due(
    c: &mut Conn,
    merchant_id: &str,
    now: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM outbound_deliveries WHERE merchant_id = $1 AND status = 'pending' AND next_attempt_at <= $2 \
         ORDER BY next_attempt_at, event_seq LIMIT $3"
    ))
    .bind(merchant_id)
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter().map(delivery_of).collect()
}

/// When the merchant's next pending delivery is due.
pub async fn next_due(c: &mut Conn, merchant_id: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM outbound_deliveries WHERE merchant_id = $1 AND status = 'pending'",
    )
    .bind(merchant_id)
    .fetch_one(c)
    .await?)
}

/// One delivery of an endpoint.
pub async fn delivery(c: &mut Conn, endpoint_id: &str, id: &str) -> Result<Option<DeliveryRow>> {
    let row = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM outbound_deliveries WHERE endpoint_id = $1 AND id = $2"
    ))
    .bind(endpoint_id)
    .bind(id)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(delivery_of).transpose()
}

/// An endpoint's deliveries, newest first, optionally of one status.
pub async fn deliveries(
    c: &mut Conn,
    endpoint_id: &str,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<DeliveryRow>> {
    let filter = if status.is_some() {
        " AND status = $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM outbound_deliveries WHERE endpoint_id = $1{filter} ORDER BY created_at DESC, event_seq DESC LIMIT $2"
    );
    let mut q = sqlx::query(&sql).bind(endpoint_id).bind(limit);
    if let Some(s) = status {
        q = q.bind(s);
    }
    let rows = q.fetch_all(c).await?;
    rows.iter().map(delivery_of).collect()
}

/// Stops every pending delivery of an endpoint (it was disabled), with `reason`.
pub async fn fail_pending(c: &mut Conn, endpoint_id: &str, reason: &str, now: i64) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE outbound_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $2, updated_at = $3 \
         WHERE endpoint_id = $1 AND status = 'pending'",
    )
    .bind(endpoint_id)
    .bind(reason)
    .bind(now)
    .execute(c)
    .await?
    .rows_affected())
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AttemptRow {
    pub attempt: i64,
    pub at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

pub async fn insert_attempt(
    c: &mut Conn,
    merchant_id: &str,
    delivery_id: &str,
    a: &AttemptRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbound_attempts (merchant_id, delivery_id, attempt, at, status_code, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(merchant_id)
    .bind(delivery_id)
    .bind(a.attempt)
    .bind(a.at)
    .bind(a.status_code)
    .bind(&a.error)
    .bind(a.duration_ms)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn attempts(
    c: &mut Conn,
    merchant_id: &str,
    delivery_id: &str,
) -> Result<Vec<AttemptRow>> {
    let rows = sqlx::query(
        "SELECT attempt, at, status_code, error, duration_ms FROM outbound_attempts \
         WHERE merchant_id = $1 AND delivery_id = $2 ORDER BY attempt",
    )
    .bind(merchant_id)
    .bind(delivery_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AttemptRow {
                attempt: r.try_get("attempt")?,
                at: r.try_get("at")?,
                status_code: r.try_get("status_code")?,
                error: r.try_get("error")?,
                duration_ms: r.try_get("duration_ms")?,
            })
        })
        .collect()
}

/// Deliveries by status, plus the pending ones that have failed at least once and the
/// disabled endpoints, for `/metrics`.
pub async fn delivery_counts(c: &mut Conn) -> Result<(Vec<(String, i64)>, i64, i64)> {
    let rows = sqlx::query(
        "SELECT status, COUNT(*) AS n FROM outbound_deliveries GROUP BY status ORDER BY status",
    )
    .fetch_all(&mut *c)
    .await?;
    let by_status = rows
        .iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect::<Result<Vec<_>>>()?;
    let retrying: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbound_deliveries WHERE status = 'pending' AND attempts > 0",
    )
    .fetch_one(&mut *c)
    .await?;
    let disabled: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbound_endpoints WHERE enabled = 0")
            .fetch_one(&mut *c)
            .await?;
    Ok((by_status, retrying, disabled))
}
