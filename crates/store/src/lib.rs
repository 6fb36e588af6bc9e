//! tillbridge persistence. One [`Store`] over SQLite (the embedded default) or PostgreSQL,
//! picked once from the URL scheme. Queries are runtime-bound with `$n` placeholders, which
//! both backends accept; each backend owns its migrations. Every table carries `merchant_id`
//! in its keys and every query helper takes it, so tenancy lives here and not in handlers.

pub mod api_keys;
pub mod attempts;
pub mod catalog;
pub mod connections;
pub mod dashboard;
mod error;
pub mod events;
pub mod jobs;
pub mod labor;
pub mod logs;
pub mod loyalty;
pub mod merchants;
mod migrate;
pub mod ordering;
pub mod orders;
pub mod outbound;
pub mod outbox;
mod pool;
pub mod sealed;
pub mod testing;

pub use error::StoreError;
pub use pool::{Backend, Store, Tx};

pub type Result<T> = std::result::Result<T, StoreError>;
pub use sqlx::AnyConnection as Conn;
/// A pooled connection; derefs to [`Conn`].
pub type PooledConn = sqlx::pool::PoolConnection<sqlx::Any>;

/// Brings the planner's statistics up to date, as PostgreSQL's autovacuum does on its own
/// (`VACUUM ANALYZE`) and SQLite's `ANALYZE`: after a bulk load, before measuring.
pub async fn refresh_statistics(c: &mut Conn) -> Result<()> {
    let sql = if c.backend_name() == "PostgreSQL" {
        "VACUUM ANALYZE"
    } else {
        "ANALYZE"
    };
    sqlx::query(sql).execute(c).await?;
    Ok(())
}

/// Commits a write transaction.
pub async fn commit(tx: Tx) -> Result<()> {
    tx.commit().await.map_err(StoreError::from)
}

/// `sql` as the connection's backend binds it fastest. SQLite finds a numbered parameter
/// (`$n`) by walking the statement's list of them, so binding costs time quadratic in their
/// number: a statement of 6,000 parameters spends tens of milliseconds there. Anonymous ones
/// (`?`) are bound in order at no such cost. So on SQLite, when every `$n` outside quotes
/// appears once and in binding order (`$1`, `$2`, …), they become `?`; otherwise (or on
/// PostgreSQL) `sql` is returned as it is.
///
/// Multi-row statements are kept prepared (`persistent`) only at their full chunk size: sqlx
/// keeps up to 100 prepared statements per connection, one of a few thousand parameters takes
/// hundreds of kilobytes, and the last chunks of every size filled the caches (300 MiB through
/// the backfill of a million orders, against 130 MiB without them).
pub(crate) fn for_backend<'a>(c: &Conn, sql: &'a str) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    if c.backend_name() != "SQLite" {
        return Cow::Borrowed(sql);
    }
    anonymous(sql).map_or(Cow::Borrowed(sql), Cow::Owned)
}

/// `sql` with its `$1`, `$2`, … (each once, in order, outside quotes) as `?`; `None` when
/// they are not so.
fn anonymous(sql: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let (mut next, mut quoted, mut from, mut i) = (1_u64, false, 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'$' if !quoted => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits == 0 {
                    return None;
                }
                let n: u64 = sql[i + 1..i + 1 + digits].parse().ok()?;
                if n != next {
                    return None;
                }
                next += 1;
                out.push_str(&sql[from..i]);
                out.push('?');
                i += 1 + digits;
                from = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&sql[from..]);
    Some(out)
}

/// Whether a statement that picks rows by a list of keys (`IN (…)`) is kept prepared: on SQLite
/// at its full chunk size only (see [`for_backend`]), on PostgreSQL never. PostgreSQL plans a
/// prepared statement once for any values after its first few runs, and that generic plan
/// compares each row with the whole list (a hashed list needs the values as constants) and,
/// while a growing table's statistics lag, may walk an index that does not hold the key: 500
/// keys took 40 to 100 ms where a statement planned with its values takes 3 to 8.
pub(crate) fn keep_prepared(c: &Conn, full_chunk: bool) -> bool {
    full_chunk && c.backend_name() == "SQLite"
}

/// The rows `sql` selects for all of `keys`, asked `chunk` keys at a time. `sql` holds `{in}`
/// where the list of keys goes, after its `shared` parameters (`$1`…), which every chunk binds
/// first; a chunk's statement is kept prepared as [`keep_prepared`] says.
pub(crate) async fn fetch_in(
    c: &mut Conn,
    sql: &str,
    shared: &[&str],
    keys: &[&str],
    chunk: usize,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let mut rows = Vec::new();
    for part in keys.chunks(chunk) {
        let list = placeholders(part.len(), "", 1, shared.len() + 1);
        let sql = sql.replace("{in}", &list);
        let sql = for_backend(c, &sql);
        let mut q = sqlx::query(&sql).persistent(keep_prepared(c, part.len() == chunk));
        for value in shared.iter().chain(part) {
            q = q.bind(*value);
        }
        rows.extend(q.fetch_all(&mut *c).await?);
    }
    Ok(rows)
}

/// Numbered placeholders for a multi-row statement: `rows` groups of `width` parameters from
/// `$first` on, each group led by the `shared` ones every row repeats (e.g. `"$1, $2"`) —
/// `($1, $2, $3, $4), ($1, $2, $5, $6)` — or, with `width` 1 and no `shared`, an `IN` list
/// `$3, $4, $5`.
pub(crate) fn placeholders(rows: usize, shared: &str, width: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let own = (0..width)
                .map(|k| format!("${}", first + r * width + k))
                .collect::<Vec<_>>()
                .join(", ");
            match (shared.is_empty(), width == 1) {
                (true, true) => own,
                (true, false) => format!("({own})"),
                (false, _) => format!("({shared}, {own})"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn anonymous_placeholders_only_in_binding_order() {
        assert_eq!(
            super::anonymous("INSERT INTO t VALUES ($1, $2), ($3, '$9', $4)").as_deref(),
            Some("INSERT INTO t VALUES (?, ?), (?, '$9', ?)")
        );
        assert_eq!(super::anonymous("SELECT 1").as_deref(), Some("SELECT 1"));
        // Repeated, out of order, skipped or unnumbered: left numbered.
        assert_eq!(super::anonymous("VALUES ($1, $2), ($1, $3)"), None);
        assert_eq!(super::anonymous("VALUES ($2, $1)"), None);
        assert_eq!(super::anonymous("VALUES ($1, $3)"), None);
        assert_eq!(super::anonymous("VALUES ($1, $x)"), None);
    }

    #[test]
    fn placeholders_number_rows_after_the_shared_ones() {
        assert_eq!(super::placeholders(3, "", 1, 3), "$3, $4, $5");
        assert_eq!(
            super::placeholders(2, "", 3, 2),
            "($2, $3, $4), ($5, $6, $7)"
        );
        assert_eq!(
            super::placeholders(2, "$1, $2", 2, 3),
            "($1, $2, $3, $4), ($1, $2, $5, $6)"
        );
    }
}
