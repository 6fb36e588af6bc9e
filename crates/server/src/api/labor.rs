//! `/api/v1/merchants/{m}/labor/…`: settings, departments, the weekly balance (JSON and CSV),
//! approvals and "Import POS".

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};
use tillbridge_labor::balance::{self, Balance};
use tillbridge_labor::departments::{self, Department, DepartmentInput};
use tillbridge_labor::imports::{self, NewImport};
use tillbridge_labor::settings::{self, Settings, SettingsView};
use tillbridge_store::labor::{DayRow, ImportRow};

/// Who did it, for the audit trail: the API key's name and id.
fn actor(caller: &Caller) -> String {
    format!("api-key {} ({})", caller.0.name, caller.0.id)
}

pub async fn get_settings(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<SettingsView>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(settings::get(&s.engine, &merchant_id).await?))
}

pub async fn put_settings(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<Settings>,
) -> Result<Json<SettingsView>, ApiError> {
    caller.may_access(&merchant_id)?;
    let who = actor(&caller);
    Ok(Json(
        settings::put(&s.engine, &merchant_id, body, &who).await?,
    ))
}

pub async fn list_departments(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let list = departments::list(&s.engine, &merchant_id).await?;
    Ok(Json(json!({ "departments": list })))
}

pub async fn create_department(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<DepartmentInput>,
) -> Result<(StatusCode, Json<Department>), ApiError> {
    caller.may_access(&merchant_id)?;
    let d = departments::save(&s.engine, &merchant_id, None, body).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

pub async fn get_department(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, department_id)): Path<(String, String)>,
) -> Result<Json<Department>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        departments::get(&s.engine, &merchant_id, &department_id).await?,
    ))
}

pub async fn put_department(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, department_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<DepartmentInput>,
) -> Result<Json<Department>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        departments::save(&s.engine, &merchant_id, Some(&department_id), body).await?,
    ))
}

pub async fn delete_department(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, department_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.may_access(&merchant_id)?;
    departments::delete(&s.engine, &merchant_id, &department_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// Any date of the week to show (Monday–Sunday).
    week: Option<String>,
    from: Option<String>,
    until: Option<String>,
    department_id: Option<String>,
}

fn date_param(name: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "`{name}` must be a date such as 2026-11-16, got `{raw}`"
        ))
    })
}

fn range(q: &RangeQuery) -> Result<(NaiveDate, NaiveDate), ApiError> {
    match (&q.week, &q.from, &q.until) {
        (Some(w), None, None) => Ok(balance::week(date_param("week", w)?)),
        (None, Some(f), Some(u)) => Ok((date_param("from", f)?, date_param("until", u)?)),
        _ => Err(ApiError::bad_request(
            "give either `week` (any date of the week) or both `from` and `until` (business dates, inclusive)",
        )),
    }
}

pub async fn department_balance(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, department_id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Balance>, ApiError> {
    caller.may_access(&merchant_id)?;
    if q.department_id.is_some() {
        return Err(ApiError::bad_request(
            "`department_id` belongs to the export; this route names the department in its path",
        ));
    }
    let (from, until) = range(&q)?;
    Ok(Json(
        balance::get(&s.engine, &merchant_id, &department_id, from, until).await?,
    ))
}

pub async fn balance_csv(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<impl IntoResponse, ApiError> {
    caller.may_access(&merchant_id)?;
    let (from, until) = range(&q)?;
    let all = balance::all(
        &s.engine,
        &merchant_id,
        q.department_id.as_deref(),
        from,
        until,
    )
    .await?;
    let name = format!("attachment; filename=\"weekly-balance-{from}-{until}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        balance::csv(&all),
    ))
}

pub async fn confirm_day(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, department_id, date)): Path<(String, String, String)>,
) -> Result<Json<DayRow>, ApiError> {
    caller.may_access(&merchant_id)?;
    let date = date_param("date", &date)?;
    let who = actor(&caller);
    Ok(Json(
        imports::confirm(&s.engine, &merchant_id, &department_id, date, &who).await?,
    ))
}

pub async fn reopen_day(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, department_id, date)): Path<(String, String, String)>,
) -> Result<Json<DayRow>, ApiError> {
    caller.may_access(&merchant_id)?;
    let date = date_param("date", &date)?;
    Ok(Json(
        imports::reopen(&s.engine, &merchant_id, &department_id, date).await?,
    ))
}

pub async fn create_import(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
    ApiJson(body): ApiJson<NewImport>,
) -> Result<(StatusCode, Json<ImportRow>), ApiError> {
    caller.may_access(&merchant_id)?;
    let who = actor(&caller);
    let row = imports::request(&s.engine, &merchant_id, body, &who).await?;
    Ok((StatusCode::ACCEPTED, Json(row)))
}

pub async fn list_imports(
    State(s): State<AppState>,
    caller: Caller,
    Path(merchant_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        json!({ "imports": imports::list(&s.engine, &merchant_id).await? }),
    ))
}

pub async fn get_import(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, import_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.may_access(&merchant_id)?;
    let row = imports::get(&s.engine, &merchant_id, &import_id).await?;
    let audit = imports::audit(&s.engine, &merchant_id, &import_id).await?;
    Ok(Json(json!({ "import": row, "audit": audit })))
}

pub async fn cancel_import(
    State(s): State<AppState>,
    caller: Caller,
    Path((merchant_id, import_id)): Path<(String, String)>,
) -> Result<Json<ImportRow>, ApiError> {
    caller.may_access(&merchant_id)?;
    Ok(Json(
        imports::cancel(&s.engine, &merchant_id, &import_id).await?,
    ))
}
