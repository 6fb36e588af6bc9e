//! The O-Series REST API (see the module documentation for the dialect).

use crate::faults;
use crate::http::{bearer, json};
use crate::ratelimit::{Bucket, K_BURST, K_RATE_PER_SEC};
use crate::wire::{cents, round_half_even_to_cents};
use crate::world::{uid, Merchant, World};
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/oseries/v1/me", get(me))
        .route("/oseries/v1/locations", get(locations))
        .route("/oseries/v1/menu/categories", get(categories))
        .route("/oseries/v1/checks", get(checks))
        .route("/oseries/v1/customers", get(customers))
        .route("/oseries/v1/webhooks", post(subscribe).get(list_webhooks))
}

type Params = HashMap<String, String>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        json!({ "error": { "code": code, "message": message } }),
    )
}

/// The bucket headers every answer carries.
type Budget = [(&'static str, String); 2];

fn guard(
    w: &mut World,
    scale: f64,
    headers: &HeaderMap,
) -> (Duration, Result<(String, Budget), Response>) {
    w.count("o").requests += 1;
    let Some(token) = bearer(headers) else {
        return (
            Duration::ZERO,
            Err(error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing bearer token",
            )),
        );
    };
    let (client_id, merchant_id) = match w.access_tokens.get(&token) {
        Some(t) if t.expires > Instant::now() => (t.client_id.clone(), t.merchant_id.clone()),
        Some(_) => {
            return (
                Duration::ZERO,
                Err(error(
                    StatusCode::UNAUTHORIZED,
                    "token_expired",
                    "the access token expired",
                )),
            )
        }
        None => {
            return (
                Duration::ZERO,
                Err(error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the access token is not valid",
                )),
            )
        }
    };
    let effect = faults::apply(&mut w.faults, Some(&merchant_id), false);
    if let Some(kind) = effect.fail {
        return (
            effect.delay,
            Err(crate::kseries::fault_response(w, kind, "o")),
        );
    }
    let bucket = w
        .buckets
        .entry(format!("o:{client_id}:{merchant_id}"))
        .or_insert_with(|| Bucket::new(K_BURST));
    let taken = match w.rate_limits {
        true => bucket.take(K_BURST, K_RATE_PER_SEC * scale),
        false => Ok(()),
    };
    let budget: Budget = [
        (
            "x-ls-api-bucket-level",
            format!("{:.2}/{K_BURST}", K_BURST - bucket.available()),
        ),
        ("x-ls-api-drip-rate", format!("{}", K_RATE_PER_SEC * scale)),
    ];
    if let Err(wait) = taken {
        w.stats.rate_limited += 1;
        w.count("o").rate_limited += 1;
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests",
        );
        if let Ok(v) = HeaderValue::from_str(&(wait.ceil().max(1.0) as u64).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return (effect.delay, Err(crate::rseries::with_headers(r, &budget)));
    }
    if effect.malformed {
        return (
            effect.delay,
            Err((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"data\": [{\"id\": ",
            )
                .into_response()),
        );
    }
    (effect.delay, Ok((merchant_id, budget)))
}

async fn with_merchant(
    sb: &Sandbox,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Merchant) -> Response,
) -> Response {
    let scale = sb.time_scale();
    let (delay, response) = sb.with_world(|w| {
        let (delay, guarded) = guard(w, scale, headers);
        let response = match guarded {
            Err(r) => r,
            Ok((id, budget)) => match w.merchants.get_mut(&id) {
                Some(m) => crate::rseries::with_headers(f(m), &budget),
                None => error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "the access token is not valid",
                ),
            },
        };
        (delay, response)
    });
    crate::kseries::delayed(delay, response).await
}

async fn me(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    with_merchant(&sb, &headers, |m| {
        json(
            StatusCode::OK,
            json!({ "restaurant_group": { "id": m.business_id.to_string(), "name": m.name } }),
        )
    })
    .await
}

async fn locations(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    with_merchant(&sb, &headers, |m| {
        let data: Vec<Value> = m.locations.iter().map(|l| json!({ "id": l.uid, "name": l.name, "timezone": l.zone.name(), "currency": m.currency })).collect();
        json(StatusCode::OK, json!({ "data": data }))
    })
    .await
}

async fn categories(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    with_merchant(&sb, &headers, |m| json(StatusCode::OK, json!({ "data": m.groups.iter().map(|g| json!({ "id": g.uid, "name": g.name })).collect::<Vec<_>>() }))).await
}

fn iso(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn check(m: &Merchant, i: usize) -> Value {
    let s = &m.sales[i];
    let loc = &m.locations[s.location];
    let updated = s.voided_at.unwrap_or(s.closed);
    let items: Vec<Value> = s
        .lines
        .iter()
        .map(|l| {
            let item = &m.menu[l.item];
            let g = &m.groups[item.group];
            json!({ "id": l.uid, "menu_item_id": item.uid, "name": item.name, "sku": item.sku, "category": { "id": g.uid, "name": g.name },
                    "quantity": l.quantity, "unit_price": cents(l.unit_cents), "discount": cents(l.discount_cents),
                    "tax": cents(round_half_even_to_cents(l.tax_10k)), "total": cents(l.total_cents) })
        })
        .collect();
    let total: i64 = s.lines.iter().map(|l| l.total_cents).sum();
    let tax: i64 = s
        .lines
        .iter()
        .map(|l| round_half_even_to_cents(l.tax_10k))
        .sum();
    let tip: i64 = s.payments.iter().map(|p| p.tip_cents).sum();
    let original = s
        .source
        .as_ref()
        .and_then(|f| m.sales.iter().find(|o| &o.fisc_id == f))
        .map(|o| o.uid.clone());
    json!({
        "id": s.uid, "number": s.serial, "location_id": loc.uid, "register_id": loc.devices[s.device].uid,
        "status": if s.voided_at.is_some() { "voided" } else { "closed" },
        "type": if s.source.is_some() { "refund" } else { "sale" }, "refund_of": original,
        "opened_at": iso(s.opened), "closed_at": iso(s.closed), "updated_at": iso(updated),
        "guest_count": s.covers, "table": s.table,
        "customer": s.customer.map(|c| { let c = &m.customers[c]; json!({ "id": c.uuid, "email": c.email, "first_name": c.first_name, "last_name": c.last_name }) }),
        "items": items,
        "payments": s.payments.iter().map(|p| json!({ "id": p.uuid, "type": if p.method == 0 { "cash" } else { "card" }, "amount": cents(p.amount_cents), "tip": cents(p.tip_cents) })).collect::<Vec<_>>(),
        "totals": { "subtotal": cents(total - tax), "tax": cents(tax), "tip": cents(tip), "total": cents(total) },
    })
}

async fn checks(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Query(q): Query<Params>,
) -> Response {
    with_merchant(&sb, &headers, |m| {
        let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
            None => 100,
            Some(Ok(n)) if (1..=200).contains(&n) => n,
            Some(_) => return error(StatusCode::BAD_REQUEST, "invalid_limit", "limit must be between 1 and 200"),
        };
        let since = match q.get("updated_since") {
            None => None,
            Some(raw) => match crate::wire::parse_instant(raw) {
                Some(t) => Some(t),
                None => return error(StatusCode::BAD_REQUEST, "invalid_updated_since", &format!("`{raw}` is not an ISO-8601 instant")),
            },
        };
        let after = match q.get("cursor") {
            None => None,
            Some(c) => match URL_SAFE_NO_PAD.decode(c).ok().and_then(|b| String::from_utf8(b).ok()).and_then(|t| {
                let (ms, serial) = t.split_once(':')?;
                Some((ms.parse::<i64>().ok()?, serial.parse::<u64>().ok()?))
            }) {
                Some(a) => Some(a),
                None => return error(StatusCode::BAD_REQUEST, "invalid_cursor", "cursor is not valid: pass next_cursor unchanged"),
            },
        };
        let key = |i: usize| (m.sales[i].voided_at.unwrap_or(m.sales[i].closed).timestamp_millis(), m.sales[i].serial);
        let mut hits: Vec<usize> = (0..m.sales.len())
            .filter(|&i| since.is_none_or(|t| m.sales[i].voided_at.unwrap_or(m.sales[i].closed) >= t))
            .filter(|&i| after.is_none_or(|a| key(i) > a))
            .collect();
        hits.sort_by_key(|&i| key(i));
        let more = hits.len() > limit;
        hits.truncate(limit);
        let next = if more { hits.last().map(|&i| { let (ms, serial) = key(i); URL_SAFE_NO_PAD.encode(format!("{ms}:{serial}")) }) } else { None };
        json(StatusCode::OK, json!({ "data": hits.iter().map(|&i| check(m, i)).collect::<Vec<_>>(), "next_cursor": next }))
    })
    .await
}

async fn customers(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Query(q): Query<Params>,
) -> Response {
    with_merchant(&sb, &headers, |m| {
        let email = q.get("email").map(|e| e.trim().to_lowercase());
        let data: Vec<Value> = m
            .customers
            .iter()
            .filter(|c| email.as_ref().is_none_or(|e| c.email.as_ref().is_some_and(|x| x.trim().to_lowercase() == *e)))
            .map(|c| json!({ "id": c.uuid, "email": c.email, "first_name": c.first_name, "last_name": c.last_name }))
            .collect();
        json(StatusCode::OK, json!({ "data": data }))
    })
    .await
}

async fn subscribe(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    with_merchant(&sb, &headers, |m| {
        let Ok(req) = serde_json::from_slice::<Value>(&body) else { return error(StatusCode::BAD_REQUEST, "invalid_json", "the body is not JSON") };
        let Some(url) = req["url"].as_str().filter(|u| url::Url::parse(u).is_ok()) else { return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_url", "url must be an absolute URL") };
        if m.o_webhooks.iter().any(|(_, u, _)| u == url) {
            return error(StatusCode::CONFLICT, "duplicate", "a subscription for this URL exists");
        }
        let id = uid(&mut m.rng);
        let secret = format!("whsec_{}", crate::world::random_token(&mut m.rng, 32));
        m.o_webhooks.push((id.clone(), url.to_owned(), secret.clone()));
        json(StatusCode::CREATED, json!({ "id": id, "url": url, "events": ["check.closed", "check.updated"], "secret": secret }))
    })
    .await
}

async fn list_webhooks(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    with_merchant(&sb, &headers, |m| {
        json(StatusCode::OK, json!({ "data": m.o_webhooks.iter().map(|(id, url, _)| json!({ "id": id, "url": url, "events": ["check.closed", "check.updated"] })).collect::<Vec<_>>() }))
    })
    .await
}
