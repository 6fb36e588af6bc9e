//! Imports: recomputing department days from synced orders and writing them with replace
//! semantics. Scheduled imports leave approved days alone (a difference is flagged as a
//! discrepancy); a historical "Import POS" overwrites them only when asked, with an audit entry.
//!
//! A day is `ok` when the connection's order streams had read past its end, `partial` when they
//! had not (today, or a sync that is behind), and `failed` when the connection cannot be read
//! (re-authorization needed, disabled, sync errors). Only `ok` days are confirmed automatically.

use crate::calendar::{dates, day_bounds};
use crate::departments::Department;
use crate::figures::{bucket, slot_ms, FieldType, Figures, VatBasis};
use crate::settings::{self, Settings};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tillbridge_engine::connections::status;
use tillbridge_engine::ids::new_id;
use tillbridge_engine::merchants::emit;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::events::NewEvent;
use tillbridge_store::labor::{self as store, AuditRow, DayRow, ImportRow, ValueRow};
use tillbridge_store::{jobs, Conn};

/// Days per transaction (one department at a time).
const CHUNK_DAYS: i64 = 31;
/// The longest range one historical import may cover.
const MAX_DAYS: i64 = 3 * 366;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewImport {
    /// Department ids; every department when empty.
    #[serde(default)]
    pub departments: Vec<String>,
    pub from: NaiveDate,
    pub until: NaiveDate,
    /// Whether approved (confirmed) days get the new numbers too.
    #[serde(default)]
    pub overwrite_approved: bool,
}

/// Queues a historical import inside `tx`.
pub(crate) async fn queue(
    tx: &mut Conn,
    merchant_id: &str,
    new: NewImport,
    actor: &str,
    now: i64,
) -> Result<ImportRow, EngineError> {
    if new.from > new.until {
        return Err(EngineError::Invalid(format!(
            "`from` ({}) is after `until` ({}); give the first and the last business date of the range",
            new.from, new.until
        )));
    }
    let days = (new.until - new.from).num_days() + 1;
    if days > MAX_DAYS {
        return Err(EngineError::Invalid(format!(
            "the range covers {days} days; import at most {MAX_DAYS} days at a time"
        )));
    }
    let all = store::departments(tx, merchant_id).await?;
    let mut chosen = Vec::new();
    for d in &new.departments {
        if !all.iter().any(|a| &a.id == d) {
            return Err(EngineError::Invalid(format!(
                "department `{d}` does not exist; list them at /api/v1/merchants/{merchant_id}/labor/departments"
            )));
        }
        if !chosen.contains(d) {
            chosen.push(d.clone());
        }
    }
    let count = if chosen.is_empty() {
        all.len()
    } else {
        chosen.len()
    };
    if count == 0 {
        return Err(EngineError::Invalid(
            "there are no departments to import into; create one first".into(),
        ));
    }
    let row = ImportRow {
        id: new_id("imp"),
        kind: "historical".into(),
        requested_by: actor.to_owned(),
        departments: chosen,
        from_date: new.from.to_string(),
        until_date: new.until.to_string(),
        overwrite_approved: new.overwrite_approved,
        state: "queued".into(),
        days_total: days * count as i64,
        days_done: 0,
        days_failed: 0,
        error: None,
        cancel_requested: false,
        created_at: now,
        started_at: None,
        finished_at: None,
    };
    store::put_import(tx, merchant_id, &row).await?;
    Ok(row)
}

/// Requests a historical import ("Import POS"); it runs as a job of the merchant's labor worker.
pub async fn request(
    engine: &Engine,
    merchant_id: &str,
    new: NewImport,
    actor: &str,
) -> Result<ImportRow, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut tx = engine.store().begin().await?;
    let configured = store::settings(&mut tx, merchant_id, false)
        .await?
        .map(|r| settings::from_row(&r))
        .transpose()?
        .and_then(|s| s.connection_id);
    if configured.is_none() {
        return Err(EngineError::Invalid(format!(
            "no POS integration service is set: choose the connection in /api/v1/merchants/{merchant_id}/labor/settings first"
        )));
    }
    let row = queue(&mut tx, merchant_id, new, actor, engine.now_ms()).await?;
    tillbridge_store::commit(tx).await?;
    wake(engine, merchant_id).await?;
    Ok(row)
}

pub async fn get(engine: &Engine, merchant_id: &str, id: &str) -> Result<ImportRow, EngineError> {
    let mut c = engine.conn().await?;
    store::get_import(&mut c, merchant_id, id)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("import `{id}` was not found")))
}

pub async fn list(engine: &Engine, merchant_id: &str) -> Result<Vec<ImportRow>, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    Ok(store::list_imports(&mut c, merchant_id, 100).await?)
}

/// The audit entries of an import: the approved days it overwrote, old and new values.
pub async fn audit(
    engine: &Engine,
    merchant_id: &str,
    id: &str,
) -> Result<Vec<AuditRow>, EngineError> {
    let mut c = engine.conn().await?;
    Ok(store::audit(&mut c, merchant_id, Some(id), 10_000).await?)
}

/// Asks an import to stop after the days it is writing now.
pub async fn cancel(
    engine: &Engine,
    merchant_id: &str,
    id: &str,
) -> Result<ImportRow, EngineError> {
    let mut tx = engine.store().begin().await?;
    let row = store::get_import(&mut tx, merchant_id, id)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("import `{id}` was not found")))?;
    if !store::request_cancel(&mut tx, merchant_id, id).await? {
        return Err(EngineError::Conflict(format!(
            "import `{id}` has already {}; only a queued or running import can be cancelled",
            row.state
        )));
    }
    tillbridge_store::commit(tx).await?;
    get(engine, merchant_id, id).await
}

/// Makes the merchant's labor worker look for work now.
pub async fn wake(engine: &Engine, merchant_id: &str) -> Result<(), EngineError> {
    let mut c = engine.conn().await?;
    jobs::wake_kind(
        &mut c,
        merchant_id,
        tillbridge_engine::consumers::CONSUMER_JOB,
        engine.now_ms(),
    )
    .await?;
    Ok(())
}

pub(crate) async fn remove_field_values(
    tx: &mut Conn,
    merchant_id: &str,
    department_id: &str,
    fields: &[&str],
) -> Result<(), EngineError> {
    store::clear_fields(tx, merchant_id, department_id, fields).await?;
    // The days' digests no longer describe their values; the next import rewrites them.
    let days: Vec<DayRow> = store::days(tx, merchant_id, department_id, "0000-00-00", "9999-99-99")
        .await?
        .into_iter()
        .map(|d| DayRow {
            values_hash: None,
            ..d
        })
        .collect();
    store::put_days(tx, merchant_id, &days).await?;
    Ok(())
}

/// How an import treats approved days.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode<'a> {
    /// Approved days are compared, and flagged when they differ.
    Scheduled,
    /// Approved days are overwritten (and audited) when `overwrite` is set, else as scheduled.
    Historical {
        import_id: &'a str,
        actor: &'a str,
        overwrite: bool,
    },
}

/// The writes of one chunk of days.
#[derive(Default)]
struct Writes {
    /// Days whose values are replaced by `rows`.
    dates: Vec<String>,
    rows: Vec<ValueRow>,
    days: Vec<DayRow>,
    events: Vec<NewEvent>,
    audits: Vec<AuditRow>,
}

impl Writes {
    fn replace(&mut self, date: &str, rows: Vec<ValueRow>) {
        self.dates.push(date.to_owned());
        self.rows.extend(rows);
    }
}

/// Whether Visitors can be filled from this connection's series (K and O record covers).
fn records_covers(series: &str) -> bool {
    matches!(series, "k" | "o")
}

/// What the POS says for one department day, for `fields`: a row per hour with a value for
/// fields split into hours, one daily total (hour -1) for the others.
fn day_rows(
    dept: &Department,
    fields: &[FieldType],
    date: NaiveDate,
    hours: &BTreeMap<u32, Figures>,
) -> Vec<ValueRow> {
    let mut rows = Vec::new();
    for f in dept
        .fields
        .iter()
        .map(|f| &f.field)
        .filter(|f| fields.contains(&f.field_type))
    {
        let id = f.field_type.as_str().to_owned();
        if f.hourly {
            for (hour, fig) in hours {
                let v = fig.value(f.field_type);
                if v != 0 {
                    rows.push(ValueRow {
                        business_date: date.to_string(),
                        hour: i64::from(*hour),
                        field_id: id.clone(),
                        value: v,
                    });
                }
            }
        } else {
            let total: i64 = hours.values().map(|fig| fig.value(f.field_type)).sum();
            rows.push(ValueRow {
                business_date: date.to_string(),
                hour: -1,
                field_id: id,
                value: total,
            });
        }
    }
    rows.sort();
    rows
}

/// A digest of a day's values (rows sorted), to recognise an unchanged day without reading it.
fn digest(rows: &[ValueRow]) -> String {
    let mut h = Sha256::new();
    for r in rows {
        h.update(format!("{}:{}:{};", r.hour, r.field_id, r.value).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn daily_totals(rows: &[ValueRow]) -> Value {
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    for r in rows {
        *totals.entry(r.field_id.as_str()).or_default() += r.value;
    }
    json!(totals)
}

fn values_json(rows: &[ValueRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| json!({"hour": (r.hour >= 0).then_some(r.hour), "field_type": r.field_id, "value": r.value}))
            .collect(),
    )
}

/// The differences between approved values and what the POS says now.
fn discrepancies(approved: &[ValueRow], pos: &[ValueRow]) -> Vec<Value> {
    let key = |r: &ValueRow| (r.hour, r.field_id.clone());
    let a: BTreeMap<_, i64> = approved.iter().map(|r| (key(r), r.value)).collect();
    let p: BTreeMap<_, i64> = pos.iter().map(|r| (key(r), r.value)).collect();
    let mut keys: Vec<_> = a.keys().chain(p.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (av, pv) = (a.get(&k).copied().unwrap_or(0), p.get(&k).copied().unwrap_or(0));
            (av != pv).then(|| json!({"hour": (k.0 >= 0).then_some(k.0), "field_type": k.1, "approved": av, "pos": pv}))
        })
        .collect()
}

/// Why the connection cannot be read now, if it cannot.
async fn connection_problem(
    c: &mut Conn,
    merchant_id: &str,
    settings: &Settings,
) -> Result<(Option<String>, String), EngineError> {
    let Some(id) = &settings.connection_id else {
        return Ok((
            Some("no POS integration service is set in the labor settings".into()),
            String::new(),
        ));
    };
    let Some(conn) = tillbridge_store::connections::get_connection(c, merchant_id, id).await?
    else {
        return Ok((
            Some(format!(
                "connection `{id}` no longer exists; choose another in the labor settings"
            )),
            String::new(),
        ));
    };
    let problem = match conn.status.as_str() {
        status::CONNECTED => None,
        status::NEEDS_REAUTH => Some(format!(
            "connection `{id}` needs re-authorization: reconnect it, then import again"
        )),
        other => Some(format!(
            "connection `{id}` is {other}{}: fix the connection, then import again",
            conn.last_error
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )),
    };
    Ok((problem, conn.series))
}

pub(crate) struct RangeOutcome {
    pub days: i64,
    pub failed: i64,
    pub cancelled: bool,
}

/// Imports `[from, until]` of one department, a chunk of days per transaction. Historical
/// imports count progress on their row in the same transactions and stop between chunks when
/// cancelled.
pub(crate) async fn import_range(
    engine: &Engine,
    merchant_id: &str,
    settings: &Settings,
    dept: &Department,
    from: NaiveDate,
    until: NaiveDate,
    mode: Mode<'_>,
) -> Result<RangeOutcome, EngineError> {
    let mut outcome = RangeOutcome {
        days: 0,
        failed: 0,
        cancelled: false,
    };
    let zone = dept.zone();
    let start = dept.day_start();
    let basis: VatBasis = settings.vat_basis;
    let mut chunk_from = from;
    while chunk_from <= until {
        let chunk_until = (chunk_from + Duration::days(CHUNK_DAYS - 1)).min(until);
        let (lo, _) = day_bounds(chunk_from, zone, start);
        let (_, hi) = day_bounds(chunk_until, zone, start);
        let mut tx = engine.store().begin().await?;
        if let Mode::Historical { import_id, .. } = mode {
            if store::cancel_requested(&mut tx, merchant_id, import_id).await? {
                outcome.cancelled = true;
                return Ok(outcome);
            }
        }
        let now = engine.now_ms();
        let (problem, series) = connection_problem(&mut tx, merchant_id, settings).await?;
        let connection = settings.connection_id.clone().unwrap_or_default();
        let synced_until = match problem {
            None => jobs::orders_synced_until(&mut tx, merchant_id, &connection).await?,
            Some(_) => None,
        };
        let slots = match problem {
            None => {
                store::location_slots(
                    &mut tx,
                    merchant_id,
                    &connection,
                    &dept.client_number,
                    lo.timestamp_millis(),
                    hi.timestamp_millis(),
                    slot_ms(zone, start, lo, hi),
                )
                .await?
            }
            Some(_) => Vec::new(),
        };
        let buckets = bucket(&slots, &dept.terminals, zone, start, basis);
        let mut per_day: BTreeMap<NaiveDate, BTreeMap<u32, Figures>> = BTreeMap::new();
        for ((date, hour), fig) in buckets {
            per_day.entry(date).or_default().insert(hour, fig);
        }
        let (from_s, until_s) = (chunk_from.to_string(), chunk_until.to_string());
        let old_days: BTreeMap<String, DayRow> =
            store::days(&mut tx, merchant_id, &dept.id, &from_s, &until_s)
                .await?
                .into_iter()
                .map(|d| (d.business_date.clone(), d))
                .collect();
        // Approved days are compared value by value; the others by their digest.
        let approved: Vec<&str> = old_days
            .values()
            .filter(|d| d.confirmed_at.is_some())
            .map(|d| d.business_date.as_str())
            .collect();
        let mut old_values: BTreeMap<String, Vec<ValueRow>> = BTreeMap::new();
        for v in store::values_of_dates(&mut tx, merchant_id, &dept.id, &approved).await? {
            old_values
                .entry(v.business_date.clone())
                .or_default()
                .push(v);
        }
        let empty = BTreeMap::new();
        // The chunk's writes, made together after the loop in multi-row statements.
        let mut w = Writes::default();
        let fields: Vec<FieldType> = dept
            .fields
            .iter()
            .map(|f| f.field.field_type)
            .filter(|t| *t != FieldType::Visitors || records_covers(&series))
            .collect();
        let field_ids: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
        for date in dates(chunk_from, chunk_until) {
            let key = date.to_string();
            let old_day = old_days.get(&key);
            outcome.days += 1;
            if let Some(reason) = &problem {
                outcome.failed += 1;
                // A confirmed day keeps its state; any other day records why it is not current.
                if old_day.is_some_and(|d| d.confirmed_at.is_some()) {
                    continue;
                }
                let day = DayRow {
                    department_id: dept.id.clone(),
                    business_date: key.clone(),
                    import_status: "failed".into(),
                    import_error: Some(reason.clone()),
                    imported_at: old_day.map(|d| d.imported_at).unwrap_or(now),
                    confirmed_at: None,
                    confirmed_by: None,
                    discrepancy: None,
                    values_hash: old_day.and_then(|d| d.values_hash.clone()),
                };
                if old_day != Some(&day) {
                    w.days.push(day);
                }
                continue;
            }
            let rows = day_rows(dept, &fields, date, per_day.get(&date).unwrap_or(&empty));
            let hash = digest(&rows);
            let old: Vec<ValueRow> = old_values
                .get(&key)
                .map(|v| {
                    v.iter()
                        .filter(|r| field_ids.contains(&r.field_id.as_str()))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let (_, day_end) = day_bounds(date, zone, start);
            let complete = synced_until.is_some_and(|s| s >= day_end.timestamp_millis());
            let import_status = if complete { "ok" } else { "partial" };
            let changed = match old_day {
                Some(d) if d.confirmed_at.is_some() => old != rows,
                Some(d) => d.values_hash.as_deref() != Some(hash.as_str()),
                None => true,
            };
            let imported = |approved: bool, overwritten: bool| NewEvent {
                id: new_id("evt"),
                event_type: "labor.day_imported".into(),
                subject: dept.id.clone(),
                payload: json!({
                    "department_id": dept.id, "business_date": key, "status": import_status,
                    "approved": approved, "overwritten": overwritten, "totals": daily_totals(&rows),
                }),
            };
            match (old_day.filter(|d| d.confirmed_at.is_some()), mode) {
                (
                    Some(approved),
                    Mode::Historical {
                        import_id,
                        actor,
                        overwrite: true,
                    },
                ) => {
                    if changed {
                        w.audits.push(AuditRow {
                            id: new_id("aud"),
                            import_id: import_id.to_owned(),
                            actor: actor.to_owned(),
                            at: now,
                            department_id: dept.id.clone(),
                            business_date: key.clone(),
                            old_values: values_json(&old),
                            new_values: values_json(&rows),
                        });
                        w.events.push(imported(true, true));
                        w.replace(&key, rows);
                    }
                    w.days.push(DayRow {
                        import_status: import_status.into(),
                        import_error: None,
                        imported_at: now,
                        discrepancy: None,
                        values_hash: Some(hash),
                        ..approved.clone()
                    });
                }
                (Some(approved), _) => {
                    let diffs = discrepancies(&old, &rows);
                    let discrepancy = (!diffs.is_empty()).then_some(Value::Array(diffs));
                    if discrepancy != approved.discrepancy {
                        w.days.push(DayRow {
                            discrepancy: discrepancy.clone(),
                            ..approved.clone()
                        });
                        if let Some(d) = discrepancy {
                            w.events.push(NewEvent {
                                id: new_id("evt"),
                                event_type: "labor.day_flagged".into(),
                                subject: dept.id.clone(),
                                payload: json!({ "department_id": dept.id, "business_date": key, "discrepancies": d }),
                            });
                        }
                    }
                }
                (None, _) => {
                    let status_changed = old_day.is_none_or(|d| d.import_status != import_status);
                    if changed || status_changed {
                        w.events.push(imported(false, false));
                    }
                    if changed {
                        w.replace(&key, rows);
                    }
                    w.days.push(DayRow {
                        department_id: dept.id.clone(),
                        business_date: key.clone(),
                        import_status: import_status.into(),
                        import_error: None,
                        imported_at: now,
                        confirmed_at: None,
                        confirmed_by: None,
                        discrepancy: None,
                        values_hash: Some(hash),
                    });
                }
            }
        }
        let dates: Vec<&str> = w.dates.iter().map(String::as_str).collect();
        store::replace_values(&mut tx, merchant_id, &dept.id, &dates, &field_ids, &w.rows).await?;
        store::put_days(&mut tx, merchant_id, &w.days).await?;
        for a in &w.audits {
            store::append_audit(&mut tx, merchant_id, a).await?;
        }
        tillbridge_store::events::append_many(&mut tx, merchant_id, &w.events, now).await?;
        if let Mode::Historical { import_id, .. } = mode {
            if let Some(mut row) = store::get_import(&mut tx, merchant_id, import_id).await? {
                row.days_done += (chunk_until - chunk_from).num_days() + 1;
                row.days_failed += if problem.is_some() {
                    (chunk_until - chunk_from).num_days() + 1
                } else {
                    0
                };
                store::put_import(&mut tx, merchant_id, &row).await?;
            }
        }
        tillbridge_store::commit(tx).await?;
        chunk_from = chunk_until + Duration::days(1);
    }
    Ok(outcome)
}

/// Runs the oldest queued (or interrupted) historical import to its end.
pub(crate) async fn run_next(engine: &Engine, merchant_id: &str) -> Result<bool, EngineError> {
    let (row, settings, departments) = {
        let mut c = engine.conn().await?;
        let Some(row) = store::next_import(&mut c, merchant_id).await? else {
            return Ok(false);
        };
        let settings = match store::settings(&mut c, merchant_id, false).await? {
            Some(r) => settings::from_row(&r)?,
            None => Settings::default(),
        };
        let all = crate::departments::list(engine, merchant_id).await?;
        (row, settings, all)
    };
    let (Ok(from), Ok(until)) = (
        row.from_date.parse::<NaiveDate>(),
        row.until_date.parse::<NaiveDate>(),
    ) else {
        return finish(
            engine,
            merchant_id,
            &row.id,
            "failed",
            Some("the import's dates are unreadable".into()),
        )
        .await;
    };
    // A restarted import starts over (replace semantics make that safe) with fresh progress.
    let mut tx = engine.store().begin().await?;
    let mut started = row.clone();
    started.state = "running".into();
    started.started_at = Some(engine.now_ms());
    started.days_done = 0;
    started.days_failed = 0;
    store::put_import(&mut tx, merchant_id, &started).await?;
    tillbridge_store::commit(tx).await?;
    let chosen: Vec<&Department> = departments
        .iter()
        .filter(|d| row.departments.is_empty() || row.departments.contains(&d.id))
        .collect();
    let mode = Mode::Historical {
        import_id: &row.id,
        actor: &row.requested_by,
        overwrite: row.overwrite_approved,
    };
    let mut failed = 0;
    for dept in chosen {
        let out = import_range(engine, merchant_id, &settings, dept, from, until, mode).await?;
        failed += out.failed;
        if out.cancelled {
            return finish(engine, merchant_id, &row.id, "cancelled", None).await;
        }
    }
    if failed > 0 {
        let mut c = engine.conn().await?;
        let (problem, _) = connection_problem(&mut c, merchant_id, &settings).await?;
        return finish(
            engine,
            merchant_id,
            &row.id,
            "failed",
            problem.or(Some(format!("{failed} days could not be imported"))),
        )
        .await;
    }
    finish(engine, merchant_id, &row.id, "succeeded", None).await
}

async fn finish(
    engine: &Engine,
    merchant_id: &str,
    id: &str,
    state: &str,
    error: Option<String>,
) -> Result<bool, EngineError> {
    let mut tx = engine.store().begin().await?;
    if let Some(mut row) = store::get_import(&mut tx, merchant_id, id).await? {
        row.state = state.into();
        row.error = error;
        row.finished_at = Some(engine.now_ms());
        store::put_import(&mut tx, merchant_id, &row).await?;
        emit(&mut tx, merchant_id, "labor.import_finished", id, json!({
            "import_id": id, "state": state, "days_done": row.days_done, "days_failed": row.days_failed, "error": row.error,
        }), engine.now_ms()).await?;
    }
    tillbridge_store::commit(tx).await?;
    Ok(true)
}

/// A confirmation (approval) of one department day.
#[derive(Clone, Debug, Serialize)]
pub struct Confirmed {
    pub department_id: String,
    pub business_date: String,
    pub confirmed_at: i64,
    pub confirmed_by: String,
}

/// Confirms a day inside `tx` and announces it; `false` when it is already confirmed.
pub(crate) async fn confirm_day(
    tx: &mut Conn,
    merchant_id: &str,
    day: &DayRow,
    actor: &str,
    now: i64,
) -> Result<bool, EngineError> {
    if day.confirmed_at.is_some() {
        return Ok(false);
    }
    let confirmed = DayRow {
        confirmed_at: Some(now),
        confirmed_by: Some(actor.to_owned()),
        discrepancy: None,
        ..day.clone()
    };
    store::put_day(tx, merchant_id, &confirmed).await?;
    emit(tx, merchant_id, "labor.day_confirmed", &day.department_id, json!({
        "department_id": day.department_id, "business_date": day.business_date, "confirmed_by": actor,
    }), now).await?;
    Ok(true)
}

/// Staff approval of a department day that has been imported.
pub async fn confirm(
    engine: &Engine,
    merchant_id: &str,
    department_id: &str,
    date: NaiveDate,
    actor: &str,
) -> Result<DayRow, EngineError> {
    let mut tx = engine.store().begin().await?;
    crate::departments::load(&mut tx, merchant_id, department_id).await?;
    let key = date.to_string();
    let day = store::days(&mut tx, merchant_id, department_id, &key, &key)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| EngineError::Conflict(format!("{key} has not been imported for department `{department_id}`; import it before confirming")))?;
    if day.import_status == "failed" {
        return Err(EngineError::Conflict(format!(
            "the last import of {key} failed ({}); import it again before confirming",
            day.import_error.clone().unwrap_or_default()
        )));
    }
    confirm_day(&mut tx, merchant_id, &day, actor, engine.now_ms()).await?;
    tillbridge_store::commit(tx).await?;
    let mut c = engine.conn().await?;
    Ok(store::days(&mut c, merchant_id, department_id, &key, &key)
        .await?
        .into_iter()
        .next()
        .unwrap_or(day))
}

/// Takes back an approval, so scheduled imports update the day again.
pub async fn reopen(
    engine: &Engine,
    merchant_id: &str,
    department_id: &str,
    date: NaiveDate,
) -> Result<DayRow, EngineError> {
    let mut tx = engine.store().begin().await?;
    let key = date.to_string();
    let day = store::days(&mut tx, merchant_id, department_id, &key, &key)
        .await?
        .into_iter()
        .next()
        .filter(|d| d.confirmed_at.is_some())
        .ok_or_else(|| {
            EngineError::Conflict(format!(
                "{key} is not confirmed for department `{department_id}`"
            ))
        })?;
    let open = DayRow {
        confirmed_at: None,
        confirmed_by: None,
        ..day
    };
    store::put_day(&mut tx, merchant_id, &open).await?;
    tillbridge_store::commit(tx).await?;
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour: i64, field: &str, value: i64) -> ValueRow {
        ValueRow {
            business_date: "2026-11-20".into(),
            hour,
            field_id: field.into(),
            value,
        }
    }

    #[test]
    fn discrepancies_list_every_differing_value() {
        let approved = [
            row(9, "net_sales", 100),
            row(10, "net_sales", 50),
            row(-1, "transactions", 3),
        ];
        let pos = [
            row(9, "net_sales", 100),
            row(10, "net_sales", 40),
            row(11, "net_sales", 5),
            row(-1, "transactions", 3),
        ];
        let d = discrepancies(&approved, &pos);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0]["approved"], 50);
        assert_eq!(d[0]["pos"], 40);
        assert_eq!(d[1]["hour"], 11);
        assert!(discrepancies(&pos, &pos).is_empty());
    }
}
