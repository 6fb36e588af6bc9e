//! RFM segments of a merchant's members, over a 365-day lookback ending today in the merchant's
//! zone. The consumer computes them once per business date (the first run after midnight) and
//! staff can recompute on demand. Each run stores its distribution and the movement between
//! segments since the previous run; members keep their current segment and scores, and a row
//! per member for each day their segment changed, so their segment on any day can be read back.

use crate::rfm::{self, Figures, Segment};
use crate::tiering::today;
use chrono::{Days, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::loyalty::{self as store, RfmRun, SegmentWrite};
use tillbridge_store::Conn;

/// Days of history RFM looks at, today included.
pub const LOOKBACK_DAYS: u64 = 365;

/// The nightly run: computes today's segments unless today's run exists.
pub(crate) async fn nightly(c: &mut Conn, merchant_id: &str, now: i64) -> Result<(), EngineError> {
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

/// One member's figures as of `today` from their stored inputs.
fn figures(input: &store::RfmInput, today: NaiveDate) -> Figures {
    let last = input
        .last_sale_date
        .as_deref()
        .and_then(|d| d.parse::<NaiveDate>().ok());
    Figures {
        days_since_last: last.map(|d| (today - d).num_days().clamp(0, i64::from(u32::MAX)) as u32),
        orders: input.orders.clamp(0, i64::from(u32::MAX)) as u32,
        spend_minor: input.spend_minor,
    }
}

/// Scores every member as of `today`, stores the changes and the run, and returns the run.
pub(crate) async fn compute(
    c: &mut Conn,
    merchant_id: &str,
    today: NaiveDate,
    now: i64,
) -> Result<RfmRun, EngineError> {
    let from = today
        .checked_sub_days(Days::new(LOOKBACK_DAYS - 1))
        .unwrap_or(today);
    let inputs = store::rfm_inputs(c, merchant_id, &from.to_string(), &today.to_string()).await?;
    let all: Vec<Figures> = inputs.iter().map(|i| figures(i, today)).collect();
    let scores = rfm::score(&all);
    let mut distribution: BTreeMap<&str, i64> =
        Segment::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut movement: BTreeMap<(Option<String>, &str), i64> = BTreeMap::new();
    let day = today.to_string();
    let mut writes = Vec::new();
    for (input, score) in inputs.iter().zip(&scores) {
        let segment = Segment::of(*score).as_str();
        *distribution.entry(segment).or_default() += 1;
        let text = score.map(|s| format!("{},{},{}", s.r, s.f, s.m));
        let moved = input.segment.as_deref() != Some(segment);
        if moved {
            *movement
                .entry((input.segment.clone(), segment))
                .or_default() += 1;
        }
        if moved || input.rfm_scores != text {
            writes.push(SegmentWrite {
                member_id: input.member_id.clone(),
                segment: segment.to_owned(),
                rfm_scores: text,
                moved_from: moved.then(|| input.segment.clone()),
            });
        }
    }
    store::write_segments(c, merchant_id, &day, &writes).await?;
    let run = RfmRun {
        on_date: day,
        members: inputs.len() as i64,
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
