//! Webhook delivery shared by the dialects: the webhook faults (drop, duplicate, delay,
//! reorder), retries with growing delays (divided by the time scale) up to [`MAX_ATTEMPTS`],
//! and delivery statistics. Each dialect only decides what to send where.

use crate::faults;
use crate::world::World;
use crate::Sandbox;
use std::sync::Arc;
use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 20;

/// How far apart the deliveries of a reordered batch are sent (newest first).
const REORDER_STEP: Duration = Duration::from_millis(150);

pub enum Body {
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// `application/json`, sent byte for byte (signatures cover these bytes).
    Json(String),
}

/// One webhook request; retries and duplicates resend it unchanged.
pub struct Delivery {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Sandbox {
    /// Builds a merchant's deliveries under the world lock, applies that merchant's webhook
    /// faults to the batch (only when there is something to send), and sends them in the
    /// background. Returns immediately.
    pub(crate) fn send_webhooks(
        &self,
        merchant_id: &str,
        build: impl FnOnce(&mut World) -> Vec<Delivery>,
    ) {
        let scale = self.time_scale();
        let (deliveries, effect) = self.with_world(|w| {
            let mut out = build(w);
            if out.is_empty() {
                return (out, faults::WebhookEffect::default());
            }
            let effect = faults::apply_webhook(&mut w.faults, merchant_id);
            if effect.drop {
                w.stats.webhooks_failed += out.len() as u64;
                out.clear();
            }
            (out, effect)
        });
        let n = deliveries.len();
        for (i, d) in deliveries.into_iter().enumerate() {
            let mut delay = effect.delay;
            if effect.reorder {
                delay += REORDER_STEP * (n - 1 - i) as u32;
            }
            let d = Arc::new(d);
            for _ in 0..if effect.duplicate { 2 } else { 1 } {
                let (sb, d) = (self.clone(), d.clone());
                tokio::spawn(async move { sb.deliver(&d, delay, scale).await });
            }
        }
    }

    async fn deliver(&self, d: &Delivery, delay: Duration, scale: f64) {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let mut wait = Duration::from_secs_f64(5.0 / scale);
        for attempt in 1..=MAX_ATTEMPTS {
            let mut request = http.post(&d.url);
            for (name, value) in &d.headers {
                request = request.header(name, value);
            }
            request = match &d.body {
                Body::Form(form) => request.form(form),
                Body::Json(text) => request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(text.clone()),
            };
            let ok = request.send().await.is_ok_and(|r| r.status().is_success());
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
