//! Ground truth computed from the sandbox's own records, for verifying a client's sync.

use crate::generate::TAX_BASIS_POINTS;
use crate::wire::round_half_even_to_cents;
use crate::world::{Merchant, SaleLine, SaleType};
use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
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
    /// Weekly-balance figures per location, register and UTC hour (see [`LaborHourTruth`]).
    pub labor: Vec<LaborHourTruth>,
    /// Financial figures per location and business date (see [`FinancialDayTruth`]).
    pub financials: Vec<FinancialDayTruth>,
}

/// What a financial report should show for one business date of one location: every record
/// closed in it (sales positive; refunds and voids negative; an X-Series sale voided in place
/// counts with nothing in it), split by payment method, tax rate and accounting group.
#[derive(Serialize, Default, Clone, PartialEq, Eq, Debug)]
pub struct FinancialDayTruth {
    pub location_id: String,
    /// The closing instant's date in the location's zone, the day starting at its day start.
    pub business_date: NaiveDate,
    pub orders: u64,
    pub sales: u64,
    pub refunds: u64,
    pub voids: u64,
    pub total_minor: i64,
    pub tax_minor: i64,
    pub tip_minor: i64,
    pub by_payment_method: Vec<PaymentMethodTruth>,
    pub by_tax_rate: Vec<TaxRateTruth>,
    pub by_accounting_group: Vec<GroupTruth>,
}

#[derive(Serialize, Default, Clone, PartialEq, Eq, Debug)]
pub struct PaymentMethodTruth {
    /// As the series writes the method on a payment (see `Merchant::payment_method_ref`).
    pub code: String,
    pub name: String,
    pub payments: u64,
    /// Paid, tip included.
    pub amount_minor: i64,
    pub tip_minor: i64,
}

#[derive(Serialize, Default, Clone, PartialEq, Eq, Debug)]
pub struct TaxRateTruth {
    /// 900 = 9 %.
    pub rate_bp: i64,
    pub total_minor: i64,
    pub tax_minor: i64,
}

#[derive(Serialize, Default, Clone, PartialEq, Eq, Debug)]
pub struct GroupTruth {
    /// As the series writes a category's id.
    pub id: String,
    pub name: String,
    pub quantity_milli: i64,
    pub total_minor: i64,
    pub tax_minor: i64,
}

/// What a workforce planner's weekly balance should show, from the sandbox's own records.
/// A sale counts unless it was voided (in place, or by a later VOID record, which itself
/// counts nothing); positive lines are sales in the sale's hour, negative lines returns in the
/// hour of the record that carries them. `_excl` figures leave VAT out: a line's net is its
/// total less its tax (rounded half to even to cents), and its discount is scaled by
/// net ÷ total (rounded half away from zero per line).
#[derive(Serialize, Default, Clone, PartialEq, Eq, Debug)]
pub struct LaborHourTruth {
    pub location_id: String,
    pub register_id: String,
    /// Start of the UTC hour.
    pub hour: DateTime<Utc>,
    /// Σ sold lines before discounts, VAT included.
    pub gross_minor: i64,
    pub gross_excl_minor: i64,
    pub discount_minor: i64,
    pub discount_excl_minor: i64,
    /// Σ |returned lines after their discounts|.
    pub returns_minor: i64,
    pub returns_excl_minor: i64,
    /// Sale receipts with at least one sold line.
    pub transactions: i64,
    pub goods_sold: i64,
    pub goods_returned: i64,
    /// Covers of those receipts.
    pub covers: i64,
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
    let mut labor: BTreeMap<(String, String, DateTime<Utc>), LaborHourTruth> = BTreeMap::new();
    let mut days: BTreeMap<(String, NaiveDate), FinancialDay> = BTreeMap::new();
    let voided_by_record: std::collections::HashSet<&str> = m
        .sales
        .iter()
        .filter(|s| s.sale_type == SaleType::Void)
        .filter_map(|s| s.source.as_deref())
        .collect();
    for s in &m.sales {
        // An online order awaiting fulfilment is not a sale yet.
        if s.awaiting() {
            continue;
        }
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
        let counts = match s.sale_type {
            SaleType::Sale => {
                s.voided_at.is_none() && !voided_by_record.contains(s.fisc_id.as_str())
            }
            SaleType::Refund => s.voided_at.is_none(),
            SaleType::Void => false,
        };
        if counts {
            let register = m.register_ref(s.location, s.device);
            let b = labor
                .entry((loc_id.clone(), register.clone(), hour))
                .or_insert_with(|| LaborHourTruth {
                    location_id: loc_id.clone(),
                    register_id: register,
                    hour,
                    ..Default::default()
                });
            let mut sold = false;
            for line in lines {
                let net = round_half_even_to_cents(line.total_cents * 100 - line.tax_10k);
                if line.quantity > 0 {
                    sold = true;
                    b.gross_minor += line.total_cents + line.discount_cents;
                    b.discount_minor += line.discount_cents;
                    let discount_excl = scale_half_away(line.discount_cents, net, line.total_cents);
                    b.gross_excl_minor += net + discount_excl;
                    b.discount_excl_minor += discount_excl;
                    if line.unit_cents != 0 {
                        b.goods_sold += line.quantity;
                    }
                } else if line.quantity < 0 {
                    b.returns_minor += line.total_cents.abs();
                    b.returns_excl_minor += net.abs();
                    b.goods_returned += line.quantity.abs();
                }
            }
            if sold && s.sale_type == SaleType::Sale {
                b.transactions += 1;
                b.covers += s.covers;
            }
        }
        let location = &m.locations[s.location];
        let date = crate::wire::business_date(s.closed, location.zone, location.day_start);
        let day = days.entry((loc_id.clone(), date)).or_default();
        let d = &mut day.figures;
        d.location_id.clone_from(&loc_id);
        d.business_date = date;
        d.orders += 1;
        match s.sale_type {
            SaleType::Sale => d.sales += 1,
            SaleType::Refund => d.refunds += 1,
            SaleType::Void => d.voids += 1,
        }
        d.total_minor += total;
        d.tax_minor += tax;
        d.tip_minor += tip;
        if s.voided_at.is_none() {
            for p in &s.payments {
                let method = &m.payment_methods[p.method];
                let code = m.payment_method_ref(p.method);
                let e = day
                    .methods
                    .entry(code.clone())
                    .or_insert_with(|| PaymentMethodTruth {
                        code,
                        name: method.name.clone(),
                        ..Default::default()
                    });
                e.payments += 1;
                e.amount_minor += p.amount_cents + p.tip_cents;
                e.tip_minor += p.tip_cents;
            }
        }
        for line in lines {
            let line_tax = round_half_even_to_cents(line.tax_10k);
            let rate = day
                .rates
                .entry(TAX_BASIS_POINTS)
                .or_insert_with(|| TaxRateTruth {
                    rate_bp: TAX_BASIS_POINTS,
                    ..Default::default()
                });
            rate.total_minor += line.total_cents;
            rate.tax_minor += line_tax;
            let g = m.menu[line.item].group;
            let group = day.groups.entry(g).or_insert_with(|| GroupTruth {
                id: m.category_ref(g),
                name: m.groups[g].name.clone(),
                ..Default::default()
            });
            group.quantity_milli += line.quantity * 1000;
            group.total_minor += line.total_cents;
            group.tax_minor += line_tax;
        }
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
    truth.labor = labor.into_values().collect();
    truth.financials = days
        .into_values()
        .map(|day| FinancialDayTruth {
            by_payment_method: day.methods.into_values().collect(),
            by_tax_rate: day.rates.into_values().collect(),
            by_accounting_group: day.groups.into_values().collect(),
            ..day.figures
        })
        .collect();
    truth
}

/// A business date's figures while they are summed.
#[derive(Default)]
struct FinancialDay {
    figures: FinancialDayTruth,
    methods: BTreeMap<String, PaymentMethodTruth>,
    rates: BTreeMap<i64, TaxRateTruth>,
    groups: BTreeMap<usize, GroupTruth>,
}

/// `value × num ÷ den`, rounded half away from zero; `value` when `den` is zero.
fn scale_half_away(value: i64, num: i64, den: i64) -> i64 {
    if den == 0 {
        return value;
    }
    let (mut n, mut d) = (i128::from(value) * i128::from(num), i128::from(den));
    if d < 0 {
        (n, d) = (-n, -d);
    }
    let q = (2 * n + n.signum() * d) / (2 * d);
    i64::try_from(q).unwrap_or(value)
}
