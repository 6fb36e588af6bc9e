//! The request loop shared by the series clients: pacing, `Retry-After`, bounded retries for
//! 429, 5xx and transport errors, and error bodies turned into clear messages.

use crate::error::LightspeedError;
use crate::pacing::{parse_retry_after, Pacer};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tracing::Instrument;

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts for transport errors and 5xx answers.
    pub max_attempts: u32,
    /// 429 answers tolerated per request; each waits for `Retry-After` (or the pacer's gap).
    pub max_throttled: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            max_throttled: 30,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// The first 300 characters of a body, for error messages.
pub fn snippet(text: &str) -> String {
    let t: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        format!("{t}…")
    } else {
        t
    }
}

/// Sends a GET built by `build` (called again for each attempt) and decodes JSON into `T`.
pub async fn get_json<T: DeserializeOwned>(
    pacer: &Pacer,
    policy: &RetryPolicy,
    path: &str,
    build: impl Fn() -> RequestBuilder,
) -> Result<T, LightspeedError> {
    let text = send(pacer, policy, path, Method::GET, build).await?;
    decode(path, &text)
}

/// Decodes a response body read from `path`, saying where a malformed one came from.
pub fn decode<T: DeserializeOwned>(path: &str, text: &str) -> Result<T, LightspeedError> {
    serde_json::from_str(text).map_err(|e| LightspeedError::Malformed {
        path: path.to_owned(),
        detail: format!("{e} in {}", snippet(text)),
    })
}

/// Requests sent to Lightspeed by this process, for `/metrics`.
pub static REQUESTS: AtomicU64 = AtomicU64::new(0);
/// 429 answers received by this process.
pub static THROTTLED: AtomicU64 = AtomicU64::new(0);
/// Transport errors and 5xx answers received by this process.
pub static FAILURES: AtomicU64 = AtomicU64::new(0);

/// A request with the bearer token and, when given, a JSON body: what [`send`] builds for
/// each attempt of a write.
pub fn authorized(
    http: &reqwest::Client,
    method: Method,
    url: &url::Url,
    token: &crate::Secret,
    body: Option<&serde_json::Value>,
) -> RequestBuilder {
    let request = http
        .request(method, url.clone())
        .bearer_auth(token.expose());
    match body {
        Some(b) => request.json(b),
        None => request,
    }
}

/// Sends with retries and returns the body of a 2xx response.
pub async fn send(
    pacer: &Pacer,
    policy: &RetryPolicy,
    path: &str,
    method: Method,
    build: impl Fn() -> RequestBuilder,
) -> Result<String, LightspeedError> {
    // Failed attempts (transport errors, 5xx) and 429s have separate budgets: waiting out a
    // 429 is pacing, not a failure.
    let mut failures = 0;
    let mut throttled = 0;
    let mut backoff = policy.base_backoff;
    loop {
        // Held until the response is read: the request then counts as completed.
        let _slot = pacer.ready().await;
        let span = tracing::debug_span!("lightspeed_request", %method, path, failures, throttled);
        REQUESTS.fetch_add(1, Ordering::Relaxed);
        let result = build().send().instrument(span).await;
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                FAILURES.fetch_add(1, Ordering::Relaxed);
                failures += 1;
                if failures >= policy.max_attempts {
                    return Err(LightspeedError::Transport {
                        url: path.to_owned(),
                        detail: e.without_url().to_string(),
                    });
                }
                tracing::warn!(path, failures, error = %e.without_url(), "transport error, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(policy.max_backoff);
                continue;
            }
        };
        let status = resp.status();
        pacer.observe(resp.headers());
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        if status == StatusCode::TOO_MANY_REQUESTS {
            THROTTLED.fetch_add(1, Ordering::Relaxed);
            pacer.on_throttled(retry_after);
            throttled += 1;
            if throttled >= policy.max_throttled {
                return Err(LightspeedError::RateLimited {
                    attempts: throttled,
                    retry_after,
                });
            }
            tracing::info!(
                path,
                throttled,
                ?retry_after,
                "throttled by Lightspeed, waiting"
            );
            continue;
        }
        let text = resp.text().await.map_err(|e| LightspeedError::Transport {
            url: path.to_owned(),
            detail: e.without_url().to_string(),
        })?;
        if status.is_success() {
            pacer.on_success();
            return Ok(text);
        }
        if status.is_server_error() {
            FAILURES.fetch_add(1, Ordering::Relaxed);
            failures += 1;
            if failures >= policy.max_attempts {
                return Err(LightspeedError::Server {
                    status: status.as_u16(),
                    path: path.to_owned(),
                    attempts: failures,
                    detail: snippet(&text),
                });
            }
            tracing::warn!(
                path,
                failures,
                status = status.as_u16(),
                "server error, retrying"
            );
            tokio::time::sleep(retry_after.unwrap_or(backoff).min(policy.max_backoff)).await;
            backoff = (backoff * 2).min(policy.max_backoff);
            continue;
        }
        let detail = error_detail(&text);
        return Err(match status {
            StatusCode::UNAUTHORIZED => LightspeedError::Unauthorized {
                status: 401,
                path: path.to_owned(),
                detail,
            },
            StatusCode::FORBIDDEN => LightspeedError::Forbidden {
                path: path.to_owned(),
                detail,
            },
            _ => LightspeedError::BadRequest {
                status: status.as_u16(),
                path: path.to_owned(),
                detail,
            },
        });
    }
}

/// Pulls the human part out of the many error layouts Lightspeed uses.
fn error_detail(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return snippet(text);
    };
    // The K-Series Items and menu services list what was wrong with each field.
    let subs: Vec<String> = v
        .get("apiSubExceptions")
        .and_then(|x| x.as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let message = e.get("message")?.as_str()?;
            Some(match e.get("field").and_then(|f| f.as_str()) {
                Some(field) => format!("{field}: {message}"),
                None => message.to_owned(),
            })
        })
        .collect();
    for key in ["error_description", "message", "msg", "error"] {
        if let Some(s) = v.get(key).and_then(|x| x.as_str()) {
            if subs.is_empty() {
                return s.to_owned();
            }
            return format!("{s} ({})", subs.join("; "));
        }
    }
    snippet(text)
}
