//! The O-Series checks stream for one account: checks changed since the last high-water mark
//! (minus the overlap), oldest change first, following `next_cursor` (saved with each page).

use super::{MappedLocation, Outcome, Phase};
use crate::error::EngineError;
use crate::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tillbridge_lightspeed::oseries::map::{map_check, MapContext};
use tillbridge_store::jobs::JobRow;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OCheckpoint {
    phase: Phase,
    /// The lower bound of the current run (epoch ms).
    since: Option<i64>,
    cursor: Option<String>,
    /// The newest `updated_at` seen (epoch ms).
    high_water: Option<i64>,
    orders: i64,
    skipped: i64,
    pages: i64,
}

impl Engine {
    pub(crate) async fn run_o_orders(&self, job: &JobRow) -> Result<Outcome, EngineError> {
        let (m, c) = (job.merchant_id.as_str(), job.connection_id.as_str());
        let (locations, currency) = self.sync_scope(m, c).await?;
        if locations.is_empty() {
            return Ok(Outcome::Unmapped);
        }
        let client = self.o_client(c)?;
        let mut cp: OCheckpoint =
            serde_json::from_value(job.checkpoint.clone()).unwrap_or_default();
        if cp.cursor.is_none() {
            cp.since = Some(match (cp.phase, cp.high_water) {
                (Phase::Incremental, Some(high)) => {
                    high - self.config().incremental_overlap.as_millis() as i64
                }
                _ => self.now_ms() - self.config().backfill_days * 24 * 3600 * 1000,
            });
        }
        let since = DateTime::from_timestamp_millis(cp.since.unwrap_or(0)).unwrap_or_default();
        // The page of checks changed since `since`, from `cursor` on.
        let fetch = |cursor: Option<String>| {
            let client = client.clone();
            self.with_token(m, c, move |t| {
                let (client, cursor) = (client.clone(), cursor.clone());
                async move { client.checks(&t, since, cursor.as_deref()).await }
            })
        };
        let mut page = fetch(cp.cursor.clone()).await?;
        loop {
            let mut orders = Vec::new();
            for check in &page.data {
                if let Some(at) = check
                    .get("updated_at")
                    .and_then(|v| v.as_str())
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                {
                    cp.high_water = Some(
                        cp.high_water
                            .unwrap_or(0)
                            .max(at.with_timezone(&Utc).timestamp_millis()),
                    );
                }
                let Some(MappedLocation {
                    location_id,
                    zone,
                    day_start,
                }) = check
                    .get("location_id")
                    .and_then(|v| v.as_str())
                    .and_then(|l| locations.get(l))
                    .cloned()
                else {
                    cp.skipped += 1;
                    continue;
                };
                let order = map_check(
                    check,
                    &MapContext {
                        zone,
                        day_start,
                        currency: currency.clone(),
                    },
                )
                .map_err(|e| EngineError::Mapping(e.to_string()))?;
                orders.push((location_id, order));
            }
            cp.pages += 1;
            if page.next_cursor.is_some() && page.next_cursor == cp.cursor {
                return Err(EngineError::Mapping(
                    "O-Series returned the same cursor twice; stopping to avoid a loop".into(),
                ));
            }
            cp.cursor = page.next_cursor.clone();
            if cp.cursor.is_none() {
                let backfill_done = cp.phase == Phase::Backfill;
                cp.phase = Phase::Incremental;
                self.write_page(job, &orders, &mut cp, backfill_done)
                    .await?;
                return Ok(Outcome::Done);
            }
            let next = fetch(cp.cursor.clone());
            page = self
                .write_page_fetching(job, &orders, &mut cp, next)
                .await?;
        }
    }
}

impl super::StreamPosition for OCheckpoint {
    fn add_orders(&mut self, written: i64) -> i64 {
        self.orders += written;
        self.orders
    }

    /// 1 of 1 once caught up (these feeds announce no total).
    fn progress(&self) -> (i64, Option<i64>) {
        (i64::from(self.phase == Phase::Incremental), Some(1))
    }
}
