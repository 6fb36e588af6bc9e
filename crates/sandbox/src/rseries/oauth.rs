//! R-Series OAuth: `/auth/oauth/authorize` and `/auth/oauth/token`. Codes live 60 seconds;
//! PKCE is verified when a challenge was sent (required for clients without a secret); the
//! token endpoint takes form, multipart or JSON bodies with the client credentials in the body;
//! access tokens are JWTs (HS256 here, RS256 at Lightspeed; the sandbox publishes no JWKS); a
//! refresh returns a new pair, and the old refresh token is revoked when the new access token is
//! first used; refresh tokens expire after 30 days unused.

use crate::consent::{self, error_page, redirect_with};
use crate::faults;
use crate::http::json;
use crate::world::{random_token, redirect_allowed, AccessToken, AuthCode, RefreshToken, World};
use crate::Sandbox;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const ACCESS_TOKEN_SECS: f64 = 3600.0;
pub const REFRESH_IDLE_SECS: f64 = 30.0 * 86_400.0;
pub const CODE_SECS: f64 = 60.0;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route(
            "/rseries/auth/oauth/authorize",
            get(authorize_page).post(authorize_decision),
        )
        .route("/rseries/auth/oauth/token", post(token))
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

/// The redirect URI: the one sent (must be registered or loopback) or the client's first one.
fn redirect_for(w: &World, p: &AuthorizeParams) -> Result<String, String> {
    if p.response_type.as_deref() != Some("code") {
        return Err("response_type must be `code`".into());
    }
    let client_id = p.client_id.as_deref().ok_or("client_id is required")?;
    let client = w
        .client("r", client_id)
        .ok_or_else(|| format!("unknown client_id `{client_id}`"))?;
    if p.scope.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err("scope is required, e.g. employee:all".into());
    }
    if let Some(m) = p
        .code_challenge_method
        .as_deref()
        .filter(|m| !matches!(*m, "S256" | "plain"))
    {
        return Err(format!("unsupported code_challenge_method `{m}`"));
    }
    if client.client_secret.is_empty() && p.code_challenge.is_none() {
        return Err("PKCE is required for public clients: send code_challenge".into());
    }
    match p.redirect_uri.as_deref() {
        Some(r) if redirect_allowed(client, r) => Ok(r.to_owned()),
        Some(r) => Err(format!(
            "redirect_uri `{r}` is not registered for this client"
        )),
        None => {
            client.redirect_uris.first().cloned().ok_or_else(|| {
                "the client has no registered redirect URI; send redirect_uri".into()
            })
        }
    }
}

fn page(p: &AuthorizeParams, error: Option<&str>) -> Response {
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
        "Lightspeed Retail (R-Series)",
        "/rseries/auth/oauth/authorize",
        p.scope.as_deref().unwrap_or_default(),
        &hidden,
        error,
    )
}

async fn authorize_page(State(sb): State<Sandbox>, Query(p): Query<AuthorizeParams>) -> Response {
    match sb.with_world(|w| redirect_for(w, &p)) {
        Ok(_) => page(&p, None),
        Err(e) => error_page(&e),
    }
}

async fn authorize_decision(State(sb): State<Sandbox>, body: axum::body::Bytes) -> Response {
    let p: AuthorizeParams = match serde_urlencoded::from_bytes(&body) {
        Ok(p) => p,
        Err(e) => return error_page(&format!("the form could not be read: {e}")),
    };
    let scale = sb.time_scale();
    let outcome = sb.with_world(|w| -> Result<(String, Option<String>), String> {
        let redirect = redirect_for(w, &p)?;
        if p.decision.as_deref() == Some("deny") {
            return Ok((redirect, None));
        }
        let username = p.username.as_deref().unwrap_or_default().trim();
        let Some(m) = w
            .merchant_by_login("r", username)
            .filter(|m| Some(m.login.password.as_str()) == p.password.as_deref())
        else {
            return Err(String::new());
        };
        let merchant_id = m.id.clone();
        let code = random_token(&mut w.rng, 40);
        w.codes.insert(
            code.clone(),
            AuthCode {
                client_id: p.client_id.clone().unwrap_or_default(),
                merchant_id,
                redirect_uri: redirect.clone(),
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
        Ok((redirect, Some(code)))
    });
    let state = p.state.clone().unwrap_or_default();
    match outcome {
        Err(e) if e.is_empty() => page(&p, Some("The username or password is incorrect.")),
        Err(e) => error_page(&e),
        Ok((redirect, None)) => {
            redirect_with(&redirect, &[("error", "access_denied"), ("state", &state)])
        }
        Ok((redirect, Some(code))) => {
            redirect_with(&redirect, &[("code", &code), ("state", &state)])
        }
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// Reads a token request body: form-urlencoded, multipart or JSON.
async fn params(req: Request) -> Result<HashMap<String, String>, String> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| e.body_text())?;
        let mut out = HashMap::new();
        while let Some(field) = mp.next_field().await.map_err(|e| e.body_text())? {
            let name = field.name().unwrap_or_default().to_owned();
            let value = field.text().await.map_err(|e| e.body_text())?;
            out.insert(name, value);
        }
        return Ok(out);
    }
    let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    if content_type.starts_with("application/json") {
        let v: HashMap<String, Value> =
            serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        return Ok(v
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect());
    }
    serde_urlencoded::from_bytes(&bytes).map_err(|e| e.to_string())
}

async fn token(State(sb): State<Sandbox>, req: Request) -> Response {
    let scale = sb.time_scale();
    let params = match params(req).await {
        Ok(p) => p,
        Err(e) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("the request body could not be read: {e}"),
            )
        }
    };
    let (response, delay) = sb.with_world(|w| {
        w.count("r").requests += 1;
        let effect = faults::apply(&mut w.faults, None, true);
        if let Some(kind) = effect.fail {
            return (crate::kseries::fault_response(w, kind, "r"), effect.delay);
        }
        (token_inner(w, scale, &params), effect.delay)
    });
    crate::kseries::delayed(delay, response).await
}

fn token_inner(w: &mut World, scale: f64, p: &HashMap<String, String>) -> Response {
    let client_id = p.get("client_id").cloned().unwrap_or_default();
    let Some(client) = w.client("r", &client_id).cloned() else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    };
    if !client.client_secret.is_empty() && p.get("client_secret") != Some(&client.client_secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    match p.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = p.get("code").cloned().unwrap_or_default();
            let Some(grant) = w.codes.get_mut(&code) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Authorization code is invalid",
                );
            };
            if grant.used || grant.expires <= Instant::now() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Authorization code has expired or was already used",
                );
            }
            if grant.client_id != client_id {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Authorization code was not issued to this client",
                );
            }
            if let Some((challenge, method)) = &grant.challenge {
                let verifier = p.get("code_verifier").cloned().unwrap_or_default();
                let computed = if method == "S256" {
                    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier
                };
                if &computed != challenge {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Failed to verify `code_verifier`",
                    );
                }
            }
            grant.used = true;
            let (merchant_id, scope) = (grant.merchant_id.clone(), grant.scope.clone());
            issue(w, scale, &client_id, &merchant_id, &scope, None)
        }
        Some("refresh_token") => {
            if p.contains_key("scope") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The scope may not be changed when refreshing",
                );
            }
            let token = p.get("refresh_token").cloned().unwrap_or_default();
            let valid = w
                .refresh_tokens
                .get(&token)
                .filter(|t| t.expires > Instant::now() && t.client_id == client_id)
                .map(|t| (t.merchant_id.clone(), t.scope.clone()));
            let Some((merchant_id, scope)) = valid else {
                w.stats.refresh_rejected += 1;
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The refresh token is invalid.",
                );
            };
            w.stats.refreshes += 1;
            issue(w, scale, &client_id, &merchant_id, &scope, Some(&token))
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

/// Issues a JWT access token and a refresh token; a refresh marks the old refresh token for
/// revocation on the new access token's first use.
fn issue(
    w: &mut World,
    scale: f64,
    client_id: &str,
    merchant_id: &str,
    scope: &str,
    replaces: Option<&str>,
) -> Response {
    let account = w
        .merchants
        .get(merchant_id)
        .map(|m| m.business_id.to_string())
        .unwrap_or_default();
    let lifetime = scaled(ACCESS_TOKEN_SECS, scale);
    let now = chrono::Utc::now();
    let claims = json!({
        "jti": random_token(&mut w.rng, 24), "iss": "https://cloud.lightspeedapp.com", "aud": client_id, "sub": "1", "acct": account,
        "scope": scope, "iat": now.timestamp_millis() as f64 / 1000.0, "nbf": now.timestamp_millis() as f64 / 1000.0,
        "exp": (now.timestamp_millis() as f64 + lifetime.as_millis() as f64) / 1000.0,
    });
    let header = json!({ "alg": "HS256", "typ": "JWT", "kid": "SANDBOX_2026_01" });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = format!("tillbridge-sandbox-r-{}", w.seed);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(signing_input.as_bytes());
    let access = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    let refresh = random_token(&mut w.rng, 48);
    w.access_tokens.insert(
        access.clone(),
        AccessToken {
            client_id: client_id.to_owned(),
            merchant_id: merchant_id.to_owned(),
            scope: scope.to_owned(),
            expires: Instant::now() + lifetime,
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
    if let Some(old) = replaces.and_then(|r| w.refresh_tokens.get_mut(r)) {
        old.revoke_on_use_of = Some(access.clone());
    }
    w.stats.tokens_issued += 1;
    json(
        StatusCode::OK,
        json!({ "token_type": "Bearer", "expires_in": lifetime.as_secs().max(1), "access_token": access, "refresh_token": refresh }),
    )
}
