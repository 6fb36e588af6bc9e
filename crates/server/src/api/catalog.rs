//! `/api/v1/merchants/{m}/catalog`: the unified catalog (every connection's items per POS
//! location, with price, tax, category, availability, descriptions, allergens and picture),
//! and writes of items and rich data to the POS where the series allows it (K-Series). A write
//! answers with what the POS took; the catalog shows it once the catalog run it schedules has
//! read it back.

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_engine::catalog::{ItemInput, RichInput};
use tillbridge_store::ordering::ItemDescription;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogQuery {
    connection_id: Option<String>,
    pos_location_id: Option<String>,
    sku: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<CatalogQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let items = s
        .engine
        .catalog(
            &merchant_id,
            q.connection_id.as_deref(),
            q.pos_location_id.as_deref(),
            q.sku.as_deref(),
        )
        .await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    connection_id: String,
    /// The business location to write through; the connection's first when absent.
    pos_location_id: Option<String>,
    sku: Option<String>,
    name: String,
    price_minor: i64,
    category_id: String,
}

impl ItemBody {
    fn input(&self) -> ItemInput {
        ItemInput {
            sku: self.sku.clone(),
            name: self.name.clone(),
            price_minor: self.price_minor,
            category_id: self.category_id.clone(),
        }
    }
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<ItemBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.may_access(&merchant_id)?;
    let item = s
        .engine
        .create_item(
            &merchant_id,
            &body.connection_id,
            body.pos_location_id.as_deref(),
            body.input(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "item": item }))))
}

pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, sku)): Path<(String, String)>,
    ApiJson(body): ApiJson<ItemBody>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let item = s
        .engine
        .update_item(
            &merchant_id,
            &body.connection_id,
            body.pos_location_id.as_deref(),
            &sku,
            body.input(),
        )
        .await?;
    Ok(Json(json!({ "item": item })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    connection_id: String,
    pos_location_id: Option<String>,
}

pub async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, sku)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    caller.may_access(&merchant_id)?;
    s.engine
        .delete_item(
            &merchant_id,
            &q.connection_id,
            q.pos_location_id.as_deref(),
            &sku,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RichBody {
    connection_id: String,
    #[serde(default)]
    allergens: Vec<String>,
    #[serde(default)]
    descriptions: Vec<ItemDescription>,
    /// The picture, base64-encoded; absent leaves the current one.
    picture_base64: Option<String>,
}

pub async fn put_rich(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, sku)): Path<(String, String)>,
    ApiJson(body): ApiJson<RichBody>,
) -> Result<StatusCode, ApiError> {
    caller.may_access(&merchant_id)?;
    s.engine
        .put_rich_item(
            &merchant_id,
            &body.connection_id,
            &sku,
            RichInput {
                allergens: body.allergens,
                descriptions: body.descriptions,
                picture_base64: body.picture_base64,
            },
        )
        .await?;
    Ok(StatusCode::ACCEPTED)
}
