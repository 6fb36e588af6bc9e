//! The status ladder of an online order and the payment beside it. Every change is written
//! with its history entry and the event the app notifies the shopper from, in the caller's
//! transaction. The ladder only moves forward; when the POS skips a step (a `CLOSED` webhook
//! arriving before `READY_FOR_PICKUP`, or before `SUCCESS` when that one was lost), the
//! skipped steps are announced too, in order, so the shopper's events never go backwards.

use tillbridge_engine::ids::new_id;
use tillbridge_engine::EngineError;
use tillbridge_store::events::{self, NewEvent};
use tillbridge_store::ordering::{self, HistoryRow, OrderRow};
use tillbridge_store::Tx;

pub const RECEIVED: &str = "received";
pub const SUBMITTED: &str = "submitted";
pub const ACCEPTED: &str = "accepted";
pub const READY: &str = "ready";
pub const COMPLETED: &str = "completed";
pub const REJECTED: &str = "rejected";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";

/// The steps of the ladder, in order.
pub const LADDER: [&str; 5] = [RECEIVED, SUBMITTED, ACCEPTED, READY, COMPLETED];

/// Payment states: no payment given, waiting to be sent, sent, applied by the POS, refused.
pub const PAY_NONE: &str = "none";
pub const PAY_PENDING: &str = "pending";
pub const PAY_SUBMITTED: &str = "submitted";
pub const PAY_APPLIED: &str = "applied";
pub const PAY_FAILED: &str = "failed";

/// The one reason the POS gives for a voided order.
pub const CANCELLED_BY_MERCHANT: &str = "Canceled by merchant";

pub fn is_terminal(status: &str) -> bool {
    matches!(status, COMPLETED | REJECTED | FAILED | CANCELLED)
}

fn rank(status: &str) -> Option<usize> {
    LADDER.iter().position(|s| *s == status)
}

/// The statuses to pass through from `from` to `to` (excluding `from`); empty when `to` is not
/// ahead of `from` or `from` is terminal.
pub fn steps(from: &str, to: &str) -> Vec<&'static str> {
    if is_terminal(from) {
        return Vec::new();
    }
    match (rank(from), rank(to)) {
        (Some(a), Some(b)) if b > a => LADDER[a + 1..=b].to_vec(),
        (Some(_), Some(_)) => Vec::new(),
        // A terminal failure ends the ladder wherever it is.
        _ => match to {
            REJECTED => vec![REJECTED],
            FAILED => vec![FAILED],
            CANCELLED => vec![CANCELLED],
            _ => Vec::new(),
        },
    }
}

fn event(o: &OrderRow, event_type: &str, payload: serde_json::Value) -> NewEvent {
    NewEvent {
        id: new_id("evt"),
        event_type: event_type.into(),
        subject: o.id.clone(),
        payload,
    }
}

/// Moves `o` to `to` (with the steps in between), records and announces each step, and writes
/// the order. Returns whether anything changed.
pub async fn advance(
    tx: &mut Tx,
    merchant_id: &str,
    o: &mut OrderRow,
    to: &str,
    reason: Option<&str>,
    detail: Option<String>,
    now: i64,
) -> Result<bool, EngineError> {
    let path = steps(&o.status, to);
    if path.is_empty() {
        return Ok(false);
    }
    let mut out = Vec::new();
    for step in path {
        let previous = std::mem::replace(&mut o.status, step.to_owned());
        let last = step == to;
        if last {
            o.reason = reason.map(str::to_owned);
            o.detail.clone_from(&detail);
        }
        ordering::append_history(
            tx,
            merchant_id,
            &o.id,
            &HistoryRow {
                status: step.to_owned(),
                payment_status: o.payment_status.clone(),
                detail: if last { detail.clone() } else { None },
                at: now,
            },
        )
        .await?;
        out.push(event(
            o,
            "ordering.order_status",
            serde_json::json!({
                "order_id": o.id,
                "channel_order_id": o.channel_order_id,
                "location_id": o.location_id,
                "status": step,
                "previous": previous,
                "reason": if last { reason } else { None },
                "detail": if last { detail.clone() } else { None },
                "pos_account": o.pos_account,
            }),
        ));
    }
    if is_terminal(&o.status) {
        // Nothing more to push, pay or check.
        o.next_attempt_at = None;
    }
    o.updated_at = now;
    ordering::update(tx, merchant_id, o).await?;
    events::append_many(tx, merchant_id, &out, now).await?;
    Ok(true)
}

/// Sets the payment state of `o`, records and announces it, and writes the order.
pub async fn set_payment(
    tx: &mut Tx,
    merchant_id: &str,
    o: &mut OrderRow,
    to: &str,
    detail: Option<String>,
    now: i64,
) -> Result<bool, EngineError> {
    if o.payment_status == to || matches!(o.payment_status.as_str(), PAY_APPLIED | PAY_FAILED) {
        return Ok(false);
    }
    o.payment_status = to.to_owned();
    o.updated_at = now;
    ordering::append_history(
        tx,
        merchant_id,
        &o.id,
        &HistoryRow {
            status: o.status.clone(),
            payment_status: to.to_owned(),
            detail: detail.clone(),
            at: now,
        },
    )
    .await?;
    ordering::update(tx, merchant_id, o).await?;
    let e = event(
        o,
        "ordering.payment_status",
        serde_json::json!({
            "order_id": o.id,
            "channel_order_id": o.channel_order_id,
            "payment_status": to,
            "detail": detail,
        }),
    );
    events::append_many(tx, merchant_id, &[e], now).await?;
    Ok(true)
}

/// Announces that an order needs staff: it could not reach the POS, or its payment failed.
pub async fn alert(
    tx: &mut Tx,
    merchant_id: &str,
    o: &OrderRow,
    kind: &str,
    message: &str,
    now: i64,
) -> Result<(), EngineError> {
    let e = event(
        o,
        "ordering.alert",
        serde_json::json!({
            "kind": kind,
            "order_id": o.id,
            "channel_order_id": o.channel_order_id,
            "connection_id": o.connection_id,
            "message": message,
        }),
    );
    events::append_many(tx, merchant_id, &[e], now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_moves_forward_through_every_step() {
        assert_eq!(steps(RECEIVED, SUBMITTED), vec![SUBMITTED]);
        assert_eq!(
            steps(SUBMITTED, COMPLETED),
            vec![ACCEPTED, READY, COMPLETED]
        );
        assert_eq!(steps(READY, ACCEPTED), Vec::<&str>::new());
        assert_eq!(steps(ACCEPTED, ACCEPTED), Vec::<&str>::new());
        assert_eq!(steps(ACCEPTED, CANCELLED), vec![CANCELLED]);
        assert_eq!(steps(COMPLETED, CANCELLED), Vec::<&str>::new());
        assert_eq!(steps(CANCELLED, COMPLETED), Vec::<&str>::new());
        assert_eq!(steps(REJECTED, ACCEPTED), Vec::<&str>::new());
    }
}
