//! Tier placement for members: upgrades as soon as a purchase pushes qualifying spend over a
//! threshold, and the daily check (run once per business date in the merchant's zone) that
//! downgrades or warns under the program's policy. A manual floor set by staff is never
//! undercut. Changes are recorded in the member's tier history and announced as events.

use crate::program;
use crate::tiers::{self, TierEvent, TierProgram, TierState};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashMap;
use tillbridge_engine::ids::new_id;
use tillbridge_engine::merchants::emit;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::loyalty::{self as store, MemberRow, TierHistoryRow};
use tillbridge_store::Conn;

/// Today's business date in the merchant's zone.
pub(crate) async fn today(
    c: &mut Conn,
    merchant_id: &str,
    now: i64,
) -> Result<NaiveDate, EngineError> {
    let m = tillbridge_store::merchants::get_merchant(c, merchant_id)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("merchant `{merchant_id}`")))?;
    let zone = tillbridge_engine::merchants::parse_zone(&m.timezone)?;
    let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
    Ok(at.with_timezone(&zone).date_naive())
}

/// A member's qualifying spend from their dated purchases (business date, net).
/// What each of `ids` spent toward a tier on `today`, by the program's window.
async fn spend_of(
    c: &mut Conn,
    merchant_id: &str,
    ids: &[&str],
    program: &TierProgram,
    today: NaiveDate,
) -> Result<HashMap<String, i64>, EngineError> {
    let from = tiers::window_start(today, program.window).map(|d| d.to_string());
    Ok(store::members_spend(c, merchant_id, ids, from.as_deref(), &today.to_string()).await?)
}

fn state_of(m: &MemberRow) -> TierState {
    TierState {
        tier: m.tier_id.clone(),
        since: m.tier_since.as_deref().and_then(|d| d.parse().ok()),
        floor: m.tier_floor.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn record(
    c: &mut Conn,
    merchant_id: &str,
    member: &MemberRow,
    state: &TierState,
    event: Option<TierEvent>,
    today: NaiveDate,
    now: i64,
    quiet: bool,
) -> Result<Option<(String, serde_json::Value)>, EngineError> {
    if state.tier != member.tier_id
        || state.since != member.tier_since.as_deref().and_then(|d| d.parse().ok())
    {
        let since = state.since.map(|d| d.to_string());
        store::set_member_tier(
            c,
            merchant_id,
            &member.id,
            state.tier.as_deref(),
            since.as_deref(),
            state.floor.as_deref(),
            now,
        )
        .await?;
    }
    let Some(event) = event else {
        return Ok(None);
    };
    let (name, from, to) = match &event {
        TierEvent::Upgraded { from, to } => ("upgraded", from.clone(), Some(to.clone())),
        TierEvent::DowngradeWarning { from, to, .. } => {
            ("downgrade_warning", Some(from.clone()), to.clone())
        }
        TierEvent::Downgraded { from, to } => ("downgraded", Some(from.clone()), to.clone()),
    };
    let day = today.to_string();
    // A warning is given once per day at most (the check runs once per day anyway).
    if name == "downgrade_warning"
        && store::has_tier_event(c, merchant_id, &member.id, name, &day).await?
    {
        return Ok(None);
    }
    store::add_tier_history(
        c,
        merchant_id,
        &TierHistoryRow {
            id: new_id("tier"),
            member_id: member.id.clone(),
            event: name.to_owned(),
            from_tier: from.clone(),
            to_tier: to.clone(),
            on_date: day,
            created_at: now,
        },
    )
    .await?;
    // A replay announces nothing.
    if quiet {
        return Ok(None);
    }
    let mut payload = serde_json::json!({ "member_id": member.id, "from": from, "to": to });
    if let TierEvent::DowngradeWarning { on, .. } = &event {
        payload["on"] = serde_json::json!(on);
    }
    Ok(Some((format!("loyalty.tier_{name}"), payload)))
}

/// Appends a tier change's notification at once (outside a purchase batch).
async fn announce_now(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
    news: Option<(String, serde_json::Value)>,
    now: i64,
) -> Result<(), EngineError> {
    if let Some((event_type, payload)) = news {
        emit(c, merchant_id, &event_type, member_id, payload, now).await?;
    }
    Ok(())
}

/// After members' purchases changed: upgrade each at once if spend now reaches a higher
/// tier. `quiet` (a replay's) announces nothing. The members' purchases must be written.
pub(crate) async fn after_purchases(
    c: &mut Conn,
    merchant_id: &str,
    ctx: &mut crate::purchases::Ctx,
    members: &[(MemberRow, bool)],
) -> Result<(), EngineError> {
    let (today, now) = (ctx.today, ctx.now);
    let Some(settings) = &ctx.program.tiers else {
        return Ok(());
    };
    if members.is_empty() {
        return Ok(());
    }
    let tp = settings.program().map_err(EngineError::Invalid)?;
    let ids: Vec<&str> = members.iter().map(|(m, _)| m.id.as_str()).collect();
    let spend = spend_of(c, merchant_id, &ids, &tp, today).await?;
    for (member, quiet) in members {
        let spend = spend.get(&member.id).copied().unwrap_or(0);
        let (state, event) = tiers::after_order(&tp, &state_of(member), spend, today);
        if let Some((event_type, payload)) =
            record(c, merchant_id, member, &state, event, today, now, *quiet).await?
        {
            ctx.announce(&event_type, &member.id, payload);
        }
    }
    Ok(())
}

/// The daily check, once per business date: downgrades and warnings per the policy.
pub(crate) async fn daily(c: &mut Conn, merchant_id: &str, now: i64) -> Result<(), EngineError> {
    let program = program::load(c, merchant_id).await?;
    let Some(settings) = &program.tiers else {
        return Ok(());
    };
    let today = today(c, merchant_id, now).await?;
    let day = today.to_string();
    if store::tiers_checked_on(c, merchant_id).await?.as_deref() >= Some(day.as_str()) {
        return Ok(());
    }
    let tp = settings.program().map_err(EngineError::Invalid)?;
    let members = store::tiered_members(c, merchant_id).await?;
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let spend = spend_of(c, merchant_id, &ids, &tp, today).await?;
    for member in &members {
        let spend = spend.get(&member.id).copied().unwrap_or(0);
        let (state, event) = tiers::daily_check(&tp, &state_of(member), spend, today);
        let news = record(c, merchant_id, member, &state, event, today, now, false).await?;
        announce_now(c, merchant_id, &member.id, news, now).await?;
    }
    store::set_tiers_checked_on(c, merchant_id, &day).await?;
    Ok(())
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floor {
    /// A tier id of the program, or null to remove the floor.
    pub tier_id: Option<String>,
}

/// Sets (or clears) a member's manual tier floor. Raising it places the member at once;
/// lowering it lets the daily check re-place them.
pub async fn set_floor(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
    floor: Floor,
) -> Result<MemberRow, EngineError> {
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let program = program::load(&mut tx, merchant_id).await?;
    let tp = program
        .tiers
        .as_ref()
        .ok_or_else(|| {
            EngineError::Invalid(
                "the loyalty program has no tiers: add them with PUT …/loyalty/program first"
                    .into(),
            )
        })?
        .program()
        .map_err(EngineError::Invalid)?;
    if let Some(id) = &floor.tier_id {
        if !tp.tiers.iter().any(|t| &t.id == id) {
            let ids: Vec<&str> = tp.tiers.iter().map(|t| t.id.as_str()).collect();
            return Err(EngineError::Invalid(format!(
                "`{id}` is not a tier of the program; its tiers are: {}",
                ids.join(", ")
            )));
        }
    }
    let member = store::member(&mut tx, merchant_id, member_id)
        .await?
        .ok_or_else(|| crate::members::not_found(merchant_id, member_id))?;
    store::set_member_tier(
        &mut tx,
        merchant_id,
        member_id,
        member.tier_id.as_deref(),
        member.tier_since.as_deref(),
        floor.tier_id.as_deref(),
        now,
    )
    .await?;
    let member = store::member(&mut tx, merchant_id, member_id)
        .await?
        .unwrap_or(member);
    let today = today(&mut tx, merchant_id, now).await?;
    let spend = spend_of(&mut tx, merchant_id, &[member_id], &tp, today)
        .await?
        .get(member_id)
        .copied()
        .unwrap_or(0);
    let (state, event) = tiers::after_order(&tp, &state_of(&member), spend, today);
    let news = record(
        &mut tx,
        merchant_id,
        &member,
        &state,
        event,
        today,
        now,
        false,
    )
    .await?;
    announce_now(&mut tx, merchant_id, member_id, news, now).await?;
    let member = store::member(&mut tx, merchant_id, member_id)
        .await?
        .unwrap_or(member);
    tillbridge_store::commit(tx).await?;
    Ok(member)
}

pub async fn history(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
) -> Result<Vec<TierHistoryRow>, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    store::member(&mut c, merchant_id, member_id)
        .await?
        .ok_or_else(|| crate::members::not_found(merchant_id, member_id))?;
    Ok(store::tier_history(&mut c, merchant_id, member_id).await?)
}
