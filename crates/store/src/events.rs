//! The event log: ordered per merchant, written in the same transaction as the change it
//! describes. The per-merchant counter row serialises writers, so sequence order is commit
//! order and a reader polling `after=seq` never skips an event.
//!
//! The installation-wide stream numbers events across merchants lazily: [`sequence`] gives the
//! committed events that have no stream number yet the next numbers, in the order they were
//! appended, under one lock row. A sequencer only sees committed events and sequencers run one
//! at a time, so a stream number is never given to an event after a larger one was readable:
//! a reader polling `stream_after(after)` never skips an event either.

use crate::{Backend, Conn, Result, Store, StoreError};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub subject: String,
    pub payload: serde_json::Value,
    pub created_at: i64,
}

pub async fn append(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
    event_type: &str,
    subject: &str,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE merchants SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq",
    )
    .bind(merchant_id)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("merchant `{merchant_id}`")))?;
    sqlx::query("INSERT INTO events (merchant_id, seq, id, type, subject, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(merchant_id)
        .bind(seq)
        .bind(id)
        .bind(event_type)
        .bind(subject)
        .bind(payload.to_string())
        .bind(now)
        .execute(&mut *c)
        .await?;
    // The merchant's consumers (loyalty, webhooks, …) apply it now, not at their next look.
    crate::jobs::wake_kind(c, merchant_id, crate::jobs::CONSUMER, now).await?;
    Ok(seq)
}

pub async fn list_after(
    c: &mut Conn,
    merchant_id: &str,
    after: i64,
    event_type: Option<&str>,
    limit: i64,
) -> Result<Vec<EventRow>> {
    let rows = sqlx::query("SELECT seq, id, type, subject, payload, created_at FROM events WHERE merchant_id = $1 AND seq > $2 AND ($3 IS NULL OR type = $3) ORDER BY seq LIMIT $4")
        .bind(merchant_id)
        .bind(after)
        .bind(event_type)
        .bind(limit)
        .fetch_all(c)
        .await?;
    rows.iter().map(event_row).collect()
}

/// The merchant's events of `types` after sequence number `after` up to `until` (included),
/// at most `limit`, in order.
pub async fn list_of_types(
    c: &mut Conn,
    merchant_id: &str,
    after: i64,
    until: i64,
    types: &[&str],
    limit: i64,
) -> Result<Vec<EventRow>> {
    if types.is_empty() || until <= after {
        return Ok(Vec::new());
    }
    let list = crate::placeholders(types.len(), "", 1, 4);
    let sql = format!(
        "SELECT seq, id, type, subject, payload, created_at FROM events \
         WHERE merchant_id = $1 AND seq > $2 AND seq <= $3 AND type IN ({list}) \
         ORDER BY seq LIMIT ${}",
        4 + types.len()
    );
    let sql = crate::for_backend(c, &sql);
    let mut q = sqlx::query(&sql).bind(merchant_id).bind(after).bind(until);
    for t in types {
        q = q.bind(*t);
    }
    let rows = q.bind(limit).fetch_all(c).await?;
    rows.iter().map(event_row).collect()
}

fn event_row(r: &sqlx::any::AnyRow) -> Result<EventRow> {
    let payload: String = r.try_get("payload")?;
    Ok(EventRow {
        seq: r.try_get("seq")?,
        id: r.try_get("id")?,
        event_type: r.try_get("type")?,
        subject: r.try_get("subject")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?,
        created_at: r.try_get("created_at")?,
    })
}

/// The merchant's last event sequence number (0 before the first event).
pub async fn last_seq(c: &mut Conn, merchant_id: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT event_seq FROM merchants WHERE id = $1")
            .bind(merchant_id)
            .fetch_optional(c)
            .await?
            .unwrap_or(0),
    )
}

/// An event to append with [`append_many`].
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: String,
    pub event_type: String,
    pub subject: String,
    pub payload: serde_json::Value,
}

/// Appends events in order in the caller's transaction with one sequence update and a few
/// multi-row inserts (what [`append`] does for one).
pub async fn append_many(
    c: &mut Conn,
    merchant_id: &str,
    events: &[NewEvent],
    now: i64,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let last: i64 = sqlx::query_scalar(
        "UPDATE merchants SET event_seq = event_seq + $2 WHERE id = $1 RETURNING event_seq",
    )
    .bind(merchant_id)
    .bind(events.len() as i64)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("merchant `{merchant_id}`")))?;
    let mut seq = last - events.len() as i64;
    // Each row binds all its values, so that SQLite binds them in order (`for_backend`).
    for chunk in events.chunks(500) {
        let rows = crate::placeholders(chunk.len(), "", 7, 1);
        let sql = format!(
            "INSERT INTO events (merchant_id, created_at, seq, id, type, subject, payload) VALUES {rows}"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql).persistent(chunk.len() == 500);
        for e in chunk {
            seq += 1;
            q = q
                .bind(merchant_id)
                .bind(now)
                .bind(seq)
                .bind(&e.id)
                .bind(&e.event_type)
                .bind(&e.subject)
                .bind(e.payload.to_string());
        }
        q.execute(&mut *c).await?;
    }
    // The merchant's consumers (loyalty, webhooks, …) apply it now, not at their next look.
    crate::jobs::wake_kind(c, merchant_id, crate::jobs::CONSUMER, now).await?;
    Ok(())
}

/// An event in the installation-wide stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StreamEvent {
    pub stream_seq: i64,
    pub merchant_id: String,
    /// `seq` is the event's number in its merchant's log.
    #[serde(flatten)]
    pub event: EventRow,
}

/// Whether some committed event has no stream number yet.
pub async fn unsequenced(c: &mut Conn) -> Result<bool> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT 1 FROM events WHERE stream_seq IS NULL LIMIT 1")
            .fetch_optional(c)
            .await?
            .is_some(),
    )
}

/// Gives up to `max` committed events without a stream number the next numbers, oldest append
/// first (a merchant's events in their sequence order); returns how many were numbered.
pub async fn sequence(store: &Store, max: i64) -> Result<u64> {
    let appended = match store.backend() {
        Backend::Postgres => "appended",
        Backend::Sqlite => "rowid",
    };
    let mut tx = store.begin().await?;
    // Locks the stream row: sequencers take turns, and each one's statements below see what the
    // one before it numbered.
    let last: i64 = sqlx::query_scalar(
        "UPDATE event_stream SET last_seq = last_seq WHERE id = 1 RETURNING last_seq",
    )
    .fetch_one(&mut *tx)
    .await?;
    let sql = format!(
        "WITH next AS (SELECT merchant_id, seq, ROW_NUMBER() OVER (ORDER BY pos) AS n \
         FROM (SELECT merchant_id, seq, {appended} AS pos FROM events WHERE stream_seq IS NULL ORDER BY {appended} LIMIT $2) pending) \
         UPDATE events SET stream_seq = $1 + next.n FROM next \
         WHERE events.merchant_id = next.merchant_id AND events.seq = next.seq"
    );
    let numbered = sqlx::query(&sql)
        .bind(last)
        .bind(max)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("UPDATE event_stream SET last_seq = last_seq + $1 WHERE id = 1")
        .bind(numbered as i64)
        .execute(&mut *tx)
        .await?;
    crate::commit(tx).await?;
    Ok(numbered)
}

/// Stream events after `after`, optionally of one merchant and one type, in stream order.
pub async fn stream_after(
    c: &mut Conn,
    merchant_id: Option<&str>,
    after: i64,
    event_type: Option<&str>,
    limit: i64,
) -> Result<Vec<StreamEvent>> {
    let mut sql = String::from(
        "SELECT stream_seq, merchant_id, seq, id, type, subject, payload, created_at FROM events WHERE stream_seq > $1",
    );
    let mut n = 1;
    if merchant_id.is_some() {
        n += 1;
        sql.push_str(&format!(" AND merchant_id = ${n}"));
    }
    if event_type.is_some() {
        n += 1;
        sql.push_str(&format!(" AND type = ${n}"));
    }
    sql.push_str(&format!(" ORDER BY stream_seq LIMIT ${}", n + 1));
    let sql = crate::for_backend(c, &sql);
    let mut q = sqlx::query(&sql).bind(after);
    if let Some(m) = merchant_id {
        q = q.bind(m);
    }
    if let Some(t) = event_type {
        q = q.bind(t);
    }
    let rows = q.bind(limit).fetch_all(c).await?;
    rows.iter()
        .map(|r| {
            Ok(StreamEvent {
                stream_seq: r.try_get("stream_seq")?,
                merchant_id: r.try_get("merchant_id")?,
                event: event_row(r)?,
            })
        })
        .collect()
}
