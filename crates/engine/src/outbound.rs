//! Outbound webhooks: the event log, pushed to the embedding app's endpoints as Standard
//! Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">` keyed with the endpoint's `whsec_` secret).
//!
//! The `webhooks` consumer reads each merchant's events from its own cursor and records one
//! delivery per matching endpoint in the same transaction, so an event is never lost nor
//! queued twice. Its background step sends the due deliveries: a 2xx marks one delivered;
//! anything else is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (±10 % jitter,
//! a `Retry-After` of up to an hour honoured), then given up. An endpoint that has failed
//! without a single success for five days is disabled and its pending deliveries stopped.
//! Every attempt is logged; a delivery can be sent again by hand. After a secret rotation the
//! previous secret keeps signing, beside the new one, for a day.
//!
//! Delivery is at least once: a crash between sending and recording the attempt sends the
//! delivery again, with the same `webhook-id`, which receivers deduplicate on.

use crate::consumers::{Consumer, ConsumerFuture};
use crate::error::EngineError;
use crate::ids::new_id;
use crate::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::{Duration, Instant};
use tillbridge_store::events::EventRow;
use tillbridge_store::outbound::{self as store, AttemptRow, DeliveryRow, EndpointRow};
use tillbridge_store::Tx;

pub use tillbridge_store::outbound::CONSUMER;

/// Delays after each failed attempt; the delivery fails after the last.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// An endpoint failing without a success for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);

/// How long a rotated-out secret keeps signing beside the new one.
pub const PREVIOUS_SECRET_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Deliveries sent per run of a merchant's job.
const BATCH: i64 = 100;

/// How long one attempt may take; a slower endpoint counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn aad(endpoint_id: &str) -> String {
    format!("webhook-endpoint/{endpoint_id}/secret")
}

/// A fresh `whsec_` secret: 24 random bytes, base64.
fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>` with a `whsec_` secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, EngineError> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| EngineError::Invalid("a webhook secret is not valid base64".into()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|_| EngineError::Invalid("a webhook secret cannot key HMAC".into()))?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// What an endpoint looks like through the API (never its secret).
#[derive(Clone, Debug, Serialize)]
pub struct EndpointView {
    pub id: String,
    /// `null`: the installation's endpoint, for every merchant.
    pub merchant_id: Option<String>,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<i64>,
    /// Until when the previous secret still signs (after a rotation).
    pub previous_secret_valid_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&EndpointRow> for EndpointView {
    fn from(e: &EndpointRow) -> Self {
        EndpointView {
            id: e.id.clone(),
            merchant_id: e.merchant_id.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since,
            previous_secret_valid_until: e.previous_valid_until,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its secret: only when it is created or its secret rotated.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    pub secret: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    pub url: String,
    /// The merchant whose events it receives; absent on an installation key: every merchant's.
    #[serde(default)]
    pub merchant_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub event_types: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// `true` re-enables a disabled endpoint (its failure streak starts again).
    #[serde(default)]
    pub enabled: Option<bool>,
}

fn check_url(url: &str) -> Result<(), EngineError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        EngineError::Invalid(format!(
            "`url` must be an absolute http or https URL ({e}), e.g. https://app.example/hooks/tillbridge"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(EngineError::Invalid(format!(
            "`url` must be an http or https URL with a host, not `{url}`"
        )));
    }
    if url.len() > 2000 {
        return Err(EngineError::Invalid(
            "`url` is longer than 2000 characters".into(),
        ));
    }
    Ok(())
}

fn check_types(types: &[String]) -> Result<(), EngineError> {
    if types.len() > 100 {
        return Err(EngineError::Invalid(
            "`event_types` takes at most 100 entries".into(),
        ));
    }
    for t in types {
        let name = t.strip_suffix('*').unwrap_or(t);
        let valid = !t.is_empty()
            && t.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
            && (name.is_empty() || !t.ends_with('*') || name.ends_with('.'));
        if !valid {
            return Err(EngineError::Invalid(format!(
                "`event_types`: `{t}` is neither an event type (`ordering.order_status`) nor a prefix pattern (`loyalty.*`, or `*` for all)"
            )));
        }
    }
    Ok(())
}

impl Engine {
    /// Creates an endpoint; the answer carries its secret, which is not shown again.
    pub async fn create_webhook_endpoint(
        &self,
        new: NewEndpoint,
    ) -> Result<EndpointWithSecret, EngineError> {
        check_url(&new.url)?;
        check_types(&new.event_types)?;
        if let Some(m) = &new.merchant_id {
            self.merchant(m).await?;
        }
        let id = new_id("whe");
        let secret = new_secret();
        let now = self.now_ms();
        let row = EndpointRow {
            secret_enc: self.vault().seal(&secret, &aad(&id)),
            id,
            merchant_id: new.merchant_id,
            url: new.url,
            description: new.description,
            event_types: new.event_types,
            previous_secret_enc: None,
            previous_valid_until: None,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        let mut c = self.conn().await?;
        store::insert_endpoint(&mut c, &row).await?;
        Ok(EndpointWithSecret {
            endpoint: EndpointView::from(&row),
            secret,
        })
    }

    /// The endpoints `owner` may see: every one for `None` (an installation key), a merchant's
    /// own for `Some`.
    pub async fn webhook_endpoints(
        &self,
        owner: Option<&str>,
    ) -> Result<Vec<EndpointView>, EngineError> {
        let mut c = self.conn().await?;
        Ok(store::list_endpoints(&mut c, owner)
            .await?
            .iter()
            .map(EndpointView::from)
            .collect())
    }

    async fn endpoint_row(
        &self,
        owner: Option<&str>,
        id: &str,
    ) -> Result<EndpointRow, EngineError> {
        let mut c = self.conn().await?;
        store::endpoint(&mut c, owner, id).await?.ok_or_else(|| {
            EngineError::NotFound(format!(
                "no webhook endpoint `{id}`: list them with GET /api/v1/webhook-endpoints"
            ))
        })
    }

    pub async fn webhook_endpoint(
        &self,
        owner: Option<&str>,
        id: &str,
    ) -> Result<EndpointView, EngineError> {
        Ok(EndpointView::from(&self.endpoint_row(owner, id).await?))
    }

    pub async fn update_webhook_endpoint(
        &self,
        owner: Option<&str>,
        id: &str,
        patch: EndpointPatch,
    ) -> Result<EndpointView, EngineError> {
        let mut row = self.endpoint_row(owner, id).await?;
        if let Some(url) = patch.url {
            check_url(&url)?;
            row.url = url;
        }
        if let Some(types) = patch.event_types {
            check_types(&types)?;
            row.event_types = types;
        }
        if let Some(d) = patch.description {
            row.description = Some(d);
        }
        match patch.enabled {
            Some(true) if !row.enabled => {
                row.enabled = true;
                row.disabled_reason = None;
                row.failing_since = None;
            }
            Some(false) if row.enabled => {
                row.enabled = false;
                row.disabled_reason = Some("disabled through the API".into());
            }
            _ => {}
        }
        row.updated_at = self.now_ms();
        let mut tx = self.store().begin().await?;
        store::update_endpoint(&mut tx, &row).await?;
        if !row.enabled {
            let reason = row.disabled_reason.clone().unwrap_or_default();
            store::fail_pending(
                &mut tx,
                &row.id,
                &format!("endpoint disabled: {reason}"),
                row.updated_at,
            )
            .await?;
        }
        tillbridge_store::commit(tx).await?;
        Ok(EndpointView::from(&row))
    }

    pub async fn delete_webhook_endpoint(
        &self,
        owner: Option<&str>,
        id: &str,
    ) -> Result<(), EngineError> {
        let row = self.endpoint_row(owner, id).await?;
        let mut tx = self.store().begin().await?;
        store::delete_endpoint(&mut tx, &row.id).await?;
        tillbridge_store::commit(tx).await?;
        Ok(())
    }

    /// A new secret; the previous one keeps signing beside it for a day, so receivers can
    /// switch without losing a delivery.
    pub async fn rotate_webhook_secret(
        &self,
        owner: Option<&str>,
        id: &str,
    ) -> Result<EndpointWithSecret, EngineError> {
        let mut row = self.endpoint_row(owner, id).await?;
        let secret = new_secret();
        let now = self.now_ms();
        row.previous_secret_enc = Some(row.secret_enc.clone());
        row.previous_valid_until = Some(now + ms(PREVIOUS_SECRET_GRACE));
        row.secret_enc = self.vault().seal(&secret, &aad(&row.id));
        row.updated_at = now;
        let mut c = self.conn().await?;
        store::update_endpoint(&mut c, &row).await?;
        Ok(EndpointWithSecret {
            endpoint: EndpointView::from(&row),
            secret,
        })
    }

    /// An endpoint's deliveries, newest first, each with its attempts.
    pub async fn webhook_deliveries(
        &self,
        owner: Option<&str>,
        id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryView>, EngineError> {
        if let Some(s) = status {
            if ![store::PENDING, store::DELIVERED, store::FAILED].contains(&s) {
                return Err(EngineError::Invalid(format!(
                    "`status` must be pending, delivered or failed, not `{s}`"
                )));
            }
        }
        if !(1..=500).contains(&limit) {
            return Err(EngineError::Invalid("`limit` must be 1 to 500".into()));
        }
        let row = self.endpoint_row(owner, id).await?;
        let mut c = self.conn().await?;
        let list = store::deliveries(&mut c, &row.id, status, limit).await?;
        let mut out = Vec::with_capacity(list.len());
        for d in list {
            let attempts = store::attempts(&mut c, &d.merchant_id, &d.id).await?;
            out.push(DeliveryView {
                delivery: d,
                attempts,
            });
        }
        Ok(out)
    }

    /// Sends a delivery again now, with a fresh retry schedule (delivered and failed ones too).
    pub async fn redeliver_webhook(
        &self,
        owner: Option<&str>,
        endpoint_id: &str,
        delivery_id: &str,
    ) -> Result<DeliveryView, EngineError> {
        let endpoint = self.endpoint_row(owner, endpoint_id).await?;
        if !endpoint.enabled {
            return Err(EngineError::Conflict(format!(
                "endpoint `{endpoint_id}` is disabled: re-enable it with PATCH {{\"enabled\": true}} first"
            )));
        }
        let mut c = self.conn().await?;
        let mut d = store::delivery(&mut c, endpoint_id, delivery_id)
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "endpoint `{endpoint_id}` has no delivery `{delivery_id}`"
                ))
            })?;
        let now = self.now_ms();
        d.status = store::PENDING.into();
        d.schedule_step = 0;
        d.next_attempt_at = Some(now);
        d.updated_at = now;
        let mut tx = self.store().begin().await?;
        store::update_delivery(&mut tx, &d).await?;
        tillbridge_store::jobs::wake_kind(
            &mut tx,
            &d.merchant_id,
            crate::consumers::CONSUMER_JOB,
            now,
        )
        .await?;
        tillbridge_store::commit(tx).await?;
        let attempts = store::attempts(&mut c, &d.merchant_id, &d.id).await?;
        Ok(DeliveryView {
            delivery: d,
            attempts,
        })
    }

    /// Sends the merchant's due deliveries, for at most half a job lease (the rest wait for
    /// the next run, which is due at once).
    async fn deliver_due(&self, merchant_id: &str) -> Result<(), EngineError> {
        let started = Instant::now();
        let due = {
            let mut c = self.conn().await?;
            store::due(&mut c, merchant_id, self.now_ms(), BATCH).await?
        };
        for d in due {
            if started.elapsed() > self.config().job_lease / 2 {
                break;
            }
            self.deliver(d).await?;
        }
        Ok(())
    }

    async fn deliver(&self, mut d: DeliveryRow) -> Result<(), EngineError> {
        let mut c = self.conn().await?;
        let Some(mut endpoint) = store::endpoint(&mut c, None, &d.endpoint_id).await? else {
            return Ok(());
        };
        let event =
            tillbridge_store::events::list_after(&mut c, &d.merchant_id, d.event_seq - 1, None, 1)
                .await?
                .into_iter()
                .find(|e| e.seq == d.event_seq);
        drop(c);
        let Some(event) = event else {
            return Err(EngineError::Mapping(format!(
                "event {} of merchant {} is missing",
                d.event_seq, d.merchant_id
            )));
        };
        let body = serde_json::json!({
            "type": event.event_type,
            "timestamp": chrono::DateTime::<chrono::Utc>::from_timestamp_millis(event.created_at)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": {
                "merchant_id": d.merchant_id,
                "event_id": event.id,
                "seq": event.seq,
                "subject": event.subject,
                "payload": event.payload,
            },
        })
        .to_string();
        let now = self.now_ms();
        let timestamp = now / 1000;
        let mut signatures = vec![sign(
            self.vault()
                .open(&endpoint.secret_enc, &aad(&endpoint.id))?
                .expose(),
            &event.id,
            timestamp,
            &body,
        )?];
        if let (Some(previous), Some(until)) =
            (&endpoint.previous_secret_enc, endpoint.previous_valid_until)
        {
            if now < until {
                signatures.push(sign(
                    self.vault().open(previous, &aad(&endpoint.id))?.expose(),
                    &event.id,
                    timestamp,
                    &body,
                )?);
            }
        }
        let started = Instant::now();
        let sent = self
            .inner
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .timeout(ATTEMPT_TIMEOUT)
            .body(body)
            .send()
            .await;
        let (status_code, error, retry_after) = match sent {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let error = if status.is_success() {
                    None
                } else {
                    let text = resp.text().await.unwrap_or_default();
                    let text: String = text.chars().take(300).collect();
                    Some(format!("the endpoint answered {status}: {text}"))
                };
                (Some(i64::from(status.as_u16())), error, retry_after)
            }
            Err(e) => (
                None,
                // Without the URL: it may carry the app's own token.
                Some(format!("could not reach the endpoint: {}", e.without_url())),
                None,
            ),
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let now = self.now_ms();
        d.attempts += 1;
        d.last_status_code = status_code;
        d.last_error = error.clone();
        d.updated_at = now;
        let mut disabled = false;
        match &error {
            None => {
                d.status = store::DELIVERED.into();
                d.delivered_at = Some(now);
                d.next_attempt_at = None;
                endpoint.failing_since = None;
            }
            Some(_) => {
                let since = *endpoint.failing_since.get_or_insert(now);
                match RETRY_SCHEDULE.get(usize::try_from(d.schedule_step).unwrap_or(usize::MAX)) {
                    Some(delay) => {
                        let jitter = rand::thread_rng().gen_range(0.9..1.1);
                        let mut wait = delay.mul_f64(jitter);
                        if let Some(asked) = retry_after {
                            wait = wait.max(asked.min(MAX_RETRY_AFTER));
                        }
                        d.schedule_step += 1;
                        d.next_attempt_at = Some(now + ms(wait));
                    }
                    None => {
                        d.status = store::FAILED.into();
                        d.next_attempt_at = None;
                    }
                }
                if now - since >= ms(DISABLE_AFTER) {
                    endpoint.enabled = false;
                    endpoint.disabled_reason = Some(format!(
                        "every attempt failed for {} days; the last: {}",
                        DISABLE_AFTER.as_secs() / 86_400,
                        error.clone().unwrap_or_default()
                    ));
                    disabled = true;
                }
            }
        }
        endpoint.updated_at = now;
        let mut tx = self.store().begin().await?;
        store::insert_attempt(
            &mut tx,
            &d.merchant_id,
            &d.id,
            &AttemptRow {
                attempt: d.attempts,
                at: now,
                status_code,
                error,
                duration_ms,
            },
        )
        .await?;
        store::update_delivery(&mut tx, &d).await?;
        store::update_endpoint(&mut tx, &endpoint).await?;
        if disabled {
            let reason = format!(
                "endpoint disabled: {}",
                endpoint.disabled_reason.clone().unwrap_or_default()
            );
            store::fail_pending(&mut tx, &endpoint.id, &reason, now).await?;
            tracing::warn!(endpoint = %endpoint.id, "webhook endpoint disabled after failing for days");
        }
        tillbridge_store::commit(tx).await?;
        Ok(())
    }
}

/// A delivery with its attempt log.
#[derive(Clone, Debug, Serialize)]
pub struct DeliveryView {
    #[serde(flatten)]
    pub delivery: DeliveryRow,
    pub attempts: Vec<AttemptRow>,
}

/// The consumer that turns events into deliveries and sends them.
pub struct WebhookConsumer;

impl Consumer for WebhookConsumer {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn handle<'a>(
        &'a self,
        engine: &'a Engine,
        tx: &'a mut Tx,
        merchant_id: &'a str,
        events: &'a [EventRow],
    ) -> ConsumerFuture<'a> {
        Box::pin(async move {
            let endpoints = store::endpoints_for(tx, merchant_id).await?;
            if endpoints.is_empty() {
                return Ok(());
            }
            let now = engine.now_ms();
            for e in events {
                // An endpoint receives the events written after it was created.
                for endpoint in endpoints
                    .iter()
                    .filter(|p| p.created_at <= e.created_at && p.wants(&e.event_type))
                {
                    store::insert_delivery(
                        tx,
                        &DeliveryRow {
                            merchant_id: merchant_id.to_owned(),
                            id: new_id("whd"),
                            endpoint_id: endpoint.id.clone(),
                            event_seq: e.seq,
                            event_id: e.id.clone(),
                            event_type: e.event_type.clone(),
                            status: store::PENDING.into(),
                            attempts: 0,
                            schedule_step: 0,
                            next_attempt_at: Some(now),
                            last_status_code: None,
                            last_error: None,
                            delivered_at: None,
                            created_at: now,
                            updated_at: now,
                        },
                    )
                    .await?;
                }
            }
            Ok(())
        })
    }

    fn background<'a>(&'a self, engine: &'a Engine, merchant_id: &'a str) -> ConsumerFuture<'a> {
        Box::pin(engine.deliver_due(merchant_id))
    }

    fn next_run<'a>(
        &'a self,
        engine: &'a Engine,
        merchant_id: &'a str,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Option<i64>, EngineError>> + Send + 'a>,
    > {
        Box::pin(async move {
            let mut c = engine.conn().await?;
            Ok(store::next_due(&mut c, merchant_id).await?)
        })
    }
}
