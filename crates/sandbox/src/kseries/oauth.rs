//! K-Series OAuth 2.0: authorization code with a consent page, HTTP Basic client
//! authentication at the token endpoint only, optional PKCE, single-use short-lived codes,
//! 60-minute access tokens and single-use rotating refresh tokens that expire after 14 days
//! unused. Every lifetime is divided by the time scale.

use crate::consent::{self, error_page, redirect_with};
use crate::faults;
use crate::http::json;
use crate::world::{random_token, redirect_allowed, AccessToken, AuthCode, RefreshToken, World};
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const ACCESS_TOKEN_SECS: f64 = 3600.0;
pub const REFRESH_IDLE_SECS: f64 = 14.0 * 24.0 * 3600.0;
pub const CODE_SECS: f64 = 600.0;

/// One OAuth dialect of this shape: K-Series, and O-Series which follows it.
pub struct Dialect {
    pub series: &'static str,
    pub base: &'static str,
    pub product: &'static str,
}

pub const K: Dialect = Dialect {
    series: "k",
    base: "/kseries",
    product: "Lightspeed Restaurant",
};

pub fn routes() -> Router<Sandbox> {
    routes_for(&K)
}

pub fn routes_for(d: &'static Dialect) -> Router<Sandbox> {
    Router::new()
        .route(
            &format!("{}/oauth/authorize", d.base),
            get(move |s: State<Sandbox>, q: Query<AuthorizeParams>| authorize_page(d, s, q))
                .post(move |s: State<Sandbox>, b: Bytes| authorize_decision(d, s, b)),
        )
        .route(
            &format!("{}/oauth/token", d.base),
            post(move |s: State<Sandbox>, h: HeaderMap, b: Bytes| token(d, s, h, b)),
        )
}

#[derive(Deserialize, Default, Clone)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    username: Option<String>,
    password: Option<String>,
    decision: Option<String>,
}

fn scaled(secs: f64, scale: f64) -> Duration {
    Duration::from_secs_f64((secs / scale).max(0.001))
}

/// Checks the parts of an authorize request that must be right before anything is shown.
fn validate(w: &World, d: &Dialect, p: &AuthorizeParams) -> Result<(), String> {
    if p.response_type.as_deref() != Some("code") {
        return Err("response_type must be `code`".into());
    }
    let client_id = p.client_id.as_deref().ok_or("client_id is required")?;
    let client = w
        .client(d.series, client_id)
        .ok_or_else(|| format!("unknown client_id `{client_id}`"))?;
    let redirect = p
        .redirect_uri
        .as_deref()
        .ok_or("redirect_uri is required")?;
    if !redirect_allowed(client, redirect) {
        return Err(format!(
            "redirect_uri `{redirect}` is not registered for this client"
        ));
    }
    if p.scope.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err("scope is required".into());
    }
    match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (None, _) | (Some(_), Some("S256" | "plain")) | (Some(_), None) => Ok(()),
        (Some(_), Some(m)) => Err(format!("unsupported code_challenge_method `{m}`")),
    }
}

fn consent_page(d: &Dialect, p: &AuthorizeParams, error: Option<&str>) -> Response {
    let hidden = [
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("scope", &p.scope),
        ("state", &p.state),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
    ];
    consent::page(
        d.product,
        &format!("{}/oauth/authorize", d.base),
        p.scope.as_deref().unwrap_or_default(),
        &hidden,
        error,
    )
}

async fn authorize_page(
    d: &Dialect,
    State(sb): State<Sandbox>,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    match sb.with_world(|w| validate(w, d, &p)) {
        Ok(()) => consent_page(d, &p, None),
        Err(e) => error_page(&e),
    }
}

async fn authorize_decision(d: &Dialect, State(sb): State<Sandbox>, body: Bytes) -> Response {
    let p: AuthorizeParams = match serde_urlencoded::from_bytes(&body) {
        Ok(p) => p,
        Err(e) => return error_page(&format!("the form could not be read: {e}")),
    };
    let scale = sb.time_scale();
    let outcome = sb.with_world(|w| -> Result<Result<String, &'static str>, String> {
        validate(w, d, &p)?;
        if p.decision.as_deref() == Some("deny") {
            return Ok(Err("access_denied"));
        }
        let username = p.username.as_deref().unwrap_or_default().trim();
        let password = p.password.as_deref().unwrap_or_default();
        let merchant_id = match w.merchant_by_login(d.series, username) {
            Some(m) if m.login.password == password => m.id.clone(),
            _ => return Ok(Err("login")),
        };
        let code = random_token(&mut w.rng, 40);
        w.codes.insert(
            code.clone(),
            AuthCode {
                client_id: p.client_id.clone().unwrap_or_default(),
                merchant_id,
                redirect_uri: p.redirect_uri.clone().unwrap_or_default(),
                scope: p.scope.clone().unwrap_or_default(),
                challenge: p.code_challenge.clone().map(|c| {
                    (
                        c,
                        p.code_challenge_method
                            .clone()
                            .unwrap_or_else(|| "plain".into()),
                    )
                }),
                expires: Instant::now() + scaled(CODE_SECS, scale),
                used: false,
                issued: Vec::new(),
            },
        );
        Ok(Ok(code))
    });
    let redirect_uri = p.redirect_uri.clone().unwrap_or_default();
    let state = p.state.clone().unwrap_or_default();
    let mut params: Vec<(&str, &str)> = Vec::new();
    match outcome {
        Err(e) => error_page(&e),
        Ok(Err("login")) => consent_page(d, &p, Some("The e-mail or password is incorrect.")),
        Ok(Err(error)) => {
            params.push(("error", error));
            if !state.is_empty() {
                params.push(("state", &state));
            }
            redirect_with(&redirect_uri, &params)
        }
        Ok(Ok(code)) => {
            params.push(("code", &code));
            if !state.is_empty() {
                params.push(("state", &state));
            }
            redirect_with(&redirect_uri, &params)
        }
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn issue(
    w: &mut World,
    scale: f64,
    client_id: &str,
    merchant_id: &str,
    scope: &str,
) -> (String, String) {
    let access = random_token(&mut w.rng, 48);
    let refresh = random_token(&mut w.rng, 48);
    w.access_tokens.insert(
        access.clone(),
        AccessToken {
            client_id: client_id.to_owned(),
            merchant_id: merchant_id.to_owned(),
            scope: scope.to_owned(),
            expires: Instant::now() + scaled(ACCESS_TOKEN_SECS, scale),
        },
    );
    w.refresh_tokens.insert(
        refresh.clone(),
        RefreshToken {
            client_id: client_id.to_owned(),
            merchant_id: merchant_id.to_owned(),
            scope: scope.to_owned(),
            expires: Instant::now() + scaled(REFRESH_IDLE_SECS, scale),
            used: false,
            revoke_on_use_of: None,
        },
    );
    w.stats.tokens_issued += 1;
    (access, refresh)
}

fn token_body(access: &str, refresh: &str, scope: &str, scale: f64) -> Response {
    let expires_in = (ACCESS_TOKEN_SECS / scale).round().max(1.0) as u64;
    json(
        StatusCode::OK,
        json!({
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": expires_in,
            "scope": scope,
        }),
    )
}

async fn token(
    d: &Dialect,
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scale = sb.time_scale();
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let params: HashMap<String, String> = if form_type {
        serde_urlencoded::from_bytes(&body).unwrap_or_default()
    } else {
        HashMap::new()
    };
    let (response, delay) = sb.with_world(|w| {
        w.count(d.series).requests += 1;
        let effect = faults::apply(&mut w.faults, None, true);
        if let Some(kind) = effect.fail {
            return (super::fault_response(w, kind, d.series), effect.delay);
        }
        (
            token_inner(w, d, scale, &headers, form_type, &params),
            effect.delay,
        )
    });
    super::delayed(delay, response).await
}

fn token_inner(
    w: &mut World,
    d: &Dialect,
    scale: f64,
    headers: &HeaderMap,
    form_type: bool,
    params: &HashMap<String, String>,
) -> Response {
    let Some((client_id, secret)) = basic_credentials(headers) else {
        let described = if params.contains_key("client_secret") || params.contains_key("client_id")
        {
            "Client credentials in the request body are not accepted: authenticate with HTTP Basic (client_id:client_secret)"
        } else {
            "Client authentication with HTTP Basic is required"
        };
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", described);
    };
    let valid_client = w
        .client(d.series, &client_id)
        .is_some_and(|c| c.client_secret == secret);
    if !valid_client {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Bad client credentials",
        );
    }
    if !form_type {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(w, scale, &client_id, params),
        Some("refresh_token") => refresh(w, scale, &client_id, params),
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type `{other}` is not supported"),
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
    }
}

fn exchange_code(
    w: &mut World,
    scale: f64,
    client_id: &str,
    params: &HashMap<String, String>,
) -> Response {
    let Some(code) = params.get("code") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is required",
        );
    };
    let Some(grant) = w.codes.get_mut(code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid authorization code",
        );
    };
    if grant.used {
        // A replayed code revokes everything issued from it (RFC 6749 §4.1.2).
        let issued = std::mem::take(&mut grant.issued);
        for t in issued {
            w.access_tokens.remove(&t);
            w.refresh_tokens.remove(&t);
        }
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Authorization code has already been used",
        );
    }
    if grant.client_id != client_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Authorization code was issued to another client",
        );
    }
    if grant.expires <= Instant::now() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Authorization code expired",
        );
    }
    if params.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        );
    }
    if let Some((challenge, method)) = &grant.challenge {
        let Some(verifier) = params.get("code_verifier") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "code_verifier is required for this authorization code",
            );
        };
        let computed = match method.as_str() {
            "S256" => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes())),
            _ => verifier.clone(),
        };
        if &computed != challenge {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "PKCE verification failed",
            );
        }
    }
    grant.used = true;
    let merchant_id = grant.merchant_id.clone();
    let scope = grant.scope.clone();
    let (access, refresh) = issue(w, scale, client_id, &merchant_id, &scope);
    if let Some(grant) = w.codes.get_mut(code) {
        grant.issued = vec![access.clone(), refresh.clone()];
    }
    token_body(&access, &refresh, &scope, scale)
}

fn refresh(
    w: &mut World,
    scale: f64,
    client_id: &str,
    params: &HashMap<String, String>,
) -> Response {
    let Some(token) = params.get("refresh_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        );
    };
    let (merchant_id, scope) = match w.refresh_tokens.get_mut(token) {
        None => {
            w.stats.refresh_rejected += 1;
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Invalid refresh token",
            );
        }
        Some(t) if t.used => {
            w.stats.refresh_rejected += 1;
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Refresh token has already been used",
            );
        }
        Some(t) if t.expires <= Instant::now() => {
            w.stats.refresh_rejected += 1;
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Refresh token expired",
            );
        }
        Some(t) if t.client_id != client_id => {
            w.stats.refresh_rejected += 1;
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Refresh token was issued to another client",
            );
        }
        Some(t) => {
            t.used = true;
            (t.merchant_id.clone(), t.scope.clone())
        }
    };
    w.stats.refreshes += 1;
    let (access, refresh) = issue(w, scale, client_id, &merchant_id, &scope);
    token_body(&access, &refresh, &scope, scale)
}
