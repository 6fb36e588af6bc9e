//! OAuth 2.0 primitives shared by the series dialects: PKCE and the token response.

use crate::error::LightspeedError;
use crate::secret::Secret;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A PKCE pair: an 86-character URL-safe verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    pub const VERIFIER_LEN: usize = 86;

    /// Builds the pair from 86 characters of the unreserved alphabet drawn by the caller's
    /// cryptographic RNG.
    pub fn from_verifier(verifier: String) -> Self {
        let challenge = challenge_s256(&verifier);
        Pkce {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

pub fn challenge_s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A successful token response.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct RawToken {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Reads a token endpoint response: an OAuth error body becomes [`LightspeedError::OAuth`],
/// a 200 without `access_token` becomes a clear error instead of a panic.
pub(crate) async fn read_token_response(
    resp: reqwest::Response,
    path: &str,
) -> Result<TokenSet, LightspeedError> {
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| LightspeedError::Transport {
        url: path.into(),
        detail: e.to_string(),
    })?;
    let raw: Option<RawToken> = serde_json::from_str(&text).ok();
    if !(200..300).contains(&status) {
        let (error, description) = match raw {
            Some(RawToken {
                error: Some(e),
                error_description,
                ..
            }) => (e, error_description.unwrap_or_default()),
            _ => (format!("http_{status}"), crate::http::snippet(&text)),
        };
        return Err(LightspeedError::OAuth {
            status,
            error,
            description,
        });
    }
    let raw = raw.ok_or_else(|| LightspeedError::Malformed {
        path: path.into(),
        detail: format!(
            "token response is not JSON: {}",
            crate::http::snippet(&text)
        ),
    })?;
    let access =
        raw.access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| LightspeedError::Malformed {
                path: path.into(),
                detail: "token response has no access_token".into(),
            })?;
    let expires_in = match raw.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Ok(TokenSet {
        access_token: Secret::new(access),
        refresh_token: raw.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
        expires_in,
        scope: raw.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_example() {
        assert_eq!(
            challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
