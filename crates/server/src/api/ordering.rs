//! `/api/v1/merchants/{m}/online-orders`: submit an online order (idempotent on the channel
//! order id) and read orders with their status history; `/ordering/…`: settings (the switch),
//! readiness checks and the outage banner. Orders are read-only here: while the
//! integration is active, staff act on them in the POS.

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_ordering::orders::{self, OrderView, SubmitError};
use tillbridge_ordering::readiness::{self, PutError, Readiness, Settings, SettingsView};
use tillbridge_ordering::request::OrderRequest;

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Rejected(problems) => {
                let first = problems
                    .first()
                    .map(|p| format!("{}: {}", p.field, p.message))
                    .unwrap_or_default();
                let reason = problems.first().map_or("other", |p| p.reason.as_str());
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "order_rejected",
                    format!(
                        "the order was rejected ({reason}) and nothing was sent to the POS: {first}{}",
                        if problems.len() > 1 {
                            format!(" (and {} more problems in details)", problems.len() - 1)
                        } else {
                            String::new()
                        }
                    ),
                )
                .with_details(json!({ "reason": reason, "problems": problems }))
            }
            SubmitError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            SubmitError::Prerequisite(m) => {
                ApiError::new(StatusCode::CONFLICT, "prerequisite_missing", m)
            }
            SubmitError::Engine(e) => e.into(),
        }
    }
}

pub async fn submit(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<OrderRequest>,
) -> Result<(StatusCode, Json<OrderView>), ApiError> {
    caller.may_access(&merchant_id)?;
    let (view, created) = orders::submit(&s.engine, &merchant_id, body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    #[serde(default)]
    needs_manual_handling: bool,
    limit: Option<i64>,
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let list = orders::list(
        &s.engine,
        &merchant_id,
        q.status.as_deref(),
        q.needs_manual_handling,
        q.limit.unwrap_or(100),
    )
    .await?;
    Ok(Json(json!({ "online_orders": list })))
}

pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, order_id)): Path<(String, String)>,
) -> Result<Json<OrderView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(orders::get(&s.engine, &merchant_id, &order_id).await?))
}

/// The ordering banner: outages per connection (partner outage, credentials issue with the
/// reconnect prompt), orders waiting for manual handling, the latest alert mails.
pub async fn status(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<tillbridge_ordering::outage::Status>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        tillbridge_ordering::outage::status(&s.engine, &merchant_id).await?,
    ))
}

/// The ordering settings: whether online orders are taken and the payment method per
/// connection.
pub async fn get_settings(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<SettingsView>, ApiError> {
    caller.may_access(&merchant_id)?;
    s.engine.merchant(&merchant_id).await?;
    Ok(Json(readiness::settings(&s.engine, &merchant_id).await?))
}

/// Saves the settings; switching ordering on answers 409 `prerequisite_missing` with the
/// readiness checks in `details` when a location is not ready, and changes nothing.
pub async fn put_settings(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<Settings>,
) -> Result<Json<SettingsView>, ApiError> {
    caller.may_access(&merchant_id)?;
    match readiness::put(&s.engine, &merchant_id, body).await {
        Ok(view) => Ok(Json(view)),
        Err(PutError::Engine(e)) => Err(e.into()),
        Err(PutError::NotReady(r)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "prerequisite_missing",
            format!(
                "online ordering was not enabled: {} (every check is in details)",
                r.summary()
            ),
        )
        .with_details(json!(r))),
    }
}

/// The prerequisites of every mapped location, checked now against the POS.
pub async fn readiness(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<Readiness>, ApiError> {
    caller.may_access(&merchant_id)?;
    let settings = readiness::settings(&s.engine, &merchant_id).await?.settings;
    Ok(Json(
        readiness::check(&s.engine, &merchant_id, &settings).await?,
    ))
}
