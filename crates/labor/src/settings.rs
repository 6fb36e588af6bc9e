//! The merchant's labor settings: whether POS sales are imported and from which connection,
//! the import schedule, auto-confirm and the VAT basis.

use crate::figures::VatBasis;
use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use tillbridge_engine::merchants::{parse_day_start, parse_zone};
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::labor::{self as store, SettingsRow};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Whether POS sales are imported into the weekly balance.
    #[serde(default)]
    pub enabled: bool,
    /// The POS integration service: the connection whose orders are imported.
    #[serde(default)]
    pub connection_id: Option<String>,
    /// Whether days are confirmed automatically at `confirm_at`.
    #[serde(default)]
    pub auto_confirm: bool,
    /// Wall-clock time (HH:MM, in `schedule_zone`) at which yesterday's imported days are
    /// confirmed.
    #[serde(default = "five")]
    pub confirm_at: String,
    /// Wall-clock time (HH:MM, in `schedule_zone`) of the daily import.
    #[serde(default = "two")]
    pub schedule_at: String,
    #[serde(default = "copenhagen")]
    pub schedule_zone: String,
    #[serde(default)]
    pub vat_basis: VatBasis,
    /// How many days before the last finished one each scheduled import recomputes.
    #[serde(default = "seven")]
    pub trailing_days: u32,
    /// Only in a change that switches imports on: queue an import of every department from
    /// this date until yesterday. Never stored.
    #[serde(default, skip_serializing)]
    pub history_from: Option<NaiveDate>,
}

fn five() -> String {
    "05:00".into()
}
fn two() -> String {
    "02:00".into()
}
fn copenhagen() -> String {
    "Europe/Copenhagen".into()
}
fn seven() -> u32 {
    7
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: false,
            connection_id: None,
            auto_confirm: false,
            confirm_at: five(),
            schedule_at: two(),
            schedule_zone: copenhagen(),
            vat_basis: VatBasis::default(),
            trailing_days: seven(),
            history_from: None,
        }
    }
}

/// The parsed schedule of valid settings.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub import_at: NaiveTime,
    pub confirm_at: NaiveTime,
    pub zone: Tz,
}

impl Settings {
    pub fn schedule(&self) -> Result<Schedule, EngineError> {
        let field = |name: &str, e: EngineError| EngineError::Invalid(format!("`{name}`: {e}"));
        Ok(Schedule {
            import_at: parse_day_start(&self.schedule_at).map_err(|e| field("schedule_at", e))?,
            confirm_at: parse_day_start(&self.confirm_at).map_err(|e| field("confirm_at", e))?,
            zone: parse_zone(&self.schedule_zone).map_err(|e| field("schedule_zone", e))?,
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: Settings,
    /// When imports were last switched on (epoch milliseconds).
    pub enabled_at: Option<i64>,
    pub last_import_at: Option<i64>,
    pub last_confirm_at: Option<i64>,
}

pub(crate) fn from_row(row: &SettingsRow) -> Result<Settings, EngineError> {
    serde_json::from_value(row.config.clone())
        .map_err(|e| EngineError::Invalid(format!("stored labor settings are unreadable: {e}")))
}

pub async fn get(engine: &Engine, merchant_id: &str) -> Result<SettingsView, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    Ok(match store::settings(&mut c, merchant_id, false).await? {
        Some(row) => SettingsView {
            settings: from_row(&row)?,
            enabled_at: row.enabled_at,
            last_import_at: row.last_import_at,
            last_confirm_at: row.last_confirm_at,
        },
        None => SettingsView {
            settings: Settings::default(),
            enabled_at: None,
            last_import_at: None,
            last_confirm_at: None,
        },
    })
}

pub async fn put(
    engine: &Engine,
    merchant_id: &str,
    mut s: Settings,
    actor: &str,
) -> Result<SettingsView, EngineError> {
    engine.merchant(merchant_id).await?;
    let history_from = s.history_from.take();
    let schedule = s.schedule()?;
    if s.trailing_days > 31 {
        return Err(EngineError::Invalid(
            "`trailing_days` must be 0 to 31".into(),
        ));
    }
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    if let Some(id) = &s.connection_id {
        if tillbridge_store::connections::get_connection(&mut tx, merchant_id, id)
            .await?
            .is_none()
        {
            return Err(EngineError::Invalid(format!(
                "`connection_id`: connection `{id}` does not exist for this merchant; list them at /api/v1/merchants/{merchant_id}/connections"
            )));
        }
    } else if s.enabled {
        return Err(EngineError::Invalid(
            "`connection_id` is required when `enabled` is true: name the connection whose POS sales are imported".into(),
        ));
    }
    if history_from.is_some() && !s.enabled {
        return Err(EngineError::Invalid(
            "`history_from` imports history when imports are switched on; set `enabled` to true as well".into(),
        ));
    }
    let old = store::settings(&mut tx, merchant_id, true).await?;
    let was_enabled = match &old {
        Some(row) => from_row(row)?.enabled,
        None => false,
    };
    let row = SettingsRow {
        config: serde_json::to_value(&s).map_err(|e| EngineError::Invalid(e.to_string()))?,
        enabled_at: if s.enabled && !was_enabled {
            Some(now)
        } else {
            old.as_ref().and_then(|o| o.enabled_at)
        },
        last_import_at: old.as_ref().and_then(|o| o.last_import_at),
        last_confirm_at: old.as_ref().and_then(|o| o.last_confirm_at),
    };
    store::put_settings(&mut tx, merchant_id, &row, now).await?;
    if let Some(from) = history_from {
        let today = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now)
            .unwrap_or_default()
            .with_timezone(&schedule.zone)
            .date_naive();
        let until = today.pred_opt().unwrap_or(today);
        crate::imports::queue(
            &mut tx,
            merchant_id,
            crate::imports::NewImport {
                departments: Vec::new(),
                from,
                until,
                overwrite_approved: false,
            },
            actor,
            now,
        )
        .await?;
    }
    tillbridge_store::commit(tx).await?;
    crate::imports::wake(engine, merchant_id).await?;
    Ok(SettingsView {
        settings: s,
        enabled_at: row.enabled_at,
        last_import_at: row.last_import_at,
        last_confirm_at: row.last_confirm_at,
    })
}
