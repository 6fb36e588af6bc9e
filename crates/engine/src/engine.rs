use crate::clock::Clock;
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::ids::new_id;
use crate::vault::Vault;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tillbridge_lightspeed::http::RetryPolicy;
use tillbridge_lightspeed::kseries::oauth::KOAuthConfig;
use tillbridge_lightspeed::kseries::KClient;
use tillbridge_lightspeed::oseries::OClient;
use tillbridge_lightspeed::rseries::oauth::ROAuthConfig;
use tillbridge_lightspeed::rseries::RClient;
use tillbridge_lightspeed::xseries::oauth::XOAuthConfig;
use tillbridge_lightspeed::xseries::XClient;
use tillbridge_store::{PooledConn, Store};

/// Tax rates in basis points by tax id.
pub(crate) type TaxRates = Arc<HashMap<String, i64>>;

/// The engine: configuration, store, vault and the per-connection clients and locks.
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: EngineConfig,
    pub store: Store,
    pub vault: Vault,
    pub clock: Clock,
    pub http: reqwest::Client,
    /// Identifies this process in leases.
    pub instance: String,
    pub k_clients: Mutex<HashMap<String, KClient>>,
    pub x_clients: Mutex<HashMap<String, XClient>>,
    /// Each X-Series connection's tax rates, and when they were read (epoch ms).
    pub x_tax_rates: Mutex<HashMap<String, (i64, TaxRates)>>,
    pub r_clients: Mutex<HashMap<String, RClient>>,
    pub o_clients: Mutex<HashMap<String, OClient>>,
    pub refresh_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub consumers: std::sync::RwLock<Vec<Arc<dyn crate::consumers::Consumer>>>,
    /// Set when the process begins to stop: long jobs hand themselves back at the next page.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Worker loops started in this process, and those still running.
    pub workers_started: std::sync::atomic::AtomicUsize,
    pub workers_alive: Arc<std::sync::atomic::AtomicUsize>,
}

impl Engine {
    pub fn new(
        config: EngineConfig,
        store: Store,
        vault: Vault,
        clock: Clock,
    ) -> Result<Engine, EngineError> {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .user_agent(concat!("tillbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EngineError::Invalid(format!("could not build the HTTP client: {e}")))?;
        Ok(Engine {
            inner: Arc::new(Inner {
                config,
                store,
                vault,
                clock,
                http,
                instance: new_id("proc"),
                k_clients: Mutex::new(HashMap::new()),
                x_clients: Mutex::new(HashMap::new()),
                x_tax_rates: Mutex::new(HashMap::new()),
                r_clients: Mutex::new(HashMap::new()),
                o_clients: Mutex::new(HashMap::new()),
                refresh_locks: Mutex::new(HashMap::new()),
                consumers: std::sync::RwLock::new(Vec::new()),
                stopping: tokio::sync::watch::Sender::new(false),
                workers_started: std::sync::atomic::AtomicUsize::new(0),
                workers_alive: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn vault(&self) -> &Vault {
        &self.inner.vault
    }

    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// Asks running jobs to stop after the page they are writing; their workers hand them back
    /// to the queue, due at once, for another process to continue.
    pub fn begin_shutdown(&self) {
        self.inner.stopping.send_replace(true);
    }

    /// Resolves once [`Engine::begin_shutdown`] was called.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.inner.stopping.subscribe();
        // The sender lives as long as the engine, so the wait ends only by the flag.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// `ShuttingDown` once [`Engine::begin_shutdown`] was called; jobs check it between
    /// committed pages.
    pub(crate) fn continue_unless_stopping(&self) -> Result<(), EngineError> {
        if *self.inner.stopping.borrow() {
            Err(EngineError::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// Worker loops this process started and how many of them still run (a loop that ended
    /// by a panic no longer counts).
    pub fn worker_health(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::SeqCst;
        (
            self.inner.workers_started.load(SeqCst),
            self.inner.workers_alive.load(SeqCst),
        )
    }

    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub async fn conn(&self) -> Result<PooledConn, EngineError> {
        Ok(self.inner.store.conn().await?)
    }

    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.inner.config.max_attempts,
            ..RetryPolicy::default()
        }
    }

    /// The K-Series client for a connection (one pacer per connection).
    pub(crate) fn k_client(&self, connection_id: &str) -> Result<KClient, EngineError> {
        let cfg = self
            .inner
            .config
            .kseries
            .as_ref()
            .ok_or_else(|| not_configured("K-Series"))?;
        let mut clients = self
            .inner
            .k_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Ok(clients
            .entry(connection_id.to_owned())
            .or_insert_with(|| {
                KClient::new(
                    self.inner.http.clone(),
                    cfg.base_url.clone(),
                    self.retry_policy(),
                )
            })
            .clone())
    }

    /// Makes `client` the connection's K-Series client unless it has one already: the client
    /// that discovered a new connection hands on its pacer, with the budget it used.
    pub(crate) fn adopt_k_client(&self, connection_id: &str, client: KClient) {
        let mut clients = self
            .inner
            .k_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        clients.entry(connection_id.to_owned()).or_insert(client);
    }

    pub(crate) fn x_oauth(&self) -> Result<XOAuthConfig, EngineError> {
        let cfg = self
            .inner
            .config
            .xseries
            .as_ref()
            .ok_or_else(|| not_configured("X-Series"))?;
        Ok(XOAuthConfig {
            authorize_url: cfg.authorize_url.clone(),
            store_base: cfg.store_base.clone(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
        })
    }

    /// The X-Series client for a connection's store (one window budget per connection).
    pub(crate) fn x_client(
        &self,
        connection_id: &str,
        domain_prefix: &str,
    ) -> Result<XClient, EngineError> {
        let window = self
            .inner
            .config
            .xseries
            .as_ref()
            .ok_or_else(|| not_configured("X-Series"))?
            .rate_window;
        let store = self.x_oauth()?.store_url(domain_prefix)?;
        let mut clients = self
            .inner
            .x_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Ok(clients
            .entry(connection_id.to_owned())
            .or_insert_with(|| {
                XClient::new(self.inner.http.clone(), store, window, self.retry_policy())
            })
            .clone())
    }

    pub(crate) fn r_oauth(&self) -> Result<ROAuthConfig, EngineError> {
        let cfg = self
            .inner
            .config
            .rseries
            .as_ref()
            .ok_or_else(|| not_configured("R-Series"))?;
        Ok(ROAuthConfig {
            authorize_url: cfg.authorize_url.clone(),
            token_url: cfg.token_url.clone(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            scopes: cfg.scopes.clone(),
        })
    }

    /// The R-Series client for a connection (one leaky-bucket budget per connection).
    pub(crate) fn r_client(&self, connection_id: &str) -> Result<RClient, EngineError> {
        let base = self
            .inner
            .config
            .rseries
            .as_ref()
            .ok_or_else(|| not_configured("R-Series"))?
            .api_base
            .clone();
        let mut clients = self
            .inner
            .r_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Ok(clients
            .entry(connection_id.to_owned())
            .or_insert_with(|| RClient::new(self.inner.http.clone(), base, self.retry_policy()))
            .clone())
    }

    /// O-Series speaks the K-Series OAuth dialect on its own host.
    pub(crate) fn o_oauth(&self) -> Result<KOAuthConfig, EngineError> {
        let cfg = self
            .inner
            .config
            .oseries
            .as_ref()
            .ok_or_else(|| not_configured("O-Series"))?;
        Ok(KOAuthConfig {
            base_url: cfg.base_url.clone(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            scopes: cfg.scopes.clone(),
        })
    }

    pub(crate) fn o_client(&self, connection_id: &str) -> Result<OClient, EngineError> {
        let base = self
            .inner
            .config
            .oseries
            .as_ref()
            .ok_or_else(|| not_configured("O-Series"))?
            .base_url
            .clone();
        let mut clients = self
            .inner
            .o_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(connection_id) {
            return Ok(c.clone());
        }
        let client = OClient::new(self.inner.http.clone(), &base, self.retry_policy())?;
        clients.insert(connection_id.to_owned(), client.clone());
        Ok(client)
    }

    pub(crate) fn refresh_lock(&self, connection_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .refresh_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        locks.entry(connection_id.to_owned()).or_default().clone()
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }
}

pub(crate) fn not_configured(series: &str) -> EngineError {
    EngineError::Invalid(format!(
        "the {series} OAuth client is not configured: set client_id and client_secret under [lightspeed.{section}] in the config file \
         (or TILLBRIDGE_{env}_CLIENT_ID / TILLBRIDGE_{env}_CLIENT_SECRET)",
        section = series.to_lowercase().replace('-', ""),
        env = series.to_uppercase().replace('-', "")
    ))
}
