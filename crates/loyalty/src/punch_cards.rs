//! Punch cards as the merchant configures them, each member's progress, and reward
//! redemption. Stamping runs inside [`crate::purchases`] whenever a purchase of a member
//! changes: the card's rule ([`crate::cards`]) gives what the whole purchase is entitled to, and
//! only the difference to what it already gave is applied.

use crate::cards::{self, CardState, CategoryRef, PunchCard, StampLine, StampMode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tillbridge_engine::ids::new_id;
use tillbridge_engine::merchants::emit;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::loyalty::{self as store, CardRow, PurchaseRow};
use tillbridge_store::orders::StoredOrder;
use tillbridge_store::Conn;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    pub name: String,
    /// What the member gets, as shown to them ("a free hot drink").
    pub reward: String,
    pub stamps_required: u32,
    #[serde(default)]
    pub categories: Vec<CategoryRef>,
    #[serde(default)]
    pub mode: StampMode,
    #[serde(default)]
    pub min_order_minor: Option<i64>,
    #[serde(default)]
    pub max_per_order: Option<u32>,
    #[serde(default)]
    pub max_per_day: Option<u32>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Serialize)]
pub struct CardView {
    pub id: String,
    pub name: String,
    pub reward: String,
    pub active: bool,
    #[serde(flatten)]
    pub rule: PunchCard,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) fn rule_of(row: &CardRow) -> Result<PunchCard, EngineError> {
    serde_json::from_str(&row.rule)
        .map_err(|e| EngineError::Invalid(format!("punch card `{}` is unreadable: {e}", row.id)))
}

fn view(row: CardRow) -> Result<CardView, EngineError> {
    Ok(CardView {
        rule: rule_of(&row)?,
        id: row.id,
        name: row.name,
        reward: row.reward,
        active: row.active,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn row_from(
    id: String,
    input: CardInput,
    created_at: i64,
    now: i64,
) -> Result<CardRow, EngineError> {
    let name = input.name.trim().to_owned();
    let reward = input.reward.trim().to_owned();
    if name.is_empty() || reward.is_empty() {
        return Err(EngineError::Invalid(
            "a punch card needs a `name` and a `reward` (what the member gets)".into(),
        ));
    }
    let rule = PunchCard {
        stamps_required: input.stamps_required,
        categories: input.categories,
        mode: input.mode,
        min_order_minor: input.min_order_minor,
        max_per_order: input.max_per_order,
        max_per_day: input.max_per_day,
    };
    rule.validate().map_err(EngineError::Invalid)?;
    Ok(CardRow {
        id,
        name,
        reward,
        rule: serde_json::to_string(&rule).map_err(|e| EngineError::Invalid(e.to_string()))?,
        active: input.active,
        created_at,
        updated_at: now,
    })
}

/// Creates a card. It stamps purchases that change from now on (not past ones).
pub async fn create(
    engine: &Engine,
    merchant_id: &str,
    input: CardInput,
) -> Result<CardView, EngineError> {
    engine.merchant(merchant_id).await?;
    let now = engine.now_ms();
    let row = row_from(new_id("card"), input, now, now)?;
    let mut tx = engine.store().begin().await?;
    store::put_card(&mut tx, merchant_id, &row).await?;
    emit(
        &mut tx,
        merchant_id,
        "loyalty.card_created",
        &row.id,
        serde_json::json!({ "card_id": row.id, "name": row.name }),
        now,
    )
    .await?;
    tillbridge_store::commit(tx).await?;
    view(row)
}

pub async fn update(
    engine: &Engine,
    merchant_id: &str,
    card_id: &str,
    input: CardInput,
) -> Result<CardView, EngineError> {
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let existing = store::card(&mut tx, merchant_id, card_id)
        .await?
        .ok_or_else(|| not_found(merchant_id, card_id))?;
    let row = row_from(existing.id, input, existing.created_at, now)?;
    store::put_card(&mut tx, merchant_id, &row).await?;
    tillbridge_store::commit(tx).await?;
    view(row)
}

fn not_found(merchant_id: &str, card_id: &str) -> EngineError {
    EngineError::NotFound(format!(
        "no punch card `{card_id}`: list them with GET /api/v1/merchants/{merchant_id}/punch-cards"
    ))
}

pub async fn list(engine: &Engine, merchant_id: &str) -> Result<Vec<CardView>, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    store::cards(&mut c, merchant_id, false)
        .await?
        .into_iter()
        .map(view)
        .collect()
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberCard {
    pub card_id: String,
    pub name: String,
    pub reward: String,
    pub stamps_required: u32,
    #[serde(flatten)]
    pub state: CardState,
}

/// A member's progress on every card they have stamps or rewards on.
pub async fn member_cards(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
) -> Result<Vec<MemberCard>, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    store::member(&mut c, merchant_id, member_id)
        .await?
        .ok_or_else(|| crate::members::not_found(merchant_id, member_id))?;
    cards_of(&mut c, merchant_id, member_id).await
}

/// The member's progress on each card they have stamps on.
pub(crate) async fn cards_of(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
) -> Result<Vec<MemberCard>, EngineError> {
    let mut out = Vec::new();
    for (card_id, state) in store::member_cards(c, merchant_id, member_id).await? {
        let Some(card) = store::card(c, merchant_id, &card_id).await? else {
            continue;
        };
        let rule = rule_of(&card)?;
        out.push(MemberCard {
            card_id,
            name: card.name,
            reward: card.reward,
            stamps_required: rule.stamps_required,
            state: parse_state(&state)?,
        });
    }
    Ok(out)
}

pub(crate) fn parse_state(raw: &str) -> Result<CardState, EngineError> {
    serde_json::from_str(raw)
        .map_err(|e| EngineError::Invalid(format!("a member's card state is unreadable: {e}")))
}

/// Marks an issued reward as redeemed (once).
pub async fn redeem(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
    card_id: &str,
    reward_id: &str,
) -> Result<MemberCard, EngineError> {
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let card = store::card(&mut tx, merchant_id, card_id)
        .await?
        .ok_or_else(|| not_found(merchant_id, card_id))?;
    let raw = store::member_card(&mut tx, merchant_id, member_id, card_id)
        .await?
        .ok_or_else(|| {
            EngineError::NotFound(format!(
                "member `{member_id}` has no reward on card `{card_id}`"
            ))
        })?;
    let mut state = parse_state(&raw)?;
    let reward = state
        .rewards
        .iter_mut()
        .find(|r| r.id == reward_id)
        .ok_or_else(|| EngineError::NotFound(format!("no reward `{reward_id}` on card `{card_id}` for member `{member_id}` (it may have been revoked by a refund)")))?;
    if reward.redeemed {
        return Err(EngineError::Conflict(format!(
            "reward `{reward_id}` was already redeemed"
        )));
    }
    reward.redeemed = true;
    let text = serde_json::to_string(&state).map_err(|e| EngineError::Invalid(e.to_string()))?;
    store::put_member_card(&mut tx, merchant_id, member_id, card_id, &text, now).await?;
    emit(
        &mut tx,
        merchant_id,
        "loyalty.reward_redeemed",
        member_id,
        serde_json::json!({ "member_id": member_id, "card_id": card_id, "reward_id": reward_id }),
        now,
    )
    .await?;
    tillbridge_store::commit(tx).await?;
    let stamps_required = rule_of(&card)?.stamps_required;
    Ok(MemberCard {
        card_id: card_id.to_owned(),
        name: card.name,
        reward: card.reward,
        stamps_required,
        state,
    })
}

/// Brings every active card up to date for one purchase of a member; `quiet` (a replay)
/// announces nothing.
pub(crate) async fn stamp(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
    purchase: &PurchaseRow,
    orders: &[StoredOrder],
    ctx: &mut crate::purchases::Ctx,
    quiet: bool,
) -> Result<(), EngineError> {
    let mut news = Vec::new();
    let lines: Vec<StampLine> = orders
        .iter()
        .flat_map(|o| {
            o.order.lines.iter().map(|l| StampLine {
                connection_id: &purchase.connection_id,
                category_id: l.category_id.as_deref(),
                category: l.category.as_deref(),
                quantity_milli: l.quantity.milli(),
                voided: l.voided,
            })
        })
        .collect();
    let (conn, sale) = (
        purchase.connection_id.as_str(),
        purchase.sale_external_id.as_str(),
    );
    let cards = Arc::clone(&ctx.cards);
    for (card, rule) in cards.iter() {
        let before = ctx
            .stamps_of(c, merchant_id, (conn, sale), &card.id)
            .await?;
        let same_day = match purchase.sale_date.as_deref() {
            Some(day) if rule.max_per_day.is_some() => {
                ctx.stamps_on_day(c, merchant_id, member_id, &card.id, day, (conn, sale))
                    .await?
            }
            _ => 0,
        };
        let entitled = i64::from(cards::entitled_stamps(
            rule,
            &lines,
            purchase.net_eligible_minor,
            u32::try_from(same_day).unwrap_or(u32::MAX),
        ));
        let delta = entitled - before;
        if delta == 0 {
            continue;
        }
        let mut state = match ctx.card_state(member_id, &card.id) {
            Some(raw) => parse_state(raw)?,
            None => CardState::default(),
        };
        let change = cards::apply(
            rule.stamps_required,
            &mut state,
            &format!("{conn}/{sale}"),
            delta,
            |_| new_id("rwd"),
        );
        let text =
            serde_json::to_string(&state).map_err(|e| EngineError::Invalid(e.to_string()))?;
        ctx.put_card_state(member_id, &card.id, text);
        ctx.put_stamps(store::StampRow {
            connection_id: conn.to_owned(),
            sale_external_id: sale.to_owned(),
            card_id: card.id.clone(),
            member_id: member_id.to_owned(),
            business_date: purchase.sale_date.clone(),
            stamps: entitled,
        });
        if quiet {
            continue;
        }
        // Removals and revocations are silent by default.
        if delta > 0 {
            news.push(("loyalty.stamp_added", serde_json::json!({
                "member_id": member_id, "card_id": card.id, "stamps": delta, "current": state.current,
                "connection_id": conn, "sale_external_id": sale,
            })));
        }
        // A reward issued already redeemed (a replay of one redeemed before) is not news.
        for reward in change.issued.iter().filter(|r| !r.redeemed) {
            news.push(("loyalty.reward_available", serde_json::json!({
                "member_id": member_id, "card_id": card.id, "reward_id": reward.id, "reward": card.reward,
            })));
        }
    }
    for (event_type, payload) in news {
        ctx.announce(event_type, member_id, payload);
    }
    Ok(())
}
