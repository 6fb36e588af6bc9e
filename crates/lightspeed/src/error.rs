use std::time::Duration;

/// What went wrong talking to Lightspeed. Messages say what happened and what to do; they
/// never include tokens or secrets.
#[derive(Debug, thiserror::Error)]
pub enum LightspeedError {
    #[error("could not reach Lightspeed at {url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("Lightspeed rate limit still exceeded after {attempts} attempts (last Retry-After {retry_after:?})")]
    RateLimited {
        attempts: u32,
        retry_after: Option<Duration>,
    },
    #[error("Lightspeed answered {status} for {path} after {attempts} attempts: {detail}")]
    Server {
        status: u16,
        path: String,
        attempts: u32,
        detail: String,
    },
    #[error("Lightspeed rejected the access token ({status}) for {path}: {detail}")]
    Unauthorized {
        status: u16,
        path: String,
        detail: String,
    },
    #[error("Lightspeed refused access to {path}: {detail}")]
    Forbidden { path: String, detail: String },
    #[error("Lightspeed rejected the request to {path} ({status}): {detail}")]
    BadRequest {
        status: u16,
        path: String,
        detail: String,
    },
    #[error("Lightspeed returned a response from {path} that could not be read: {detail}")]
    Malformed { path: String, detail: String },
    /// The token endpoint answered with an OAuth error (`invalid_grant`, `invalid_client`, …).
    #[error("Lightspeed's token endpoint answered {status} `{error}`: {description}")]
    OAuth {
        status: u16,
        error: String,
        description: String,
    },
}

impl LightspeedError {
    /// Worth retrying later (network trouble, throttling, 5xx); not a problem with the request.
    pub fn is_transient(&self) -> bool {
        match self {
            LightspeedError::Transport { .. }
            | LightspeedError::RateLimited { .. }
            | LightspeedError::Server { .. } => true,
            LightspeedError::OAuth { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The refresh token is dead (revoked, used, expired): the merchant must reconnect.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, LightspeedError::OAuth { error, .. } if error == "invalid_grant")
    }
}
