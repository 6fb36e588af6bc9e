//! Sync jobs: provider pages → model → store, checkpointed in the same transaction as the data
//! they wrote, so a crash anywhere resumes at the first unwritten page.

pub mod catalog;
pub mod kseries;
pub mod oseries;
pub mod rseries;
pub mod xseries;

use crate::error::EngineError;
use crate::ids::new_id;
use crate::merchants::{emit, parse_day_start, parse_zone};
use crate::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tillbridge_model::{BusinessDayStart, Order};
use tillbridge_store::events::NewEvent;
use tillbridge_store::jobs::{self, JobRow};
use tillbridge_store::merchants as merch;
use tillbridge_store::orders::{upsert_orders, OrderWrite, Upsert};

/// How a job run ended (errors are returned separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Caught up; run again after the poll interval.
    Done,
    /// Caught up; run again after the poll interval or at this instant, whichever is sooner.
    RunBy(i64),
    /// The stream's location is no longer mapped; the job waits until it is.
    Unmapped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Backfill,
    Incremental,
}

/// The resumable position of an orders stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    pub phase: Phase,
    /// Start of the backfill range (epoch ms).
    pub backfill_from: Option<i64>,
    /// The window being read: `[window_from, window_to)` on closing time.
    pub window_from: Option<i64>,
    pub window_to: Option<i64>,
    /// Where this run stops (fixed when the run starts).
    pub target: Option<i64>,
    /// The provider's token for the next page of the current window.
    pub page_token: Option<String>,
    /// Everything closed before this has been read.
    pub high_water: Option<i64>,
    /// Orders written (new or changed versions) so far.
    pub orders: i64,
    /// Records that were not orders (floats, transfers, …).
    pub skipped: i64,
    pub pages: i64,
}

/// A stream's saved position: each series keeps its own, the writer only needs these.
pub(crate) trait StreamPosition: Serialize {
    /// Adds orders written (new or changed) to the running count and returns the total.
    fn add_orders(&mut self, written: i64) -> i64;
    /// Progress for the API: done and total, in the stream's own unit.
    fn progress(&self) -> (i64, Option<i64>);
}

impl StreamPosition for Checkpoint {
    fn add_orders(&mut self, written: i64) -> i64 {
        self.orders += written;
        self.orders
    }

    /// Seconds of history covered during a backfill.
    fn progress(&self) -> (i64, Option<i64>) {
        match (
            self.phase,
            self.backfill_from,
            self.window_from,
            self.target,
        ) {
            (Phase::Backfill, Some(start), Some(from), Some(target)) => {
                ((from - start) / 1000, Some((target - start).max(1) / 1000))
            }
            _ => (1, Some(1)),
        }
    }
}

/// A tillbridge location mapped to a POS location of the connection being synced.
#[derive(Clone, Debug)]
pub(crate) struct MappedLocation {
    pub location_id: String,
    pub zone: chrono_tz::Tz,
    pub day_start: BusinessDayStart,
}

impl Engine {
    /// What a sync of connection `c` needs from the hub: its mapped POS locations (POS location
    /// id → location) and the currency its orders are in (the account's, else the merchant's).
    pub(crate) async fn sync_scope(
        &self,
        m: &str,
        c: &str,
    ) -> Result<(HashMap<String, MappedLocation>, String), EngineError> {
        let connection = self.connection_row(m, c).await?;
        let currency = match connection.currency {
            Some(currency) => currency,
            None => self.merchant(m).await?.currency,
        };
        let mut conn = self.conn().await?;
        let mut mapped = HashMap::new();
        for link in merch::list_links(&mut conn, m)
            .await?
            .into_iter()
            .filter(|l| l.connection_id == c)
        {
            if let Some(loc) = merch::get_location(&mut conn, m, &link.location_id).await? {
                let location = MappedLocation {
                    zone: parse_zone(&loc.timezone)?,
                    day_start: BusinessDayStart(parse_day_start(&loc.day_start)?),
                    location_id: loc.id,
                };
                mapped.insert(link.external_id, location);
            }
        }
        Ok((mapped, currency))
    }

    /// Saves a job's position and progress in `tx` and extends its lease; `LeaseLost` when
    /// another worker owns the job now (the caller drops `tx`, undoing what it wrote).
    pub(crate) async fn save_progress(
        &self,
        tx: &mut tillbridge_store::Tx,
        job: &JobRow,
        checkpoint: &serde_json::Value,
        done: i64,
        total: Option<i64>,
        now: i64,
    ) -> Result<(), EngineError> {
        let lease_until = now + self.config().job_lease.as_millis() as i64;
        let progress = jobs::Progress {
            checkpoint,
            done,
            total,
        };
        if jobs::checkpoint(
            tx,
            &job.id,
            crate::worker::lease_owner(job),
            &progress,
            lease_until,
            now,
        )
        .await?
        {
            Ok(())
        } else {
            Err(EngineError::LeaseLost)
        }
    }

    /// Writes a page: every order (with `location_id`) upserted with its `order.created` or
    /// `order.updated` event, and the stream's new position under the job's lease — all in one
    /// transaction, so a crash resumes at the first unwritten page. Returns how many orders
    /// were new or changed.
    pub(crate) async fn write_page<P: StreamPosition>(
        &self,
        job: &JobRow,
        orders: &[(String, Order)],
        position: &mut P,
        backfill_done: bool,
    ) -> Result<usize, EngineError> {
        let m = job.merchant_id.as_str();
        let now = self.now_ms();
        let mut tx = self.store().begin().await?;
        let written = write_orders(&mut tx, m, &job.connection_id, orders, now).await?;
        let total = position.add_orders(written as i64);
        if backfill_done {
            emit(&mut tx, m, "sync.backfill_completed", &job.connection_id, serde_json::json!({ "connection_id": job.connection_id, "stream": job.stream_key, "orders": total }), now).await?;
            let message = format!(
                "backfill of stream {} completed: {total} orders",
                job.stream_key
            );
            tillbridge_store::logs::append(&mut tx, m, &job.connection_id, "info", &message, now)
                .await?;
        }
        let value =
            serde_json::to_value(&*position).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let (done, progress_total) = position.progress();
        // Dropping the transaction on a lost lease rolls the page back; the new owner redoes it.
        self.save_progress(&mut tx, job, &value, done, progress_total, now)
            .await?;
        tillbridge_store::commit(tx).await?;
        self.continue_unless_stopping()?;
        Ok(written)
    }
}

impl Engine {
    /// [`Engine::write_page`] while the stream's next page is fetched: its request goes out
    /// as soon as this page's position is known, not after the page is stored, so the rate
    /// limit's budget rather than the database paces a backfill. Returns the next page once
    /// both are done. A failed write wins, and the fetched page is dropped: the saved position
    /// still points at it, so the next run asks for it again.
    pub(crate) async fn write_page_fetching<P: StreamPosition, T>(
        &self,
        job: &JobRow,
        orders: &[(String, Order)],
        position: &mut P,
        next: impl std::future::Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let (written, fetched) = tokio::join!(self.write_page(job, orders, position, false), next);
        written?;
        fetched
    }
}

/// Upserts orders of one connection (each with its `location_id`) with their `order.created`
/// or `order.updated` event in `tx`, and makes the merchant's consumers due when anything
/// changed. Returns how many orders were new or changed (an unchanged re-delivery writes
/// nothing). Sync pages use it; so can anything else that brings a connection's orders.
pub async fn write_orders(
    tx: &mut tillbridge_store::Tx,
    m: &str,
    connection_id: &str,
    orders: &[(String, Order)],
    now: i64,
) -> Result<usize, EngineError> {
    let writes: Vec<OrderWrite> = orders
        .iter()
        .map(|(location_id, order)| OrderWrite {
            location_id: Some(location_id),
            order,
            new_id: new_id("ord"),
        })
        .collect();
    let outcomes = upsert_orders(tx, m, connection_id, &writes, now).await?;
    let mut events = Vec::new();
    for ((location_id, order), outcome) in orders.iter().zip(outcomes) {
        let (event, id, version) = match outcome {
            Upsert::Unchanged { .. } => continue,
            Upsert::Inserted { id } => ("order.created", id, 1),
            Upsert::Updated { id, version } => ("order.updated", id, version),
        };
        let payload = serde_json::json!({
            "order_id": id, "version": version, "connection_id": connection_id, "location_id": location_id,
            "external_id": order.external_id, "kind": order.kind.as_str(), "status": order.status.as_str(),
            "original_external_id": order.original_external_id, "closed_at": order.closed_at, "business_date": order.business_date,
            "total_minor": order.total_minor, "currency": order.currency, "customer_email": order.customer_email,
        });
        events.push(NewEvent {
            id: new_id("evt"),
            event_type: event.to_owned(),
            subject: id,
            payload,
        });
    }
    // Their events make the merchant's consumers (loyalty, …) due.
    tillbridge_store::events::append_many(tx, m, &events, now).await?;
    Ok(events.len())
}
