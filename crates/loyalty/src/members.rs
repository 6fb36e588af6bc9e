//! Members: one per normalised e-mail per merchant. Creating a member, or changing a member's
//! e-mail, claims the unattributed purchases with that e-mail from the claim window and applies
//! them, in the same transaction.

use crate::program;
use crate::purchases;
use serde::{Deserialize, Serialize};
use tillbridge_engine::ids::new_id;
use tillbridge_engine::merchants::emit;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_model::Email;
use tillbridge_store::loyalty::{self as store, LedgerRow, MemberRow};
use tillbridge_store::Conn;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

/// A member with the figures the profile shows.
#[derive(Clone, Debug, Serialize)]
pub struct MemberView {
    #[serde(flatten)]
    pub member: MemberRow,
    /// Purchases attributed to the member, across every channel.
    pub purchases: i64,
    /// Their net eligible spend, in minor units.
    pub spend_minor: i64,
}

fn email(raw: &str) -> Result<String, EngineError> {
    Email::parse(raw)
        .map(|e| e.as_str().to_owned())
        .map_err(|_| EngineError::Invalid(format!("`{raw}` is not an e-mail address")))
}

fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

async fn view(
    c: &mut Conn,
    merchant_id: &str,
    member: MemberRow,
) -> Result<MemberView, EngineError> {
    let purchases = store::member_purchases(c, merchant_id, &member.id).await?;
    Ok(MemberView {
        purchases: purchases.len() as i64,
        spend_minor: purchases.iter().map(|p| p.net_eligible_minor).sum(),
        member,
    })
}

async fn claim(
    c: &mut Conn,
    merchant_id: &str,
    member: &MemberRow,
    now: i64,
) -> Result<usize, EngineError> {
    let mut ctx = purchases::Ctx::load(c, merchant_id, now).await?;
    let since = now - i64::from(ctx.program.claim_window_days) * 24 * 3600 * 1000;
    let open = store::unattributed_purchases(c, merchant_id, &member.email, since).await?;
    for p in &open {
        purchases::apply(
            c,
            merchant_id,
            &mut ctx,
            &p.connection_id,
            &p.sale_external_id,
            Some(&member.id),
            false,
        )
        .await?;
    }
    ctx.flush(c, merchant_id).await?;
    Ok(open.len())
}

pub async fn create(
    engine: &Engine,
    merchant_id: &str,
    new: NewMember,
) -> Result<MemberView, EngineError> {
    engine.merchant(merchant_id).await?;
    let now = engine.now_ms();
    let member = MemberRow {
        id: new_id("mem"),
        email: email(&new.email)?,
        name: clean(new.name),
        phone: clean(new.phone),
        joined_at: now,
        balance_minor: 0,
        tier_id: None,
        tier_since: None,
        tier_floor: None,
        segment: None,
        rfm_scores: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = engine.store().begin().await?;
    store::insert_member(&mut tx, merchant_id, &member).await?;
    emit(
        &mut tx,
        merchant_id,
        "loyalty.member_created",
        &member.id,
        serde_json::json!({ "member_id": member.id, "email": member.email }),
        now,
    )
    .await?;
    claim(&mut tx, merchant_id, &member, now).await?;
    let member = store::member(&mut tx, merchant_id, &member.id)
        .await?
        .unwrap_or(member);
    let view = view(&mut tx, merchant_id, member).await?;
    tillbridge_store::commit(tx).await?;
    Ok(view)
}

pub async fn update(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
    patch: MemberPatch,
) -> Result<MemberView, EngineError> {
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let mut member = store::member(&mut tx, merchant_id, member_id)
        .await?
        .ok_or_else(|| not_found(merchant_id, member_id))?;
    let new_email = patch.email.as_deref().map(email).transpose()?;
    let changed_email = new_email.as_ref().is_some_and(|e| *e != member.email);
    if let Some(e) = new_email {
        member.email = e;
    }
    if patch.name.is_some() {
        member.name = clean(patch.name);
    }
    if patch.phone.is_some() {
        member.phone = clean(patch.phone);
    }
    member.updated_at = now;
    store::update_member(&mut tx, merchant_id, &member).await?;
    if changed_email {
        claim(&mut tx, merchant_id, &member, now).await?;
    }
    let member = store::member(&mut tx, merchant_id, member_id)
        .await?
        .unwrap_or(member);
    let view = view(&mut tx, merchant_id, member).await?;
    tillbridge_store::commit(tx).await?;
    Ok(view)
}

pub(crate) fn not_found(merchant_id: &str, member_id: &str) -> EngineError {
    EngineError::NotFound(format!(
        "no member `{member_id}` for merchant `{merchant_id}`: list them with GET /api/v1/merchants/{merchant_id}/members"
    ))
}

pub async fn get(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
) -> Result<MemberView, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    let member = store::member(&mut c, merchant_id, member_id)
        .await?
        .ok_or_else(|| not_found(merchant_id, member_id))?;
    view(&mut c, merchant_id, member).await
}

/// Everything a member's profile shows.
#[derive(Clone, Debug)]
pub struct Profile {
    pub member: MemberView,
    /// Newest first.
    pub purchases: Vec<store::PurchaseRow>,
    pub ledger: Vec<LedgerRow>,
    pub cards: Vec<crate::punch_cards::MemberCard>,
    pub tier_history: Vec<store::TierHistoryRow>,
    pub segment_history: Vec<store::SegmentChange>,
}

/// A member's profile read in one snapshot: while a purchase is being written it shows the
/// order with its credit and stamps, or none of them.
pub async fn profile(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
) -> Result<Profile, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut tx = engine.store().begin_snapshot().await?;
    let member = store::member(&mut tx, merchant_id, member_id)
        .await?
        .ok_or_else(|| not_found(merchant_id, member_id))?;
    let mut purchases = store::member_purchases(&mut tx, merchant_id, member_id).await?;
    purchases.sort_by_key(|r| std::cmp::Reverse(r.closed_at));
    let profile = Profile {
        member: MemberView {
            purchases: purchases.len() as i64,
            spend_minor: purchases.iter().map(|p| p.net_eligible_minor).sum(),
            member,
        },
        purchases,
        ledger: store::ledger_of(&mut tx, merchant_id, member_id).await?,
        cards: crate::punch_cards::cards_of(&mut tx, merchant_id, member_id).await?,
        tier_history: store::tier_history(&mut tx, merchant_id, member_id).await?,
        segment_history: store::segment_history(&mut tx, merchant_id, member_id).await?,
    };
    tx.rollback()
        .await
        .map_err(tillbridge_store::StoreError::from)?;
    Ok(profile)
}

pub async fn list(
    engine: &Engine,
    merchant_id: &str,
    search: Option<&str>,
    segment: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberRow>, EngineError> {
    if let Some(s) = segment {
        if !crate::rfm::Segment::ALL.iter().any(|x| x.as_str() == s) {
            let all: Vec<&str> = crate::rfm::Segment::ALL
                .iter()
                .map(|x| x.as_str())
                .collect();
            return Err(EngineError::Invalid(format!(
                "`{s}` is not a segment; segments are: {}",
                all.join(", ")
            )));
        }
    }
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    Ok(store::list_members(
        &mut c,
        merchant_id,
        search,
        segment,
        after,
        limit.clamp(1, 500),
    )
    .await?)
}

pub async fn ledger(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
) -> Result<Vec<LedgerRow>, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    store::member(&mut c, merchant_id, member_id)
        .await?
        .ok_or_else(|| not_found(merchant_id, member_id))?;
    Ok(store::ledger_of(&mut c, merchant_id, member_id).await?)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualCredit {
    /// Positive adds credit, negative removes it.
    pub amount_minor: i64,
    pub reason: String,
    /// Shown to the member, if the app notifies them.
    #[serde(default)]
    pub message: Option<String>,
    /// Repeating a request with the same key returns the first entry and changes nothing.
    pub idempotency_key: String,
}

/// A manual credit or debit. It does not count toward tier spend.
pub async fn manual_credit(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
    credit: ManualCredit,
) -> Result<(LedgerRow, bool), EngineError> {
    let reason = credit.reason.trim();
    if reason.is_empty() {
        return Err(EngineError::Invalid(
            "`reason` is required: say why the balance changes".into(),
        ));
    }
    let key = idempotency_key(&credit.idempotency_key)?;
    if credit.amount_minor == 0 {
        return Err(EngineError::Invalid(
            "`amount_minor` must not be zero".into(),
        ));
    }
    engine.merchant(merchant_id).await?;
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let key = format!("manual:{key}");
    if let Some(first) =
        repeated(&mut tx, merchant_id, member_id, &key, credit.amount_minor).await?
    {
        return Ok((first, false));
    }
    let member = store::member(&mut tx, merchant_id, member_id)
        .await?
        .ok_or_else(|| not_found(merchant_id, member_id))?;
    let allow_negative = program::load(&mut tx, merchant_id)
        .await?
        .allow_negative_balance;
    if !allow_negative && member.balance_minor + credit.amount_minor < 0 {
        return Err(EngineError::Invalid(format!(
            "the balance is {} and may not go below zero; debit at most that much",
            member.balance_minor
        )));
    }
    let entry = LedgerRow {
        id: new_id("cred"),
        member_id: member_id.to_owned(),
        kind: "manual".into(),
        amount_minor: credit.amount_minor,
        reason: Some(reason.to_owned()),
        message: clean(credit.message),
        idempotency_key: Some(key),
        created_at: now,
        ..LedgerRow::default()
    };
    post_staff_entry(tx, merchant_id, entry, "loyalty.credit_adjusted", |e| {
        serde_json::json!({ "member_id": e.member_id, "amount_minor": e.amount_minor, "balance_minor": e.balance_after_minor, "reason": e.reason, "message": e.message, "ledger_entry_id": e.id })
    })
    .await
}

/// Posts a ledger entry staff asked for (a manual credit, a redemption), announces it as
/// `event` and commits.
async fn post_staff_entry(
    mut tx: tillbridge_store::Tx,
    merchant_id: &str,
    mut entry: LedgerRow,
    event: &str,
    payload: impl FnOnce(&LedgerRow) -> serde_json::Value,
) -> Result<(LedgerRow, bool), EngineError> {
    store::post_entry(&mut tx, merchant_id, &mut entry).await?;
    let member_id = entry.member_id.clone();
    emit(
        &mut tx,
        merchant_id,
        event,
        &member_id,
        payload(&entry),
        entry.created_at,
    )
    .await?;
    tillbridge_store::commit(tx).await?;
    Ok((entry, true))
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The member merged into this one; they are deleted.
    pub member_id: String,
}

/// Merges member `merge.member_id` into `member_id`: their purchases, ledger, stamps and tier
/// history move over, balances and card progress add up (completed cards issue rewards), the
/// surviving member keeps their own tier floor (or takes the other's), and tier and segments
/// are recomputed. The other member's e-mail stops matching orders.
pub async fn merge(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
    merge: Merge,
) -> Result<MemberView, EngineError> {
    let other = merge.member_id.trim();
    if other == member_id {
        return Err(EngineError::Invalid(
            "a member cannot be merged into themselves: `member_id` must name the other member"
                .into(),
        ));
    }
    engine.merchant(merchant_id).await?;
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let into = store::member(&mut tx, merchant_id, member_id)
        .await?
        .ok_or_else(|| not_found(merchant_id, member_id))?;
    let from = store::member(&mut tx, merchant_id, other)
        .await?
        .ok_or_else(|| not_found(merchant_id, other))?;
    // Card progress adds up before the rows move.
    let theirs = store::member_cards(&mut tx, merchant_id, &from.id).await?;
    let mut issued = Vec::new();
    for (card_id, raw) in theirs {
        let Some(card) = store::card(&mut tx, merchant_id, &card_id).await? else {
            continue;
        };
        let rule = crate::punch_cards::rule_of(&card)?;
        let mut state = match store::member_card(&mut tx, merchant_id, &into.id, &card_id).await? {
            Some(raw) => crate::punch_cards::parse_state(&raw)?,
            None => crate::cards::CardState::default(),
        };
        let change = crate::cards::merge(
            rule.stamps_required,
            &mut state,
            crate::punch_cards::parse_state(&raw)?,
            &format!("merge/{}", from.id),
            |_| new_id("rwd"),
        );
        let text =
            serde_json::to_string(&state).map_err(|e| EngineError::Invalid(e.to_string()))?;
        store::put_member_card(&mut tx, merchant_id, &into.id, &card_id, &text, now).await?;
        issued.extend(change.issued.into_iter().map(|r| (card.clone(), r)));
    }
    store::absorb_member(&mut tx, merchant_id, &from.id, &into.id, now).await?;
    if into.tier_floor.is_none() && from.tier_floor.is_some() {
        store::set_member_tier(
            &mut tx,
            merchant_id,
            &into.id,
            into.tier_id.as_deref(),
            into.tier_since.as_deref(),
            from.tier_floor.as_deref(),
            now,
        )
        .await?;
    }
    let mut marker = LedgerRow {
        id: new_id("cred"),
        member_id: into.id.clone(),
        kind: "merged".into(),
        amount_minor: 0,
        reason: Some(format!(
            "merged member {} ({}) with a balance of {}",
            from.id, from.email, from.balance_minor
        )),
        created_at: now,
        ..LedgerRow::default()
    };
    store::post_entry(&mut tx, merchant_id, &mut marker).await?;
    let mut ctx = purchases::Ctx::load(&mut tx, merchant_id, now).await?;
    let today = ctx.today;
    // Read again: the merge moved the balance and may have set the floor.
    let survivor = store::member(&mut tx, merchant_id, &into.id)
        .await?
        .ok_or_else(|| not_found(merchant_id, &into.id))?;
    crate::tiering::after_purchases(&mut tx, merchant_id, &mut ctx, &[(survivor, false)]).await?;
    ctx.flush(&mut tx, merchant_id).await?;
    crate::segments::compute(&mut tx, merchant_id, today, now).await?;
    emit(
        &mut tx,
        merchant_id,
        "loyalty.members_merged",
        &into.id,
        serde_json::json!({ "member_id": into.id, "merged_member_id": from.id, "merged_email": from.email }),
        now,
    )
    .await?;
    for (card, reward) in issued {
        emit(&mut tx, merchant_id, "loyalty.reward_available", &into.id, serde_json::json!({
            "member_id": into.id, "card_id": card.id, "reward_id": reward.id, "reward": card.reward,
        }), now).await?;
    }
    let member = store::member(&mut tx, merchant_id, &into.id)
        .await?
        .unwrap_or(into);
    let view = view(&mut tx, merchant_id, member).await?;
    tillbridge_store::commit(tx).await?;
    Ok(view)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redemption {
    /// Credit spent, in minor units (positive).
    pub amount_minor: i64,
    /// Repeating a request with the same key returns the first entry and changes nothing.
    pub idempotency_key: String,
    /// Where it was spent (an order number, a register), for the ledger.
    #[serde(default)]
    pub reference: Option<String>,
}

/// Spends credit: never more than the balance, whatever the negative-balance setting (which
/// only lets reversals of already spent credit go below zero).
pub async fn redeem(
    engine: &Engine,
    merchant_id: &str,
    member_id: &str,
    r: Redemption,
) -> Result<(LedgerRow, bool), EngineError> {
    if r.amount_minor <= 0 {
        return Err(EngineError::Invalid(format!(
            "`amount_minor` must be positive (the credit spent), got {}",
            r.amount_minor
        )));
    }
    let key = idempotency_key(&r.idempotency_key)?;
    engine.merchant(merchant_id).await?;
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let key = format!("redeem:{key}");
    if let Some(first) = repeated(&mut tx, merchant_id, member_id, &key, -r.amount_minor).await? {
        return Ok((first, false));
    }
    let member = store::member(&mut tx, merchant_id, member_id)
        .await?
        .ok_or_else(|| not_found(merchant_id, member_id))?;
    if member.balance_minor < r.amount_minor {
        return Err(EngineError::Invalid(format!(
            "the balance is {} and a redemption may not exceed it; redeem at most that much",
            member.balance_minor.max(0)
        )));
    }
    let entry = LedgerRow {
        id: new_id("cred"),
        member_id: member_id.to_owned(),
        kind: "redeemed".into(),
        amount_minor: -r.amount_minor,
        reason: clean(r.reference),
        idempotency_key: Some(key),
        created_at: now,
        ..LedgerRow::default()
    };
    post_staff_entry(tx, merchant_id, entry, "loyalty.credit_redeemed", |e| {
        serde_json::json!({ "member_id": e.member_id, "amount_minor": -e.amount_minor, "balance_minor": e.balance_after_minor, "reference": e.reason, "ledger_entry_id": e.id })
    })
    .await
}

fn idempotency_key(raw: &str) -> Result<&str, EngineError> {
    let key = raw.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(EngineError::Invalid(
            "`idempotency_key` is required (1–200 characters): send the same key to retry safely"
                .into(),
        ));
    }
    Ok(key)
}

/// The entry an idempotency key already made, if it made the same change; a conflict if the
/// key was used for a different one.
async fn repeated(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
    key: &str,
    amount_minor: i64,
) -> Result<Option<LedgerRow>, EngineError> {
    let Some(first) = store::entry_by_idempotency_key(c, merchant_id, key).await? else {
        return Ok(None);
    };
    if first.member_id != member_id || first.amount_minor != amount_minor {
        return Err(EngineError::Conflict(format!(
            "idempotency key `{}` was already used for a different change",
            key.split_once(':').map_or(key, |(_, k)| k)
        )));
    }
    Ok(Some(first))
}
