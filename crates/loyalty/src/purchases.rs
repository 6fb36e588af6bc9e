//! Purchases: a sale with its refunds and voids on one connection. Every new version of any of
//! its orders recomputes the purchase's net eligible amount and posts the difference in credit
//! to its member's ledger, with the rule the purchase first earned under.
//!
//! A purchase without a member (no e-mail, or nobody with that e-mail yet) is kept with its
//! normalised e-mail so that a member created later can claim it within the claim window.

use crate::cards::PunchCard;
use crate::earning::{self, EarningRule};
use crate::eligible::{eligible_amount, Line, TaxBasis};
use crate::program::{self, Program};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
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

/// What applying purchases needs besides each purchase, read once for many, and what they
/// write, kept until [`Ctx::flush`] writes it in a few multi-row statements.
///
/// Read ahead: the program, the active punch cards and today's business date; for a consumer
/// batch, the orders and rows of all its purchases, their stamps, and the members they belong
/// to with their next ledger numbers and card progress (locked on PostgreSQL, see
/// [`store::members_by_ids`]). Applying a purchase then reads and changes these in memory: the
/// members' balances, ledger entries, card progress, stamps and purchase rows are written at
/// the flush, followed by the members' purchase dates and tiers, and the notifications. Nothing
/// in the caller's transaction may read what a context changed before it is flushed.
pub(crate) struct Ctx {
    pub program: Program,
    /// The active punch cards with their rules, shared with each purchase's stamping.
    pub cards: Arc<Vec<(CardRow, PunchCard)>>,
    pub today: NaiveDate,
    pub now: i64,
    orders: HashMap<(String, String), Vec<StoredOrder>>,
    /// Member ids by normalised e-mail, as looked up so far (`None`: nobody has it).
    emails: HashMap<String, Option<String>>,
    /// Prefetched purchase rows (`None`: the purchase has no row yet).
    purchases: HashMap<(String, String), Option<PurchaseRow>>,
    /// The members read, with their balances as posted so far.
    members: HashMap<String, MemberRow>,
    /// The next ledger entry number of each member read.
    next_seq: HashMap<String, i64>,
    /// Card progress (state JSON) by (member, card), for the members read; a card missing
    /// has no progress yet.
    card_states: HashMap<(String, String), String>,
    /// Stamps by (connection, sale, card), for the purchases in `stamps_read`; a card missing
    /// has none from that purchase.
    stamps: HashMap<(String, String, String), i64>,
    stamps_read: HashSet<(String, String)>,
    /// To write at the flush.
    ledger: Vec<LedgerRow>,
    balances: BTreeSet<String>,
    cards_out: BTreeSet<(String, String)>,
    stamps_out: BTreeMap<(String, String, String), store::StampRow>,
    purchases_out: BTreeMap<(String, String), PurchaseRow>,
    /// The purchases whose member, date, closing instant or net the context changed, with
    /// these as stored before ([`Ctx::place_purchases`]).
    moved: BTreeMap<(String, String), Option<OrderingFields>>,
    /// Members whose tier is to be checked, and whether that is quiet (a replay's).
    tiered: BTreeMap<String, bool>,
    /// Notifications to append, in order.
    events: Vec<NewEvent>,
}

impl Ctx {
    pub(crate) async fn load(
        c: &mut Conn,
        merchant_id: &str,
        now: i64,
    ) -> Result<Ctx, EngineError> {
        let mut cards = Vec::new();
        for card in store::cards(c, merchant_id, true).await? {
            let rule = crate::punch_cards::rule_of(&card)?;
            cards.push((card, rule));
        }
        Ok(Ctx {
            program: program::load(c, merchant_id).await?,
            cards: Arc::new(cards),
            today: crate::tiering::today(c, merchant_id, now).await?,
            now,
            orders: HashMap::new(),
            purchases: HashMap::new(),
            emails: HashMap::new(),
            members: HashMap::new(),
            next_seq: HashMap::new(),
            card_states: HashMap::new(),
            stamps: HashMap::new(),
            stamps_read: HashSet::new(),
            ledger: Vec::new(),
            balances: BTreeSet::new(),
            cards_out: BTreeSet::new(),
            stamps_out: BTreeMap::new(),
            purchases_out: BTreeMap::new(),
            moved: BTreeMap::new(),
            tiered: BTreeMap::new(),
            events: Vec::new(),
        })
    }

    /// Looks up the members with these normalised e-mails not looked up yet.
    async fn read_emails(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        emails: &[&str],
    ) -> Result<(), EngineError> {
        let wanted = unread(emails, &self.emails);
        if wanted.is_empty() {
            return Ok(());
        }
        let mut found = store::member_ids_by_emails(c, merchant_id, &wanted).await?;
        for email in wanted {
            self.emails.insert(email.to_owned(), found.remove(email));
        }
        Ok(())
    }

    /// The member with this normalised e-mail, looked up once per context.
    async fn member_with(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        email: &str,
    ) -> Result<Option<String>, EngineError> {
        self.read_emails(c, merchant_id, &[email]).await?;
        Ok(self.emails.get(email).cloned().flatten())
    }

    /// Reads the members not read yet, with their next ledger numbers and card progress.
    async fn read_members(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        ids: &[&str],
    ) -> Result<(), EngineError> {
        let wanted = unread(ids, &self.members);
        if wanted.is_empty() {
            return Ok(());
        }
        self.members
            .extend(store::members_by_ids(c, merchant_id, &wanted).await?);
        self.next_seq
            .extend(store::next_entry_seqs(c, merchant_id, &wanted).await?);
        if !self.cards.is_empty() {
            self.card_states
                .extend(store::members_cards(c, merchant_id, &wanted).await?);
        }
        Ok(())
    }

    /// Reads the rows of these purchases (connection, sale id) not read yet.
    async fn read_purchases(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        purchases: &[(&str, &str)],
    ) -> Result<(), EngineError> {
        for (connection_id, sales) in by_connection(purchases, |k| self.purchases.contains_key(k)) {
            let mut rows = store::purchase_rows(c, merchant_id, connection_id, &sales).await?;
            for sale in sales {
                let row = rows.remove(sale);
                self.purchases
                    .insert((connection_id.to_owned(), sale.to_owned()), row);
            }
        }
        Ok(())
    }

    /// Reads the stamps of these purchases not read yet (when any card is active).
    async fn read_stamps(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        purchases: &[(&str, &str)],
    ) -> Result<(), EngineError> {
        if self.cards.is_empty() {
            return Ok(());
        }
        for (connection_id, sales) in by_connection(purchases, |k| self.stamps_read.contains(k)) {
            let found = store::purchases_stamps(c, merchant_id, connection_id, &sales).await?;
            for ((sale, card), stamps) in found {
                self.stamps
                    .insert((connection_id.to_owned(), sale, card), stamps);
            }
            for sale in sales {
                self.stamps_read
                    .insert((connection_id.to_owned(), sale.to_owned()));
            }
        }
        Ok(())
    }

    /// Reads ahead everything applying these purchases (connection, sale id) reads.
    async fn prefetch(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        purchases: &[(&str, &str)],
    ) -> Result<(), EngineError> {
        self.read_purchases(c, merchant_id, purchases).await?;
        for (connection_id, sales) in by_connection(purchases, |k| self.orders.contains_key(k)) {
            let mut found = orders::purchases_orders(c, merchant_id, connection_id, &sales).await?;
            for sale in sales {
                self.orders.insert(
                    (connection_id.to_owned(), sale.to_owned()),
                    found.remove(sale).unwrap_or_default(),
                );
            }
        }
        self.read_stamps(c, merchant_id, purchases).await?;
        // Their members: the ones holding them, and the ones their e-mails name.
        let mut emails = Vec::new();
        let mut ids = Vec::new();
        for key in purchases {
            let key = (key.0.to_owned(), key.1.to_owned());
            if let Some(Some(p)) = self.purchases.get(&key) {
                ids.extend(p.member_id.clone());
            }
            let sale = self.orders.get(&key).and_then(|o| o.first());
            if let Some(email) = sale.and_then(|o| o.order.customer_email.as_ref()) {
                emails.push(email.as_str().to_owned());
            }
        }
        let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
        self.read_emails(c, merchant_id, &emails).await?;
        ids.extend(
            emails
                .iter()
                .filter_map(|e| self.emails.get(*e).cloned().flatten()),
        );
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.read_members(c, merchant_id, &ids).await
    }

    /// The member, read once per context.
    async fn member(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        id: &str,
    ) -> Result<MemberRow, EngineError> {
        self.read_members(c, merchant_id, &[id]).await?;
        self.members
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("member `{id}`")))
    }

    /// Queues a ledger entry: numbers it, moves the member's balance by its amount and sets
    /// the balance after it. The member must have been read.
    fn post_entry(&mut self, entry: &mut LedgerRow) -> Result<(), EngineError> {
        let member = self
            .members
            .get_mut(&entry.member_id)
            .ok_or_else(|| EngineError::NotFound(format!("member `{}`", entry.member_id)))?;
        let seq = self.next_seq.entry(entry.member_id.clone()).or_insert(1);
        entry.seq = *seq;
        *seq += 1;
        member.balance_minor += entry.amount_minor;
        entry.balance_after_minor = member.balance_minor;
        self.balances.insert(entry.member_id.clone());
        self.ledger.push(entry.clone());
        Ok(())
    }

    /// The stamps a purchase has given on a card so far.
    pub(crate) async fn stamps_of(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        purchase: (&str, &str),
        card_id: &str,
    ) -> Result<i64, EngineError> {
        self.read_stamps(c, merchant_id, &[purchase]).await?;
        let key = (
            purchase.0.to_owned(),
            purchase.1.to_owned(),
            card_id.to_owned(),
        );
        Ok(self.stamps.get(&key).copied().unwrap_or(0))
    }

    /// Stamps the member got on a card from their other purchases of that business day,
    /// with what this context stamped so far written first.
    pub(crate) async fn stamps_on_day(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
        member_id: &str,
        card_id: &str,
        day: &str,
        except: (&str, &str),
    ) -> Result<i64, EngineError> {
        self.write_stamps(c, merchant_id).await?;
        Ok(store::stamps_on_day(c, merchant_id, member_id, card_id, day, except).await?)
    }

    /// Queues a purchase's stamps on a card.
    pub(crate) fn put_stamps(&mut self, row: store::StampRow) {
        let key = (
            row.connection_id.clone(),
            row.sale_external_id.clone(),
            row.card_id.clone(),
        );
        self.stamps.insert(key.clone(), row.stamps);
        self.stamps_out.insert(key, row);
    }

    /// A member's progress on a card (state JSON), if any. The member must have been read.
    pub(crate) fn card_state(&self, member_id: &str, card_id: &str) -> Option<&str> {
        self.card_states
            .get(&(member_id.to_owned(), card_id.to_owned()))
            .map(String::as_str)
    }

    /// Queues a member's progress on a card.
    pub(crate) fn put_card_state(&mut self, member_id: &str, card_id: &str, state: String) {
        let key = (member_id.to_owned(), card_id.to_owned());
        self.card_states.insert(key.clone(), state);
        self.cards_out.insert(key);
    }

    async fn write_stamps(&mut self, c: &mut Conn, merchant_id: &str) -> Result<(), EngineError> {
        let rows: Vec<store::StampRow> =
            std::mem::take(&mut self.stamps_out).into_values().collect();
        Ok(store::put_stamps(c, merchant_id, &rows, self.now).await?)
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

    /// Writes what the context changed, checks the tiers of the members whose purchases
    /// changed, and appends the queued notifications, in the caller's transaction.
    pub(crate) async fn flush(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
    ) -> Result<(), EngineError> {
        let now = self.now;
        let balances: Vec<(&str, i64)> = self
            .balances
            .iter()
            .filter_map(|id| Some((id.as_str(), self.members.get(id)?.balance_minor)))
            .collect();
        store::set_balances(c, merchant_id, &balances, now).await?;
        self.balances.clear();
        store::insert_entries(c, merchant_id, &std::mem::take(&mut self.ledger)).await?;
        self.write_stamps(c, merchant_id).await?;
        let cards: Vec<(&str, &str, &str)> = self
            .cards_out
            .iter()
            .filter_map(|(m, card)| {
                let state = self.card_states.get(&(m.clone(), card.clone()))?;
                Some((m.as_str(), card.as_str(), state.as_str()))
            })
            .collect();
        store::put_member_cards(c, merchant_id, &cards, now).await?;
        self.cards_out.clear();
        let (refresh, figures) = self.place_purchases(c, merchant_id).await?;
        let purchases: Vec<PurchaseRow> = std::mem::take(&mut self.purchases_out)
            .into_values()
            .collect();
        store::put_purchases(c, merchant_id, &purchases, now).await?;
        let refresh: Vec<&str> = refresh.iter().map(String::as_str).collect();
        let figures: Vec<&str> = figures.iter().map(String::as_str).collect();
        store::refresh_members_figures(c, merchant_id, &figures).await?;
        store::refresh_members_purchases(c, merchant_id, &refresh).await?;
        let tiered: Vec<(MemberRow, bool)> = std::mem::take(&mut self.tiered)
            .into_iter()
            .filter_map(|(id, quiet)| Some((self.members.get(&id)?.clone(), quiet)))
            .collect();
        crate::tiering::after_purchases(c, merchant_id, self, &tiered).await?;
        let events = std::mem::take(&mut self.events);
        Ok(tillbridge_store::events::append_many(c, merchant_id, &events, now).await?)
    }

    /// Places the purchases that start counting for their member after all the member's
    /// counting purchases so far (a sale synced in order: the common case) by setting their
    /// previous dates, before they are written. Returns the members whose purchases need
    /// [`store::refresh_members_purchases`] (a counting purchase moved or stopped counting, or
    /// one starts counting before another), and the other members whose lifetime figures
    /// changed ([`store::refresh_members_figures`]).
    async fn place_purchases(
        &mut self,
        c: &mut Conn,
        merchant_id: &str,
    ) -> Result<(BTreeSet<String>, BTreeSet<String>), EngineError> {
        let mut refresh = BTreeSet::new();
        let mut figures = BTreeSet::new();
        let mut appended: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (key, before) in std::mem::take(&mut self.moved) {
            let Some(after) = self.purchases_out.get(&key) else {
                continue;
            };
            let Some(member) = after.member_id.clone() else {
                continue;
            };
            let counts = after.sale_date.is_some() && after.net_eligible_minor > 0;
            let (counted, same_place) = match &before {
                Some((m, date, closed_at, net)) => (
                    m.as_ref() == Some(&member) && date.is_some() && *net > 0,
                    *date == after.sale_date && *closed_at == after.closed_at,
                ),
                None => (false, false),
            };
            match (counted, counts) {
                (false, true) => appended.entry(member.clone()).or_default().push(key),
                (false, false) => {}
                (true, true) if same_place => {}
                (true, _) => {
                    refresh.insert(member.clone());
                }
            }
            figures.insert(member);
        }
        appended.retain(|m, _| !refresh.contains(m));
        let ids: Vec<&str> = appended.keys().map(String::as_str).collect();
        let last = store::last_counting_purchases(c, merchant_id, &ids).await?;
        for (member, mut keys) in appended {
            let place = |k: &(String, String)| self.purchases_out.get(k).map(place_of);
            keys.sort_by_key(place);
            let last = last.get(&member);
            if last.is_some_and(|(l, _)| keys.first().and_then(place).as_ref() <= Some(l)) {
                refresh.insert(member);
                continue;
            }
            // The dates of the member's last two counting purchases, the later second.
            let mut dates = match last {
                Some((place, before)) => [before.clone(), Some(place.0.clone())],
                None => [None, None],
            };
            for key in keys {
                if let Some(p) = self.purchases_out.get_mut(&key) {
                    p.prev_date = dates[1].clone();
                    p.prev2_date = dates[0].take();
                    dates = [dates[1].take(), p.sale_date.clone()];
                }
            }
        }
        figures.retain(|m| !refresh.contains(m));
        Ok((refresh, figures))
    }
}

/// Where a counting purchase stands among its member's ([`store::PurchasePlace`]).
fn place_of(p: &PurchaseRow) -> store::PurchasePlace {
    (
        p.sale_date.clone().unwrap_or_default(),
        p.closed_at,
        p.connection_id.clone(),
        p.sale_external_id.clone(),
    )
}

/// The keys not in `known`, sorted, each once.
fn unread<'a, V>(keys: &[&'a str], known: &HashMap<String, V>) -> Vec<&'a str> {
    let mut out: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !known.contains_key(*k))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// These purchases' sales by connection, leaving out the ones `known` already.
fn by_connection<'a>(
    purchases: &[(&'a str, &'a str)],
    known: impl Fn(&(String, String)) -> bool,
) -> BTreeMap<&'a str, Vec<&'a str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for &(connection_id, sale) in purchases {
        if seen.insert((connection_id, sale))
            && !known(&(connection_id.to_owned(), sale.to_owned()))
        {
            out.entry(connection_id).or_default().push(sale);
        }
    }
    out
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
    let key = (connection_id.to_owned(), sale_external_id.to_owned());
    let existing = match ctx.purchases_out.get(&key) {
        Some(written) => Some(written.clone()),
        None => {
            ctx.read_purchases(c, merchant_id, &[(connection_id, sale_external_id)])
                .await?;
            ctx.purchases.get(&key).cloned().flatten()
        }
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
        prev_date: None,
        prev2_date: None,
    });
    purchase.member_id = member_id.clone();
    purchase.customer_email = email;
    purchase.sale_date = sale.order.business_date.map(|d| d.to_string());
    purchase.closed_at = sale.order.closed_at.timestamp_millis();
    purchase.net_eligible_minor = net;
    if let Some(member_id) = &member_id {
        // The rule is fixed when the purchase first earns.
        if purchase.rule.is_none() {
            purchase.rule = ctx
                .program
                .earning
                .as_ref()
                .map(|r| serde_json::to_string(r).unwrap_or_default());
        }
        let member = ctx.member(c, merchant_id, member_id).await?;
        if let Some(rule) = purchase.rule.as_deref() {
            let rule: EarningRule = serde_json::from_str(rule).map_err(|e| {
                EngineError::Invalid(format!(
                    "a purchase's stored earning rule is unreadable: {e}"
                ))
            })?;
            let entry = post(&member, &mut purchase, &rule, ctx, sale)?;
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
    if ordered_before.as_ref() != Some(&ordering_fields(&purchase)) {
        // The first change of the context's is measured against the stored row.
        ctx.moved.entry(key.clone()).or_insert(ordered_before);
    }
    if let Some(member_id) = &member_id {
        if ctx.program.tiers.is_some() {
            let all_quiet = ctx.tiered.entry(member_id.clone()).or_insert(true);
            *all_quiet &= quiet;
        }
    }
    ctx.purchases_out.insert(
        (
            purchase.connection_id.clone(),
            purchase.sale_external_id.clone(),
        ),
        purchase,
    );
    Ok(())
}

/// The fields of a purchase that place it among its member's purchases and in their lifetime
/// figures ([`store::refresh_member_purchases`]): member, business date, closing instant, net.
type OrderingFields = (Option<String>, Option<String>, i64, i64);

fn ordering_fields(p: &PurchaseRow) -> OrderingFields {
    (
        p.member_id.clone(),
        p.sale_date.clone(),
        p.closed_at,
        p.net_eligible_minor,
    )
}

/// Posts the difference between what the purchase is entitled to under `rule` and what it
/// already accounted for; the ledger entry, if anything changed.
fn post(
    member: &MemberRow,
    purchase: &mut PurchaseRow,
    rule: &EarningRule,
    ctx: &mut Ctx,
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
    ctx.post_entry(&mut entry)?;
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

    /// Only orders change purchases; the module's own notifications are not read back.
    fn event_types(&self) -> Option<&'static [&'static str]> {
        Some(&["order.created", "order.updated"])
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
            let mut candidates: Vec<(&EventRow, &str, &str, bool)> = Vec::new();
            for e in events {
                let Some((connection_id, sale, is_sale)) = purchase_of(e) else {
                    continue;
                };
                if seen.insert((connection_id, sale)) {
                    candidates.push((e, connection_id, sale, is_sale));
                }
            }
            // What deciding which to apply reads, for all of them at once.
            let keys: Vec<(&str, &str)> = candidates.iter().map(|(_, c, s, _)| (*c, *s)).collect();
            ctx.read_purchases(tx, merchant_id, &keys).await?;
            let emails: Vec<&str> = candidates
                .iter()
                .filter_map(|(e, ..)| e.payload.get("customer_email").and_then(|v| v.as_str()))
                .collect();
            ctx.read_emails(tx, merchant_id, &emails).await?;
            let mut targets: Vec<(&str, &str, bool)> = Vec::new();
            for (e, connection_id, sale, is_sale) in candidates {
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
                    let held = ctx
                        .purchases
                        .get(&(connection_id.to_owned(), sale.to_owned()))
                        .is_some_and(|p| p.as_ref().is_some_and(|p| p.member_id.is_some()));
                    if !has_member && closed_at < cutoff && !held {
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
