//! tillbridge-sandbox: an offline, deterministic Lightspeed you can develop and test against.
//!
//! It serves each series under its own base path on one listener (`/kseries`, …) with the real
//! paths, field names, quirks, OAuth dialect, rate limiting and error bodies, plus what the real
//! one lacks: a seeded data generator, a consent page, fault injection, and a ground-truth
//! endpoint, all under `/_sandbox/`. It shares no code with the tillbridge client on purpose:
//! bugs on the two sides must not cancel out.

mod consent;
mod control;
mod faults;
mod generate;
mod http;
mod kseries;
mod online_sales;
mod oseries;
mod ratelimit;
mod rseries;
pub mod samples;
mod truth;
mod webhooks;
mod wire;
mod world;
mod xseries;

use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

pub use ratelimit::{least_time, sustained_rate};
pub use world::SandboxClient;
pub use xseries::WINDOW_SECS as X_WINDOW_SECS;

/// How the sandbox runs.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Seed for every generated merchant; the same seed gives the same data.
    pub seed: u64,
    /// Divides token lifetimes and rate-limit windows (and multiplies refill rates), so tests
    /// can exercise expiry and pacing quickly. 1.0 is real time.
    pub time_scale: f64,
    /// `false` turns every series' rate limiter off (no budget is charged, nothing answers
    /// 429 except an injected storm): benchmarks measure the hub's own speed with it.
    pub rate_limits: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 42,
            time_scale: 1.0,
            rate_limits: true,
        }
    }
}

/// A running simulator's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Sandbox {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: SandboxConfig,
    pub world: Mutex<world::World>,
    pub base_url: Mutex<String>,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Self {
        let world = world::World::new(&config);
        Sandbox {
            inner: Arc::new(Inner {
                config,
                world: Mutex::new(world),
                base_url: Mutex::new(String::from("http://127.0.0.1")),
            }),
        }
    }

    /// The HTTP routes of every dialect and the control API.
    pub fn router(&self) -> Router {
        Router::new()
            .merge(kseries::routes())
            .merge(xseries::routes())
            .merge(rseries::routes())
            .merge(oseries::routes())
            .merge(control::routes())
            .with_state(self.clone())
    }

    /// Serves on an already bound listener until the task is dropped.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        self.set_base_url(&format!("http://{addr}"));
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }

    pub fn set_base_url(&self, url: &str) {
        if let Ok(mut base) = self.inner.base_url.lock() {
            *base = url.trim_end_matches('/').to_owned();
        }
    }

    pub(crate) fn base_url(&self) -> String {
        self.inner
            .base_url
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default()
    }

    /// Runs `f` with the world locked. A poisoned lock is recovered: the world holds plain data.
    pub(crate) fn with_world<T>(&self, f: impl FnOnce(&mut world::World) -> T) -> T {
        let mut guard = match self.inner.world.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    pub(crate) fn time_scale(&self) -> f64 {
        self.inner.config.time_scale
    }
}
