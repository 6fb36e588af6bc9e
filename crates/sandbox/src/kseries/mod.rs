//! Lightspeed Restaurant K-Series, under `/kseries`.

mod data;
pub mod items;
pub mod oauth;
pub(crate) mod orders;
mod render;
pub mod webhooks;

use crate::faults::{self, FaultKind};
use crate::http::{bearer, json};
use crate::ratelimit::{Bucket, K_BURST, K_RATE_PER_SEC};
use crate::world::World;
use crate::Sandbox;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use std::time::{Duration, Instant};

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .merge(oauth::routes())
        .merge(data::routes())
        .merge(webhooks::routes())
        .merge(orders::routes())
        .merge(items::routes())
}

/// An authenticated data request: which merchant the token belongs to.
pub struct Authed {
    pub merchant_id: String,
    pub malformed: bool,
}

/// Authenticates a data request, applies faults and rate limiting, and checks that `bl_id`
/// (when given) belongs to the token's merchant. Returns the delay to apply before answering.
pub fn guard(
    w: &mut World,
    scale: f64,
    headers: &HeaderMap,
    scope: &str,
    bl_id: Option<i64>,
) -> (Duration, Result<Authed, Response>) {
    w.count("k").requests += 1;
    let Some(token) = bearer(headers) else {
        return (
            Duration::ZERO,
            Err(unauthorized(
                "Full authentication is required to access this resource",
            )),
        );
    };
    let merchant_id = match w.access_tokens.get(&token) {
        Some(t)
            if t.expires > Instant::now() && !t.scope.split_whitespace().any(|s| s == scope) =>
        {
            return (
                Duration::ZERO,
                Err(json(
                    StatusCode::FORBIDDEN,
                    json!({"error": "insufficient_scope", "error_description": format!("This resource needs the `{scope}` scope")}),
                )),
            );
        }
        Some(t) if t.expires > Instant::now() => t.merchant_id.clone(),
        Some(_) => return (Duration::ZERO, Err(unauthorized("Access token expired"))),
        None => return (Duration::ZERO, Err(unauthorized("Invalid access token"))),
    };
    let effect = faults::apply(&mut w.faults, Some(&merchant_id), false);
    if let Some(kind) = effect.fail {
        return (effect.delay, Err(fault_response(w, kind, "k")));
    }
    let client_id = w
        .access_tokens
        .get(&token)
        .map(|t| t.client_id.clone())
        .unwrap_or_default();
    let bucket = w
        .buckets
        .entry(format!("k:{client_id}:{merchant_id}"))
        .or_insert_with(|| Bucket::new(K_BURST));
    let taken = match w.rate_limits {
        true => bucket.take(K_BURST, K_RATE_PER_SEC * scale),
        false => Ok(()),
    };
    if let Err(wait) = taken {
        w.stats.rate_limited += 1;
        w.count("k").rate_limited += 1;
        let secs = wait.ceil().max(1.0) as u64;
        return (effect.delay, Err(too_many(secs)));
    }
    if let Some(bl) = bl_id {
        let owned = w
            .merchants
            .get(&merchant_id)
            .is_some_and(|m| m.locations.iter().any(|l| l.id == bl));
        if !owned {
            return (
                effect.delay,
                Err(json(
                    StatusCode::FORBIDDEN,
                    json!({"error": "Access token not relevant for the businessLocation, use authorization-code"}),
                )),
            );
        }
    }
    (
        effect.delay,
        Ok(Authed {
            merchant_id,
            malformed: effect.malformed,
        }),
    )
}

pub fn fault_response(w: &mut World, kind: FaultKind, series: &str) -> Response {
    match kind {
        FaultKind::RateLimitStorm { retry_after } => {
            w.stats.rate_limited += 1;
            w.count(series).rate_limited += 1;
            too_many(retry_after)
        }
        FaultKind::ServerError { status } => {
            w.count(series).server_errors += 1;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            json(
                status,
                json!({"timestamp": chrono::Utc::now(), "status": status.as_u16(), "error": status.canonical_reason(), "path": "", "requestId": "sandbox"}),
            )
        }
        FaultKind::Outage => {
            w.count(series).server_errors += 1;
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
            )
                .into_response()
        }
        FaultKind::Latency { .. }
        | FaultKind::Malformed
        | FaultKind::DropWebhooks
        | FaultKind::DuplicateWebhooks
        | FaultKind::DelayWebhooks { .. }
        | FaultKind::ReorderWebhooks => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "sandbox fault"}),
        ),
    }
}

fn too_many(secs: u64) -> Response {
    let mut r = json(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"error": "Too Many Requests", "message": "Rate limit exceeded"}),
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn unauthorized(message: &str) -> Response {
    let mut r = json(
        StatusCode::UNAUTHORIZED,
        json!({"error": "invalid_token", "error_description": message}),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    r
}

/// Answers after the injected delay.
pub async fn delayed(delay: Duration, response: Response) -> Response {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}
