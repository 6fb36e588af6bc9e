//! Financial reports: what was sold per mapped location and business date, split by payment
//! method, tax rate and accounting group (the category recorded on each line), from the orders
//! the sync stored. A day is `closed` once it has ended and the connection's order streams have
//! read past its end, so its figures will not change unless the POS edits history.

use crate::error::EngineError;
use crate::merchants::{parse_day_start, parse_zone};
use crate::Engine;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;
use tillbridge_model::business_day::local_instant;
use tillbridge_model::{Order, OrderKind};
use tillbridge_store::merchants as merch;
use tillbridge_store::{jobs, orders};

/// The longest range one report covers, as in the K-Series Financial API.
pub const MAX_DAYS: i64 = 366;

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct FinancialReport {
    pub from: NaiveDate,
    pub until: NaiveDate,
    pub locations: Vec<LocationReport>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct LocationReport {
    pub location_id: String,
    pub connection_id: String,
    pub pos_location_id: String,
    pub currency: String,
    /// Every business date of the range, in order, with zeros where nothing was sold.
    pub days: Vec<DayReport>,
    /// The range's figures.
    pub totals: Figures,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct DayReport {
    pub business_date: NaiveDate,
    /// The day has ended and the sync has read past its end.
    pub closed: bool,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Sums over a set of orders: sales count positive, refunds and voids negative.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub orders: i64,
    pub sales: i64,
    pub refunds: i64,
    pub voids: i64,
    pub total_minor: i64,
    pub tax_minor: i64,
    pub net_minor: i64,
    pub discount_minor: i64,
    pub tip_minor: i64,
    pub covers: i64,
    pub by_payment_method: Vec<MethodFigures>,
    pub by_tax_rate: Vec<TaxFigures>,
    pub by_accounting_group: Vec<GroupFigures>,
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodFigures {
    pub code: String,
    pub name: Option<String>,
    pub payments: i64,
    /// Paid, tip included.
    pub amount_minor: i64,
    pub tip_minor: i64,
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxFigures {
    /// 900 = 9 %; `None` for lines whose POS does not give a rate per line.
    pub rate_bp: Option<i64>,
    pub total_minor: i64,
    pub tax_minor: i64,
    pub net_minor: i64,
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFigures {
    /// The category id recorded on the line (K accounting group); `None` when there was none.
    pub id: Option<String>,
    pub name: Option<String>,
    pub quantity_milli: i64,
    pub total_minor: i64,
    pub tax_minor: i64,
}

/// [`Figures`] while they are summed, with its splits keyed.
#[derive(Default)]
struct Sums {
    figures: Figures,
    methods: BTreeMap<String, MethodFigures>,
    rates: BTreeMap<Option<i64>, TaxFigures>,
    groups: BTreeMap<Option<String>, GroupFigures>,
}

impl Sums {
    fn add(&mut self, o: &Order) {
        let f = &mut self.figures;
        f.orders += 1;
        match o.kind {
            OrderKind::Sale => f.sales += 1,
            OrderKind::Refund => f.refunds += 1,
            OrderKind::Void => f.voids += 1,
        }
        f.total_minor += o.total_minor;
        f.tax_minor += o.tax_minor;
        f.discount_minor += o.discount_minor;
        f.tip_minor += o.tip_minor;
        f.covers += i64::from(o.covers.unwrap_or(0));
        for l in o.lines.iter().filter(|l| !l.voided) {
            f.net_minor += l.net_minor;
            let rate = self
                .rates
                .entry(l.tax_rate_bp)
                .or_insert_with(|| TaxFigures {
                    rate_bp: l.tax_rate_bp,
                    ..TaxFigures::default()
                });
            rate.total_minor += l.total_minor;
            rate.tax_minor += l.tax_minor;
            rate.net_minor += l.net_minor;
            let group = self
                .groups
                .entry(l.category_id.clone())
                .or_insert_with(|| GroupFigures {
                    id: l.category_id.clone(),
                    name: l.category.clone(),
                    ..GroupFigures::default()
                });
            group.quantity_milli += l.quantity.milli();
            group.total_minor += l.total_minor;
            group.tax_minor += l.tax_minor;
        }
        for p in &o.payments {
            let method = self
                .methods
                .entry(p.method_code.clone())
                .or_insert_with(|| MethodFigures {
                    code: p.method_code.clone(),
                    name: p.method_name.clone(),
                    ..MethodFigures::default()
                });
            method.payments += 1;
            method.amount_minor += p.amount_minor;
            method.tip_minor += p.tip_minor;
        }
    }

    fn finish(self) -> Figures {
        Figures {
            by_payment_method: self.methods.into_values().collect(),
            by_tax_rate: self.rates.into_values().collect(),
            by_accounting_group: self.groups.into_values().collect(),
            ..self.figures
        }
    }
}

impl Engine {
    /// The financial report of `[from, until]` (business dates, inclusive) for every mapped
    /// location, or those of one connection or one POS location.
    pub async fn financial_report(
        &self,
        merchant_id: &str,
        from: NaiveDate,
        until: NaiveDate,
        connection_id: Option<&str>,
        pos_location: Option<&str>,
    ) -> Result<FinancialReport, EngineError> {
        let merchant = self.merchant(merchant_id).await?;
        if until < from {
            return Err(EngineError::Invalid(format!(
                "`until` ({until}) is before `from` ({from}): give the first and the last business date of the range"
            )));
        }
        let days = (until - from).num_days() + 1;
        if days > MAX_DAYS {
            return Err(EngineError::Invalid(format!(
                "the range has {days} business dates; a report covers at most {MAX_DAYS}: split it"
            )));
        }
        if let Some(c) = connection_id {
            self.connection_row(merchant_id, c).await?;
        }
        let mut c = self.conn().await?;
        let links: Vec<merch::LinkRow> = merch::list_links(&mut c, merchant_id)
            .await?
            .into_iter()
            .filter(|l| connection_id.is_none_or(|id| l.connection_id == id))
            .filter(|l| pos_location.is_none_or(|p| l.external_id == p))
            .collect();
        // One business date at a time, so a year's report holds one day's orders at once.
        let mut per_day: BTreeMap<(String, String, NaiveDate), Sums> = BTreeMap::new();
        let mut per_location: BTreeMap<(String, String), Sums> = BTreeMap::new();
        let mut currencies: BTreeMap<(String, String), String> = BTreeMap::new();
        for date in from.iter_days().take_while(|d| *d <= until) {
            let stored = orders::by_business_date(
                &mut c,
                merchant_id,
                &date.to_string(),
                connection_id,
                pos_location,
            )
            .await?;
            for s in &stored {
                let key = (
                    s.connection_id.clone(),
                    s.order.external_location_id.clone(),
                );
                currencies
                    .entry(key.clone())
                    .or_insert_with(|| s.order.currency.clone());
                per_location.entry(key.clone()).or_default().add(&s.order);
                per_day
                    .entry((key.0, key.1, date))
                    .or_default()
                    .add(&s.order);
            }
        }
        let now = self.now_ms();
        let mut synced: BTreeMap<String, Option<i64>> = BTreeMap::new();
        let mut locations = Vec::new();
        for link in links {
            let Some(loc) = merch::get_location(&mut c, merchant_id, &link.location_id).await?
            else {
                continue;
            };
            let zone = parse_zone(&loc.timezone)?;
            let day_start = parse_day_start(&loc.day_start)?;
            if !synced.contains_key(&link.connection_id) {
                let until_ms =
                    jobs::orders_synced_until(&mut c, merchant_id, &link.connection_id).await?;
                synced.insert(link.connection_id.clone(), until_ms);
            }
            let synced_until = synced.get(&link.connection_id).copied().flatten();
            let key = (link.connection_id.clone(), link.external_id.clone());
            let totals = per_location.remove(&key).unwrap_or_default();
            let mut report_days = Vec::new();
            for date in from.iter_days().take_while(|d| *d <= until) {
                let figures = per_day
                    .remove(&(link.connection_id.clone(), link.external_id.clone(), date))
                    .unwrap_or_default()
                    .finish();
                let end = date
                    .succ_opt()
                    .map(|next| local_instant(next, day_start, zone).timestamp_millis());
                let closed =
                    end.is_some_and(|end| end <= now && synced_until.is_some_and(|s| s >= end));
                report_days.push(DayReport {
                    business_date: date,
                    closed,
                    figures,
                });
            }
            let currency = currencies
                .remove(&key)
                .unwrap_or_else(|| merchant.currency.clone());
            locations.push(LocationReport {
                location_id: link.location_id,
                connection_id: link.connection_id,
                pos_location_id: link.external_id,
                currency,
                days: report_days,
                totals: totals.finish(),
            });
        }
        Ok(FinancialReport {
            from,
            until,
            locations,
        })
    }
}
