use crate::error::ApiError;
use crate::extract::{ApiJson, Caller};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_engine::connections::{ConnectStart, ConnectionView};
use tillbridge_model::Series;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartConnect {
    series: String,
}

pub async fn start(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<StartConnect>,
) -> Result<(StatusCode, Json<ConnectStart>), ApiError> {
    caller.may_access(&merchant_id)?;
    let series: Series =
        body.series
            .parse()
            .map_err(|e: tillbridge_model::series::UnknownSeries| {
                ApiError::bad_request(e.to_string())
            })?;
    Ok((
        StatusCode::CREATED,
        Json(s.engine.start_connect(&merchant_id, series, None).await?),
    ))
}

pub async fn reconnect(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, connection_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<ConnectStart>), ApiError> {
    caller.may_access(&merchant_id)?;
    let existing = s.engine.connection(&merchant_id, &connection_id).await?;
    let series: Series =
        existing
            .series
            .parse()
            .map_err(|e: tillbridge_model::series::UnknownSeries| {
                ApiError::bad_request(e.to_string())
            })?;
    Ok((
        StatusCode::CREATED,
        Json(
            s.engine
                .start_connect(&merchant_id, series, Some(&connection_id))
                .await?,
        ),
    ))
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        json!({ "connections": s.engine.connections(&merchant_id).await? }),
    ))
}

pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, connection_id)): Path<(String, String)>,
) -> Result<Json<ConnectionView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        s.engine.connection(&merchant_id, &connection_id).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disconnect {
    confirm: String,
}

pub async fn disconnect(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, connection_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Disconnect>,
) -> Result<Json<ConnectionView>, ApiError> {
    caller.may_access(&merchant_id)?;
    s.engine
        .disconnect(&merchant_id, &connection_id, &body.confirm)
        .await?;
    Ok(Json(
        s.engine.connection(&merchant_id, &connection_id).await?,
    ))
}

pub async fn test(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, connection_id)): Path<(String, String)>,
) -> Result<Json<ConnectionView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        s.engine
            .test_connection(&merchant_id, &connection_id)
            .await?,
    ))
}

pub async fn sync_now(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, connection_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.may_access(&merchant_id)?;
    let woken = s.engine.sync_now(&merchant_id, &connection_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "streams_scheduled": woken })),
    ))
}

pub async fn log(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, connection_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        json!({ "entries": s.engine.connection_log(&merchant_id, &connection_id).await? }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalToken {
    series: String,
    domain_prefix: String,
    token: String,
}

pub async fn personal_token(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<PersonalToken>,
) -> Result<(StatusCode, Json<ConnectionView>), ApiError> {
    caller.may_access(&merchant_id)?;
    if body.series.parse::<Series>().ok() != Some(Series::X) {
        return Err(ApiError::bad_request(format!(
            "personal tokens exist only for X-Series (series \"x\"), not `{}`",
            body.series
        )));
    }
    Ok((
        StatusCode::CREATED,
        Json(
            s.engine
                .connect_personal_token(&merchant_id, &body.domain_prefix, &body.token)
                .await?,
        ),
    ))
}
