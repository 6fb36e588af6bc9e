//! `/webhooks/lightspeed/{series}/…`: verify, record once, acknowledge; processing is the
//! connection's sync job, which the delivery makes due.

use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tillbridge_engine::ingress::kseries::KDelivery;
use tillbridge_engine::ingress::{IngressError, Unverified};
use tillbridge_lightspeed::webhook;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/lightspeed/x/{connection_id}/{token}",
            post(xseries),
        )
        .route("/webhooks/lightspeed/o/{connection_id}", post(oseries))
        .route("/webhooks/lightspeed/k/{connection_id}", post(kseries))
}

fn bad_body(e: webhook::WebhookError) -> ApiError {
    ApiError::bad_request(format!("{e}; nothing was stored"))
}

fn ingress_error(e: IngressError) -> ApiError {
    match e {
        IngressError::Unauthorized => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the webhook's URL or credentials are not valid; nothing was stored",
        ),
        IngressError::Engine(e) => e.into(),
    }
}

async fn xseries(
    State(s): State<AppState>,
    Path((connection_id, token)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let unverified = Unverified {
        connection_id,
        token,
        body,
    };
    let verified = unverified.verify(&s.engine).await.map_err(ingress_error)?;
    let verified = verified.try_map(|body| webhook::xseries(&body).map_err(bad_body))?;
    let accepted = s
        .engine
        .accept_x_webhook(verified)
        .await
        .map_err(ingress_error)?;
    Ok(Json(
        json!({ "received": true, "duplicate": accepted.duplicate }),
    ))
}

async fn oseries(
    State(s): State<AppState>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let signature = headers
        .get("x-oseries-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let unverified = Unverified {
        connection_id,
        token: signature,
        body: body.to_vec(),
    };
    let verified = unverified
        .verify_o_signature(&s.engine)
        .await
        .map_err(ingress_error)?;
    let verified = verified.try_map(|body| webhook::oseries(&body).map_err(bad_body))?;
    let accepted = s
        .engine
        .accept_webhook(verified)
        .await
        .map_err(ingress_error)?;
    Ok(Json(
        json!({ "received": true, "duplicate": accepted.duplicate }),
    ))
}

async fn kseries(
    State(s): State<AppState>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let unverified = Unverified {
        connection_id,
        token: String::new(),
        body: KDelivery {
            authorization: header("authorization"),
            idempotency_key: header("x-lightspeed-idempotency-key"),
            body: body.to_vec(),
        },
    };
    let verified = unverified
        .verify_k_basic(&s.engine)
        .await
        .map_err(ingress_error)?;
    let verified = verified
        .try_map(|d| webhook::kseries(d.idempotency_key.as_deref(), &d.body).map_err(bad_body))?;
    let accepted = s
        .engine
        .accept_webhook(verified)
        .await
        .map_err(ingress_error)?;
    Ok(Json(
        json!({ "received": true, "duplicate": accepted.duplicate }),
    ))
}
