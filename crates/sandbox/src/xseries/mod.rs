//! Lightspeed Retail X-Series (formerly Vend): the store lives at `/xseries/{domain_prefix}`
//! (standing in for `https://{domain_prefix}.retail.lightspeed.app`), authorization at
//! `/xseries/connect` (for `https://secure.retail.lightspeed.app/connect`).

mod api;
mod oauth;
mod orders;
mod render;
pub mod webhooks;

use crate::faults::{self, FaultKind};
use crate::http::{bearer, json};
use crate::world::World;
use crate::Sandbox;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use chrono::Utc;
use serde_json::json;
use std::time::{Duration, Instant};

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .merge(oauth::routes())
        .merge(api::routes())
        .merge(orders::routes())
}

/// The rate limit: `300 × registers + 50` requests per 5-minute sliding window (divided by the
/// time scale), per application and store.
pub const WINDOW_SECS: f64 = 300.0;

pub fn limit_for(registers: usize) -> usize {
    300 * registers + 50
}

pub struct Guarded {
    pub merchant_id: String,
    pub limit: usize,
    pub remaining: usize,
}

/// An RFC 1123 date, as X-Series writes `Retry-After`.
pub fn http_date(at: chrono::DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn error(status: StatusCode, title: &str, message: &str) -> Response {
    json(status, json!({ "error": title, "message": message }))
}

pub fn with_rate_headers(mut r: Response, limit: usize, remaining: usize) -> Response {
    if let Ok(v) = HeaderValue::from_str(&limit.to_string()) {
        r.headers_mut().insert("x-ratelimit-limit", v);
    }
    if let Ok(v) = HeaderValue::from_str(&remaining.to_string()) {
        r.headers_mut().insert("x-ratelimit-remaining", v);
    }
    r
}

/// Authenticates (OAuth access token or personal token of this store), applies faults and the
/// sliding-window limit.
pub fn guard(
    w: &mut World,
    scale: f64,
    headers: &HeaderMap,
    prefix: &str,
) -> (Duration, Result<Guarded, Response>) {
    w.count("x").requests += 1;
    let Some(m) = w.merchant_by_prefix(prefix) else {
        return (
            Duration::ZERO,
            Err(error(
                StatusCode::NOT_FOUND,
                "Not Found",
                &format!("no store `{prefix}`"),
            )),
        );
    };
    let merchant_id = m.id.clone();
    let registers: usize = m.locations.iter().map(|l| l.devices.len()).sum();
    let personal = m.personal_token.clone();
    let Some(token) = bearer(headers) else {
        return (
            Duration::ZERO,
            Err(error(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "missing bearer token",
            )),
        );
    };
    let key = if token == personal {
        format!("personal:{merchant_id}")
    } else {
        match w.access_tokens.get(&token) {
            Some(t) if t.merchant_id == merchant_id && t.expires > Instant::now() => {
                format!("{}:{merchant_id}", t.client_id)
            }
            Some(t) if t.merchant_id == merchant_id => {
                return (
                    Duration::ZERO,
                    Err(error(
                        StatusCode::UNAUTHORIZED,
                        "Unauthorized",
                        "access token expired",
                    )),
                );
            }
            _ => {
                return (
                    Duration::ZERO,
                    Err(error(
                        StatusCode::UNAUTHORIZED,
                        "Unauthorized",
                        "invalid access token",
                    )),
                )
            }
        }
    };
    let effect = faults::apply(&mut w.faults, Some(&merchant_id), false);
    if let Some(kind) = effect.fail {
        return (effect.delay, Err(fault_response(w, kind)));
    }
    let limit = limit_for(registers);
    let window = Duration::from_secs_f64(WINDOW_SECS / scale);
    let now = Instant::now();
    let times = w.windows.entry(key).or_default();
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
    if !w.rate_limits {
        times.clear();
    }
    if times.len() >= limit {
        let free_at = times.front().map(|t| *t + window).unwrap_or(now);
        let wait = free_at.saturating_duration_since(now);
        // HTTP dates have whole seconds: round up so a client that waits is never early.
        let at = Utc::now() + chrono::Duration::milliseconds(wait.as_millis() as i64 + 999);
        let at = at - chrono::Duration::nanoseconds(i64::from(chrono::Timelike::nanosecond(&at)));
        w.stats.rate_limited += 1;
        w.count("x").rate_limited += 1;
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "Rate limiting enforced",
        );
        if let Ok(v) = HeaderValue::from_str(&http_date(at)) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return (effect.delay, Err(with_rate_headers(r, limit, 0)));
    }
    times.push_back(now);
    let remaining = limit - times.len();
    (
        effect.delay,
        Ok(Guarded {
            merchant_id,
            limit,
            remaining,
        }),
    )
}

fn fault_response(w: &mut World, kind: FaultKind) -> Response {
    match kind {
        FaultKind::RateLimitStorm { retry_after } => {
            w.stats.rate_limited += 1;
            w.count("x").rate_limited += 1;
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "Rate limiting enforced",
            );
            if let Ok(v) = HeaderValue::from_str(&http_date(
                Utc::now() + chrono::Duration::seconds(retry_after as i64),
            )) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        other => crate::kseries::fault_response(w, other, "x"),
    }
}
