//! `/api/v1/webhook-endpoints`: where the embedding app receives events as signed webhooks.
//! An installation key manages every endpoint (one without `merchant_id` receives every
//! merchant's events); a merchant key only its merchant's, and its endpoints are always its
//! merchant's.

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_engine::outbound::{
    DeliveryView, EndpointPatch, EndpointView, EndpointWithSecret, NewEndpoint,
};

impl Caller {
    /// The merchant a merchant key is limited to; `None` for an installation key.
    fn owner(&self) -> Option<&str> {
        self.0.merchant_id.as_deref()
    }
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(mut body): ApiJson<NewEndpoint>,
) -> Result<(StatusCode, Json<EndpointWithSecret>), ApiError> {
    if let Some(own) = caller.owner() {
        match &body.merchant_id {
            Some(m) => caller.may_access(m)?,
            None => body.merchant_id = Some(own.to_owned()),
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(s.engine.create_webhook_endpoint(body).await?),
    ))
}

pub async fn list(State(s): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "webhook_endpoints": s.engine.webhook_endpoints(caller.owner()).await? }),
    ))
}

pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(s.engine.webhook_endpoint(caller.owner(), &id).await?))
}

pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EndpointPatch>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(
        s.engine
            .update_webhook_endpoint(caller.owner(), &id, body)
            .await?,
    ))
}

pub async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.engine
        .delete_webhook_endpoint(caller.owner(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rotate(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EndpointWithSecret>, ApiError> {
    Ok(Json(
        s.engine.rotate_webhook_secret(caller.owner(), &id).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    status: Option<String>,
    limit: Option<i64>,
}

pub async fn deliveries(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Value>, ApiError> {
    let list = s
        .engine
        .webhook_deliveries(
            caller.owner(),
            &id,
            q.status.as_deref(),
            q.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(json!({ "deliveries": list })))
}

pub async fn redeliver(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(
            s.engine
                .redeliver_webhook(caller.owner(), &id, &delivery_id)
                .await?,
        ),
    ))
}
