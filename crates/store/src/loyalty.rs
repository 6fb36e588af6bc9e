//! Loyalty: program configuration, members, purchases and the credit ledger. Every query is
//! scoped by merchant.

use crate::{Conn, Result, StoreError};
use chrono::{Days, NaiveDate};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use tillbridge_model::business_day::Period;

pub async fn program(c: &mut Conn, merchant_id: &str) -> Result<Option<serde_json::Value>> {
    let raw: Option<String> =
        sqlx::query_scalar("SELECT config FROM loyalty_programs WHERE merchant_id = $1")
            .bind(merchant_id)
            .fetch_optional(c)
            .await?;
    raw.map(|r| {
        serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(format!("loyalty program: {e}")))
    })
    .transpose()
}

pub async fn put_program(
    c: &mut Conn,
    merchant_id: &str,
    config: &serde_json::Value,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO loyalty_programs (merchant_id, config, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (merchant_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
    )
    .bind(merchant_id)
    .bind(config.to_string())
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MemberRow {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub joined_at: i64,
    pub balance_minor: i64,
    pub tier_id: Option<String>,
    /// The business date the current tier was reached.
    pub tier_since: Option<String>,
    /// A tier set by staff that the member never drops below.
    pub tier_floor: Option<String>,
    /// The RFM segment from the last run (`champions`, …, `no_purchases`).
    pub segment: Option<String>,
    /// The R, F and M scores from the last run, as `"r,f,m"`.
    pub rfm_scores: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const MEMBER_COLUMNS: &str =
    "id, email, name, phone, joined_at, balance_minor, tier_id, tier_since, tier_floor, segment, rfm_scores, created_at, updated_at";

fn member_row(r: &sqlx::any::AnyRow) -> Result<MemberRow> {
    Ok(MemberRow {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        phone: r.try_get("phone")?,
        joined_at: r.try_get("joined_at")?,
        balance_minor: r.try_get("balance_minor")?,
        tier_id: r.try_get("tier_id")?,
        tier_since: r.try_get("tier_since")?,
        tier_floor: r.try_get("tier_floor")?,
        segment: r.try_get("segment")?,
        rfm_scores: r.try_get("rfm_scores")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_member(c: &mut Conn, merchant_id: &str, m: &MemberRow) -> Result<()> {
    if member_by_email(&mut *c, merchant_id, &m.email)
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict(format!(
            "a member with e-mail `{}`",
            m.email
        )));
    }
    sqlx::query("INSERT INTO members (merchant_id, id, email, name, phone, joined_at, balance_minor, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(merchant_id)
        .bind(&m.id)
        .bind(&m.email)
        .bind(&m.name)
        .bind(&m.phone)
        .bind(m.joined_at)
        .bind(m.balance_minor)
        .bind(m.created_at)
        .bind(m.updated_at)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn member(c: &mut Conn, merchant_id: &str, id: &str) -> Result<Option<MemberRow>> {
    let row = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE merchant_id = $1 AND id = $2"
    ))
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(member_row).transpose()
}

/// [`member`] for many at once, by id. On PostgreSQL the rows stay locked until the
/// transaction ends: the caller rewrites their balances ([`set_balances`]), and a manual
/// credit or a merge of the same member waits instead of being overwritten.
pub async fn members_by_ids(
    c: &mut Conn,
    merchant_id: &str,
    ids: &[&str],
) -> Result<HashMap<String, MemberRow>> {
    let lock = if c.backend_name() == "PostgreSQL" {
        " ORDER BY id FOR UPDATE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE merchant_id = $1 AND id IN ({{in}}){lock}"
    );
    let rows = crate::fetch_in(c, &sql, &[merchant_id], ids, 500).await?;
    rows.iter()
        .map(|r| member_row(r).map(|m| (m.id.clone(), m)))
        .collect()
}

/// The ids of the members with these (normalised) e-mails, by e-mail.
pub async fn member_ids_by_emails(
    c: &mut Conn,
    merchant_id: &str,
    emails: &[&str],
) -> Result<HashMap<String, String>> {
    let sql = "SELECT id, email FROM members WHERE merchant_id = $1 AND email IN ({in})";
    let rows = crate::fetch_in(c, sql, &[merchant_id], emails, 500).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("email")?, r.try_get("id")?)))
        .collect()
}

/// Sets these members' balances (as computed by the caller under the lock of
/// [`members_by_ids`]).
pub async fn set_balances(
    c: &mut Conn,
    merchant_id: &str,
    balances: &[(&str, i64)],
    now: i64,
) -> Result<()> {
    for chunk in balances.chunks(500) {
        // Both backends name a `VALUES` list's columns `column1`, `column2`.
        let values = crate::placeholders(chunk.len(), "", 2, 2);
        let last = 2 + 2 * chunk.len();
        let sql = format!(
            "UPDATE members SET balance_minor = v.column2, updated_at = $1 FROM (VALUES {values}) AS v \
             WHERE members.merchant_id = ${last} AND members.id = v.column1"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql).persistent(chunk.len() == 500).bind(now);
        for (id, balance) in chunk {
            q = q.bind(*id).bind(*balance);
        }
        q.bind(merchant_id).execute(&mut *c).await?;
    }
    Ok(())
}

pub async fn member_by_email(
    c: &mut Conn,
    merchant_id: &str,
    email: &str,
) -> Result<Option<MemberRow>> {
    let row = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE merchant_id = $1 AND email = $2"
    ))
    .bind(merchant_id)
    .bind(email)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(member_row).transpose()
}

/// Members ordered by id after `after`, optionally whose e-mail or name contains `search`,
/// optionally in one segment.
pub async fn list_members(
    c: &mut Conn,
    merchant_id: &str,
    search: Option<&str>,
    segment: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberRow>> {
    let pattern = search.map(|s| format!("%{}%", s.to_lowercase()));
    let rows = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE merchant_id = $1 AND ($2 IS NULL OR email LIKE $2 OR LOWER(COALESCE(name, '')) LIKE $2) \
         AND ($3 IS NULL OR id > $3) AND ($5 IS NULL OR segment = $5) ORDER BY id LIMIT $4"
    ))
    .bind(merchant_id)
    .bind(pattern)
    .bind(after)
    .bind(limit)
    .bind(segment)
    .fetch_all(c)
    .await?;
    rows.iter().map(member_row).collect()
}

pub async fn update_member(c: &mut Conn, merchant_id: &str, m: &MemberRow) -> Result<()> {
    if let Some(other) = member_by_email(&mut *c, merchant_id, &m.email)
        .await?
        .filter(|o| o.id != m.id)
    {
        return Err(StoreError::Conflict(format!(
            "member `{}` with e-mail `{}`",
            other.id, m.email
        )));
    }
    sqlx::query("UPDATE members SET email = $3, name = $4, phone = $5, updated_at = $6 WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(&m.id)
        .bind(&m.email)
        .bind(&m.name)
        .bind(&m.phone)
        .bind(m.updated_at)
        .execute(c)
        .await?;
    Ok(())
}

/// A sale with its refunds and voids, as loyalty accounts for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurchaseRow {
    pub connection_id: String,
    pub sale_external_id: String,
    pub member_id: Option<String>,
    pub customer_email: Option<String>,
    pub sale_date: Option<String>,
    pub closed_at: i64,
    /// The earning rule (JSON) the purchase first earned under.
    pub rule: Option<String>,
    pub net_eligible_minor: i64,
    /// Credit posted (and written off) for it so far.
    pub accounted_minor: i64,
    /// The business dates of the member's two counting purchases before this one, while it
    /// counts (see [`COUNTING`]); [`refresh_member_purchases`] keeps them.
    pub prev_date: Option<String>,
    pub prev2_date: Option<String>,
}

const PURCHASE_COLUMNS: &str = "connection_id, sale_external_id, member_id, customer_email, sale_date, closed_at, rule, net_eligible_minor, accounted_minor, prev_date, prev2_date";

fn purchase_from(r: &sqlx::any::AnyRow) -> Result<PurchaseRow> {
    Ok(PurchaseRow {
        connection_id: r.try_get("connection_id")?,
        sale_external_id: r.try_get("sale_external_id")?,
        member_id: r.try_get("member_id")?,
        customer_email: r.try_get("customer_email")?,
        sale_date: r.try_get("sale_date")?,
        closed_at: r.try_get("closed_at")?,
        rule: r.try_get("rule")?,
        net_eligible_minor: r.try_get("net_eligible_minor")?,
        accounted_minor: r.try_get("accounted_minor")?,
        prev_date: r.try_get("prev_date")?,
        prev2_date: r.try_get("prev2_date")?,
    })
}

/// The rows of these purchases (sales of one connection), by sale id.
pub async fn purchase_rows(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    sale_external_ids: &[&str],
) -> Result<std::collections::HashMap<String, PurchaseRow>> {
    let sql = format!("SELECT {PURCHASE_COLUMNS} FROM loyalty_purchases WHERE merchant_id = $1 AND connection_id = $2 AND sale_external_id IN ({{in}})");
    let rows = crate::fetch_in(
        c,
        &sql,
        &[merchant_id, connection_id],
        sale_external_ids,
        500,
    )
    .await?;
    rows.iter()
        .map(|r| purchase_from(r).map(|p| (p.sale_external_id.clone(), p)))
        .collect()
}

pub async fn put_purchase(
    c: &mut Conn,
    merchant_id: &str,
    p: &PurchaseRow,
    now: i64,
) -> Result<()> {
    put_purchases(c, merchant_id, std::slice::from_ref(p), now).await
}

/// Writes these purchases (each at most once), 500 to a statement.
pub async fn put_purchases(
    c: &mut Conn,
    merchant_id: &str,
    rows: &[PurchaseRow],
    now: i64,
) -> Result<()> {
    for chunk in rows.chunks(500) {
        let values = crate::placeholders(chunk.len(), "", 13, 1);
        let sql = format!(
            "INSERT INTO loyalty_purchases (merchant_id, updated_at, connection_id, sale_external_id, member_id, customer_email, sale_date, closed_at, rule, net_eligible_minor, accounted_minor, prev_date, prev2_date) \
             VALUES {values} ON CONFLICT (merchant_id, connection_id, sale_external_id) DO UPDATE SET \
             member_id = excluded.member_id, customer_email = excluded.customer_email, sale_date = excluded.sale_date, closed_at = excluded.closed_at, rule = excluded.rule, \
             net_eligible_minor = excluded.net_eligible_minor, accounted_minor = excluded.accounted_minor, prev_date = excluded.prev_date, prev2_date = excluded.prev2_date, \
             updated_at = excluded.updated_at"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql).persistent(chunk.len() == 500);
        for p in chunk {
            q = q
                .bind(merchant_id)
                .bind(now)
                .bind(&p.connection_id)
                .bind(&p.sale_external_id)
                .bind(&p.member_id)
                .bind(&p.customer_email)
                .bind(&p.sale_date)
                .bind(p.closed_at)
                .bind(&p.rule)
                .bind(p.net_eligible_minor)
                .bind(p.accounted_minor)
                .bind(&p.prev_date)
                .bind(&p.prev2_date);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// What each of these members spent (net eligible) on purchases dated from `from` (when
/// given) to `to`, both included (`YYYY-MM-DD`); a member without dated purchases is absent.
pub async fn members_spend(
    c: &mut Conn,
    merchant_id: &str,
    member_ids: &[&str],
    from: Option<&str>,
    to: &str,
) -> Result<HashMap<String, i64>> {
    // Business dates are `YYYY-MM-DD`, so they compare as text; no date is before year 0. The
    // window is a condition on the sum, not on the rows, so that PostgreSQL reads the members'
    // purchases by member rather than the merchant's by date.
    let from = from.unwrap_or("0000-01-01");
    let sql = "SELECT member_id, CAST(SUM(CASE WHEN sale_date >= $1 AND sale_date <= $2 \
               THEN net_eligible_minor ELSE 0 END) AS BIGINT) AS spend FROM loyalty_purchases \
               WHERE merchant_id = $3 AND member_id IN ({in}) AND sale_date IS NOT NULL \
               GROUP BY member_id";
    let mut out = HashMap::new();
    for r in crate::fetch_in(c, sql, &[from, to, merchant_id], member_ids, 500).await? {
        out.insert(r.try_get("member_id")?, r.try_get("spend")?);
    }
    Ok(out)
}

/// Purchases with this e-mail and no member, closed at or after `since`: what a new member claims.
pub async fn unattributed_purchases(
    c: &mut Conn,
    merchant_id: &str,
    email: &str,
    since: i64,
) -> Result<Vec<PurchaseRow>> {
    let rows = sqlx::query(&format!("SELECT {PURCHASE_COLUMNS} FROM loyalty_purchases WHERE merchant_id = $1 AND customer_email = $2 AND member_id IS NULL AND closed_at >= $3 ORDER BY closed_at, connection_id, sale_external_id"))
        .bind(merchant_id)
        .bind(email)
        .bind(since)
        .fetch_all(c)
        .await?;
    rows.iter().map(purchase_from).collect()
}

pub async fn member_purchases(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
) -> Result<Vec<PurchaseRow>> {
    let rows = sqlx::query(&format!("SELECT {PURCHASE_COLUMNS} FROM loyalty_purchases WHERE merchant_id = $1 AND member_id = $2 ORDER BY closed_at, connection_id, sale_external_id"))
        .bind(merchant_id)
        .bind(member_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(purchase_from).collect()
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LedgerRow {
    pub id: String,
    pub seq: i64,
    pub member_id: String,
    /// `earned`, `reversed`, `manual`.
    pub kind: String,
    pub amount_minor: i64,
    pub written_off_minor: i64,
    pub balance_after_minor: i64,
    pub connection_id: Option<String>,
    pub sale_external_id: Option<String>,
    pub order_id: Option<String>,
    pub order_version: Option<i64>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: i64,
}

const LEDGER_COLUMNS: &str = "id, seq, member_id, kind, amount_minor, written_off_minor, balance_after_minor, connection_id, sale_external_id, order_id, order_version, reason, message, idempotency_key, created_at";

fn ledger_from(r: &sqlx::any::AnyRow) -> Result<LedgerRow> {
    Ok(LedgerRow {
        id: r.try_get("id")?,
        seq: r.try_get("seq")?,
        member_id: r.try_get("member_id")?,
        kind: r.try_get("kind")?,
        amount_minor: r.try_get("amount_minor")?,
        written_off_minor: r.try_get("written_off_minor")?,
        balance_after_minor: r.try_get("balance_after_minor")?,
        connection_id: r.try_get("connection_id")?,
        sale_external_id: r.try_get("sale_external_id")?,
        order_id: r.try_get("order_id")?,
        order_version: r.try_get("order_version")?,
        reason: r.try_get("reason")?,
        message: r.try_get("message")?,
        idempotency_key: r.try_get("idempotency_key")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Appends a ledger entry and moves the member's balance by its amount, in the caller's
/// transaction. The balance update comes first: on PostgreSQL it locks the member row, which
/// serialises the entry numbers. Fills in `seq` and `balance_after_minor`.
pub async fn post_entry(c: &mut Conn, merchant_id: &str, e: &mut LedgerRow) -> Result<()> {
    let balance: i64 = sqlx::query_scalar("UPDATE members SET balance_minor = balance_minor + $3, updated_at = $4 WHERE merchant_id = $1 AND id = $2 RETURNING balance_minor")
        .bind(merchant_id)
        .bind(&e.member_id)
        .bind(e.amount_minor)
        .bind(e.created_at)
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("member `{}`", e.member_id)))?;
    let seq: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM credit_ledger WHERE merchant_id = $1 AND member_id = $2",
    )
    .bind(merchant_id)
    .bind(&e.member_id)
    .fetch_one(&mut *c)
    .await?;
    e.seq = seq;
    e.balance_after_minor = balance;
    insert_entries(c, merchant_id, std::slice::from_ref(e)).await
}

/// The next ledger entry number of each of these members (1 for a member without entries).
/// Read under the lock of [`members_by_ids`] on PostgreSQL, like [`post_entry`]'s.
pub async fn next_entry_seqs(
    c: &mut Conn,
    merchant_id: &str,
    member_ids: &[&str],
) -> Result<HashMap<String, i64>> {
    let mut out: HashMap<String, i64> = member_ids.iter().map(|id| ((*id).to_owned(), 1)).collect();
    let sql = "SELECT member_id, MAX(seq) AS last FROM credit_ledger WHERE merchant_id = $1 AND member_id IN ({in}) GROUP BY member_id";
    for r in crate::fetch_in(c, sql, &[merchant_id], member_ids, 500).await? {
        let last: i64 = r.try_get("last")?;
        out.insert(r.try_get("member_id")?, last + 1);
    }
    Ok(out)
}

/// Appends these ledger entries as they are (numbers and balances set by the caller, who
/// writes the members' balances with [`set_balances`]), 500 to a statement.
pub async fn insert_entries(c: &mut Conn, merchant_id: &str, entries: &[LedgerRow]) -> Result<()> {
    for chunk in entries.chunks(500) {
        let values = crate::placeholders(chunk.len(), "", 16, 1);
        let sql =
            format!("INSERT INTO credit_ledger (merchant_id, {LEDGER_COLUMNS}) VALUES {values}");
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql).persistent(chunk.len() == 500);
        for e in chunk {
            q = q
                .bind(merchant_id)
                .bind(&e.id)
                .bind(e.seq)
                .bind(&e.member_id)
                .bind(&e.kind)
                .bind(e.amount_minor)
                .bind(e.written_off_minor)
                .bind(e.balance_after_minor)
                .bind(&e.connection_id)
                .bind(&e.sale_external_id)
                .bind(&e.order_id)
                .bind(e.order_version)
                .bind(&e.reason)
                .bind(&e.message)
                .bind(&e.idempotency_key)
                .bind(e.created_at);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

pub async fn entry_by_idempotency_key(
    c: &mut Conn,
    merchant_id: &str,
    key: &str,
) -> Result<Option<LedgerRow>> {
    let row = sqlx::query(&format!(
        "SELECT {LEDGER_COLUMNS} FROM credit_ledger WHERE merchant_id = $1 AND idempotency_key = $2"
    ))
    .bind(merchant_id)
    .bind(key)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(ledger_from).transpose()
}

/// A member's ledger, newest first.
pub async fn ledger_of(c: &mut Conn, merchant_id: &str, member_id: &str) -> Result<Vec<LedgerRow>> {
    let rows = sqlx::query(&format!("SELECT {LEDGER_COLUMNS} FROM credit_ledger WHERE merchant_id = $1 AND member_id = $2 ORDER BY seq DESC"))
        .bind(merchant_id)
        .bind(member_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(ledger_from).collect()
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CardRow {
    pub id: String,
    pub name: String,
    pub reward: String,
    /// The card's rule as JSON (stamps required, categories, mode, minimum, caps).
    pub rule: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

fn card_from(r: &sqlx::any::AnyRow) -> Result<CardRow> {
    Ok(CardRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        reward: r.try_get("reward")?,
        rule: r.try_get("rule")?,
        active: r.try_get::<i64, _>("active")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn put_card(c: &mut Conn, merchant_id: &str, card: &CardRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO punch_cards (merchant_id, id, name, reward, rule, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (merchant_id, id) DO UPDATE SET name = excluded.name, reward = excluded.reward, rule = excluded.rule, active = excluded.active, updated_at = excluded.updated_at",
    )
    .bind(merchant_id)
    .bind(&card.id)
    .bind(&card.name)
    .bind(&card.reward)
    .bind(&card.rule)
    .bind(i64::from(card.active))
    .bind(card.created_at)
    .bind(card.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn card(c: &mut Conn, merchant_id: &str, id: &str) -> Result<Option<CardRow>> {
    let row = sqlx::query("SELECT id, name, reward, rule, active, created_at, updated_at FROM punch_cards WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(card_from).transpose()
}

pub async fn cards(c: &mut Conn, merchant_id: &str, active_only: bool) -> Result<Vec<CardRow>> {
    let rows = sqlx::query("SELECT id, name, reward, rule, active, created_at, updated_at FROM punch_cards WHERE merchant_id = $1 AND ($2 = 0 OR active = 1) ORDER BY created_at, id")
        .bind(merchant_id)
        .bind(i64::from(active_only))
        .fetch_all(c)
        .await?;
    rows.iter().map(card_from).collect()
}

/// A member's progress on a card (JSON), if they have any. Every caller rewrites it, so on
/// PostgreSQL the row is locked until the transaction ends: a reward redeemed while a purchase
/// stamps the same card waits instead of being overwritten (SQLite's write transactions are
/// serialised already).
pub async fn member_card(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
    card_id: &str,
) -> Result<Option<String>> {
    let lock = if c.backend_name() == "PostgreSQL" {
        " FOR UPDATE"
    } else {
        ""
    };
    Ok(sqlx::query_scalar(&format!(
        "SELECT state FROM member_cards WHERE merchant_id = $1 AND member_id = $2 AND card_id = $3{lock}"
    ))
    .bind(merchant_id)
    .bind(member_id)
    .bind(card_id)
    .fetch_optional(c)
    .await?)
}

pub async fn put_member_card(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
    card_id: &str,
    state: &str,
    now: i64,
) -> Result<()> {
    put_member_cards(c, merchant_id, &[(member_id, card_id, state)], now).await
}

/// Writes these (member, card, state JSON) rows, each at most once, 500 to a statement.
pub async fn put_member_cards(
    c: &mut Conn,
    merchant_id: &str,
    rows: &[(&str, &str, &str)],
    now: i64,
) -> Result<()> {
    for chunk in rows.chunks(500) {
        let values = crate::placeholders(chunk.len(), "", 5, 1);
        let sql = format!(
            "INSERT INTO member_cards (merchant_id, updated_at, member_id, card_id, state) VALUES {values} \
             ON CONFLICT (merchant_id, member_id, card_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql).persistent(chunk.len() == 500);
        for (member_id, card_id, state) in chunk {
            q = q
                .bind(merchant_id)
                .bind(now)
                .bind(*member_id)
                .bind(*card_id)
                .bind(*state);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// [`member_card`] for every card of these members: state JSON by (member, card), locked on
/// PostgreSQL likewise.
pub async fn members_cards(
    c: &mut Conn,
    merchant_id: &str,
    member_ids: &[&str],
) -> Result<HashMap<(String, String), String>> {
    let lock = if c.backend_name() == "PostgreSQL" {
        " ORDER BY member_id, card_id FOR UPDATE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT member_id, card_id, state FROM member_cards WHERE merchant_id = $1 AND member_id IN ({{in}}){lock}"
    );
    let rows = crate::fetch_in(c, &sql, &[merchant_id], member_ids, 500).await?;
    rows.iter()
        .map(|r| {
            Ok((
                (r.try_get("member_id")?, r.try_get("card_id")?),
                r.try_get("state")?,
            ))
        })
        .collect()
}

/// Every card a member has progress on: (card id, state JSON).
pub async fn member_cards(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT card_id, state FROM member_cards WHERE merchant_id = $1 AND member_id = $2 ORDER BY card_id")
        .bind(merchant_id)
        .bind(member_id)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("card_id")?, r.try_get("state")?)))
        .collect()
}

/// The stamps these purchases (sales of one connection) have given so far: by (sale, card), for the
/// cards they have stamps on.
pub async fn purchases_stamps(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    sale_external_ids: &[&str],
) -> Result<HashMap<(String, String), i64>> {
    let sql = "SELECT sale_external_id, card_id, stamps FROM purchase_stamps \
               WHERE merchant_id = $1 AND connection_id = $2 AND sale_external_id IN ({in})";
    let rows = crate::fetch_in(
        c,
        sql,
        &[merchant_id, connection_id],
        sale_external_ids,
        500,
    )
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                (r.try_get("sale_external_id")?, r.try_get("card_id")?),
                r.try_get("stamps")?,
            ))
        })
        .collect()
}

/// The stamps one purchase has given on one card, as [`put_stamps`] writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StampRow {
    pub connection_id: String,
    pub sale_external_id: String,
    pub card_id: String,
    pub member_id: String,
    pub business_date: Option<String>,
    pub stamps: i64,
}

/// Writes these purchases' stamps (each purchase and card at most once), 500 to a statement.
pub async fn put_stamps(
    c: &mut Conn,
    merchant_id: &str,
    rows: &[StampRow],
    now: i64,
) -> Result<()> {
    for chunk in rows.chunks(500) {
        let values = crate::placeholders(chunk.len(), "", 8, 1);
        let sql = format!(
            "INSERT INTO purchase_stamps (merchant_id, updated_at, connection_id, sale_external_id, card_id, member_id, business_date, stamps) VALUES {values} \
             ON CONFLICT (merchant_id, connection_id, sale_external_id, card_id) DO UPDATE SET member_id = excluded.member_id, business_date = excluded.business_date, stamps = excluded.stamps, updated_at = excluded.updated_at"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql).persistent(chunk.len() == 500);
        for r in chunk {
            q = q
                .bind(merchant_id)
                .bind(now)
                .bind(&r.connection_id)
                .bind(&r.sale_external_id)
                .bind(&r.card_id)
                .bind(&r.member_id)
                .bind(&r.business_date)
                .bind(r.stamps);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// Stamps a member got on a card from other purchases of the same business day (daily cap).
pub async fn stamps_on_day(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
    card_id: &str,
    business_date: &str,
    except: (&str, &str),
) -> Result<i64> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT CAST(COALESCE(SUM(stamps), 0) AS BIGINT) FROM purchase_stamps WHERE merchant_id = $1 AND member_id = $2 AND card_id = $3 AND business_date = $4 \
         AND NOT (connection_id = $5 AND sale_external_id = $6)",
    )
    .bind(merchant_id)
    .bind(member_id)
    .bind(card_id)
    .bind(business_date)
    .bind(except.0)
    .bind(except.1)
    .fetch_one(c)
    .await?)
}

/// Sets a member's tier, the date it was reached and the manual floor.
pub async fn set_member_tier(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
    tier: Option<&str>,
    since: Option<&str>,
    floor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE members SET tier_id = $3, tier_since = $4, tier_floor = $5, updated_at = $6 WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(member_id)
        .bind(tier)
        .bind(since)
        .bind(floor)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// Members holding a tier or a floor (the daily check looks only at these).
pub async fn tiered_members(c: &mut Conn, merchant_id: &str) -> Result<Vec<MemberRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE merchant_id = $1 AND (tier_id IS NOT NULL OR tier_floor IS NOT NULL) ORDER BY id"
    ))
    .bind(merchant_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(member_row).collect()
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TierHistoryRow {
    pub id: String,
    pub member_id: String,
    /// `upgraded`, `downgrade_warning`, `downgraded`, `floor_set`.
    pub event: String,
    pub from_tier: Option<String>,
    pub to_tier: Option<String>,
    pub on_date: String,
    pub created_at: i64,
}

pub async fn add_tier_history(c: &mut Conn, merchant_id: &str, h: &TierHistoryRow) -> Result<()> {
    sqlx::query("INSERT INTO tier_history (merchant_id, id, member_id, event, from_tier, to_tier, on_date, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(merchant_id)
        .bind(&h.id)
        .bind(&h.member_id)
        .bind(&h.event)
        .bind(&h.from_tier)
        .bind(&h.to_tier)
        .bind(&h.on_date)
        .bind(h.created_at)
        .execute(c)
        .await?;
    Ok(())
}

/// Whether this member already has this history event for this date (warnings are daily).
pub async fn has_tier_event(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
    event: &str,
    on_date: &str,
) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tier_history WHERE merchant_id = $1 AND member_id = $2 AND event = $3 AND on_date = $4")
        .bind(merchant_id)
        .bind(member_id)
        .bind(event)
        .bind(on_date)
        .fetch_one(c)
        .await?;
    Ok(n > 0)
}

pub async fn tier_history(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
) -> Result<Vec<TierHistoryRow>> {
    let rows = sqlx::query("SELECT id, member_id, event, from_tier, to_tier, on_date, created_at FROM tier_history WHERE merchant_id = $1 AND member_id = $2 ORDER BY created_at DESC, id DESC")
        .bind(merchant_id)
        .bind(member_id)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TierHistoryRow {
                id: r.try_get("id")?,
                member_id: r.try_get("member_id")?,
                event: r.try_get("event")?,
                from_tier: r.try_get("from_tier")?,
                to_tier: r.try_get("to_tier")?,
                on_date: r.try_get("on_date")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// The last business date the daily tier check ran for the merchant.
pub async fn tiers_checked_on(c: &mut Conn, merchant_id: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT tiers_checked_on FROM loyalty_programs WHERE merchant_id = $1",
    )
    .bind(merchant_id)
    .fetch_optional(c)
    .await?
    .flatten())
}

pub async fn set_tiers_checked_on(c: &mut Conn, merchant_id: &str, day: &str) -> Result<()> {
    sqlx::query("UPDATE loyalty_programs SET tiers_checked_on = $2 WHERE merchant_id = $1")
        .bind(merchant_id)
        .bind(day)
        .execute(c)
        .await?;
    Ok(())
}

/// What a stored RFM run needs of the rules, which the loyalty crate owns: the lookback, the
/// small-merchant thresholds and the segment rules.
#[derive(Clone, Debug)]
pub struct RfmPlan<'a> {
    /// First and last business dates of the lookback; purchases with a positive net (fully
    /// refunded or voided ones do not count) dated `from..=to` qualify.
    pub from: &'a str,
    pub to: &'a str,
    /// With fewer scored members than this, R and F use the fixed thresholds below.
    pub small_below: i64,
    /// Fixed R: (date, score) — a last purchase after the date scores it; first match wins,
    /// else 1.
    pub recency_after: Vec<(String, u8)>,
    /// Fixed F: (orders, score) — more qualifying orders than that score it; first match wins,
    /// else 1.
    pub frequency_above: Vec<(i64, u8)>,
    /// Segments of scored members: (R from, R to, least F + M, segment), first match wins; the
    /// last must match every score.
    pub segments: Vec<(u8, u8, u16, &'a str)>,
    /// The segment of members without a qualifying purchase.
    pub no_purchases: &'a str,
}

/// What a stored RFM run found: members per segment (after it) and moves between segments.
#[derive(Clone, Debug, Default)]
pub struct RfmOutcome {
    pub distribution: Vec<(String, i64)>,
    pub movement: Vec<(Option<String>, String, i64)>,
}

/// A parameter of a statement built at run time.
#[derive(Clone, Debug)]
enum Param {
    Text(String),
    Int(i64),
}

impl From<String> for Param {
    fn from(v: String) -> Param {
        Param::Text(v)
    }
}

impl From<i64> for Param {
    fn from(v: i64) -> Param {
        Param::Int(v)
    }
}

/// Adds `value` to `params` and returns its placeholder.
fn param(params: &mut Vec<Param>, value: impl Into<Param>) -> String {
    params.push(value.into());
    format!("${}", params.len())
}

/// One figure's scores as a `CASE` over `column`: each (threshold, score) scores values above
/// the threshold, first match wins, else 1.
fn score_case<T: Clone + Into<Param>>(
    column: &str,
    thresholds: &[(T, u8)],
    params: &mut Vec<Param>,
) -> String {
    if thresholds.is_empty() {
        return "1".to_owned();
    }
    let mut out = String::from("CASE ");
    for (threshold, score) in thresholds {
        let p = param(params, threshold.clone());
        out += &format!("WHEN {column} > {p} THEN {score} ");
    }
    out + "ELSE 1 END"
}

/// The quintile thresholds of `column` over the scored members in `rfm_figures`, for
/// `score = 1 + floor(5 × (#strictly lower) / n)`: a value scores at least k + 1 exactly when
/// it is above the value at row ⌈k·n/5⌉ of the ascending order (that many rows, and so at
/// least ⌈k·n/5⌉ members, are at or below that value; a value above it has them all strictly
/// below). SQLite reads each row through the figure's index; PostgreSQL, whose index scans of a
/// fresh temporary table visit every row they skip, numbers the rows in one sort.
async fn quintile_thresholds<T>(
    c: &mut Conn,
    column: &str,
    n: i64,
    postgres: bool,
) -> Result<Vec<(T, u8)>>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + Send + Unpin + Clone,
{
    let rows: Vec<(i64, u8)> = (1..=4i64)
        .rev()
        .map(|k| ((k * n + 4) / 5, (k + 1) as u8))
        .collect();
    let mut values: HashMap<i64, T> = HashMap::new();
    if postgres {
        let sql = format!(
            "SELECT rn, v FROM (SELECT {column} AS v, ROW_NUMBER() OVER (ORDER BY {column}) AS rn FROM rfm_figures) x \
             WHERE rn IN ($1, $2, $3, $4)"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql);
        for (row, _) in &rows {
            q = q.bind(*row);
        }
        for r in q.fetch_all(&mut *c).await? {
            values.insert(r.try_get("rn")?, r.try_get("v")?);
        }
    } else {
        let sql =
            format!("SELECT {column} AS v FROM rfm_figures ORDER BY {column} LIMIT 1 OFFSET $1");
        for (row, _) in &rows {
            let r = sqlx::query(&sql).bind(row - 1).fetch_one(&mut *c).await?;
            values.insert(*row, r.try_get("v")?);
        }
    }
    rows.into_iter()
        .map(|(row, score)| {
            values
                .get(&row)
                .cloned()
                .map(|v| (v, score))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("RFM: row {row} of {n} scored members is missing"))
                })
        })
        .collect()
}

/// Scores every member of the merchant, as of `plan.to`, inside the database, and writes the
/// members whose segment or scores changed, with a move into the history of `on_date`.
///
/// Each scored member's figures go into a temporary table (one pass over the lookback's
/// purchases); the quintile thresholds are read from it, four rows per figure through an index;
/// one statement then scores every member from those thresholds and keeps those who changed.
/// Nothing per member crosses to the caller, and nothing sorts the members but the indexes.
///
/// It runs in a transaction so that its temporary tables, dropped at the end, are also gone if
/// it fails half-way (the rollback undoes their creation).
pub async fn score_segments(
    tx: &mut crate::Tx,
    merchant_id: &str,
    on_date: &str,
    plan: &RfmPlan<'_>,
) -> Result<RfmOutcome> {
    let c: &mut Conn = tx;
    let postgres = c.backend_name() == "PostgreSQL";
    for sql in [
        if postgres {
            "CREATE TEMPORARY TABLE rfm_figures (member_id TEXT PRIMARY KEY, last_date TEXT NOT NULL, orders BIGINT NOT NULL, spend BIGINT NOT NULL)"
        } else {
            "CREATE TEMPORARY TABLE rfm_figures (member_id TEXT PRIMARY KEY, last_date TEXT NOT NULL, orders BIGINT NOT NULL, spend BIGINT NOT NULL) WITHOUT ROWID"
        },
        "CREATE TEMPORARY TABLE rfm_changes (member_id TEXT NOT NULL, old_segment TEXT, segment TEXT NOT NULL, scores TEXT)",
    ] {
        sqlx::query(sql).execute(&mut *c).await?;
    }
    sqlx::query(
        "INSERT INTO rfm_figures (member_id, last_date, orders, spend) \
         SELECT member_id, MAX(sale_date), COUNT(*), SUM(net_eligible_minor) FROM loyalty_purchases \
         WHERE merchant_id = $1 AND member_id IS NOT NULL AND net_eligible_minor > 0 AND sale_date >= $2 AND sale_date <= $3 \
         GROUP BY member_id",
    )
    .bind(merchant_id)
    .bind(plan.from)
    .bind(plan.to)
    .execute(&mut *c)
    .await?;
    if postgres {
        sqlx::query("ANALYZE rfm_figures").execute(&mut *c).await?;
    } else {
        for sql in [
            "CREATE INDEX rfm_figures_r ON rfm_figures (last_date)",
            "CREATE INDEX rfm_figures_f ON rfm_figures (orders)",
            "CREATE INDEX rfm_figures_m ON rfm_figures (spend)",
        ] {
            sqlx::query(sql).execute(&mut *c).await?;
        }
    }
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM rfm_figures")
        .fetch_one(&mut *c)
        .await?
        .try_get("n")?;
    let (recency, frequency, monetary) = if n == 0 {
        (Vec::new(), Vec::new(), Vec::new())
    } else if n < plan.small_below {
        (
            plan.recency_after.clone(),
            plan.frequency_above.clone(),
            quintile_thresholds::<i64>(c, "spend", n, postgres).await?,
        )
    } else {
        (
            quintile_thresholds::<String>(c, "last_date", n, postgres).await?,
            quintile_thresholds::<i64>(c, "orders", n, postgres).await?,
            quintile_thresholds::<i64>(c, "spend", n, postgres).await?,
        )
    };
    let mut params = vec![Param::Text(merchant_id.to_owned())];
    let r = score_case("f.last_date", &recency, &mut params);
    let f = score_case("f.orders", &frequency, &mut params);
    let m = score_case("f.spend", &monetary, &mut params);
    let no_purchases = param(&mut params, plan.no_purchases.to_owned());
    let mut segments = String::new();
    for (r_from, r_to, min_fm2, segment) in &plan.segments {
        let p = param(&mut params, (*segment).to_owned());
        segments += &format!(
            "WHEN s.r BETWEEN {r_from} AND {r_to} AND s.f + s.m >= {min_fm2} THEN CAST({p} AS TEXT) "
        );
    }
    let sql = format!(
        "WITH s AS ( \
           SELECT m.id, m.segment AS old_segment, m.rfm_scores AS old_scores, \
             CASE WHEN f.member_id IS NULL THEN NULL ELSE {r} END AS r, \
             CASE WHEN f.member_id IS NULL THEN NULL ELSE {f} END AS f, \
             CASE WHEN f.member_id IS NULL THEN NULL ELSE {m} END AS m \
           FROM members m LEFT JOIN rfm_figures f ON f.member_id = m.id WHERE m.merchant_id = $1 \
         ), t AS ( \
           SELECT id, old_segment, old_scores, \
             CASE WHEN s.r IS NULL THEN CAST({no_purchases} AS TEXT) {segments}END AS segment, \
             CAST(s.r AS TEXT) || ',' || CAST(s.f AS TEXT) || ',' || CAST(s.m AS TEXT) AS scores \
           FROM s \
         ) \
         INSERT INTO rfm_changes (member_id, old_segment, segment, scores) \
         SELECT id, old_segment, segment, scores FROM t \
         WHERE old_segment IS DISTINCT FROM segment OR old_scores IS DISTINCT FROM scores"
    );
    let sql = crate::for_backend(c, &sql);
    let mut q = sqlx::query(&sql);
    for p in params {
        q = match p {
            Param::Text(v) => q.bind(v),
            Param::Int(v) => q.bind(v),
        };
    }
    q.execute(&mut *c).await?;
    let movement = sqlx::query(
        "SELECT old_segment, segment, COUNT(*) AS members FROM rfm_changes \
         WHERE old_segment IS DISTINCT FROM segment GROUP BY old_segment, segment",
    )
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("old_segment")?,
            r.try_get("segment")?,
            r.try_get("members")?,
        ))
    })
    .collect::<Result<Vec<_>>>()?;
    sqlx::query(
        "INSERT INTO segment_history (merchant_id, on_date, member_id, from_segment, to_segment) \
         SELECT $1, $2, member_id, old_segment, segment FROM rfm_changes WHERE old_segment IS DISTINCT FROM segment \
         ON CONFLICT (merchant_id, member_id, on_date) DO UPDATE SET to_segment = excluded.to_segment",
    )
    .bind(merchant_id)
    .bind(on_date)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "UPDATE members SET segment = c.segment, rfm_scores = c.scores FROM rfm_changes c \
         WHERE members.merchant_id = $1 AND members.id = c.member_id",
    )
    .bind(merchant_id)
    .execute(&mut *c)
    .await?;
    for sql in ["DROP TABLE rfm_changes", "DROP TABLE rfm_figures"] {
        sqlx::query(sql).execute(&mut *c).await?;
    }
    let distribution = sqlx::query(
        "SELECT segment, COUNT(*) AS members FROM members WHERE merchant_id = $1 AND segment IS NOT NULL GROUP BY segment",
    )
    .bind(merchant_id)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("segment")?, r.try_get("members")?)))
    .collect::<Result<Vec<_>>>()?;
    Ok(RfmOutcome {
        distribution,
        movement,
    })
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SegmentChange {
    pub on_date: String,
    pub from_segment: Option<String>,
    pub to_segment: String,
}

pub async fn segment_history(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
) -> Result<Vec<SegmentChange>> {
    let rows = sqlx::query("SELECT on_date, from_segment, to_segment FROM segment_history WHERE merchant_id = $1 AND member_id = $2 ORDER BY on_date DESC")
        .bind(merchant_id)
        .bind(member_id)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(SegmentChange {
                on_date: r.try_get("on_date")?,
                from_segment: r.try_get("from_segment")?,
                to_segment: r.try_get("to_segment")?,
            })
        })
        .collect()
}

/// One day's RFM run: how many members were in each segment and how many moved between them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RfmRun {
    pub on_date: String,
    pub members: i64,
    pub distribution: serde_json::Value,
    pub movement: serde_json::Value,
    pub computed_at: i64,
}

pub async fn put_rfm_run(c: &mut Conn, merchant_id: &str, run: &RfmRun) -> Result<()> {
    sqlx::query(
        "INSERT INTO rfm_runs (merchant_id, on_date, members, distribution, movement, computed_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (merchant_id, on_date) DO UPDATE SET members = excluded.members, distribution = excluded.distribution, \
         movement = excluded.movement, computed_at = excluded.computed_at",
    )
    .bind(merchant_id)
    .bind(&run.on_date)
    .bind(run.members)
    .bind(run.distribution.to_string())
    .bind(run.movement.to_string())
    .bind(run.computed_at)
    .execute(c)
    .await?;
    Ok(())
}

/// The latest `limit` runs, newest first.
pub async fn rfm_runs(c: &mut Conn, merchant_id: &str, limit: i64) -> Result<Vec<RfmRun>> {
    let rows = sqlx::query("SELECT on_date, members, distribution, movement, computed_at FROM rfm_runs WHERE merchant_id = $1 ORDER BY on_date DESC LIMIT $2")
        .bind(merchant_id)
        .bind(limit)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            let json = |k: &str| -> Result<serde_json::Value> {
                let text: String = r.try_get(k)?;
                Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
            };
            Ok(RfmRun {
                on_date: r.try_get("on_date")?,
                members: r.try_get("members")?,
                distribution: json("distribution")?,
                movement: json("movement")?,
                computed_at: r.try_get("computed_at")?,
            })
        })
        .collect()
}

/// Members' purchases summed for insights: spend (every purchase, refunds included), orders
/// (purchases with a positive net), members who bought (one or more such orders) and members
/// who came back (two or more).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberFigures {
    pub spend_minor: i64,
    pub orders: i64,
    pub buying: i64,
    pub repeat: i64,
}

/// What makes a purchase count toward a member's orders (migration 0019 explains the
/// `prev_date` and `prev2_date` columns it keeps on such purchases).
const COUNTING: &str = "member_id IS NOT NULL AND sale_date IS NOT NULL AND net_eligible_minor > 0";

/// Sets, on each counting purchase of the member, the business dates of their two counting
/// purchases before it, where they changed; and the member's lifetime orders and spend.
/// Call it after writing any of the member's purchases (or moving purchases onto them).
pub async fn refresh_member_purchases(
    c: &mut Conn,
    merchant_id: &str,
    member_id: &str,
) -> Result<()> {
    refresh_purchases(c, merchant_id, Some(&[member_id]), true).await
}

/// [`refresh_member_purchases`] for these members, in two statements per 500 of them.
pub async fn refresh_members_purchases(
    c: &mut Conn,
    merchant_id: &str,
    member_ids: &[&str],
) -> Result<()> {
    for chunk in member_ids.chunks(500) {
        refresh_purchases(c, merchant_id, Some(chunk), true).await?;
    }
    Ok(())
}

/// Only the lifetime figures of these members, for a writer that set their purchases' previous
/// dates itself, in one statement per 500 of them.
pub async fn refresh_members_figures(
    c: &mut Conn,
    merchant_id: &str,
    member_ids: &[&str],
) -> Result<()> {
    for chunk in member_ids.chunks(500) {
        refresh_purchases(c, merchant_id, Some(chunk), false).await?;
    }
    Ok(())
}

/// [`refresh_member_purchases`] for every member of the merchant at once (after a bulk insert).
pub async fn refresh_all_member_purchases(c: &mut Conn, merchant_id: &str) -> Result<()> {
    refresh_purchases(c, merchant_id, None, true).await
}

/// Where a counting purchase stands among its member's: the order of [`refresh_member_purchases`]'s
/// window (business date, closing instant, connection, sale id).
pub type PurchasePlace = (String, i64, String, String);

/// Each member's last counting purchase: its place, and the business date of the counting
/// purchase before it (another of the same day, or its previous date); a member without any
/// is absent.
pub async fn last_counting_purchases(
    c: &mut Conn,
    merchant_id: &str,
    member_ids: &[&str],
) -> Result<HashMap<String, (PurchasePlace, Option<String>)>> {
    // Per member, the last date from the member index alone, then that day's purchases. The
    // CROSS JOIN keeps SQLite to the list of members as the outer loop: left to choose, it
    // walked the purchases and took the maximum once per purchase.
    let mut days: HashMap<String, Vec<(PurchasePlace, Option<String>)>> = HashMap::new();
    for chunk in member_ids.chunks(500) {
        let members: Vec<String> = (0..chunk.len()).map(|i| format!("(${})", i + 2)).collect();
        let sql = format!(
            "SELECT p.member_id, p.sale_date, p.closed_at, p.connection_id, p.sale_external_id, p.prev_date \
             FROM (VALUES {}) AS v CROSS JOIN loyalty_purchases p \
             WHERE p.merchant_id = $1 AND p.member_id = v.column1 AND p.net_eligible_minor > 0 \
               AND p.sale_date = (SELECT MAX(q.sale_date) FROM loyalty_purchases q WHERE q.merchant_id = $1 \
                 AND q.member_id = v.column1 AND q.sale_date IS NOT NULL AND q.net_eligible_minor > 0)",
            members.join(", ")
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql)
            .persistent(crate::keep_prepared(c, chunk.len() == 500))
            .bind(merchant_id);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *c).await? {
            let place = (
                r.try_get("sale_date")?,
                r.try_get("closed_at")?,
                r.try_get("connection_id")?,
                r.try_get("sale_external_id")?,
            );
            days.entry(r.try_get("member_id")?)
                .or_default()
                .push((place, r.try_get("prev_date")?));
        }
    }
    Ok(days
        .into_iter()
        .filter_map(|(member, mut day)| {
            day.sort_by(|a, b| b.0.cmp(&a.0));
            let mut day = day.into_iter();
            let (last, prev) = day.next()?;
            let before = day.next().map_or(prev, |(p, _)| Some(p.0));
            Some((member, (last, before)))
        })
        .collect())
}

/// How many of the merchant's counting purchases hold previous dates, and how many members
/// hold lifetime figures, other than [`refresh_member_purchases`] would set: zero unless a
/// writer forgot it.
pub async fn purchases_out_of_date(c: &mut Conn, merchant_id: &str) -> Result<i64> {
    let of_member = "p.merchant_id = members.merchant_id AND p.member_id = members.id";
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM \
                  (SELECT prev_date, prev2_date, LAG(sale_date, 1) OVER w AS p1, LAG(sale_date, 2) OVER w AS p2 \
                   FROM loyalty_purchases WHERE merchant_id = $1 AND {COUNTING} \
                   WINDOW w AS (PARTITION BY member_id ORDER BY sale_date, closed_at, connection_id, sale_external_id)) s \
                 WHERE s.prev_date IS DISTINCT FROM s.p1 OR s.prev2_date IS DISTINCT FROM s.p2) \
              + (SELECT COUNT(*) FROM members WHERE merchant_id = $1 AND ( \
                   purchase_orders <> (SELECT COUNT(*) FROM loyalty_purchases p \
                     WHERE {of_member} AND p.sale_date IS NOT NULL AND p.net_eligible_minor > 0) \
                   OR purchase_spend_minor <> (SELECT COALESCE(SUM(p.net_eligible_minor), 0) FROM loyalty_purchases p \
                     WHERE {of_member} AND p.sale_date IS NOT NULL))) AS n"
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(merchant_id)
        .fetch_one(&mut *c)
        .await?)
}

/// The purchase dates (when `dates`) and lifetime figures of some members (`member_ids`) or of
/// all of them.
async fn refresh_purchases(
    c: &mut Conn,
    merchant_id: &str,
    member_ids: Option<&[&str]>,
    dates: bool,
) -> Result<()> {
    // `$2…` name the members; without them the statements cover every member of the merchant.
    // The members are named on both sides of the purchases' UPDATE: without them on the updated
    // side, PostgreSQL without statistics scanned all the merchant's purchases and ran the
    // window once per row (up to 160 ms per purchase at 2,000 purchases).
    let list = member_ids.map(|ids| crate::placeholders(ids.len(), "", 1, 2));
    let (purchases, updated, members) = match &list {
        Some(list) => (
            format!(" AND member_id IN ({list})"),
            format!(" AND loyalty_purchases.member_id IN ({list})"),
            format!(" AND id IN ({list})"),
        ),
        None => Default::default(),
    };
    let of_member = "p.merchant_id = members.merchant_id AND p.member_id = members.id";
    let statements = [
        format!(
            "UPDATE loyalty_purchases SET prev_date = s.p1, prev2_date = s.p2 \
             FROM (SELECT connection_id, sale_external_id, LAG(sale_date, 1) OVER w AS p1, LAG(sale_date, 2) OVER w AS p2 \
                   FROM loyalty_purchases WHERE merchant_id = $1{purchases} AND {COUNTING} \
                   WINDOW w AS (PARTITION BY member_id ORDER BY sale_date, closed_at, connection_id, sale_external_id)) s \
             WHERE loyalty_purchases.merchant_id = $1{updated} AND loyalty_purchases.connection_id = s.connection_id \
               AND loyalty_purchases.sale_external_id = s.sale_external_id \
               AND (loyalty_purchases.prev_date IS DISTINCT FROM s.p1 OR loyalty_purchases.prev2_date IS DISTINCT FROM s.p2)"
        ),
        format!(
            "UPDATE members SET \
               purchase_orders = (SELECT COUNT(*) FROM loyalty_purchases p \
                 WHERE {of_member} AND p.sale_date IS NOT NULL AND p.net_eligible_minor > 0), \
               purchase_spend_minor = (SELECT COALESCE(SUM(p.net_eligible_minor), 0) FROM loyalty_purchases p \
                 WHERE {of_member} AND p.sale_date IS NOT NULL) \
             WHERE merchant_id = $1{members}"
        ),
    ];
    let statements = &statements[usize::from(!dates)..];
    if member_ids.is_some() || c.backend_name() != "PostgreSQL" {
        for sql in statements {
            // Kept prepared for one member or a full chunk only (see `crate::keep_prepared`).
            let keep = member_ids
                .is_none_or(|ids| ids.len() == 1 || crate::keep_prepared(c, ids.len() == 500));
            let mut q = sqlx::query(sql).persistent(keep).bind(merchant_id);
            for id in member_ids.unwrap_or_default() {
                q = q.bind(*id);
            }
            q.execute(&mut *c).await?;
        }
        return Ok(());
    }
    // Every member on PostgreSQL: the daily roll-up's trigger stands aside and the merchant's
    // rows are rebuilt after (migration 0020), in one transaction (a savepoint inside the
    // caller's), so the setting ends with it.
    let mut tx = sqlx::Connection::begin(&mut *c).await?;
    sqlx::query("SELECT set_config('tillbridge.loyalty_days', 'rebuilding', true)")
        .execute(&mut *tx)
        .await?;
    for sql in statements {
        sqlx::query(sql).bind(merchant_id).execute(&mut *tx).await?;
    }
    sqlx::query("SELECT loyalty_days_rebuild($1)")
        .bind(merchant_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT set_config('tillbridge.loyalty_days', '', true)")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The members' figures of each `period` (keyed by its first day) that meets the range
/// `from..=to`, counting only the range's dates, and of the whole range. Read from the daily
/// roll-up (migration 0020): a period starting on its own first day sums the day rows' counts
/// for its kind; a first period cut short by `from` and the range count their members among
/// the purchases themselves only where the roll-up cannot tell (the cut period's dates, the
/// purchases after `to`).
pub async fn member_figures_by_period(
    c: &mut Conn,
    merchant_id: &str,
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Vec<(NaiveDate, MemberFigures)>, MemberFigures)> {
    let rows = sqlx::query(
        "SELECT day, spend_minor, purchases, prev_of, prev2_of, new_day, repeat_day, \
           new_week, repeat_week, new_month, repeat_month \
         FROM loyalty_days WHERE merchant_id = $1 AND day >= $2",
    )
    .bind(merchant_id)
    .bind(from.to_string())
    .fetch_all(&mut *c)
    .await?;
    let (new, repeat) = match period {
        Period::Day => ("new_day", "repeat_day"),
        Period::Week => ("new_week", "repeat_week"),
        Period::Month => ("new_month", "repeat_month"),
    };
    let mut periods: BTreeMap<NaiveDate, MemberFigures> = BTreeMap::new();
    let mut range = MemberFigures::default();
    // From `from` on: counting purchases with no previous one since `from`, and with exactly
    // one (their previous date is on or after `from`, the one before that is not).
    let (mut firsts, mut seconds) = (0, 0);
    for r in &rows {
        let purchases: i64 = r.try_get("purchases")?;
        let prev_of: i64 = r.try_get("prev_of")?;
        let prev2_of: i64 = r.try_get("prev2_of")?;
        firsts += purchases - prev_of;
        seconds += prev_of - prev2_of;
        let day: String = r.try_get("day")?;
        let day: NaiveDate = day.parse().map_err(|_| {
            StoreError::Corrupt(format!(
                "loyalty_days holds a day `{day}` that is not a date"
            ))
        })?;
        if day > to {
            continue;
        }
        let spend: i64 = r.try_get("spend_minor")?;
        let p = periods.entry(period.start(day)).or_default();
        p.spend_minor += spend;
        p.orders += purchases;
        p.buying += r.try_get::<i64, _>(new)?;
        p.repeat += r.try_get::<i64, _>(repeat)?;
        range.spend_minor += spend;
        range.orders += purchases;
    }
    let first = period.start(from);
    if first < from {
        if let Some(p) = periods.get_mut(&first) {
            let last = (period.next(first) - Days::new(1)).min(to);
            (p.buying, p.repeat) = firsts_since(c, merchant_id, from, from, Some(last)).await?;
        }
    }
    let (after_firsts, after_seconds) =
        firsts_since(c, merchant_id, from, to + Days::new(1), None).await?;
    range.buying = firsts - after_firsts;
    range.repeat = seconds - after_seconds;
    Ok((periods.into_iter().collect(), range))
}

/// Among the counting purchases dated from `lo` (through `hi`), those that are their member's
/// first since `since`, and those that are the second.
async fn firsts_since(
    c: &mut Conn,
    merchant_id: &str,
    since: NaiveDate,
    lo: NaiveDate,
    hi: Option<NaiveDate>,
) -> Result<(i64, i64)> {
    let until = if hi.is_some() {
        " AND sale_date <= $4"
    } else {
        ""
    };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN prev_date IS NULL OR prev_date < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS firsts, \
           CAST(COALESCE(SUM(CASE WHEN prev_date >= $2 AND (prev2_date IS NULL OR prev2_date < $2) THEN 1 ELSE 0 END), 0) AS BIGINT) AS seconds \
         FROM loyalty_purchases WHERE merchant_id = $1 AND sale_date >= $3{until} AND {COUNTING}"
    );
    let sql = crate::for_backend(c, &sql);
    let mut q = sqlx::query(&sql)
        .bind(merchant_id)
        .bind(since.to_string())
        .bind(lo.to_string());
    if let Some(hi) = hi {
        q = q.bind(hi.to_string());
    }
    let r = q.fetch_one(c).await?;
    Ok((r.try_get("firsts")?, r.try_get("seconds")?))
}

/// Every synced order of one business date, summed: sales that stand (not voided) and the net
/// of all orders (sales, refunds, voids) after tax (unless `including_tax`) and tips.
#[derive(Clone, Debug)]
pub struct DayTotals {
    pub business_date: String,
    pub sales: i64,
    pub net_minor: i64,
}

pub async fn day_totals(
    c: &mut Conn,
    merchant_id: &str,
    from: &str,
    to: &str,
    including_tax: bool,
) -> Result<Vec<DayTotals>> {
    let rows = sqlx::query(
        "SELECT business_date, \
           CAST(SUM(CASE WHEN kind = 'sale' AND status <> 'cancelled' THEN 1 ELSE 0 END) AS BIGINT) AS sales, \
           CAST(SUM(total_minor - tip_minor - CASE WHEN $4 = 1 THEN 0 ELSE tax_minor END) AS BIGINT) AS net \
         FROM orders WHERE merchant_id = $1 AND business_date >= $2 AND business_date <= $3 \
         GROUP BY business_date",
    )
    .bind(merchant_id)
    .bind(from)
    .bind(to)
    .bind(i64::from(including_tax))
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DayTotals {
                business_date: r.try_get("business_date")?,
                sales: r.try_get("sales")?,
                net_minor: r.try_get("net")?,
            })
        })
        .collect()
}

/// Credit ledger entries summed per period and kind: `periods` are (number, first instant,
/// instant after the last) in milliseconds; entries count where they were posted. Whole UTC
/// hours come from the hourly roll-up (migration 0020), the part-hours at either end of a
/// period (zones offset by :30 or :45) from the ledger.
pub async fn ledger_by_period(
    c: &mut Conn,
    merchant_id: &str,
    periods: &[(i64, i64, i64)],
) -> Result<Vec<(i64, String, i64)>> {
    const HOUR: i64 = 3_600_000;
    let (mut hours, mut entries) = (Vec::new(), Vec::new());
    for &(period, from, to) in periods {
        let (first_hour, last_hour) = (
            (from + HOUR - 1).div_euclid(HOUR) * HOUR,
            to.div_euclid(HOUR) * HOUR,
        );
        if first_hour < last_hour {
            hours.push((period, first_hour, last_hour));
            entries.extend([(period, from, first_hour), (period, last_hour, to)]);
        } else {
            entries.push((period, from, to));
        }
    }
    entries.retain(|(_, from, to)| from < to);
    let mut sums: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for (table, at, spans) in [
        ("credit_hours", "hour", &hours),
        ("credit_ledger", "created_at", &entries),
    ] {
        if spans.is_empty() {
            continue;
        }
        let values = crate::placeholders(spans.len(), "", 3, 2);
        let sql = format!(
            "WITH d (period, from_ms, to_ms) AS (VALUES {values}) \
             SELECT d.period AS period, l.kind AS kind, CAST(SUM(l.amount_minor) AS BIGINT) AS amount \
             FROM d JOIN {table} l ON l.merchant_id = $1 AND l.{at} >= d.from_ms AND l.{at} < d.to_ms \
             GROUP BY d.period, l.kind"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql).bind(merchant_id);
        for (period, from_ms, to_ms) in spans {
            q = q.bind(*period).bind(*from_ms).bind(*to_ms);
        }
        for r in q.fetch_all(&mut *c).await? {
            *sums
                .entry((r.try_get("period")?, r.try_get("kind")?))
                .or_default() += r.try_get::<i64, _>("amount")?;
        }
    }
    Ok(sums.into_iter().map(|((p, k), a)| (p, k, a)).collect())
}

/// The merchant's members counted at once: per segment of the last RFM run and per tier,
/// the credit outstanding, and the lifetime figures of their purchases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberCounts {
    pub members: i64,
    /// Members per segment (`None`: not scored yet).
    pub segments: Vec<(Option<String>, i64)>,
    /// Members per tier (`None`: no tier).
    pub tiers: Vec<(Option<String>, i64)>,
    pub outstanding_minor: i64,
    /// Members with one counting purchase or more, with two or more, and the lifetime spend
    /// of the first.
    pub buying: i64,
    pub repeat: i64,
    pub buying_spend_minor: i64,
}

/// [`MemberCounts`], read in one pass over an index of the members.
pub async fn member_counts(c: &mut Conn, merchant_id: &str) -> Result<MemberCounts> {
    let rows = sqlx::query(
        "SELECT segment, tier_id, COUNT(*) AS n, \
           CAST(COALESCE(SUM(balance_minor), 0) AS BIGINT) AS balance, \
           CAST(COALESCE(SUM(CASE WHEN purchase_orders > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS buying, \
           CAST(COALESCE(SUM(CASE WHEN purchase_orders > 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS repeating, \
           CAST(COALESCE(SUM(CASE WHEN purchase_orders > 0 THEN purchase_spend_minor ELSE 0 END), 0) AS BIGINT) AS buying_spend \
         FROM members WHERE merchant_id = $1 GROUP BY segment, tier_id",
    )
    .bind(merchant_id)
    .fetch_all(c)
    .await?;
    let mut out = MemberCounts::default();
    let mut segments: std::collections::BTreeMap<Option<String>, i64> = Default::default();
    let mut tiers: std::collections::BTreeMap<Option<String>, i64> = Default::default();
    for r in rows {
        let n: i64 = r.try_get("n")?;
        *segments.entry(r.try_get("segment")?).or_default() += n;
        *tiers.entry(r.try_get("tier_id")?).or_default() += n;
        out.members += n;
        out.outstanding_minor += r.try_get::<i64, _>("balance")?;
        out.buying += r.try_get::<i64, _>("buying")?;
        out.repeat += r.try_get::<i64, _>("repeating")?;
        out.buying_spend_minor += r.try_get::<i64, _>("buying_spend")?;
    }
    out.segments = segments.into_iter().collect();
    out.tiers = tiers.into_iter().collect();
    Ok(out)
}

/// Moves everything of member `from` onto member `into` (a merge), then deletes `from`:
/// purchases, ledger entries (numbered after `into`'s), stamps and tier history move, the
/// balances add up; `from`'s card progress, segment history and past broadcast receipts are
/// dropped (the caller has combined the cards; segments are recomputed).
pub async fn absorb_member(
    c: &mut Conn,
    merchant_id: &str,
    from: &str,
    into: &str,
    now: i64,
) -> Result<()> {
    let last: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) FROM credit_ledger WHERE merchant_id = $1 AND member_id = $2",
    )
    .bind(merchant_id)
    .bind(into)
    .fetch_one(&mut *c)
    .await?;
    sqlx::query("UPDATE credit_ledger SET member_id = $3, seq = seq + $4 WHERE merchant_id = $1 AND member_id = $2")
        .bind(merchant_id)
        .bind(from)
        .bind(into)
        .bind(last)
        .execute(&mut *c)
        .await?;
    for table in ["loyalty_purchases", "purchase_stamps", "tier_history"] {
        sqlx::query(&format!(
            "UPDATE {table} SET member_id = $3 WHERE merchant_id = $1 AND member_id = $2"
        ))
        .bind(merchant_id)
        .bind(from)
        .bind(into)
        .execute(&mut *c)
        .await?;
    }
    for table in ["member_cards", "segment_history", "broadcast_recipients"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE merchant_id = $1 AND member_id = $2"
        ))
        .bind(merchant_id)
        .bind(from)
        .execute(&mut *c)
        .await?;
    }
    sqlx::query(
        "UPDATE members SET balance_minor = balance_minor + (SELECT balance_minor FROM members WHERE merchant_id = $1 AND id = $2), \
         updated_at = $4 WHERE merchant_id = $1 AND id = $3",
    )
    .bind(merchant_id)
    .bind(from)
    .bind(into)
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query("DELETE FROM members WHERE merchant_id = $1 AND id = $2")
        .bind(merchant_id)
        .bind(from)
        .execute(&mut *c)
        .await?;
    refresh_member_purchases(c, merchant_id, into).await
}

/// The last event sequence number a replay re-reads (its events were announced before).
pub async fn replay_until(c: &mut Conn, merchant_id: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT until_seq FROM loyalty_replays WHERE merchant_id = $1")
            .bind(merchant_id)
            .fetch_optional(c)
            .await?,
    )
}

/// Clears what loyalty derived from orders, for a replay: credit earned and reversed (staff
/// entries stay; balances become their sum), stamps, card progress (keeping how many rewards
/// were redeemed, which the next rewards issued take over), and segments. Purchases keep their
/// member and earning rule, and members their tier, its date and its history: tiers are placed
/// over time (a hold keeps a tier a spend no longer reaches), so a replay on a later day could
/// not place them again as they were. `until_seq` marks the events already announced.
pub async fn reset_for_replay(
    c: &mut Conn,
    merchant_id: &str,
    until_seq: i64,
    now: i64,
) -> Result<()> {
    let statements = [
        "DELETE FROM credit_ledger WHERE merchant_id = $1 AND kind IN ('earned', 'reversed')",
        "UPDATE members SET balance_minor = COALESCE((SELECT CAST(SUM(l.amount_minor) AS BIGINT) FROM credit_ledger l \
           WHERE l.merchant_id = members.merchant_id AND l.member_id = members.id), 0), \
           segment = NULL, rfm_scores = NULL WHERE merchant_id = $1",
        "UPDATE loyalty_purchases SET accounted_minor = 0 WHERE merchant_id = $1",
        "DELETE FROM purchase_stamps WHERE merchant_id = $1",
        "DELETE FROM segment_history WHERE merchant_id = $1",
        "DELETE FROM rfm_runs WHERE merchant_id = $1",
    ];
    for sql in statements {
        sqlx::query(sql).bind(merchant_id).execute(&mut *c).await?;
    }
    sqlx::query(
        "INSERT INTO loyalty_replays (merchant_id, until_seq, started_at) VALUES ($1, $2, $3) \
         ON CONFLICT (merchant_id) DO UPDATE SET until_seq = excluded.until_seq, started_at = excluded.started_at",
    )
    .bind(merchant_id)
    .bind(until_seq)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Every member card row: (member id, card id, state JSON).
pub async fn all_member_cards(
    c: &mut Conn,
    merchant_id: &str,
) -> Result<Vec<(String, String, String)>> {
    let rows =
        sqlx::query("SELECT member_id, card_id, state FROM member_cards WHERE merchant_id = $1")
            .bind(merchant_id)
            .fetch_all(c)
            .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("member_id")?,
                r.try_get("card_id")?,
                r.try_get("state")?,
            ))
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BroadcastRow {
    pub id: String,
    pub title: Option<String>,
    pub message: String,
    pub audience: serde_json::Value,
    pub recipients: i64,
    #[serde(skip)]
    pub idempotency_key: String,
    pub created_at: i64,
}

const BROADCAST_COLUMNS: &str =
    "id, title, message, audience, recipients, idempotency_key, created_at";

fn broadcast_row(r: &sqlx::any::AnyRow) -> Result<BroadcastRow> {
    let audience: String = r.try_get("audience")?;
    Ok(BroadcastRow {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        message: r.try_get("message")?,
        audience: serde_json::from_str(&audience).unwrap_or(serde_json::Value::Null),
        recipients: r.try_get("recipients")?,
        idempotency_key: r.try_get("idempotency_key")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Stores a broadcast and its recipients: the members in `segment` and `tier` (each optional)
/// or, when `member_ids` is given, exactly those. Returns how many it reached.
pub async fn insert_broadcast(
    c: &mut Conn,
    merchant_id: &str,
    b: &BroadcastRow,
    segment: Option<&str>,
    tier: Option<&str>,
    member_ids: Option<&[String]>,
) -> Result<i64> {
    match member_ids {
        Some(ids) => {
            for id in ids {
                sqlx::query("INSERT INTO broadcast_recipients (merchant_id, broadcast_id, member_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(merchant_id)
                    .bind(&b.id)
                    .bind(id)
                    .execute(&mut *c)
                    .await?;
            }
        }
        None => {
            sqlx::query(
                "INSERT INTO broadcast_recipients (merchant_id, broadcast_id, member_id) \
                 SELECT merchant_id, $2, id FROM members WHERE merchant_id = $1 \
                 AND ($3 IS NULL OR segment = $3) AND ($4 IS NULL OR tier_id = $4)",
            )
            .bind(merchant_id)
            .bind(&b.id)
            .bind(segment)
            .bind(tier)
            .execute(&mut *c)
            .await?;
        }
    }
    let recipients: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM broadcast_recipients WHERE merchant_id = $1 AND broadcast_id = $2",
    )
    .bind(merchant_id)
    .bind(&b.id)
    .fetch_one(&mut *c)
    .await?;
    sqlx::query(&format!("INSERT INTO broadcasts (merchant_id, {BROADCAST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(merchant_id)
        .bind(&b.id)
        .bind(&b.title)
        .bind(&b.message)
        .bind(b.audience.to_string())
        .bind(recipients)
        .bind(&b.idempotency_key)
        .bind(b.created_at)
        .execute(&mut *c)
        .await?;
    Ok(recipients)
}

pub async fn broadcast_by_key(
    c: &mut Conn,
    merchant_id: &str,
    key: &str,
) -> Result<Option<BroadcastRow>> {
    let row = sqlx::query(&format!(
        "SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE merchant_id = $1 AND idempotency_key = $2"
    ))
    .bind(merchant_id)
    .bind(key)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(broadcast_row).transpose()
}

pub async fn broadcast(c: &mut Conn, merchant_id: &str, id: &str) -> Result<Option<BroadcastRow>> {
    let row = sqlx::query(&format!(
        "SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE merchant_id = $1 AND id = $2"
    ))
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(broadcast_row).transpose()
}

/// The latest broadcasts, newest first.
pub async fn broadcasts(c: &mut Conn, merchant_id: &str, limit: i64) -> Result<Vec<BroadcastRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {BROADCAST_COLUMNS} FROM broadcasts WHERE merchant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(merchant_id)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter().map(broadcast_row).collect()
}

/// A page of a broadcast's recipients by member id after `after`: (member id, e-mail, name).
pub async fn broadcast_recipients(
    c: &mut Conn,
    merchant_id: &str,
    broadcast_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(String, String, Option<String>)>> {
    let rows = sqlx::query(
        "SELECT r.member_id, m.email, m.name FROM broadcast_recipients r JOIN members m ON m.merchant_id = r.merchant_id AND m.id = r.member_id \
         WHERE r.merchant_id = $1 AND r.broadcast_id = $2 AND ($3 IS NULL OR r.member_id > $3) ORDER BY r.member_id LIMIT $4",
    )
    .bind(merchant_id)
    .bind(broadcast_id)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("member_id")?,
                r.try_get("email")?,
                r.try_get("name")?,
            ))
        })
        .collect()
}

/// Inserts members and their purchases in bulk, for seeding a benchmark or an import: members
/// as (id, e-mail, balance), purchases as (member id, connection, sale id, business date, net
/// eligible). Call [`refresh_all_member_purchases`] once after the last batch.
pub async fn seed_members(
    c: &mut Conn,
    merchant_id: &str,
    members: &[(String, String, i64)],
    purchases: &[(String, String, String, String, i64)],
    now: i64,
) -> Result<()> {
    for chunk in members.chunks(300) {
        let rows = crate::placeholders(chunk.len(), "$1, $2", 3, 3);
        let sql = format!(
            "WITH v (merchant_id, joined_at, id, email, balance) AS (VALUES {rows}) \
             INSERT INTO members (merchant_id, joined_at, id, email, balance_minor, created_at, updated_at) \
             SELECT merchant_id, joined_at, id, email, balance, joined_at, joined_at FROM v"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql)
            .persistent(chunk.len() == 300)
            .bind(merchant_id)
            .bind(now);
        for (id, email, balance) in chunk {
            q = q.bind(id).bind(email).bind(*balance);
        }
        q.execute(&mut *c).await?;
    }
    for chunk in purchases.chunks(300) {
        let rows = crate::placeholders(chunk.len(), "$1, $2", 5, 3);
        let sql = format!(
            "WITH v (merchant_id, closed_at, member_id, connection_id, sale_external_id, sale_date, net) AS (VALUES {rows}) \
             INSERT INTO loyalty_purchases (merchant_id, closed_at, member_id, connection_id, sale_external_id, sale_date, net_eligible_minor, accounted_minor, updated_at) \
             SELECT merchant_id, closed_at, member_id, connection_id, sale_external_id, sale_date, net, 0, closed_at FROM v"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql)
            .persistent(chunk.len() == 300)
            .bind(merchant_id)
            .bind(now);
        for (member, connection, sale, date, net) in chunk {
            q = q
                .bind(member)
                .bind(connection)
                .bind(sale)
                .bind(date)
                .bind(*net);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// Credit a seeded purchase earned, for [`seed_credit`].
#[derive(Clone, Debug)]
pub struct SeedCredit {
    pub member_id: String,
    pub seq: i64,
    pub amount_minor: i64,
    pub balance_after_minor: i64,
    pub connection_id: String,
    pub sale_external_id: String,
    pub created_at: i64,
}

/// Inserts `earned` ledger entries in bulk, for seeding a benchmark (the members' balances
/// are [`seed_members`]'s to set).
pub async fn seed_credit(c: &mut Conn, merchant_id: &str, entries: &[SeedCredit]) -> Result<()> {
    for chunk in entries.chunks(250) {
        let rows = crate::placeholders(chunk.len(), "$1", 7, 2);
        let sql = format!(
            "WITH v (merchant_id, member_id, seq, amount, balance, connection_id, sale_external_id, created_at) AS (VALUES {rows}) \
             INSERT INTO credit_ledger (merchant_id, id, seq, member_id, kind, amount_minor, balance_after_minor, connection_id, sale_external_id, created_at) \
             SELECT merchant_id, 'led_' || member_id || '_' || CAST(seq AS TEXT), seq, member_id, 'earned', amount, balance, connection_id, sale_external_id, created_at FROM v"
        );
        let sql = crate::for_backend(c, &sql);
        let mut q = sqlx::query(&sql)
            .persistent(chunk.len() == 250)
            .bind(merchant_id);
        for e in chunk {
            q = q
                .bind(&e.member_id)
                .bind(e.seq)
                .bind(e.amount_minor)
                .bind(e.balance_after_minor)
                .bind(&e.connection_id)
                .bind(&e.sale_external_id)
                .bind(e.created_at);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}
