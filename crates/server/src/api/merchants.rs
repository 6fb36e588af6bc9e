use crate::error::ApiError;
use crate::extract::{ApiJson, Caller, InstallationKey};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_engine::merchants::{Location, Merchant, NewLocation, NewMerchant};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMerchant {
    name: String,
    timezone: String,
    currency: String,
}

pub async fn create(
    State(s): State<AppState>,
    _: InstallationKey,
    ApiJson(body): ApiJson<CreateMerchant>,
) -> Result<(StatusCode, Json<Merchant>), ApiError> {
    let m = s
        .engine
        .create_merchant(NewMerchant {
            name: body.name,
            timezone: body.timezone,
            currency: body.currency,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(m)))
}

pub async fn list(State(s): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let all = s.engine.merchants().await?;
    let visible: Vec<Merchant> = all
        .into_iter()
        .filter(|m| caller.may_access(&m.id).is_ok())
        .collect();
    Ok(Json(json!({ "merchants": visible })))
}

pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<Merchant>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(s.engine.merchant(&merchant_id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLocation {
    name: String,
    timezone: String,
    #[serde(default)]
    business_day_start: Option<String>,
}

pub async fn create_location(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<CreateLocation>,
) -> Result<(StatusCode, Json<Location>), ApiError> {
    caller.may_access(&merchant_id)?;
    let l = s
        .engine
        .create_location(
            &merchant_id,
            NewLocation {
                name: body.name,
                timezone: body.timezone,
                business_day_start: body.business_day_start,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(l)))
}

pub async fn list_locations(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        json!({ "locations": s.engine.locations(&merchant_id).await? }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapLocation {
    connection_id: String,
    pos_location_id: String,
}

pub async fn map_location(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, location_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MapLocation>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    s.engine
        .map_location(
            &merchant_id,
            &location_id,
            &body.connection_id,
            &body.pos_location_id,
        )
        .await?;
    Ok(Json(
        json!({ "location_id": location_id, "connection_id": body.connection_id, "pos_location_id": body.pos_location_id.trim() }),
    ))
}
