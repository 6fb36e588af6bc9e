//! The sandbox control API under `/_sandbox/`: clients, merchants, sales, truth, stats, faults.

use crate::faults::FaultRequest;
use crate::generate::{self, MerchantRequest, SaleSpec};
use crate::http::{control_error, json};
use crate::truth;
use crate::wire::{cents, parse_instant};
use crate::world::{random_token, Customer, ItemKind, Merchant, SaleType, World};
use crate::Sandbox;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/_sandbox/clients", get(list_clients).post(register_client))
        .route(
            "/_sandbox/merchants",
            post(create_merchant).get(list_merchants),
        )
        .route("/_sandbox/merchants/{id}", get(get_merchant))
        .route("/_sandbox/merchants/{id}/sales", post(create_sales))
        .route("/_sandbox/merchants/{id}/truth", get(get_truth))
        .route(
            "/_sandbox/merchants/{id}/webhooks",
            get(get_webhooks).delete(delete_webhooks),
        )
        .route(
            "/_sandbox/merchants/{id}/online-orders",
            get(list_online_orders),
        )
        .route(
            "/_sandbox/merchants/{id}/online-orders/{reference}",
            post(online_order_action),
        )
        .route(
            "/_sandbox/merchants/{id}/availability",
            axum::routing::put(set_availability),
        )
        .route("/_sandbox/stats", get(get_stats))
        .route(
            "/_sandbox/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, Box<Response>> {
    payload.map(|Json(v)| v).map_err(|e| {
        Box::new(control_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the request body could not be read: {}", e.body_text()),
        ))
    })
}

fn clients_json(sb: &Sandbox, world: &World) -> Value {
    let base = sb.base_url();
    let list: Vec<Value> = world
        .clients
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if c.series == "k" {
                c.authorize_url = format!("{base}/kseries/oauth/authorize");
                c.token_url = format!("{base}/kseries/oauth/token");
                c.api_base = format!("{base}/kseries");
            } else if c.series == "o" {
                c.authorize_url = format!("{base}/oseries/oauth/authorize");
                c.token_url = format!("{base}/oseries/oauth/token");
                c.api_base = format!("{base}/oseries/v1");
            } else if c.series == "r" {
                c.authorize_url = format!("{base}/rseries/auth/oauth/authorize");
                c.token_url = format!("{base}/rseries/auth/oauth/token");
                c.api_base = format!("{base}/rseries/API/V3");
            } else {
                c.authorize_url = format!("{base}/xseries/connect");
                c.token_url = format!("{base}/xseries/{{domain_prefix}}/api/1.0/token");
                c.api_base = format!("{base}/xseries/{{domain_prefix}}");
            }
            let mut v = serde_json::to_value(&c).unwrap_or(Value::Null);
            v["loopback_redirects"] =
                json!("any http://127.0.0.1, http://localhost or http://[::1] URI is accepted");
            v
        })
        .collect();
    json!({ "clients": list })
}

async fn list_clients(State(sb): State<Sandbox>) -> Response {
    let body = sb.with_world(|w| clients_json(&sb, w));
    json(StatusCode::OK, body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientRequest {
    series: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// X-Series: whether refreshes rotate the refresh token (K-Series always rotates).
    #[serde(default)]
    rotate_refresh: Option<bool>,
}

async fn register_client(
    State(sb): State<Sandbox>,
    payload: Result<Json<ClientRequest>, JsonRejection>,
) -> Response {
    let req = match body(payload) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if !matches!(req.series.as_str(), "k" | "x" | "r" | "o") {
        return control_error(
            StatusCode::BAD_REQUEST,
            "unsupported_series",
            format!(
                "series `{}` is not simulated yet: use \"k\" or \"x\"",
                req.series
            ),
        );
    }
    if let Some(bad) = req
        .redirect_uris
        .iter()
        .find(|u| !u.starts_with("https://"))
    {
        return control_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", format!("`{bad}` is not an HTTPS URI; Lightspeed requires HTTPS redirect URIs (loopback http is always accepted without registration)"));
    }
    let client = sb.with_world(|w| {
        let rotate_series = req.series.clone();
        let client = crate::world::SandboxClient {
            series: req.series,
            client_id: format!("{}-client-{:08x}", rotate_series, w.rng.gen::<u32>()),
            client_secret: random_token(&mut w.rng, 32),
            redirect_uris: req.redirect_uris,
            authorize_url: String::new(),
            token_url: String::new(),
            api_base: String::new(),
            rotate_refresh: req.rotate_refresh.unwrap_or(rotate_series == "k"),
        };
        w.clients.push(client.clone());
        client
    });
    json(
        StatusCode::CREATED,
        serde_json::to_value(client).unwrap_or(Value::Null),
    )
}

pub fn merchant_json(m: &Merchant) -> Value {
    json!({
        "id": m.id,
        "series": m.series,
        "name": m.name,
        "business_id": m.business_id.to_string(),
        "currency": m.currency,
        "timezone": m.zone.name(),
        "login": { "username": m.login.username, "password": m.login.password },
        "domain_prefix": (m.series == "x").then_some(&m.domain_prefix),
        "account_id": (m.series == "r").then(|| m.business_id.to_string()),
        "personal_token": (m.series == "x").then_some(&m.personal_token),
        "locations": m.locations.iter().enumerate().map(|(i, l)| json!({
            "id": m.location_ref(i),
            "name": l.name,
            "timezone": l.zone.name(),
            "business_day_start": l.day_start.format("%H:%M").to_string(),
            "registers": (0..l.devices.len()).map(|d| json!({"id": m.register_ref(i, d), "name": l.devices[d].name})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "categories": (0..m.groups.len()).map(|g| json!({"id": m.category_ref(g), "name": m.groups[g].name})).collect::<Vec<_>>(),
        "menu": m.menu.iter().filter(|i| i.deleted_at.is_none()).map(|i| json!({
            "sku": i.sku,
            "name": i.name,
            "price": cents(i.price_cents),
            "category": m.groups[i.group].name,
            "item_id": (m.series == "k").then_some(i.id),
            "allergens": i.rich.allergens,
            "descriptions": i.rich.descriptions.iter().map(|d| json!({"locale": d.locale, "description": d.description, "display_name": d.display_name})).collect::<Vec<_>>(),
            "has_picture": i.rich.picture.is_some(),
            // K-Series production instructions, as the hub's catalog shows them.
            "instructions": if m.series == "k" {
                m.groups[i.group].instructions.iter().map(|g| json!({
                    "id": g.id.to_string(),
                    "name": g.name,
                    "multiple": g.multiple,
                    "instructions": g.instructions.iter().map(|(id, name)| json!({"id": id.to_string(), "name": name})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>()
            } else {
                Vec::new()
            },
            // K-Series product modifiers and deals, as the hub's catalog shows them.
            "kind": match i.kind {
                ItemKind::Plain => "item",
                ItemKind::Modifier => "modifier",
                ItemKind::Deal => "deal",
            },
            "choices": i.choices.iter().map(|g| json!({
                "sku": g.sku,
                "name": g.name,
                "min": g.min,
                "max": g.max,
                "options": m.live_options(g).map(|o| json!({
                    "sku": m.menu[o.item].sku,
                    "name": m.menu[o.item].name,
                    "price_minor": o.price_cents,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            // X-Series variant families, as the hub's catalog shows them.
            "variant": i.variant.as_ref().map(|v| json!({
                "family_id": m.menu[v.parent].uid,
                "family": v.family,
                "options": v.options.iter().map(|(name, value)| json!({"name": name, "value": value})).collect::<Vec<_>>(),
            })),
        })).collect::<Vec<_>>(),
        "print_messages": m.print_messages.iter().map(|p| json!({
            "location_id": m.location_ref(p.location),
            "message": p.message,
            "also_to_printer": p.also_to_printer,
            "at": p.at,
        })).collect::<Vec<_>>(),
        "customers": m.customers.len(),
        "sales": m.sales.len(),
    })
}

async fn create_merchant(
    State(sb): State<Sandbox>,
    payload: Result<Json<MerchantRequest>, JsonRejection>,
) -> Response {
    let req = match body(payload) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let result = sb.with_world(|w| {
        generate::create_merchant(w, &req, Utc::now()).map(|created| {
            w.merchants
                .get(&created.merchant_id)
                .map(merchant_json)
                .unwrap_or(Value::Null)
        })
    });
    match result {
        Ok(v) => json(StatusCode::CREATED, v),
        Err(message) => control_error(StatusCode::BAD_REQUEST, "invalid_merchant", message),
    }
}

async fn list_merchants(State(sb): State<Sandbox>) -> Response {
    let list: Vec<Value> = sb.with_world(|w| w.merchants.values().map(merchant_json).collect());
    json(StatusCode::OK, json!({ "merchants": list }))
}

async fn get_merchant(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    match sb.with_world(|w| w.merchants.get(&id).map(merchant_json)) {
        Some(v) => json(StatusCode::OK, v),
        None => unknown_merchant(&id),
    }
}

/// Every webhook subscription of a merchant, whatever its series, without secrets.
async fn get_webhooks(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    let hooks = sb.with_world(|w| {
        w.merchants.get(&id).map(|m| {
            let x = m
                .webhooks
                .iter()
                .map(|h| json!({ "id": h.id, "url": h.url, "type": h.kind, "active": h.active }));
            let o = m.o_webhooks.iter().map(
                |(id, url, _)| json!({ "id": id, "url": url, "type": "check.*", "active": true }),
            );
            let k = m.k_webhooks.iter().map(|h| {
                json!({
                    "id": h.endpoint_id, "url": h.url, "type": "order", "active": true,
                    "with_basic_auth": h.with_basic_auth, "username": h.username,
                    "business_locations": h.locations.iter().map(|l| l.0).collect::<Vec<_>>(),
                })
            });
            x.chain(o).chain(k).collect::<Vec<_>>()
        })
    });
    match hooks {
        Some(v) => json(StatusCode::OK, json!({ "webhooks": v })),
        None => unknown_merchant(&id),
    }
}

/// Removes every webhook of the merchant (X subscriptions, O subscriptions, K endpoints), as
/// when they are deleted in the back office; answers how many went.
async fn delete_webhooks(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    let removed = sb.with_world(|w| {
        w.merchants.get_mut(&id).map(|m| {
            let n = m.webhooks.len() + m.o_webhooks.len() + m.k_webhooks.len();
            m.webhooks.clear();
            m.o_webhooks.clear();
            m.k_webhooks.clear();
            n
        })
    });
    match removed {
        Some(n) => json(StatusCode::OK, json!({ "removed": n })),
        None => unknown_merchant(&id),
    }
}

fn unknown_merchant(id: &str) -> Response {
    control_error(
        StatusCode::NOT_FOUND,
        "unknown_merchant",
        format!("no sandbox merchant `{id}`: create one with POST /_sandbox/merchants"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SalesRequest {
    #[serde(default)]
    count: Option<u32>,
    /// Closing instants (RFC 3339); one sale each.
    #[serde(default)]
    at: Option<Vec<String>>,
    #[serde(default)]
    location_id: Option<String>,
    #[serde(default)]
    register_id: Option<String>,
    #[serde(default)]
    customer_email: Option<String>,
    #[serde(default)]
    lines: Option<Vec<LineRequest>>,
    /// `sale` (default), `refund` or `void`.
    #[serde(default)]
    kind: Option<String>,
    /// For refunds and voids: the `accountFiscId` of the original sale.
    #[serde(default)]
    of: Option<String>,
    /// For a partial refund: the index of the one line to refund.
    #[serde(default)]
    line_index: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineRequest {
    sku: String,
    #[serde(default = "one")]
    quantity: i64,
}

fn one() -> i64 {
    1
}

async fn create_sales(
    State(sb): State<Sandbox>,
    Path(id): Path<String>,
    payload: Result<Json<SalesRequest>, JsonRejection>,
) -> Response {
    let req = match body(payload) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let result = sb.with_world(|w| {
        let m = w.merchants.get_mut(&id).ok_or(None)?;
        make_sales(m, req).map_err(Some)
    });
    match result {
        Ok((v, created)) => {
            // Like the real POS, every new or changed sale notifies the subscribers.
            sb.send_webhooks(&id, |w| match w.merchants.get_mut(&id) {
                Some(m) if m.series == "x" => crate::xseries::webhooks::sale_updates(m, &created),
                Some(m) if m.series == "o" => crate::oseries::webhooks::check_events(m, &created),
                Some(m) if m.series == "k" => crate::kseries::webhooks::account_events(m, &created),
                _ => Vec::new(),
            });
            json(StatusCode::CREATED, v)
        }
        Err(None) => unknown_merchant(&id),
        Err(Some(message)) => control_error(StatusCode::BAD_REQUEST, "invalid_sales", message),
    }
}

fn make_sales(m: &mut Merchant, req: SalesRequest) -> Result<(Value, Vec<usize>), String> {
    let now = Utc::now();
    let kind = match req.kind.as_deref().unwrap_or("sale") {
        "sale" => SaleType::Sale,
        "refund" => SaleType::Refund,
        "void" => SaleType::Void,
        other => return Err(format!("unknown kind `{other}`: use sale, refund or void")),
    };
    let mut created = Vec::new();
    if kind != SaleType::Sale {
        let of = req.of.as_deref().ok_or("refunds and voids need `of`: the id of the original sale (K: accountFiscId, X: sale id)")?;
        let original = m
            .find_sale(of)
            .filter(|&i| m.sales[i].sale_type == SaleType::Sale && m.sales[i].voided_at.is_none())
            .ok_or_else(|| format!("no open sale `{of}` to refund or void"))?;
        if let Some(i) = req.line_index {
            if i >= m.sales[original].lines.len() {
                return Err(format!(
                    "`line_index` {i} is out of range: the sale has {} lines",
                    m.sales[original].lines.len()
                ));
            }
        }
        let at = match req.at.as_ref().and_then(|a| a.first()) {
            Some(raw) => {
                parse_instant(raw).ok_or_else(|| format!("`{raw}` is not an RFC 3339 instant"))?
            }
            None => now,
        };
        let idx = match kind {
            SaleType::Void => generate::void_sale(m, original, at),
            _ => generate::add_reversal(m, original, kind, req.line_index, at),
        };
        created.push(idx);
    } else {
        let instants = match (&req.at, req.count) {
            (Some(list), _) => list
                .iter()
                .map(|raw| {
                    parse_instant(raw).ok_or_else(|| format!("`{raw}` is not an RFC 3339 instant"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            (None, count) => {
                let n = count.unwrap_or(1);
                if n == 0 || n > 10_000 {
                    return Err(format!("`count` must be between 1 and 10000, got {n}"));
                }
                (0..n)
                    .map(|i| now - chrono::Duration::milliseconds(i64::from(n - i)))
                    .collect()
            }
        };
        let loc = match &req.location_id {
            Some(id) => m
                .find_location(id)
                .ok_or_else(|| format!("no location `{id}` in this merchant"))?,
            None => 0,
        };
        let device = match &req.register_id {
            Some(id) => Some(
                (0..m.locations[loc].devices.len())
                    .find(|&d| m.register_ref(loc, d) == *id)
                    .ok_or_else(|| {
                        format!("no register `{id}` at location {}", m.location_ref(loc))
                    })?,
            ),
            None => None,
        };
        let customer = req
            .customer_email
            .as_ref()
            .map(|email| find_or_add_customer(m, email));
        let lines = match &req.lines {
            Some(lines) if lines.is_empty() => return Err("`lines` must not be empty".into()),
            Some(lines) => Some(
                lines
                    .iter()
                    .map(|l| {
                        if l.quantity <= 0 || l.quantity > 1000 {
                            return Err(format!(
                                "quantity for `{}` must be between 1 and 1000",
                                l.sku
                            ));
                        }
                        m.live_item(&l.sku)
                            .map(|i| (i, l.quantity))
                            .ok_or_else(|| format!("unknown sku `{}`", l.sku))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        for at in instants {
            let spec = match &lines {
                Some(lines) => Some(SaleSpec {
                    lines: lines.clone(),
                    customer,
                }),
                None if customer.is_some() => {
                    let item = m.random_item();
                    Some(SaleSpec {
                        lines: vec![(item, 1)],
                        customer,
                    })
                }
                None => None,
            };
            created.push(generate::add_random_sale(m, loc, at, spec, device));
        }
    }
    let sales: Vec<Value> = created
        .iter()
        .map(|&i| {
            let s = &m.sales[i];
            json!({
                "id": m.sale_ref(i),
                "type": s.sale_type.wire(),
                "location_id": m.location_ref(s.location),
                "total": cents(s.lines.iter().map(|l| l.total_cents).sum()),
                "closed_at": s.closed,
                "lines": s.lines.len(),
                "voided": s.voided_at.is_some(),
            })
        })
        .collect();
    Ok((json!({ "sales": sales }), created))
}

fn find_or_add_customer(m: &mut Merchant, email: &str) -> usize {
    let wanted = email.trim().to_lowercase();
    if let Some(i) = m.customers.iter().position(|c| {
        c.email
            .as_ref()
            .is_some_and(|e| e.trim().to_lowercase() == wanted)
    }) {
        return i;
    }
    let mut bytes = [0u8; 16];
    m.rng.fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let version = m.next_version();
    m.customers.push(Customer {
        version,
        uuid: format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ),
        customer_id: m.rng.gen_range(1_000..9_999_999),
        first_name: "Guest".into(),
        last_name: String::new(),
        email: Some(email.to_owned()),
    });
    m.customers.len() - 1
}

#[derive(Deserialize)]
struct TruthQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn get_truth(
    State(sb): State<Sandbox>,
    Path(id): Path<String>,
    Query(q): Query<TruthQuery>,
) -> Response {
    let parse = |raw: &Option<String>, name: &str| match raw {
        None => Ok(None),
        Some(r) => parse_instant(r)
            .map(Some)
            .ok_or_else(|| format!("`{name}` must be an RFC 3339 instant, got `{r}`")),
    };
    let (from, to) = match (parse(&q.from, "from"), parse(&q.to, "to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            return control_error(StatusCode::BAD_REQUEST, "invalid_query", e)
        }
    };
    match sb.with_world(|w| w.merchants.get(&id).map(|m| truth::compute(m, from, to))) {
        Some(t) => json(
            StatusCode::OK,
            serde_json::to_value(t).unwrap_or(Value::Null),
        ),
        None => unknown_merchant(&id),
    }
}

async fn get_stats(State(sb): State<Sandbox>) -> Response {
    let stats = sb.with_world(|w| w.stats.clone());
    json(
        StatusCode::OK,
        serde_json::to_value(stats).unwrap_or(Value::Null),
    )
}

async fn add_fault(
    State(sb): State<Sandbox>,
    payload: Result<Json<FaultRequest>, JsonRejection>,
) -> Response {
    let req = match body(payload) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let result = sb.with_world(|w| {
        if let Some(m) = &req.merchant {
            if !w.merchants.contains_key(m) {
                return Err((StatusCode::NOT_FOUND, format!("no sandbox merchant `{m}`")));
            }
        }
        if req.kind == "revoke_tokens" {
            let target = req.merchant.clone();
            let before = w.access_tokens.len() + w.refresh_tokens.len();
            w.access_tokens
                .retain(|_, t| target.as_ref().is_some_and(|m| *m != t.merchant_id));
            w.refresh_tokens
                .retain(|_, t| target.as_ref().is_some_and(|m| *m != t.merchant_id));
            let revoked = before - w.access_tokens.len() - w.refresh_tokens.len();
            return Ok(json!({ "kind": "revoke_tokens", "revoked": revoked }));
        }
        w.fault_counter += 1;
        let fault = req
            .into_fault(w.fault_counter)
            .map_err(|e| (StatusCode::BAD_REQUEST, e))?;
        let v = serde_json::to_value(&fault).unwrap_or(Value::Null);
        w.faults.push(fault);
        Ok(v)
    });
    match result {
        Ok(v) => json(StatusCode::CREATED, v),
        Err((status, message)) => control_error(status, "invalid_fault", message),
    }
}

async fn list_faults(State(sb): State<Sandbox>) -> Response {
    let faults = sb.with_world(|w| serde_json::to_value(&w.faults).unwrap_or(Value::Null));
    json(StatusCode::OK, json!({ "faults": faults }))
}

async fn clear_faults(State(sb): State<Sandbox>) -> Response {
    let cleared = sb.with_world(|w| std::mem::take(&mut w.faults).len());
    json(StatusCode::OK, json!({ "cleared": cleared }))
}

async fn list_online_orders(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    sb.with_world(|w| match w.merchants.get(&id) {
        Some(m) => json(
            StatusCode::OK,
            json!({ "online_orders": if m.series == "k" {
                crate::kseries::orders::list(m)
            } else {
                Value::from(crate::online_sales::list(m))
            } }),
        ),
        None => unknown_merchant(&id),
    })
}

#[derive(Deserialize)]
struct OnlineOrderAction {
    action: String,
}

/// Plays the POS staff on an online order: on K-Series `ready`, `close` (it becomes a sale) or
/// `void`; on X- and R-Series `close` (fulfil) or `void`. The matching webhook follows, as
/// from the real POS.
async fn online_order_action(
    State(sb): State<Sandbox>,
    Path((id, reference)): Path<(String, String)>,
    payload: Result<Json<OnlineOrderAction>, JsonRejection>,
) -> Response {
    let req = match body(payload) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let mut deliveries = Vec::new();
    let result: Result<Value, Option<String>> = sb.with_world(|w| {
        let m = w.merchants.get_mut(&id).ok_or(None)?;
        let (view, out) = if m.series == "k" {
            crate::kseries::orders::staff_action(m, &reference, &req.action)
        } else {
            crate::online_sales::staff_action(m, &reference, &req.action)
        }
        .map_err(Some)?;
        deliveries = out;
        Ok(view)
    });
    match result {
        Ok(view) => {
            sb.send_webhooks(&id, move |_| deliveries);
            json(StatusCode::OK, view)
        }
        Err(None) => unknown_merchant(&id),
        Err(Some(message)) => control_error(StatusCode::CONFLICT, "invalid_action", message),
    }
}

#[derive(Deserialize)]
struct AvailabilityRequest {
    location: String,
    sku: String,
    /// How many are left (0: sold out); `null` lifts the restriction.
    count: Option<i64>,
}

/// Sets (or lifts) an item's availability at a location, as staff do on the POS.
async fn set_availability(
    State(sb): State<Sandbox>,
    Path(id): Path<String>,
    payload: Result<Json<AvailabilityRequest>, JsonRejection>,
) -> Response {
    let req = match body(payload) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let (deliveries, response) = sb.with_world(|w| {
        let Some(m) = w.merchants.get_mut(&id) else {
            return (Vec::new(), unknown_merchant(&id));
        };
        let Some(loc) = m.find_location(&req.location) else {
            return (
                Vec::new(),
                control_error(
                    StatusCode::BAD_REQUEST,
                    "unknown_location",
                    format!("merchant {id} has no location `{}`", req.location),
                ),
            );
        };
        if m.live_item(&req.sku).is_none() {
            return (
                Vec::new(),
                control_error(
                    StatusCode::BAD_REQUEST,
                    "unknown_sku",
                    format!("merchant {id} has no item with SKU `{}`", req.sku),
                ),
            );
        }
        if req.count.is_some_and(|count| count < 0) {
            return (
                Vec::new(),
                control_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_count",
                    "count must be 0 or more, or null to lift the restriction",
                ),
            );
        }
        let record = m.availability.get(&(loc, req.sku.clone())).map(|s| s.id);
        m.set_stock(loc, &req.sku, req.count);
        let record = m
            .availability
            .get(&(loc, req.sku.clone()))
            .map(|s| s.id)
            .or(record);
        let deliveries = match (m.series.as_str(), record) {
            ("k", _) => crate::kseries::webhooks::item_events(m, loc, &req.sku),
            ("x", Some(record)) => {
                crate::xseries::webhooks::inventory_update(m, loc, &req.sku, record)
            }
            _ => Vec::new(),
        };
        (
            deliveries,
            json(
                StatusCode::OK,
                json!({ "location": req.location, "sku": req.sku, "count": req.count }),
            ),
        )
    });
    sb.send_webhooks(&id, move |_| deliveries);
    response
}
