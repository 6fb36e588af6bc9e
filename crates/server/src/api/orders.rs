use super::instant_param;
use crate::error::ApiError;
use crate::extract::{ApiQuery, Caller};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_store::orders::{OrderFilter, StoredOrder, Summary};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    location_id: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// A page size between 1 and 1000, 100 by default.
fn limit_param(raw: Option<i64>) -> Result<i64, ApiError> {
    let limit = raw.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and 1000, got {limit}"
        )));
    }
    Ok(limit)
}

fn order_json(o: &StoredOrder) -> Value {
    let mut v = serde_json::to_value(&o.order).unwrap_or(Value::Null);
    v["id"] = json!(o.id);
    v["version"] = json!(o.version);
    v["connection_id"] = json!(o.connection_id);
    v["location_id"] = json!(o.location_id);
    v
}

fn encode_cursor(closed_at: i64, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{closed_at}:{id}"))
}

fn decode_cursor(raw: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "`cursor` is not valid: pass the `next_cursor` of a previous page unchanged",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_owned()))
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let limit = limit_param(q.limit)?;
    let filter = OrderFilter {
        from: instant_param("from", q.from.as_deref())?,
        to: instant_param("to", q.to.as_deref())?,
        location_id: q.location_id,
        after: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    };
    let orders = s.engine.orders(&merchant_id, &filter).await?;
    let next = (orders.len() as i64 == limit)
        .then(|| {
            orders
                .last()
                .map(|o| encode_cursor(o.order.closed_at.timestamp_millis(), &o.id))
        })
        .flatten();
    Ok(Json(
        json!({ "orders": orders.iter().map(order_json).collect::<Vec<_>>(), "next_cursor": next }),
    ))
}

pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, order_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(order_json(
        &s.engine.order(&merchant_id, &order_id).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    from: Option<String>,
    to: Option<String>,
    connection_id: Option<String>,
}

pub async fn summary(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    caller.may_access(&merchant_id)?;
    let from = instant_param("from", q.from.as_deref())?;
    let to = instant_param("to", q.to.as_deref())?;
    Ok(Json(
        s.engine
            .sales_summary(&merchant_id, from, to, q.connection_id.as_deref())
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoriesQuery {
    connection_id: Option<String>,
}

pub async fn categories(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<CategoriesQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let list = s
        .engine
        .categories(&merchant_id, q.connection_id.as_deref())
        .await?;
    Ok(Json(serde_json::json!({ "categories": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    after: Option<i64>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    limit: Option<i64>,
}

pub async fn events(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let limit = limit_param(q.limit)?;
    let after = q.after.unwrap_or(0);
    let events = s
        .engine
        .events(&merchant_id, after, q.event_type.as_deref(), limit)
        .await?;
    let last = events.last().map(|e| e.seq).unwrap_or(after);
    Ok(Json(json!({ "events": events, "next_after": last })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    after: Option<i64>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    limit: Option<i64>,
    merchant_id: Option<String>,
}

/// The installation-wide event stream: every merchant's events on an installation key (or one
/// merchant's with `merchant_id`), only its merchant's on a merchant key.
pub async fn stream(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = limit_param(q.limit)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request(format!(
            "`after` must be a stream number (0 or more), got {after}"
        )));
    }
    let merchant = match (&caller.0.merchant_id, q.merchant_id) {
        (_, Some(m)) => {
            caller.may_access(&m)?;
            Some(m)
        }
        (Some(own), None) => Some(own.clone()),
        (None, None) => None,
    };
    let events = s
        .engine
        .event_stream(merchant.as_deref(), after, q.event_type.as_deref(), limit)
        .await?;
    let last = events.last().map(|e| e.stream_seq).unwrap_or(after);
    Ok(Json(json!({ "events": events, "next_after": last })))
}
