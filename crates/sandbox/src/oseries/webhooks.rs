//! O-Series webhook delivery: JSON, signed `sha256=<hex HMAC-SHA256(secret, body)>`, retried.

use crate::faults;
use crate::Sandbox;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

impl Sandbox {
    /// Sends `check.closed` (or `check.updated` for a void) for the given checks of an O-Series
    /// merchant to every subscription. Returns immediately.
    pub(crate) fn fire_check_webhooks(&self, merchant_id: &str, checks: &[usize]) {
        let scale = self.time_scale();
        let (deliveries, effect) = self.with_world(|w| {
            let effect = faults::apply_webhook(&mut w.faults, merchant_id);
            let Some(m) = w.merchants.get_mut(merchant_id).filter(|m| m.series == "o") else { return (Vec::new(), effect) };
            let mut out = Vec::new();
            for &i in checks {
                let s = &m.sales[i];
                let event = if s.voided_at.is_some() { "check.updated" } else { "check.closed" };
                let updated = s.voided_at.unwrap_or(s.closed);
                let (check_id, location_id) = (s.uid.clone(), m.locations[s.location].uid.clone());
                for (_, url, secret) in m.o_webhooks.clone() {
                    let delivery = crate::world::uid(&mut m.rng);
                    let body = serde_json::json!({ "id": delivery, "event": event, "created_at": chrono::Utc::now(),
                                                   "data": { "check_id": check_id, "location_id": location_id, "updated_at": updated } })
                    .to_string();
                    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
                    mac.update(body.as_bytes());
                    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
                    out.push((url, body, event, delivery, format!("sha256={signature}")));
                }
            }
            if effect.drop {
                w.stats.webhooks_failed += out.len() as u64;
                out.clear();
            }
            (out, effect)
        });
        for (url, body, event, delivery, signature) in deliveries {
            for _ in 0..if effect.duplicate { 2 } else { 1 } {
                let sb = self.clone();
                let (url, body, signature, delivery) = (
                    url.clone(),
                    body.clone(),
                    signature.clone(),
                    delivery.clone(),
                );
                let delay = effect.delay;
                tokio::spawn(async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let http = reqwest::Client::builder()
                        .timeout(Duration::from_secs(5))
                        .build()
                        .unwrap_or_default();
                    let mut wait = Duration::from_secs_f64(5.0 / scale);
                    for attempt in 1..=crate::xseries::webhooks::MAX_ATTEMPTS {
                        let ok = http
                            .post(&url)
                            .header("content-type", "application/json")
                            .header("x-oseries-event", event)
                            .header("x-oseries-delivery", &delivery)
                            .header("x-oseries-signature", &signature)
                            .body(body.clone())
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success());
                        sb.with_world(|w| {
                            if ok {
                                w.stats.webhooks_sent += 1
                            } else {
                                w.stats.webhooks_failed += 1
                            }
                        });
                        if ok || attempt == crate::xseries::webhooks::MAX_ATTEMPTS {
                            return;
                        }
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs_f64(3600.0 / scale));
                    }
                });
            }
        }
    }
}
