//! Jobs are rows: one per (connection, kind, stream). A worker claims a due job under a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers), extends the lease as
//! it checkpoints, and puts the job back with its next run time. A job whose lease expired
//! (its worker died) is claimable again and resumes from its checkpoint.

use crate::{Conn, Result, Store};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRow {
    pub id: String,
    pub merchant_id: String,
    pub connection_id: String,
    pub kind: String,
    pub stream_key: String,
    /// `queued`, `running`, `paused` or `failed`.
    pub state: String,
    pub run_after: i64,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub attempts: i64,
    pub checkpoint: serde_json::Value,
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, merchant_id, connection_id, kind, stream_key, state, run_after, lease_owner, lease_until, attempts, checkpoint, progress_done, progress_total, last_error, updated_at";

fn job(r: &sqlx::any::AnyRow) -> Result<JobRow> {
    let checkpoint: String = r.try_get("checkpoint")?;
    Ok(JobRow {
        id: r.try_get("id")?,
        merchant_id: r.try_get("merchant_id")?,
        connection_id: r.try_get("connection_id")?,
        kind: r.try_get("kind")?,
        stream_key: r.try_get("stream_key")?,
        state: r.try_get("state")?,
        run_after: r.try_get("run_after")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_until: r.try_get("lease_until")?,
        attempts: r.try_get("attempts")?,
        checkpoint: serde_json::from_str(&checkpoint)
            .map_err(|e| crate::StoreError::Corrupt(format!("job checkpoint: {e}")))?,
        progress_done: r.try_get("progress_done")?,
        progress_total: r.try_get("progress_total")?,
        last_error: r.try_get("last_error")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub struct NewJob<'a> {
    pub id: &'a str,
    pub merchant_id: &'a str,
    pub connection_id: &'a str,
    pub kind: &'a str,
    pub stream_key: &'a str,
    pub run_after: i64,
    pub checkpoint: &'a serde_json::Value,
}

/// The kind of the jobs that run a merchant's event consumers; events appended make them due.
pub const CONSUMER: &str = "consumer";

/// Creates the stream's job if it does not exist yet; returns whether it was created.
pub async fn ensure(c: &mut Conn, j: &NewJob<'_>, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO jobs (id, merchant_id, connection_id, kind, stream_key, state, run_after, attempts, checkpoint, progress_done, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, 0, $7, 0, $8, $8) ON CONFLICT (merchant_id, connection_id, kind, stream_key) DO NOTHING",
    )
    .bind(j.id)
    .bind(j.merchant_id)
    .bind(j.connection_id)
    .bind(j.kind)
    .bind(j.stream_key)
    .bind(j.run_after)
    .bind(j.checkpoint.to_string())
    .bind(now)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims one due job (queued and due, or running with an expired lease) for `owner`.
pub async fn claim(
    store: &Store,
    owner: &str,
    lease_until: i64,
    now: i64,
) -> Result<Option<JobRow>> {
    let sql = format!(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3, woken_at = NULL \
         WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3) \
         ORDER BY run_after, id LIMIT 1 {}) RETURNING {COLUMNS}",
        store.skip_locked()
    );
    let mut tx = store.begin().await?;
    let row = sqlx::query(&sql)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    row.as_ref().map(job).transpose()
}

/// Jobs that are due now, counted without locking: a claim that found nothing while this is
/// above zero lost a race with a transaction holding the rows (a webhook waking them).
pub async fn count_due(c: &mut Conn, now: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE (state = 'queued' AND run_after <= $1) OR (state = 'running' AND lease_until < $1)",
    )
    .bind(now)
    .fetch_one(c)
    .await?)
}

/// A connection's jobs that are queued and due (what a "sync now" has scheduled).
pub async fn count_due_for_connection(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    now: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE merchant_id = $1 AND connection_id = $2 AND state = 'queued' AND run_after <= $3",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(now)
    .fetch_one(c)
    .await?)
}

/// A job's saved position and progress.
pub struct Progress<'a> {
    pub checkpoint: &'a serde_json::Value,
    pub done: i64,
    pub total: Option<i64>,
}

/// Saves progress and extends the lease; `false` means the lease was lost to another worker.
pub async fn checkpoint(
    c: &mut Conn,
    id: &str,
    owner: &str,
    progress: &Progress<'_>,
    lease_until: i64,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE jobs SET checkpoint = $3, progress_done = $4, progress_total = $5, lease_until = $6, updated_at = $7 \
         WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(owner)
    .bind(progress.checkpoint.to_string())
    .bind(progress.done)
    .bind(progress.total)
    .bind(lease_until)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Extends the lease of a running job; `false` means the lease was lost.
pub async fn heartbeat(c: &mut Conn, id: &str, owner: &str, lease_until: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(owner)
    .bind(lease_until)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Releases the job: back to `queued` at `run_after` (or `paused`/`failed`), recording the error.
/// `if_woken`, when given, is the run time instead if the job was woken while it ran (see the
/// wake functions), so that what woke it is handled at once rather than at the next interval.
#[allow(clippy::too_many_arguments)]
pub async fn release(
    c: &mut Conn,
    id: &str,
    owner: &str,
    state: &str,
    run_after: i64,
    if_woken: Option<i64>,
    last_error: Option<&str>,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE jobs SET state = $3, run_after = CASE WHEN woken_at IS NULL OR $7 IS NULL THEN $4 ELSE $7 END, \
         last_error = $5, lease_owner = NULL, lease_until = NULL, woken_at = NULL, \
         attempts = CASE WHEN $5 IS NULL THEN 0 ELSE attempts END, updated_at = $6 WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(state)
    .bind(run_after)
    .bind(last_error)
    .bind(now)
    .bind(if_woken)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Starts a stream over from the beginning (e.g. after a new location is mapped); idempotent
/// upserts make the re-read harmless. A running job loses its lease: its next checkpoint fails,
/// rolling back the page it was writing, and the next claim starts from the beginning with the
/// new scope. Paused and failed jobs stay so.
pub async fn restart_stream(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    kind: &str,
    stream_key: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE jobs SET checkpoint = '{}', progress_done = 0, progress_total = NULL, run_after = $5, updated_at = $5, last_success_at = NULL, \
         state = CASE WHEN state = 'running' THEN 'queued' ELSE state END, lease_owner = NULL, lease_until = NULL \
         WHERE merchant_id = $1 AND connection_id = $2 AND kind = $3 AND stream_key = $4",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(kind)
    .bind(stream_key)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

/// Records that a run of the job finished with everything read (`Done`).
pub async fn mark_succeeded(c: &mut Conn, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE jobs SET last_success_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// Per connection: when every one of its orders jobs last finished a run, the earliest of them
/// (orders closed before that instant have been read); no row for a connection where one never
/// finished (or was restarted since). `{filter}` narrows the jobs read.
const SYNCED_UNTIL: &str =
    "SELECT merchant_id, connection_id, MIN(last_success_at) AS until FROM jobs \
     WHERE kind = 'orders' {filter} GROUP BY merchant_id, connection_id \
     HAVING COUNT(*) = COUNT(last_success_at) ORDER BY merchant_id, connection_id";

/// [`SYNCED_UNTIL`] for one connection: `None` when one of its orders jobs never finished a
/// run or it has none.
pub async fn orders_synced_until(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
) -> Result<Option<i64>> {
    let sql = SYNCED_UNTIL.replace("{filter}", "AND merchant_id = $1 AND connection_id = $2");
    let row = sqlx::query(&sql)
        .bind(merchant_id)
        .bind(connection_id)
        .fetch_optional(c)
        .await?;
    Ok(row.map(|r| r.try_get("until")).transpose()?)
}

/// What a wake sets: a queued (or, for [`wake_connection`], paused or failed) job becomes due
/// at `$now`; a running one is marked woken, so that [`release`] makes it due again at once
/// (a wake used to be lost while its job ran, until the job's next interval). A job already
/// due, or already woken in this run, is left as it is: under a burst of webhooks only the
/// first writes (and, on PostgreSQL, locks) the job rows.
const WAKE_SET: &str = "run_after = CASE WHEN state = 'running' THEN run_after ELSE $now END, \
     woken_at = CASE WHEN state = 'running' THEN $now ELSE woken_at END";
const WAKE_RUNNING: &str = "(state = 'running' AND woken_at IS NULL)";

/// Makes a connection's jobs due now (sync now), resuming paused ones; see [`WAKE_SET`].
pub async fn wake_connection(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    now: i64,
) -> Result<u64> {
    let sql = format!(
        "UPDATE jobs SET state = CASE WHEN state = 'running' THEN state ELSE 'queued' END, {WAKE_SET}, updated_at = $now \
         WHERE merchant_id = $1 AND connection_id = $2 AND (state IN ('paused', 'failed') OR (state = 'queued' AND run_after > $now) OR {WAKE_RUNNING})"
    )
    .replace("$now", "$3");
    Ok(sqlx::query(&sql)
        .bind(merchant_id)
        .bind(connection_id)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected())
}

/// Makes one connection's job of one kind due now (when it is not already); see [`WAKE_SET`].
pub async fn wake_connection_kind(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    kind: &str,
    now: i64,
) -> Result<u64> {
    let sql = format!(
        "UPDATE jobs SET {WAKE_SET} WHERE merchant_id = $1 AND connection_id = $2 AND kind = $3 \
         AND ((state = 'queued' AND run_after > $now) OR {WAKE_RUNNING})"
    )
    .replace("$now", "$4");
    Ok(sqlx::query(&sql)
        .bind(merchant_id)
        .bind(connection_id)
        .bind(kind)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected())
}

/// Makes a merchant's jobs of one kind due now (those not already due); see [`WAKE_SET`].
pub async fn wake_kind(c: &mut Conn, merchant_id: &str, kind: &str, now: i64) -> Result<u64> {
    let sql = format!(
        "UPDATE jobs SET {WAKE_SET} WHERE merchant_id = $1 AND kind = $2 \
         AND ((state = 'queued' AND run_after > $now) OR {WAKE_RUNNING})"
    )
    .replace("$now", "$3");
    Ok(sqlx::query(&sql)
        .bind(merchant_id)
        .bind(kind)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected())
}

/// Pauses a connection's jobs (needs re-authorization, disconnected).
pub async fn pause_connection(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    reason: &str,
    now: i64,
) -> Result<u64> {
    Ok(sqlx::query("UPDATE jobs SET state = 'paused', last_error = $3, updated_at = $4 WHERE merchant_id = $1 AND connection_id = $2 AND state IN ('queued', 'failed')")
        .bind(merchant_id)
        .bind(connection_id)
        .bind(reason)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected())
}

pub async fn list_for_connection(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
) -> Result<Vec<JobRow>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE merchant_id = $1 AND connection_id = $2 ORDER BY kind, stream_key"))
        .bind(merchant_id)
        .bind(connection_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(job).collect()
}

pub async fn get(c: &mut Conn, id: &str) -> Result<Option<JobRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(job).transpose()
}

/// Jobs by state, for readiness and metrics.
pub async fn count_by_state(c: &mut Conn) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state ORDER BY state")
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
        .collect()
}

/// [`SYNCED_UNTIL`] for every connection with orders jobs, for `/metrics`.
pub async fn synced_until_by_connection(c: &mut Conn) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(&SYNCED_UNTIL.replace("{filter}", ""))
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("merchant_id")?,
                r.try_get("connection_id")?,
                r.try_get("until")?,
            ))
        })
        .collect()
}
