//! K-Series Order & Pay webhooks: endpoint registration under `/o/wh/1/webhook` (create with
//! PUT, update with POST — omitted flags reset to their defaults —, get, delete, and linked
//! business locations) and delivery.
//!
//! Delivery is a JSON POST to the endpoint's URL with an `X-Lightspeed-Idempotency-Key` that
//! stays the same across retries and duplicates, and Basic credentials when `withBasicAuth` is
//! set; there is no signature. Account `CLOSED` and `CHECK_WAS_UPDATED` are always sent, so
//! every account the sandbox closes (a sale, a refund or a void) notifies every endpoint of the
//! business; amounts inside are strings and instants carry `+0000` offsets, as in the
//! documented examples.

use super::data::with_merchant;
use crate::http::json;
use crate::webhooks::{Body, Delivery};
use crate::wire::{cents, k_instant};
use crate::world::{KWebhook, Merchant};
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use base64::Engine as _;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

const BASE: &str = "/kseries/o/wh/1/webhook";

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route(BASE, put(create).post(update))
        .route(&format!("{BASE}/{{endpoint}}"), get(read).delete(remove))
        .route(
            &format!("{BASE}/{{endpoint}}/business-locations"),
            get(locations),
        )
        .route(
            &format!("{BASE}/{{endpoint}}/business-locations/{{bl}}"),
            put(link).delete(unlink),
        )
}

/// The Spring error body the K-Series APIs answer with.
fn spring(status: StatusCode, message: impl Into<String>, path: &str) -> Response {
    json(
        status,
        json!({
            "timestamp": Utc::now(),
            "status": status.as_u16(),
            "error": status.canonical_reason(),
            "message": message.into(),
            "path": path.trim_start_matches("/kseries"),
        }),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registration {
    endpoint_id: Option<String>,
    url: Option<String>,
    #[serde(default)]
    with_basic_auth: bool,
    username: Option<String>,
    password: Option<String>,
    #[serde(default)]
    provide_account: bool,
    #[serde(default)]
    expand_transactions: bool,
    #[serde(default)]
    expand_payments: bool,
    #[serde(default)]
    subscribe_to: Vec<Value>,
}

fn view(h: &KWebhook) -> Value {
    json!({
        "endpointId": h.endpoint_id,
        "url": h.url,
        "withBasicAuth": h.with_basic_auth,
        "username": h.username,
        "provideAccount": h.provide_account,
        "expandTransactions": h.expand_transactions,
        "expandPayments": h.expand_payments,
        "subscribeTo": h.subscribe_to,
        "createdAt": k_instant(h.created_at),
        "updatedAt": k_instant(h.updated_at),
    })
}

fn not_found(endpoint: &str, path: &str) -> Response {
    spring(
        StatusCode::NOT_FOUND,
        format!("endpoint ID not found for {endpoint}"),
        path,
    )
}

/// Checks a registration body; returns the endpoint id and the webhook it describes.
fn validate(body: &Bytes) -> Result<(String, KWebhook), String> {
    let r: Registration =
        serde_json::from_slice(body).map_err(|e| format!("JSON parse error: {e}"))?;
    let endpoint_id = r
        .endpoint_id
        .filter(|e| !e.trim().is_empty())
        .ok_or("endpointId must not be blank")?;
    let url = r
        .url
        .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
        .ok_or("url must be an absolute http(s) URL")?;
    if r.with_basic_auth
        && (r.username.as_deref().is_none_or(str::is_empty)
            || r.password.as_deref().is_none_or(str::is_empty))
    {
        return Err("username and password are required when withBasicAuth is true".into());
    }
    for s in &r.subscribe_to {
        let resource = s
            .get("resource")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !matches!(resource, "order" | "payment" | "item" | "order_api") {
            return Err(format!(
                "subscribeTo.resource must be one of order, payment, item, order_api, not `{resource}`"
            ));
        }
    }
    let now = Utc::now();
    Ok((
        endpoint_id.clone(),
        KWebhook {
            endpoint_id,
            url,
            with_basic_auth: r.with_basic_auth,
            username: r.username,
            password: r.password,
            provide_account: r.provide_account,
            expand_transactions: r.expand_transactions,
            expand_payments: r.expand_payments,
            subscribe_to: r.subscribe_to,
            locations: Vec::new(),
            created_at: now,
            updated_at: now,
        },
    ))
}

async fn create(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    with_merchant(&sb, &headers, "orders-api", None, |m, _| {
        let (endpoint, hook) = match validate(&body) {
            Ok(v) => v,
            Err(e) => return spring(StatusCode::BAD_REQUEST, e, BASE),
        };
        if m.k_webhooks.iter().any(|h| h.endpoint_id == endpoint) {
            return spring(
                StatusCode::CONFLICT,
                format!("a webhook already exists for endpoint ID {endpoint}"),
                BASE,
            );
        }
        let v = view(&hook);
        m.k_webhooks.push(hook);
        json(StatusCode::OK, v)
    })
    .await
}

async fn update(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    with_merchant(&sb, &headers, "orders-api", None, |m, _| {
        let (endpoint, mut hook) = match validate(&body) {
            Ok(v) => v,
            Err(e) => return spring(StatusCode::BAD_REQUEST, e, BASE),
        };
        let Some(existing) = m.k_webhooks.iter_mut().find(|h| h.endpoint_id == endpoint) else {
            return not_found(&endpoint, BASE);
        };
        hook.locations = std::mem::take(&mut existing.locations);
        hook.created_at = existing.created_at;
        *existing = hook;
        json(StatusCode::OK, view(existing))
    })
    .await
}

async fn read(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(endpoint): Path<String>,
) -> Response {
    let path = format!("{BASE}/{endpoint}");
    with_merchant(&sb, &headers, "orders-api", None, |m, _| {
        match m.k_webhooks.iter().find(|h| h.endpoint_id == endpoint) {
            Some(h) => json(StatusCode::OK, view(h)),
            None => not_found(&endpoint, &path),
        }
    })
    .await
}

async fn remove(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(endpoint): Path<String>,
) -> Response {
    let path = format!("{BASE}/{endpoint}");
    with_merchant(&sb, &headers, "orders-api", None, |m, _| {
        let before = m.k_webhooks.len();
        m.k_webhooks.retain(|h| h.endpoint_id != endpoint);
        if m.k_webhooks.len() == before {
            return not_found(&endpoint, &path);
        }
        json(StatusCode::OK, json!({ "status": "ok" }))
    })
    .await
}

fn location_view(bl: &(i64, chrono::DateTime<Utc>, chrono::DateTime<Utc>)) -> Value {
    json!({
        "businessLocationId": bl.0,
        "createdAt": k_instant(bl.1),
        "updatedAt": k_instant(bl.2),
        "warnings": [],
    })
}

async fn locations(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(endpoint): Path<String>,
) -> Response {
    let path = format!("{BASE}/{endpoint}/business-locations");
    with_merchant(&sb, &headers, "orders-api", None, |m, _| {
        match m.k_webhooks.iter().find(|h| h.endpoint_id == endpoint) {
            Some(h) => json(
                StatusCode::OK,
                Value::from(h.locations.iter().map(location_view).collect::<Vec<_>>()),
            ),
            None => not_found(&endpoint, &path),
        }
    })
    .await
}

async fn link(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((endpoint, bl)): Path<(String, String)>,
) -> Response {
    let path = format!("{BASE}/{endpoint}/business-locations/{bl}");
    with_merchant(&sb, &headers, "orders-api", Some(&bl), |m, loc| {
        let Some(loc) = loc else {
            return spring(
                StatusCode::NOT_FOUND,
                format!("business location {bl} not found"),
                &path,
            );
        };
        let id = m.locations[loc].id;
        let Some(h) = m.k_webhooks.iter_mut().find(|h| h.endpoint_id == endpoint) else {
            return not_found(&endpoint, &path);
        };
        let now = Utc::now();
        match h.locations.iter_mut().find(|l| l.0 == id) {
            Some(l) => l.2 = now,
            None => h.locations.push((id, now, now)),
        }
        let entry = h.locations.iter().find(|l| l.0 == id).map(location_view);
        json(StatusCode::OK, entry.unwrap_or(Value::Null))
    })
    .await
}

async fn unlink(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((endpoint, bl)): Path<(String, String)>,
) -> Response {
    let path = format!("{BASE}/{endpoint}/business-locations/{bl}");
    with_merchant(&sb, &headers, "orders-api", Some(&bl), |m, loc| {
        let id = loc.map(|l| m.locations[l].id);
        let Some(h) = m.k_webhooks.iter_mut().find(|h| h.endpoint_id == endpoint) else {
            return not_found(&endpoint, &path);
        };
        match h.locations.iter().position(|l| Some(l.0) == id) {
            Some(i) => json(StatusCode::OK, location_view(&h.locations.remove(i))),
            None => spring(
                StatusCode::NOT_FOUND,
                format!("business location {bl} is not linked to endpoint ID {endpoint}"),
                &path,
            ),
        }
    })
    .await
}

/// The third-party reference of a sale that was an online order
/// (`TASK:OO-{businessLocationId}-{reference}`).
pub(crate) fn online_reference(s: &crate::world::Sale) -> Option<&str> {
    s.external_reference
        .as_deref()
        .and_then(|r| r.strip_prefix("TASK:OO-"))
        .and_then(|r| r.split_once('-'))
        .map(|(_, reference)| reference)
}

/// Basic credentials and a fresh idempotency key for a delivery to `hook`.
/// A delivery of `body` to `hook`, with a fresh idempotency key and its credentials.
pub(crate) fn delivery(m: &mut Merchant, hook: &KWebhook, body: &Value) -> Delivery {
    Delivery {
        url: hook.url.clone(),
        headers: delivery_headers(m, hook),
        body: Body::Json(body.to_string()),
    }
}

fn delivery_headers(m: &mut Merchant, hook: &KWebhook) -> Vec<(String, String)> {
    let mut headers = vec![(
        "X-Lightspeed-Idempotency-Key".to_owned(),
        crate::world::uid(&mut m.rng),
    )];
    if hook.with_basic_auth {
        let credentials = format!(
            "{}:{}",
            hook.username.as_deref().unwrap_or_default(),
            hook.password.as_deref().unwrap_or_default()
        );
        headers.push((
            "Authorization".to_owned(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
        ));
    }
    headers
}

/// Item availability notifications for `sku` at location `loc`, to the endpoints subscribed to
/// the `item` resource that have the location linked: `RESTRICTED` with the count left, or
/// `NOT_RESTRICTED` when the restriction was lifted.
pub(crate) fn item_events(m: &mut Merchant, loc: usize, sku: &str) -> Vec<Delivery> {
    let bl = m.locations[loc].id;
    let stock = m.availability.get(&(loc, sku.to_owned())).cloned();
    let body = json!({
        "sku": sku,
        "businessLocationId": bl,
        "count": stock.as_ref().map(|s| s.count.max(0)),
        "countUpdatedAt": k_instant(stock.as_ref().map_or_else(Utc::now, |s| s.updated_at)),
        "status": if stock.is_some() { "RESTRICTED" } else { "NOT_RESTRICTED" },
        "type": "ITEM",
    });
    let mut out = Vec::new();
    for hook in m.k_webhooks.clone() {
        let subscribed = hook
            .subscribe_to
            .iter()
            .any(|s| s.get("resource").and_then(Value::as_str) == Some("item"));
        if !subscribed || !hook.locations.iter().any(|l| l.0 == bl) {
            continue;
        }
        out.push(delivery(m, &hook, &body));
    }
    out
}

/// Account notifications for the given closed accounts, to every endpoint of the business:
/// `CHECK_WAS_UPDATED` for an account voided after closing, `CLOSED` otherwise.
pub(crate) fn account_events(m: &mut Merchant, accounts: &[usize]) -> Vec<Delivery> {
    let mut out = Vec::new();
    for &i in accounts {
        let s = &m.sales[i];
        let status = if s.voided_at.is_some() {
            "CHECK_WAS_UPDATED"
        } else {
            "CLOSED"
        };
        let total: i64 = s.lines.iter().map(|l| l.total_cents).sum();
        let account = json!({
            "identifier": s.fisc_id,
            "accountReference": s.account_reference,
            "businessLocationId": m.locations[s.location].id,
            "closeDate": k_instant(s.voided_at.unwrap_or(s.closed)),
            "totalAmount": cents(total),
            "type": s.sale_type.wire(),
        });
        let mut body = json!({
            "status": status,
            "type": "ORDER",
            "businessLocationId": m.locations[s.location].id,
            "ikentooAccountId": s.account_reference,
            "ikentooAccountIdentifier": s.fisc_id,
            "thirdPartyReference": online_reference(s),
        });
        for hook in m.k_webhooks.clone() {
            if hook.provide_account {
                body["account"] = account.clone();
            } else if let Some(o) = body.as_object_mut() {
                o.remove("account");
            }
            out.push(delivery(m, &hook, &body));
        }
    }
    out
}
