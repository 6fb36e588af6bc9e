//! The ordering worker, run from the merchant's `ordering` consumer job (under its lease, so
//! one process at a time handles a merchant's orders):
//!
//! 1. applies the POS's order and payment webhooks, in arrival order, each once;
//! 2. takes each order whose next step is due: push it, pay it, or ask the POS how it stands
//!    (reconciliation, for when webhooks are missing).
//!
//! Network errors and 502/503/504 are retried after 10, 20, 40, 80 and 160 s (the configured
//! base, doubling); after that the order is failed, listed for manual handling and an alert is
//! raised. Every step commits before the next, and the POS deduplicates on the order's
//! reference, so a crash anywhere resumes without a second POS order.

use crate::kseries;
use crate::outage;
use crate::request::{OrderRequest, Reason};
use crate::retail::{self, CreateError, SaleState};
use crate::status::{
    self, ACCEPTED, CANCELLED, CANCELLED_BY_MERCHANT, COMPLETED, PAY_APPLIED, PAY_FAILED,
    PAY_PENDING, PAY_SUBMITTED, READY, RECEIVED, REJECTED, SUBMITTED,
};
use tillbridge_engine::{Engine, EngineError};
use tillbridge_lightspeed::LightspeedError;
use tillbridge_store::ordering::{self, OrderRow, PendingDelivery};

/// Retries after the first failed attempt of a push or payment.
pub const RETRIES: i64 = 5;

/// Orders taken per look.
const BATCH: i64 = 50;

pub async fn run(engine: &Engine, merchant_id: &str) -> Result<(), EngineError> {
    loop {
        let pending = {
            let mut c = engine.conn().await?;
            ordering::pending_deliveries(&mut c, merchant_id, 200).await?
        };
        for d in &pending {
            apply_delivery(engine, merchant_id, d).await?;
        }
        if pending.len() < 200 {
            break;
        }
    }
    loop {
        let now = engine.now_ms();
        let due = {
            let mut c = engine.conn().await?;
            ordering::due(&mut c, merchant_id, now, BATCH).await?
        };
        for o in &due {
            step(engine, merchant_id, o.clone()).await?;
        }
        if (due.len() as i64) < BATCH {
            return Ok(());
        }
    }
}

fn reconcile_at(engine: &Engine, now: i64) -> i64 {
    now + engine.config().order_reconcile_interval.as_millis() as i64
}

fn request_of(o: &OrderRow) -> Result<OrderRequest, EngineError> {
    serde_json::from_value(o.request.clone())
        .map_err(|e| EngineError::Mapping(format!("stored online order {}: {e}", o.id)))
}

/// Applies one webhook delivery and marks it handled, in one transaction.
async fn apply_delivery(
    engine: &Engine,
    merchant_id: &str,
    d: &PendingDelivery,
) -> Result<(), EngineError> {
    let text = |name: &str| {
        d.detail
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let status_text = text("status").unwrap_or_default();
    let kind = text("type").unwrap_or_else(|| "ORDER".into());
    if kind == "X_SALE" {
        return apply_x_sale(
            engine,
            merchant_id,
            d,
            &text("sale_id").unwrap_or_default(),
            &status_text,
        )
        .await;
    }
    let reference = text("third_party_reference").unwrap_or_default();
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    let order_id = if kind == "PAYMENT" {
        kseries::order_of_payment_reference(&reference)
    } else {
        reference.as_str()
    };
    let found =
        ordering::by_pos_reference(&mut tx, merchant_id, &d.connection_id, order_id).await?;
    if let Some(mut o) = found {
        let m = merchant_id;
        match (kind.as_str(), status_text.as_str()) {
            ("PAYMENT", "SUCCESS") => {
                status::set_payment(&mut tx, m, &mut o, PAY_APPLIED, None, now).await?;
            }
            ("PAYMENT", "FAILURE") => {
                let why = payment_failure(&d.detail);
                fail_payment(&mut tx, engine, m, &mut o, &why, now).await?;
            }
            ("ORDER", "SUCCESS") => {
                if o.pos_account.is_none() {
                    o.pos_account = text("account_identifier");
                }
                o.next_attempt_at = Some(if o.payment_status == PAY_PENDING {
                    now
                } else {
                    reconcile_at(engine, now)
                });
                o.attempts = 0;
                if !status::advance(&mut tx, m, &mut o, ACCEPTED, None, None, now).await? {
                    ordering::update(&mut tx, m, &o).await?;
                }
            }
            ("ORDER", "FAILURE") => {
                let why = text("reason")
                    .unwrap_or_else(|| "the POS refused the order without a reason".into());
                let reason = Reason::of_pos_message(&why);
                status::advance(
                    &mut tx,
                    m,
                    &mut o,
                    REJECTED,
                    Some(reason.as_str()),
                    Some(why),
                    now,
                )
                .await?;
            }
            ("ORDER", "READY_FOR_PICKUP") => {
                if o.pos_account.is_none() {
                    o.pos_account = text("account_identifier");
                }
                status::advance(&mut tx, m, &mut o, READY, None, None, now).await?;
            }
            ("ORDER", "CLOSED") => {
                complete(&mut tx, engine, m, &mut o, now).await?;
            }
            ("ORDER", "CANCELLED") => {
                status::advance(
                    &mut tx,
                    m,
                    &mut o,
                    CANCELLED,
                    None,
                    Some(CANCELLED_BY_MERCHANT.into()),
                    now,
                )
                .await?;
            }
            // CHECK_WAS_UPDATED and the opt-in statuses change nothing the shopper sees; the
            // next reconciliation reads the account.
            _ => {}
        }
    }
    ordering::mark_delivery_handled(&mut tx, merchant_id, &d.connection_id, &d.idempotency_key)
        .await?;
    tillbridge_store::commit(tx).await?;
    Ok(())
}

/// An X-Series `sale.update` for an online sale: fulfilled → completed, voided → cancelled.
async fn apply_x_sale(
    engine: &Engine,
    m: &str,
    d: &PendingDelivery,
    sale_id: &str,
    status_text: &str,
) -> Result<(), EngineError> {
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    if let Some(mut o) = ordering::by_pos_reference(&mut tx, m, &d.connection_id, sale_id).await? {
        match retail::x_state(Some(status_text)) {
            SaleState::Completed => {
                complete(&mut tx, engine, m, &mut o, now).await?;
            }
            SaleState::Cancelled => {
                status::advance(
                    &mut tx,
                    m,
                    &mut o,
                    CANCELLED,
                    None,
                    Some(CANCELLED_BY_MERCHANT.into()),
                    now,
                )
                .await?;
            }
            SaleState::Open => {}
        }
    }
    ordering::mark_delivery_handled(&mut tx, m, &d.connection_id, &d.idempotency_key).await?;
    tillbridge_store::commit(tx).await?;
    Ok(())
}

/// Moves an order to completed. An order completed while its online payment was never sent
/// is flagged for manual handling: staff took payment some other way, or not at all.
async fn complete(
    tx: &mut tillbridge_store::Tx,
    engine: &Engine,
    m: &str,
    o: &mut OrderRow,
    now: i64,
) -> Result<bool, EngineError> {
    let unpaid = o.payment_status == PAY_PENDING;
    if unpaid {
        o.manual = true;
        o.last_error = Some("completed in the POS before its online payment was applied".into());
    }
    let changed = status::advance(tx, m, o, COMPLETED, None, None, now).await?;
    if changed && unpaid {
        let message = format!(
            "order {} was completed in the POS before its online payment was applied: check how it was paid",
            o.channel_order_id
        );
        status::alert(tx, m, o, "payment_not_applied", &message, now).await?;
        outage::mail(
            tx,
            engine,
            m,
            &format!(
                "[tillbridge] order {} needs manual handling",
                o.channel_order_id
            ),
            &message,
            now,
        )
        .await?;
    }
    Ok(changed)
}

fn payment_failure(detail: &serde_json::Value) -> String {
    let kind = detail
        .pointer("/errors/account/type")
        .and_then(serde_json::Value::as_str);
    let reason = detail.get("reason").and_then(serde_json::Value::as_str);
    match (kind, reason) {
        (Some(k), Some(r)) => format!("{r} ({k})"),
        (Some(k), None) => k.to_owned(),
        (None, Some(r)) => r.to_owned(),
        (None, None) => "the POS refused the payment without a reason".into(),
    }
}

async fn fail_payment(
    tx: &mut tillbridge_store::Tx,
    engine: &Engine,
    m: &str,
    o: &mut OrderRow,
    why: &str,
    now: i64,
) -> Result<(), EngineError> {
    o.manual = true;
    o.last_error = Some(why.to_owned());
    if status::set_payment(tx, m, o, PAY_FAILED, Some(why.to_owned()), now).await? {
        let message = format!(
            "the payment of order {} was not applied: {why}",
            o.channel_order_id
        );
        needs_staff(tx, engine, m, o, "payment_failed", &message, now).await?;
    }
    Ok(())
}

/// An alert event and mail for an order staff must handle by hand.
async fn needs_staff(
    tx: &mut tillbridge_store::Tx,
    engine: &Engine,
    m: &str,
    o: &OrderRow,
    kind: &str,
    message: &str,
    now: i64,
) -> Result<(), EngineError> {
    status::alert(tx, m, o, kind, message, now).await?;
    outage::mail(
        tx,
        engine,
        m,
        &format!(
            "[tillbridge] order {} needs manual handling",
            o.channel_order_id
        ),
        message,
        now,
    )
    .await
}

/// Runs the step that is due for `o`.
async fn step(engine: &Engine, m: &str, o: OrderRow) -> Result<(), EngineError> {
    if status::is_terminal(&o.status) {
        let mut o = o;
        o.next_attempt_at = None;
        let mut c = engine.conn().await?;
        ordering::update(&mut c, m, &o).await?;
        return Ok(());
    }
    match (o.status.as_str(), o.payment_status.as_str()) {
        (RECEIVED, _) => push(engine, m, o).await,
        (ACCEPTED | READY, PAY_PENDING) => pay(engine, m, o).await,
        _ => reconcile(engine, m, o).await,
    }
}

/// Whether a provider error is worth retrying later, and which outage it points to.
fn outage_of(e: &EngineError) -> Option<&'static str> {
    match e {
        EngineError::NeedsReauth(_) | EngineError::Disabled(_) => Some(outage::CREDENTIALS_ISSUE),
        EngineError::Provider(LightspeedError::Unauthorized { .. })
        | EngineError::Provider(LightspeedError::OAuth { .. }) => Some(outage::CREDENTIALS_ISSUE),
        e if e.is_transient() => Some(outage::PARTNER_OUTAGE),
        _ => None,
    }
}

/// Records a failed attempt: retries later, or gives up after [`RETRIES`] retries.
async fn retry_or_fail(
    engine: &Engine,
    m: &str,
    mut o: OrderRow,
    outage: &str,
    error: &EngineError,
) -> Result<(), EngineError> {
    let now = engine.now_ms();
    o.attempts += 1;
    o.last_error = Some(format!("{outage}: {error}"));
    let mut tx = engine.store().begin().await?;
    outage::seen(
        &mut tx,
        engine,
        m,
        &o.connection_id,
        outage,
        &error.to_string(),
        now,
    )
    .await?;
    if o.attempts > RETRIES {
        o.manual = true;
        let message = format!(
            "order {} could not reach the POS after {} attempts ({outage}): {error}",
            o.channel_order_id, o.attempts
        );
        if o.status == RECEIVED {
            status::advance(
                &mut tx,
                m,
                &mut o,
                status::FAILED,
                None,
                Some(message.clone()),
                now,
            )
            .await?;
            needs_staff(&mut tx, engine, m, &o, "order_failed", &message, now).await?;
        } else {
            o.next_attempt_at = Some(reconcile_at(engine, now));
            fail_payment(&mut tx, engine, m, &mut o, &message, now).await?;
        }
    } else {
        let base = engine.config().order_retry_base.as_millis() as i64;
        o.next_attempt_at = Some(now + base * (1 << (o.attempts - 1)));
        o.updated_at = now;
        ordering::update(&mut tx, m, &o).await?;
    }
    tillbridge_store::commit(tx).await?;
    Ok(())
}

async fn push(engine: &Engine, m: &str, o: OrderRow) -> Result<(), EngineError> {
    if o.series == "k" {
        push_k(engine, m, o).await
    } else {
        push_retail(engine, m, o).await
    }
}

/// X and R: the sale carries the payment, so the POS has the order and its payment at once.
async fn push_retail(engine: &Engine, m: &str, mut o: OrderRow) -> Result<(), EngineError> {
    let request = request_of(&o)?;
    let result = async {
        if let Some(sale) = retail::find(engine, m, &o).await? {
            return Ok(sale);
        }
        retail::create(engine, m, &o, &request).await
    }
    .await;
    let now = engine.now_ms();
    let sale = match result {
        Ok(sale) => sale,
        Err(CreateError::Engine(e)) if outage_of(&e).is_some() => {
            let kind = outage_of(&e).unwrap_or(outage::PARTNER_OUTAGE);
            return retry_or_fail(engine, m, o, kind, &e).await;
        }
        Err(e) => {
            let (to, reason, detail) = match e {
                CreateError::Refused(why) => (
                    REJECTED,
                    Some(Reason::of_pos_message(&why).as_str()),
                    format!("the POS refused the order: {why}"),
                ),
                CreateError::Prerequisite(why) => (status::FAILED, None, why),
                CreateError::Engine(e) => (
                    status::FAILED,
                    None,
                    format!(
                        "order {} could not be sent to the POS: {e}",
                        o.channel_order_id
                    ),
                ),
            };
            let mut tx = engine.store().begin().await?;
            o.manual = to == status::FAILED;
            status::advance(&mut tx, m, &mut o, to, reason, Some(detail.clone()), now).await?;
            if o.manual {
                needs_staff(&mut tx, engine, m, &o, "order_failed", &detail, now).await?;
            }
            return tillbridge_store::commit(tx)
                .await
                .map_err(EngineError::from);
        }
    };
    let mut tx = engine.store().begin().await?;
    outage::over(&mut tx, engine, m, &o.connection_id, now).await?;
    o.attempts = 0;
    o.last_error = None;
    o.submitted_at = Some(now);
    o.pos_account = Some(sale.id);
    o.next_attempt_at = Some(reconcile_at(engine, now));
    let (to, detail) = match sale.state {
        SaleState::Open => (ACCEPTED, None),
        SaleState::Completed => (COMPLETED, None),
        SaleState::Cancelled => (CANCELLED, Some(CANCELLED_BY_MERCHANT.to_owned())),
    };
    if !status::advance(&mut tx, m, &mut o, to, None, detail, now).await? {
        ordering::update(&mut tx, m, &o).await?;
    }
    if o.payment_status == PAY_PENDING {
        status::set_payment(&mut tx, m, &mut o, PAY_APPLIED, None, now).await?;
    }
    tillbridge_store::commit(tx)
        .await
        .map_err(EngineError::from)
}

async fn push_k(engine: &Engine, m: &str, mut o: OrderRow) -> Result<(), EngineError> {
    let request = request_of(&o)?;
    let (local, body) = kseries::order_body(&o, &request, &engine.k_endpoint_id(&o.connection_id));
    let result = engine
        .k_submit_order(m, &o.connection_id, local, &body)
        .await;
    // Where the order goes: (status, reason, detail, raise an alert).
    let (to, reason, detail, alert) = match result {
        // A 409 is the POS saying it has this reference already: a resent order.
        Ok(()) | Err(EngineError::Provider(LightspeedError::BadRequest { status: 409, .. })) => {
            (SUBMITTED, None, None, false)
        }
        Err(EngineError::Provider(LightspeedError::BadRequest { detail, .. })) => (
            REJECTED,
            Some(Reason::of_pos_message(&detail).as_str()),
            Some(format!("the POS refused the order: {detail}")),
            false,
        ),
        Err(e) => match outage_of(&e) {
            Some(outage) => return retry_or_fail(engine, m, o, outage, &e).await,
            None => (
                status::FAILED,
                None,
                Some(format!(
                    "order {} could not be sent to the POS: {e}",
                    o.channel_order_id
                )),
                true,
            ),
        },
    };
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    if to != status::FAILED {
        outage::over(&mut tx, engine, m, &o.connection_id, now).await?;
    }
    if to == SUBMITTED {
        o.attempts = 0;
        o.last_error = None;
        o.submitted_at = Some(now);
        o.next_attempt_at = Some(reconcile_at(engine, now));
    }
    o.manual = alert;
    status::advance(&mut tx, m, &mut o, to, reason, detail.clone(), now).await?;
    if let Some(message) = detail.filter(|_| alert) {
        needs_staff(&mut tx, engine, m, &o, "order_failed", &message, now).await?;
    }
    tillbridge_store::commit(tx)
        .await
        .map_err(EngineError::from)
}

async fn pay(engine: &Engine, m: &str, mut o: OrderRow) -> Result<(), EngineError> {
    let request = request_of(&o)?;
    let Some(body) = kseries::payment_body(&o, &request, &engine.k_endpoint_id(&o.connection_id))
    else {
        return reconcile(engine, m, o).await;
    };
    let result = engine.k_pay(m, &o.connection_id, &body).await;
    // Why the payment was refused; `None` when it was sent now or before (the reference is
    // taken): the webhook tells the outcome.
    let refused = match result {
        Ok(()) => None,
        Err(EngineError::Provider(LightspeedError::BadRequest { detail, .. })) => (!detail
            .contains("reference has already been used"))
        .then(|| format!("the POS refused the payment: {detail}")),
        Err(e) => match outage_of(&e) {
            Some(outage) => return retry_or_fail(engine, m, o, outage, &e).await,
            None => Some(format!("the payment could not be sent: {e}")),
        },
    };
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    outage::over(&mut tx, engine, m, &o.connection_id, now).await?;
    o.next_attempt_at = Some(reconcile_at(engine, now));
    match refused {
        Some(why) => fail_payment(&mut tx, engine, m, &mut o, &why, now).await?,
        None => {
            o.attempts = 0;
            o.last_error = None;
            if !status::set_payment(&mut tx, m, &mut o, PAY_SUBMITTED, None, now).await? {
                ordering::update(&mut tx, m, &o).await?;
            }
        }
    }
    tillbridge_store::commit(tx)
        .await
        .map_err(EngineError::from)
}

/// Asks the POS how the order stands: its account while open, its sale once closed.
async fn reconcile(engine: &Engine, m: &str, mut o: OrderRow) -> Result<(), EngineError> {
    let (c, bl) = (o.connection_id.clone(), o.pos_location.clone());
    let outcome: Result<Option<(&str, Option<String>)>, EngineError> = async {
        if o.series != "k" {
            let sale = match o.pos_account.clone() {
                Some(id) => retail::get(engine, m, &o, &id).await?,
                None => retail::find(engine, m, &o).await?,
            };
            return Ok(match sale.map(|s| s.state) {
                Some(SaleState::Completed) => Some((COMPLETED, None)),
                Some(SaleState::Cancelled) => {
                    Some((CANCELLED, Some(CANCELLED_BY_MERCHANT.to_owned())))
                }
                // Accepted once, now gone: deleted in the POS.
                None if o.pos_account.is_some() => {
                    Some((CANCELLED, Some(CANCELLED_BY_MERCHANT.to_owned())))
                }
                _ => None,
            });
        }
        if let Some(account) = o.pos_account.clone() {
            match engine.k_account(m, &c, &bl, &account).await? {
                Some(snapshot) if snapshot.close_date.is_some() => {
                    return Ok(Some((COMPLETED, None)))
                }
                Some(snapshot) => {
                    let reference = kseries::payment_reference(&o.id);
                    if o.payment_status == PAY_SUBMITTED
                        && snapshot
                            .payment_entries
                            .iter()
                            .any(|p| p.external_reference.as_deref() == Some(reference.as_str()))
                    {
                        return Ok(Some((PAY_APPLIED, None)));
                    }
                    return Ok(None);
                }
                None => {}
            }
        }
        Ok(match engine.k_sale_by_reference(m, &c, &bl, &o.id).await? {
            Some(sale) if sale.cancelled == Some(true) => {
                Some((CANCELLED, Some(CANCELLED_BY_MERCHANT.to_owned())))
            }
            Some(sale) => {
                if o.pos_account.is_none() {
                    o.pos_account = sale.account_fisc_id;
                }
                Some((COMPLETED, None))
            }
            // Accepted once but neither open nor closed: voided in the POS.
            None if o.pos_account.is_some() => {
                Some((CANCELLED, Some(CANCELLED_BY_MERCHANT.to_owned())))
            }
            None => None,
        })
    }
    .await;
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    o.next_attempt_at = Some(reconcile_at(engine, now));
    if outcome.is_ok() {
        outage::over(&mut tx, engine, m, &c, now).await?;
    }
    let changed = match outcome {
        Ok(Some((PAY_APPLIED, _))) => {
            status::set_payment(&mut tx, m, &mut o, PAY_APPLIED, None, now).await?
        }
        Ok(Some((COMPLETED, _))) => complete(&mut tx, engine, m, &mut o, now).await?,
        Ok(Some((to, detail))) => {
            status::advance(&mut tx, m, &mut o, to, None, detail, now).await?
        }
        Ok(None) => false,
        Err(e) => match outage_of(&e) {
            Some(kind) => {
                outage::seen(&mut tx, engine, m, &c, kind, &e.to_string(), now).await?;
                o.last_error = Some(format!("status check: {e}"));
                false
            }
            None => return Err(e),
        },
    };
    if !changed {
        o.updated_at = now;
        ordering::update(&mut tx, m, &o).await?;
    }
    tillbridge_store::commit(tx)
        .await
        .map_err(EngineError::from)
}
