//! R-Series sales → `model::Order`. The sale date is `completeTime` (`timeStamp` is the last
//! change); the category comes from `SaleLines.Item.categoryID` through the category list; the
//! e-mail from `Customer.Contact.Emails.ContactEmail`; refund lines carry negative quantities.

use super::wire::{children, flag, text};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use std::collections::HashMap;
use tillbridge_model::{
    basis_points, business_date, parse_minor, BusinessDayStart, Email, Order, OrderKind, OrderLine,
    OrderStatus, Payment, Quantity, Series,
};

pub struct MapContext<'a> {
    pub zone: Tz,
    pub day_start: BusinessDayStart,
    pub currency: String,
    /// Category id → name.
    pub categories: &'a HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sale `{sale}`: {detail}")]
pub struct MapError {
    pub sale: String,
    pub detail: String,
}

fn instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

pub fn sale_id(v: &Value) -> Option<String> {
    text(v, "saleID")
}

pub fn map_sale(v: &Value, ctx: &MapContext<'_>) -> Result<Order, MapError> {
    let id = sale_id(v).ok_or_else(|| MapError {
        sale: "<no saleID>".into(),
        detail: "the sale has no saleID".into(),
    })?;
    let err = |detail: String| MapError {
        sale: id.clone(),
        detail,
    };
    let money = |obj: &Value, key: &str| -> Result<i64, MapError> {
        match text(obj, key) {
            None => Ok(0),
            Some(raw) => parse_minor(&raw, 2).map_err(|e| err(format!("`{key}`: {e}"))),
        }
    };
    let raw_time = text(v, "completeTime")
        .or_else(|| text(v, "timeStamp"))
        .ok_or_else(|| err("the sale has no completeTime".into()))?;
    let closed_at = instant(&raw_time).ok_or_else(|| {
        err(format!(
            "`completeTime` `{raw_time}` is not an ISO-8601 instant"
        ))
    })?;
    let voided = flag(v, "voided");
    let status = if voided {
        OrderStatus::Cancelled
    } else if flag(v, "completed") {
        OrderStatus::Closed
    } else {
        OrderStatus::Open
    };
    // The sale's tax rates (`tax1Rate` "0.09") apply to its taxed lines; in basis points.
    let rate = |name: &str| text(v, name).and_then(|r| basis_points(&r, false));
    let sale_rate = match (rate("tax1Rate"), rate("tax2Rate")) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    let mut lines = Vec::new();
    for (i, l) in children(v, "SaleLines", "SaleLine").into_iter().enumerate() {
        let quantity = match text(l, "unitQuantity") {
            Some(q) => {
                Quantity::parse(&q).map_err(|e| err(format!("line {i} `unitQuantity`: {e}")))?
            }
            None => Quantity::from_units(1),
        };
        let item = l.get("Item").filter(|it| it.is_object());
        let category_id = item
            .and_then(|it| text(it, "categoryID"))
            .filter(|c| c != "0");
        let total = money(l, "calcTotal")?;
        let tax = money(l, "calcTax1")? + money(l, "calcTax2")?;
        lines.push(OrderLine {
            external_id: text(l, "saleLineID").unwrap_or_else(|| format!("{id}#{i}")),
            parent_external_id: text(l, "parentSaleLineID").filter(|p| p != "0"),
            sku: item.and_then(|it| text(it, "customSku").or_else(|| text(it, "systemSku"))),
            name: item
                .and_then(|it| text(it, "description"))
                .unwrap_or_default(),
            category: category_id
                .as_ref()
                .and_then(|c| ctx.categories.get(c).cloned()),
            category_id,
            quantity,
            unit_price_minor: money(l, "unitPrice")?,
            discount_minor: money(l, "calcLineDiscount")?,
            tax_minor: tax,
            total_minor: total,
            net_minor: money(l, "calcSubtotal")?,
            voided,
            tax_rate_bp: match text(l, "tax").as_deref() {
                Some("true") => sale_rate,
                Some("false") => Some(0),
                _ => None,
            },
        });
    }
    let payments = children(v, "SalePayments", "SalePayment")
        .into_iter()
        .map(|p| {
            Ok(Payment {
                method_code: text(p, "paymentTypeID").unwrap_or_default(),
                method_name: None,
                amount_minor: money(p, "amount")?,
                tip_minor: money(p, "tipAmount")?,
            })
        })
        .collect::<Result<Vec<_>, MapError>>()?;
    let customer = v.get("Customer").filter(|c| c.is_object());
    let emails = customer
        .and_then(|c| c.get("Contact"))
        .map(|contact| children(contact, "Emails", "ContactEmail"))
        .unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| text(e, "useType").as_deref() == Some("Primary"))
        .or(emails.first())
        .and_then(|e| text(e, "address"));
    let customer_name = customer
        .map(|c| {
            [text(c, "firstName"), text(c, "lastName")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|n| !n.is_empty());
    let kind = if !lines.is_empty() && lines.iter().all(|l| l.quantity.milli() < 0) {
        OrderKind::Refund
    } else {
        OrderKind::Sale
    };
    let active = |l: &&OrderLine| !l.voided;
    Ok(Order {
        series: Series::R,
        external_id: id.clone(),
        kind,
        original_external_id: None,
        status,
        external_location_id: text(v, "shopID").unwrap_or_default(),
        register_id: text(v, "registerID"),
        register_name: None,
        opened_at: text(v, "createTime").as_deref().and_then(instant),
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
        covers: None,
        customer_email: Email::parse_lenient(email.as_deref()),
        customer_ref: text(v, "customerID").filter(|c| c != "0"),
        customer_name,
        table: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_strings_and_single_children() {
        let categories = HashMap::from([("3".to_owned(), "Apparel".to_owned())]);
        let ctx = MapContext {
            zone: "America/New_York".parse().unwrap(),
            day_start: BusinessDayStart::default(),
            currency: "USD".into(),
            categories: &categories,
        };
        let sale = json!({
            "saleID": "42", "completed": "true", "voided": "false", "completeTime": "2026-03-01T15:00:00+00:00", "timeStamp": "2026-03-05T00:00:00+00:00",
            "shopID": "1", "customerID": "7", "tax1Rate": "0.08875", "tax2Rate": "0",
            "SaleLines": { "SaleLine": { "saleLineID": "9", "unitQuantity": "-1", "unitPrice": "19", "calcTotal": "-19", "calcTax1": "-1.57", "calcSubtotal": "-17.43", "tax": "true",
                                          "parentSaleLineID": "5", "Item": { "categoryID": "3", "customSku": "A1", "description": "T-Shirt" } } },
            "SalePayments": "",
            "Customer": { "firstName": "Ann", "lastName": "Lee", "Contact": { "Emails": { "ContactEmail": { "address": "Ann@Example.com", "useType": "Primary" } } } },
        });
        let o = map_sale(&sale, &ctx).unwrap();
        assert_eq!(
            (o.kind, o.total_minor, o.tax_minor),
            (OrderKind::Refund, -1900, -157)
        );
        assert_eq!(o.lines[0].category.as_deref(), Some("Apparel"));
        assert_eq!(o.lines[0].parent_external_id.as_deref(), Some("5"));
        assert_eq!(
            o.lines[0].tax_rate_bp,
            Some(888),
            "8.875 % to the basis point"
        );
        assert_eq!(o.customer_email.unwrap().as_str(), "ann@example.com");
        assert_eq!(
            o.closed_at.to_rfc3339(),
            "2026-03-01T15:00:00+00:00",
            "completeTime, not timeStamp"
        );
        assert_eq!(o.business_date.unwrap().to_string(), "2026-03-01");
    }

    #[test]
    fn voided_sales_count_nothing() {
        let categories = HashMap::new();
        let ctx = MapContext {
            zone: "UTC".parse().unwrap(),
            day_start: BusinessDayStart::default(),
            currency: "USD".into(),
            categories: &categories,
        };
        let sale = json!({ "saleID": "1", "voided": "true", "completed": "true", "completeTime": "2026-03-01T15:00:00+00:00",
                           "SaleLines": { "SaleLine": [{ "calcTotal": "5", "unitQuantity": "1" }, { "calcTotal": "7", "unitQuantity": "1" }] } });
        let o = map_sale(&sale, &ctx).unwrap();
        assert_eq!(
            (o.status, o.total_minor, o.lines.len()),
            (OrderStatus::Cancelled, 0, 2)
        );
    }
}
