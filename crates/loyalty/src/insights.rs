//! Member insights over a date range, in the merchant's business dates, as a summary of the
//! whole range and one row per period (day, ISO week or month):
//!
//! - Repeat Purchase Rate: members with ≥ 2 qualifying purchases ÷ members with ≥ 1 (a purchase
//!   qualifies while its net eligible amount is positive, so fully refunded or voided ones do
//!   not count).
//! - Spend per Member: members' net eligible spend ÷ members who bought; beside it the
//!   non-member figure per order (non-members are not identifiable people): the channels' net
//!   (after tax unless the program counts tax, and tips) less the members' spend, over the
//!   sales not attributed to a member.
//! - Share of orders from members, and credit earned (net of reversals), redeemed and adjusted.
//!
//! The lifetime figures (Lifetime Value, lifetime repeat rate, outstanding credit, segment and
//! tier distributions) do not depend on the range. Rates are in basis points (10,000 = 100 %)
//! next to their numerators and denominators; money is integer minor units.

use crate::program;
use crate::tiering::today;
use chrono::{Days, Months, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_model::business_day::local_instant;
pub use tillbridge_model::business_day::Period;
use tillbridge_store::loyalty as store;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// First business date (default: a year before `to`).
    pub from: Option<String>,
    /// Last business date, included (default: today in the merchant's zone).
    pub to: Option<String>,
    #[serde(default)]
    pub period: Option<Period>,
}

/// `numerator ÷ denominator` in basis points, `None` when the denominator is zero.
fn bp(numerator: i64, denominator: i64) -> Option<i64> {
    (denominator > 0).then(|| numerator * 10_000 / denominator)
}

fn per(total: i64, count: i64) -> Option<i64> {
    (count > 0).then(|| total / count)
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Figures {
    pub from: String,
    pub to: String,
    pub orders: i64,
    pub member_orders: i64,
    pub member_order_share_bp: Option<i64>,
    pub buying_members: i64,
    pub repeat_members: i64,
    pub repeat_purchase_rate_bp: Option<i64>,
    pub member_spend_minor: i64,
    pub spend_per_member_minor: Option<i64>,
    pub member_spend_per_order_minor: Option<i64>,
    pub non_member_orders: i64,
    pub non_member_spend_minor: i64,
    pub non_member_spend_per_order_minor: Option<i64>,
    pub credit_earned_minor: i64,
    pub credit_redeemed_minor: i64,
    pub credit_adjusted_minor: i64,
}

#[derive(Default)]
struct Acc {
    orders: i64,
    net_minor: i64,
    members: store::MemberFigures,
    earned: i64,
    redeemed: i64,
    adjusted: i64,
}

impl Acc {
    fn figures(&self, from: NaiveDate, to: NaiveDate) -> Figures {
        let buying = self.members.buying;
        let repeat = self.members.repeat;
        let member_orders = self.members.orders;
        let member_spend = self.members.spend_minor;
        let non_member_orders = (self.orders - member_orders).max(0);
        let non_member_spend = self.net_minor - member_spend;
        Figures {
            from: from.to_string(),
            to: to.to_string(),
            orders: self.orders,
            member_orders,
            member_order_share_bp: bp(member_orders, self.orders),
            buying_members: buying,
            repeat_members: repeat,
            repeat_purchase_rate_bp: bp(repeat, buying),
            member_spend_minor: member_spend,
            spend_per_member_minor: per(member_spend, buying),
            member_spend_per_order_minor: per(member_spend, member_orders),
            non_member_orders,
            non_member_spend_minor: non_member_spend,
            non_member_spend_per_order_minor: per(non_member_spend, non_member_orders),
            credit_earned_minor: self.earned,
            credit_redeemed_minor: self.redeemed,
            credit_adjusted_minor: self.adjusted,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Lifetime {
    pub members: i64,
    pub members_with_orders: i64,
    pub repeat_members: i64,
    pub repeat_purchase_rate_bp: Option<i64>,
    /// Mean lifetime net eligible spend of members with at least one qualifying purchase.
    pub lifetime_value_minor: Option<i64>,
    pub credit_outstanding_minor: i64,
    /// Members per segment of the last RFM run (`unscored`: joined since).
    pub segments: BTreeMap<String, i64>,
    /// Members per tier (`none`: below the first tier or tiers off).
    pub tiers: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Insights {
    pub period: Period,
    pub summary: Figures,
    pub periods: Vec<Figures>,
    pub lifetime: Lifetime,
}

fn date(raw: &str, field: &str) -> Result<NaiveDate, EngineError> {
    raw.parse().map_err(|_| {
        EngineError::Invalid(format!(
            "`{field}` must be a date as YYYY-MM-DD, got `{raw}`"
        ))
    })
}

pub async fn insights(
    engine: &Engine,
    merchant_id: &str,
    q: Query,
) -> Result<Insights, EngineError> {
    let merchant = engine.merchant(merchant_id).await?;
    let zone = tillbridge_engine::merchants::parse_zone(&merchant.timezone)?;
    let period = q.period.unwrap_or_default();
    let mut c = engine.conn().await?;
    let to = match q.to.as_deref() {
        Some(t) => date(t, "to")?,
        None => today(&mut c, merchant_id, engine.now_ms()).await?,
    };
    let from = match q.from.as_deref() {
        Some(f) => date(f, "from")?,
        None => to - Months::new(12) + Days::new(1),
    };
    if from > to {
        return Err(EngineError::Invalid(format!(
            "`from` ({from}) is after `to` ({to})"
        )));
    }
    if (to - from).num_days() > 3 * 366 {
        return Err(EngineError::Invalid(
            "the range is longer than three years: ask for a shorter one".into(),
        ));
    }
    let program = program::load(&mut c, merchant_id).await?;
    let including_tax = program.tax_basis == crate::eligible::TaxBasis::IncludingTax;

    // One accumulator per period (numbered by its start's place in `starts`), plus the range.
    let mut starts = Vec::new();
    let mut start = period.start(from);
    while start <= to {
        starts.push(start);
        start = period.next(start);
    }
    let mut buckets: Vec<Acc> = starts.iter().map(|_| Acc::default()).collect();
    let number = |day: NaiveDate| starts.binary_search(&period.start(day)).ok();
    let numbered = |n: i64| usize::try_from(n).ok();
    let mut total = Acc::default();
    let (f, t) = (from.to_string(), to.to_string());
    for d in store::day_totals(&mut c, merchant_id, &f, &t, including_tax).await? {
        let Ok(day) = d.business_date.parse::<NaiveDate>() else {
            continue;
        };
        let bucket = number(day).and_then(|i| buckets.get_mut(i));
        for acc in [bucket, Some(&mut total)].into_iter().flatten() {
            acc.orders += d.sales;
            acc.net_minor += d.net_minor;
        }
    }
    // Members' purchases, summed per period and for the range by the database.
    let (by_period, in_range) =
        store::member_figures_by_period(&mut c, merchant_id, period, from, to).await?;
    for (start, figures) in by_period {
        if let Some(acc) = number(start).and_then(|i| buckets.get_mut(i)) {
            acc.members = figures;
        }
    }
    total.members = in_range;
    // Ledger entries count in the period of the local date they were posted on: each period
    // is the instants from its first local midnight (in the range) to the next period's.
    let midnight = |d: NaiveDate| local_instant(d, NaiveTime::MIN, zone).timestamp_millis();
    let bounds: Vec<(i64, i64, i64)> = starts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let end = period.next(*s).min(to + Days::new(1));
            (i as i64, midnight((*s).max(from)), midnight(end))
        })
        .collect();
    for (n, kind, amount) in store::ledger_by_period(&mut c, merchant_id, &bounds).await? {
        let bucket = numbered(n).and_then(|i| buckets.get_mut(i));
        for acc in [bucket, Some(&mut total)].into_iter().flatten() {
            match kind.as_str() {
                "earned" | "reversed" => acc.earned += amount,
                "redeemed" => acc.redeemed -= amount,
                _ => acc.adjusted += amount,
            }
        }
    }
    let periods = starts
        .iter()
        .zip(&buckets)
        .map(|(start, acc)| {
            let end = (period.next(*start) - Days::new(1)).min(to);
            acc.figures((*start).max(from), end)
        })
        .collect();

    let counts = store::member_counts(&mut c, merchant_id).await?;
    let name = |k: Option<String>, none: &str| k.unwrap_or_else(|| none.to_owned());
    Ok(Insights {
        period,
        summary: total.figures(from, to),
        periods,
        lifetime: Lifetime {
            members: counts.members,
            members_with_orders: counts.buying,
            repeat_members: counts.repeat,
            repeat_purchase_rate_bp: bp(counts.repeat, counts.buying),
            lifetime_value_minor: per(counts.buying_spend_minor, counts.buying),
            credit_outstanding_minor: counts.outstanding_minor,
            segments: counts
                .segments
                .into_iter()
                .map(|(k, n)| (name(k, "unscored"), n))
                .collect(),
            tiers: counts
                .tiers
                .into_iter()
                .map(|(k, n)| (name(k, "none"), n))
                .collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn rates_are_basis_points_and_empty_is_none() {
        assert_eq!(bp(1, 3), Some(3333));
        assert_eq!(bp(0, 0), None);
        let acc = Acc {
            orders: 10,
            net_minor: 10_000,
            members: store::MemberFigures {
                spend_minor: 6_000,
                orders: 4,
                buying: 2,
                repeat: 1,
            },
            ..Acc::default()
        };
        let f = acc.figures(d("2026-01-01"), d("2026-01-31"));
        assert_eq!(f.member_order_share_bp, Some(4000));
        assert_eq!(f.repeat_purchase_rate_bp, Some(5000));
        assert_eq!(f.spend_per_member_minor, Some(3000));
        assert_eq!(f.non_member_orders, 6);
        assert_eq!(f.non_member_spend_per_order_minor, Some(666));
    }
}
