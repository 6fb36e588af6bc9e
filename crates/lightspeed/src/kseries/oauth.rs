//! The K-Series OAuth dialect: the client authenticates at the token endpoint with HTTP Basic
//! only (never in the body); PKCE is accepted.

use crate::error::LightspeedError;
use crate::oauth::{read_token_response, TokenSet};
use crate::secret::Secret;
use url::Url;

#[derive(Clone, Debug)]
pub struct KOAuthConfig {
    /// API host, e.g. `https://api.lsk.lightspeed.app` (or the sandbox's `/kseries`).
    pub base_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
}

pub fn authorize_url(
    cfg: &KOAuthConfig,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> Result<Url, LightspeedError> {
    let mut url = join(&cfg.base_url, "oauth/authorize")?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("scope", &cfg.scopes)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(url)
}

pub(crate) fn join(base: &Url, path: &str) -> Result<Url, LightspeedError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    base.join(path).map_err(|e| LightspeedError::BadRequest {
        status: 0,
        path: path.into(),
        detail: format!("invalid base URL: {e}"),
    })
}

pub async fn exchange_code(
    http: &reqwest::Client,
    cfg: &KOAuthConfig,
    code: &str,
    redirect_uri: &str,
    verifier: &Secret,
) -> Result<TokenSet, LightspeedError> {
    token_request(
        http,
        cfg,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.expose()),
        ],
    )
    .await
}

pub async fn refresh(
    http: &reqwest::Client,
    cfg: &KOAuthConfig,
    refresh_token: &Secret,
) -> Result<TokenSet, LightspeedError> {
    token_request(
        http,
        cfg,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ],
    )
    .await
}

async fn token_request(
    http: &reqwest::Client,
    cfg: &KOAuthConfig,
    form: &[(&str, &str)],
) -> Result<TokenSet, LightspeedError> {
    let url = join(&cfg.base_url, "oauth/token")?;
    let path = "/oauth/token";
    let resp = http
        .post(url)
        .basic_auth(&cfg.client_id, Some(cfg.client_secret.expose()))
        .form(form)
        .send()
        .await
        .map_err(|e| LightspeedError::Transport {
            url: path.into(),
            detail: e.without_url().to_string(),
        })?;
    read_token_response(resp, path).await
}
