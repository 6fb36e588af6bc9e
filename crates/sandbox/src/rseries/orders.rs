//! R-Series writes: `POST Sale.json` (lines and payments; a completed sale must balance, an
//! open one may not be overpaid), `POST Customer.json` (with a primary email in `Contact`) and
//! `POST Item.json` (see [`super::items`]).
//! Values may be strings or numbers, and a single child an object instead of an array, as the
//! API writes them itself. A sale costs 2 drips (+3 when completed) and 0.5 per nested entity.

use super::api::{error, with_account_mut};
use super::render::{self, Relations};
use crate::http::json;
use crate::online_sales::{self, NewSale};
use crate::world::{Merchant, OnlineSale};
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// A scalar as the API may send it: `"3"`, `3`, `"true"`, `true`.
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `{"SaleLine": {…}}` or `{"SaleLine": [{…}, …]}` as a list.
fn children<'a>(v: &'a Value, relation: &str, child: &str) -> Vec<&'a Value> {
    match v.get(relation).and_then(|r| r.get(child)) {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    }
}

pub(super) fn bad(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

pub(super) async fn create(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((acct, entity)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let cost = match (&parsed, entity.as_str()) {
        (Ok(v), "Sale.json") => {
            let nested = children(v, "SaleLines", "SaleLine").len()
                + children(v, "SalePayments", "SalePayment").len();
            let completed = text(v, "completed").as_deref() == Some("true");
            2.0 + if completed { 3.0 } else { 0.0 } + 0.5 * nested as f64
        }
        _ => 1.0,
    };
    with_account_mut(&sb, &headers, Some(&acct), cost, |m| {
        let v = match parsed {
            Ok(v) if v.is_object() => v,
            Ok(_) => return bad("the body must be a JSON object"),
            Err(e) => return bad(&format!("invalid JSON: {e}")),
        };
        match entity.as_str() {
            "Sale.json" => create_sale(m, &v),
            "Customer.json" => create_customer(m, &v),
            "Item.json" => super::items::create(m, &v),
            other => error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("`{other}` cannot be created through the sandbox"),
            ),
        }
    })
    .await
}

fn create_sale(m: &mut Merchant, v: &Value) -> Response {
    match new_sale(m, v) {
        Err(message) => bad(&message),
        Ok(new) => {
            let i = online_sales::create(m, new);
            let rel = Relations {
                lines: true,
                payments: true,
                ..Relations::default()
            };
            json(
                StatusCode::OK,
                json!({ "@attributes": { "count": "1" }, "Sale": render::sale(m, i, rel) }),
            )
        }
    }
}

fn new_sale(m: &Merchant, v: &Value) -> Result<NewSale, String> {
    let shop = text(v, "shopID").unwrap_or_default();
    let location = shop
        .parse::<usize>()
        .ok()
        .filter(|s| (1..=m.locations.len()).contains(s))
        .map(|s| s - 1)
        .ok_or_else(|| format!("shopID `{shop}` is not a shop of this account"))?;
    let device = match text(v, "registerID") {
        None => 0,
        Some(r) => (0..m.locations[location].devices.len())
            .find(|&d| m.register_ref(location, d) == r)
            .ok_or_else(|| format!("registerID `{r}` is not a register of shop {shop}"))?,
    };
    let customer = match text(v, "customerID").as_deref() {
        None | Some("0") | Some("") => None,
        Some(id) => Some(
            id.parse::<usize>()
                .ok()
                .filter(|c| (1..=m.customers.len()).contains(c))
                .map(|c| c - 1)
                .ok_or_else(|| format!("customerID `{id}` is not a customer of this account"))?,
        ),
    };
    let mut lines = Vec::new();
    for (n, l) in children(v, "SaleLines", "SaleLine").into_iter().enumerate() {
        let id = text(l, "itemID").unwrap_or_default();
        let item = id
            .parse::<usize>()
            .ok()
            .filter(|i| (1..=m.menu.len()).contains(i))
            .map(|i| i - 1)
            .ok_or_else(|| format!("SaleLine {n}: itemID `{id}` does not exist"))?;
        let quantity = text(l, "unitQuantity")
            .and_then(|q| q.parse::<i64>().ok())
            .filter(|q| *q > 0)
            .ok_or_else(|| format!("SaleLine {n}: unitQuantity must be a positive whole number"))?;
        lines.push((item, quantity));
    }
    if lines.is_empty() {
        return Err("a sale needs SaleLines".into());
    }
    let mut payments = Vec::new();
    for (n, p) in children(v, "SalePayments", "SalePayment")
        .into_iter()
        .enumerate()
    {
        let id = text(p, "paymentTypeID").unwrap_or_default();
        let method = id
            .parse::<usize>()
            .ok()
            .filter(|i| (1..=m.payment_methods.len()).contains(i))
            .map(|i| i - 1)
            .ok_or_else(|| format!("SalePayment {n}: paymentTypeID `{id}` does not exist"))?;
        let amount = p
            .get("amount")
            .and_then(crate::wire::amount_cents)
            .filter(|a| *a > 0)
            .ok_or_else(|| format!("SalePayment {n}: amount must be a positive amount"))?;
        payments.push((method, amount));
    }
    let total = online_sales::total_cents(m, &lines);
    let paid: i64 = payments.iter().map(|p| p.1).sum();
    let completed = text(v, "completed").as_deref() == Some("true");
    if completed && paid != total {
        return Err(format!(
            "Sale is not balanced: a completed sale must be paid in full (payments {}, total {})",
            render::amount(paid),
            render::amount(total)
        ));
    }
    if paid > total {
        return Err(format!(
            "the payments ({}) exceed the sale total ({})",
            render::amount(paid),
            render::amount(total)
        ));
    }
    let reference = text(v, "referenceNumber").unwrap_or_default();
    Ok(NewSale {
        location,
        device,
        customer,
        lines,
        payments,
        online: Some(OnlineSale {
            reference,
            source: text(v, "referenceNumberSource").unwrap_or_default(),
            dispatch: false,
            fulfilled: completed,
            note: None,
        }),
    })
}

fn create_customer(m: &mut Merchant, v: &Value) -> Response {
    let first = text(v, "firstName").unwrap_or_default();
    let last = text(v, "lastName").unwrap_or_default();
    if first.is_empty() && last.is_empty() {
        return bad("a customer needs a firstName or a lastName");
    }
    let email = v
        .get("Contact")
        .map(|c| children(c, "Emails", "ContactEmail"))
        .unwrap_or_default()
        .into_iter()
        .find_map(|e| text(e, "address"));
    let version = m.next_version();
    let uuid = crate::world::uid(&mut m.rng);
    m.customers.push(crate::world::Customer {
        uuid,
        version,
        customer_id: 10_000 + m.customers.len() as i64,
        first_name: first,
        last_name: last,
        email,
    });
    json(
        StatusCode::OK,
        json!({ "@attributes": { "count": "1" }, "Customer": render::customer(m, m.customers.len() - 1, true) }),
    )
}
