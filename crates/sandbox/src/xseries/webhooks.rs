//! X-Series webhook delivery: `application/x-www-form-urlencoded` with a `payload` field holding
//! the JSON (API 1.0 shape), plus `type`, `domain_prefix` and `environment`.

use super::render;
use crate::webhooks::{Body, Delivery};
use crate::world::Merchant;

/// `sale.update` for the given sales to the store's active subscriptions.
pub(crate) fn sale_updates(m: &Merchant, sales: &[usize]) -> Vec<Delivery> {
    let mut out = Vec::new();
    for hook in m
        .webhooks
        .iter()
        .filter(|h| h.active && h.kind == "sale.update")
    {
        for &i in sales {
            out.push(Delivery {
                url: hook.url.clone(),
                headers: Vec::new(),
                body: Body::Form(vec![
                    ("payload".into(), render::sale_v1(m, i).to_string()),
                    ("type".into(), "sale.update".into()),
                    ("domain_prefix".into(), m.domain_prefix.clone()),
                    ("environment".into(), "sandbox".into()),
                ]),
            });
        }
    }
    out
}
