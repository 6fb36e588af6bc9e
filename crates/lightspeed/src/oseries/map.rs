//! O-Series checks → `model::Order`. Items carry their menu category; the customer carries
//! the e-mail; amounts are two-decimal strings with `total` including tax.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use tillbridge_model::{
    business_date, parse_minor, BusinessDayStart, Email, Order, OrderKind, OrderLine, OrderStatus,
    Payment, Quantity, Series,
};

pub struct MapContext {
    pub zone: Tz,
    pub day_start: BusinessDayStart,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check `{check}`: {detail}")]
pub struct MapError {
    pub check: String,
    pub detail: String,
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

pub fn map_check(v: &Value, ctx: &MapContext) -> Result<Order, MapError> {
    let id = str_of(v, "id")
        .ok_or_else(|| MapError {
            check: "<no id>".into(),
            detail: "the check has no id".into(),
        })?
        .to_owned();
    let err = |detail: String| MapError {
        check: id.clone(),
        detail,
    };
    let money = |obj: &Value, key: &str| -> Result<i64, MapError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::String(s)) => parse_minor(s, 2).map_err(|e| err(format!("`{key}`: {e}"))),
            Some(Value::Number(n)) => {
                parse_minor(&n.to_string(), 2).map_err(|e| err(format!("`{key}`: {e}")))
            }
            Some(other) => Err(err(format!("`{key}` is not an amount: {other}"))),
        }
    };
    let instant = |key: &str| {
        str_of(v, key)
            .and_then(|r| DateTime::parse_from_rfc3339(r).ok())
            .map(|d| d.with_timezone(&Utc))
    };
    let closed_at =
        instant("closed_at").ok_or_else(|| err("the check has no valid `closed_at`".into()))?;
    let voided = str_of(v, "status") == Some("voided");
    let mut lines = Vec::new();
    for (i, item) in v
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let quantity = match item.get("quantity") {
            Some(Value::Number(n)) => Quantity::parse(&n.to_string()),
            Some(Value::String(s)) => Quantity::parse(s),
            _ => Ok(Quantity::from_units(1)),
        }
        .map_err(|e| err(format!("item {i} `quantity`: {e}")))?;
        let total = money(item, "total")?;
        let tax = money(item, "tax")?;
        let category = item.get("category");
        lines.push(OrderLine {
            external_id: str_of(item, "id")
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{id}#{i}")),
            parent_external_id: None,
            sku: str_of(item, "sku").map(str::to_owned),
            name: str_of(item, "name").unwrap_or_default().to_owned(),
            category: category.and_then(|c| str_of(c, "name")).map(str::to_owned),
            category_id: category.and_then(|c| str_of(c, "id")).map(str::to_owned),
            quantity,
            unit_price_minor: money(item, "unit_price")?,
            discount_minor: money(item, "discount")?,
            tax_minor: tax,
            total_minor: total,
            net_minor: total - tax,
            voided,
            tax_rate_bp: None,
        });
    }
    let payments = v
        .get("payments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            Ok(Payment {
                method_code: str_of(p, "type").unwrap_or_default().to_owned(),
                method_name: None,
                amount_minor: money(p, "amount")? + money(p, "tip")?,
                tip_minor: money(p, "tip")?,
            })
        })
        .collect::<Result<Vec<_>, MapError>>()?;
    let customer = v.get("customer").filter(|c| c.is_object());
    let active = |l: &&OrderLine| !l.voided;
    let refund = str_of(v, "type") == Some("refund");
    Ok(Order {
        series: Series::O,
        external_id: id.clone(),
        kind: if refund {
            OrderKind::Refund
        } else {
            OrderKind::Sale
        },
        original_external_id: str_of(v, "refund_of").map(str::to_owned),
        status: if voided {
            OrderStatus::Cancelled
        } else {
            OrderStatus::Closed
        },
        external_location_id: str_of(v, "location_id").unwrap_or_default().to_owned(),
        register_id: str_of(v, "register_id").map(str::to_owned),
        register_name: None,
        opened_at: instant("opened_at"),
        closed_at,
        business_date: Some(business_date(closed_at, ctx.zone, ctx.day_start)),
        currency: ctx.currency.clone(),
        total_minor: lines.iter().filter(active).map(|l| l.total_minor).sum(),
        tax_minor: lines.iter().filter(active).map(|l| l.tax_minor).sum(),
        discount_minor: lines.iter().filter(active).map(|l| l.discount_minor).sum(),
        tip_minor: if voided {
            0
        } else {
            payments.iter().map(|p| p.tip_minor).sum()
        },
        lines,
        payments,
        covers: v
            .get("guest_count")
            .and_then(Value::as_i64)
            .map(|c| c as i32),
        customer_email: Email::parse_lenient(customer.and_then(|c| str_of(c, "email"))),
        customer_ref: customer.and_then(|c| str_of(c, "id")).map(str::to_owned),
        customer_name: customer
            .map(|c| {
                [str_of(c, "first_name"), str_of(c, "last_name")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|n| !n.is_empty()),
        table: str_of(v, "table").map(str::to_owned),
    })
}
