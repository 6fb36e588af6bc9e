//! X-Series webhook delivery: `application/x-www-form-urlencoded` with a `payload` field holding
//! the JSON (API 1.0 shape), plus `type`, `domain_prefix` and `environment`. A failed delivery
//! is retried with growing delays (divided by the time scale), up to 20 attempts.

use super::render;
use crate::faults;
use crate::Sandbox;
use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 20;

struct Delivery {
    url: String,
    form: Vec<(String, String)>,
}

impl Sandbox {
    /// Sends `sale.update` for the given sales of merchant `merchant_id` to its active
    /// subscriptions, applying webhook faults (drop, duplicate, delay). Returns immediately.
    pub(crate) fn fire_sale_webhooks(&self, merchant_id: &str, sales: &[usize]) {
        let scale = self.time_scale();
        let (deliveries, effect) = self.with_world(|w| {
            let effect = faults::apply_webhook(&mut w.faults, merchant_id);
            let Some(m) = w.merchants.get(merchant_id).filter(|m| m.series == "x") else {
                return (Vec::new(), effect);
            };
            let mut out = Vec::new();
            for hook in m
                .webhooks
                .iter()
                .filter(|h| h.active && h.kind == "sale.update")
            {
                for &i in sales {
                    let payload = render::sale_v1(m, i).to_string();
                    out.push(Delivery {
                        url: hook.url.clone(),
                        form: vec![
                            ("payload".into(), payload),
                            ("type".into(), "sale.update".into()),
                            ("domain_prefix".into(), m.domain_prefix.clone()),
                            ("environment".into(), "sandbox".into()),
                        ],
                    });
                }
            }
            if effect.drop {
                w.stats.webhooks_failed += out.len() as u64;
                out.clear();
            }
            (out, effect)
        });
        for d in deliveries {
            let copies = if effect.duplicate { 2 } else { 1 };
            for _ in 0..copies {
                let sb = self.clone();
                let url = d.url.clone();
                let form = d.form.clone();
                let delay = effect.delay;
                tokio::spawn(async move { sb.deliver(url, form, delay, scale).await });
            }
        }
    }

    async fn deliver(&self, url: String, form: Vec<(String, String)>, delay: Duration, scale: f64) {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let mut wait = Duration::from_secs_f64(5.0 / scale);
        for attempt in 1..=MAX_ATTEMPTS {
            let ok = http
                .post(&url)
                .form(&form)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            self.with_world(|w| {
                if ok {
                    w.stats.webhooks_sent += 1;
                } else {
                    w.stats.webhooks_failed += 1;
                }
            });
            if ok || attempt == MAX_ATTEMPTS {
                return;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs_f64(3600.0 / scale));
        }
    }
}
