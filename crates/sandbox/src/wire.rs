//! Formatting of amounts and instants the way Lightspeed writes them.

use chrono::{DateTime, FixedOffset, Utc};

/// Cents as a two-decimal string: 1100 → "11.00", -5 → "-0.05".
pub fn cents(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Ten-thousandths as a four-decimal string (K-Series tax amounts): 16667 → "1.6667".
pub fn ten_thousandths(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    format!("{sign}{}.{:04}", abs / 10_000, abs % 10_000)
}

/// K-Series instants: millisecond precision with an offset without a colon (`+0000`).
pub fn k_instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

/// An instant in a fixed local offset, with a colon (`2023-07-28T05:30:00-05:00`).
pub fn local_iso(at: DateTime<FixedOffset>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Rounds ten-thousandths to cents, half to even, as the truth and a careful client do.
pub fn round_half_even_to_cents(value: i64) -> i64 {
    let q = value.div_euclid(100);
    let r = value.rem_euclid(100);
    match r.cmp(&50) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => {
            if q % 2 == 0 {
                q
            } else {
                q + 1
            }
        }
    }
}

/// Parses the instants Lightspeed clients send: RFC 3339, or an offset without a colon.
pub fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// The business date of `instant` at a location whose day starts at `day_start` local time.
pub fn business_date(
    instant: DateTime<Utc>,
    zone: chrono_tz::Tz,
    day_start: chrono::NaiveTime,
) -> chrono::NaiveDate {
    (instant.with_timezone(&zone).naive_local() - (day_start - chrono::NaiveTime::MIN)).date()
}

/// An amount as a JSON number or decimal string, in cents; `None` when it is not one or has
/// more than two decimals.
pub fn amount_cents(v: &serde_json::Value) -> Option<i64> {
    let raw = match v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || fraction.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = whole.parse::<i64>().ok()? * 100 + format!("{fraction:0<2}").parse::<i64>().ok()?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_money_like_lightspeed() {
        assert_eq!(cents(1100), "11.00");
        assert_eq!(cents(-5), "-0.05");
        assert_eq!(ten_thousandths(16667), "1.6667");
        assert_eq!(ten_thousandths(-16667), "-1.6667");
    }

    #[test]
    fn rounds_half_even() {
        assert_eq!(round_half_even_to_cents(16667), 167);
        assert_eq!(round_half_even_to_cents(1250), 12);
        assert_eq!(round_half_even_to_cents(1350), 14);
        assert_eq!(round_half_even_to_cents(-16667), -167);
        assert_eq!(round_half_even_to_cents(-1250), -12);
    }

    #[test]
    fn parses_both_offset_styles() {
        let a = parse_instant("2021-12-21T13:24:49.265+0000").unwrap();
        let b = parse_instant("2021-12-21T13:24:49.265Z").unwrap();
        assert_eq!(a, b);
    }
}
