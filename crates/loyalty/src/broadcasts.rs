//! Manual broadcast messages: staff write to every member, a segment, a tier or a list of
//! members; the hub resolves the recipients when the message is sent and announces it as one
//! `loyalty.broadcast` event, and the embedding app pages through the recipients to deliver it
//! (push, e-mail). Sending again with the same idempotency key returns the first broadcast.

use crate::rfm::Segment;
use serde::{Deserialize, Serialize};
use tillbridge_engine::ids::new_id;
use tillbridge_engine::merchants::emit;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::loyalty::{self as store, BroadcastRow};

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Only members in this RFM segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Only members holding this tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_id: Option<String>,
    /// Exactly these members (not combined with `segment` or `tier_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_ids: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBroadcast {
    #[serde(default)]
    pub title: Option<String>,
    pub message: String,
    /// Everyone when absent.
    #[serde(default)]
    pub audience: Audience,
    pub idempotency_key: String,
}

/// Sends a broadcast; `false` with the first one when the key was used before.
pub async fn send(
    engine: &Engine,
    merchant_id: &str,
    b: NewBroadcast,
) -> Result<(BroadcastRow, bool), EngineError> {
    let message = b.message.trim();
    if message.is_empty() || message.chars().count() > 2000 {
        return Err(EngineError::Invalid(
            "`message` is required (1–2000 characters)".into(),
        ));
    }
    let title = b
        .title
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    if title.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(EngineError::Invalid(
            "`title` may have at most 200 characters".into(),
        ));
    }
    let key = b.idempotency_key.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(EngineError::Invalid(
            "`idempotency_key` is required (1–200 characters): send the same key to retry safely"
                .into(),
        ));
    }
    let audience = b.audience;
    if let Some(s) = &audience.segment {
        if !Segment::ALL.iter().any(|x| x.as_str() == s) {
            let all: Vec<&str> = Segment::ALL.iter().map(|x| x.as_str()).collect();
            return Err(EngineError::Invalid(format!(
                "`audience.segment` `{s}` is not a segment; segments are: {}",
                all.join(", ")
            )));
        }
    }
    if audience.member_ids.is_some() && (audience.segment.is_some() || audience.tier_id.is_some()) {
        return Err(EngineError::Invalid(
            "`audience.member_ids` names the recipients exactly: leave out `segment` and `tier_id`"
                .into(),
        ));
    }
    if audience.member_ids.as_ref().is_some_and(Vec::is_empty) {
        return Err(EngineError::Invalid(
            "`audience.member_ids` is empty: name at least one member or leave it out to reach everyone"
                .into(),
        ));
    }
    engine.merchant(merchant_id).await?;
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    if let Some(first) = store::broadcast_by_key(&mut tx, merchant_id, key).await? {
        return Ok((first, false));
    }
    if let Some(tier) = &audience.tier_id {
        let program = crate::program::load(&mut tx, merchant_id).await?;
        let known = program
            .tiers
            .as_ref()
            .is_some_and(|t| t.tiers.iter().any(|x| &x.id == tier));
        if !known {
            return Err(EngineError::Invalid(format!(
                "`audience.tier_id` `{tier}` is not a tier of the loyalty program"
            )));
        }
    }
    if let Some(ids) = &audience.member_ids {
        for id in ids {
            store::member(&mut tx, merchant_id, id)
                .await?
                .ok_or_else(|| crate::members::not_found(merchant_id, id))?;
        }
    }
    let mut row = BroadcastRow {
        id: new_id("bc"),
        title,
        message: message.to_owned(),
        audience: serde_json::to_value(&audience).unwrap_or_default(),
        recipients: 0,
        idempotency_key: key.to_owned(),
        created_at: now,
    };
    row.recipients = store::insert_broadcast(
        &mut tx,
        merchant_id,
        &row,
        audience.segment.as_deref(),
        audience.tier_id.as_deref(),
        audience.member_ids.as_deref(),
    )
    .await?;
    emit(
        &mut tx,
        merchant_id,
        "loyalty.broadcast",
        &row.id,
        serde_json::json!({ "broadcast_id": row.id, "title": row.title, "message": row.message,
                            "audience": row.audience, "recipients": row.recipients }),
        now,
    )
    .await?;
    tillbridge_store::commit(tx).await?;
    Ok((row, true))
}

pub async fn list(engine: &Engine, merchant_id: &str) -> Result<Vec<BroadcastRow>, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    Ok(store::broadcasts(&mut c, merchant_id, 100).await?)
}

#[derive(Clone, Debug, Serialize)]
pub struct Recipient {
    pub member_id: String,
    pub email: String,
    pub name: Option<String>,
}

pub async fn recipients(
    engine: &Engine,
    merchant_id: &str,
    broadcast_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Recipient>, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    store::broadcast(&mut c, merchant_id, broadcast_id)
        .await?
        .ok_or_else(|| {
            EngineError::NotFound(format!(
                "no broadcast `{broadcast_id}`: list them with GET /api/v1/merchants/{merchant_id}/loyalty/broadcasts"
            ))
        })?;
    Ok(store::broadcast_recipients(
        &mut c,
        merchant_id,
        broadcast_id,
        after,
        limit.clamp(1, 1000),
    )
    .await?
    .into_iter()
    .map(|(member_id, email, name)| Recipient {
        member_id,
        email,
        name,
    })
    .collect())
}
