//! Ground truth computed from the sandbox's own records, for verifying a client's sync.

use crate::wire::round_half_even_to_cents;
use crate::world::{Merchant, SaleLine, SaleType};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize, Default)]
pub struct Truth {
    pub orders: u64,
    pub total_minor: i64,
    pub by_location: Vec<LocationTruth>,
    pub by_hour: Vec<HourTruth>,
    pub by_category: Vec<CategoryTruth>,
    pub by_customer: Vec<CustomerTruth>,
}

#[derive(Serialize, Default, Clone)]
pub struct LocationTruth {
    pub location_id: String,
    pub orders: u64,
    pub sales: u64,
    pub refunds: u64,
    pub voids: u64,
    pub total_minor: i64,
    pub tax_minor: i64,
    pub tip_minor: i64,
    pub covers: i64,
}

#[derive(Serialize, Default, Clone)]
pub struct HourTruth {
    pub location_id: String,
    /// Start of the UTC hour.
    pub hour: DateTime<Utc>,
    pub orders: u64,
    pub total_minor: i64,
}

#[derive(Serialize, Default, Clone)]
pub struct CategoryTruth {
    pub category: String,
    /// Σ quantity in thousandths.
    pub quantity_milli: i64,
    pub total_minor: i64,
}

#[derive(Serialize, Default, Clone)]
pub struct CustomerTruth {
    /// Trimmed and lower-cased.
    pub email: String,
    pub orders: u64,
    pub total_minor: i64,
}

/// Sums every sale record (sales positive; refunds and voids negative) closed in `[from, to)`.
pub fn compute(m: &Merchant, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Truth {
    let mut truth = Truth::default();
    let mut locations: BTreeMap<String, LocationTruth> = BTreeMap::new();
    let mut hours: BTreeMap<(String, DateTime<Utc>), HourTruth> = BTreeMap::new();
    let mut categories: BTreeMap<String, CategoryTruth> = BTreeMap::new();
    let mut customers: BTreeMap<String, CustomerTruth> = BTreeMap::new();
    for s in &m.sales {
        if from.is_some_and(|f| s.closed < f) || to.is_some_and(|t| s.closed >= t) {
            continue;
        }
        let loc_id = m.location_ref(s.location);
        // An X-Series sale voided in place stays one record, with nothing left in it.
        let lines: &[SaleLine] = if s.voided_at.is_some() { &[] } else { &s.lines };
        let total: i64 = lines.iter().map(|l| l.total_cents).sum();
        let tax: i64 = lines
            .iter()
            .map(|l| round_half_even_to_cents(l.tax_10k))
            .sum();
        let tip: i64 = if s.voided_at.is_some() {
            0
        } else {
            s.payments.iter().map(|p| p.tip_cents).sum()
        };
        truth.orders += 1;
        truth.total_minor += total;
        let l = locations
            .entry(loc_id.clone())
            .or_insert_with(|| LocationTruth {
                location_id: loc_id.clone(),
                ..Default::default()
            });
        l.orders += 1;
        match s.sale_type {
            SaleType::Sale => l.sales += 1,
            SaleType::Refund => l.refunds += 1,
            SaleType::Void => l.voids += 1,
        }
        l.total_minor += total;
        l.tax_minor += tax;
        l.tip_minor += tip;
        l.covers += s.covers;
        let hour = s
            .closed
            .duration_trunc(TimeDelta::hours(1))
            .unwrap_or(s.closed);
        let h = hours
            .entry((loc_id.clone(), hour))
            .or_insert_with(|| HourTruth {
                location_id: loc_id.clone(),
                hour,
                ..Default::default()
            });
        h.orders += 1;
        h.total_minor += total;
        for line in lines {
            let name = &m.groups[m.menu[line.item].group].name;
            let c = categories
                .entry(name.clone())
                .or_insert_with(|| CategoryTruth {
                    category: name.clone(),
                    ..Default::default()
                });
            c.quantity_milli += line.quantity * 1000;
            c.total_minor += line.total_cents;
        }
        if let Some(email) = s.customer.and_then(|c| m.customers[c].email.as_ref()) {
            let email = email.trim().to_lowercase();
            let c = customers
                .entry(email.clone())
                .or_insert_with(|| CustomerTruth {
                    email,
                    ..Default::default()
                });
            c.orders += 1;
            c.total_minor += total;
        }
    }
    truth.by_location = locations.into_values().collect();
    truth.by_hour = hours.into_values().collect();
    truth.by_category = categories.into_values().collect();
    truth.by_customer = customers.into_values().collect();
    truth
}
