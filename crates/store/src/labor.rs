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

/// The weekly-balance figures of one register in one time slot (a span of `slot_ms` from
/// `start`), summed by the database from the orders' sales figures
/// ([`tillbridge_model::SalesFigures`]). Amounts are minor units (with and without VAT),
/// quantities thousandths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LaborSlot {
    pub register_id: Option<String>,
    pub start: i64,
    /// Σ sold lines (positive quantity) before discounts: total + discount.
    pub gross: i64,
    pub discount: i64,
    /// Σ |returned lines (negative quantity) after their discounts|.
    pub returns: i64,
    /// The same without VAT: the line's net, and its discount × net ÷ total rounded half away
    /// from zero per line.
    pub gross_excl: i64,
    pub discount_excl: i64,
    pub returns_excl: i64,
    /// Σ quantity of sold lines with a price (zero-price modifiers do not count).
    pub goods_milli: i64,
    pub returned_milli: i64,
    /// Sale receipts with at least one sold line, and their covers.
    pub transactions: i64,
    pub visitors: i64,
}

/// The weekly-balance figures of one POS location's closed sales and refunds closed in
/// `[from, to)`, per register and slot of `slot_ms` (slots start at multiples of `slot_ms`
/// since the epoch), summed from each order's stored sales figures. Voided lines count nothing
/// (the figures leave them out); a sale that a void record (at the same location) cancels counts
/// nothing, and neither does the void record. Both reads are index-only.
pub async fn location_slots(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    external_location_id: &str,
    from: i64,
    to: i64,
    slot_ms: i64,
) -> Result<Vec<LaborSlot>> {
    let transaction = "o.kind = 'sale' AND o.sold_lines > 0";
    let sql = format!(
        "SELECT o.register_id, o.closed_at / $6 AS slot, \
           CAST(SUM(o.gross_minor) AS BIGINT) AS gross, CAST(SUM(o.sold_discount_minor) AS BIGINT) AS discount, \
           CAST(SUM(o.returns_minor) AS BIGINT) AS returns, CAST(SUM(o.gross_excl_minor) AS BIGINT) AS gross_excl, \
           CAST(SUM(o.sold_discount_excl_minor) AS BIGINT) AS discount_excl, CAST(SUM(o.returns_excl_minor) AS BIGINT) AS returns_excl, \
           CAST(SUM(o.goods_milli) AS BIGINT) AS goods, CAST(SUM(o.returned_milli) AS BIGINT) AS returned, \
           CAST(SUM(CASE WHEN {transaction} THEN 1 ELSE 0 END) AS BIGINT) AS transactions, \
           CAST(SUM(CASE WHEN {transaction} THEN COALESCE(o.covers, 0) ELSE 0 END) AS BIGINT) AS visitors \
         FROM orders o \
         WHERE o.merchant_id = $1 AND o.connection_id = $2 AND o.external_location_id = $3 AND o.closed_at >= $4 AND o.closed_at < $5 \
           AND o.status = 'closed' AND o.kind IN ('sale', 'refund') \
           AND NOT (o.kind = 'sale' AND o.external_id IN (SELECT v.original_external_id FROM orders v WHERE v.merchant_id = $1 \
             AND v.connection_id = $2 AND v.external_location_id = $3 AND v.kind = 'void' AND v.original_external_id IS NOT NULL)) \
         GROUP BY 1, 2"
    );
    let rows = sqlx::query(&sql)
        .bind(merchant_id)
        .bind(connection_id)
        .bind(external_location_id)
        .bind(from)
        .bind(to)
        .bind(slot_ms.max(1))
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LaborSlot {
                register_id: r.try_get("register_id")?,
                start: r.try_get::<i64, _>("slot")? * slot_ms.max(1),
                gross: r.try_get("gross")?,
                discount: r.try_get("discount")?,
                returns: r.try_get("returns")?,
                gross_excl: r.try_get("gross_excl")?,
                discount_excl: r.try_get("discount_excl")?,
                returns_excl: r.try_get("returns_excl")?,
                goods_milli: r.try_get("goods")?,
                returned_milli: r.try_get("returned")?,
                transactions: r.try_get("transactions")?,
                visitors: r.try_get("visitors")?,
            })
        })
        .collect()
}

/// Counts and sums every line of a connection's orders in one statement: the least work a
/// rebuild of the weekly balance could do, which benchmarks measure beside it.
pub async fn scan_lines(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
) -> Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(l.total_minor), 0) AS BIGINT) AS total FROM orders o \
         JOIN order_lines l ON l.merchant_id = o.merchant_id AND l.order_id = o.id \
         WHERE o.merchant_id = $1 AND o.connection_id = $2",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .fetch_one(c)
    .await?;
    Ok((row.try_get("n")?, row.try_get("total")?))
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
    /// A digest of the day's values as last written, so an import that computes the same
    /// values writes and announces nothing.
    #[serde(skip)]
    pub values_hash: Option<String>,
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
        values_hash: r.try_get("values_hash")?,
    })
}

const DAY_COLUMNS: &str = "department_id, business_date, import_status, import_error, imported_at, confirmed_at, confirmed_by, discrepancy, values_hash";

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

/// Writes many days in multi-row statements.
pub async fn put_days(c: &mut Conn, merchant_id: &str, days: &[DayRow]) -> Result<()> {
    for chunk in days.chunks(40) {
        let rows = crate::placeholders(chunk.len(), "$1", 9, 2);
        let sql = format!(
            "INSERT INTO labor_days (merchant_id, {DAY_COLUMNS}) VALUES {rows} ON CONFLICT (merchant_id, department_id, business_date) DO UPDATE SET \
             import_status = excluded.import_status, import_error = excluded.import_error, imported_at = excluded.imported_at, \
             confirmed_at = excluded.confirmed_at, confirmed_by = excluded.confirmed_by, discrepancy = excluded.discrepancy, \
             values_hash = excluded.values_hash"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql)
            .persistent(chunk.len() == 40)
            .bind(merchant_id);
        for d in chunk {
            q = q
                .bind(&d.department_id)
                .bind(&d.business_date)
                .bind(&d.import_status)
                .bind(&d.import_error)
                .bind(d.imported_at)
                .bind(d.confirmed_at)
                .bind(&d.confirmed_by)
                .bind(d.discrepancy.as_ref().map(ToString::to_string))
                .bind(&d.values_hash);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

pub async fn put_day(c: &mut Conn, merchant_id: &str, d: &DayRow) -> Result<()> {
    put_days(c, merchant_id, std::slice::from_ref(d)).await
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ValueRow {
    pub business_date: String,
    /// Local hour 0–23, or -1 for a field without hourly split.
    pub hour: i64,
    pub field_id: String,
    pub value: i64,
}

/// The weekly balance field types, which are also the value columns of `labor_values` (a row
/// per department, business date and hour holds every field's value for that hour; NULL where a
/// field has none).
pub const FIELDS: [&str; 8] = [
    "gross_sales",
    "net_sales",
    "discounts",
    "returns",
    "transactions",
    "goods_sold",
    "returned_goods",
    "visitors",
];

fn field_columns() -> String {
    FIELDS.join(", ")
}

/// One stored row, as a value per field that has one.
fn explode(r: &sqlx::any::AnyRow, out: &mut Vec<ValueRow>) -> Result<()> {
    let business_date: String = r.try_get("business_date")?;
    let hour: i64 = r.try_get("hour")?;
    for f in FIELDS {
        if let Some(value) = r.try_get::<Option<i64>, _>(f)? {
            out.push(ValueRow {
                business_date: business_date.clone(),
                hour,
                field_id: f.to_owned(),
                value,
            });
        }
    }
    Ok(())
}

/// The values of a department's days in `[from, until]`, by date, hour and field.
pub async fn values(
    c: &mut Conn,
    merchant_id: &str,
    department_id: &str,
    from: &str,
    until: &str,
) -> Result<Vec<ValueRow>> {
    let rows = sqlx::query(&format!(
        "SELECT business_date, hour, {} FROM labor_values WHERE merchant_id = $1 AND department_id = $2 \
         AND business_date >= $3 AND business_date <= $4 ORDER BY business_date, hour",
        field_columns()
    ))
    .bind(merchant_id)
    .bind(department_id)
    .bind(from)
    .bind(until)
    .fetch_all(c)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        explode(r, &mut out)?;
    }
    Ok(out)
}

/// The values of some days of a department.
pub async fn values_of_dates(
    c: &mut Conn,
    merchant_id: &str,
    department_id: &str,
    dates: &[&str],
) -> Result<Vec<ValueRow>> {
    let sql = format!(
        "SELECT business_date, hour, {} FROM labor_values WHERE merchant_id = $1 AND department_id = $2 \
         AND business_date IN ({{in}}) ORDER BY business_date, hour",
        field_columns()
    );
    let mut out = Vec::new();
    for r in crate::fetch_in(c, &sql, &[merchant_id, department_id], dates, 100).await? {
        explode(&r, &mut out)?;
    }
    Ok(out)
}

/// How many weekly balance values the merchant has.
pub async fn count_values(c: &mut Conn, merchant_id: &str) -> Result<i64> {
    let cells: Vec<String> = FIELDS
        .iter()
        .map(|f| format!("CASE WHEN {f} IS NULL THEN 0 ELSE 1 END"))
        .collect();
    Ok(sqlx::query_scalar(&format!(
        "SELECT CAST(COALESCE(SUM({}), 0) AS BIGINT) FROM labor_values WHERE merchant_id = $1",
        cells.join(" + ")
    ))
    .bind(merchant_id)
    .fetch_one(c)
    .await?)
}

fn check_fields(fields: &[&str]) -> Result<()> {
    match fields.iter().find(|f| !FIELDS.contains(f)) {
        Some(f) => Err(StoreError::Corrupt(format!(
            "`{f}` is not a weekly balance field"
        ))),
        None => Ok(()),
    }
}

/// Removes every value of some fields of a department.
pub async fn clear_fields(
    c: &mut Conn,
    merchant_id: &str,
    department_id: &str,
    fields: &[&str],
) -> Result<()> {
    check_fields(fields)?;
    if fields.is_empty() {
        return Ok(());
    }
    let set: Vec<String> = fields.iter().map(|f| format!("{f} = NULL")).collect();
    sqlx::query(&format!(
        "UPDATE labor_values SET {} WHERE merchant_id = $1 AND department_id = $2",
        set.join(", ")
    ))
    .bind(merchant_id)
    .bind(department_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Replaces the values of some days of a department: every field in `fields` loses its old
/// values on each of `dates`, and `rows` (dated among them) are written; fields not listed keep
/// theirs.
pub async fn replace_values(
    c: &mut Conn,
    merchant_id: &str,
    department_id: &str,
    dates: &[&str],
    fields: &[&str],
    rows: &[ValueRow],
) -> Result<()> {
    check_fields(fields)?;
    if fields.is_empty() || dates.is_empty() {
        return Ok(());
    }
    // The other fields' values on those days stay as they are.
    let kept: Vec<&str> = FIELDS
        .iter()
        .copied()
        .filter(|f| !fields.contains(f))
        .collect();
    let mut cells: Vec<ValueRow> = Vec::with_capacity(rows.len());
    if !kept.is_empty() {
        cells.extend(
            values_of_dates(c, merchant_id, department_id, dates)
                .await?
                .into_iter()
                .filter(|v| kept.contains(&v.field_id.as_str())),
        );
    }
    cells.extend(rows.iter().cloned());
    let mut wide: std::collections::BTreeMap<(&str, i64), [Option<i64>; 8]> =
        std::collections::BTreeMap::new();
    for v in &cells {
        check_fields(&[v.field_id.as_str()])?;
        let slot = FIELDS.iter().position(|f| *f == v.field_id).unwrap_or(0);
        wide.entry((v.business_date.as_str(), v.hour)).or_default()[slot] = Some(v.value);
    }
    for part in dates.chunks(100) {
        let list = crate::placeholders(part.len(), "", 1, 3);
        let sql = format!(
            "DELETE FROM labor_values WHERE merchant_id = $1 AND department_id = $2 AND business_date IN ({list})"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql)
            .persistent(crate::keep_prepared(c, part.len() == 100))
            .bind(merchant_id)
            .bind(department_id);
        for d in part {
            q = q.bind(*d);
        }
        q.execute(&mut *c).await?;
    }
    // A few hundred parameters per statement: SQLite binds `$n` in time quadratic in their number.
    let wide: Vec<_> = wide.into_iter().collect();
    for chunk in wide.chunks(24) {
        let values = crate::placeholders(chunk.len(), "$1, $2", 10, 3);
        let sql = format!(
            "INSERT INTO labor_values (merchant_id, department_id, business_date, hour, {}) VALUES {values}",
            field_columns()
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql)
            .persistent(chunk.len() == 24)
            .bind(merchant_id)
            .bind(department_id);
        for ((date, hour), cells) in chunk {
            q = q.bind(*date).bind(*hour);
            for cell in cells {
                q = q.bind(*cell);
            }
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
