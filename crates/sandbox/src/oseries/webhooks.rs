//! O-Series webhook delivery: JSON, signed `sha256=<hex HMAC-SHA256(secret, body)>`.

use crate::webhooks::{Body, Delivery};
use crate::world::Merchant;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `check.closed` (or `check.updated` for a void) for the given checks to every subscription.
pub(crate) fn check_events(m: &mut Merchant, checks: &[usize]) -> Vec<Delivery> {
    let mut out = Vec::new();
    for &i in checks {
        let s = &m.sales[i];
        let event = if s.voided_at.is_some() {
            "check.updated"
        } else {
            "check.closed"
        };
        let updated = s.voided_at.unwrap_or(s.closed);
        let (check_id, location_id) = (s.uid.clone(), m.locations[s.location].uid.clone());
        for (_, url, secret) in m.o_webhooks.clone() {
            let delivery = crate::world::uid(&mut m.rng);
            let body = serde_json::json!({
                "id": delivery, "event": event, "created_at": chrono::Utc::now(),
                "data": { "check_id": check_id, "location_id": location_id, "updated_at": updated },
            })
            .to_string();
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(body.as_bytes());
            let signature: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            out.push(Delivery {
                url,
                headers: vec![
                    ("x-oseries-event".into(), event.into()),
                    ("x-oseries-delivery".into(), delivery),
                    ("x-oseries-signature".into(), format!("sha256={signature}")),
                ],
                body: Body::Json(body),
            });
        }
    }
    out
}
