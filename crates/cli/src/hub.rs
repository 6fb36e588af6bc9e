//! Starting the hub: store, vault, engine, HTTP server and workers.

use crate::config::Config;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tillbridge_engine::{Clock, Engine, Vault};
use tillbridge_server::AppState;
use tillbridge_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Hub {
    pub engine: Engine,
    pub url: url::Url,
    pub addr: std::net::SocketAddr,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

/// Which parts of the hub run in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roles {
    All,
    NoWorkers,
}

pub async fn open_vault(config: &Config) -> Result<Vault> {
    let mut vault = match &config.vault.master_key {
        Some(key) => {
            Vault::from_base64(key.expose()).context("TILLBRIDGE_MASTER_KEY is not usable")?
        }
        None => Vault::load_or_create(Path::new(&config.vault.key_file))
            .context("the vault key file is not usable")?,
    };
    for (i, older) in config.vault.previous_keys.iter().enumerate() {
        vault = vault.with_previous(older.expose()).with_context(|| {
            format!(
                "previous key #{} (TILLBRIDGE_MASTER_KEY_PREVIOUS) is not usable",
                i + 1
            )
        })?;
    }
    Ok(vault)
}

pub async fn open_store(config: &Config) -> Result<Store> {
    Store::connect(&config.database.url)
        .await
        .context("failed to open the database")
}

/// The engine over the configured database and vault; `addr` is where this process listens.
pub async fn open_engine(
    config: &Config,
    addr: Option<std::net::SocketAddr>,
    clock: Clock,
) -> Result<Engine> {
    let url = config.public_url(addr)?;
    let store = open_store(config).await?;
    let vault = open_vault(config).await?;
    let engine = Engine::new(config.engine_config(url)?, store, vault, clock)?;
    // The modules that apply the event log, each with its own cursor.
    engine
        .register_consumer(std::sync::Arc::new(tillbridge_loyalty::purchases::Consumer))
        .await?;
    engine
        .register_consumer(std::sync::Arc::new(tillbridge_labor::consumer::Consumer))
        .await?;
    engine
        .register_consumer(std::sync::Arc::new(tillbridge_ordering::Consumer))
        .await?;
    // The event log, pushed to the app's webhook endpoints.
    engine
        .register_consumer(std::sync::Arc::new(
            tillbridge_engine::outbound::WebhookConsumer,
        ))
        .await?;
    Ok(engine)
}

pub async fn start(
    config: &Config,
    listener: TcpListener,
    roles: Roles,
    clock: Clock,
) -> Result<Hub> {
    let addr = listener.local_addr()?;
    let engine = open_engine(config, Some(addr), clock).await?;
    let url = engine.config().public_url.clone();
    let (tx, rx) = watch::channel(false);
    let run_workers = roles == Roles::All && config.server.workers > 0;
    let workers = if run_workers {
        engine.spawn_workers(config.server.workers, rx.clone())
    } else {
        Vec::new()
    };
    let state = AppState {
        engine: engine.clone(),
        workers: Arc::new(AtomicBool::new(run_workers)),
    };
    let mut shutdown_rx = rx;
    let server = tokio::spawn(tillbridge_server::serve(listener, state, async move {
        let _ = shutdown_rx.wait_for(|stop| *stop).await;
    }));
    tracing::info!(%url, workers = run_workers, "tillbridge is serving");
    Ok(Hub {
        engine,
        url,
        addr,
        shutdown: tx,
        server,
        workers,
    })
}

impl Hub {
    /// Stops accepting requests, lets workers finish the job in hand, and closes the database.
    pub async fn stop(self) -> Result<()> {
        let _ = self.shutdown.send(true);
        for w in self.workers {
            let _ = w.await;
        }
        self.server.await.context("server task failed")??;
        self.engine.store().close().await;
        Ok(())
    }
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM — what service managers and container
/// runtimes send to stop a process.
pub async fn shutdown_signal() -> Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}
