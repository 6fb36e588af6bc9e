//! tillbridge HTTP server: the REST API under `/api/v1`, the dashboard, the OAuth callback,
//! health, readiness and metrics. Handlers are thin: extract, call the engine, map the result.

mod api;
mod dashboard;
mod error;
mod extract;
mod oauth;
pub mod openapi;
mod ops;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tillbridge_engine::Engine;
use tokio::net::TcpListener;

pub use error::ApiError;

/// Largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// Whether this process runs workers (readiness reports them).
    pub workers: Arc<AtomicBool>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes(state.clone()))
        .merge(dashboard::routes(state.clone()))
        .merge(oauth::routes())
        .merge(ops::routes())
        .merge(webhooks::routes())
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
