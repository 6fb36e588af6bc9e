//! The daily schedule: import each department's finished business days (plus the trailing
//! window) at the scheduled wall-clock time, and at the confirm time confirm the days up to
//! yesterday (within the trailing window) whose last import succeeded. Each run is due once per occurrence of its time; a run missed while the
//! hub was down happens at the next look, once.

use crate::calendar::{last_occurrence, slot};
use crate::imports::{self, Mode};
use crate::settings::{self, Settings};
use chrono::{DateTime, Duration, Utc};
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::labor as store;

/// The occurrence of a daily time that is due at `now`: the last one, when it is later than
/// both the previous run and the moment imports were switched on.
pub fn due(last: DateTime<Utc>, previous_run: Option<i64>, enabled_at: Option<i64>) -> bool {
    let at = last.timestamp_millis();
    let Some(enabled) = enabled_at else {
        return false;
    };
    at > enabled && previous_run.is_none_or(|p| at > p)
}

/// Runs whatever part of the schedule is due; returns what ran (`import`, `confirm`).
pub async fn run_due(engine: &Engine, merchant_id: &str) -> Result<Vec<&'static str>, EngineError> {
    let mut ran = Vec::new();
    let row = {
        let mut c = engine.conn().await?;
        store::settings(&mut c, merchant_id, false).await?
    };
    let Some(row) = row else {
        return Ok(ran);
    };
    let s: Settings = settings::from_row(&row)?;
    if !s.enabled {
        return Ok(ran);
    }
    let schedule = s.schedule()?;
    let now = engine.clock().now();
    let import_at = last_occurrence(now, schedule.import_at, schedule.zone);
    if due(import_at, row.last_import_at, row.enabled_at) {
        for dept in crate::departments::list(engine, merchant_id).await? {
            // The last business day that has ended by the scheduled instant, and the window.
            let (current, _) = slot(import_at, dept.zone(), dept.day_start());
            let until = current - Duration::days(1);
            let from = until - Duration::days(i64::from(s.trailing_days));
            imports::import_range(engine, merchant_id, &s, &dept, from, until, Mode::Scheduled)
                .await?;
        }
        mark(
            engine,
            merchant_id,
            Some(import_at.timestamp_millis()),
            None,
        )
        .await?;
        ran.push("import");
    }
    let confirm_at = last_occurrence(now, schedule.confirm_at, schedule.zone);
    if s.auto_confirm && due(confirm_at, row.last_confirm_at, row.enabled_at) {
        // Yesterday's days, and those of the trailing window that only finished importing
        // since (a department whose business day starts after the import time is imported a
        // night later).
        let yesterday = confirm_at.with_timezone(&schedule.zone).date_naive() - Duration::days(1);
        let oldest = yesterday - Duration::days(i64::from(s.trailing_days));
        let mut tx = engine.store().begin().await?;
        let stamp = engine.now_ms();
        for day in store::confirmable_days(
            &mut tx,
            merchant_id,
            &oldest.to_string(),
            &yesterday.to_string(),
        )
        .await?
        {
            imports::confirm_day(&mut tx, merchant_id, &day, "auto-confirm", stamp).await?;
        }
        tillbridge_store::commit(tx).await?;
        mark(
            engine,
            merchant_id,
            None,
            Some(confirm_at.timestamp_millis()),
        )
        .await?;
        ran.push("confirm");
    }
    Ok(ran)
}

async fn mark(
    engine: &Engine,
    merchant_id: &str,
    import_at: Option<i64>,
    confirm_at: Option<i64>,
) -> Result<(), EngineError> {
    let mut tx = engine.store().begin().await?;
    if let Some(mut row) = store::settings(&mut tx, merchant_id, true).await? {
        row.last_import_at = import_at.or(row.last_import_at);
        row.last_confirm_at = confirm_at.or(row.last_confirm_at);
        store::put_settings(&mut tx, merchant_id, &row, engine.now_ms()).await?;
    }
    tillbridge_store::commit(tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn each_occurrence_runs_once_and_only_after_enabling() {
        let occ = at("2026-11-22T01:00:00Z");
        let ms = occ.timestamp_millis();
        assert!(!due(occ, None, None));
        assert!(due(occ, None, Some(ms - 1)));
        assert!(!due(occ, None, Some(ms + 1)));
        assert!(!due(occ, Some(ms), Some(0)));
        assert!(due(occ, Some(ms - 86_400_000), Some(0)));
    }
}
