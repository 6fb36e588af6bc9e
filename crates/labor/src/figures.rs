//! The eight weekly-balance figures, computed from a location's orders per business date and
//! local hour. Pure: the orders come in, the buckets go out.
//!
//! - Gross Sales: Σ sold lines before discounts (VAT basis per setting); voided lines never count.
//! - Discounts: Σ line and order discounts on those lines.
//! - Returns: Σ |returned lines after their discounts|, in the hour of the record that carries them.
//! - Net Sales: Gross Sales − Discounts − Returns.
//! - Transactions: sale receipts with at least one sold line (voids and pure-return receipts
//!   are not transactions; a voided sale counts nothing at all).
//! - Number of goods sold: Σ quantity of sold lines with a price (zero-price modifiers do not count).
//! - Number of returned goods: Σ |quantity| of returned lines.
//! - Visitors: covers of those receipts, when the POS records covers.
//!
//! A line with a positive quantity is sold, a negative one returned, so an exchange on one
//! receipt counts both ways. Amounts are minor units summed exactly; quantities are thousandths.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tillbridge_store::labor::{LaborLine, LaborOrder};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    GrossSales,
    NetSales,
    Discounts,
    Returns,
    Transactions,
    GoodsSold,
    ReturnedGoods,
    Visitors,
}

impl FieldType {
    pub const ALL: [FieldType; 8] = [
        FieldType::GrossSales,
        FieldType::NetSales,
        FieldType::Discounts,
        FieldType::Returns,
        FieldType::Transactions,
        FieldType::GoodsSold,
        FieldType::ReturnedGoods,
        FieldType::Visitors,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::GrossSales => "gross_sales",
            FieldType::NetSales => "net_sales",
            FieldType::Discounts => "discounts",
            FieldType::Returns => "returns",
            FieldType::Transactions => "transactions",
            FieldType::GoodsSold => "goods_sold",
            FieldType::ReturnedGoods => "returned_goods",
            FieldType::Visitors => "visitors",
        }
    }

    pub fn parse(raw: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            FieldType::GrossSales => "Gross Sales",
            FieldType::NetSales => "Net Sales",
            FieldType::Discounts => "Discounts",
            FieldType::Returns => "Returns",
            FieldType::Transactions => "Transactions",
            FieldType::GoodsSold => "Number of goods sold",
            FieldType::ReturnedGoods => "Number of returned goods",
            FieldType::Visitors => "Visitors",
        }
    }

    /// What a value of this field counts: `minor_units` of the merchant's currency, `count`,
    /// or `thousandths` of a unit (quantities can be weights).
    pub fn unit(self) -> &'static str {
        match self {
            FieldType::GrossSales
            | FieldType::NetSales
            | FieldType::Discounts
            | FieldType::Returns => "minor_units",
            FieldType::Transactions | FieldType::Visitors => "count",
            FieldType::GoodsSold | FieldType::ReturnedGoods => "thousandths",
        }
    }
}

/// Whether amounts include VAT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatBasis {
    #[default]
    Included,
    Excluded,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub gross: i64,
    pub discounts: i64,
    pub returns: i64,
    pub transactions: i64,
    pub goods_milli: i64,
    pub returned_milli: i64,
    pub visitors: i64,
}

impl Figures {
    pub fn value(&self, field: FieldType) -> i64 {
        match field {
            FieldType::GrossSales => self.gross,
            FieldType::NetSales => self.gross - self.discounts - self.returns,
            FieldType::Discounts => self.discounts,
            FieldType::Returns => self.returns,
            FieldType::Transactions => self.transactions,
            FieldType::GoodsSold => self.goods_milli,
            FieldType::ReturnedGoods => self.returned_milli,
            FieldType::Visitors => self.visitors,
        }
    }

    pub fn add(&mut self, other: &Figures) {
        self.gross += other.gross;
        self.discounts += other.discounts;
        self.returns += other.returns;
        self.transactions += other.transactions;
        self.goods_milli += other.goods_milli;
        self.returned_milli += other.returned_milli;
        self.visitors += other.visitors;
    }

    pub fn is_zero(&self) -> bool {
        *self == Figures::default()
    }
}

/// `value × num ÷ den` rounded half to even; `value` when `den` is zero.
fn scale_half_even(value: i64, num: i64, den: i64) -> i64 {
    if den == 0 {
        return value;
    }
    let (mut n, mut d) = (i128::from(value) * i128::from(num), i128::from(den));
    if d < 0 {
        (n, d) = (-n, -d);
    }
    let (q, r) = (n.div_euclid(d), n.rem_euclid(d));
    let q = match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    };
    i64::try_from(q).unwrap_or(value)
}

/// A line's amount after discounts and its discount, on the chosen basis. Without VAT the
/// discount is scaled by the line's net ÷ total, rounded half to even.
fn amounts(l: &LaborLine, basis: VatBasis) -> (i64, i64) {
    match basis {
        VatBasis::Included => (l.total_minor, l.discount_minor),
        VatBasis::Excluded => (
            l.net_minor,
            scale_half_even(l.discount_minor, l.net_minor, l.total_minor),
        ),
    }
}

/// One order's contribution.
pub fn order_figures(order: &LaborOrder, basis: VatBasis) -> Figures {
    let mut f = Figures::default();
    let mut sold = false;
    for l in order.lines.iter().filter(|l| !l.voided) {
        let (after, discount) = amounts(l, basis);
        if l.quantity_milli > 0 {
            sold = true;
            f.gross += after + discount;
            f.discounts += discount;
            if l.unit_price_minor != 0 || l.total_minor != 0 {
                f.goods_milli += l.quantity_milli;
            }
        } else if l.quantity_milli < 0 {
            f.returns += after.abs();
            f.returned_milli += l.quantity_milli.abs();
        }
    }
    if sold && order.kind == "sale" {
        f.transactions = 1;
        f.visitors = order.covers.unwrap_or(0);
    }
    f
}

/// Which registers of the location belong to the department (all when empty).
pub fn takes(terminals: &[String], register: Option<&str>) -> bool {
    terminals.is_empty() || register.is_some_and(|r| terminals.iter().any(|t| t == r))
}

/// Buckets orders by (business date, local hour).
pub fn bucket(
    orders: &[LaborOrder],
    terminals: &[String],
    zone: Tz,
    day_start: NaiveTime,
    basis: VatBasis,
) -> BTreeMap<(NaiveDate, u32), Figures> {
    let mut out: BTreeMap<(NaiveDate, u32), Figures> = BTreeMap::new();
    for o in orders {
        if !takes(terminals, o.register_id.as_deref()) {
            continue;
        }
        let Some(at) = DateTime::<Utc>::from_timestamp_millis(o.closed_at) else {
            continue;
        };
        let key = crate::calendar::slot(at, zone, day_start);
        out.entry(key).or_default().add(&order_figures(o, basis));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(q: i64, unit: i64, discount: i64, total: i64, net: i64) -> LaborLine {
        LaborLine {
            quantity_milli: q * 1000,
            unit_price_minor: unit,
            discount_minor: discount,
            total_minor: total,
            net_minor: net,
            voided: false,
        }
    }

    fn order(
        kind: &str,
        at: &str,
        register: &str,
        covers: Option<i64>,
        lines: Vec<LaborLine>,
    ) -> LaborOrder {
        LaborOrder {
            id: format!("{kind}-{at}"),
            kind: kind.into(),
            closed_at: DateTime::parse_from_rfc3339(at).unwrap().timestamp_millis(),
            register_id: Some(register.into()),
            covers,
            lines,
        }
    }

    #[test]
    fn the_eight_fields_from_sales_and_returns() {
        let sale = order(
            "sale",
            "2026-11-20T09:10:00Z",
            "r1",
            Some(3),
            vec![
                line(2, 350, 70, 630, 578),
                line(1, 0, 0, 0, 0),
                line(1, 400, 0, 400, 367),
                LaborLine {
                    voided: true,
                    ..line(1, 999, 0, 999, 917)
                },
            ],
        );
        let f = order_figures(&sale, VatBasis::Included);
        let want = [
            (FieldType::GrossSales, 1100),
            (FieldType::Discounts, 70),
            (FieldType::Returns, 0),
            (FieldType::NetSales, 1030),
            (FieldType::Transactions, 1),
            (FieldType::GoodsSold, 3000),
            (FieldType::ReturnedGoods, 0),
            (FieldType::Visitors, 3),
        ];
        for (field, v) in want {
            assert_eq!(f.value(field), v, "{field:?}");
        }
        // Without VAT: 578 + 70×578/630 (64.22 → 64) + 367.
        let f = order_figures(&sale, VatBasis::Excluded);
        assert_eq!((f.gross, f.discounts), (578 + 64 + 367, 64));

        let refund = order(
            "refund",
            "2026-11-21T10:00:00Z",
            "r1",
            None,
            vec![line(-1, 350, -35, -315, -289)],
        );
        let f = order_figures(&refund, VatBasis::Included);
        assert_eq!(
            (
                f.gross,
                f.returns,
                f.transactions,
                f.returned_milli,
                f.value(FieldType::NetSales)
            ),
            (0, 315, 0, 1000, -315)
        );
        // An exchange: one receipt that sells and takes back.
        let exchange = order(
            "sale",
            "2026-11-21T10:00:00Z",
            "r1",
            None,
            vec![line(1, 500, 0, 500, 459), line(-1, 400, 0, -400, -367)],
        );
        let f = order_figures(&exchange, VatBasis::Included);
        assert_eq!((f.gross, f.returns, f.transactions), (500, 400, 1));
    }

    #[test]
    fn buckets_by_department_registers_and_local_hour() {
        let cph: Tz = "Europe/Copenhagen".parse().unwrap();
        let orders = vec![
            order(
                "sale",
                "2026-10-25T00:30:00Z",
                "r1",
                None,
                vec![line(1, 100, 0, 100, 92)],
            ),
            order(
                "sale",
                "2026-10-25T01:30:00Z",
                "r1",
                None,
                vec![line(1, 200, 0, 200, 183)],
            ),
            order(
                "sale",
                "2026-10-25T01:40:00Z",
                "r2",
                None,
                vec![line(1, 900, 0, 900, 826)],
            ),
        ];
        let five = NaiveTime::from_hms_opt(5, 0, 0).unwrap();
        let b = bucket(&orders, &["r1".into()], cph, five, VatBasis::Included);
        let day: NaiveDate = "2026-10-24".parse().unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[&(day, 2)].gross, 300);
        assert_eq!(b[&(day, 2)].transactions, 2);
        let all = bucket(&orders, &[], cph, five, VatBasis::Included);
        assert_eq!(all[&(day, 2)].gross, 1200);
    }

    #[test]
    fn rounding_is_half_to_even() {
        assert_eq!(scale_half_even(5, 1, 2), 2);
        assert_eq!(scale_half_even(7, 1, 2), 4);
        assert_eq!(scale_half_even(-7, 1, 2), -4);
        assert_eq!(scale_half_even(10, 3, 0), 10);
    }
}
