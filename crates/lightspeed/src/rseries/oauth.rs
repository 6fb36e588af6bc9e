//! The R-Series OAuth dialect: PKCE (S256) at the authorize step, client credentials and the
//! verifier in a form body at the token step, and a refresh that rotates both tokens (never
//! sending `scope`, which the current server refuses on refresh).

use crate::error::LightspeedError;
use crate::oauth::{read_token_response, TokenSet};
use crate::secret::Secret;
use url::Url;

#[derive(Clone, Debug)]
pub struct ROAuthConfig {
    /// `https://cloud.lightspeedapp.com/auth/oauth/authorize`.
    pub authorize_url: Url,
    /// `https://cloud.lightspeedapp.com/auth/oauth/token`.
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
}

pub fn authorize_url(cfg: &ROAuthConfig, redirect_uri: &str, state: &str, challenge: &str) -> Url {
    let mut url = cfg.authorize_url.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("scope", &cfg.scopes)
        .append_pair("state", state)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url
}

pub async fn exchange_code(
    http: &reqwest::Client,
    cfg: &ROAuthConfig,
    code: &str,
    verifier: &Secret,
) -> Result<TokenSet, LightspeedError> {
    token_request(
        http,
        cfg,
        &[
            ("code", code),
            ("grant_type", "authorization_code"),
            ("code_verifier", verifier.expose()),
        ],
    )
    .await
}

pub async fn refresh(
    http: &reqwest::Client,
    cfg: &ROAuthConfig,
    refresh_token: &Secret,
) -> Result<TokenSet, LightspeedError> {
    token_request(
        http,
        cfg,
        &[
            ("refresh_token", refresh_token.expose()),
            ("grant_type", "refresh_token"),
        ],
    )
    .await
}

async fn token_request(
    http: &reqwest::Client,
    cfg: &ROAuthConfig,
    form: &[(&str, &str)],
) -> Result<TokenSet, LightspeedError> {
    let mut body: Vec<(&str, &str)> = form.to_vec();
    body.push(("client_id", &cfg.client_id));
    body.push(("client_secret", cfg.client_secret.expose()));
    let path = "/auth/oauth/token";
    let resp = http
        .post(cfg.token_url.clone())
        .form(&body)
        .send()
        .await
        .map_err(|e| LightspeedError::Transport {
            url: path.into(),
            detail: e.without_url().to_string(),
        })?;
    read_token_response(resp, path).await
}
