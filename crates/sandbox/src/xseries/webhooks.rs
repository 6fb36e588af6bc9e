//! X-Series webhook delivery: `application/x-www-form-urlencoded` with a `payload` field holding
//! the JSON (API 1.0 shape), plus `type`, `domain_prefix` and `environment`.

use super::render;
use crate::webhooks::{Body, Delivery};
use crate::world::Merchant;
use serde_json::Value;

/// `sale.update` for the given sales to the store's active subscriptions.
pub(crate) fn sale_updates(m: &Merchant, sales: &[usize]) -> Vec<Delivery> {
    let payloads: Vec<Value> = sales.iter().map(|&i| render::sale_v1(m, i)).collect();
    updates(m, "sale.update", &payloads)
}

/// `product.update` for the given products (created, or deleted with `deleted_at` set). The
/// payload is the product as `GET /products` shows it; the reference does not give the 1.0
/// shape in detail, and the hub reads only its `id`.
pub(crate) fn product_updates(m: &Merchant, products: &[usize]) -> Vec<Delivery> {
    let payloads: Vec<Value> = products.iter().map(|&i| render::product(m, i)).collect();
    updates(m, "product.update", &payloads)
}

/// `inventory.update` for a product's stock at an outlet: its record, or with a `null` level
/// once the store no longer counts it there (`record` is then the id it had).
pub(crate) fn inventory_update(m: &Merchant, loc: usize, sku: &str, record: u64) -> Vec<Delivery> {
    let key = (loc, sku.to_owned());
    let payload = match m.availability.get(&key) {
        Some(stock) => render::inventory(m, &key, stock),
        None => render::inventory_record(m, &key, record, None),
    };
    updates(m, "inventory.update", &[payload])
}

/// One delivery per payload to each active subscription of `kind`.
fn updates(m: &Merchant, kind: &str, payloads: &[Value]) -> Vec<Delivery> {
    let mut out = Vec::new();
    for hook in m.webhooks.iter().filter(|h| h.active && h.kind == kind) {
        for payload in payloads {
            out.push(Delivery {
                url: hook.url.clone(),
                headers: Vec::new(),
                body: Body::Form(vec![
                    ("payload".into(), payload.to_string()),
                    ("type".into(), kind.into()),
                    ("domain_prefix".into(), m.domain_prefix.clone()),
                    ("environment".into(), "sandbox".into()),
                ]),
            });
        }
    }
    out
}
