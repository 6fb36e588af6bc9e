//! The weekly balance of a department as the API shows it, and its CSV export.

use crate::calendar::week_start;
use crate::departments::{self, Department};
use crate::figures::FieldType;
use crate::settings;
use chrono::{Duration, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_model::currency_exponent;
use tillbridge_store::labor::{self as store, DayRow};

#[derive(Clone, Debug, Serialize)]
pub struct Balance {
    pub department_id: String,
    pub department: String,
    pub from: NaiveDate,
    pub until: NaiveDate,
    pub currency: String,
    pub vat_basis: crate::figures::VatBasis,
    pub fields: Vec<crate::departments::FieldView>,
    pub days: Vec<BalanceDay>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BalanceDay {
    pub business_date: String,
    /// `not_imported`, `ok`, `partial` or `failed`.
    pub import_status: String,
    pub import_error: Option<String>,
    pub imported_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub confirmed_by: Option<String>,
    pub discrepancy: Option<serde_json::Value>,
    /// Per field type: the daily total.
    pub totals: BTreeMap<&'static str, i64>,
    pub values: Vec<BalanceValue>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BalanceValue {
    pub field_type: FieldType,
    pub number: String,
    /// Local hour (0–23); absent for a field without hourly split.
    pub hour: Option<i64>,
    pub value: i64,
}

/// The Monday–Sunday week holding `date`.
pub fn week(date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let monday = week_start(date);
    (monday, monday + Duration::days(6))
}

pub async fn get(
    engine: &Engine,
    merchant_id: &str,
    department_id: &str,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Balance, EngineError> {
    if from > until || (until - from).num_days() > 370 {
        return Err(EngineError::Invalid(format!(
            "`from` ({from}) must not be after `until` ({until}), and the range may cover at most 371 days"
        )));
    }
    let merchant = engine.merchant(merchant_id).await?;
    let dept = departments::get(engine, merchant_id, department_id).await?;
    let vat_basis = settings::get(engine, merchant_id).await?.settings.vat_basis;
    let mut c = engine.conn().await?;
    let (f, u) = (from.to_string(), until.to_string());
    let recorded: BTreeMap<String, DayRow> =
        store::days(&mut c, merchant_id, department_id, &f, &u)
            .await?
            .into_iter()
            .map(|d| (d.business_date.clone(), d))
            .collect();
    let mut values: BTreeMap<String, Vec<BalanceValue>> = BTreeMap::new();
    for v in store::values(&mut c, merchant_id, department_id, &f, &u).await? {
        let Some(field_type) = FieldType::parse(&v.field_id) else {
            continue;
        };
        let Some(field) = dept.field(field_type) else {
            continue;
        };
        values
            .entry(v.business_date.clone())
            .or_default()
            .push(BalanceValue {
                field_type,
                number: field.number.clone(),
                hour: (v.hour >= 0).then_some(v.hour),
                value: v.value,
            });
    }
    let days = crate::calendar::dates(from, until)
        .map(|date| {
            let key = date.to_string();
            let day = recorded.get(&key);
            let values = values.remove(&key).unwrap_or_default();
            let mut totals = BTreeMap::new();
            for v in &values {
                *totals.entry(v.field_type.as_str()).or_default() += v.value;
            }
            BalanceDay {
                business_date: key,
                import_status: day
                    .map(|d| d.import_status.clone())
                    .unwrap_or_else(|| "not_imported".into()),
                import_error: day.and_then(|d| d.import_error.clone()),
                imported_at: day.map(|d| d.imported_at),
                confirmed_at: day.and_then(|d| d.confirmed_at),
                confirmed_by: day.and_then(|d| d.confirmed_by.clone()),
                discrepancy: day.and_then(|d| d.discrepancy.clone()),
                totals,
                values,
            }
        })
        .collect();
    Ok(Balance {
        department_id: dept.id.clone(),
        department: dept.name.clone(),
        from,
        until,
        currency: merchant.currency,
        vat_basis,
        fields: dept.fields.clone(),
        days,
    })
}

/// `value / 10^places` written exactly, without trailing zeros beyond `min_places`.
fn decimal(value: i64, places: u32, min_places: u32) -> String {
    if places == 0 {
        return value.to_string();
    }
    let factor = 10i64.pow(places);
    let sign = if value < 0 { "-" } else { "" };
    let (whole, frac) = (
        value.unsigned_abs() / factor as u64,
        value.unsigned_abs() % factor as u64,
    );
    let mut frac = format!("{frac:0width$}", width = places as usize);
    while frac.len() > min_places as usize && frac.ends_with('0') {
        frac.pop();
    }
    if frac.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac}")
    }
}

/// A field's value as people read it (and the CSV holds it): money in major units with the
/// currency's decimals, quantities in units, counts as they are.
pub fn shown(field_type: FieldType, value: i64, currency: &str) -> String {
    value_text(field_type, value, currency_exponent(currency))
}

fn value_text(field_type: FieldType, value: i64, places: u32) -> String {
    match field_type.unit() {
        "minor_units" => decimal(value, places, places),
        "thousandths" => decimal(value, 3, 0),
        _ => value.to_string(),
    }
}

fn csv_field(raw: &str) -> String {
    // Quote every text field; a leading formula character is neutralised for spreadsheets.
    let safe = if raw.starts_with(['=', '+', '-', '@']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    format!("\"{}\"", safe.replace('"', "\"\""))
}

/// The balance as CSV: date, hour, department, field number, field type, value (money in
/// major units of the currency, quantities in units, counts as they are).
pub fn csv(balances: &[Balance]) -> String {
    let mut out = String::from("date,hour,department,field_number,field_type,value\n");
    for b in balances {
        let places = currency_exponent(&b.currency);
        for day in &b.days {
            for v in &day.values {
                let value = value_text(v.field_type, v.value, places);
                let hour = v.hour.map(|h| format!("{h:02}:00")).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    day.business_date,
                    hour,
                    csv_field(&b.department),
                    csv_field(&v.number),
                    v.field_type.as_str(),
                    value
                );
            }
        }
    }
    out
}

/// Every department's balance over the range (one department when `only` is given).
pub async fn all(
    engine: &Engine,
    merchant_id: &str,
    only: Option<&str>,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Vec<Balance>, EngineError> {
    let list: Vec<Department> = match only {
        Some(id) => vec![departments::get(engine, merchant_id, id).await?],
        None => departments::list(engine, merchant_id).await?,
    };
    let mut out = Vec::new();
    for d in list {
        out.push(get(engine, merchant_id, &d.id, from, until).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(12345, 2, 2), "123.45");
        assert_eq!(decimal(-5, 2, 2), "-0.05");
        assert_eq!(decimal(2500, 3, 0), "2.5");
        assert_eq!(decimal(3000, 3, 0), "3");
        assert_eq!(decimal(7, 0, 0), "7");
    }

    #[test]
    fn csv_text_is_quoted_and_formula_safe() {
        assert_eq!(csv_field("Bar \"1\""), "\"Bar \"\"1\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "\"'=SUM(A1)\"");
    }

    #[test]
    fn weeks_are_monday_to_sunday() {
        let (a, b) = week("2026-11-19".parse().unwrap());
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2026-11-16".into(), "2026-11-22".into())
        );
    }
}
