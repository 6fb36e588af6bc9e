//! The K-Series orders stream for one business location: a backfill in windows of closing
//! time through Financial API V1 pages (`nextPageToken`), then incremental windows from the
//! high-water mark minus an overlap (back-office edits and late closes land there).

use super::{Checkpoint, Outcome, Phase};
use crate::error::EngineError;
use crate::ids::new_id;
use crate::merchants::{emit, parse_day_start, parse_zone};
use crate::Engine;
use chrono::{DateTime, Utc};
use tillbridge_lightspeed::kseries::map::{map_sale, MapContext, Mapped};
use tillbridge_lightspeed::kseries::MAX_PAGE_SIZE;
use tillbridge_model::BusinessDayStart;
use tillbridge_store::jobs::JobRow;
use tillbridge_store::merchants as merch;
use tillbridge_store::orders::{upsert_order, OrderScope, Upsert};
use tillbridge_store::{connections as conns, jobs};

/// Each request covers at most this much closing time (the API allows 365 days).
const WINDOW_MS: i64 = 31 * 24 * 3600 * 1000;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Engine {
    pub(crate) async fn run_k_orders(&self, job: &JobRow) -> Result<Outcome, EngineError> {
        let merchant_id = job.merchant_id.as_str();
        let connection_id = job.connection_id.as_str();
        let bl = job.stream_key.as_str();
        let (location_id, ctx) = match self.k_context(merchant_id, connection_id, bl).await? {
            Some(found) => found,
            None => return Ok(Outcome::Unmapped),
        };
        let client = self.k_client(connection_id)?;
        let mut cp: Checkpoint = serde_json::from_value(job.checkpoint.clone()).unwrap_or_default();
        // Window bounds are whole seconds (the API takes second-precision instants), with the
        // end rounded up so nothing closed in the current second is left out.
        let now = (self.now_ms() / 1000 + 1) * 1000;
        if cp.window_from.is_none() {
            let from = match cp.phase {
                Phase::Backfill => {
                    let start = now - self.config().backfill_days * 24 * 3600 * 1000;
                    debug_assert_eq!(start % 1000, 0);
                    cp.backfill_from = Some(start);
                    start
                }
                Phase::Incremental => {
                    cp.high_water.unwrap_or(now)
                        - self.config().incremental_overlap.as_millis() as i64
                }
            };
            cp.window_from = Some(from);
            cp.target = Some(now);
            cp.window_to = Some((from + WINDOW_MS).min(now));
            cp.page_token = None;
        }
        loop {
            let (from, to, target) = (
                cp.window_from.unwrap_or(now),
                cp.window_to.unwrap_or(now),
                cp.target.unwrap_or(now),
            );
            let page_token = cp.page_token.clone();
            let page = self
                .with_token(merchant_id, connection_id, |t| {
                    let (client, bl, page_token) =
                        (client.clone(), bl.to_owned(), page_token.clone());
                    async move {
                        client
                            .financials(
                                &t,
                                &bl,
                                at(from),
                                at(to),
                                MAX_PAGE_SIZE,
                                page_token.as_deref(),
                            )
                            .await
                    }
                })
                .await?;
            let mut orders = Vec::with_capacity(page.sales.len());
            for sale in &page.sales {
                match map_sale(sale, &ctx)
                    .map_err(|e| EngineError::Mapping(format!("{e} (business location {bl})")))?
                {
                    Mapped::Order(o) => orders.push(*o),
                    Mapped::Skipped { .. } => cp.skipped += 1,
                }
            }
            let next_token = page.next_page_token();
            if next_token.is_some() && next_token == cp.page_token {
                return Err(EngineError::Mapping(format!("Lightspeed returned the same nextPageToken twice for business location {bl}; stopping to avoid a loop")));
            }
            // Advance the position; it is saved with this page's data.
            let mut finished = false;
            let mut backfill_done = false;
            cp.pages += 1;
            match next_token {
                Some(t) => cp.page_token = Some(t),
                None if to < target => {
                    cp.window_from = Some(to);
                    cp.window_to = Some((to + WINDOW_MS).min(target));
                    cp.page_token = None;
                }
                None => {
                    finished = true;
                    backfill_done = cp.phase == Phase::Backfill;
                    cp.phase = Phase::Incremental;
                    cp.high_water = Some(target);
                    cp.window_from = None;
                    cp.window_to = None;
                    cp.target = None;
                    cp.page_token = None;
                }
            }
            let written = self
                .write_k_page(job, &location_id, &orders, &mut cp, backfill_done)
                .await?;
            tracing::debug!(
                merchant_id,
                connection_id,
                bl,
                sales = page.sales.len(),
                written,
                "page synced"
            );
            if finished {
                return Ok(Outcome::Done);
            }
        }
    }

    async fn write_k_page(
        &self,
        job: &JobRow,
        location_id: &str,
        orders: &[tillbridge_model::Order],
        cp: &mut Checkpoint,
        backfill_done: bool,
    ) -> Result<usize, EngineError> {
        let merchant_id = job.merchant_id.as_str();
        let now = self.now_ms();
        let scope = OrderScope {
            merchant_id,
            connection_id: &job.connection_id,
            location_id: Some(location_id),
        };
        let mut tx = self.store().begin().await?;
        let mut written = 0;
        for order in orders {
            let outcome = upsert_order(&mut tx, &scope, order, &new_id("ord"), now).await?;
            let (event, id, version) = match outcome {
                Upsert::Unchanged { .. } => continue,
                Upsert::Inserted { id } => ("order.created", id, 1),
                Upsert::Updated { id, version } => ("order.updated", id, version),
            };
            written += 1;
            let payload = serde_json::json!({
                "order_id": id,
                "version": version,
                "connection_id": job.connection_id,
                "location_id": location_id,
                "external_id": order.external_id,
                "kind": order.kind.as_str(),
                "original_external_id": order.original_external_id,
                "closed_at": order.closed_at,
                "business_date": order.business_date,
                "total_minor": order.total_minor,
                "currency": order.currency,
                "customer_email": order.customer_email,
            });
            emit(&mut tx, merchant_id, event, &id, payload, now).await?;
        }
        cp.orders += written as i64;
        if backfill_done {
            emit(&mut tx, merchant_id, "sync.backfill_completed", &job.connection_id, serde_json::json!({ "connection_id": job.connection_id, "stream": job.stream_key, "orders": cp.orders }), now).await?;
            tillbridge_store::logs::append(
                &mut tx,
                merchant_id,
                &job.connection_id,
                "info",
                &format!(
                    "backfill of business location {} completed: {} orders",
                    job.stream_key, cp.orders
                ),
                now,
            )
            .await?;
        }
        let (done, total) = progress(cp);
        let value = serde_json::to_value(&*cp).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let lease_until = now + self.config().job_lease.as_millis() as i64;
        if !jobs::checkpoint(
            &mut tx,
            &job.id,
            self.instance(),
            &jobs::Progress {
                checkpoint: &value,
                done,
                total,
            },
            lease_until,
            now,
        )
        .await?
        {
            // Dropping the transaction rolls this page back; the new owner will redo it.
            return Err(EngineError::LeaseLost);
        }
        tillbridge_store::commit(tx).await?;
        Ok(written)
    }

    /// The hub location mapped to `bl` and how to read its sales; `None` when unmapped.
    async fn k_context(
        &self,
        merchant_id: &str,
        connection_id: &str,
        bl: &str,
    ) -> Result<Option<(String, MapContext)>, EngineError> {
        let mut c = self.conn().await?;
        let links = merch::list_links(&mut c, merchant_id).await?;
        let Some(link) = links
            .into_iter()
            .find(|l| l.connection_id == connection_id && l.external_id == bl)
        else {
            return Ok(None);
        };
        let location = merch::get_location(&mut c, merchant_id, &link.location_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("location `{}`", link.location_id)))?;
        let connection = conns::get_connection(&mut c, merchant_id, connection_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("connection `{connection_id}`")))?;
        let merchant = merch::get_merchant(&mut c, merchant_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("merchant `{merchant_id}`")))?;
        let ctx = MapContext {
            business_location_id: bl.to_owned(),
            zone: parse_zone(&location.timezone)?,
            day_start: BusinessDayStart(parse_day_start(&location.day_start)?),
            currency: connection.currency.unwrap_or(merchant.currency),
        };
        Ok(Some((link.location_id, ctx)))
    }
}

/// Progress in seconds of history covered, for progress bars.
fn progress(cp: &Checkpoint) -> (i64, Option<i64>) {
    match (cp.phase, cp.backfill_from, cp.window_from, cp.target) {
        (Phase::Backfill, Some(start), Some(from), Some(target)) => {
            ((from - start) / 1000, Some((target - start).max(1) / 1000))
        }
        _ => (1, Some(1)),
    }
}
