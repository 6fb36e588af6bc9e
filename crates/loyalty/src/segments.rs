//! RFM segments of a merchant's members, over a 365-day lookback ending today in the merchant's
//! zone. The consumer computes them once per business date (the first run after midnight) and
//! staff can recompute on demand. Each run stores its distribution and the movement between
//! segments since the previous run; members keep their current segment and scores, and a row
//! per member for each day their segment changed, so their segment on any day can be read back.

use crate::rfm::{self, Segment};
use crate::tiering::today;
use chrono::{Days, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::loyalty::{self as store, RfmRun};
use tillbridge_store::Tx;

/// Days of history RFM looks at, today included.
pub const LOOKBACK_DAYS: u64 = 365;

/// The nightly run: computes today's segments unless today's run exists.
pub(crate) async fn nightly(c: &mut Tx, merchant_id: &str, now: i64) -> Result<(), EngineError> {
    let today = today(c, merchant_id, now).await?;
    let latest = store::rfm_runs(c, merchant_id, 1).await?;
    if latest
        .first()
        .is_some_and(|r| r.on_date >= today.to_string())
    {
        return Ok(());
    }
    compute(c, merchant_id, today, now).await.map(|_| ())
}

/// Scores every member as of `today`, stores the changes and the run, and returns the run.
///
/// The scoring runs inside the database ([`store::score_segments`]) with the rules of [`rfm`]:
/// its thresholds and segment table are passed in, and [`rfm::score`] is the reference the
/// stored run is tested against.
pub(crate) async fn compute(
    c: &mut Tx,
    merchant_id: &str,
    today: NaiveDate,
    now: i64,
) -> Result<RfmRun, EngineError> {
    let from = today
        .checked_sub_days(Days::new(LOOKBACK_DAYS - 1))
        .unwrap_or(today)
        .to_string();
    let day = today.to_string();
    let plan = store::RfmPlan {
        from: &from,
        to: &day,
        small_below: rfm::SMALL_MERCHANT as i64,
        // At most D days ago: after the day D + 1 days before today.
        recency_after: rfm::FIXED_RECENCY
            .iter()
            .map(|(most, score)| {
                let after = today
                    .checked_sub_days(Days::new(u64::from(*most) + 1))
                    .unwrap_or(NaiveDate::MIN);
                (after.to_string(), *score)
            })
            .collect(),
        // At least N orders: more than N − 1.
        frequency_above: rfm::FIXED_FREQUENCY
            .iter()
            .map(|(least, score)| (i64::from(*least) - 1, *score))
            .collect(),
        segments: rfm::SEGMENT_RULES
            .iter()
            .map(|r| (r.r_from, r.r_to, r.min_fm2, r.segment.as_str()))
            .collect(),
        no_purchases: Segment::NoPurchases.as_str(),
    };
    let outcome = store::score_segments(c, merchant_id, &day, &plan).await?;
    let mut distribution: BTreeMap<String, i64> = Segment::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    distribution.extend(outcome.distribution);
    let movement: BTreeMap<(Option<String>, String), i64> = outcome
        .movement
        .into_iter()
        .map(|(from, to, members)| ((from, to), members))
        .collect();
    let run = RfmRun {
        on_date: day,
        members: distribution.values().sum(),
        distribution: serde_json::to_value(&distribution).unwrap_or_default(),
        movement: serde_json::Value::Array(
            movement
                .into_iter()
                .map(|((from, to), members)| {
                    serde_json::json!({ "from": from, "to": to, "members": members })
                })
                .collect(),
        ),
        computed_at: now,
    };
    store::put_rfm_run(c, merchant_id, &run).await?;
    Ok(run)
}

/// The latest run and the distribution trend of the runs before it.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentsView {
    /// `None` until the first run.
    pub latest: Option<RfmRun>,
    /// Up to 90 runs, newest first.
    pub runs: Vec<RfmRun>,
}

pub async fn overview(engine: &Engine, merchant_id: &str) -> Result<SegmentsView, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    let runs = store::rfm_runs(&mut c, merchant_id, 90).await?;
    Ok(SegmentsView {
        latest: runs.first().cloned(),
        runs,
    })
}

/// Recomputes today's segments now (replacing today's run).
pub async fn recompute(engine: &Engine, merchant_id: &str) -> Result<SegmentsView, EngineError> {
    engine.merchant(merchant_id).await?;
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let today = today(&mut tx, merchant_id, now).await?;
    compute(&mut tx, merchant_id, today, now).await?;
    tillbridge_store::commit(tx).await?;
    overview(engine, merchant_id).await
}

pub async fn member_history(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
) -> Result<Vec<store::SegmentChange>, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    store::member(&mut c, merchant_id, member_id)
        .await?
        .ok_or_else(|| crate::members::not_found(merchant_id, member_id))?;
    Ok(store::segment_history(&mut c, merchant_id, member_id).await?)
}
