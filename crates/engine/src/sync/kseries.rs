//! The K-Series orders stream for one business location: a backfill in windows of closing
//! time through Financial API V1 pages (`nextPageToken`), then incremental windows from the
//! high-water mark minus an overlap (back-office edits and late closes land there).

use super::{Checkpoint, Outcome, Phase};
use crate::error::EngineError;
use crate::Engine;
use chrono::{DateTime, Utc};
use tillbridge_lightspeed::kseries::map::{map_sale, MapContext, Mapped};
use tillbridge_lightspeed::kseries::MAX_PAGE_SIZE;
use tillbridge_store::jobs::JobRow;

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
        let (mut mapped, currency) = self.sync_scope(merchant_id, connection_id).await?;
        let Some(location) = mapped.remove(bl) else {
            return Ok(Outcome::Unmapped);
        };
        let location_id = location.location_id;
        let ctx = MapContext {
            business_location_id: bl.to_owned(),
            zone: location.zone,
            day_start: location.day_start,
            currency,
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
        // One page of the window `[from, to)`, from `token` on.
        let fetch = |from: i64, to: i64, token: Option<String>| {
            let client = client.clone();
            self.with_token(merchant_id, connection_id, move |t| {
                let (client, token) = (client.clone(), token.clone());
                async move {
                    client
                        .financials(&t, bl, at(from), at(to), MAX_PAGE_SIZE, token.as_deref())
                        .await
                }
            })
        };
        let mut page = fetch(
            cp.window_from.unwrap_or(now),
            cp.window_to.unwrap_or(now),
            cp.page_token.clone(),
        )
        .await?;
        loop {
            let (to, target) = (cp.window_to.unwrap_or(now), cp.target.unwrap_or(now));
            let mut orders = Vec::with_capacity(page.sales.len());
            for sale in &page.sales {
                match map_sale(sale, &ctx)
                    .map_err(|e| EngineError::Mapping(format!("{e} (business location {bl})")))?
                {
                    Mapped::Order(o) => orders.push((location_id.clone(), *o)),
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
            tracing::debug!(
                merchant_id,
                connection_id,
                bl,
                sales = page.sales.len(),
                "page read"
            );
            if finished {
                self.write_page(job, &orders, &mut cp, backfill_done)
                    .await?;
                return Ok(Outcome::Done);
            }
            let next = fetch(
                cp.window_from.unwrap_or(now),
                cp.window_to.unwrap_or(now),
                cp.page_token.clone(),
            );
            page = self
                .write_page_fetching(job, &orders, &mut cp, next)
                .await?;
        }
    }
}
