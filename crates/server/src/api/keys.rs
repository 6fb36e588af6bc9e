use crate::error::ApiError;
use crate::extract::{ApiJson, InstallationKey};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_engine::api_keys::CreatedKey;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    #[serde(default)]
    merchant_id: Option<String>,
}

pub async fn create(
    State(s): State<AppState>,
    _: InstallationKey,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.engine
                .create_api_key(&body.name, body.merchant_id.as_deref())
                .await?,
        ),
    ))
}

pub async fn list(State(s): State<AppState>, _: InstallationKey) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "api_keys": s.engine.api_keys(None).await? })))
}

pub async fn revoke(
    State(s): State<AppState>,
    _: InstallationKey,
    Path(key_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.engine.revoke_api_key(&key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
