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
    let runs_workers = s.workers.load(Ordering::Relaxed);
    let (started, alive) = s.engine.worker_health();
    let workers_ok = !runs_workers || (started > 0 && alive == started);
    let ready = database.is_ok() && workers_ok;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": if database.is_ok() { "ok" } else { "unreachable" },
        "workers": match (runs_workers, workers_ok) {
            (false, _) => "not running in this process".to_owned(),
            (true, true) => "running".to_owned(),
            (true, false) => format!("{alive} of {started} worker loops running"),
        },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Escapes a Prometheus label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn metrics(State(s): State<AppState>) -> Response {
    use tillbridge_lightspeed::http::{FAILURES, REQUESTS, THROTTLED};
    let mut out = String::new();
    let _ = writeln!(out, "# HELP tillbridge_up Whether the process is serving.\n# TYPE tillbridge_up gauge\ntillbridge_up 1");
    match s.engine.metrics_snapshot().await {
        Ok(m) => {
            let _ = writeln!(
                out,
                "# HELP tillbridge_jobs Jobs by state.\n# TYPE tillbridge_jobs gauge"
            );
            for (state, n) in &m.jobs_by_state {
                let _ = writeln!(out, "tillbridge_jobs{{state=\"{}\"}} {n}", label(state));
            }
            let _ = writeln!(out, "# HELP tillbridge_jobs_due Jobs waiting for a worker now (the queue depth).\n# TYPE tillbridge_jobs_due gauge\ntillbridge_jobs_due {}", m.jobs_due);
            let _ = writeln!(out, "# HELP tillbridge_sync_lag_seconds Seconds since every orders stream of the connection last finished a run.\n# TYPE tillbridge_sync_lag_seconds gauge");
            for (merchant, connection, lag) in &m.sync_lag_seconds {
                let _ = writeln!(
                    out,
                    "tillbridge_sync_lag_seconds{{merchant_id=\"{}\",connection_id=\"{}\"}} {lag}",
                    label(merchant),
                    label(connection)
                );
            }
            let _ = writeln!(out, "# HELP tillbridge_webhook_deliveries Deliveries to the app's webhook endpoints by status.\n# TYPE tillbridge_webhook_deliveries gauge");
            for (status, n) in &m.webhook_deliveries {
                let _ = writeln!(
                    out,
                    "tillbridge_webhook_deliveries{{status=\"{}\"}} {n}",
                    label(status)
                );
            }
            let _ = writeln!(out, "# HELP tillbridge_webhook_deliveries_retrying Pending deliveries that failed at least once.\n# TYPE tillbridge_webhook_deliveries_retrying gauge\ntillbridge_webhook_deliveries_retrying {}", m.webhook_deliveries_retrying);
            let _ = writeln!(out, "# HELP tillbridge_webhook_endpoints_disabled Endpoints disabled after failing for days.\n# TYPE tillbridge_webhook_endpoints_disabled gauge\ntillbridge_webhook_endpoints_disabled {}", m.webhook_endpoints_disabled);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: could not read the database figures"),
    }
    for (name, help, counter) in [
        (
            "tillbridge_lightspeed_requests_total",
            "Requests this process sent to Lightspeed.",
            &REQUESTS,
        ),
        (
            "tillbridge_lightspeed_throttled_total",
            "429 answers this process received from Lightspeed.",
            &THROTTLED,
        ),
        (
            "tillbridge_lightspeed_failures_total",
            "Transport errors and 5xx answers from Lightspeed.",
            &FAILURES,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    let (started, alive) = s.engine.worker_health();
    let _ = writeln!(out, "# HELP tillbridge_workers_alive Worker loops running in this process.\n# TYPE tillbridge_workers_alive gauge\ntillbridge_workers_alive {alive}\n# HELP tillbridge_workers_started Worker loops this process started.\n# TYPE tillbridge_workers_started gauge\ntillbridge_workers_started {started}");
    let db_up = i32::from(s.engine.store().ping().await.is_ok());
    let _ = writeln!(out, "# HELP tillbridge_database_up Whether the database answers.\n# TYPE tillbridge_database_up gauge\ntillbridge_database_up {db_up}");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
