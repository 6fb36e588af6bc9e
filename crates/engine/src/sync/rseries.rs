//! The R-Series sales stream for one account: `Sale.json` with its relations, sorted by
//! `timeStamp` and filtered `timeStamp >= since`, following `@attributes.next` verbatim (saved
//! with each page, so a crash resumes mid-feed). Incremental runs start from the newest
//! `timeStamp` seen minus the overlap. Category names come from `Category.json`, read once per
//! run; shops that are not mapped are passed over.

use super::{MappedLocation, Outcome, Phase};
use crate::error::EngineError;
use crate::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tillbridge_lightspeed::rseries::map::{map_sale, MapContext};
use tillbridge_lightspeed::rseries::wire::{entities, next_url, text};
use tillbridge_store::jobs::JobRow;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RCheckpoint {
    phase: Phase,
    /// The next page of the current run, verbatim from `@attributes.next`.
    next_url: Option<String>,
    /// The newest `timeStamp` seen (epoch ms).
    high_water: Option<i64>,
    orders: i64,
    skipped: i64,
    pages: i64,
}

impl Engine {
    pub(crate) async fn run_r_orders(&self, job: &JobRow) -> Result<Outcome, EngineError> {
        let (m, c) = (job.merchant_id.as_str(), job.connection_id.as_str());
        let row = self.connection_row(m, c).await?;
        let account = row.account_id.clone().ok_or_else(|| {
            EngineError::Invalid("the connection has no account id; reconnect it".into())
        })?;
        let (shops, currency) = self.sync_scope(m, c).await?;
        if shops.is_empty() {
            return Ok(Outcome::Unmapped);
        }
        let client = self.r_client(c)?;
        let categories = self
            .with_token(m, c, |t| {
                let client = client.clone();
                let account = account.clone();
                async move { client.categories(&t, &account).await }
            })
            .await?;
        let mut cp: RCheckpoint =
            serde_json::from_value(job.checkpoint.clone()).unwrap_or_default();
        let url = match &cp.next_url {
            Some(next) => url::Url::parse(next)
                .map_err(|e| EngineError::Mapping(format!("saved next link is not a URL: {e}")))?,
            None => {
                let since = match (cp.phase, cp.high_water) {
                    (Phase::Incremental, Some(high)) => {
                        high - self.config().incremental_overlap.as_millis() as i64
                    }
                    _ => self.now_ms() - self.config().backfill_days * 24 * 3600 * 1000,
                };
                client.sales_url(
                    &account,
                    DateTime::from_timestamp_millis(since).unwrap_or_default(),
                )?
            }
        };
        let fetch = |url: url::Url| {
            let client = client.clone();
            self.with_token(m, c, move |t| {
                let (client, url) = (client.clone(), url.clone());
                async move { client.get_url(&t, &url).await }
            })
        };
        let mut page = fetch(url).await?;
        loop {
            let mut orders = Vec::new();
            for sale in entities(&page, "Sale") {
                if let Some(ts) =
                    text(sale, "timeStamp").and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                {
                    cp.high_water = Some(
                        cp.high_water
                            .unwrap_or(0)
                            .max(ts.with_timezone(&Utc).timestamp_millis()),
                    );
                }
                let Some(MappedLocation {
                    location_id,
                    zone,
                    day_start,
                }) = text(sale, "shopID").and_then(|s| shops.get(&s)).cloned()
                else {
                    cp.skipped += 1;
                    continue;
                };
                let ctx = MapContext {
                    zone,
                    day_start,
                    currency: currency.clone(),
                    categories: &categories,
                };
                let order = map_sale(sale, &ctx)
                    .map_err(|e| EngineError::Mapping(format!("{e} (account {account})")))?;
                orders.push((location_id, order));
            }
            cp.pages += 1;
            let next = next_url(&page);
            if next.is_some() && next == cp.next_url {
                return Err(EngineError::Mapping(format!(
                    "account {account} returned the same next link twice; stopping to avoid a loop"
                )));
            }
            cp.next_url = next.clone();
            let Some(next) = next else {
                let backfill_done = cp.phase == Phase::Backfill;
                cp.phase = Phase::Incremental;
                self.write_page(job, &orders, &mut cp, backfill_done)
                    .await?;
                return Ok(Outcome::Done);
            };
            let url = url::Url::parse(&next).map_err(|e| {
                EngineError::Mapping(format!("next link `{next}` is not a URL: {e}"))
            })?;
            page = self
                .write_page_fetching(job, &orders, &mut cp, fetch(url))
                .await?;
        }
    }
}

impl super::StreamPosition for RCheckpoint {
    fn add_orders(&mut self, written: i64) -> i64 {
        self.orders += written;
        self.orders
    }

    /// 1 of 1 once caught up (these feeds announce no total).
    fn progress(&self) -> (i64, Option<i64>) {
        (i64::from(self.phase == Phase::Incremental), Some(1))
    }
}
