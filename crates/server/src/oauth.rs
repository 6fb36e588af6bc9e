//! `GET /oauth/callback`: where the provider sends the merchant's browser back.

use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::html;
use tillbridge_engine::connections::{CallbackError, CallbackParams};

pub fn routes() -> Router<AppState> {
    Router::new().route("/oauth/callback", get(callback))
}

/// The page the browser lands on; `next` is the dashboard page of the connection, where the
/// merchant continues.
fn page(status: StatusCode, title: &str, body: &str, next: Option<&str>) -> Response {
    let body = html! {
        div.card {
            h1 #title { (title) }
            p #message { (body) }
            p {
                @if let Some(next) = next {
                    a #continue href=(next) { "Continue to Sales Channels" }
                } @else {
                    a href="/" { "Back to tillbridge" }
                }
            }
        }
    };
    crate::dashboard::respond(status, crate::dashboard::document(title, None, body))
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
            let next = format!(
                "/merchants/{}/channels/{}?done=connected",
                c.merchant_id, c.connection_id
            );
            page(
                StatusCode::OK,
                if c.reconnected {
                    "Reconnected"
                } else {
                    "Connected"
                },
                &message,
                Some(&next),
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
            page(status, "Connection not completed", &e.to_string(), None)
        }
    }
}
