//! What the engine needs to know; the CLI fills it from defaults, a file and the environment.

use std::time::Duration;
use tillbridge_lightspeed::Secret;
use url::Url;

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Where this hub is reachable from a browser: the OAuth redirect is `{public_url}/oauth/callback`.
    pub public_url: Url,
    pub kseries: Option<KSeriesConfig>,
    pub xseries: Option<XSeriesConfig>,
    pub rseries: Option<RSeriesConfig>,
    pub oseries: Option<OSeriesConfig>,
    /// How far back the first sync reaches.
    pub backfill_days: i64,
    /// Refresh access tokens this long before they expire.
    pub refresh_buffer: Duration,
    /// How long a PKCE verifier (and so a connection attempt) stays valid.
    pub attempt_ttl: Duration,
    /// Incremental sync interval per stream.
    pub poll_interval: Duration,
    /// How often each connection's catalog (categories) is re-read.
    pub catalog_interval: Duration,
    /// How often event consumers (loyalty, …) run for time-driven work (daily checks,
    /// schedules) when no event woke them and their `next_run` asks for nothing sooner.
    pub consumer_interval: Duration,
    /// The first retry delay of an online order that could not reach the POS; it doubles
    /// for each of the five retries.
    pub order_retry_base: Duration,
    /// How often the POS is asked for the status of an online order (webhooks may be missing).
    pub order_reconcile_interval: Duration,
    /// Who gets alert mails (outages, orders that need manual handling); none: no mails.
    pub alert_recipients: Vec<String>,
    /// How alert mails leave the hub.
    pub mail: MailTransport,
    /// The sender of alert mails.
    pub mail_from: String,
    /// Each incremental sync re-reads this much before the last high-water mark, to catch
    /// late-closed and back-office-edited sales.
    pub incremental_overlap: Duration,
    /// Job lease length; a worker that dies loses its jobs after this.
    pub job_lease: Duration,
    /// Keep-alive: refresh idle connections at least this often.
    pub keepalive_interval: Duration,
    pub http_timeout: Duration,
    pub max_attempts: u32,
}

/// Where alert mails go.
#[derive(Clone, Debug)]
pub enum MailTransport {
    /// Mails stay queued (visible in the API) and are not sent.
    None,
    /// Each mail is written as an RFC 5322 `.eml` file into this directory (the demo's outbox).
    Directory(std::path::PathBuf),
    /// Sent through an SMTP relay: `smtp://host:port` (plain), `smtp+starttls://…` or
    /// `smtps://…`, with optional `user:password@`.
    Smtp { url: Secret },
}

#[derive(Clone, Debug)]
pub struct KSeriesConfig {
    /// `https://api.lsk.lightspeed.app` in production; the sandbox's `{url}/kseries` for tests.
    pub base_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
}

#[derive(Clone, Debug)]
pub struct XSeriesConfig {
    /// `https://secure.retail.lightspeed.app/connect` (the sandbox: `{url}/xseries/connect`).
    pub authorize_url: Url,
    /// A store's base URL with a `{domain_prefix}` placeholder.
    pub store_base: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The rate-limit window (X-Series: 5 minutes).
    pub rate_window: Duration,
}

/// O-Series: OAuth and API on one host (the sandbox's `{url}/oseries`); see
/// `tillbridge_lightspeed::oseries` for the dialect.
#[derive(Clone, Debug)]
pub struct OSeriesConfig {
    pub base_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
}

#[derive(Clone, Debug)]
pub struct RSeriesConfig {
    /// `https://cloud.lightspeedapp.com/auth/oauth/authorize`.
    pub authorize_url: Url,
    /// `https://cloud.lightspeedapp.com/auth/oauth/token`.
    pub token_url: Url,
    /// `https://api.lightspeedapp.com/API/V3`.
    pub api_base: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
}

impl EngineConfig {
    pub fn new(public_url: Url) -> Self {
        EngineConfig {
            public_url,
            kseries: None,
            xseries: None,
            rseries: None,
            oseries: None,
            backfill_days: 365,
            refresh_buffer: Duration::from_secs(300),
            attempt_ttl: Duration::from_secs(600),
            poll_interval: Duration::from_secs(60),
            catalog_interval: Duration::from_secs(900),
            consumer_interval: Duration::from_secs(5),
            order_retry_base: Duration::from_secs(10),
            order_reconcile_interval: Duration::from_secs(60),
            alert_recipients: Vec::new(),
            mail: MailTransport::None,
            mail_from: "tillbridge@localhost".into(),
            incremental_overlap: Duration::from_secs(2 * 3600),
            job_lease: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(24 * 3600),
            http_timeout: Duration::from_secs(30),
            max_attempts: 8,
        }
    }

    pub fn redirect_uri(&self) -> String {
        format!(
            "{}/oauth/callback",
            self.public_url.as_str().trim_end_matches('/')
        )
    }
}
