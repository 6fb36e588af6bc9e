//! Lightspeed Retail R-Series (formerly Merchant OS), under `/rseries` (standing in for both
//! `https://cloud.lightspeedapp.com` and `https://api.lightspeedapp.com`).

mod api;
mod items;
mod oauth;
mod orders;
mod render;

use crate::faults;
use crate::http::{bearer, json};
use crate::world::World;
use crate::Sandbox;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::json;
use std::time::{Duration, Instant};

pub fn routes() -> Router<Sandbox> {
    Router::new().merge(oauth::routes()).merge(api::routes())
}

/// Burst limiter: requests per fixed one-second window.
pub const BURST: u32 = 20;

/// The leaky bucket of one (account, client) pair: 90 + 10 per extra register, draining
/// 1/s + 0.5/s per extra register (both times the time scale), fractional levels allowed.
pub struct LeakyBucket {
    level: f64,
    last: Instant,
    burst_window: Instant,
    burst_count: u32,
}

pub struct Budget {
    pub size: f64,
    pub drip: f64,
}

pub fn budget(registers: usize) -> Budget {
    let extra = registers.saturating_sub(1) as f64;
    Budget {
        size: 90.0 + 10.0 * extra,
        drip: 1.0 + 0.5 * extra,
    }
}

fn fmt_level(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub struct Guarded {
    pub merchant_id: String,
    pub headers: Vec<(&'static str, String)>,
}

pub fn with_headers(mut r: Response, headers: &[(&'static str, String)]) -> Response {
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            r.headers_mut().insert(*k, v);
        }
    }
    r
}

fn denied(hint: &str) -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        json!({ "error": "access_denied", "error_description": "The resource owner or authorization server denied the request.", "hint": hint }),
    )
}

/// Authenticates the JWT access token for `account`, revokes a refresh token whose successor is
/// used for the first time, applies faults, and charges the bucket and the burst limiter.
pub fn guard(
    w: &mut World,
    scale: f64,
    headers: &HeaderMap,
    account: &str,
    cost: f64,
) -> (Duration, Result<Guarded, Response>) {
    w.count("r").requests += 1;
    let Some(token) = bearer(headers) else {
        return (
            Duration::ZERO,
            Err(denied("Missing \"Authorization\" header")),
        );
    };
    let (client_id, merchant_id) = match w.access_tokens.get(&token) {
        Some(t) if t.expires > Instant::now() => (t.client_id.clone(), t.merchant_id.clone()),
        Some(_) => {
            return (
                Duration::ZERO,
                Err(denied("Access token could not be verified")),
            )
        }
        None => return (Duration::ZERO, Err(denied("Access token has been revoked"))),
    };
    // The first use of a refreshed access token revokes the refresh token it replaced.
    w.refresh_tokens
        .retain(|_, r| r.revoke_on_use_of.as_deref() != Some(token.as_str()));
    let Some(m) = w.merchants.get(&merchant_id) else {
        return (
            Duration::ZERO,
            Err(denied("Access token could not be verified")),
        );
    };
    if m.business_id.to_string() != account {
        return (
            Duration::ZERO,
            Err(json(
                StatusCode::FORBIDDEN,
                json!({ "httpCode": "403", "httpMessage": "Forbidden", "message": "The token is not valid for this account", "errorClass": "ForbiddenException" }),
            )),
        );
    }
    let registers: usize = m.locations.iter().map(|l| l.devices.len()).sum();
    let effect = faults::apply(&mut w.faults, Some(&merchant_id), false);
    if let Some(kind) = effect.fail {
        let r = match kind {
            faults::FaultKind::RateLimitStorm { retry_after } => {
                throttled("api-leaky-bucket", retry_after, &[])
            }
            other => crate::kseries::fault_response(w, other, "r"),
        };
        return (effect.delay, Err(r));
    }
    let b = budget(registers);
    let now = Instant::now();
    let bucket = w
        .buckets_r
        .entry(format!("{account}:{client_id}"))
        .or_insert_with(|| LeakyBucket {
            level: 0.0,
            last: now,
            burst_window: now,
            burst_count: 0,
        });
    bucket.level =
        (bucket.level - now.duration_since(bucket.last).as_secs_f64() * b.drip * scale).max(0.0);
    if !w.rate_limits {
        bucket.level = 0.0;
        bucket.burst_count = 0;
    }
    bucket.last = now;
    if now.duration_since(bucket.burst_window) >= Duration::from_secs(1) {
        bucket.burst_window = now;
        bucket.burst_count = 0;
    }
    let headers = vec![
        (
            "x-ls-api-bucket-level",
            format!("{}/{}", fmt_level(bucket.level), fmt_level(b.size)),
        ),
        ("x-ls-api-drip-rate", fmt_level(b.drip * scale)),
        (
            "x-ls-api-burst-level",
            format!("{}/{BURST}", bucket.burst_count),
        ),
    ];
    if bucket.burst_count >= BURST {
        w.stats.rate_limited += 1;
        w.count("r").rate_limited += 1;
        return (
            effect.delay,
            Err(throttled("api-burst-limiter", 1, &headers)),
        );
    }
    // The first request that overflows is allowed; later ones wait until the level drops.
    if bucket.level >= b.size {
        let wait = ((bucket.level - b.size + cost) / (b.drip * scale))
            .ceil()
            .max(1.0) as u64;
        w.stats.rate_limited += 1;
        w.count("r").rate_limited += 1;
        return (
            effect.delay,
            Err(throttled("api-leaky-bucket", wait, &headers)),
        );
    }
    bucket.level += cost;
    bucket.burst_count += 1;
    let headers = vec![
        (
            "x-ls-api-bucket-level",
            format!("{}/{}", fmt_level(bucket.level), fmt_level(b.size)),
        ),
        ("x-ls-api-drip-rate", fmt_level(b.drip * scale)),
        (
            "x-ls-api-burst-level",
            format!("{}/{BURST}", bucket.burst_count),
        ),
        ("x-ls-api-request-cost", fmt_level(cost)),
        ("x-ls-acct-id", account.to_owned()),
    ];
    (
        effect.delay,
        Ok(Guarded {
            merchant_id,
            headers,
        }),
    )
}

fn throttled(kind: &str, retry_after: u64, headers: &[(&'static str, String)]) -> Response {
    let mut r = json(
        StatusCode::TOO_MANY_REQUESTS,
        json!({ "httpCode": "429", "httpMessage": "Too Many Requests", "message": if kind == "api-burst-limiter" { "burst rate limit exceeded" } else { "Rate limit exceeded" }, "errorClass": "RateLimitException" }),
    );
    r = with_headers(r, headers);
    if let Ok(v) = HeaderValue::from_str(kind) {
        r.headers_mut().insert("x-ls-api-ratelimit-type", v);
    }
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}
