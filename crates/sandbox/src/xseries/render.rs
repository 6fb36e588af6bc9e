//! X-Series objects as API 2.0 writes them: uuids, JSON-number amounts, tax-exclusive line and
//! sale totals, `+00:00` timestamps, and line items without categories.

use crate::generate::TAX_BASIS_POINTS;
use crate::wire::{cents, ten_thousandths};
use crate::world::Merchant;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// A JSON number with four decimals from ten-thousandths (never through binary floating point
/// arithmetic: the decimal text is parsed as the number).
pub fn num4(v: i64) -> Value {
    serde_json::from_str(&ten_thousandths(v)).unwrap_or(Value::Null)
}

pub fn num2(cents_value: i64) -> Value {
    serde_json::from_str(&cents(cents_value)).unwrap_or(Value::Null)
}

pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

pub fn tax_id(m: &Merchant) -> String {
    format!("{}-tax", &m.locations[0].uid[..8])
}

/// The id of the store's one tax rate (a line's `tax_components[].rate_id`).
pub fn tax_rate_id(m: &Merchant) -> String {
    format!("{}-rate", &m.locations[0].uid[..8])
}

/// The store's one tax as `GET /taxes` lists it: a tax with its rates (`0.09` is 9 %).
pub fn tax(m: &Merchant) -> Value {
    let rate = num4(crate::generate::TAX_BASIS_POINTS);
    json!({ "id": tax_id(m), "name": "VAT", "display_name": "VAT", "version": 1, "is_default": true, "deleted_at": null,
            "rates": [{ "id": tax_rate_id(m), "name": "VAT", "display_name": "VAT", "rate": rate }] })
}

pub fn outlet(m: &Merchant, i: usize) -> Value {
    let l = &m.locations[i];
    json!({ "id": l.uid, "name": l.name, "time_zone": l.zone.name(), "currency": m.currency, "display_prices": "inclusive", "deleted_at": null })
}

pub fn register(m: &Merchant, loc: usize, d: usize) -> Value {
    let dev = &m.locations[loc].devices[d];
    json!({ "id": dev.uid, "name": dev.name, "outlet_id": m.locations[loc].uid, "is_open": true, "deleted_at": null })
}

pub fn category(m: &Merchant, g: usize) -> Value {
    let c = &m.groups[g];
    json!({ "id": c.uid, "name": c.name, "root_category_id": c.uid, "parent_category_id": null, "leaf_category": true,
            "category_path": [{ "id": c.uid, "name": c.name }] })
}

/// A product. A variant family's products share its `name` and handle; each has its own
/// `variant_name` and `variant_options`, and all but the parent name it in `variant_parent_id`.
pub fn product(m: &Merchant, i: usize) -> Value {
    let p = &m.menu[i];
    let g = &m.groups[p.group];
    let excl_10k = p.price_cents * 100 - crate::generate::tax_included_10k(p.price_cents);
    let name = p.variant.as_ref().map_or(&p.name, |v| &v.family);
    let parent = p.variant.as_ref().map(|v| v.parent).filter(|&v| v != i);
    json!({
        "id": p.uid, "name": name, "handle": name.to_lowercase().replace(' ', "-"), "sku": p.sku, "source": "USER",
        "active": p.deleted_at.is_none(), "has_inventory": m.tracks_stock(&p.sku), "is_composite": false,
        "has_variants": p.variant.is_some(), "variant_parent_id": parent.map(|v| &m.menu[v].uid),
        "variant_name": p.variant.as_ref().map(|_| &p.name), "variant_count": m.family(i).len(),
        "variant_options": p.variant.iter().flat_map(|v| &v.options).map(|(name, value)| json!({ "name": name, "value": value })).collect::<Vec<_>>(),
        "price_including_tax": num2(p.price_cents), "price_excluding_tax": num4(excl_10k), "supply_price": num2(p.price_cents * 30 / 100),
        "product_type_id": g.uid, "brand_id": null, "supplier_id": null, "tag_ids": [],
        "categories": [{ "id": g.uid, "name": g.name }],
        "version": p.version, "deleted_at": p.deleted_at,
    })
}

/// The id of inventory record `n`.
fn inventory_id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// An inventory record: a product's stock at an outlet.
pub fn inventory(m: &Merchant, key: &(usize, String), stock: &crate::world::Stock) -> Value {
    inventory_record(m, key, stock.id, Some((stock.count, stock.version)))
}

/// Inventory record `id` of a product (`key`: outlet index and SKU) with its level and
/// version; both `null` once the store no longer counts it there.
pub fn inventory_record(
    m: &Merchant,
    key: &(usize, String),
    id: u64,
    counted: Option<(i64, u64)>,
) -> Value {
    let (loc, sku) = key;
    let product = m.menu.iter().find(|p| &p.sku == sku).map(|p| p.uid.clone());
    let (count, version) = (counted.map(|c| c.0), counted.map(|c| c.1));
    json!({
        "id": inventory_id(id),
        "product_id": product, "outlet_id": m.locations[*loc].uid,
        "inventory_level": count, "current_amount": count, "reorder_point": 0, "reorder_amount": 0,
        "version": version, "deleted_at": null,
    })
}

pub fn customer(m: &Merchant, i: usize) -> Value {
    let c = &m.customers[i];
    json!({
        "id": c.uuid, "customer_code": format!("C{}", c.customer_id), "first_name": c.first_name, "last_name": c.last_name,
        "email": c.email, "phone": null, "mobile": null, "company_name": null, "customer_group_id": null, "do_not_email": false,
        "balance": 0, "loyalty_balance": 0, "year_to_date": 0, "version": c.version, "deleted_at": null,
    })
}

/// The invoice number: the channel's reference for an online order.
pub fn invoice_number(m: &Merchant, index: usize) -> String {
    let s = &m.sales[index];
    match &s.online {
        Some(o) => o.reference.clone(),
        None => s.receipt_id.trim_start_matches('R').to_owned(),
    }
}

/// The sale status: `VOIDED`, an online order's `AWAITING_*` / `*_CLOSED`, else `CLOSED`.
pub fn status(m: &Merchant, index: usize) -> &'static str {
    let s = &m.sales[index];
    match &s.online {
        _ if s.voided_at.is_some() => "VOIDED",
        None => "CLOSED",
        Some(o) => match (o.dispatch, o.fulfilled) {
            (false, false) => "AWAITING_PICKUP",
            (true, false) => "AWAITING_DISPATCH",
            (false, true) => "PICKED_UP_CLOSED",
            (true, true) => "DISPATCHED_CLOSED",
        },
    }
}

pub fn sale(m: &Merchant, index: usize) -> Value {
    let s = &m.sales[index];
    let loc = &m.locations[s.location];
    let voided = s.voided_at.is_some();
    let tax_id = tax_id(m);
    let original = s
        .source
        .as_ref()
        .and_then(|fisc| m.sales.iter().find(|o| &o.fisc_id == fisc))
        .map(|o| o.uid.clone());
    let mut total_excl = 0i64;
    let mut total_tax = 0i64;
    let lines: Vec<Value> = s
        .lines
        .iter()
        .enumerate()
        .map(|(seq, l)| {
            let p = &m.menu[l.item];
            let excl = l.total_cents * 100 - l.tax_10k;
            if !voided {
                total_excl += excl;
                total_tax += l.tax_10k;
            }
            let q = l.quantity.max(1).max(-l.quantity);
            let discount_excl = l.discount_cents * 100 * 10_000 / (10_000 + TAX_BASIS_POINTS);
            json!({
                "id": l.uid, "product_id": p.uid, "tax_id": tax_id, "quantity": l.quantity,
                "price": num4(excl / q), "price_total": num4(excl), "cost": num2(p.price_cents * 30 / 100), "cost_total": num2(p.price_cents * 30 / 100 * l.quantity),
                "discount": num4(discount_excl / q), "discount_total": num4(discount_excl), "tax": num4(l.tax_10k / q), "tax_total": num4(l.tax_10k),
                "loyalty_value": 0, "price_set": false, "sequence": seq, "note": null,
                "status": if voided { "VOIDED" } else { "CONFIRMED" }, "is_return": l.quantity < 0, "salesperson_id": null,
                "tax_components": [{ "rate_id": tax_rate_id(m), "total_tax": num4(l.tax_10k) }],
                "unit_price": num4(excl / q), "total_price": num4(excl), "unit_tax": num4(l.tax_10k / q), "total_tax": num4(l.tax_10k),
            })
        })
        .collect();
    let payments: Vec<Value> = s
        .payments
        .iter()
        .map(|p| {
            let method = &m.payment_methods[p.method];
            json!({ "id": p.uuid, "register_id": loc.devices[s.device].uid, "outlet_id": loc.uid, "retailer_payment_type_id": method.uid,
                    "payment_type_id": method.id.to_string(), "name": method.name, "payment_date": time(s.closed), "amount": num2(p.amount_cents) })
        })
        .collect();
    let updated = s.voided_at.unwrap_or(s.closed);
    json!({
        "id": s.uid, "outlet_id": loc.uid, "register_id": loc.devices[s.device].uid, "user_id": format!("user-{}", s.device),
        "customer_id": s.customer.map(|c| m.customers[c].uuid.clone()),
        "invoice_number": invoice_number(m, index), "invoice_sequence": s.seq,
        "source": if s.online.is_some() { "ECOMMERCE" } else { "USER" }, "source_id": s.online.as_ref().map(|o| o.source.clone()),
        "status": status(m, index), "note": s.online.as_ref().and_then(|o| o.note.clone()).unwrap_or_default(), "short_code": &s.account_reference[..6.min(s.account_reference.len())],
        "return_for": original,
        "total_price": num4(total_excl), "total_tax": num4(total_tax), "total_loyalty": 0,
        "sale_date": time(s.closed), "created_at": time(s.opened), "updated_at": time(updated), "deleted_at": null,
        "version": s.version,
        "taxes": [{ "id": tax_id, "amount": num4(total_tax) }],
        "line_items": lines, "payments": payments, "adjustments": [], "attributes": [],
    })
}

/// The API 1.0 register-sale shape that `sale.update` webhooks carry.
pub fn sale_v1(m: &Merchant, index: usize) -> Value {
    let s = &m.sales[index];
    let v2 = sale(m, index);
    let customer = s.customer.map(|c| {
        let c = &m.customers[c];
        json!({ "id": c.uuid, "name": format!("{} {}", c.first_name, c.last_name), "first_name": c.first_name, "last_name": c.last_name, "email": c.email })
    });
    json!({
        "id": v2["id"], "register_id": v2["register_id"], "customer_id": v2["customer_id"], "customer": customer,
        "user_id": v2["user_id"], "sale_date": s.closed.format("%Y-%m-%d %H:%M:%S").to_string(), "status": v2["status"],
        "invoice_number": v2["invoice_number"], "return_for": v2["return_for"], "total_price": v2["total_price"], "total_tax": v2["total_tax"],
        "register_sale_products": v2["line_items"], "register_sale_payments": v2["payments"],
        "totals": { "total_price": v2["total_price"], "total_tax": v2["total_tax"] },
        "version": v2["version"],
    })
}
