//! `/api/v1/merchants/{m}/loyalty/program` and `/api/v1/merchants/{m}/members…`.

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_loyalty::broadcasts::{self, NewBroadcast};
use tillbridge_loyalty::insights::{self, Insights};
use tillbridge_loyalty::members::{
    self, ManualCredit, MemberPatch, MemberView, Merge, NewMember, Redemption,
};
use tillbridge_loyalty::program::{self, Program};
use tillbridge_loyalty::punch_cards::{self, CardInput, CardView, MemberCard};
use tillbridge_loyalty::replay::ReplayStarted;
use tillbridge_loyalty::segments::{self, SegmentsView};
use tillbridge_loyalty::tiering::{self, Floor};
use tillbridge_store::loyalty::MemberRow;
use tillbridge_store::loyalty::{BroadcastRow, LedgerRow};

pub async fn get_program(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<Program>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(program::get(&s.engine, &merchant_id).await?))
}

pub async fn put_program(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<Program>,
) -> Result<Json<Program>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(program::put(&s.engine, &merchant_id, body).await?))
}

pub async fn create_member(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    caller.may_access(&merchant_id)?;
    let member = members::create(&s.engine, &merchant_id, body).await?;
    Ok((StatusCode::CREATED, Json(member)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    search: Option<String>,
    segment: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

pub async fn list_members(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let limit = q.limit.unwrap_or(100);
    let list = members::list(
        &s.engine,
        &merchant_id,
        q.search.as_deref(),
        q.segment.as_deref(),
        q.after.as_deref(),
        limit,
    )
    .await?;
    let next = next_cursor(&list, limit.clamp(1, 500), |m| &m.id);
    Ok(Json(json!({ "members": list, "next_cursor": next })))
}

pub async fn get_member(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
) -> Result<Json<MemberView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        members::get(&s.engine, &merchant_id, &member_id).await?,
    ))
}

pub async fn update_member(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MemberPatch>,
) -> Result<Json<MemberView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        members::update(&s.engine, &merchant_id, &member_id, body).await?,
    ))
}

pub async fn ledger(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let entries = members::ledger(&s.engine, &merchant_id, &member_id).await?;
    Ok(Json(json!({ "entries": entries })))
}

pub async fn manual_credit(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ManualCredit>,
) -> Result<(StatusCode, Json<LedgerRow>), ApiError> {
    caller.may_access(&merchant_id)?;
    let (entry, created) =
        members::manual_credit(&s.engine, &merchant_id, &member_id, body).await?;
    let status = created_or_repeated(created);
    Ok((status, Json(entry)))
}

pub async fn list_cards(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let cards = punch_cards::list(&s.engine, &merchant_id).await?;
    Ok(Json(json!({ "punch_cards": cards })))
}

pub async fn create_card(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<CardInput>,
) -> Result<(StatusCode, Json<CardView>), ApiError> {
    caller.may_access(&merchant_id)?;
    let card = punch_cards::create(&s.engine, &merchant_id, body).await?;
    Ok((StatusCode::CREATED, Json(card)))
}

pub async fn update_card(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, card_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CardInput>,
) -> Result<Json<CardView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        punch_cards::update(&s.engine, &merchant_id, &card_id, body).await?,
    ))
}

pub async fn member_cards(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let cards = punch_cards::member_cards(&s.engine, &merchant_id, &member_id).await?;
    Ok(Json(json!({ "cards": cards })))
}

pub async fn redeem(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id, card_id, reward_id)): Path<(String, String, String, String)>,
) -> Result<Json<MemberCard>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        punch_cards::redeem(&s.engine, &merchant_id, &member_id, &card_id, &reward_id).await?,
    ))
}

pub async fn set_tier_floor(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Floor>,
) -> Result<Json<MemberRow>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        tiering::set_floor(&s.engine, &merchant_id, &member_id, body).await?,
    ))
}

pub async fn tier_history(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let history = tiering::history(&s.engine, &merchant_id, &member_id).await?;
    Ok(Json(json!({ "history": history })))
}

pub async fn segment_history(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let history = segments::member_history(&s.engine, &merchant_id, &member_id).await?;
    Ok(Json(json!({ "history": history })))
}

pub async fn segments(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<SegmentsView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(segments::overview(&s.engine, &merchant_id).await?))
}

pub async fn recompute_segments(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<SegmentsView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(segments::recompute(&s.engine, &merchant_id).await?))
}

pub async fn insights(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<insights::Query>,
) -> Result<Json<Insights>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(insights::insights(&s.engine, &merchant_id, q).await?))
}

pub async fn redeem_credit(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Redemption>,
) -> Result<(StatusCode, Json<LedgerRow>), ApiError> {
    caller.may_access(&merchant_id)?;
    let (entry, created) = members::redeem(&s.engine, &merchant_id, &member_id, body).await?;
    let status = created_or_repeated(created);
    Ok((status, Json(entry)))
}

pub async fn merge_members(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, member_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Merge>,
) -> Result<Json<MemberView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        members::merge(&s.engine, &merchant_id, &member_id, body).await?,
    ))
}

pub async fn replay(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<(StatusCode, Json<ReplayStarted>), ApiError> {
    caller.may_access(&merchant_id)?;
    let started = tillbridge_loyalty::replay::replay(&s.engine, &merchant_id).await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

pub async fn send_broadcast(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<NewBroadcast>,
) -> Result<(StatusCode, Json<BroadcastRow>), ApiError> {
    caller.may_access(&merchant_id)?;
    let (row, created) = broadcasts::send(&s.engine, &merchant_id, body).await?;
    let status = created_or_repeated(created);
    Ok((status, Json(row)))
}

pub async fn list_broadcasts(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let list = broadcasts::list(&s.engine, &merchant_id).await?;
    Ok(Json(json!({ "broadcasts": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    after: Option<String>,
    limit: Option<i64>,
}

pub async fn broadcast_recipients(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, broadcast_id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let limit = q.limit.unwrap_or(500).clamp(1, 1000);
    let list = broadcasts::recipients(
        &s.engine,
        &merchant_id,
        &broadcast_id,
        q.after.as_deref(),
        limit,
    )
    .await?;
    let next = next_cursor(&list, limit, |r| &r.member_id);
    Ok(Json(json!({ "recipients": list, "next_cursor": next })))
}

/// The cursor of the page after `page` (its last key) when it came back full, else `None`.
fn next_cursor<T>(page: &[T], limit: i64, key: impl Fn(&T) -> &String) -> Option<String> {
    (page.len() as i64 >= limit)
        .then(|| page.last().map(|last| key(last).clone()))
        .flatten()
}

/// 201 for a new record, 200 when an idempotency key returned the first one.
fn created_or_repeated(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}
