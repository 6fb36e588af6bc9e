//! The X-Series sales stream for one store: a version cursor over `/sales` (`after=version.max`,
//! an empty page ends), with the product and customer catalogs cached alongside so every line
//! gets its category and every sale its customer's e-mail without a request per line, and the
//! store's taxes (kept in memory for an hour) so every line gets its tax rate. Sales of
//! outlets that are not mapped are passed over; mapping a new outlet restarts the stream.

use super::{Outcome, Phase};
use crate::engine::TaxRates;
use crate::error::EngineError;
use crate::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tillbridge_lightspeed::xseries::map::{
    map_sale, tax_rates, CustomerInfo, MapContext, ProductInfo,
};
use tillbridge_lightspeed::xseries::XClient;
use tillbridge_store::catalog::{self, CustomerRow, ProductRow};
use tillbridge_store::jobs::JobRow;

/// How long a connection's tax rates are used before they are read again.
const TAX_RATES_FOR_MS: i64 = 3600 * 1000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct XCheckpoint {
    phase: Phase,
    /// Sales read up to this version.
    after: u64,
    products_after: u64,
    customers_after: u64,
    orders: i64,
    skipped: i64,
    pages: i64,
}

impl Engine {
    pub(crate) async fn run_x_orders(&self, job: &JobRow) -> Result<Outcome, EngineError> {
        let (m, c) = (job.merchant_id.as_str(), job.connection_id.as_str());
        let row = self.connection_row(m, c).await?;
        let prefix = row.account_id.clone().ok_or_else(|| {
            EngineError::Invalid("the connection has no store (domain prefix); reconnect it".into())
        })?;
        let (outlets, currency) = self.sync_scope(m, c).await?;
        if outlets.is_empty() {
            return Ok(Outcome::Unmapped);
        }
        let client = self.x_client(c, &prefix)?;
        let mut cp: XCheckpoint =
            serde_json::from_value(job.checkpoint.clone()).unwrap_or_default();
        let cutoff = self.now_ms() - self.config().backfill_days * 24 * 3600 * 1000;
        self.refresh_x_catalog(job, &client, &mut cp).await?;
        let (mut products, mut customers) = self.x_caches(m, c).await?;
        let mut tax_rates = self.x_tax_rates(m, c, &client, false).await?;
        let mut taxes_read = false;
        // The page of sales after version `after`.
        let fetch = |after: u64| {
            let client = client.clone();
            self.with_token(m, c, move |token| {
                let client = client.clone();
                async move { client.sales(&token, after).await }
            })
        };
        let mut page = fetch(cp.after).await?;
        loop {
            if page.data.is_empty() {
                let backfill_done = cp.phase == Phase::Backfill;
                cp.phase = Phase::Incremental;
                self.write_page(job, &[], &mut cp, backfill_done).await?;
                return Ok(Outcome::Done);
            }
            let unknown = page.data.iter().any(|s| {
                s.line_items.iter().any(|l| {
                    l.product_id
                        .as_ref()
                        .is_some_and(|p| !products.contains_key(p))
                }) || s
                    .customer_id
                    .as_ref()
                    .is_some_and(|cu| !customers.contains_key(cu))
            });
            if unknown {
                self.refresh_x_catalog(job, &client, &mut cp).await?;
                (products, customers) = self.x_caches(m, c).await?;
            }
            // A tax the cache does not know: the store's taxes once more, at most once a run
            // (a deleted tax stays unknown; its lines have no rate).
            let unknown_tax = page.data.iter().any(|s| {
                s.line_items.iter().any(|l| {
                    l.tax_id
                        .as_ref()
                        .is_some_and(|t| !tax_rates.contains_key(t))
                })
            });
            if unknown_tax && !taxes_read {
                tax_rates = self.x_tax_rates(m, c, &client, true).await?;
                taxes_read = true;
            }
            let mut orders = Vec::new();
            for sale in &page.data {
                let Some(outlet) = sale.outlet_id.as_ref().and_then(|o| outlets.get(o)) else {
                    cp.skipped += 1;
                    continue;
                };
                let ctx = MapContext {
                    zone: outlet.zone,
                    day_start: outlet.day_start,
                    currency: currency.clone(),
                    products: &products,
                    customers: &customers,
                    tax_rates: &tax_rates,
                };
                let order = map_sale(sale, &ctx)
                    .map_err(|e| EngineError::Mapping(format!("{e} (store {prefix})")))?;
                if order.closed_at.timestamp_millis() < cutoff {
                    cp.skipped += 1;
                    continue;
                }
                orders.push((outlet.location_id.clone(), order));
            }
            let max = page
                .version
                .as_ref()
                .and_then(|v| v.max)
                .or_else(|| page.data.iter().filter_map(|s| s.version).max());
            match max {
                Some(v) if v > cp.after => cp.after = v,
                _ => return Err(EngineError::Mapping(format!("store {prefix} returned a page of sales without advancing the version cursor; stopping to avoid a loop"))),
            }
            cp.pages += 1;
            let next = fetch(cp.after);
            page = self
                .write_page_fetching(job, &orders, &mut cp, next)
                .await?;
        }
    }

    /// The connection's tax rates by tax id, read from the store at most once an hour unless
    /// `reread` (a sale named a tax the cache does not know).
    async fn x_tax_rates(
        &self,
        m: &str,
        c: &str,
        client: &XClient,
        reread: bool,
    ) -> Result<TaxRates, EngineError> {
        let now = self.now_ms();
        let cached = self
            .inner
            .x_tax_rates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(c)
            .cloned();
        if let Some((read_at, rates)) = cached {
            if !reread && now - read_at < TAX_RATES_FOR_MS {
                return Ok(rates);
            }
        }
        let taxes = self
            .with_token(m, c, |t| {
                let client = client.clone();
                async move { client.taxes(&t).await }
            })
            .await?;
        let rates = Arc::new(tax_rates(&taxes));
        self.inner
            .x_tax_rates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(c.to_owned(), (now, rates.clone()));
        Ok(rates)
    }

    async fn x_caches(
        &self,
        m: &str,
        c: &str,
    ) -> Result<(HashMap<String, ProductInfo>, HashMap<String, CustomerInfo>), EngineError> {
        let mut conn = self.conn().await?;
        let products = catalog::products(&mut conn, m, c)
            .await?
            .into_iter()
            .map(|(id, p)| {
                (
                    id,
                    ProductInfo {
                        sku: p.sku,
                        name: p.name,
                        category_id: p.category_id,
                        category: p.category,
                    },
                )
            })
            .collect();
        let customers = catalog::customers(&mut conn, m, c)
            .await?
            .into_iter()
            .map(|(id, r)| {
                (
                    id,
                    CustomerInfo {
                        email: r.email,
                        name: r.name,
                    },
                )
            })
            .collect();
        Ok((products, customers))
    }

    /// Reads products and customers changed since the checkpoint's cursors into the caches.
    async fn refresh_x_catalog(
        &self,
        job: &JobRow,
        client: &XClient,
        cp: &mut XCheckpoint,
    ) -> Result<(), EngineError> {
        let (m, c) = (job.merchant_id.as_str(), job.connection_id.as_str());
        loop {
            let page = self
                .with_token(m, c, |t| {
                    let client = client.clone();
                    let after = cp.products_after;
                    async move { client.products(&t, after).await }
                })
                .await?;
            let Some(max) = page
                .version
                .as_ref()
                .and_then(|v| v.max)
                .filter(|_| !page.data.is_empty())
            else {
                break;
            };
            let rows: Vec<ProductRow> = page
                .data
                .iter()
                .map(|p| {
                    let category = p.categories.first();
                    ProductRow {
                        external_id: p.id.clone(),
                        sku: p.sku.clone(),
                        name: p.display_name().map(str::to_owned),
                        category_id: category
                            .and_then(|c| c.id.clone())
                            .or_else(|| p.product_type_id.clone()),
                        category: category.and_then(|c| c.name.clone()),
                        version: p.version.unwrap_or(0) as i64,
                    }
                })
                .collect();
            let mut conn = self.conn().await?;
            catalog::upsert_products(&mut conn, m, c, &rows, self.now_ms()).await?;
            cp.products_after = max.max(cp.products_after + 1);
        }
        loop {
            let page = self
                .with_token(m, c, |t| {
                    let client = client.clone();
                    let after = cp.customers_after;
                    async move { client.customers(&t, after).await }
                })
                .await?;
            let Some(max) = page
                .version
                .as_ref()
                .and_then(|v| v.max)
                .filter(|_| !page.data.is_empty())
            else {
                break;
            };
            let rows: Vec<CustomerRow> = page
                .data
                .iter()
                .map(|cu| {
                    let name = [cu.first_name.as_deref(), cu.last_name.as_deref()]
                        .into_iter()
                        .flatten()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ");
                    CustomerRow {
                        external_id: cu.id.clone(),
                        email: cu.email.clone(),
                        name: (!name.is_empty()).then_some(name),
                        version: cu.version.unwrap_or(0) as i64,
                    }
                })
                .collect();
            let mut conn = self.conn().await?;
            catalog::upsert_customers(&mut conn, m, c, &rows, self.now_ms()).await?;
            cp.customers_after = max.max(cp.customers_after + 1);
        }
        Ok(())
    }
}

impl super::StreamPosition for XCheckpoint {
    fn add_orders(&mut self, written: i64) -> i64 {
        self.orders += written;
        self.orders
    }

    /// 1 of 1 once caught up (these feeds announce no total).
    fn progress(&self) -> (i64, Option<i64>) {
        (i64::from(self.phase == Phase::Incremental), Some(1))
    }
}
