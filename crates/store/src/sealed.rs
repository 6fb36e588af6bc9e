//! Every column that holds a value sealed by the vault, for re-sealing under a new key. Each
//! row is found by its own key and rewritten only if the value is still the one that was read,
//! so a token refreshed meanwhile is never overwritten with an older one.

use crate::{Conn, Result};
use sqlx::Row;

/// A sealed column and the columns that identify its row.
#[derive(Clone, Copy, Debug)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// The row's merchant column, where the table has one.
    pub merchant: Option<&'static str>,
    pub id: &'static str,
}

/// Connection tokens and webhook secrets, OAuth attempts' PKCE verifiers, and the app's webhook
/// endpoint secrets (current and rotated-out).
pub const SEALED: &[SealedColumn] = &[
    SealedColumn {
        table: "connections",
        column: "access_token_enc",
        merchant: Some("merchant_id"),
        id: "id",
    },
    SealedColumn {
        table: "connections",
        column: "refresh_token_enc",
        merchant: Some("merchant_id"),
        id: "id",
    },
    SealedColumn {
        table: "connections",
        column: "webhook_secret_enc",
        merchant: Some("merchant_id"),
        id: "id",
    },
    SealedColumn {
        table: "oauth_attempts",
        column: "verifier_enc",
        merchant: Some("merchant_id"),
        id: "id",
    },
    SealedColumn {
        table: "outbound_endpoints",
        column: "secret_enc",
        merchant: None,
        id: "id",
    },
    SealedColumn {
        table: "outbound_endpoints",
        column: "previous_secret_enc",
        merchant: None,
        id: "id",
    },
];

/// A stored sealed value and the row it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedValue {
    pub merchant_id: Option<String>,
    pub id: String,
    pub sealed: String,
}

/// Every non-null value of `col`.
pub async fn values(c: &mut Conn, col: &SealedColumn) -> Result<Vec<SealedValue>> {
    let merchant = col.merchant.unwrap_or("CAST(NULL AS TEXT)");
    let sql = format!(
        "SELECT {merchant} AS merchant_id, {id} AS id, {column} AS sealed FROM {table} WHERE {column} IS NOT NULL",
        id = col.id,
        column = col.column,
        table = col.table
    );
    let rows = sqlx::query(&sql).fetch_all(c).await?;
    rows.iter()
        .map(|r| {
            Ok(SealedValue {
                merchant_id: r.try_get("merchant_id")?,
                id: r.try_get("id")?,
                sealed: r.try_get("sealed")?,
            })
        })
        .collect()
}

/// Replaces `value` with `resealed` if the row still holds it; whether it did.
pub async fn replace(
    c: &mut Conn,
    col: &SealedColumn,
    value: &SealedValue,
    resealed: &str,
) -> Result<bool> {
    let scope = match col.merchant {
        Some(m) => format!(" AND {m} = $4"),
        None => String::new(),
    };
    let sql = format!(
        "UPDATE {table} SET {column} = $1 WHERE {id} = $2 AND {column} = $3{scope}",
        table = col.table,
        column = col.column,
        id = col.id
    );
    let mut q = sqlx::query(&sql)
        .bind(resealed)
        .bind(&value.id)
        .bind(&value.sealed);
    if col.merchant.is_some() {
        q = q.bind(&value.merchant_id);
    }
    Ok(q.execute(c).await?.rows_affected() == 1)
}
