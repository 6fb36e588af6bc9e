//! `GET /oauth/callback`: where the provider sends the merchant's browser back.

use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tillbridge_engine::connections::{CallbackError, CallbackParams};

pub fn routes() -> Router<AppState> {
    Router::new().route("/oauth/callback", get(callback))
}

fn escape(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t} · tillbridge</title></head>\
         <body><main><h1 id=\"title\">{t}</h1><p id=\"message\">{b}</p><p><a href=\"/\">Back to tillbridge</a></p></main></body></html>",
        t = escape(title),
        b = escape(body)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

async fn callback(
    State(s): State<AppState>,
    params: Result<Query<CallbackParams>, QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or_default();
    match s.engine.handle_callback(params).await {
        Ok(c) => {
            let who = c
                .account_name
                .as_deref()
                .unwrap_or("your Lightspeed account");
            let message = if c.status == "connected" {
                format!("tillbridge is now connected to {who} (connection {}). Map your locations to start syncing. You can close this window.", c.connection_id)
            } else {
                format!("The sign-in worked, but Business ID is missing: tillbridge could not read the business. Use Reconnect on connection {} to try again.", c.connection_id)
            };
            page(
                StatusCode::OK,
                if c.reconnected {
                    "Reconnected"
                } else {
                    "Connected"
                },
                &message,
            )
        }
        Err(e) => {
            let status = match e {
                CallbackError::Internal(ref detail) => {
                    tracing::error!(error = %detail, "OAuth callback failed");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                CallbackError::Exchange(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_REQUEST,
            };
            page(status, "Connection not completed", &e.to_string())
        }
    }
}
