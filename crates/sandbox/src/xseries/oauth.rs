//! X-Series OAuth: the consent page at `/connect`; the callback carries `code`,
//! `domain_prefix` and `state` (or `error=access_denied`); the token endpoint at
//! `/{prefix}/api/1.0/token` takes the client credentials in the form body only and rejects
//! query-string parameters; access tokens last 24 hours; a refresh may or may not rotate the
//! refresh token, as the client is configured.

use crate::consent::{self, error_page, redirect_with};
use crate::faults;
use crate::http::json;
use crate::world::{random_token, redirect_allowed, AccessToken, AuthCode, RefreshToken, World};
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const ACCESS_TOKEN_SECS: f64 = 86_400.0;
pub const REFRESH_SECS: f64 = 90.0 * 86_400.0;
pub const CODE_SECS: f64 = 600.0;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/xseries/connect", get(connect_page).post(connect_decision))
        .route("/xseries/{prefix}/api/1.0/token", post(token))
}

#[derive(Deserialize, Default, Clone)]
struct ConnectParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    username: Option<String>,
    password: Option<String>,
    decision: Option<String>,
}

fn scaled(secs: f64, scale: f64) -> Duration {
    Duration::from_secs_f64((secs / scale).max(0.001))
}

fn validate(w: &World, p: &ConnectParams) -> Result<(), String> {
    if p.response_type.as_deref() != Some("code") {
        return Err("response_type must be `code`".into());
    }
    let client_id = p.client_id.as_deref().ok_or("client_id is required")?;
    let client = w
        .client("x", client_id)
        .ok_or_else(|| format!("unknown client_id `{client_id}`"))?;
    let redirect = p
        .redirect_uri
        .as_deref()
        .ok_or("redirect_uri is required")?;
    if !redirect_allowed(client, redirect) {
        return Err(format!(
            "redirect_uri `{redirect}` does not match the application's redirect URI"
        ));
    }
    if p.state.as_deref().is_none_or(|s| s.len() < 8) {
        return Err("state is required and must be at least 8 characters".into());
    }
    Ok(())
}

fn page(p: &ConnectParams, error: Option<&str>) -> Response {
    let hidden = [
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("state", &p.state),
    ];
    consent::page(
        "Lightspeed Retail",
        "/xseries/connect",
        "your store's data",
        &hidden,
        error,
    )
}

async fn connect_page(State(sb): State<Sandbox>, Query(p): Query<ConnectParams>) -> Response {
    match sb.with_world(|w| validate(w, &p)) {
        Ok(()) => page(&p, None),
        Err(e) => error_page(&e),
    }
}

async fn connect_decision(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let p: ConnectParams = match serde_urlencoded::from_bytes(&body) {
        Ok(p) => p,
        Err(e) => return error_page(&format!("the form could not be read: {e}")),
    };
    let scale = sb.time_scale();
    let outcome = sb.with_world(|w| -> Result<Option<(String, String)>, String> {
        validate(w, &p)?;
        if p.decision.as_deref() == Some("deny") {
            return Ok(None);
        }
        let username = p.username.as_deref().unwrap_or_default().trim();
        let Some(m) = w
            .merchant_by_login("x", username)
            .filter(|m| Some(m.login.password.as_str()) == p.password.as_deref())
        else {
            return Err(String::new());
        };
        let (merchant_id, prefix) = (m.id.clone(), m.domain_prefix.clone());
        let code = random_token(&mut w.rng, 40);
        w.codes.insert(
            code.clone(),
            AuthCode {
                client_id: p.client_id.clone().unwrap_or_default(),
                merchant_id,
                redirect_uri: p.redirect_uri.clone().unwrap_or_default(),
                scope: String::new(),
                challenge: None,
                expires: Instant::now() + scaled(CODE_SECS, scale),
                used: false,
                issued: Vec::new(),
            },
        );
        Ok(Some((code, prefix)))
    });
    let redirect = p.redirect_uri.clone().unwrap_or_default();
    let state = p.state.clone().unwrap_or_default();
    match outcome {
        Err(e) if e.is_empty() => page(&p, Some("The e-mail or password is incorrect.")),
        Err(e) => error_page(&e),
        Ok(None) => redirect_with(&redirect, &[("error", "access_denied"), ("state", &state)]),
        Ok(Some((code, prefix))) => redirect_with(
            &redirect,
            &[
                ("code", &code),
                ("domain_prefix", &prefix),
                ("state", &state),
            ],
        ),
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

async fn token(
    State(sb): State<Sandbox>,
    Path(prefix): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scale = sb.time_scale();
    let (response, delay) = sb.with_world(|w| {
        w.count("x").requests += 1;
        let effect = faults::apply(&mut w.faults, None, true);
        if let Some(kind) = effect.fail {
            return (crate::kseries::fault_response(w, kind, "x"), effect.delay);
        }
        (
            token_inner(w, scale, &prefix, query.as_deref(), &headers, &body),
            effect.delay,
        )
    });
    crate::kseries::delayed(delay, response).await
}

fn token_inner(
    w: &mut World,
    scale: f64,
    prefix: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if query.is_some_and(|q| !q.is_empty()) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "parameters in the query string are not accepted: send them in an application/x-www-form-urlencoded body");
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let params: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let (Some(client_id), Some(secret)) = (params.get("client_id"), params.get("client_secret"))
    else {
        let detail = if headers.contains_key(header::AUTHORIZATION) {
            "client credentials must be sent in the request body (client_id, client_secret), not in an Authorization header"
        } else {
            "client_id and client_secret are required"
        };
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", detail);
    };
    let Some(client) = w
        .client("x", client_id)
        .filter(|c| &c.client_secret == secret)
        .cloned()
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "bad client credentials",
        );
    };
    let Some(merchant_id) = w.merchant_by_prefix(prefix).map(|m| m.id.clone()) else {
        return oauth_error(StatusCode::NOT_FOUND, "invalid_request", "no such store");
    };
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = params.get("code").cloned().unwrap_or_default();
            let Some(grant) = w.codes.get_mut(&code) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "invalid authorization code",
                );
            };
            if grant.used || grant.expires <= Instant::now() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the authorization code expired or was already used",
                );
            }
            if grant.client_id != client.client_id || grant.merchant_id != merchant_id {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the authorization code was issued for another client or store",
                );
            }
            if params.get("redirect_uri") != Some(&grant.redirect_uri) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri does not match",
                );
            }
            grant.used = true;
            let refresh = random_token(&mut w.rng, 40);
            w.refresh_tokens.insert(
                refresh.clone(),
                RefreshToken {
                    client_id: client.client_id.clone(),
                    merchant_id: merchant_id.clone(),
                    scope: String::new(),
                    expires: Instant::now() + scaled(REFRESH_SECS, scale),
                    used: false,
                    revoke_on_use_of: None,
                },
            );
            issue_access(
                w,
                scale,
                &client.client_id,
                &merchant_id,
                prefix,
                Some(&refresh),
            )
        }
        Some("refresh_token") => {
            let token = params.get("refresh_token").cloned().unwrap_or_default();
            let valid = w.refresh_tokens.get(&token).is_some_and(|t| {
                !t.used
                    && t.expires > Instant::now()
                    && t.client_id == client.client_id
                    && t.merchant_id == merchant_id
            });
            if !valid {
                w.stats.refresh_rejected += 1;
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "invalid refresh token",
                );
            }
            w.stats.refreshes += 1;
            let rotated = client.rotate_refresh.then(|| {
                if let Some(old) = w.refresh_tokens.get_mut(&token) {
                    old.used = true;
                }
                let new = random_token(&mut w.rng, 40);
                w.refresh_tokens.insert(
                    new.clone(),
                    RefreshToken {
                        client_id: client.client_id.clone(),
                        merchant_id: merchant_id.clone(),
                        scope: String::new(),
                        expires: Instant::now() + scaled(REFRESH_SECS, scale),
                        used: false,
                        revoke_on_use_of: None,
                    },
                );
                new
            });
            issue_access(
                w,
                scale,
                &client.client_id,
                &merchant_id,
                prefix,
                rotated.as_deref(),
            )
        }
        other => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!(
                "grant_type `{}` is not supported",
                other.unwrap_or_default()
            ),
        ),
    }
}

fn issue_access(
    w: &mut World,
    scale: f64,
    client_id: &str,
    merchant_id: &str,
    prefix: &str,
    refresh: Option<&str>,
) -> Response {
    let access = random_token(&mut w.rng, 40);
    let lifetime = scaled(ACCESS_TOKEN_SECS, scale);
    w.access_tokens.insert(
        access.clone(),
        AccessToken {
            client_id: client_id.to_owned(),
            merchant_id: merchant_id.to_owned(),
            scope: String::new(),
            expires: Instant::now() + lifetime,
        },
    );
    w.stats.tokens_issued += 1;
    let expires_in = lifetime.as_secs().max(1);
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires": chrono::Utc::now().timestamp() + expires_in as i64,
        "expires_in": expires_in,
        "domain_prefix": prefix,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    json(StatusCode::OK, body)
}
