//! Catalogs per connection: categories and products (with their category), kept by each
//! connection's catalog stream and read by the sales sync of series whose lines name only a
//! product id; customers (with their e-mail) for series whose sales name only a customer id.

use crate::{Conn, Result};
use sqlx::Row;
use std::collections::HashMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductRow {
    pub external_id: String,
    pub sku: Option<String>,
    pub name: Option<String>,
    pub category_id: Option<String>,
    pub category: Option<String>,
    pub version: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerRow {
    pub external_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub version: i64,
}

pub async fn upsert_products(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    rows: &[ProductRow],
    now: i64,
) -> Result<()> {
    for p in rows {
        sqlx::query(
            "INSERT INTO catalog_products (merchant_id, connection_id, external_id, sku, name, category_id, category, version, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (merchant_id, connection_id, external_id) DO UPDATE SET \
             sku = excluded.sku, name = excluded.name, category_id = excluded.category_id, category = excluded.category, version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(merchant_id)
        .bind(connection_id)
        .bind(&p.external_id)
        .bind(&p.sku)
        .bind(&p.name)
        .bind(&p.category_id)
        .bind(&p.category)
        .bind(p.version)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CategoryRow {
    pub connection_id: String,
    pub external_id: String,
    pub name: String,
}

/// Replaces a connection's categories with `rows` (categories deleted in the POS disappear).
pub async fn replace_categories(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    rows: &[CategoryRow],
    now: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM catalog_categories WHERE merchant_id = $1 AND connection_id = $2")
        .bind(merchant_id)
        .bind(connection_id)
        .execute(&mut *c)
        .await?;
    for r in rows {
        sqlx::query(
            "INSERT INTO catalog_categories (merchant_id, connection_id, external_id, name, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (merchant_id, connection_id, external_id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
        )
        .bind(merchant_id)
        .bind(connection_id)
        .bind(&r.external_id)
        .bind(&r.name)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// A merchant's categories, of one connection or all, ordered by connection and name.
pub async fn categories(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: Option<&str>,
) -> Result<Vec<CategoryRow>> {
    let rows = sqlx::query(
        "SELECT connection_id, external_id, name FROM catalog_categories WHERE merchant_id = $1 AND ($2 IS NULL OR connection_id = $2) \
         ORDER BY connection_id, name, external_id",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CategoryRow {
                connection_id: r.try_get("connection_id")?,
                external_id: r.try_get("external_id")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

pub async fn upsert_customers(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    rows: &[CustomerRow],
    now: i64,
) -> Result<()> {
    for r in rows {
        sqlx::query(
            "INSERT INTO catalog_customers (merchant_id, connection_id, external_id, email, name, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (merchant_id, connection_id, external_id) DO UPDATE SET email = excluded.email, name = excluded.name, version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(merchant_id)
        .bind(connection_id)
        .bind(&r.external_id)
        .bind(&r.email)
        .bind(&r.name)
        .bind(r.version)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub async fn products(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
) -> Result<HashMap<String, ProductRow>> {
    let rows = sqlx::query("SELECT external_id, sku, name, category_id, category, version FROM catalog_products WHERE merchant_id = $1 AND connection_id = $2")
        .bind(merchant_id)
        .bind(connection_id)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            let p = ProductRow {
                external_id: r.try_get("external_id")?,
                sku: r.try_get("sku")?,
                name: r.try_get("name")?,
                category_id: r.try_get("category_id")?,
                category: r.try_get("category")?,
                version: r.try_get("version")?,
            };
            Ok((p.external_id.clone(), p))
        })
        .collect()
}

pub async fn customers(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
) -> Result<HashMap<String, CustomerRow>> {
    let rows = sqlx::query("SELECT external_id, email, name, version FROM catalog_customers WHERE merchant_id = $1 AND connection_id = $2")
        .bind(merchant_id)
        .bind(connection_id)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            let row = CustomerRow {
                external_id: r.try_get("external_id")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                version: r.try_get("version")?,
            };
            Ok((row.external_id.clone(), row))
        })
        .collect()
}

/// A webhook delivery as recorded: its idempotency key, topic and subject, and for deliveries
/// the ordering module applies, their detail (which also marks them pending).
pub struct DeliveryRecord<'a> {
    pub key: &'a str,
    pub topic: &'a str,
    pub subject: &'a str,
    pub detail: Option<&'a serde_json::Value>,
}

/// Records a webhook delivery by its idempotency key; `false` means it was seen before.
pub async fn record_delivery(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    d: &DeliveryRecord<'_>,
    now: i64,
) -> Result<bool> {
    let DeliveryRecord {
        key,
        topic,
        subject,
        detail,
    } = *d;
    let r = sqlx::query(
        "INSERT INTO webhook_deliveries (merchant_id, connection_id, idempotency_key, topic, subject, received_at, detail, pending) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (merchant_id, connection_id, idempotency_key) DO NOTHING",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(key)
    .bind(topic)
    .bind(subject)
    .bind(now)
    .bind(detail.map(serde_json::Value::to_string))
    .bind(i64::from(detail.is_some()))
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn count_deliveries(c: &mut Conn, merchant_id: &str, connection_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE merchant_id = $1 AND connection_id = $2",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .fetch_one(c)
    .await?)
}
