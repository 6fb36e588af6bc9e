//! Labor: settings, departments, the weekly balance (days and values), imports and their audit
//! trail. Every query is scoped by merchant.

use crate::{Conn, Result, StoreError};
use sqlx::Row;

fn json_of(what: &str, raw: &str) -> Result<serde_json::Value> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn lock_clause(c: &Conn) -> &'static str {
    if c.backend_name() == "PostgreSQL" {
        " FOR UPDATE"
    } else {
        ""
    }
}

#[derive(Clone, Debug)]
pub struct SettingsRow {
    pub config: serde_json::Value,
    /// When imports were last switched on.
    pub enabled_at: Option<i64>,
    /// The last scheduled import instant that has run.
    pub last_import_at: Option<i64>,
    /// The last auto-confirm instant that has run.
    pub last_confirm_at: Option<i64>,
}

/// The merchant's labor settings; `lock` holds the row (PostgreSQL) until the transaction ends,
/// which serialises department changes and schedule runs of one merchant.
pub async fn settings(c: &mut Conn, merchant_id: &str, lock: bool) -> Result<Option<SettingsRow>> {
    let lock = if lock { lock_clause(c) } else { "" };
    let row = sqlx::query(&format!(
        "SELECT config, enabled_at, last_import_at, last_confirm_at FROM labor_settings WHERE merchant_id = $1{lock}"
    ))
    .bind(merchant_id)
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| {
        Ok(SettingsRow {
            config: json_of("labor settings", &r.try_get::<String, _>("config")?)?,
            enabled_at: r.try_get("enabled_at")?,
            last_import_at: r.try_get("last_import_at")?,
            last_confirm_at: r.try_get("last_confirm_at")?,
        })
    })
    .transpose()
}

pub async fn put_settings(
    c: &mut Conn,
    merchant_id: &str,
    row: &SettingsRow,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO labor_settings (merchant_id, config, enabled_at, last_import_at, last_confirm_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (merchant_id) DO UPDATE SET config = excluded.config, enabled_at = excluded.enabled_at, \
         last_import_at = excluded.last_import_at, last_confirm_at = excluded.last_confirm_at, updated_at = excluded.updated_at",
    )
    .bind(merchant_id)
    .bind(row.config.to_string())
    .bind(row.enabled_at)
    .bind(row.last_import_at)
    .bind(row.last_confirm_at)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct DepartmentRow {
    pub id: String,
    pub name: String,
    pub config: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
}

fn department_from(r: &sqlx::any::AnyRow) -> Result<DepartmentRow> {
    Ok(DepartmentRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        config: json_of("department", &r.try_get::<String, _>("config")?)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn departments(c: &mut Conn, merchant_id: &str) -> Result<Vec<DepartmentRow>> {
    sqlx::query("SELECT id, name, config, created_at, updated_at FROM labor_departments WHERE merchant_id = $1 ORDER BY name, id")
        .bind(merchant_id)
        .fetch_all(c)
        .await?
        .iter()
        .map(department_from)
        .collect()
}

pub async fn department(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
) -> Result<Option<DepartmentRow>> {
    sqlx::query("SELECT id, name, config, created_at, updated_at FROM labor_departments WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(c)
        .await?
        .as_ref()
        .map(department_from)
        .transpose()
}

pub async fn put_department(c: &mut Conn, merchant_id: &str, d: &DepartmentRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO labor_departments (merchant_id, id, name, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (merchant_id, id) DO UPDATE SET name = excluded.name, config = excluded.config, updated_at = excluded.updated_at",
    )
    .bind(merchant_id)
    .bind(&d.id)
    .bind(&d.name)
    .bind(d.config.to_string())
    .bind(d.created_at)
    .bind(d.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

/// Deletes a department with its weekly balance (its audit entries stay).
pub async fn delete_department(c: &mut Conn, merchant_id: &str, id: &str) -> Result<bool> {
    for table in ["labor_values", "labor_days"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE merchant_id = $1 AND department_id = $2"
        ))
        .bind(merchant_id)
        .bind(id)
        .execute(&mut *c)
        .await?;
    }
    let done = sqlx::query("DELETE FROM labor_departments WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// One line of an order that counts for the weekly balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaborLine {
    pub quantity_milli: i64,
    pub unit_price_minor: i64,
    pub discount_minor: i64,
    pub total_minor: i64,
    pub net_minor: i64,
    pub voided: bool,
}

/// A closed sale or refund at one POS location, with its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaborOrder {
    pub id: String,
    /// `sale` or `refund`.
    pub kind: String,
    pub closed_at: i64,
    pub register_id: Option<String>,
    pub covers: Option<i64>,
    pub lines: Vec<LaborLine>,
}

/// The closed sales and refunds of one POS location closed in `[from, to)`, oldest first.
/// Sales that a later void record cancels are left out, and so are the void records.
pub async fn location_orders(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    external_location_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<LaborOrder>> {
    let rows = sqlx::query(
        "SELECT o.id, o.kind, o.closed_at, o.register_id, o.covers, l.quantity_milli, l.unit_price_minor, l.discount_minor, \
         l.total_minor, l.net_minor, CASE WHEN l.voided THEN 1 ELSE 0 END AS voided FROM orders o \
         LEFT JOIN order_lines l ON l.merchant_id = o.merchant_id AND l.order_id = o.id \
         WHERE o.merchant_id = $1 AND o.connection_id = $2 AND o.external_location_id = $3 AND o.closed_at >= $4 AND o.closed_at < $5 \
         AND o.status = 'closed' AND o.kind IN ('sale', 'refund') \
         AND NOT (o.kind = 'sale' AND EXISTS (SELECT 1 FROM orders v WHERE v.merchant_id = o.merchant_id \
             AND v.connection_id = o.connection_id AND v.original_external_id = o.external_id AND v.kind = 'void')) \
         ORDER BY o.closed_at, o.id, l.line_no",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(external_location_id)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await?;
    let mut out: Vec<LaborOrder> = Vec::new();
    for r in &rows {
        let id: String = r.try_get("id")?;
        if out.last().is_none_or(|o| o.id != id) {
            out.push(LaborOrder {
                id,
                kind: r.try_get("kind")?,
                closed_at: r.try_get("closed_at")?,
                register_id: r.try_get("register_id")?,
                covers: r.try_get("covers")?,
                lines: Vec::new(),
            });
        }
        let quantity: Option<i64> = r.try_get("quantity_milli")?;
        if let (Some(quantity_milli), Some(order)) = (quantity, out.last_mut()) {
            order.lines.push(LaborLine {
                quantity_milli,
                unit_price_minor: r.try_get("unit_price_minor")?,
                discount_minor: r.try_get("discount_minor")?,
                total_minor: r.try_get("total_minor")?,
                net_minor: r.try_get("net_minor")?,
                voided: r.try_get::<i64, _>("voided")? != 0,
            });
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DayRow {
    pub department_id: String,
    pub business_date: String,
    /// `ok` or `failed`.
    pub import_status: String,
    pub import_error: Option<String>,
    pub imported_at: i64,
    pub confirmed_at: Option<i64>,
    pub confirmed_by: Option<String>,
    /// What the POS shows now for an approved day that differs from its numbers.
    pub discrepancy: Option<serde_json::Value>,
}

fn day_from(r: &sqlx::any::AnyRow) -> Result<DayRow> {
    let discrepancy: Option<String> = r.try_get("discrepancy")?;
    Ok(DayRow {
        department_id: r.try_get("department_id")?,
        business_date: r.try_get("business_date")?,
        import_status: r.try_get("import_status")?,
        import_error: r.try_get("import_error")?,
        imported_at: r.try_get("imported_at")?,
        confirmed_at: r.try_get("confirmed_at")?,
        confirmed_by: r.try_get("confirmed_by")?,
        discrepancy: discrepancy
            .map(|d| json_of("discrepancy", &d))
            .transpose()?,
    })
}

const DAY_COLUMNS: &str = "department_id, business_date, import_status, import_error, imported_at, confirmed_at, confirmed_by, discrepancy";

/// The recorded days of a department in `[from, until]` (business dates, inclusive).
pub async fn days(
    c: &mut Conn,
    merchant_id: &str,
    department_id: &str,
    from: &str,
    until: &str,
) -> Result<Vec<DayRow>> {
    sqlx::query(&format!(
        "SELECT {DAY_COLUMNS} FROM labor_days WHERE merchant_id = $1 AND department_id = $2 \
         AND business_date >= $3 AND business_date <= $4 ORDER BY business_date"
    ))
    .bind(merchant_id)
    .bind(department_id)
    .bind(from)
    .bind(until)
    .fetch_all(c)
    .await?
    .iter()
    .map(day_from)
    .collect()
}

/// The days of every department dated `[from, until]` that were imported successfully and are
/// not confirmed yet.
pub async fn confirmable_days(
    c: &mut Conn,
    merchant_id: &str,
    from: &str,
    until: &str,
) -> Result<Vec<DayRow>> {
    sqlx::query(&format!(
        "SELECT {DAY_COLUMNS} FROM labor_days WHERE merchant_id = $1 AND business_date >= $2 AND business_date <= $3 \
         AND import_status = 'ok' AND confirmed_at IS NULL ORDER BY department_id, business_date"
    ))
    .bind(merchant_id)
    .bind(from)
    .bind(until)
    .fetch_all(c)
    .await?
    .iter()
    .map(day_from)
    .collect()
}

pub async fn put_day(c: &mut Conn, merchant_id: &str, d: &DayRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO labor_days (merchant_id, department_id, business_date, import_status, import_error, imported_at, confirmed_at, confirmed_by, discrepancy) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (merchant_id, department_id, business_date) DO UPDATE SET \
         import_status = excluded.import_status, import_error = excluded.import_error, imported_at = excluded.imported_at, \
         confirmed_at = excluded.confirmed_at, confirmed_by = excluded.confirmed_by, discrepancy = excluded.discrepancy",
    )
    .bind(merchant_id)
    .bind(&d.department_id)
    .bind(&d.business_date)
    .bind(&d.import_status)
    .bind(&d.import_error)
    .bind(d.imported_at)
    .bind(d.confirmed_at)
    .bind(&d.confirmed_by)
    .bind(d.discrepancy.as_ref().map(ToString::to_string))
    .execute(c)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ValueRow {
    pub business_date: String,
    /// Local hour 0–23, or -1 for a field without hourly split.
    pub hour: i64,
    pub field_id: String,
    pub value: i64,
}

/// The values of a department's days in `[from, until]`, by date, hour and field.
pub async fn values(
    c: &mut Conn,
    merchant_id: &str,
    department_id: &str,
    from: &str,
    until: &str,
) -> Result<Vec<ValueRow>> {
    let rows = sqlx::query(
        "SELECT business_date, hour, field_id, value FROM labor_values WHERE merchant_id = $1 AND department_id = $2 \
         AND business_date >= $3 AND business_date <= $4 ORDER BY business_date, hour, field_id",
    )
    .bind(merchant_id)
    .bind(department_id)
    .bind(from)
    .bind(until)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ValueRow {
                business_date: r.try_get("business_date")?,
                hour: r.try_get("hour")?,
                field_id: r.try_get("field_id")?,
                value: r.try_get("value")?,
            })
        })
        .collect()
}

/// Replaces the values of one department day: every field in `fields` loses its old values and
/// gets `rows` (fields not listed keep theirs).
pub async fn replace_values(
    c: &mut Conn,
    merchant_id: &str,
    department_id: &str,
    business_date: &str,
    fields: &[&str],
    rows: &[ValueRow],
) -> Result<()> {
    if fields.is_empty() {
        return Ok(());
    }
    let list = crate::placeholders(fields.len(), "", 1, 4);
    let sql = format!(
        "DELETE FROM labor_values WHERE merchant_id = $1 AND department_id = $2 AND business_date = $3 AND field_id IN ({list})"
    );
    let mut q = sqlx::query(&sql)
        .bind(merchant_id)
        .bind(department_id)
        .bind(business_date);
    for f in fields {
        q = q.bind(*f);
    }
    q.execute(&mut *c).await?;
    for chunk in rows.chunks(200) {
        let values = crate::placeholders(chunk.len(), "$1, $2, $3", 3, 4);
        let sql = format!(
            "INSERT INTO labor_values (merchant_id, department_id, business_date, hour, field_id, value) VALUES {values}"
        );
        let mut q = sqlx::query(&sql)
            .bind(merchant_id)
            .bind(department_id)
            .bind(business_date);
        for r in chunk {
            q = q.bind(r.hour).bind(&r.field_id).bind(r.value);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImportRow {
    pub id: String,
    /// `historical` or `scheduled`.
    pub kind: String,
    pub requested_by: String,
    pub departments: Vec<String>,
    pub from_date: String,
    pub until_date: String,
    pub overwrite_approved: bool,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    pub days_total: i64,
    pub days_done: i64,
    pub days_failed: i64,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

const IMPORT_COLUMNS: &str = "id, kind, requested_by, departments, from_date, until_date, overwrite_approved, state, days_total, days_done, days_failed, error, cancel_requested, created_at, started_at, finished_at";

fn import_from(r: &sqlx::any::AnyRow) -> Result<ImportRow> {
    let departments: String = r.try_get("departments")?;
    Ok(ImportRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        requested_by: r.try_get("requested_by")?,
        departments: serde_json::from_str(&departments)
            .map_err(|e| StoreError::Corrupt(format!("import departments: {e}")))?,
        from_date: r.try_get("from_date")?,
        until_date: r.try_get("until_date")?,
        overwrite_approved: r.try_get::<i64, _>("overwrite_approved")? != 0,
        state: r.try_get("state")?,
        days_total: r.try_get("days_total")?,
        days_done: r.try_get("days_done")?,
        days_failed: r.try_get("days_failed")?,
        error: r.try_get("error")?,
        cancel_requested: r.try_get::<i64, _>("cancel_requested")? != 0,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

pub async fn put_import(c: &mut Conn, merchant_id: &str, i: &ImportRow) -> Result<()> {
    let departments =
        serde_json::to_string(&i.departments).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(&format!(
        "INSERT INTO labor_imports (merchant_id, {IMPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (merchant_id, id) DO UPDATE SET state = excluded.state, days_total = excluded.days_total, days_done = excluded.days_done, \
         days_failed = excluded.days_failed, error = excluded.error, started_at = excluded.started_at, finished_at = excluded.finished_at"
    ))
    .bind(merchant_id)
    .bind(&i.id)
    .bind(&i.kind)
    .bind(&i.requested_by)
    .bind(departments)
    .bind(&i.from_date)
    .bind(&i.until_date)
    .bind(i64::from(i.overwrite_approved))
    .bind(&i.state)
    .bind(i.days_total)
    .bind(i.days_done)
    .bind(i.days_failed)
    .bind(&i.error)
    .bind(i64::from(i.cancel_requested))
    .bind(i.created_at)
    .bind(i.started_at)
    .bind(i.finished_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn get_import(c: &mut Conn, merchant_id: &str, id: &str) -> Result<Option<ImportRow>> {
    sqlx::query(&format!(
        "SELECT {IMPORT_COLUMNS} FROM labor_imports WHERE merchant_id = $1 AND id = $2"
    ))
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(c)
    .await?
    .as_ref()
    .map(import_from)
    .transpose()
}

/// The merchant's imports, newest first.
pub async fn list_imports(c: &mut Conn, merchant_id: &str, limit: i64) -> Result<Vec<ImportRow>> {
    sqlx::query(&format!(
        "SELECT {IMPORT_COLUMNS} FROM labor_imports WHERE merchant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(merchant_id)
    .bind(limit)
    .fetch_all(c)
    .await?
    .iter()
    .map(import_from)
    .collect()
}

/// The oldest import that is queued or was running when its worker stopped.
pub async fn next_import(c: &mut Conn, merchant_id: &str) -> Result<Option<ImportRow>> {
    sqlx::query(&format!(
        "SELECT {IMPORT_COLUMNS} FROM labor_imports WHERE merchant_id = $1 AND state IN ('queued', 'running') \
         ORDER BY created_at, id LIMIT 1"
    ))
    .bind(merchant_id)
    .fetch_optional(c)
    .await?
    .as_ref()
    .map(import_from)
    .transpose()
}

/// Asks a queued or running import to stop; `false` when it has already finished.
pub async fn request_cancel(c: &mut Conn, merchant_id: &str, id: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE labor_imports SET cancel_requested = 1 WHERE merchant_id = $1 AND id = $2 AND state IN ('queued', 'running')",
    )
    .bind(merchant_id)
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether cancellation of an import was asked for.
pub async fn cancel_requested(c: &mut Conn, merchant_id: &str, id: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT cancel_requested FROM labor_imports WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(c)
    .await?;
    match row {
        Some(r) => Ok(r.try_get::<i64, _>("cancel_requested")? != 0),
        None => Ok(true),
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub id: String,
    pub import_id: String,
    pub actor: String,
    pub at: i64,
    pub department_id: String,
    pub business_date: String,
    pub old_values: serde_json::Value,
    pub new_values: serde_json::Value,
}

pub async fn append_audit(c: &mut Conn, merchant_id: &str, a: &AuditRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO labor_audit (merchant_id, id, import_id, actor, at, department_id, business_date, old_values, new_values) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(merchant_id)
    .bind(&a.id)
    .bind(&a.import_id)
    .bind(&a.actor)
    .bind(a.at)
    .bind(&a.department_id)
    .bind(&a.business_date)
    .bind(a.old_values.to_string())
    .bind(a.new_values.to_string())
    .execute(c)
    .await?;
    Ok(())
}

/// Audit entries, newest first; only those of one import when `import_id` is given.
pub async fn audit(
    c: &mut Conn,
    merchant_id: &str,
    import_id: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditRow>> {
    let rows = sqlx::query(
        "SELECT id, import_id, actor, at, department_id, business_date, old_values, new_values FROM labor_audit \
         WHERE merchant_id = $1 AND ($2 IS NULL OR import_id = $2) ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(merchant_id)
    .bind(import_id)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get("id")?,
                import_id: r.try_get("import_id")?,
                actor: r.try_get("actor")?,
                at: r.try_get("at")?,
                department_id: r.try_get("department_id")?,
                business_date: r.try_get("business_date")?,
                old_values: json_of("audit", &r.try_get::<String, _>("old_values")?)?,
                new_values: json_of("audit", &r.try_get::<String, _>("new_values")?)?,
            })
        })
        .collect()
}
