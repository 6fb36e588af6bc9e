//! Outages of a connection as online orders meet them, one open at a time per connection:
//!
//! - **partner outage**: the POS API fails (transport errors, 502/503/504, timeouts);
//! - **credentials issue**: the POS refuses the hub (401, invalid grant): reconnect needed.
//!
//! The first failure opens the outage: an `ordering.outage` event and an alert mail. The next
//! call to the connection that succeeds closes it: an `ordering.outage_over` event and a mail
//! saying how many orders wait for manual handling. Both are written in the transaction of the
//! order step that saw them.

use tillbridge_engine::ids::new_id;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::ordering::{self as store, OutageRow};
use tillbridge_store::{events, outbox, Tx};

pub const PARTNER_OUTAGE: &str = "partner_outage";
pub const CREDENTIALS_ISSUE: &str = "credentials_issue";

/// What the banner tells staff to do about an outage.
pub fn advice(kind: &str, connection_id: &str) -> String {
    if kind == CREDENTIALS_ISSUE {
        format!(
            "Lightspeed no longer accepts this hub's credentials: reconnect the POS (POST /api/v1/merchants/{{merchant}}/connections/{connection_id}/reconnect) and the waiting orders go through"
        )
    } else {
        "The Lightspeed API is failing: orders are retried, and those that cannot wait are listed for manual handling (GET …/online-orders?needs_manual_handling=true)".to_owned()
    }
}

fn event(connection_id: &str, event_type: &str, payload: serde_json::Value) -> events::NewEvent {
    events::NewEvent {
        id: new_id("evt"),
        event_type: event_type.into(),
        subject: connection_id.to_owned(),
        payload,
    }
}

/// Queues an alert mail to each configured recipient.
pub async fn mail(
    tx: &mut Tx,
    engine: &Engine,
    merchant_id: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<(), EngineError> {
    for recipient in &engine.config().alert_recipients {
        outbox::queue(
            tx,
            &outbox::MailRow {
                merchant_id: merchant_id.to_owned(),
                id: new_id("mail"),
                recipient: recipient.clone(),
                subject: subject.to_owned(),
                body: body.to_owned(),
                created_at: now,
                attempts: 0,
            },
        )
        .await?;
    }
    Ok(())
}

/// Records that a call to the connection failed with an outage of `kind`.
pub async fn seen(
    tx: &mut Tx,
    engine: &Engine,
    merchant_id: &str,
    connection_id: &str,
    kind: &str,
    detail: &str,
    now: i64,
) -> Result<(), EngineError> {
    let open = store::open_outage(tx, merchant_id, connection_id).await?;
    let announce = match open {
        Some(mut o) => {
            let changed = o.kind != kind;
            o.kind = kind.to_owned();
            o.detail = Some(detail.to_owned());
            o.last_seen_at = now;
            store::update_outage(tx, merchant_id, &o).await?;
            changed
        }
        None => {
            let o = OutageRow {
                id: new_id("out"),
                connection_id: connection_id.to_owned(),
                kind: kind.to_owned(),
                detail: Some(detail.to_owned()),
                started_at: now,
                last_seen_at: now,
                ended_at: None,
            };
            store::open_outage_insert(tx, merchant_id, &o).await?
        }
    };
    if !announce {
        return Ok(());
    }
    let advice = advice(kind, connection_id);
    events::append_many(
        tx,
        merchant_id,
        &[event(
            connection_id,
            "ordering.outage",
            serde_json::json!({
                "connection_id": connection_id, "kind": kind, "detail": detail,
                "reconnect_required": kind == CREDENTIALS_ISSUE, "advice": advice,
            }),
        )],
        now,
    )
    .await?;
    let title = if kind == CREDENTIALS_ISSUE {
        "credentials issue: reconnect Lightspeed"
    } else {
        "Lightspeed partner outage"
    };
    mail(
        tx,
        engine,
        merchant_id,
        &format!("[tillbridge] {title} ({connection_id})"),
        &format!(
            "Online orders for merchant {merchant_id} cannot reach the POS through connection {connection_id}.\n\nWhat failed: {detail}\n\n{advice}\n"
        ),
        now,
    )
    .await
}

/// Records that a call to the connection succeeded: closes its open outage, if any.
pub async fn over(
    tx: &mut Tx,
    engine: &Engine,
    merchant_id: &str,
    connection_id: &str,
    now: i64,
) -> Result<(), EngineError> {
    let Some(mut o) = store::open_outage(tx, merchant_id, connection_id).await? else {
        return Ok(());
    };
    o.ended_at = Some(now);
    store::update_outage(tx, merchant_id, &o).await?;
    let manual = store::manual_counts(tx, merchant_id)
        .await?
        .into_iter()
        .find(|(c, _)| c == connection_id)
        .map_or(0, |(_, n)| n);
    events::append_many(
        tx,
        merchant_id,
        &[event(
            connection_id,
            "ordering.outage_over",
            serde_json::json!({
                "connection_id": connection_id, "kind": o.kind, "started_at": o.started_at,
                "ended_at": now, "manual_orders": manual,
            }),
        )],
        now,
    )
    .await?;
    mail(
        tx,
        engine,
        merchant_id,
        &format!("[tillbridge] outage over ({connection_id})"),
        &format!(
            "Online orders reach the POS again through connection {connection_id} (the {} began {} ms ago).\n\n{manual} order(s) wait for manual handling: GET /api/v1/merchants/{merchant_id}/online-orders?needs_manual_handling=true\n",
            o.kind.replace('_', " "),
            now - o.started_at
        ),
        now,
    )
    .await
}

/// An outage as the banner shows it.
#[derive(serde::Serialize, Debug, Clone)]
pub struct Banner {
    #[serde(flatten)]
    pub outage: OutageRow,
    pub active: bool,
    /// Credentials issue: staff must reconnect the POS.
    pub reconnect_required: bool,
    pub advice: String,
}

/// What the ordering banner shows: open outages (and those that ended in the last day), the
/// orders waiting for manual handling per connection, and the latest alert mails.
#[derive(serde::Serialize, Debug, Clone)]
pub struct Status {
    pub outages: Vec<Banner>,
    pub manual_orders: Vec<serde_json::Value>,
    pub mails: Vec<serde_json::Value>,
}

pub async fn status(engine: &Engine, merchant_id: &str) -> Result<Status, EngineError> {
    let mut c = engine.conn().await?;
    let since = engine.now_ms() - 86_400_000;
    let outages = store::outages(&mut c, merchant_id, since)
        .await?
        .into_iter()
        .map(|o| Banner {
            active: o.ended_at.is_none(),
            reconnect_required: o.ended_at.is_none() && o.kind == CREDENTIALS_ISSUE,
            advice: advice(&o.kind, &o.connection_id).replace("{merchant}", merchant_id),
            outage: o,
        })
        .collect();
    let manual_orders = store::manual_counts(&mut c, merchant_id)
        .await?
        .into_iter()
        .map(|(connection_id, count)| serde_json::json!({ "connection_id": connection_id, "count": count }))
        .collect();
    let mails = outbox::list(&mut c, merchant_id, 20)
        .await?
        .into_iter()
        .map(|(subject, recipient, sent_at, last_error)| {
            serde_json::json!({ "subject": subject, "recipient": recipient, "sent_at": sent_at, "last_error": last_error })
        })
        .collect();
    Ok(Status {
        outages,
        manual_orders,
        mails,
    })
}
