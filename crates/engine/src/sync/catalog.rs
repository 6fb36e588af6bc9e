//! The catalog stream of a connection: its categories as the POS names them (K accounting
//! groups per business location, X product categories, R categories, O menu categories),
//! replaced on each run so renamed and deleted categories follow. It runs on connect and then
//! every `catalog_interval` (webhooks make it due sooner). Punch cards pick their category
//! filters from this list; lines keep the category recorded at the time of sale regardless.
//! X products are kept by the X sales stream's product cursor (`sync::xseries`).

use super::Outcome;
use crate::error::EngineError;
use crate::Engine;
use std::collections::BTreeMap;
use tillbridge_store::catalog::{self, CategoryRow};
use tillbridge_store::connections as conns;
use tillbridge_store::jobs::JobRow;

impl Engine {
    pub(crate) async fn run_catalog(&self, job: &JobRow) -> Result<Outcome, EngineError> {
        let (m, c) = (job.merchant_id.as_str(), job.connection_id.as_str());
        let row = self.connection_row(m, c).await?;
        let account = row.account_id.clone().unwrap_or_default();
        // id → name; the first name seen wins for an id shared by several locations.
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        match row.series.as_str() {
            "x" => {
                let client = self.x_client(c, &account)?;
                let list = self
                    .with_token(m, c, |t| {
                        let client = client.clone();
                        async move { client.product_categories(&t).await }
                    })
                    .await?;
                for cat in list {
                    if let (Some(id), Some(name)) = (cat.id, cat.name) {
                        found.entry(id).or_insert(name);
                    }
                }
            }
            "r" => {
                let client = self.r_client(c)?;
                let list = self
                    .with_token(m, c, |t| {
                        let (client, account) = (client.clone(), account.clone());
                        async move { client.categories(&t, &account).await }
                    })
                    .await?;
                found.extend(list);
            }
            "o" => {
                let client = self.o_client(c)?;
                let list = self
                    .with_token(m, c, |t| {
                        let client = client.clone();
                        async move { client.menu_categories(&t).await }
                    })
                    .await?;
                for cat in list {
                    found.entry(cat.id).or_insert(cat.name);
                }
            }
            _ => {
                let client = self.k_client(c)?;
                let locations = conns::list_pos_locations(&mut *self.conn().await?, m, c).await?;
                for bl in locations {
                    let groups = self
                        .with_token(m, c, |t| {
                            let (client, bl) = (client.clone(), bl.external_id.clone());
                            async move { client.accounting_groups(&t, &bl).await }
                        })
                        .await?;
                    for g in groups {
                        if let (Some(id), Some(name)) = (g.accounting_group_id, g.name) {
                            found.entry(id.to_string()).or_insert(name);
                        }
                    }
                }
            }
        }
        let rows: Vec<CategoryRow> = found
            .into_iter()
            .map(|(external_id, name)| CategoryRow {
                connection_id: c.to_owned(),
                external_id,
                name,
            })
            .collect();
        let now = self.now_ms();
        let mut tx = self.store().begin().await?;
        catalog::replace_categories(&mut tx, m, c, &rows, now).await?;
        let count = rows.len() as i64;
        let checkpoint = serde_json::json!({ "phase": "incremental", "categories": count });
        self.save_progress(&mut tx, job, &checkpoint, count, Some(count), now)
            .await?;
        tillbridge_store::commit(tx).await?;
        Ok(Outcome::Done)
    }
}
