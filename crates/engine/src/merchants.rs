//! Merchants and locations, and the event helper every write uses.

use crate::error::EngineError;
use crate::ids::new_id;
use crate::Engine;
use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Serialize;
use tillbridge_store::merchants::{self, LocationRow, MerchantRow};
use tillbridge_store::{events, Conn};

#[derive(Debug, Clone, Serialize)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub currency: String,
    pub created_at: i64,
}

impl From<MerchantRow> for Merchant {
    fn from(r: MerchantRow) -> Self {
        Merchant {
            id: r.id,
            name: r.name,
            timezone: r.timezone,
            currency: r.currency,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Location {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub business_day_start: String,
    pub created_at: i64,
}

impl From<LocationRow> for Location {
    fn from(r: LocationRow) -> Self {
        Location {
            id: r.id,
            name: r.name,
            timezone: r.timezone,
            business_day_start: r.day_start,
            created_at: r.created_at,
        }
    }
}

pub struct NewMerchant {
    pub name: String,
    pub timezone: String,
    pub currency: String,
}

pub struct NewLocation {
    pub name: String,
    pub timezone: String,
    pub business_day_start: Option<String>,
}

pub fn parse_zone(raw: &str) -> Result<Tz, EngineError> {
    raw.parse::<Tz>().map_err(|_| EngineError::Invalid(format!("`{raw}` is not an IANA time zone: use a name such as Europe/Copenhagen or America/New_York")))
}

pub fn parse_day_start(raw: &str) -> Result<NaiveTime, EngineError> {
    NaiveTime::parse_from_str(raw, "%H:%M").map_err(|_| {
        EngineError::Invalid(format!(
            "`{raw}` is not a time of day: use HH:MM, e.g. 05:00"
        ))
    })
}

fn check_name(what: &str, name: &str) -> Result<String, EngineError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(EngineError::Invalid(format!(
            "{what} name must be 1 to 200 characters"
        )));
    }
    Ok(name.to_owned())
}

/// Appends an event in the caller's transaction.
pub async fn emit(
    c: &mut Conn,
    merchant_id: &str,
    event_type: &str,
    subject: &str,
    payload: serde_json::Value,
    now: i64,
) -> Result<i64, EngineError> {
    Ok(events::append(
        c,
        merchant_id,
        &new_id("evt"),
        event_type,
        subject,
        &payload,
        now,
    )
    .await?)
}

impl Engine {
    pub async fn create_merchant(&self, m: NewMerchant) -> Result<Merchant, EngineError> {
        let name = check_name("merchant", &m.name)?;
        parse_zone(&m.timezone)?;
        let currency = m.currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(EngineError::Invalid(format!(
                "`{}` is not an ISO 4217 currency code: use three letters such as EUR or USD",
                m.currency
            )));
        }
        let row = MerchantRow {
            id: new_id("mer"),
            name,
            timezone: m.timezone,
            currency,
            created_at: self.now_ms(),
        };
        let mut tx = self.store().begin().await?;
        merchants::insert_merchant(&mut tx, &row).await?;
        self.ensure_consumer_jobs(&mut tx, &row.id).await?;
        emit(
            &mut tx,
            &row.id,
            "merchant.created",
            &row.id,
            serde_json::json!({ "merchant_id": row.id, "name": row.name }),
            row.created_at,
        )
        .await?;
        tillbridge_store::commit(tx).await?;
        Ok(row.into())
    }

    pub async fn merchant(&self, id: &str) -> Result<Merchant, EngineError> {
        let mut c = self.conn().await?;
        merchants::get_merchant(&mut c, id)
            .await?
            .map(Into::into)
            .ok_or_else(|| unknown_merchant(id))
    }

    pub async fn merchants(&self) -> Result<Vec<Merchant>, EngineError> {
        let mut c = self.conn().await?;
        Ok(merchants::list_merchants(&mut c)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn create_location(
        &self,
        merchant_id: &str,
        l: NewLocation,
    ) -> Result<Location, EngineError> {
        self.merchant(merchant_id).await?;
        let name = check_name("location", &l.name)?;
        parse_zone(&l.timezone)?;
        let day_start = parse_day_start(l.business_day_start.as_deref().unwrap_or("00:00"))?;
        let row = LocationRow {
            merchant_id: merchant_id.to_owned(),
            id: new_id("loc"),
            name,
            timezone: l.timezone,
            day_start: day_start.format("%H:%M").to_string(),
            created_at: self.now_ms(),
        };
        let mut tx = self.store().begin().await?;
        merchants::insert_location(&mut tx, &row).await?;
        emit(
            &mut tx,
            merchant_id,
            "location.created",
            &row.id,
            serde_json::json!({ "location_id": row.id, "name": row.name }),
            row.created_at,
        )
        .await?;
        tillbridge_store::commit(tx).await?;
        Ok(row.into())
    }

    pub async fn locations(&self, merchant_id: &str) -> Result<Vec<Location>, EngineError> {
        self.merchant(merchant_id).await?;
        let mut c = self.conn().await?;
        Ok(merchants::list_locations(&mut c, merchant_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

pub(crate) fn unknown_merchant(id: &str) -> EngineError {
    EngineError::NotFound(format!(
        "no merchant `{id}`: list merchants with GET /api/v1/merchants"
    ))
}
