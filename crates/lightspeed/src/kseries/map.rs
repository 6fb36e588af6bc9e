//! K-Series sale records → `model::Order`.

use super::wire;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tillbridge_model::{
    basis_points, business_date, parse_minor, BusinessDayStart, Email, Order, OrderKind, OrderLine,
    OrderStatus, Payment, Quantity, Series,
};

/// What the mapping needs to know about the location the sale belongs to.
#[derive(Clone, Debug)]
pub struct MapContext {
    pub business_location_id: String,
    pub zone: Tz,
    pub day_start: BusinessDayStart,
    pub currency: String,
}

#[derive(Debug)]
pub enum Mapped {
    Order(Box<Order>),
    /// A record that is not a sale, refund or void (splits, transfers, floats, …).
    Skipped {
        id: String,
        sale_type: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sale `{sale}`: {detail}")]
pub struct MapError {
    pub sale: String,
    pub detail: String,
}

fn instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

pub fn map_sale(sale: &wire::Sale, ctx: &MapContext) -> Result<Mapped, MapError> {
    let id = sale.account_fisc_id.clone().filter(|s| !s.is_empty());
    let err = |detail: String| MapError {
        sale: id.clone().unwrap_or_else(|| "<no accountFiscId>".into()),
        detail,
    };
    let Some(external_id) = id.clone() else {
        return Err(err("the record has no `accountFiscId`".into()));
    };
    let raw_type = sale.sale_type.clone().unwrap_or_else(|| "SALE".into());
    let kind = match raw_type.as_str() {
        "SALE" => OrderKind::Sale,
        "REFUND" => OrderKind::Refund,
        "VOID" => OrderKind::Void,
        _ => {
            return Ok(Mapped::Skipped {
                id: external_id,
                sale_type: raw_type,
            })
        }
    };
    let closed_raw = sale
        .timeof_close_and_paid
        .as_deref()
        .or(sale.time_closed.as_deref())
        .ok_or_else(|| {
            err("the record has no closing time (`timeofCloseAndPaid`/`timeClosed`)".into())
        })?;
    let closed_at = instant(closed_raw).ok_or_else(|| {
        err(format!(
            "closing time `{closed_raw}` is not an ISO-8601 instant"
        ))
    })?;
    let opened_at = sale
        .timeof_opening
        .as_deref()
        .or(sale.time_of_opening.as_deref())
        .and_then(instant);

    let money = |field: &str, value: &Option<wire::Amount>| -> Result<i64, MapError> {
        match value {
            None => Ok(0),
            Some(a) => parse_minor(&a.as_text(), 2).map_err(|e| err(format!("`{field}`: {e}"))),
        }
    };
    let mut lines = Vec::with_capacity(sale.sales_lines.len());
    let mut currency = None;
    for (i, l) in sale.sales_lines.iter().enumerate() {
        let quantity = match &l.quantity {
            Some(q) => Quantity::parse(&q.as_text())
                .map_err(|e| err(format!("line {i} `quantity`: {e}")))?,
            None => Quantity::from_units(1),
        };
        let category = l
            .categories
            .as_ref()
            .and_then(|cats| cats.iter().find_map(|c| c.value.clone()))
            .or_else(|| l.accounting_group.as_ref().and_then(|g| g.name.clone()));
        let discount = match &l.total_discount_amount {
            Some(_) => money("totalDiscountAmount", &l.total_discount_amount)?,
            None => {
                money("discountAmount", &l.discount_amount)?
                    + money("accountDiscountAmount", &l.account_discount_amount)?
            }
        };
        if currency.is_none() {
            currency = l.currency.clone();
        }
        lines.push(OrderLine {
            external_id: l
                .id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_else(|| format!("{external_id}#{i}")),
            parent_external_id: l.parent_line_id.as_ref().map(ToString::to_string),
            sku: l.sku.clone().filter(|s| !s.is_empty()),
            name: l
                .name_override
                .clone()
                .or_else(|| l.name.clone())
                .unwrap_or_default(),
            category,
            category_id: l
                .accounting_group
                .as_ref()
                .and_then(|g| g.accounting_group_id.as_ref())
                .map(ToString::to_string),
            quantity,
            unit_price_minor: money("menuListPrice", &l.menu_list_price)?,
            discount_minor: discount,
            tax_minor: money("taxAmount", &l.tax_amount)?,
            total_minor: money("totalNetAmountWithTax", &l.total_net_amount_with_tax)?,
            net_minor: money("totalNetAmountWithoutTax", &l.total_net_amount_without_tax)?,
            // In a VOID record every line carries the reason and reverses the original; only
            // a line voided inside a sale is itself void.
            voided: l.void_reason.is_some() && kind == OrderKind::Sale,
            tax_rate_bp: l
                .tax_rate_percentage
                .as_ref()
                .and_then(|p| basis_points(&p.as_text(), true)),
        });
    }
    let mut payments = Vec::with_capacity(sale.payments.len());
    let mut customer = None;
    for p in &sale.payments {
        let amount = money("netAmountWithTax", &p.net_amount_with_tax)?;
        let tip = money("tip", &p.tip)?;
        payments.push(Payment {
            method_code: p.code.clone().unwrap_or_default(),
            method_name: p.description.clone(),
            amount_minor: amount + tip,
            tip_minor: tip,
        });
        if customer.is_none() {
            customer = p.consumer.clone();
        }
        if currency.is_none() {
            currency = p.currency.clone();
        }
    }
    let covers = match &sale.nb_covers {
        Some(c) => Some(c.as_text().parse::<i32>().map_err(|_| {
            err(format!(
                "`nbCovers` `{}` is not a whole number",
                c.as_text()
            ))
        })?),
        None => None,
    };
    let customer_name = customer.as_ref().and_then(|c| {
        let name = [c.first_name.as_deref(), c.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        (!name.is_empty()).then_some(name)
    });
    let status = if sale.cancelled == Some(true) && kind == OrderKind::Sale {
        OrderStatus::Cancelled
    } else {
        OrderStatus::Closed
    };
    let original = match kind {
        OrderKind::Sale => None,
        _ => sale
            .source
            .as_ref()
            .and_then(|s| {
                s.initial_account_id
                    .as_ref()
                    .or(s.previous_account_id.as_ref())
            })
            .map(ToString::to_string),
    };
    Ok(Mapped::Order(Box::new(Order {
        series: Series::K,
        external_id,
        kind,
        original_external_id: original,
        status,
        external_location_id: ctx.business_location_id.clone(),
        register_id: sale.device_id.as_ref().map(ToString::to_string),
        register_name: sale.device_name.clone(),
        opened_at,
        closed_at,
        business_date: Some(business_date(closed_at, ctx.zone, ctx.day_start)),
        currency: currency.unwrap_or_else(|| ctx.currency.clone()),
        total_minor: lines
            .iter()
            .filter(|l| !l.voided)
            .map(|l| l.total_minor)
            .sum(),
        tax_minor: lines
            .iter()
            .filter(|l| !l.voided)
            .map(|l| l.tax_minor)
            .sum(),
        discount_minor: lines
            .iter()
            .filter(|l| !l.voided)
            .map(|l| l.discount_minor)
            .sum(),
        tip_minor: payments.iter().map(|p| p.tip_minor).sum(),
        lines,
        payments,
        covers,
        customer_email: Email::parse_lenient(customer.as_ref().and_then(|c| c.email.as_deref())),
        customer_ref: customer.as_ref().and_then(|c| {
            c.id.clone()
                .or_else(|| c.customer_id.as_ref().map(ToString::to_string))
        }),
        customer_name,
        table: sale.table_number.as_ref().map(ToString::to_string),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MapContext {
        MapContext {
            business_location_id: "45454565682155".into(),
            zone: "Europe/Amsterdam".parse().unwrap(),
            day_start: BusinessDayStart::default(),
            currency: "EUR".into(),
        }
    }

    const SALE: &str = r#"{
        "accountFiscId": "A65315.17", "type": "REFUND",
        "source": {"initialAccountId": "A65315.12", "previousAccountId": "A65315.12"},
        "timeofCloseAndPaid": "2023-07-28T09:15:02.123+0000",
        "nbCovers": 2, "tableNumber": "7",
        "salesLines": [{"id": "S1.1", "totalNetAmountWithTax": "-3.60", "totalNetAmountWithoutTax": "-3.3028",
            "taxAmount": "-0.2972", "taxRatePercentage": "9.00", "menuListPrice": 3.6, "quantity": "-1", "sku": "H002", "name": "Cappuccino",
            "accountingGroup": {"accountingGroupId": 12, "name": "Hot Drinks", "statisticGroup": "[{\"category\":\"default\",\"value\":\"Hot Drinks\"}]"},
            "categories": [{"category": "default", "value": "Hot Drinks"}]}],
        "payments": [{"code": "CARD", "netAmountWithTax": "-3.60", "tip": "0.00",
            "consumer": {"id": "c-1", "email": " Anna.Berg@Example.com ", "firstName": "Anna"}}]
    }"#;

    #[test]
    fn maps_a_refund_with_its_quirks() {
        let sale: wire::Sale = serde_json::from_str(SALE).unwrap();
        let Mapped::Order(o) = map_sale(&sale, &ctx()).unwrap() else {
            panic!("skipped")
        };
        assert_eq!(o.kind, OrderKind::Refund);
        assert_eq!(o.original_external_id.as_deref(), Some("A65315.12"));
        assert_eq!(o.total_minor, -360);
        assert_eq!(o.tax_minor, -30);
        assert_eq!(o.lines[0].net_minor, -330);
        assert_eq!(o.lines[0].unit_price_minor, 360);
        assert_eq!(o.lines[0].category.as_deref(), Some("Hot Drinks"));
        assert_eq!(o.lines[0].tax_rate_bp, Some(900));
        assert_eq!(o.lines[0].quantity, Quantity(-1000));
        assert_eq!(
            o.customer_email.as_ref().map(|e| e.as_str()),
            Some("anna.berg@example.com")
        );
        assert_eq!(o.covers, Some(2));
        assert_eq!(o.business_date.unwrap().to_string(), "2023-07-28");
    }

    #[test]
    fn bad_amounts_are_clear_errors() {
        let broken = SALE.replace(
            "\"-3.60\", \"totalNetAmountWithoutTax\"",
            "\"12,50\", \"totalNetAmountWithoutTax\"",
        );
        let sale: wire::Sale = serde_json::from_str(&broken).unwrap();
        let e = map_sale(&sale, &ctx()).unwrap_err();
        assert_eq!(e.sale, "A65315.17");
        assert!(e.to_string().contains("totalNetAmountWithTax"), "{e}");
    }

    #[test]
    fn voided_lines_count_only_as_reversals() {
        let voided_in_sale = SALE.replace("\"REFUND\"", "\"SALE\"").replace(
            "\"sku\": \"H002\"",
            "\"sku\": \"H002\", \"voidReason\": \"Taste\"",
        );
        let sale: wire::Sale = serde_json::from_str(&voided_in_sale).unwrap();
        let Mapped::Order(o) = map_sale(&sale, &ctx()).unwrap() else {
            panic!("skipped")
        };
        assert!(o.lines[0].voided);
        assert_eq!(o.total_minor, 0, "a voided line is not part of the sale");
        let void_record = SALE.replace("\"REFUND\"", "\"VOID\"").replace(
            "\"sku\": \"H002\"",
            "\"sku\": \"H002\", \"voidReason\": \"Taste\"",
        );
        let sale: wire::Sale = serde_json::from_str(&void_record).unwrap();
        let Mapped::Order(o) = map_sale(&sale, &ctx()).unwrap() else {
            panic!("skipped")
        };
        assert_eq!(
            (o.kind, o.lines[0].voided, o.total_minor),
            (OrderKind::Void, false, -360)
        );
    }

    #[test]
    fn non_sales_are_skipped() {
        let raw = SALE.replace("\"REFUND\"", "\"FLOAT\"");
        let sale: wire::Sale = serde_json::from_str(&raw).unwrap();
        assert!(matches!(
            map_sale(&sale, &ctx()).unwrap(),
            Mapped::Skipped { .. }
        ));
    }
}
