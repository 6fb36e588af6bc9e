//! The X-Series OAuth dialect: authorize at the connect URL (no PKCE, `state` of at least 8
//! characters), the callback names the store's `domain_prefix`, and the token endpoint on the
//! store's host takes the client credentials in the form body.

use crate::error::LightspeedError;
use crate::oauth::{read_token_response, TokenSet};
use crate::secret::Secret;
use url::Url;

#[derive(Clone, Debug)]
pub struct XOAuthConfig {
    /// `https://secure.retail.lightspeed.app/connect` (or the sandbox's `/xseries/connect`).
    pub authorize_url: Url,
    /// The store's base with a `{domain_prefix}` placeholder:
    /// `https://{domain_prefix}.retail.lightspeed.app` (or `{sandbox}/xseries/{domain_prefix}`).
    pub store_base: String,
    pub client_id: String,
    pub client_secret: Secret,
}

impl XOAuthConfig {
    pub fn store_url(&self, domain_prefix: &str) -> Result<Url, LightspeedError> {
        if !super::valid_domain_prefix(domain_prefix) {
            return Err(LightspeedError::BadRequest {
                status: 0,
                path: "domain_prefix".into(),
                detail: format!("`{domain_prefix}` is not a valid store domain prefix"),
            });
        }
        let raw = self.store_base.replace("{domain_prefix}", domain_prefix);
        Url::parse(&format!("{}/", raw.trim_end_matches('/'))).map_err(|e| {
            LightspeedError::BadRequest {
                status: 0,
                path: "store_base".into(),
                detail: e.to_string(),
            }
        })
    }
}

pub fn authorize_url(cfg: &XOAuthConfig, redirect_uri: &str, state: &str) -> Url {
    let mut url = cfg.authorize_url.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state);
    url
}

pub async fn exchange_code(
    http: &reqwest::Client,
    cfg: &XOAuthConfig,
    domain_prefix: &str,
    code: &str,
    redirect_uri: &str,
) -> Result<TokenSet, LightspeedError> {
    token_request(
        http,
        cfg,
        domain_prefix,
        &[
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect_uri),
        ],
    )
    .await
}

pub async fn refresh(
    http: &reqwest::Client,
    cfg: &XOAuthConfig,
    domain_prefix: &str,
    refresh_token: &Secret,
) -> Result<TokenSet, LightspeedError> {
    token_request(
        http,
        cfg,
        domain_prefix,
        &[
            ("refresh_token", refresh_token.expose()),
            ("grant_type", "refresh_token"),
        ],
    )
    .await
}

async fn token_request(
    http: &reqwest::Client,
    cfg: &XOAuthConfig,
    domain_prefix: &str,
    form: &[(&str, &str)],
) -> Result<TokenSet, LightspeedError> {
    let url = cfg
        .store_url(domain_prefix)?
        .join("api/1.0/token")
        .map_err(|e| LightspeedError::BadRequest {
            status: 0,
            path: "/api/1.0/token".into(),
            detail: e.to_string(),
        })?;
    let path = "/api/1.0/token";
    let mut body: Vec<(&str, &str)> = form.to_vec();
    body.push(("client_id", &cfg.client_id));
    body.push(("client_secret", cfg.client_secret.expose()));
    let resp = http
        .post(url)
        .form(&body)
        .send()
        .await
        .map_err(|e| LightspeedError::Transport {
            url: path.into(),
            detail: e.without_url().to_string(),
        })?;
    read_token_response(resp, path).await
}
