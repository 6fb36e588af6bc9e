//! Connections to a provider account, with encrypted tokens and the refresh lease, and the
//! POS locations discovered on them.

use crate::{Conn, Result, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionRow {
    pub merchant_id: String,
    pub id: String,
    pub series: String,
    pub status: String,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub currency: Option<String>,
    pub scopes: Option<String>,
    /// Vault ciphertexts, never plaintext.
    pub access_token_enc: Option<String>,
    pub refresh_token_enc: Option<String>,
    pub access_expires_at: Option<i64>,
    pub token_version: i64,
    pub last_error: Option<String>,
    pub last_checked_at: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    /// `oauth`, or `personal_token` (X-Series): a token that is not refreshed.
    pub auth_kind: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ConnectionRow {
    /// A connection being created: no account or tokens yet.
    pub fn pending(merchant_id: &str, id: &str, series: &str, auth_kind: &str, now: i64) -> Self {
        ConnectionRow {
            merchant_id: merchant_id.to_owned(),
            id: id.to_owned(),
            series: series.to_owned(),
            status: "pending".into(),
            account_id: None,
            account_name: None,
            currency: None,
            scopes: None,
            access_token_enc: None,
            refresh_token_enc: None,
            access_expires_at: None,
            token_version: 0,
            last_error: None,
            last_checked_at: None,
            last_refreshed_at: None,
            auth_kind: auth_kind.to_owned(),
            created_at: now,
            updated_at: now,
        }
    }
}

const COLUMNS: &str = "merchant_id, id, series, status, account_id, account_name, currency, scopes, access_token_enc, refresh_token_enc, access_expires_at, token_version, last_error, last_checked_at, last_refreshed_at, auth_kind, created_at, updated_at";

fn connection(r: &AnyRow) -> Result<ConnectionRow> {
    Ok(ConnectionRow {
        merchant_id: r.try_get("merchant_id")?,
        id: r.try_get("id")?,
        series: r.try_get("series")?,
        status: r.try_get("status")?,
        account_id: r.try_get("account_id")?,
        account_name: r.try_get("account_name")?,
        currency: r.try_get("currency")?,
        scopes: r.try_get("scopes")?,
        access_token_enc: r.try_get("access_token_enc")?,
        refresh_token_enc: r.try_get("refresh_token_enc")?,
        access_expires_at: r.try_get("access_expires_at")?,
        token_version: r.try_get("token_version")?,
        last_error: r.try_get("last_error")?,
        last_checked_at: r.try_get("last_checked_at")?,
        last_refreshed_at: r.try_get("last_refreshed_at")?,
        auth_kind: r.try_get("auth_kind")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_connection(c: &mut Conn, row: &ConnectionRow) -> Result<()> {
    sqlx::query(&format!("INSERT INTO connections ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"))
        .bind(&row.merchant_id)
        .bind(&row.id)
        .bind(&row.series)
        .bind(&row.status)
        .bind(&row.account_id)
        .bind(&row.account_name)
        .bind(&row.currency)
        .bind(&row.scopes)
        .bind(&row.access_token_enc)
        .bind(&row.refresh_token_enc)
        .bind(row.access_expires_at)
        .bind(row.token_version)
        .bind(&row.last_error)
        .bind(row.last_checked_at)
        .bind(row.last_refreshed_at)
        .bind(&row.auth_kind)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(c)
        .await
        .map_err(|e| StoreError::from(e).conflict_as("a connection to this account"))?;
    Ok(())
}

pub async fn get_connection(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
) -> Result<Option<ConnectionRow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM connections WHERE merchant_id = $1 AND id = $2"
    ))
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(connection).transpose()
}

/// Looks a connection up by id alone. Only webhook ingress does this (its URL names the
/// connection, not the merchant); everything else goes through the merchant.
pub async fn get_by_id_for_ingress(c: &mut Conn, id: &str) -> Result<Option<ConnectionRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM connections WHERE id = $1"))
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(connection).transpose()
}

pub async fn find_by_account(
    c: &mut Conn,
    merchant_id: &str,
    series: &str,
    account_id: &str,
) -> Result<Option<ConnectionRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM connections WHERE merchant_id = $1 AND series = $2 AND account_id = $3"))
        .bind(merchant_id)
        .bind(series)
        .bind(account_id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(connection).transpose()
}

pub async fn list_connections(c: &mut Conn, merchant_id: &str) -> Result<Vec<ConnectionRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM connections WHERE merchant_id = $1 ORDER BY created_at, id"
    ))
    .bind(merchant_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(connection).collect()
}

/// Connections of every merchant whose status is one of `statuses` (for keep-alive).
pub async fn list_by_status(c: &mut Conn, status: &str) -> Result<Vec<ConnectionRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM connections WHERE status = $1 ORDER BY merchant_id, id"
    ))
    .bind(status)
    .fetch_all(c)
    .await?;
    rows.iter().map(connection).collect()
}

/// A fresh token pair, sealed by the vault.
pub struct SealedTokens<'a> {
    pub access: &'a str,
    /// `None` keeps the stored refresh token (providers that do not rotate).
    pub refresh: Option<&'a str>,
    pub expires_at: i64,
    pub scopes: Option<&'a str>,
}

/// Stores a fresh token pair, bumps the token version, marks the connection connected and
/// releases any refresh lease, all in one statement.
pub async fn store_tokens(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
    t: &SealedTokens<'_>,
    now: i64,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE connections SET access_token_enc = $3, refresh_token_enc = COALESCE($4, refresh_token_enc), access_expires_at = $5, \
         scopes = COALESCE($6, scopes), token_version = token_version + 1, status = 'connected', last_error = NULL, \
         refresh_lease_owner = NULL, refresh_lease_until = NULL, last_refreshed_at = $7, updated_at = $7 \
         WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant_id)
    .bind(id)
    .bind(t.access)
    .bind(t.refresh)
    .bind(t.expires_at)
    .bind(t.scopes)
    .bind(now)
    .execute(c)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("connection `{id}`")));
    }
    Ok(())
}

pub async fn set_account(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
    account_id: Option<&str>,
    account_name: Option<&str>,
    currency: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE connections SET account_id = $3, account_name = $4, currency = $5, updated_at = $6 WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .bind(account_id)
        .bind(account_name)
        .bind(currency)
        .bind(now)
        .execute(c)
        .await
        .map_err(|e| StoreError::from(e).conflict_as("another connection to this account"))?;
    Ok(())
}

pub async fn set_status(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
    status: &str,
    last_error: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE connections SET status = $3, last_error = $4, updated_at = $5 WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .bind(status)
        .bind(last_error)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn record_check(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE connections SET last_checked_at = $3, last_error = COALESCE($4, last_error), updated_at = $3 WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .bind(now)
        .bind(error)
        .execute(c)
        .await?;
    Ok(())
}

/// Takes the cross-process refresh lease if it is free or expired.
pub async fn try_lease_refresh(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
    owner: &str,
    until: i64,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE connections SET refresh_lease_owner = $3, refresh_lease_until = $4 \
         WHERE merchant_id = $1 AND id = $2 AND (refresh_lease_until IS NULL OR refresh_lease_until < $5 OR refresh_lease_owner = $3)",
    )
    .bind(merchant_id)
    .bind(id)
    .bind(owner)
    .bind(until)
    .bind(now)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn release_lease(c: &mut Conn, merchant_id: &str, id: &str, owner: &str) -> Result<()> {
    sqlx::query("UPDATE connections SET refresh_lease_owner = NULL, refresh_lease_until = NULL WHERE merchant_id = $1 AND id = $2 AND refresh_lease_owner = $3")
        .bind(merchant_id)
        .bind(id)
        .bind(owner)
        .execute(c)
        .await?;
    Ok(())
}

/// Stores the sealed signing secret of the connection's webhook subscription.
pub async fn set_webhook_secret(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
    sealed: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE connections SET webhook_secret_enc = $3 WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant_id)
    .bind(id)
    .bind(sealed)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn webhook_secret(c: &mut Conn, merchant_id: &str, id: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT webhook_secret_enc FROM connections WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(c)
    .await?
    .flatten())
}

pub async fn set_auth_kind(c: &mut Conn, merchant_id: &str, id: &str, kind: &str) -> Result<()> {
    sqlx::query("UPDATE connections SET auth_kind = $3 WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .bind(kind)
        .execute(c)
        .await?;
    Ok(())
}

/// Disconnect: erase every credential and disable the connection; synced history stays.
pub async fn erase_credentials(c: &mut Conn, merchant_id: &str, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE connections SET status = 'disabled', access_token_enc = NULL, refresh_token_enc = NULL, access_expires_at = NULL, webhook_secret_enc = NULL, \
         refresh_lease_owner = NULL, refresh_lease_until = NULL, token_version = token_version + 1, updated_at = $3 \
         WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant_id)
    .bind(id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosLocationRow {
    pub external_id: String,
    pub name: String,
    pub timezone: Option<String>,
}

pub async fn replace_pos_locations(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    list: &[PosLocationRow],
) -> Result<()> {
    sqlx::query("DELETE FROM pos_locations WHERE merchant_id = $1 AND connection_id = $2")
        .bind(merchant_id)
        .bind(connection_id)
        .execute(&mut *c)
        .await?;
    for l in list {
        sqlx::query("INSERT INTO pos_locations (merchant_id, connection_id, external_id, name, timezone) VALUES ($1, $2, $3, $4, $5)")
            .bind(merchant_id)
            .bind(connection_id)
            .bind(&l.external_id)
            .bind(&l.name)
            .bind(&l.timezone)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn list_pos_locations(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
) -> Result<Vec<PosLocationRow>> {
    let rows = sqlx::query("SELECT external_id, name, timezone FROM pos_locations WHERE merchant_id = $1 AND connection_id = $2 ORDER BY name, external_id")
        .bind(merchant_id)
        .bind(connection_id)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(PosLocationRow {
                external_id: r.try_get("external_id")?,
                name: r.try_get("name")?,
                timezone: r.try_get("timezone")?,
            })
        })
        .collect()
}
