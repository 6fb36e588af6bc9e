//! `/api/v1/merchants/{m}/catalog`: the unified catalog (every connection's items per POS
//! location, with price, tax, category, availability, descriptions, allergens and picture),
//! and writes of items and rich data to the POS where the series' API allows them. A write
//! answers with what the POS took; the catalog shows it once the catalog run it schedules has
//! read it back. `/api/v1/merchants/{m}/financials`: financial reports per location and
//! business date.

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_engine::catalog::{ItemInput, RichInput, VariantInput};
use tillbridge_store::ordering::{ItemDescription, VariantOption};

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
    /// X-Series, on create: the products of a new variant family.
    #[serde(default)]
    variants: Vec<VariantBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantBody {
    sku: Option<String>,
    price_minor: Option<i64>,
    options: Vec<VariantOption>,
}

impl ItemBody {
    fn input(&self) -> ItemInput {
        ItemInput {
            sku: self.sku.clone(),
            name: self.name.clone(),
            price_minor: self.price_minor,
            category_id: self.category_id.clone(),
            variants: self
                .variants
                .iter()
                .map(|v| VariantInput {
                    sku: v.sku.clone(),
                    price_minor: v.price_minor,
                    options: v.options.clone(),
                })
                .collect(),
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
    /// X-Series: delete every product of the item's variant family.
    #[serde(default)]
    family: bool,
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
            q.family,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinancialsQuery {
    from: Option<String>,
    until: Option<String>,
    /// One business date: the same as `from` and `until` both set to it.
    date: Option<String>,
    connection_id: Option<String>,
    pos_location_id: Option<String>,
}

fn business_date(name: &str, raw: &str) -> Result<chrono::NaiveDate, ApiError> {
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(format!(
            "`{name}` must be a business date such as 2026-01-31, got `{raw}`"
        ))
    })
}

/// Financial reports: per mapped location and business date, with payment methods, tax rates
/// and accounting groups and whether the day is closed.
pub async fn financials(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<FinancialsQuery>,
) -> Result<Json<tillbridge_engine::financials::FinancialReport>, ApiError> {
    caller.may_access(&merchant_id)?;
    let (from, until) = match (&q.date, &q.from, &q.until) {
        (Some(d), None, None) => {
            let d = business_date("date", d)?;
            (d, d)
        }
        (None, Some(f), Some(u)) => (business_date("from", f)?, business_date("until", u)?),
        _ => {
            return Err(ApiError::bad_request(
                "give either `date` (one business date) or both `from` and `until` (YYYY-MM-DD, inclusive)",
            ))
        }
    };
    Ok(Json(
        s.engine
            .financial_report(
                &merchant_id,
                from,
                until,
                q.connection_id.as_deref(),
                q.pos_location_id.as_deref(),
            )
            .await?,
    ))
}
