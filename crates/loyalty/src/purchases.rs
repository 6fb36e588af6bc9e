//! Purchases: a sale with its refunds and voids on one connection. Every new version of any of
//! its orders recomputes the purchase's net eligible amount and posts the difference in credit
//! to its member's ledger, with the rule the purchase first earned under.
//!
//! A purchase without a member (no e-mail, or nobody with that e-mail yet) is kept with its
//! normalised e-mail so that a member created later can claim it within the claim window.

use crate::earning::{self, EarningRule};
use crate::eligible::{eligible_amount, Line, TaxBasis};
use crate::program::{self, Program};
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};
use tillbridge_engine::consumers::ConsumerFuture;
use tillbridge_engine::ids::new_id;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_model::{Order, OrderKind};
use tillbridge_store::events::{EventRow, NewEvent};
use tillbridge_store::loyalty::{self as store, CardRow, LedgerRow, MemberRow, PurchaseRow};
use tillbridge_store::orders::StoredOrder;
use tillbridge_store::{orders, Conn, Tx};

/// The eligible amount of one synced order.
pub fn order_eligible(order: &Order, basis: TaxBasis) -> i64 {
    let lines: Vec<Line> = order
        .lines
        .iter()
        .map(|l| Line {
            net_minor: l.net_minor,
            gross_minor: l.total_minor,
            voided: l.voided,
            excluded: false,
        })
        .collect();
    eligible_amount(&lines, 0, basis)
}

/// What applying purchases needs besides each purchase, read once for many: the program, the
/// active punch cards, today's business date and, for a consumer batch, the orders of all its
/// purchases (read in a few statements instead of two per purchase).
pub(crate) struct Ctx {
    pub program: Program,
    pub cards: Vec<CardRow>,
    pub today: NaiveDate,
    pub now: i64,
    orders: HashMap<(String, String), Vec<StoredOrder>>,
    /// Member ids by normalised e-mail, as looked up so far (`None`: nobody has it).
    emails: HashMap<String, Option<String>>,
    /// Prefetched purchase rows (`None`: the purchase has no row yet).
    purchases: HashMap<(String, String), Option<PurchaseRow>>,
    /// Notifications to append, in order, when the batch is written ([`Ctx::flush`]).
    events: Vec<NewEvent>,
}

impl Ctx {
    pub(crate) async fn load(
        c: &mut Conn,
        merchant_id: &str,
        now: i64,
    ) -> Result<Ctx, EngineError> {
        Ok(Ctx {
            program: program::load(c, merchant_id).await?,
            cards: store::cards(c, merchant_id, true).await?,
            today: crate::tiering::today(c, merchant_id, now).await?,
            now,
            orders: HashMap::new(),
            purchases: HashMap::new(),
            emails: HashMap::new(),
            events: Vec::new(),
        })
    }

    /// The member with this normalised e-mail, looked up once per context.
    async fn member_with(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        email: &str,
    ) -> Result<Option<String>, EngineError> {
        if let Some(known) = self.emails.get(email) {
            return Ok(known.clone());
        }
        let id = store::member_by_email(c, merchant_id, email)
            .await?
            .map(|m| m.id);
        self.emails.insert(email.to_owned(), id.clone());
        Ok(id)
    }

    /// Queues a notification; [`Ctx::flush`] appends the queue to the event log in order.
    pub(crate) fn announce(&mut self, event_type: &str, subject: &str, payload: serde_json::Value) {
        self.events.push(NewEvent {
            id: new_id("evt"),
            event_type: event_type.to_owned(),
            subject: subject.to_owned(),
            payload,
        });
    }

    /// Appends the queued notifications in the caller's transaction.
    pub(crate) async fn flush(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
    ) -> Result<(), EngineError> {
        let events = std::mem::take(&mut self.events);
        Ok(tillbridge_store::events::append_many(c, merchant_id, &events, self.now).await?)
    }

    /// Reads the orders and rows of these purchases (connection, sale id) ahead.
    async fn prefetch(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        purchases: &[(&str, &str)],
    ) -> Result<(), EngineError> {
        let mut by_connection: HashMap<&str, Vec<&str>> = HashMap::new();
        for (connection_id, sale) in purchases {
            by_connection.entry(connection_id).or_default().push(sale);
        }
        for (connection_id, sales) in by_connection {
            let mut found = orders::purchases_orders(c, merchant_id, connection_id, &sales).await?;
            let mut rows = store::purchase_rows(c, merchant_id, connection_id, &sales).await?;
            for sale in sales {
                let key = (connection_id.to_owned(), sale.to_owned());
                self.orders
                    .insert(key.clone(), found.remove(sale).unwrap_or_default());
                self.purchases.insert(key, rows.remove(sale));
            }
        }
        Ok(())
    }
}

/// Brings one purchase up to date: its net eligible amount, its member and its credit.
/// `member_hint` attributes an unattributed purchase (a claim); `quiet` (a replay) announces
/// nothing.
pub(crate) async fn apply(
    c: &mut Conn,
    merchant_id: &str,
    ctx: &mut Ctx,
    connection_id: &str,
    sale_external_id: &str,
    member_hint: Option<&str>,
    quiet: bool,
) -> Result<(), EngineError> {
    let now = ctx.now;
    let orders = match ctx
        .orders
        .remove(&(connection_id.to_owned(), sale_external_id.to_owned()))
    {
        Some(prefetched) => prefetched,
        None => orders::purchase_orders(c, merchant_id, connection_id, sale_external_id).await?,
    };
    let Some(sale) = orders
        .iter()
        .find(|o| o.order.kind == OrderKind::Sale && o.order.external_id == sale_external_id)
    else {
        // A refund synced before its sale: the sale's arrival recomputes the whole purchase.
        return Ok(());
    };
    let net: i64 = orders
        .iter()
        .map(|o| order_eligible(&o.order, ctx.program.tax_basis))
        .sum();
    let email = sale
        .order
        .customer_email
        .as_ref()
        .map(|e| e.as_str().to_owned());
    let existing = match ctx
        .purchases
        .remove(&(connection_id.to_owned(), sale_external_id.to_owned()))
    {
        Some(prefetched) => prefetched,
        None => store::purchase_row(c, merchant_id, connection_id, sale_external_id).await?,
    };
    // What decides the member's order of purchases and lifetime figures, before this version.
    let ordered_before = existing.as_ref().map(ordering_fields);
    let mut member_id = existing.as_ref().and_then(|p| p.member_id.clone());
    if member_id.is_none() {
        member_id = match (member_hint, &email) {
            (Some(m), _) => Some(m.to_owned()),
            // An order arriving for an existing member's e-mail is theirs at once.
            (None, Some(e)) => ctx.member_with(c, merchant_id, e).await?,
            (None, None) => None,
        };
    }
    let mut purchase = existing.unwrap_or(PurchaseRow {
        connection_id: connection_id.to_owned(),
        sale_external_id: sale_external_id.to_owned(),
        member_id: None,
        customer_email: None,
        sale_date: None,
        closed_at: 0,
        rule: None,
        net_eligible_minor: 0,
        accounted_minor: 0,
    });
    purchase.member_id = member_id.clone();
    purchase.customer_email = email;
    purchase.sale_date = sale.order.business_date.map(|d| d.to_string());
    purchase.closed_at = sale.order.closed_at.timestamp_millis();
    purchase.net_eligible_minor = net;
    // The member, read once for the credit and the tier (when either applies).
    let mut member = None;
    if let Some(member_id) = &member_id {
        // The rule is fixed when the purchase first earns.
        if purchase.rule.is_none() {
            purchase.rule = ctx
                .program
                .earning
                .as_ref()
                .map(|r| serde_json::to_string(r).unwrap_or_default());
        }
        if purchase.rule.is_some() || ctx.program.tiers.is_some() {
            member = Some(
                store::member(c, merchant_id, member_id)
                    .await?
                    .ok_or_else(|| EngineError::NotFound(format!("member `{member_id}`")))?,
            );
        }
        if let (Some(rule), Some(member)) = (purchase.rule.as_deref(), &member) {
            let rule: EarningRule = serde_json::from_str(rule).map_err(|e| {
                EngineError::Invalid(format!(
                    "a purchase's stored earning rule is unreadable: {e}"
                ))
            })?;
            let entry = post(c, merchant_id, member, &mut purchase, &rule, ctx, sale).await?;
            // Reversals are silent by default; earning is announced.
            if let Some(entry) = entry.filter(|e| e.kind == "earned" && !quiet) {
                ctx.announce(
                    "loyalty.credit_earned",
                    member_id,
                    serde_json::json!({
                        "member_id": member_id, "amount_minor": entry.amount_minor, "balance_minor": entry.balance_after_minor,
                        "connection_id": purchase.connection_id, "sale_external_id": purchase.sale_external_id, "ledger_entry_id": entry.id,
                    }),
                );
            }
        }
        crate::punch_cards::stamp(c, merchant_id, member_id, &purchase, &orders, ctx, quiet)
            .await?;
    }
    store::put_purchase(c, merchant_id, &purchase, now).await?;
    if let Some(member_id) = &member_id {
        if ordered_before.as_ref() != Some(&ordering_fields(&purchase)) {
            store::refresh_member_purchases(c, merchant_id, member_id).await?;
        }
    }
    if let Some(member) = &member {
        // Posting moved only the balance; the tier fields are as read.
        crate::tiering::after_purchase(c, merchant_id, ctx, member, quiet).await?;
    }
    Ok(())
}

/// The fields of a purchase that place it among its member's purchases and in their lifetime
/// figures ([`store::refresh_member_purchases`]).
fn ordering_fields(p: &PurchaseRow) -> (Option<String>, Option<String>, i64, i64) {
    (
        p.member_id.clone(),
        p.sale_date.clone(),
        p.closed_at,
        p.net_eligible_minor,
    )
}

/// Posts the difference between what the purchase is entitled to under `rule` and what it
/// already accounted for; the ledger entry, if anything changed.
async fn post(
    c: &mut Conn,
    merchant_id: &str,
    member: &MemberRow,
    purchase: &mut PurchaseRow,
    rule: &EarningRule,
    ctx: &Ctx,
    sale: &orders::StoredOrder,
) -> Result<Option<LedgerRow>, EngineError> {
    let posting = earning::post(
        rule,
        purchase.net_eligible_minor,
        purchase.accounted_minor,
        member.balance_minor,
        ctx.program.allow_negative_balance,
    );
    if posting.accounted() == 0 {
        return Ok(None);
    }
    let mut entry = LedgerRow {
        id: new_id("cred"),
        member_id: member.id.clone(),
        kind: if posting.accounted() > 0 {
            "earned"
        } else {
            "reversed"
        }
        .to_owned(),
        amount_minor: posting.ledger_minor,
        written_off_minor: posting.written_off_minor,
        connection_id: Some(purchase.connection_id.clone()),
        sale_external_id: Some(purchase.sale_external_id.clone()),
        order_id: Some(sale.id.clone()),
        order_version: Some(sale.version),
        created_at: ctx.now,
        ..LedgerRow::default()
    };
    store::post_entry(c, merchant_id, &mut entry).await?;
    purchase.accounted_minor += posting.accounted();
    Ok(Some(entry))
}

/// The purchase an order event belongs to: (connection, sale's provider id, whether the event
/// is the sale itself).
fn purchase_of(e: &EventRow) -> Option<(&str, &str, bool)> {
    if e.event_type != "order.created" && e.event_type != "order.updated" {
        return None;
    }
    let text = |k: &str| e.payload.get(k).and_then(|v| v.as_str());
    let connection_id = text("connection_id")?;
    let is_sale = matches!(text("kind"), Some("sale") | None);
    let sale = if is_sale {
        text("external_id")?
    } else {
        text("original_external_id")?
    };
    Some((connection_id, sale, is_sale))
}

/// The loyalty consumer's name (its cursor).
pub const CONSUMER: &str = "loyalty";

/// Applies order events to purchases.
pub struct Consumer;

impl tillbridge_engine::consumers::Consumer for Consumer {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    /// The daily tier check and the nightly segments, once per business date in the
    /// merchant's zone.
    fn tick<'a>(
        &'a self,
        engine: &'a Engine,
        tx: &'a mut Tx,
        merchant_id: &'a str,
    ) -> ConsumerFuture<'a> {
        Box::pin(async move {
            let now = engine.now_ms();
            crate::tiering::daily(tx, merchant_id, now).await?;
            crate::segments::nightly(tx, merchant_id, now).await
        })
    }

    fn handle<'a>(
        &'a self,
        engine: &'a Engine,
        tx: &'a mut Tx,
        merchant_id: &'a str,
        events: &'a [EventRow],
    ) -> ConsumerFuture<'a> {
        Box::pin(async move {
            let now = engine.now_ms();
            let mut ctx = Ctx::load(tx, merchant_id, now).await?;
            let until = store::replay_until(tx, merchant_id).await?;
            let cutoff = now - i64::from(ctx.program.claim_window_days) * 24 * 3600 * 1000;
            // Each purchase is recomputed once per batch, from the orders as stored now; a
            // replay re-reading events it announced before stays quiet about a purchase unless
            // the batch also holds a newer event of it.
            let mut last_seq: HashMap<(&str, &str), i64> = HashMap::new();
            for e in events {
                if let Some((connection_id, sale, _)) = purchase_of(e) {
                    last_seq.insert((connection_id, sale), e.seq);
                }
            }
            let mut seen: HashSet<(&str, &str)> = HashSet::new();
            let mut targets: Vec<(&str, &str, bool)> = Vec::new();
            for e in events {
                let Some((connection_id, sale, is_sale)) = purchase_of(e) else {
                    continue;
                };
                if !seen.insert((connection_id, sale)) {
                    continue;
                }
                let quiet = until.is_some_and(|u| last_seq[&(connection_id, sale)] <= u);
                let text = |k: &str| e.payload.get(k).and_then(|v| v.as_str());
                if is_sale {
                    // An old sale nobody can claim any more (no member has its e-mail, and it
                    // is outside the claim window) has nothing to apply: skip it cheaply, which
                    // keeps a year-long backfill fast. Refunds always look their purchase up.
                    let closed_at = e
                        .payload
                        .get("closed_at")
                        .and_then(|v| v.as_str())
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .map_or(now, |t| t.timestamp_millis());
                    let has_member = match text("customer_email") {
                        Some(email) => ctx.member_with(tx, merchant_id, email).await?.is_some(),
                        None => false,
                    };
                    // A purchase a member already holds (claimed, or merged from another
                    // e-mail) is always brought up to date.
                    if !has_member
                        && closed_at < cutoff
                        && store::purchase_row(tx, merchant_id, connection_id, sale)
                            .await?
                            .is_none_or(|p| p.member_id.is_none())
                    {
                        continue;
                    }
                }
                targets.push((connection_id, sale, quiet));
            }
            let keys: Vec<(&str, &str)> = targets.iter().map(|(c, s, _)| (*c, *s)).collect();
            ctx.prefetch(tx, merchant_id, &keys).await?;
            for (connection_id, sale, quiet) in targets {
                apply(tx, merchant_id, &mut ctx, connection_id, sale, None, quiet).await?;
            }
            ctx.flush(tx, merchant_id).await?;
            Ok(())
        })
    }
}
