//! The eight weekly-balance figures per business date and local hour. The database sums a
//! location's order lines per register and time slot
//! ([`tillbridge_store::labor::location_slots`]); this module picks the VAT basis, keeps the
//! department's registers, and puts each slot in its local hour. The definitions:
//!
//! - Gross Sales: Σ sold lines before discounts (VAT basis per setting); voided lines never count.
//! - Discounts: Σ line and order discounts on those lines (without VAT: scaled by the line's
//!   net ÷ total, rounded half away from zero per line).
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

use chrono::{DateTime, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tillbridge_store::labor::LaborSlot;

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
}

impl Figures {
    /// A slot's figures on the chosen VAT basis.
    pub fn of_slot(slot: &LaborSlot, basis: VatBasis) -> Figures {
        let (gross, discounts, returns) = match basis {
            VatBasis::Included => (slot.gross, slot.discount, slot.returns),
            VatBasis::Excluded => (slot.gross_excl, slot.discount_excl, slot.returns_excl),
        };
        Figures {
            gross,
            discounts,
            returns,
            transactions: slot.transactions,
            goods_milli: slot.goods_milli,
            returned_milli: slot.returned_milli,
            visitors: slot.visitors,
        }
    }
}

/// Which registers of the location belong to the department (all when empty).
pub fn takes(terminals: &[String], register: Option<&str>) -> bool {
    terminals.is_empty() || register.is_some_and(|r| terminals.iter().any(|t| t == r))
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

/// The longest slot (in milliseconds, at most an hour) that never straddles a local hour or a
/// business-day start in `zone` between `from` and `to`: an hour where every UTC offset is a
/// whole hour, less where offsets (India: +05:30, Nepal: +05:45) or the day start (05:30) are not.
pub fn slot_ms(zone: Tz, day_start: NaiveTime, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let mut seconds = gcd(3600, i64::from(day_start.num_seconds_from_midnight()));
    let mut at = from;
    loop {
        let offset = zone
            .offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc();
        seconds = gcd(seconds, i64::from(offset));
        if at >= to {
            break;
        }
        at = (at + chrono::Duration::hours(12)).min(to);
    }
    seconds.max(1) * 1000
}

/// Buckets a location's slots by (business date, local hour), keeping the department's registers.
pub fn bucket(
    slots: &[LaborSlot],
    terminals: &[String],
    zone: Tz,
    day_start: NaiveTime,
    basis: VatBasis,
) -> BTreeMap<(NaiveDate, u32), Figures> {
    let mut out: BTreeMap<(NaiveDate, u32), Figures> = BTreeMap::new();
    for s in slots {
        if !takes(terminals, s.register_id.as_deref()) {
            continue;
        }
        let Some(at) = DateTime::<Utc>::from_timestamp_millis(s.start) else {
            continue;
        };
        let key = crate::calendar::slot(at, zone, day_start);
        out.entry(key).or_default().add(&Figures::of_slot(s, basis));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn slot(start: &str, register: &str, gross: i64, transactions: i64) -> LaborSlot {
        LaborSlot {
            register_id: Some(register.into()),
            start: at(start).timestamp_millis(),
            gross,
            discount: 10,
            returns: 5,
            gross_excl: gross - 20,
            discount_excl: 9,
            returns_excl: 4,
            goods_milli: 2000,
            returned_milli: 1000,
            transactions,
            visitors: 3,
        }
    }

    #[test]
    fn net_sales_is_gross_less_discounts_and_returns_on_either_basis() {
        let s = slot("2026-11-20T09:00:00Z", "r1", 1100, 1);
        let f = Figures::of_slot(&s, VatBasis::Included);
        let want = [
            (FieldType::GrossSales, 1100),
            (FieldType::Discounts, 10),
            (FieldType::Returns, 5),
            (FieldType::NetSales, 1085),
            (FieldType::Transactions, 1),
            (FieldType::GoodsSold, 2000),
            (FieldType::ReturnedGoods, 1000),
            (FieldType::Visitors, 3),
        ];
        for (field, v) in want {
            assert_eq!(f.value(field), v, "{field:?}");
        }
        let f = Figures::of_slot(&s, VatBasis::Excluded);
        assert_eq!(f.value(FieldType::NetSales), 1080 - 9 - 4);
    }

    #[test]
    fn buckets_by_department_registers_and_local_hour() {
        let cph: Tz = "Europe/Copenhagen".parse().unwrap();
        // Autumn 2026: 00:00 and 01:00 UTC are both 02:xx local; one bucket.
        let slots = vec![
            slot("2026-10-25T00:00:00Z", "r1", 100, 1),
            slot("2026-10-25T01:00:00Z", "r1", 200, 1),
            slot("2026-10-25T01:00:00Z", "r2", 900, 1),
        ];
        let five = NaiveTime::from_hms_opt(5, 0, 0).unwrap();
        let b = bucket(&slots, &["r1".into()], cph, five, VatBasis::Included);
        let day: NaiveDate = "2026-10-24".parse().unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!((b[&(day, 2)].gross, b[&(day, 2)].transactions), (300, 2));
        let all = bucket(&slots, &[], cph, five, VatBasis::Included);
        assert_eq!(all[&(day, 2)].gross, 1200);
    }

    #[test]
    fn slots_never_straddle_a_local_hour_or_a_day_start() {
        let (from, to) = (at("2026-01-01T00:00:00Z"), at("2026-12-31T00:00:00Z"));
        let zone = |z: &str| z.parse::<Tz>().unwrap();
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert_eq!(
            slot_ms(zone("Europe/Copenhagen"), t("05:00"), from, to),
            3_600_000
        );
        assert_eq!(
            slot_ms(zone("Europe/Copenhagen"), t("05:30"), from, to),
            1_800_000
        );
        assert_eq!(
            slot_ms(zone("Asia/Kolkata"), t("00:00"), from, to),
            1_800_000
        );
        assert_eq!(
            slot_ms(zone("Asia/Kathmandu"), t("00:00"), from, to),
            900_000
        );
        // Lord Howe Island changes by half an hour for summer time.
        assert_eq!(
            slot_ms(zone("Australia/Lord_Howe"), t("00:00"), from, to),
            1_800_000
        );
    }
}
