//! Fault injection: rate-limit storms, server errors, latency, malformed bodies and outages,
//! globally or for one merchant, for a number of requests or a duration.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// `rate_limit_storm`, `server_error`, `latency`, `malformed`, `outage`, `revoke_tokens`,
    /// or for webhooks `drop_webhooks`, `duplicate_webhooks`, `delay_webhooks` (`latency_ms`),
    /// `reorder_webhooks` (a batch arrives newest first).
    pub kind: String,
    /// Sandbox merchant id; all merchants when absent.
    #[serde(default)]
    pub merchant: Option<String>,
    /// Affect this many requests, then clear.
    #[serde(default)]
    pub count: Option<u32>,
    /// Affect requests for this long (real milliseconds), then clear.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// HTTP status for `server_error` (500, 502, 503 or 504; default 503).
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// `Retry-After` seconds sent with storm 429s (default 1).
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Also affect the OAuth token endpoint (default false: data API only).
    #[serde(default)]
    pub include_oauth: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    RateLimitStorm { retry_after: u64 },
    ServerError { status: u16 },
    Latency { latency_ms: u64 },
    Malformed,
    Outage,
    DropWebhooks,
    DuplicateWebhooks,
    DelayWebhooks { latency_ms: u64 },
    ReorderWebhooks,
}

impl FaultKind {
    fn is_webhook(&self) -> bool {
        matches!(
            self,
            FaultKind::DropWebhooks
                | FaultKind::DuplicateWebhooks
                | FaultKind::DelayWebhooks { .. }
                | FaultKind::ReorderWebhooks
        )
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub kind: FaultKind,
    pub merchant: Option<String>,
    pub remaining: Option<u32>,
    #[serde(skip)]
    pub until: Option<Instant>,
    pub include_oauth: bool,
}

impl FaultRequest {
    pub fn into_fault(self, id: u64) -> Result<Fault, String> {
        let kind = match self.kind.as_str() {
            "rate_limit_storm" => FaultKind::RateLimitStorm { retry_after: self.retry_after.unwrap_or(1) },
            "server_error" => {
                let status = self.status.unwrap_or(503);
                if !matches!(status, 500 | 502 | 503 | 504) {
                    return Err(format!("`status` must be 500, 502, 503 or 504, got {status}"));
                }
                FaultKind::ServerError { status }
            }
            "latency" => FaultKind::Latency {
                latency_ms: self.latency_ms.ok_or("`latency` needs `latency_ms`")?,
            },
            "malformed" => FaultKind::Malformed,
            "drop_webhooks" => FaultKind::DropWebhooks,
            "duplicate_webhooks" => FaultKind::DuplicateWebhooks,
            "delay_webhooks" => FaultKind::DelayWebhooks { latency_ms: self.latency_ms.ok_or("`delay_webhooks` needs `latency_ms`")? },
            "reorder_webhooks" => FaultKind::ReorderWebhooks,
            "outage" => FaultKind::Outage,
            other => {
                return Err(format!(
                    "unknown fault kind `{other}`: use rate_limit_storm, server_error, latency, malformed, outage, revoke_tokens, drop_webhooks, duplicate_webhooks, delay_webhooks or reorder_webhooks"
                ))
            }
        };
        Ok(Fault {
            id,
            kind,
            merchant: self.merchant,
            remaining: self.count,
            until: self
                .duration_ms
                .map(|ms| Instant::now() + Duration::from_millis(ms)),
            include_oauth: self.include_oauth.unwrap_or(false),
        })
    }
}

/// What the active faults do to one request.
#[derive(Default, Debug)]
pub struct Effect {
    pub delay: Duration,
    pub fail: Option<FaultKind>,
    pub malformed: bool,
}

/// Applies (and uses up) the faults matching a request for `merchant`.
pub fn apply(faults: &mut Vec<Fault>, merchant: Option<&str>, oauth: bool) -> Effect {
    let now = Instant::now();
    faults.retain(|f| f.until.is_none_or(|u| u > now) && f.remaining != Some(0));
    let mut effect = Effect::default();
    for f in faults.iter_mut() {
        let matches_merchant = match (&f.merchant, merchant) {
            (None, _) => true,
            (Some(want), Some(got)) => want == got,
            (Some(_), None) => false,
        };
        if !matches_merchant || (oauth && !f.include_oauth) || f.kind.is_webhook() {
            continue;
        }
        let used = match &f.kind {
            FaultKind::Latency { latency_ms } => {
                effect.delay += Duration::from_millis(*latency_ms);
                true
            }
            FaultKind::Malformed if !oauth => {
                effect.malformed = true;
                true
            }
            FaultKind::Malformed => false,
            kind => {
                if effect.fail.is_none() {
                    effect.fail = Some(kind.clone());
                    true
                } else {
                    false
                }
            }
        };
        if used {
            if let Some(r) = f.remaining.as_mut() {
                *r = r.saturating_sub(1);
            }
        }
    }
    faults.retain(|f| f.remaining != Some(0));
    effect
}

/// What the active webhook faults do to one batch of deliveries.
#[derive(Default, Debug)]
pub struct WebhookEffect {
    pub drop: bool,
    pub duplicate: bool,
    pub delay: Duration,
    pub reorder: bool,
}

/// Applies (and uses up) the webhook faults matching `merchant`.
pub fn apply_webhook(faults: &mut Vec<Fault>, merchant: &str) -> WebhookEffect {
    let now = Instant::now();
    faults.retain(|f| f.until.is_none_or(|u| u > now) && f.remaining != Some(0));
    let mut effect = WebhookEffect::default();
    for f in faults
        .iter_mut()
        .filter(|f| f.kind.is_webhook() && f.merchant.as_deref().is_none_or(|m| m == merchant))
    {
        match f.kind {
            FaultKind::DropWebhooks => effect.drop = true,
            FaultKind::DuplicateWebhooks => effect.duplicate = true,
            FaultKind::ReorderWebhooks => effect.reorder = true,
            FaultKind::DelayWebhooks { latency_ms } => {
                effect.delay += Duration::from_millis(latency_ms)
            }
            _ => {}
        }
        if let Some(r) = f.remaining.as_mut() {
            *r = r.saturating_sub(1);
        }
    }
    faults.retain(|f| f.remaining != Some(0));
    effect
}
