//! X-Series online orders: `POST /api/register_sales` (API 0.9) creates a sale, here one with an
//! online status (`AWAITING_PICKUP`, `AWAITING_DISPATCH`) or `CLOSED`, and
//! `POST /api/2.0/sales/{id}/fulfill` closes an online one (idempotent). Each change sends
//! `sale.update` to the store's subscriptions.

use super::api::{error, with_store};
use super::render;
use crate::http::json;
use crate::online_sales::{self, NewSale};
use crate::world::{Merchant, OnlineSale};
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/xseries/{prefix}/api/register_sales", post(register_sale))
        .route(
            "/xseries/{prefix}/api/2.0/sales/{id}/fulfill",
            post(fulfill),
        )
}

#[derive(Deserialize)]
struct RegisterSale {
    id: Option<String>,
    register_id: Option<String>,
    customer_id: Option<String>,
    source_id: Option<String>,
    status: Option<String>,
    invoice_number: Option<String>,
    note: Option<String>,
    #[serde(default)]
    register_sale_products: Vec<SaleProduct>,
    #[serde(default)]
    register_sale_payments: Vec<SalePaymentIn>,
}

#[derive(Deserialize)]
struct SaleProduct {
    product_id: Option<String>,
    quantity: Option<Value>,
}

#[derive(Deserialize)]
struct SalePaymentIn {
    retailer_payment_type_id: Option<String>,
    amount: Option<Value>,
}

fn unprocessable(message: &str) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Unprocessable Entity",
        message,
    )
}

/// Checks the body against the store; the sale to record, or the error response.
fn new_sale(m: &Merchant, req: &RegisterSale) -> Result<NewSale, String> {
    if req.id.is_some() {
        return Err(
            "updating a sale is not supported for online orders: omit `id` to create one".into(),
        );
    }
    let status = req.status.as_deref().unwrap_or("SAVED");
    let dispatch = match status {
        "AWAITING_PICKUP" => Some(false),
        "AWAITING_DISPATCH" => Some(true),
        "CLOSED" => None,
        other => {
            return Err(format!(
                "status `{other}` cannot be created here: use AWAITING_PICKUP, AWAITING_DISPATCH or CLOSED"
            ))
        }
    };
    let register = req.register_id.as_deref().unwrap_or_default();
    let Some((location, device)) = (0..m.locations.len())
        .flat_map(|l| (0..m.locations[l].devices.len()).map(move |d| (l, d)))
        .find(|&(l, d)| m.locations[l].devices[d].uid == register)
    else {
        return Err(format!(
            "register_id `{register}` is not a register of this store"
        ));
    };
    let customer = match req.customer_id.as_deref() {
        None | Some("") => None,
        Some(id) => match m.customers.iter().position(|c| c.uuid == id) {
            Some(c) => Some(c),
            None => {
                return Err(format!(
                    "customer_id `{id}` is not a customer of this store"
                ))
            }
        },
    };
    if req.register_sale_products.is_empty() {
        return Err("a sale needs register_sale_products".into());
    }
    let mut lines = Vec::new();
    for (n, p) in req.register_sale_products.iter().enumerate() {
        let id = p.product_id.as_deref().unwrap_or_default();
        let Some(item) = m
            .menu
            .iter()
            .position(|i| i.uid == id && i.deleted_at.is_none())
        else {
            return Err(format!(
                "register_sale_products[{n}]: product `{id}` does not exist"
            ));
        };
        let quantity = p.quantity.as_ref().and_then(|q| match q {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        match quantity {
            Some(q) if q > 0 => lines.push((item, q)),
            _ => {
                return Err(format!(
                    "register_sale_products[{n}]: quantity must be a positive whole number"
                ))
            }
        }
    }
    let mut payments = Vec::new();
    for (n, p) in req.register_sale_payments.iter().enumerate() {
        let id = p.retailer_payment_type_id.as_deref().unwrap_or_default();
        let Some(method) = m.payment_methods.iter().position(|pm| pm.uid == id) else {
            return Err(format!(
                "register_sale_payments[{n}]: payment type `{id}` does not exist"
            ));
        };
        match p.amount.as_ref().and_then(crate::wire::amount_cents) {
            Some(a) if a > 0 => payments.push((method, a)),
            _ => {
                return Err(format!(
                    "register_sale_payments[{n}]: amount must be a positive amount"
                ))
            }
        }
    }
    let total = online_sales::total_cents(m, &lines);
    let paid: i64 = payments.iter().map(|p| p.1).sum();
    if paid != total {
        return Err(format!(
            "a {status} sale must be paid in full: the payments come to {} but the sale is {}",
            crate::wire::cents(paid),
            crate::wire::cents(total)
        ));
    }
    Ok(NewSale {
        location,
        device,
        customer,
        lines,
        payments,
        online: dispatch.map(|dispatch| OnlineSale {
            reference: req.invoice_number.clone().unwrap_or_default(),
            source: req.source_id.clone().unwrap_or_default(),
            dispatch,
            fulfilled: false,
            note: req.note.clone(),
        }),
    })
}

async fn register_sale(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    body: Bytes,
) -> Response {
    let mut changed = None;
    let response = with_store(&sb, &headers, &prefix, |m| {
        let req: RegisterSale = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    &format!("invalid JSON: {e}"),
                )
            }
        };
        match new_sale(m, &req) {
            Err(message) => unprocessable(&message),
            Ok(new) => {
                let i = online_sales::create(m, new);
                changed = Some((m.id.clone(), i));
                json(
                    StatusCode::OK,
                    json!({ "register_sale": render::sale_v1(m, i) }),
                )
            }
        }
    })
    .await;
    notify(&sb, changed);
    response
}

/// `sale.update` for a sale that changed: `(merchant id, sale index)`.
fn notify(sb: &Sandbox, changed: Option<(String, usize)>) {
    if let Some((merchant, i)) = changed {
        sb.send_webhooks(&merchant, |w| {
            w.merchants
                .get(&merchant)
                .map(|m| super::webhooks::sale_updates(m, &[i]))
                .unwrap_or_default()
        });
    }
}

#[derive(Deserialize)]
struct Fulfill {
    fulfillment_type: Option<String>,
}

async fn fulfill(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((prefix, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut changed = None;
    let response = with_store(&sb, &headers, &prefix, |m| {
        let kind = serde_json::from_slice::<Fulfill>(&body)
            .ok()
            .and_then(|f| f.fulfillment_type);
        if !matches!(kind.as_deref(), Some("SHIPPED" | "PICKED_UP")) {
            return unprocessable("fulfillment_type must be SHIPPED or PICKED_UP");
        }
        let Some(i) = m.sales.iter().position(|s| s.uid == id) else {
            return error(
                StatusCode::NOT_FOUND,
                "Not Found",
                &format!("no sale `{id}`"),
            );
        };
        let before = m.sales[i].version;
        match online_sales::fulfil(m, i) {
            Err(message) => unprocessable(&message),
            Ok(()) => {
                if m.sales[i].version != before {
                    changed = Some((m.id.clone(), i));
                }
                json(
                    StatusCode::OK,
                    json!({ "data": { "sale_id": id, "fulfillment_type": kind, "status": render::status(m, i) } }),
                )
            }
        }
    })
    .await;
    notify(&sb, changed);
    response
}
