//! `/healthz` (the process is up), `/readyz` (the database answers and workers run where they
//! should), `/metrics` (Prometheus text), `/api/openapi.json`.

use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::fmt::Write;
use std::sync::atomic::Ordering;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/openapi.json",
            get(|| async { Json(crate::openapi::document()) }),
        )
}

async fn readyz(State(s): State<AppState>) -> Response {
    let database = s.engine.store().ping().await;
    let workers = s.workers.load(Ordering::Relaxed);
    let body = json!({
        "status": if database.is_ok() { "ready" } else { "not_ready" },
        "database": if database.is_ok() { "ok" } else { "unreachable" },
        "workers": if workers { "running" } else { "not running in this process" },
    });
    let status = if database.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    let mut out = String::new();
    let _ = writeln!(out, "# HELP tillbridge_up Whether the process is serving.\n# TYPE tillbridge_up gauge\ntillbridge_up 1");
    match s.engine.job_counts().await {
        Ok(counts) => {
            let _ = writeln!(
                out,
                "# HELP tillbridge_jobs Sync jobs by state.\n# TYPE tillbridge_jobs gauge"
            );
            for (state, n) in counts {
                let _ = writeln!(out, "tillbridge_jobs{{state=\"{state}\"}} {n}");
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: could not count jobs"),
    }
    let db_up = i32::from(s.engine.store().ping().await.is_ok());
    let _ = writeln!(out, "# HELP tillbridge_database_up Whether the database answers.\n# TYPE tillbridge_database_up gauge\ntillbridge_database_up {db_up}");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
