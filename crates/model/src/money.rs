//! Exact decimal parsing into integer minor units. Provider amounts arrive as strings such as
//! `"11.00"` or `"1.6667"`, or as JSON numbers; they never pass through `f64`.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a decimal amount")]
    NotADecimal(String),
    #[error("`{0}` is too large for an amount")]
    OutOfRange(String),
}

/// Parses a decimal amount into minor units with `exponent` decimals (2 for EUR/USD), rounding
/// half to even, as Lightspeed does for its two-decimal values.
pub fn parse_minor(raw: &str, exponent: u32) -> Result<i64, MoneyError> {
    let trimmed = raw.trim();
    let value = Decimal::from_str(trimmed)
        .or_else(|_| Decimal::from_scientific(trimmed))
        .map_err(|_| MoneyError::NotADecimal(raw.to_owned()))?;
    to_minor(value, exponent).ok_or_else(|| MoneyError::OutOfRange(raw.to_owned()))
}

fn to_minor(value: Decimal, exponent: u32) -> Option<i64> {
    let scaled = value.checked_mul(Decimal::from(10i64.checked_pow(exponent)?))?;
    let rounded = scaled.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven);
    i64::try_from(rounded).ok()
}

/// Minor-unit exponent of an ISO 4217 currency: 2 unless it has no minor unit.
pub fn currency_exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "ISK" | "CLP" | "VND" | "XOF" | "XAF" | "UGX" | "PYG" => 0,
        _ => 2,
    }
}

/// An amount in minor units written for people: `12.50 DKK`, `-3.00 EUR`, `1200 JPY`.
pub fn display_minor(minor: i64, currency: &str) -> String {
    format!("{} {currency}", decimal_minor(minor, currency))
}

/// An amount in minor units as a plain decimal with the currency's decimals (`12.50`), as it
/// is typed into a form.
pub fn decimal_minor(minor: i64, currency: &str) -> String {
    Decimal::new(minor, currency_exponent(currency)).to_string()
}

/// A rate written as a decimal in basis points, rounded half to even where it is finer (an
/// 8.875 % sales tax is 888): `percent` for a percentage such as `"9.00"`, otherwise a
/// fraction such as `"0.09"`. `None` when it is not a decimal with at most eight places.
pub fn basis_points(raw: &str, percent: bool) -> Option<i64> {
    let hundred_millionths = parse_minor(raw, 8).ok()?;
    Some(rescale_half_even(
        hundred_millionths,
        8,
        if percent { 2 } else { 4 },
    ))
}

/// Rescales an integer amount from `from` decimals to fewer `to` decimals, rounding half to
/// even (e.g. ten-thousandths to cents).
pub fn rescale_half_even(value: i64, from: u32, to: u32) -> i64 {
    let Some(factor) = 10i64.checked_pow(from.saturating_sub(to)) else {
        return 0;
    };
    if factor == 1 {
        return value;
    }
    let q = value.div_euclid(factor);
    let r = value.rem_euclid(factor);
    match (2 * r).cmp(&factor) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// An exact quantity (weights exist), stored as thousandths.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Quantity(pub i64);

impl Quantity {
    pub const SCALE: i64 = 1000;

    pub fn from_units(units: i64) -> Self {
        Quantity(units * Self::SCALE)
    }

    pub fn milli(self) -> i64 {
        self.0
    }

    pub fn parse(raw: &str) -> Result<Self, MoneyError> {
        parse_minor(raw, 3).map(Quantity)
    }

    /// Whole units, rounded toward zero (stamps count whole items).
    pub fn whole_units(self) -> i64 {
        self.0 / Self::SCALE
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = Decimal::new(self.0, 3).normalize();
        write!(f, "{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_in_basis_points() {
        assert_eq!(basis_points("9.00", true), Some(900));
        assert_eq!(basis_points("5.5", true), Some(550));
        assert_eq!(basis_points("0.09", false), Some(900));
        assert_eq!(basis_points("0.08875", false), Some(888));
        assert_eq!(basis_points("0.08865", false), Some(886), "half to even");
        assert_eq!(basis_points("0", false), Some(0));
        assert_eq!(basis_points("nine", true), None);
    }

    #[test]
    fn amounts_are_written_with_their_currency_decimals() {
        assert_eq!(display_minor(1250, "DKK"), "12.50 DKK");
        assert_eq!(display_minor(-300, "EUR"), "-3.00 EUR");
        assert_eq!(display_minor(5, "USD"), "0.05 USD");
        assert_eq!(display_minor(1200, "JPY"), "1200 JPY");
        assert_eq!(decimal_minor(1000, "EUR"), "10.00");
        assert_eq!(decimal_minor(7, "JPY"), "7");
    }

    #[test]
    fn parses_provider_amounts_exactly() {
        let cases = [
            ("11.00", 1100),
            ("0.1", 10),
            ("-3.50", -350),
            ("1.6667", 167),
            ("0.125", 12), // half to even
            ("0.135", 14),
            ("  7 ", 700),
            ("1e2", 10000),
            ("123456789.99", 12345678999),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_minor(raw, 2), Ok(want), "{raw}");
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            parse_minor("abc", 2),
            Err(MoneyError::NotADecimal(_))
        ));
        assert!(matches!(
            parse_minor("", 2),
            Err(MoneyError::NotADecimal(_))
        ));
        assert!(matches!(
            parse_minor("99999999999999999999999", 2),
            Err(MoneyError::OutOfRange(_))
        ));
    }

    #[test]
    fn rescales_half_to_even() {
        assert_eq!(rescale_half_even(16667, 4, 2), 167);
        assert_eq!(rescale_half_even(1250, 4, 2), 12);
        assert_eq!(rescale_half_even(1350, 4, 2), 14);
        assert_eq!(rescale_half_even(-16667, 4, 2), -167);
        assert_eq!(rescale_half_even(-1250, 4, 2), -12);
        assert_eq!(rescale_half_even(700, 2, 2), 700);
    }

    #[test]
    fn quantities_keep_fractions() {
        assert_eq!(Quantity::parse("1.5").unwrap(), Quantity(1500));
        assert_eq!(Quantity::parse("-2").unwrap().whole_units(), -2);
        assert_eq!(Quantity(1250).to_string(), "1.25");
    }
}
