//! Merchants, their locations, and the links from locations to POS locations.

use crate::{Conn, Result, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerchantRow {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub currency: String,
    pub created_at: i64,
}

fn merchant(r: &AnyRow) -> Result<MerchantRow> {
    Ok(MerchantRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        timezone: r.try_get("timezone")?,
        currency: r.try_get("currency")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_merchant(c: &mut Conn, m: &MerchantRow) -> Result<()> {
    sqlx::query("INSERT INTO merchants (id, name, timezone, currency, event_seq, created_at) VALUES ($1, $2, $3, $4, 0, $5)")
        .bind(&m.id)
        .bind(&m.name)
        .bind(&m.timezone)
        .bind(&m.currency)
        .bind(m.created_at)
        .execute(c)
        .await
        .map_err(|e| StoreError::from(e).conflict_as(&format!("merchant `{}`", m.id)))?;
    Ok(())
}

pub async fn get_merchant(c: &mut Conn, id: &str) -> Result<Option<MerchantRow>> {
    let row =
        sqlx::query("SELECT id, name, timezone, currency, created_at FROM merchants WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?;
    row.as_ref().map(merchant).transpose()
}

pub async fn list_merchants(c: &mut Conn) -> Result<Vec<MerchantRow>> {
    let rows = sqlx::query(
        "SELECT id, name, timezone, currency, created_at FROM merchants ORDER BY created_at, id",
    )
    .fetch_all(c)
    .await?;
    rows.iter().map(merchant).collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocationRow {
    pub merchant_id: String,
    pub id: String,
    pub name: String,
    pub timezone: String,
    /// Local wall-clock start of the business day, `HH:MM`.
    pub day_start: String,
    pub created_at: i64,
}

fn location(r: &AnyRow) -> Result<LocationRow> {
    Ok(LocationRow {
        merchant_id: r.try_get("merchant_id")?,
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        timezone: r.try_get("timezone")?,
        day_start: r.try_get("day_start")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_location(c: &mut Conn, l: &LocationRow) -> Result<()> {
    sqlx::query("INSERT INTO locations (merchant_id, id, name, timezone, day_start, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&l.merchant_id)
        .bind(&l.id)
        .bind(&l.name)
        .bind(&l.timezone)
        .bind(&l.day_start)
        .bind(l.created_at)
        .execute(c)
        .await
        .map_err(|e| StoreError::from(e).conflict_as(&format!("location `{}`", l.id)))?;
    Ok(())
}

pub async fn get_location(
    c: &mut Conn,
    merchant_id: &str,
    id: &str,
) -> Result<Option<LocationRow>> {
    let row = sqlx::query("SELECT * FROM locations WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(location).transpose()
}

pub async fn list_locations(c: &mut Conn, merchant_id: &str) -> Result<Vec<LocationRow>> {
    let rows =
        sqlx::query("SELECT * FROM locations WHERE merchant_id = $1 ORDER BY created_at, id")
            .bind(merchant_id)
            .fetch_all(c)
            .await?;
    rows.iter().map(location).collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRow {
    pub location_id: String,
    pub connection_id: String,
    pub external_id: String,
}

/// Maps `location_id` to POS location `external_id` on a connection, replacing the location's
/// previous mapping on that connection. A POS location already mapped to another location is
/// a conflict.
pub async fn link_location(
    c: &mut Conn,
    merchant_id: &str,
    link: &LinkRow,
    now: i64,
) -> Result<()> {
    let taken: Option<String> = sqlx::query_scalar("SELECT location_id FROM location_links WHERE merchant_id = $1 AND connection_id = $2 AND external_id = $3")
        .bind(merchant_id)
        .bind(&link.connection_id)
        .bind(&link.external_id)
        .fetch_optional(&mut *c)
        .await?;
    if let Some(other) = taken.filter(|o| *o != link.location_id) {
        return Err(StoreError::Conflict(format!(
            "POS location `{}` is already mapped to location `{other}`",
            link.external_id
        )));
    }
    sqlx::query("DELETE FROM location_links WHERE merchant_id = $1 AND location_id = $2 AND connection_id = $3")
        .bind(merchant_id)
        .bind(&link.location_id)
        .bind(&link.connection_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("INSERT INTO location_links (merchant_id, location_id, connection_id, external_id, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(merchant_id)
        .bind(&link.location_id)
        .bind(&link.connection_id)
        .bind(&link.external_id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn list_links(c: &mut Conn, merchant_id: &str) -> Result<Vec<LinkRow>> {
    let rows = sqlx::query("SELECT location_id, connection_id, external_id FROM location_links WHERE merchant_id = $1 ORDER BY location_id, connection_id")
        .bind(merchant_id)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LinkRow {
                location_id: r.try_get("location_id")?,
                connection_id: r.try_get("connection_id")?,
                external_id: r.try_get("external_id")?,
            })
        })
        .collect()
}
