//! Replaying the loyalty consumer from the first event: what orders gave (credit earned and
//! reversed, stamps, card progress, segments) is cleared and the consumer re-reads the merchant's
//! whole event log. What staff did stays: members and their e-mails, manual credits, redemptions,
//! tier floors and the number of card rewards redeemed; so do the decisions taken over time: each
//! purchase's member and earning rule, and each member's tier with its date and history (the
//! replayed purchases can only confirm or raise it). Events that were announced before are
//! applied again without notifications.

use crate::cards::CardState;
use crate::punch_cards::parse_state;
use serde::Serialize;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::loyalty as store;

#[derive(Clone, Debug, Serialize)]
pub struct ReplayStarted {
    /// The consumer re-reads events up to this sequence number without announcing them.
    pub until_seq: i64,
}

pub async fn replay(engine: &Engine, merchant_id: &str) -> Result<ReplayStarted, EngineError> {
    engine.merchant(merchant_id).await?;
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let cards = store::all_member_cards(&mut tx, merchant_id).await?;
    let until_seq = engine
        .restart_consumer(&mut tx, merchant_id, crate::purchases::CONSUMER)
        .await?;
    store::reset_for_replay(&mut tx, merchant_id, until_seq, now).await?;
    for (member_id, card_id, raw) in cards {
        let before = parse_state(&raw)?;
        let redeemed = before.rewards.iter().filter(|r| r.redeemed).count() as u32;
        let state = CardState {
            to_redeem: before.to_redeem + redeemed,
            ..CardState::default()
        };
        let text =
            serde_json::to_string(&state).map_err(|e| EngineError::Invalid(e.to_string()))?;
        store::put_member_card(&mut tx, merchant_id, &member_id, &card_id, &text, now).await?;
    }
    tillbridge_store::commit(tx).await?;
    Ok(ReplayStarted { until_seq })
}
