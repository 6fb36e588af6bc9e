//! Online orders on the retail series, where an order is a sale: X-Series `register_sales` with
//! an online status (`AWAITING_PICKUP`, `AWAITING_DISPATCH`) and R-Series a `Sale` left open.
//! The store fulfils it (X `PICKED_UP_CLOSED` / `DISPATCHED_CLOSED`, R completed) or voids it;
//! the control API plays the staff doing so.

use crate::generate;
use crate::webhooks::Delivery;
use crate::wire::cents;
use crate::world::{Merchant, OnlineSale, SalePayment};
use chrono::Utc;
use serde_json::{json, Value};

/// A sale as the API asked for it, already checked against the store.
pub(crate) struct NewSale {
    pub location: usize,
    pub device: usize,
    pub customer: Option<usize>,
    /// (menu index, quantity)
    pub lines: Vec<(usize, i64)>,
    /// (payment method index, amount in cents)
    pub payments: Vec<(usize, i64)>,
    pub online: Option<OnlineSale>,
}

/// What the lines of a sale cost, tax included, in cents.
pub(crate) fn total_cents(m: &Merchant, lines: &[(usize, i64)]) -> i64 {
    lines
        .iter()
        .map(|&(item, qty)| m.menu[item].price_cents * qty)
        .sum()
}

/// Records the sale; returns its index.
pub(crate) fn create(m: &mut Merchant, new: NewSale) -> usize {
    let now = Utc::now();
    let lines: Vec<_> = new
        .lines
        .iter()
        .map(|&(item, qty)| generate::make_line(m, new.location, item, qty, 0))
        .collect();
    let (method, first) = new.payments.first().copied().unwrap_or((0, 0));
    let i = generate::push_sale(
        m,
        new.location,
        new.device,
        crate::world::SaleType::Sale,
        None,
        now,
        now,
        lines,
        method,
        first,
        0,
        1,
        false,
        None,
        new.customer,
    );
    let s = &mut m.sales[i];
    let template = s.payments[0].clone();
    s.payments = new
        .payments
        .iter()
        .enumerate()
        .map(|(n, &(method, amount_cents))| SalePayment {
            method,
            amount_cents,
            tip_cents: 0,
            fisc_id: format!("{}.{n}", template.fisc_id),
            uuid: format!("{}{n}", template.uuid),
        })
        .collect();
    s.online = new.online;
    for &(item, qty) in &new.lines {
        let sku = m.menu[item].sku.clone();
        m.take_stock(new.location, &sku, qty);
    }
    i
}

/// The awaiting online sale with this reference.
pub(crate) fn find(m: &Merchant, reference: &str) -> Option<usize> {
    m.sales
        .iter()
        .position(|s| s.online.as_ref().is_some_and(|o| o.reference == reference))
}

/// Fulfils an awaiting online sale (idempotent); `Err` when it cannot be.
pub(crate) fn fulfil(m: &mut Merchant, i: usize) -> Result<(), String> {
    let s = &m.sales[i];
    match &s.online {
        None => return Err("the sale is not an online order awaiting fulfilment".into()),
        Some(_) if s.voided_at.is_some() => return Err("the sale was voided".into()),
        Some(o) if o.fulfilled => return Ok(()),
        Some(_) => {}
    }
    let version = m.next_version();
    let s = &mut m.sales[i];
    if let Some(o) = s.online.as_mut() {
        o.fulfilled = true;
    }
    s.closed = Utc::now();
    s.version = version;
    Ok(())
}

/// Voids an online sale the store has not fulfilled.
pub(crate) fn void(m: &mut Merchant, i: usize) -> Result<(), String> {
    if !m.sales[i].awaiting() {
        return Err("only an online order awaiting fulfilment can be voided".into());
    }
    let version = m.next_version();
    let s = &mut m.sales[i];
    s.voided_at = Some(Utc::now());
    s.version = version;
    Ok(())
}

fn state(m: &Merchant, i: usize) -> &'static str {
    let s = &m.sales[i];
    match &s.online {
        _ if s.voided_at.is_some() => "voided",
        Some(o) if o.fulfilled => "fulfilled",
        _ => "awaiting",
    }
}

/// Plays the store on an online sale: `close` fulfils it, `void` voids it. X-Series sends
/// `sale.update` as it would from the till; R-Series has no webhooks.
pub(crate) fn staff_action(
    m: &mut Merchant,
    reference: &str,
    action: &str,
) -> Result<(Value, Vec<Delivery>), String> {
    let i = find(m, reference)
        .ok_or_else(|| format!("no online order with reference `{reference}`"))?;
    match action {
        "close" => fulfil(m, i)?,
        "void" => void(m, i)?,
        "ready" => {
            return Err(format!(
                "{}-Series has no ready state for an online sale: use close or void",
                m.series.to_uppercase()
            ))
        }
        other => return Err(format!("unknown action `{other}`: use close or void")),
    }
    let deliveries = if m.series == "x" {
        crate::xseries::webhooks::sale_updates(m, &[i])
    } else {
        Vec::new()
    };
    Ok((view(m, i), deliveries))
}

fn view(m: &Merchant, i: usize) -> Value {
    let s = &m.sales[i];
    let o = s.online.as_ref();
    json!({
        "reference": o.map(|o| o.reference.clone()),
        "location": m.location_ref(s.location),
        "state": state(m, i),
        "identifier": m.sale_ref(i),
        "items": s.lines.iter().map(|l| json!({"sku": m.menu[l.item].sku, "quantity": l.quantity})).collect::<Vec<_>>(),
        "total": cents(s.lines.iter().map(|l| l.total_cents).sum()),
        "paid": cents(s.payments.iter().map(|p| p.amount_cents).sum()),
        "payments": s.payments.len(),
        "dispatch": o.is_some_and(|o| o.dispatch),
        "customer": s.customer.map(|c| m.customers[c].email.clone()),
    })
}

/// The online sales of a merchant, for the control API.
pub(crate) fn list(m: &Merchant) -> Vec<Value> {
    (0..m.sales.len())
        .filter(|&i| m.sales[i].online.is_some())
        .map(|i| view(m, i))
        .collect()
}
