//! Orders and their lines: idempotent upserts keyed by the provider id, versioned by a content
//! hash, and the summaries the API and the truth checks read.

use crate::{Conn, Result, StoreError};
use sqlx::Row;
use tillbridge_model::{Order, SalesFigures};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upsert {
    Inserted { id: String },
    Updated { id: String, version: i64 },
    Unchanged { id: String },
}

/// Where an order belongs: its connection and (when mapped) the tillbridge location.
pub struct OrderScope<'a> {
    pub merchant_id: &'a str,
    pub connection_id: &'a str,
    pub location_id: Option<&'a str>,
}

/// Inserts the order, or updates it when its content hash changed, or leaves it alone.
/// `new_id` is used only on insert.
pub async fn upsert_order(
    c: &mut Conn,
    scope: &OrderScope<'_>,
    order: &Order,
    new_id: &str,
    now: i64,
) -> Result<Upsert> {
    let write = OrderWrite {
        location_id: scope.location_id,
        order,
        new_id: new_id.to_owned(),
    };
    let mut outcomes =
        upsert_orders(c, scope.merchant_id, scope.connection_id, &[write], now).await?;
    outcomes
        .pop()
        .ok_or_else(|| StoreError::Corrupt("an upsert gave no outcome".into()))
}

/// One order for [`upsert_orders`]: the tillbridge location it belongs to (when mapped) and
/// the id it gets if it is new.
pub struct OrderWrite<'a> {
    pub location_id: Option<&'a str>,
    pub order: &'a Order,
    pub new_id: String,
}

/// [`upsert_order`] for many orders of one connection, in a few multi-row statements rather
/// than several per order: every order is offered as new, 16 to an insert, with the new ones'
/// lines 32 at a time; the ones stored already are looked up 200 at a time, and only the
/// changed ones are updated one by one. The outcomes come in the order of `writes`. A provider
/// id given twice is two upserts, the later against the earlier.
pub async fn upsert_orders(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    writes: &[OrderWrite<'_>],
    now: i64,
) -> Result<Vec<Upsert>> {
    let mut outcomes = Vec::with_capacity(writes.len());
    let mut start = 0;
    while start < writes.len() {
        // The longest run of distinct provider ids from `start`.
        let mut seen = std::collections::HashSet::new();
        let end = start
            + writes[start..]
                .iter()
                .take_while(|w| seen.insert(w.order.external_id.as_str()))
                .count();
        let run = &writes[start..end];
        outcomes.extend(upsert_distinct(c, merchant_id, connection_id, run, now).await?);
        start = end;
    }
    Ok(outcomes)
}

/// [`upsert_orders`] for orders whose provider ids are all different.
///
/// Every order is offered as new first; the unique index on the provider id turns away the
/// stored ones, which are then read and compared. (Reading first would need PostgreSQL's
/// statistics to use that index for a list of ids, and a table filling up in a first backfill
/// has none yet: each look-up scanned all of the connection's orders.)
async fn upsert_distinct(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    writes: &[OrderWrite<'_>],
    now: i64,
) -> Result<Vec<Upsert>> {
    let rows: Vec<NewRow> = writes
        .iter()
        .map(|w| NewRow {
            id: &w.new_id,
            location_id: w.location_id,
            order: w.order,
            hash: w.order.content_hash(),
        })
        .collect();
    let inserted = insert_rows(c, merchant_id, connection_id, &rows, now).await?;
    // What was stored already: provider id → (id, content hash, version).
    let others: Vec<&str> = writes
        .iter()
        .map(|w| w.order.external_id.as_str())
        .filter(|e| !inserted.contains(*e))
        .collect();
    let mut stored = std::collections::HashMap::new();
    let sql = "SELECT id, content_hash, version, external_id FROM orders \
               WHERE merchant_id = $1 AND connection_id = $2 AND external_id IN ({in})";
    for row in crate::fetch_in(c, sql, &[merchant_id, connection_id], &others, 200).await? {
        let external_id: String = row.try_get("external_id")?;
        let id: String = row.try_get("id")?;
        let hash: String = row.try_get("content_hash")?;
        let version: i64 = row.try_get("version")?;
        stored.insert(external_id, (id, hash, version));
    }
    let mut outcomes = Vec::with_capacity(writes.len());
    let mut relined: Vec<(&str, &Order)> = Vec::new();
    for (w, row) in writes.iter().zip(&rows) {
        if inserted.contains(&w.order.external_id) {
            outcomes.push(Upsert::Inserted {
                id: w.new_id.clone(),
            });
            continue;
        }
        let scope = OrderScope {
            merchant_id,
            connection_id,
            location_id: w.location_id,
        };
        match stored.get(&w.order.external_id) {
            Some((id, old_hash, _)) if *old_hash == row.hash => {
                outcomes.push(Upsert::Unchanged { id: id.clone() })
            }
            Some((id, _, version)) => {
                let body = serde_json::to_string(w.order)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let update = sqlx::query(
                    "UPDATE orders SET location_id = $3, external_location_id = $4, kind = $5, original_external_id = $6, status = $7, closed_at = $8, \
                     business_date = $9, currency = $10, total_minor = $11, tax_minor = $12, discount_minor = $13, tip_minor = $14, covers = $15, \
                     customer_email = $16, content_hash = $17, body = $18, register_id = $19, sold_lines = $20, gross_minor = $21, sold_discount_minor = $22, \
                     returns_minor = $23, gross_excl_minor = $24, sold_discount_excl_minor = $25, returns_excl_minor = $26, goods_milli = $27, \
                     returned_milli = $28, version = $29, updated_at = $30 WHERE merchant_id = $1 AND id = $2",
                )
                .bind(merchant_id)
                .bind(id.as_str());
                bind_state(update, &scope, w.order, &row.hash, &body)
                    .bind(version + 1)
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("DELETE FROM order_lines WHERE merchant_id = $1 AND order_id = $2")
                    .bind(merchant_id)
                    .bind(id.as_str())
                    .execute(&mut *c)
                    .await?;
                relined.push((id.as_str(), w.order));
                outcomes.push(Upsert::Updated {
                    id: id.clone(),
                    version: version + 1,
                });
            }
            None => {
                return Err(StoreError::Corrupt(format!(
                    "order `{}` of connection `{connection_id}` was neither inserted nor found",
                    w.order.external_id
                )))
            }
        }
    }
    insert_lines_of(c, merchant_id, &relined).await?;
    Ok(outcomes)
}

/// An order known to be new, with its content hash.
struct NewRow<'a> {
    id: &'a str,
    location_id: Option<&'a str>,
    order: &'a Order,
    hash: String,
}

/// Inserts orders with their lines in multi-row statements, passing over those whose provider
/// id is stored already. Returns the provider ids inserted.
async fn insert_rows(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    rows: &[NewRow<'_>],
    now: i64,
) -> Result<std::collections::HashSet<String>> {
    let mut inserted = std::collections::HashSet::new();
    // Each row binds all its values, so that SQLite binds them in order (`for_backend`).
    for chunk in rows.chunks(200) {
        let bodies = chunk
            .iter()
            .map(|r| serde_json::to_string(r.order).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<Result<Vec<String>>>()?;
        let placeholders = crate::placeholders(chunk.len(), "", 34, 1);
        let sql = format!(
            "INSERT INTO orders (merchant_id, connection_id, created_at, id, series, external_id, location_id, external_location_id, \
             kind, original_external_id, status, closed_at, business_date, currency, total_minor, tax_minor, discount_minor, tip_minor, \
             covers, customer_email, content_hash, body, register_id, {FIGURE_COLUMNS}, version, updated_at) VALUES {placeholders} \
             ON CONFLICT (merchant_id, connection_id, external_id) DO NOTHING RETURNING external_id"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql).persistent(chunk.len() == 200);
        for (r, body) in chunk.iter().zip(&bodies) {
            let scope = OrderScope {
                merchant_id,
                connection_id,
                location_id: r.location_id,
            };
            q = q
                .bind(merchant_id)
                .bind(connection_id)
                .bind(now)
                .bind(r.id)
                .bind(r.order.series.as_str())
                .bind(&r.order.external_id);
            q = bind_state(q, &scope, r.order, &r.hash, body)
                .bind(1_i64)
                .bind(now);
        }
        let mut new = std::collections::HashSet::new();
        for row in q.fetch_all(&mut *c).await? {
            new.insert(row.try_get::<String, _>("external_id")?);
        }
        let with_ids: Vec<(&str, &Order)> = chunk
            .iter()
            .filter(|r| new.contains(&r.order.external_id))
            .map(|r| (r.id, r.order))
            .collect();
        insert_lines_of(c, merchant_id, &with_ids).await?;
        inserted.extend(new);
    }
    Ok(inserted)
}

/// The sales-figure columns, in the order of [`SalesFigures`]' fields (see `bind_figures`).
const FIGURE_COLUMNS: &str =
    "sold_lines, gross_minor, sold_discount_minor, returns_minor, gross_excl_minor, \
    sold_discount_excl_minor, returns_excl_minor, goods_milli, returned_milli";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds the order's state columns, in the order both the INSERT and the UPDATE list them:
/// location_id … customer_email, content_hash, body, register_id and the sales figures.
fn bind_state<'q>(
    q: AnyQuery<'q>,
    scope: &OrderScope<'q>,
    order: &'q Order,
    hash: &'q str,
    body: &'q str,
) -> AnyQuery<'q> {
    let q = q
        .bind(scope.location_id)
        .bind(&order.external_location_id)
        .bind(order.kind.as_str())
        .bind(&order.original_external_id)
        .bind(order.status.as_str())
        .bind(order.closed_at.timestamp_millis())
        .bind(order.business_date.map(|d| d.to_string()))
        .bind(&order.currency)
        .bind(order.total_minor)
        .bind(order.tax_minor)
        .bind(order.discount_minor)
        .bind(order.tip_minor)
        .bind(order.covers.map(i64::from))
        .bind(order.customer_email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(hash)
        .bind(body)
        .bind(&order.register_id);
    bind_figures(q, order.sales_figures())
}

/// Binds an order's sales figures in the order of [`SalesFigures`]' fields.
fn bind_figures(q: AnyQuery<'_>, f: SalesFigures) -> AnyQuery<'_> {
    q.bind(f.sold_lines)
        .bind(f.gross_minor)
        .bind(f.discount_minor)
        .bind(f.returns_minor)
        .bind(f.gross_excl_minor)
        .bind(f.discount_excl_minor)
        .bind(f.returns_excl_minor)
        .bind(f.goods_milli)
        .bind(f.returned_milli)
}

/// Inserts the lines of orders in multi-row statements.
async fn insert_lines_of(c: &mut Conn, merchant_id: &str, orders: &[(&str, &Order)]) -> Result<()> {
    let lines: Vec<(&str, usize, &tillbridge_model::OrderLine)> = orders
        .iter()
        .flat_map(|(id, o)| o.lines.iter().enumerate().map(move |(n, l)| (*id, n, l)))
        .collect();
    // Each row binds all its values, so that SQLite binds them in order (`for_backend`).
    for part in lines.chunks(500) {
        let rows = crate::placeholders(part.len(), "", 15, 1);
        let sql = format!(
            "INSERT INTO order_lines (merchant_id, order_id, line_no, external_id, sku, name, category, category_id, quantity_milli, \
             unit_price_minor, discount_minor, tax_minor, total_minor, net_minor, voided) VALUES {rows}"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql).persistent(part.len() == 500);
        for (id, n, l) in part {
            q = q
                .bind(merchant_id)
                .bind(*id)
                .bind(*n as i64)
                .bind(&l.external_id)
                .bind(&l.sku)
                .bind(&l.name)
                .bind(&l.category)
                .bind(&l.category_id)
                .bind(l.quantity.milli())
                .bind(l.unit_price_minor)
                .bind(l.discount_minor)
                .bind(l.tax_minor)
                .bind(l.total_minor)
                .bind(l.net_minor)
                .bind(l.voided);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// Inserts orders known to be new (`(id, order)`, no location mapping) in multi-row
/// statements, without events (one stored already is passed over): how benchmarks seed a year
/// of history in seconds. Sync goes through [`upsert_orders`].
pub async fn insert_new(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    orders: &[(String, Order)],
    now: i64,
) -> Result<()> {
    let rows: Vec<NewRow> = orders
        .iter()
        .map(|(id, order)| NewRow {
            id,
            location_id: None,
            order,
            hash: order.content_hash(),
        })
        .collect();
    insert_rows(c, merchant_id, connection_id, &rows, now).await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub id: String,
    pub connection_id: String,
    pub location_id: Option<String>,
    pub version: i64,
    pub order: Order,
}

fn stored(r: &sqlx::any::AnyRow) -> Result<StoredOrder> {
    let body: String = r.try_get("body")?;
    Ok(StoredOrder {
        id: r.try_get("id")?,
        connection_id: r.try_get("connection_id")?,
        location_id: r.try_get("location_id")?,
        version: r.try_get("version")?,
        order: serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("order body: {e}")))?,
    })
}

pub async fn get_order(c: &mut Conn, merchant_id: &str, id: &str) -> Result<Option<StoredOrder>> {
    let row = sqlx::query("SELECT id, connection_id, location_id, version, body FROM orders WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(stored).transpose()
}

/// Every order of business date `date` (`YYYY-MM-DD`), optionally of one connection and one
/// POS location, by connection, location and closing time. Orders of unmapped locations have
/// no business date and are not among them.
pub async fn by_business_date(
    c: &mut Conn,
    merchant_id: &str,
    date: &str,
    connection_id: Option<&str>,
    pos_location: Option<&str>,
) -> Result<Vec<StoredOrder>> {
    let rows = sqlx::query(
        "SELECT id, connection_id, location_id, version, body FROM orders \
         WHERE merchant_id = $1 AND business_date = $2 \
         AND ($3 IS NULL OR connection_id = $3) AND ($4 IS NULL OR external_location_id = $4) \
         ORDER BY connection_id, external_location_id, closed_at, id",
    )
    .bind(merchant_id)
    .bind(date)
    .bind(connection_id)
    .bind(pos_location)
    .fetch_all(c)
    .await?;
    rows.iter().map(stored).collect()
}

/// A sale and every refund or void of it on the same connection, oldest first.
pub async fn purchase_orders(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    sale_external_id: &str,
) -> Result<Vec<StoredOrder>> {
    let sale = sqlx::query(
        "SELECT id, connection_id, location_id, version, body FROM orders WHERE merchant_id = $1 AND connection_id = $2 AND external_id = $3",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(sale_external_id)
    .fetch_optional(&mut *c)
    .await?;
    let reversals = sqlx::query(
        "SELECT id, connection_id, location_id, version, body FROM orders WHERE merchant_id = $1 AND connection_id = $2 \
         AND original_external_id = $3 AND original_external_id IS NOT NULL",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(sale_external_id)
    .fetch_all(c)
    .await?;
    // Sorted here, not in SQL: with an ORDER BY, SQLite preferred the closing-time index and
    // read every order of the merchant for each purchase.
    let mut reversals = reversals.iter().map(stored).collect::<Result<Vec<_>>>()?;
    reversals.sort_by(|a, b| (a.order.closed_at, &a.id).cmp(&(b.order.closed_at, &b.id)));
    sale.as_ref()
        .map(stored)
        .into_iter()
        .chain(reversals.into_iter().map(Ok))
        .collect()
}

/// [`purchase_orders`] for many sales of one connection at once, by sale id (sales without
/// any stored order are absent).
pub async fn purchases_orders(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    sale_external_ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<StoredOrder>>> {
    let mut out: std::collections::HashMap<String, Vec<StoredOrder>> = Default::default();
    let mut reversals = Vec::new();
    for (column, extra) in [
        ("external_id", ""),
        (
            "original_external_id",
            " AND original_external_id IS NOT NULL",
        ),
    ] {
        let sql = format!(
            "SELECT id, connection_id, location_id, version, body, {column} AS sale FROM orders \
             WHERE merchant_id = $1 AND connection_id = $2 AND {column} IN ({{in}}){extra}"
        );
        let shared = [merchant_id, connection_id];
        for r in crate::fetch_in(c, &sql, &shared, sale_external_ids, 500).await? {
            let sale: String = r.try_get("sale")?;
            let order = stored(&r)?;
            if column == "external_id" {
                // The sale itself comes first.
                out.entry(sale).or_default().insert(0, order);
            } else {
                reversals.push((sale, order));
            }
        }
    }
    reversals.sort_by(|(_, a), (_, b)| (a.order.closed_at, &a.id).cmp(&(b.order.closed_at, &b.id)));
    for (sale, order) in reversals {
        out.entry(sale).or_default().push(order);
    }
    Ok(out)
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub location_id: Option<String>,
    /// Keyset cursor: `(closed_at, id)` of the last order already seen.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// Orders closed in `[from, to)`, oldest first, paged by keyset.
pub async fn list_orders(
    c: &mut Conn,
    merchant_id: &str,
    f: &OrderFilter,
) -> Result<Vec<StoredOrder>> {
    let (after_at, after_id) = f
        .after
        .clone()
        .map_or((None, None), |(a, i)| (Some(a), Some(i)));
    let rows = sqlx::query(
        "SELECT id, connection_id, location_id, version, body FROM orders WHERE merchant_id = $1 \
         AND ($2 IS NULL OR closed_at >= $2) AND ($3 IS NULL OR closed_at < $3) AND ($4 IS NULL OR location_id = $4) \
         AND ($5 IS NULL OR closed_at > $5 OR (closed_at = $5 AND id > $6)) ORDER BY closed_at, id LIMIT $7",
    )
    .bind(merchant_id)
    .bind(f.from)
    .bind(f.to)
    .bind(&f.location_id)
    .bind(after_at)
    .bind(after_id)
    .bind(f.limit)
    .fetch_all(c)
    .await?;
    rows.iter().map(stored).collect()
}

pub async fn count_orders(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: Option<&str>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE merchant_id = $1 AND ($2 IS NULL OR connection_id = $2)",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .fetch_one(c)
    .await?)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LocationSummary {
    pub location_id: String,
    pub orders: i64,
    pub sales: i64,
    pub refunds: i64,
    pub voids: i64,
    pub total_minor: i64,
    pub tax_minor: i64,
    pub tip_minor: i64,
    pub covers: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CategorySummary {
    pub category: String,
    pub quantity_milli: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CustomerSummary {
    pub email: String,
    pub orders: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HourSummary {
    pub location_id: String,
    /// Start of the UTC hour, epoch milliseconds.
    pub hour: i64,
    pub orders: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub orders: i64,
    pub total_minor: i64,
    pub by_location: Vec<LocationSummary>,
    pub by_hour: Vec<HourSummary>,
    pub by_category: Vec<CategorySummary>,
    pub by_customer: Vec<CustomerSummary>,
}

/// Sums of every order record (refunds and voids negative) closed in `[from, to)`, keyed by the
/// POS location id, UTC hour, line category and normalised customer e-mail.
pub async fn summary(
    c: &mut Conn,
    merchant_id: &str,
    from: Option<i64>,
    to: Option<i64>,
    connection_id: Option<&str>,
) -> Result<Summary> {
    let window =
        "merchant_id = $1 AND ($2 IS NULL OR closed_at >= $2) AND ($3 IS NULL OR closed_at < $3) \
                  AND ($4 IS NULL OR connection_id = $4)";
    let rows = sqlx::query(&format!(
        "SELECT external_location_id, COUNT(*) AS n, \
         CAST(SUM(CASE WHEN kind = 'sale' THEN 1 ELSE 0 END) AS BIGINT) AS sales, \
         CAST(SUM(CASE WHEN kind = 'refund' THEN 1 ELSE 0 END) AS BIGINT) AS refunds, \
         CAST(SUM(CASE WHEN kind = 'void' THEN 1 ELSE 0 END) AS BIGINT) AS voids, \
         CAST(SUM(total_minor) AS BIGINT) AS total, CAST(SUM(tax_minor) AS BIGINT) AS tax, CAST(SUM(tip_minor) AS BIGINT) AS tip, \
         CAST(SUM(COALESCE(covers, 0)) AS BIGINT) AS covers FROM orders WHERE {window} GROUP BY external_location_id ORDER BY external_location_id"
    ))
    .bind(merchant_id)
    .bind(from)
    .bind(to)
    .bind(connection_id)
    .fetch_all(&mut *c)
    .await?;
    let mut s = Summary::default();
    for r in &rows {
        let l = LocationSummary {
            location_id: r.try_get("external_location_id")?,
            orders: r.try_get("n")?,
            sales: r.try_get("sales")?,
            refunds: r.try_get("refunds")?,
            voids: r.try_get("voids")?,
            total_minor: r.try_get("total")?,
            tax_minor: r.try_get("tax")?,
            tip_minor: r.try_get("tip")?,
            covers: r.try_get("covers")?,
        };
        s.orders += l.orders;
        s.total_minor += l.total_minor;
        s.by_location.push(l);
    }
    let rows = sqlx::query(&format!(
        "SELECT external_location_id, (closed_at / 3600000) * 3600000 AS hour, COUNT(*) AS n, CAST(SUM(total_minor) AS BIGINT) AS total \
         FROM orders WHERE {window} GROUP BY external_location_id, (closed_at / 3600000) * 3600000 ORDER BY external_location_id, hour"
    ))
    .bind(merchant_id)
    .bind(from)
    .bind(to)
    .bind(connection_id)
    .fetch_all(&mut *c)
    .await?;
    for r in &rows {
        s.by_hour.push(HourSummary {
            location_id: r.try_get("external_location_id")?,
            hour: r.try_get("hour")?,
            orders: r.try_get("n")?,
            total_minor: r.try_get("total")?,
        });
    }
    let rows = sqlx::query(
        "SELECT COALESCE(l.category, '') AS category, CAST(SUM(l.quantity_milli) AS BIGINT) AS qty, CAST(SUM(l.total_minor) AS BIGINT) AS total \
         FROM order_lines l JOIN orders o ON o.merchant_id = l.merchant_id AND o.id = l.order_id \
         WHERE o.merchant_id = $1 AND ($2 IS NULL OR o.closed_at >= $2) AND ($3 IS NULL OR o.closed_at < $3) AND ($4 IS NULL OR o.connection_id = $4) AND NOT l.voided \
         GROUP BY COALESCE(l.category, '') ORDER BY category",
    )
    .bind(merchant_id)
    .bind(from)
    .bind(to)
    .bind(connection_id)
    .fetch_all(&mut *c)
    .await?;
    for r in &rows {
        s.by_category.push(CategorySummary {
            category: r.try_get("category")?,
            quantity_milli: r.try_get("qty")?,
            total_minor: r.try_get("total")?,
        });
    }
    let rows = sqlx::query(&format!(
        "SELECT customer_email, COUNT(*) AS n, CAST(SUM(total_minor) AS BIGINT) AS total FROM orders WHERE {window} AND customer_email IS NOT NULL \
         GROUP BY customer_email ORDER BY customer_email"
    ))
    .bind(merchant_id)
    .bind(from)
    .bind(to)
    .bind(connection_id)
    .fetch_all(&mut *c)
    .await?;
    for r in &rows {
        s.by_customer.push(CustomerSummary {
            email: r.try_get("customer_email")?,
            orders: r.try_get("n")?,
            total_minor: r.try_get("total")?,
        });
    }
    Ok(s)
}
