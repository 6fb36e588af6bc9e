//! X-Series sales → `model::Order`. Line items carry no category: it comes from the product
//! catalog, and the customer's e-mail from the customer list, both looked up in caches the
//! caller keeps (never one request per line).

use super::wire;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;
use tillbridge_model::{
    business_date, parse_minor, rescale_half_even, BusinessDayStart, Email, Order, OrderKind,
    OrderLine, OrderStatus, Payment, Quantity, Series,
};

#[derive(Clone, Debug, Default)]
pub struct ProductInfo {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub category_id: Option<String>,
    pub category: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct CustomerInfo {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// What the mapping needs: the outlet's zone and currency, and the catalog caches.
pub struct MapContext<'a> {
    pub zone: Tz,
    pub day_start: BusinessDayStart,
    pub currency: String,
    pub products: &'a HashMap<String, ProductInfo>,
    pub customers: &'a HashMap<String, CustomerInfo>,
    /// Basis points by tax id ([`tax_rates`]); a line whose tax is not here has no rate.
    pub tax_rates: &'a HashMap<String, i64>,
}

/// Each tax's rate in basis points (900 = 9 %): the sum of its rates, as a compound tax adds
/// them. A tax with a rate that is not a decimal is left out, so its lines have no rate.
pub fn tax_rates(taxes: &[wire::Tax]) -> HashMap<String, i64> {
    taxes
        .iter()
        .filter_map(|t| {
            let bp = t.rates.iter().try_fold(0i64, |sum, r| {
                let bp = tillbridge_model::basis_points(&r.rate.as_ref()?.as_text(), false)?;
                sum.checked_add(bp)
            })?;
            Some((t.id.clone(), bp))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sale `{sale}`: {detail}")]
pub struct MapError {
    pub sale: String,
    pub detail: String,
}

fn instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
}

pub fn map_sale(sale: &wire::Sale, ctx: &MapContext<'_>) -> Result<Order, MapError> {
    let err = |detail: String| MapError {
        sale: sale.id.clone(),
        detail,
    };
    let at4 = |field: &str, v: &Option<wire::Amount>| -> Result<i64, MapError> {
        match v {
            None => Ok(0),
            Some(a) => parse_minor(&a.as_text(), 4).map_err(|e| err(format!("`{field}`: {e}"))),
        }
    };
    let status_raw = sale.status.clone().unwrap_or_else(|| "CLOSED".into());
    let voided = status_raw == "VOIDED";
    let status = if voided {
        OrderStatus::Cancelled
    } else if super::CLOSED_STATUSES.contains(&status_raw.as_str()) {
        OrderStatus::Closed
    } else {
        OrderStatus::Open
    };
    let date_raw = sale
        .sale_date
        .as_deref()
        .ok_or_else(|| err("the sale has no `sale_date`".into()))?;
    let closed_at = instant(date_raw).ok_or_else(|| {
        err(format!(
            "`sale_date` `{date_raw}` is not an ISO-8601 instant"
        ))
    })?;
    let mut lines = Vec::with_capacity(sale.line_items.len());
    for (i, l) in sale.line_items.iter().enumerate() {
        let quantity = match &l.quantity {
            Some(q) => Quantity::parse(&q.as_text())
                .map_err(|e| err(format!("line {i} `quantity`: {e}")))?,
            None => Quantity::from_units(1),
        };
        let net = at4("price_total", &l.price_total)?;
        let tax = at4("tax_total", &l.tax_total)?;
        let total = rescale_half_even(net + tax, 4, 2);
        let product = l
            .product_id
            .as_ref()
            .and_then(|p| ctx.products.get(p))
            .cloned()
            .unwrap_or_default();
        let units = quantity.milli().abs().max(1);
        lines.push(OrderLine {
            external_id: l.id.clone().unwrap_or_else(|| format!("{}#{i}", sale.id)),
            parent_external_id: None,
            sku: product.sku,
            name: product.name.unwrap_or_default(),
            category: product.category,
            category_id: product.category_id,
            quantity,
            unit_price_minor: total.abs() * Quantity::SCALE / units,
            discount_minor: discount_with_tax(at4("discount_total", &l.discount_total)?, net, tax),
            tax_minor: rescale_half_even(tax, 4, 2),
            total_minor: total,
            net_minor: rescale_half_even(net, 4, 2),
            voided: voided || l.status.as_deref() == Some("VOIDED"),
            tax_rate_bp: l
                .tax_id
                .as_ref()
                .and_then(|t| ctx.tax_rates.get(t))
                .copied(),
        });
    }
    // A sale voided in place gave its payments back: like its lines, they count nothing.
    let payments = sale
        .payments
        .iter()
        .filter(|_| !voided)
        .map(|p| {
            let amount = p
                .amount
                .as_ref()
                .map(|a| parse_minor(&a.as_text(), 2))
                .transpose()
                .map_err(|e| err(format!("payment `amount`: {e}")))?;
            Ok(Payment {
                method_code: p.retailer_payment_type_id.clone().unwrap_or_default(),
                method_name: p.name.clone(),
                amount_minor: amount.unwrap_or(0),
                tip_minor: 0,
            })
        })
        .collect::<Result<Vec<_>, MapError>>()?;
    let customer = sale.customer_id.as_ref().and_then(|c| ctx.customers.get(c));
    let kind = if sale.return_for.is_some() {
        OrderKind::Refund
    } else {
        OrderKind::Sale
    };
    let active = |l: &&OrderLine| !l.voided;
    Ok(Order {
        series: Series::X,
        external_id: sale.id.clone(),
        kind,
        original_external_id: sale.return_for.clone(),
        status,
        external_location_id: sale.outlet_id.clone().unwrap_or_default(),
        register_id: sale.register_id.clone(),
        register_name: None,
        opened_at: sale.created_at.as_deref().and_then(instant),
        closed_at,
        business_date: Some(business_date(closed_at, ctx.zone, ctx.day_start)),
        currency: ctx.currency.clone(),
        total_minor: lines.iter().filter(active).map(|l| l.total_minor).sum(),
        tax_minor: lines.iter().filter(active).map(|l| l.tax_minor).sum(),
        discount_minor: lines.iter().filter(active).map(|l| l.discount_minor).sum(),
        tip_minor: 0,
        lines,
        payments,
        covers: None,
        customer_email: Email::parse_lenient(customer.and_then(|c| c.email.as_deref())),
        customer_ref: sale.customer_id.clone(),
        customer_name: customer.and_then(|c| c.name.clone()),
        table: None,
    })
}

/// X-Series line amounts are tax-exclusive; the unified line's discount is on the same basis as
/// its total (tax included), so the discount is grossed up by the line's own tax ratio and
/// rounded half to even to cents once. A line with nothing left to tax (a 100% discount) keeps
/// the discount as sent.
fn discount_with_tax(discount_4: i64, net_4: i64, tax_4: i64) -> i64 {
    // To the nearest ten-thousandth (half away from zero), then once to cents.
    let grossed = tillbridge_model::sales::scale_half_away(discount_4, net_4 + tax_4, net_4);
    rescale_half_even(grossed, 4, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALE: &str = r#"{"id": "s-1", "outlet_id": "o-1", "customer_id": "c-1", "status": "CLOSED", "return_for": null,
        "sale_date": "2026-03-01T12:30:00+00:00", "total_price": 6.4220, "total_tax": 0.5780, "version": 7,
        "line_items": [{"id": "l-1", "product_id": "p-1", "quantity": 2, "price_total": 6.4220, "tax_total": 0.5780, "discount_total": 0, "status": "CONFIRMED"}],
        "payments": [{"name": "Card", "retailer_payment_type_id": "pt-1", "amount": 7.00}]}"#;

    fn caches() -> (HashMap<String, ProductInfo>, HashMap<String, CustomerInfo>) {
        let products = HashMap::from([(
            "p-1".to_owned(),
            ProductInfo {
                sku: Some("A1".into()),
                name: Some("Latte".into()),
                category_id: Some("cat-1".into()),
                category: Some("Hot Drinks".into()),
            },
        )]);
        let customers = HashMap::from([(
            "c-1".to_owned(),
            CustomerInfo {
                email: Some(" Anna@Example.COM".into()),
                name: None,
            },
        )]);
        (products, customers)
    }

    fn ctx<'a>(
        zone: &str,
        products: &'a HashMap<String, ProductInfo>,
        customers: &'a HashMap<String, CustomerInfo>,
        tax_rates: &'a HashMap<String, i64>,
    ) -> MapContext<'a> {
        MapContext {
            zone: zone.parse().unwrap(),
            day_start: BusinessDayStart::default(),
            currency: "EUR".into(),
            products,
            customers,
            tax_rates,
        }
    }

    #[test]
    fn joins_category_and_email_and_keeps_cents_exact() {
        let (products, customers) = caches();
        let no_taxes = HashMap::new();
        let ctx = ctx("Europe/Amsterdam", &products, &customers, &no_taxes);
        let sale: wire::Sale = serde_json::from_str(SALE).unwrap();
        let o = map_sale(&sale, &ctx).unwrap();
        assert_eq!((o.total_minor, o.tax_minor), (700, 58));
        assert_eq!(o.lines[0].category.as_deref(), Some("Hot Drinks"));
        assert_eq!(o.customer_email.unwrap().as_str(), "anna@example.com");
        assert_eq!(o.payments[0].amount_minor, 700);
    }

    #[test]
    fn lines_take_their_tax_rate_from_the_stores_taxes() {
        let taxes: Vec<wire::Tax> = serde_json::from_str(
            r#"[{"id": "t-vat", "name": "VAT", "rates": [{"id": "r-1", "name": "VAT", "rate": 0.09, "display_name": "VAT"}], "deleted_at": null},
                {"id": "t-both", "name": "GST+PST", "rates": [{"id": "r-2", "rate": 0.05}, {"id": "r-3", "rate": "0.07"}]},
                {"id": "t-none", "name": "No Tax", "rates": [{"id": "r-4", "rate": 0}]},
                {"id": "t-odd", "name": "Odd", "rates": [{"id": "r-5", "rate": 0.08875}]},
                {"id": "t-bad", "name": "Bad", "rates": [{"id": "r-6", "rate": "n/a"}]}]"#,
        )
        .unwrap();
        let rates = tax_rates(&taxes);
        assert_eq!(rates.get("t-vat"), Some(&900));
        assert_eq!(
            rates.get("t-both"),
            Some(&1200),
            "a compound tax adds its rates"
        );
        assert_eq!(rates.get("t-none"), Some(&0));
        assert_eq!(
            rates.get("t-odd"),
            Some(&888),
            "half to even at a basis point"
        );
        assert_eq!(rates.get("t-bad"), None);
        let (products, customers) = caches();
        let ctx = ctx("UTC", &products, &customers, &rates);
        let with = SALE.replace(
            "\"tax_total\": 0.5780,",
            "\"tax_total\": 0.5780, \"tax_id\": \"t-vat\",",
        );
        let sale: wire::Sale = serde_json::from_str(&with).unwrap();
        assert_eq!(
            map_sale(&sale, &ctx).unwrap().lines[0].tax_rate_bp,
            Some(900)
        );
        let unknown: wire::Sale = serde_json::from_str(&with.replace("t-vat", "t-gone")).unwrap();
        assert_eq!(map_sale(&unknown, &ctx).unwrap().lines[0].tax_rate_bp, None);
    }

    #[test]
    fn voided_sales_keep_their_lines_but_count_nothing() {
        let (products, customers) = caches();
        let no_taxes = HashMap::new();
        let ctx = ctx("UTC", &products, &customers, &no_taxes);
        let sale: wire::Sale =
            serde_json::from_str(&SALE.replace("\"CLOSED\"", "\"VOIDED\"")).unwrap();
        let o = map_sale(&sale, &ctx).unwrap();
        assert_eq!(
            (o.status, o.total_minor, o.lines[0].voided),
            (OrderStatus::Cancelled, 0, true)
        );
        assert!(o.payments.is_empty(), "its payments were given back");
        let refund: wire::Sale =
            serde_json::from_str(&SALE.replace("\"return_for\": null", "\"return_for\": \"s-0\""))
                .unwrap();
        assert_eq!(map_sale(&refund, &ctx).unwrap().kind, OrderKind::Refund);
    }

    #[test]
    fn a_variant_is_named_by_its_variant_name_and_null_options_read_as_none() {
        let plain: wire::Product = serde_json::from_str(
            r#"{"id": "p-1", "name": "Cap", "variant_name": null, "variant_options": null, "has_variants": false}"#,
        )
        .unwrap();
        assert_eq!(plain.display_name(), Some("Cap"));
        assert!(plain.variant_options.is_none());
        let child: wire::Product = serde_json::from_str(
            r#"{"id": "p-2", "name": "T-Shirt", "variant_name": "T-Shirt / M", "has_variants": true,
                "variant_parent_id": "p-0", "variant_options": [{"name": "Size", "value": "M"}]}"#,
        )
        .unwrap();
        assert_eq!(child.display_name(), Some("T-Shirt / M"));
        assert_eq!(
            child.variant_options.unwrap()[0].value.as_deref(),
            Some("M")
        );
    }

    #[test]
    fn discounts_are_grossed_up_to_the_tax_inclusive_basis() {
        // 10% off 6.40 at 9% VAT: 0.64 off including tax, 0.5871 off as X sends it.
        assert_eq!(super::discount_with_tax(5871, 52844, 4756), 64);
        assert_eq!(super::discount_with_tax(-5871, -52844, -4756), -64);
        assert_eq!(super::discount_with_tax(5871, 0, 0), 59);
        assert_eq!(super::discount_with_tax(0, 52844, 4756), 0);
    }
}
