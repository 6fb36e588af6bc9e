//! K-Series Order & Pay bodies: the order (`/o/op/1/order/local` for dine-in, `/toGo` for
//! takeaway and delivery) and its payment (`/o/op/1/pay`). The hub's order id is the
//! `thirdPartyReference` (unique, at most 48 characters) and `{id}-pay` the payment's.

use crate::request::{decimal, OrderRequest, OrderType};
use serde_json::{json, Value};
use tillbridge_store::ordering::OrderRow;

/// The payment reference of an order.
pub fn payment_reference(order_id: &str) -> String {
    format!("{order_id}-pay")
}

/// The order id a payment reference belongs to.
pub fn order_of_payment_reference(reference: &str) -> &str {
    reference.strip_suffix("-pay").unwrap_or(reference)
}

fn location_id(o: &OrderRow) -> Value {
    o.pos_location
        .parse::<i64>()
        .map_or_else(|_| Value::from(o.pos_location.clone()), Value::from)
}

/// The order body, and whether it goes to `/order/local`.
pub fn order_body(o: &OrderRow, r: &OrderRequest, endpoint_id: &str) -> (bool, Value) {
    let local = r.order_type == OrderType::DineIn;
    let items: Vec<Value> = r
        .items
        .iter()
        .map(|i| {
            let mut item = json!({ "sku": i.sku, "quantity": i.quantity });
            if !i.modifiers.is_empty() {
                item["modifiers"] = json!(i
                    .modifiers
                    .iter()
                    .map(|m| json!({"modifierId": m}))
                    .collect::<Vec<_>>());
            }
            if !i.sub_items.is_empty() {
                item["subItems"] = json!(i
                    .sub_items
                    .iter()
                    .map(|s| json!({"sku": s.sku, "quantity": s.quantity}))
                    .collect::<Vec<_>>());
            }
            item
        })
        .collect();
    let mut customer = json!({ "firstName": r.customer.first_name.trim() });
    if let Some(v) = &r.customer.last_name {
        customer["lastName"] = json!(v);
    }
    if let Some(v) = &r.customer.email {
        customer["email"] = json!(v.trim());
    }
    if let Some(v) = &r.customer.phone {
        customer["contactNumberAsE164"] = json!(v);
    }
    let mut body = json!({
        "businessLocationId": location_id(o),
        "thirdPartyReference": o.id,
        "endpointId": endpoint_id,
        "customerInfo": customer,
        "items": items,
        // How long Lightspeed keeps trying to reach the POS before it reports a failure.
        "maxTimeToAttemptOrderDeliverToPos": 300_000,
    });
    if let Some(notes) = r.notes() {
        body["orderNote"] = json!(notes);
    }
    if let Some(code) = o.request.get("account_profile").and_then(Value::as_str) {
        body["accountProfileCode"] = json!(code);
    }
    if let Some(at) = &r.scheduled_at {
        body[if local {
            "scheduledTimeForOrderAsIso8601"
        } else {
            "orderCollectionTimeAsIso8601"
        }] = json!(at);
    }
    if local {
        body["tableNumber"] = json!(r.table);
        body["clientCount"] = json!(r.covers.unwrap_or(1));
    }
    if let Some(a) = &r.delivery_address {
        body["deliveryAddress"] = json!({
            "addressLine1": a.line1, "addressLine2": a.line2, "zip": a.zip, "city": a.city,
        });
    }
    (local, body)
}

/// The payment body for an accepted order.
pub fn payment_body(o: &OrderRow, r: &OrderRequest, endpoint_id: &str) -> Option<Value> {
    let p = r.payment.as_ref()?;
    Some(json!({
        "businessLocationId": location_id(o),
        "endpointId": endpoint_id,
        "iKaccountIdentifier": o.pos_account,
        "paymentMethod": p.method.clone().unwrap_or_else(|| "OOPAYMENT".into()),
        "paymentAmount": decimal(p.amount_minor),
        "tipAmount": decimal(p.tip_minor),
        "thirdPartyPaymentReference": payment_reference(&o.id),
    }))
}
