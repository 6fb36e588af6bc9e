//! Departments: a POS location (client number), optionally some of its registers (terminal
//! numbers), a zone and business-day start, and the weekly balance fields to fill.

use crate::figures::FieldType;
use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use tillbridge_engine::ids::new_id;
use tillbridge_engine::merchants::{parse_day_start, parse_zone};
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::labor::{self as store, DepartmentRow};

/// A weekly balance field: its number/code and name in the planning tool, what it holds, and
/// whether it is split into 1-hour intervals (otherwise it holds the daily total).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub number: String,
    pub name: String,
    pub field_type: FieldType,
    #[serde(default)]
    pub hourly: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentInput {
    pub name: String,
    pub timezone: String,
    /// HH:MM; 00:00 when absent.
    #[serde(default)]
    pub business_day_start: Option<String>,
    /// The POS location: K business location id, X outlet id, R shop id or O location id.
    pub client_number: String,
    /// Register/device ids of that location that belong to this department; all when empty.
    #[serde(default)]
    pub terminals: Vec<String>,
    #[serde(default)]
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Stored {
    timezone: String,
    business_day_start: String,
    client_number: String,
    terminals: Vec<String>,
    fields: Vec<Field>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Department {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub business_day_start: String,
    pub client_number: String,
    pub terminals: Vec<String>,
    pub fields: Vec<FieldView>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FieldView {
    #[serde(flatten)]
    pub field: Field,
    /// The field type's name and its definition, as shown to people.
    pub label: &'static str,
    pub definition: &'static str,
    pub unit: &'static str,
}

impl Department {
    pub fn zone(&self) -> Tz {
        parse_zone(&self.timezone).unwrap_or(chrono_tz::UTC)
    }

    pub fn day_start(&self) -> NaiveTime {
        parse_day_start(&self.business_day_start).unwrap_or(NaiveTime::MIN)
    }

    pub fn field(&self, field_type: FieldType) -> Option<&Field> {
        self.fields
            .iter()
            .map(|f| &f.field)
            .find(|f| f.field_type == field_type)
    }
}

/// How each field type is computed, for the API and the dashboard.
pub fn definition(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::GrossSales => "Σ sale line amounts before discounts (VAT basis per setting), excluding tips and voided lines",
        FieldType::NetSales => "Gross Sales − Discounts − Returns",
        FieldType::Discounts => "Σ line and order discounts on the lines counted in Gross Sales",
        FieldType::Returns => "Σ |refunded line amounts after their discounts|, counted in the hour the refund happens",
        FieldType::Transactions => "Completed sale receipts closed in the hour (voids and pure-return receipts excluded)",
        FieldType::GoodsSold => "Σ quantity of sold merchandise lines (no zero-price modifiers, tips or fees), in thousandths",
        FieldType::ReturnedGoods => "Σ |quantity| of returned lines, in the refund's hour, in thousandths",
        FieldType::Visitors => "Covers (guest counts) of the receipts, when the POS records them (K-Series nbCovers); otherwise left untouched",
    }
}

fn view(row: DepartmentRow) -> Result<Department, EngineError> {
    let s: Stored = serde_json::from_value(row.config)
        .map_err(|e| EngineError::Invalid(format!("stored department is unreadable: {e}")))?;
    Ok(Department {
        id: row.id,
        name: row.name,
        timezone: s.timezone,
        business_day_start: s.business_day_start,
        client_number: s.client_number,
        terminals: s.terminals,
        fields: s
            .fields
            .into_iter()
            .map(|field| FieldView {
                label: field.field_type.label(),
                definition: definition(field.field_type),
                unit: field.field_type.unit(),
                field,
            })
            .collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn text(what: &str, value: &str, max: usize) -> Result<String, EngineError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(EngineError::Invalid(format!(
            "`{what}` must be 1 to {max} characters, got `{value}`"
        )));
    }
    Ok(v.to_owned())
}

fn validate(input: &DepartmentInput) -> Result<(String, Stored), EngineError> {
    let name = text("name", &input.name, 200)?;
    parse_zone(&input.timezone).map_err(|e| EngineError::Invalid(format!("`timezone`: {e}")))?;
    let start = input.business_day_start.as_deref().unwrap_or("00:00");
    let start_time = parse_day_start(start)
        .map_err(|e| EngineError::Invalid(format!("`business_day_start`: {e}")))?;
    let client_number = text("client_number", &input.client_number, 100)?;
    let mut terminals = Vec::new();
    for t in &input.terminals {
        let t = text("terminals[]", t, 100)?;
        if terminals.contains(&t) {
            return Err(EngineError::Invalid(format!(
                "terminal `{t}` is listed twice; list each register once"
            )));
        }
        terminals.push(t);
    }
    let mut types = HashSet::new();
    let mut numbers = HashSet::new();
    let mut fields = Vec::new();
    for f in &input.fields {
        let number = text("fields[].number", &f.number, 20)?;
        let fname = text("fields[].name", &f.name, 100)?;
        if !types.insert(f.field_type) {
            return Err(EngineError::Invalid(format!(
                "field type `{}` is mapped twice; a field type maps to at most one field per department",
                f.field_type.as_str()
            )));
        }
        if !numbers.insert(number.clone()) {
            return Err(EngineError::Invalid(format!(
                "field number `{number}` is used twice in this department; give each field its own number"
            )));
        }
        fields.push(Field {
            number,
            name: fname,
            field_type: f.field_type,
            hourly: f.hourly,
        });
    }
    Ok((
        name,
        Stored {
            timezone: input.timezone.trim().to_owned(),
            business_day_start: start_time.format("%H:%M").to_string(),
            client_number,
            terminals,
            fields,
        },
    ))
}

/// Refuses a client number + terminal that another department already has. A department with
/// no terminals takes the whole location.
fn check_conflicts(id: &str, new: &Stored, others: &[Department]) -> Result<(), EngineError> {
    for o in others
        .iter()
        .filter(|o| o.id != id && o.client_number == new.client_number)
    {
        if o.terminals.is_empty() || new.terminals.is_empty() {
            return Err(EngineError::Conflict(format!(
                "POS client number `{}` already belongs to department `{}` ({}); give each department its own terminal numbers, or move the location",
                new.client_number, o.name, o.id
            )));
        }
        if let Some(t) = new.terminals.iter().find(|t| o.terminals.contains(t)) {
            return Err(EngineError::Conflict(format!(
                "POS client number `{}` with terminal `{t}` already belongs to department `{}` ({}); a terminal belongs to one department",
                new.client_number, o.name, o.id
            )));
        }
    }
    Ok(())
}

pub async fn list(engine: &Engine, merchant_id: &str) -> Result<Vec<Department>, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    store::departments(&mut c, merchant_id)
        .await?
        .into_iter()
        .map(view)
        .collect()
}

pub async fn get(engine: &Engine, merchant_id: &str, id: &str) -> Result<Department, EngineError> {
    let mut c = engine.conn().await?;
    load(&mut c, merchant_id, id).await
}

pub(crate) async fn load(
    c: &mut tillbridge_store::Conn,
    merchant_id: &str,
    id: &str,
) -> Result<Department, EngineError> {
    let row = store::department(c, merchant_id, id)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("department `{id}` was not found")))?;
    view(row)
}

/// Creates (`id` None) or replaces a department. Removing a field removes its values.
pub async fn save(
    engine: &Engine,
    merchant_id: &str,
    id: Option<&str>,
    input: DepartmentInput,
) -> Result<Department, EngineError> {
    engine.merchant(merchant_id).await?;
    let (name, stored) = validate(&input)?;
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    // Holds the merchant's settings row so two department changes cannot both pass the check.
    store::settings(&mut tx, merchant_id, true).await?;
    let others: Vec<Department> = store::departments(&mut tx, merchant_id)
        .await?
        .into_iter()
        .map(view)
        .collect::<Result<_, _>>()?;
    let (id, created_at, old_fields) = match id {
        Some(id) => {
            let old = others
                .iter()
                .find(|d| d.id == id)
                .ok_or_else(|| EngineError::NotFound(format!("department `{id}` was not found")))?;
            let fields: Vec<FieldType> = old.fields.iter().map(|f| f.field.field_type).collect();
            (id.to_owned(), old.created_at, fields)
        }
        None => (new_id("dep"), now, Vec::new()),
    };
    check_conflicts(&id, &stored, &others)?;
    let removed: Vec<&str> = old_fields
        .iter()
        .filter(|t| !stored.fields.iter().any(|f| f.field_type == **t))
        .map(|t| t.as_str())
        .collect();
    if !removed.is_empty() {
        crate::imports::remove_field_values(&mut tx, merchant_id, &id, &removed).await?;
    }
    let row = DepartmentRow {
        id,
        name,
        config: serde_json::to_value(&stored).map_err(|e| EngineError::Invalid(e.to_string()))?,
        created_at,
        updated_at: now,
    };
    store::put_department(&mut tx, merchant_id, &row).await?;
    tillbridge_store::commit(tx).await?;
    view(row)
}

pub async fn delete(engine: &Engine, merchant_id: &str, id: &str) -> Result<(), EngineError> {
    let mut tx = engine.store().begin().await?;
    if !store::delete_department(&mut tx, merchant_id, id).await? {
        return Err(EngineError::NotFound(format!(
            "department `{id}` was not found"
        )));
    }
    tillbridge_store::commit(tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(client: &str, terminals: &[&str]) -> DepartmentInput {
        DepartmentInput {
            name: "Bar".into(),
            timezone: "Europe/Copenhagen".into(),
            business_day_start: Some("05:00".into()),
            client_number: client.into(),
            terminals: terminals.iter().map(|t| t.to_string()).collect(),
            fields: vec![],
        }
    }

    fn existing(id: &str, client: &str, terminals: &[&str]) -> Department {
        let (name, s) = validate(&input(client, terminals)).unwrap();
        Department {
            id: id.into(),
            name,
            timezone: s.timezone,
            business_day_start: s.business_day_start,
            client_number: s.client_number,
            terminals: s.terminals,
            fields: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn a_location_and_terminal_belong_to_one_department() {
        let others = [existing("a", "100", &["1"])];
        let ok = |client: &str, t: &[&str]| {
            let (_, s) = validate(&input(client, t)).unwrap();
            check_conflicts("new", &s, &others).is_ok()
        };
        assert!(ok("100", &["2"]));
        assert!(ok("200", &[]));
        assert!(!ok("100", &["1", "3"]));
        assert!(!ok("100", &[]));
        // A department does not conflict with itself.
        let (_, s) = validate(&input("100", &["1"])).unwrap();
        assert!(check_conflicts("a", &s, &others).is_ok());
        let whole = [existing("b", "300", &[])];
        let (_, s) = validate(&input("300", &["9"])).unwrap();
        assert!(check_conflicts("new", &s, &whole).is_err());
    }

    #[test]
    fn bad_input_is_refused_with_what_to_fix() {
        let mut i = input("100", &[]);
        i.timezone = "Mars/Olympus".into();
        assert!(validate(&i).unwrap_err().to_string().contains("timezone"));
        let mut i = input("100", &[]);
        i.business_day_start = Some("25:00".into());
        assert!(validate(&i)
            .unwrap_err()
            .to_string()
            .contains("business_day_start"));
        let mut i = input("100", &["1", "1"]);
        assert!(validate(&i).unwrap_err().to_string().contains("twice"));
        i.terminals.clear();
        let f = Field {
            number: "1".into(),
            name: "Sales".into(),
            field_type: FieldType::NetSales,
            hourly: true,
        };
        i.fields = vec![
            f.clone(),
            Field {
                number: "2".into(),
                ..f.clone()
            },
        ];
        assert!(validate(&i)
            .unwrap_err()
            .to_string()
            .contains("at most one field"));
        i.fields = vec![
            f.clone(),
            Field {
                field_type: FieldType::Returns,
                ..f
            },
        ];
        assert!(validate(&i).unwrap_err().to_string().contains("number `1`"));
    }
}
