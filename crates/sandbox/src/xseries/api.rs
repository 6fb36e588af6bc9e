//! X-Series API 2.0 under `/xseries/{prefix}/api/2.0`: version-cursor lists (`after`,
//! `page_size`; `after=version.max` pages on, an empty page ends), single objects wrapped in
//! `data`, search, and webhook subscriptions.

use super::{guard, render, with_rate_headers};
use crate::http::json;
use crate::world::{uid, Merchant, Webhook};
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/xseries/{prefix}/api/2.0/outlets", get(outlets))
        .route("/xseries/{prefix}/api/2.0/registers", get(registers))
        .route(
            "/xseries/{prefix}/api/2.0/payment_types",
            get(payment_types),
        )
        .route("/xseries/{prefix}/api/2.0/taxes", get(taxes))
        .route(
            "/xseries/{prefix}/api/2.0/product_categories",
            get(categories),
        )
        .route(
            "/xseries/{prefix}/api/2.0/products",
            get(products).post(create_product),
        )
        .route(
            "/xseries/{prefix}/api/2.0/products/{id}",
            axum::routing::delete(delete_product),
        )
        .route(
            "/xseries/{prefix}/api/2.0/products/{id}/all",
            axum::routing::delete(delete_family),
        )
        .route(
            "/xseries/{prefix}/api/2.0/variant_attributes",
            get(variant_attributes).post(create_variant_attribute),
        )
        .route("/xseries/{prefix}/api/2.0/inventory", get(inventory))
        .route(
            "/xseries/{prefix}/api/2.0/customers",
            get(customers).post(create_customer),
        )
        .route("/xseries/{prefix}/api/2.0/sales", get(sales))
        .route("/xseries/{prefix}/api/2.0/sales/{id}", get(sale))
        .route("/xseries/{prefix}/api/2.0/search", get(search))
        .route(
            "/xseries/{prefix}/api/2.0/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/xseries/{prefix}/api/2.0/webhooks/{id}",
            get(get_webhook).put(update_webhook).delete(delete_webhook),
        )
}

type Params = HashMap<String, String>;

pub(super) fn error(status: StatusCode, title: &str, message: &str) -> Response {
    json(status, json!({ "error": title, "message": message }))
}

/// Runs `f` for an authenticated, rate-limited request on the store; adds the rate headers.
pub(super) async fn with_store(
    sb: &Sandbox,
    headers: &HeaderMap,
    prefix: &str,
    f: impl FnOnce(&mut Merchant) -> Response,
) -> Response {
    let scale = sb.time_scale();
    let (delay, response) = sb.with_world(|w| {
        let (delay, guarded) = guard(w, scale, headers, prefix);
        let response = match guarded {
            Err(r) => r,
            Ok(g) => match w.merchants.get_mut(&g.merchant_id) {
                Some(m) => with_rate_headers(f(m), g.limit, g.remaining),
                None => error(StatusCode::NOT_FOUND, "Not Found", "no such store"),
            },
        };
        (delay, response)
    });
    crate::kseries::delayed(delay, response).await
}

fn page_params(p: &Params) -> Result<(u64, usize), String> {
    let after = match p.get("after") {
        None => 0,
        Some(raw) => raw
            .parse()
            .map_err(|_| format!("`after` must be a version number, got `{raw}`"))?,
    };
    let size = match p.get("page_size") {
        None => 1000,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(format!(
                    "`page_size` must be between 1 and 10000, got `{raw}`"
                ))
            }
        },
    };
    Ok((after, size))
}

/// A version-cursor page over `(version, object)` pairs.
/// A version-cursor page over `(version, index)` pairs; only the page is rendered.
fn version_page(
    mut items: Vec<(u64, usize)>,
    render: impl Fn(usize) -> Value,
    after: u64,
    size: usize,
) -> Response {
    items.retain(|(v, _)| *v > after);
    items.sort_by_key(|(v, _)| *v);
    items.truncate(size);
    let version = match (items.first(), items.last()) {
        (Some((min, _)), Some((max, _))) => json!({ "min": min, "max": max }),
        _ => Value::Null,
    };
    json(
        StatusCode::OK,
        json!({ "data": items.into_iter().map(|(_, i)| render(i)).collect::<Vec<_>>(), "version": version }),
    )
}

async fn outlets(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        json(StatusCode::OK, json!({ "data": (0..m.locations.len()).map(|i| render::outlet(m, i)).collect::<Vec<_>>() }))
    })
    .await
}

async fn registers(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let list: Vec<Value> = (0..m.locations.len())
            .flat_map(|l| (0..m.locations[l].devices.len()).map(move |d| (l, d)))
            .map(|(l, d)| render::register(m, l, d))
            .collect();
        json(StatusCode::OK, json!({ "data": list }))
    })
    .await
}

async fn payment_types(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let list: Vec<Value> = m
            .payment_methods
            .iter()
            .map(|p| json!({ "id": p.uid, "name": p.name, "payment_type_id": p.id.to_string() }))
            .collect();
        json(StatusCode::OK, json!({ "data": list }))
    })
    .await
}

async fn taxes(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        json(StatusCode::OK, json!({ "data": [render::tax(m)] }))
    })
    .await
}

async fn categories(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let list: Vec<Value> = (0..m.groups.len()).map(|g| render::category(m, g)).collect();
        let last = m.groups.last().map(|g| g.uid.clone());
        json(StatusCode::OK, json!({ "page_info": { "has_next": false, "last_seen": last }, "data": { "categories": list } }))
    })
    .await
}

async fn products(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| match page_params(&p) {
        Err(message) => error(StatusCode::BAD_REQUEST, "Bad Request", &message),
        Ok((after, size)) => version_page(
            (0..m.menu.len()).map(|i| (m.menu[i].version, i)).collect(),
            |i| render::product(m, i),
            after,
            size,
        ),
    })
    .await
}

/// Inventory records (`product_id`, `outlet_id`, `inventory_level`) of the products whose
/// stock is tracked, by version.
async fn inventory(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| match page_params(&p) {
        Err(message) => error(StatusCode::BAD_REQUEST, "Bad Request", &message),
        Ok((after, size)) => {
            let records: Vec<(&(usize, String), &crate::world::Stock)> =
                m.availability.iter().collect();
            version_page(
                records
                    .iter()
                    .enumerate()
                    .map(|(i, (_, s))| (s.version, i))
                    .collect(),
                |i| render::inventory(m, records[i].0, records[i].1),
                after,
                size,
            )
        }
    })
    .await
}

async fn customers(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| match page_params(&p) {
        Err(message) => error(StatusCode::BAD_REQUEST, "Bad Request", &message),
        Ok((after, size)) => version_page(
            (0..m.customers.len())
                .map(|i| (m.customers[i].version, i))
                .collect(),
            |i| render::customer(m, i),
            after,
            size,
        ),
    })
    .await
}

#[derive(Deserialize)]
struct NewCustomer {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
}

/// `POST /products`: `name` is required; `price_including_tax` or `price_excluding_tax` (not
/// both), `sku` (unique among live products; one is made up when absent) and
/// `product_category_id` (or the older `product_type_id`) are read. The sandbox needs a
/// category for every product. Answers `{"data": [id]}`.
async fn create_product(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    body: Bytes,
) -> Response {
    let unprocessable = |message: &str| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Entity",
            message,
        )
    };
    let mut changed = None;
    let response = with_store(&sb, &headers, &prefix, |m| {
        let req: Value = match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    "the body must be a JSON object",
                )
            }
        };
        let Some(name) = req["name"]
            .as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        else {
            return unprocessable("name is required");
        };
        let price = match price_of(&req, 0) {
            Ok(p) => p,
            Err(message) => return unprocessable(message),
        };
        let category = req
            .get("product_category_id")
            .or_else(|| req.get("product_type_id"))
            .and_then(Value::as_str);
        let Some(group) = category.and_then(|c| m.groups.iter().position(|g| g.uid == c)) else {
            return unprocessable("product_category_id must name an existing product category");
        };
        if let Some(variants) = req.get("variants") {
            return match family(m, name, group, price, variants) {
                Ok(made) => {
                    let ids: Vec<&String> = made.iter().map(|&i| &m.menu[i].uid).collect();
                    let response = json(StatusCode::OK, json!({ "data": ids }));
                    changed = Some((m.id.clone(), made));
                    response
                }
                Err(message) => unprocessable(&message),
            };
        }
        let sku = match req.get("sku").and_then(Value::as_str).map(str::trim) {
            Some(s) if m.live_item(s).is_some() => {
                return unprocessable(&format!("sku `{s}` is already used by another product"))
            }
            Some(s) if !s.is_empty() => s.to_owned(),
            _ => format!("{}", 10_000 + m.menu.len()),
        };
        let i = m.add_item(sku, name.to_owned(), price, group);
        changed = Some((m.id.clone(), vec![i]));
        json(StatusCode::OK, json!({ "data": [m.menu[i].uid] }))
    })
    .await;
    notify_products(&sb, changed);
    response
}

/// `product.update` for products that changed: `(merchant id, product indices)`.
fn notify_products(sb: &Sandbox, changed: Option<(String, Vec<usize>)>) {
    if let Some((merchant, products)) = changed {
        sb.send_webhooks(&merchant, |w| {
            w.merchants
                .get(&merchant)
                .map(|m| super::webhooks::product_updates(m, &products))
                .unwrap_or_default()
        });
    }
}

/// The tax-inclusive price in cents of a product or variant object: `price_including_tax`, or
/// `price_excluding_tax` with the store's tax, or `default` when it has neither.
fn price_of(v: &Value, default: i64) -> Result<i64, &'static str> {
    let price = match (v.get("price_including_tax"), v.get("price_excluding_tax")) {
        (Some(_), Some(_)) => {
            return Err("give price_including_tax or price_excluding_tax, not both")
        }
        (Some(incl), None) => crate::wire::amount_cents(incl),
        (None, Some(excl)) => crate::wire::amount_cents(excl).map(|c| {
            let with_tax = c * (10_000 + crate::generate::TAX_BASIS_POINTS);
            crate::wire::round_half_even_to_cents(with_tax / 100)
        }),
        (None, None) => Some(default),
    };
    price
        .filter(|p| *p >= 0)
        .ok_or("prices are numbers of zero or more, with at most two decimals")
}

/// The most products a variant family has.
const FAMILY_MAX: usize = 200;

/// `POST /products` with `variants`: a variant family, each variant with its
/// `variant_definitions` (`[{attribute_id, value}]`, the same attributes in the same order for
/// every variant, no two variants alike), optional `sku` and price (the product's otherwise).
/// Returns the new products, the family's parent first.
fn family(
    m: &mut crate::world::Merchant,
    name: &str,
    group: usize,
    price: i64,
    variants: &Value,
) -> Result<Vec<usize>, String> {
    let list = variants
        .as_array()
        .filter(|l| (1..=FAMILY_MAX).contains(&l.len()))
        .ok_or(format!(
            "variants must be an array of 1 to {FAMILY_MAX} variants"
        ))?;
    let mut made: Vec<crate::world::NewVariant> = Vec::new();
    for (n, v) in list.iter().enumerate() {
        let definitions = v["variant_definitions"]
            .as_array()
            .filter(|d| (1..=3).contains(&d.len()))
            .ok_or(format!(
                "variants[{n}].variant_definitions must list 1 to 3 {{attribute_id, value}}"
            ))?;
        let mut options = Vec::new();
        for d in definitions {
            let id = d["attribute_id"].as_str().unwrap_or_default();
            let attribute = m
                .variant_attributes
                .iter()
                .find(|(a, _)| a == id)
                .map(|(_, name)| name.clone())
                .ok_or(format!(
                    "variants[{n}]: variant attribute `{id}` does not exist (see /variant_attributes)"
                ))?;
            let value = d["value"]
                .as_str()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(format!("variants[{n}]: every definition needs a value"))?;
            options.push((attribute, value.to_owned()));
        }
        if let Some((_, _, first)) = made.first() {
            let names =
                |o: &[(String, String)]| o.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>();
            if names(first) != names(&options) {
                return Err(format!(
                    "variants[{n}] must define the same attributes, in the same order, as variants[0]"
                ));
            }
        }
        if made.iter().any(|(_, _, o)| *o == options) {
            return Err(format!("variants[{n}] repeats another variant's values"));
        }
        let price = price_of(v, price).map_err(|e| format!("variants[{n}]: {e}"))?;
        let sku = match v.get("sku").and_then(Value::as_str).map(str::trim) {
            Some(s) if m.live_item(s).is_some() || made.iter().any(|(k, ..)| k == s) => {
                return Err(format!(
                    "variants[{n}]: sku `{s}` is already used by another product"
                ))
            }
            Some(s) if !s.is_empty() => s.to_owned(),
            _ => format!("{}", 10_000 + m.menu.len() + made.len()),
        };
        made.push((sku, price, options));
    }
    Ok(m.add_family(name, group, made))
}

/// `DELETE /products/{id}`: the product stays in the product feed with `deleted_at` set.
async fn delete_product(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((prefix, id)): Path<(String, String)>,
) -> Response {
    delete_products(&sb, &headers, &prefix, &id, false).await
}

/// `DELETE /products/{id}/all`: deletes every product of the family `id` belongs to.
async fn delete_family(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((prefix, id)): Path<(String, String)>,
) -> Response {
    delete_products(&sb, &headers, &prefix, &id, true).await
}

/// Deletes product `id`, or with `family` every product of its variant family (only it when
/// it has none).
async fn delete_products(
    sb: &Sandbox,
    headers: &HeaderMap,
    prefix: &str,
    id: &str,
    family: bool,
) -> Response {
    let mut changed = None;
    let response = with_store(sb, headers, prefix, |m| {
        let Some(i) = m
            .menu
            .iter()
            .position(|p| p.uid == id && p.deleted_at.is_none())
        else {
            return error(
                StatusCode::NOT_FOUND,
                "Not Found",
                &format!("product {id} does not exist"),
            );
        };
        let gone = match m.family(i) {
            f if family && !f.is_empty() => f,
            _ => vec![i],
        };
        if m.sellable_items().iter().all(|j| gone.contains(j)) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Entity",
                "the sandbox keeps at least one product per store: create another one first",
            );
        }
        for &j in &gone {
            m.delete_item(j);
        }
        changed = Some((m.id.clone(), gone));
        json(StatusCode::OK, json!({}))
    })
    .await;
    notify_products(sb, changed);
    response
}

/// `GET /variant_attributes`: `{data: [{id, name, deleted_at}]}`.
async fn variant_attributes(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let list: Vec<Value> = m
            .variant_attributes
            .iter()
            .map(|(id, name)| json!({ "id": id, "name": name, "deleted_at": null }))
            .collect();
        json(StatusCode::OK, json!({ "data": list }))
    })
    .await
}

/// `POST /variant_attributes` `{name}`: answers `{data: {id, name, created_at, updated_at}}`.
/// A name the store already has is refused.
async fn create_variant_attribute(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    body: Bytes,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(name) = req["name"]
            .as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Entity",
                "name is required",
            );
        };
        if m.variant_attributes
            .iter()
            .any(|(_, a)| a.eq_ignore_ascii_case(name))
        {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Entity",
                &format!("a variant attribute named `{name}` already exists"),
            );
        }
        let id = m.add_variant_attribute(name);
        let now = crate::xseries::render::time(chrono::Utc::now());
        json(
            StatusCode::OK,
            json!({ "data": { "id": id, "name": name, "created_at": now, "updated_at": now } }),
        )
    })
    .await
}

async fn create_customer(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    body: Bytes,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let req: NewCustomer = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    &format!("invalid JSON: {e}"),
                )
            }
        };
        let (Some(first), Some(last)) = (
            req.first_name.filter(|s| !s.trim().is_empty()),
            req.last_name.filter(|s| !s.trim().is_empty()),
        ) else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Entity",
                "first_name and last_name are required",
            );
        };
        let version = m.next_version();
        let uuid = uid(&mut m.rng);
        m.customers.push(crate::world::Customer {
            uuid,
            version,
            customer_id: 10_000 + m.customers.len() as i64,
            first_name: first,
            last_name: last,
            email: req.email,
        });
        json(
            StatusCode::CREATED,
            json!({ "data": render::customer(m, m.customers.len() - 1) }),
        )
    })
    .await
}

async fn sales(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| match page_params(&p) {
        Err(message) => error(StatusCode::BAD_REQUEST, "Bad Request", &message),
        Ok((after, size)) => version_page(
            (0..m.sales.len())
                .map(|i| (m.sales[i].version, i))
                .collect(),
            |i| render::sale(m, i),
            after,
            size,
        ),
    })
    .await
}

async fn sale(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((prefix, id)): Path<(String, String)>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        match m.sales.iter().position(|s| s.uid == id) {
            Some(i) => json(StatusCode::OK, json!({ "data": render::sale(m, i) })),
            None => error(
                StatusCode::NOT_FOUND,
                "Not Found",
                &format!("no sale `{id}`"),
            ),
        }
    })
    .await
}

/// `search?type=sales` (by `date_from`/`date_to` in UTC, `offset`, `page_size`) and
/// `search?type=customers` (by `email`).
async fn search(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let offset = p
            .get("offset")
            .and_then(|o| o.parse::<usize>().ok())
            .unwrap_or(0);
        let size = p
            .get("page_size")
            .and_then(|o| o.parse::<usize>().ok())
            .unwrap_or(100)
            .min(1000);
        match p.get("type").map(String::as_str) {
            Some("sales") => {
                let bound = |k: &str| p.get(k).and_then(|v| crate::wire::parse_instant(v));
                let (from, to) = (bound("date_from"), bound("date_to"));
                let invoice = p.get("invoice_number");
                let hits: Vec<usize> = (0..m.sales.len())
                    .filter(|&i| {
                        from.is_none_or(|f| m.sales[i].closed >= f)
                            && to.is_none_or(|t| m.sales[i].closed < t)
                            && invoice.is_none_or(|n| render::invoice_number(m, i) == *n)
                    })
                    .collect();
                let data: Vec<Value> = hits
                    .iter()
                    .skip(offset)
                    .take(size)
                    .map(|&i| render::sale(m, i))
                    .collect();
                json(
                    StatusCode::OK,
                    json!({ "data": data, "total_count": hits.len() }),
                )
            }
            Some("customers") => {
                let email = p.get("email").map(|e| e.trim().to_lowercase());
                let data: Vec<Value> = (0..m.customers.len())
                    .filter(|&i| {
                        email.as_ref().is_none_or(|e| {
                            m.customers[i]
                                .email
                                .as_ref()
                                .is_some_and(|c| c.trim().to_lowercase() == *e)
                        })
                    })
                    .skip(offset)
                    .take(size)
                    .map(|i| render::customer(m, i))
                    .collect();
                json(StatusCode::OK, json!({ "data": data }))
            }
            other => error(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                &format!(
                    "unsupported search type `{}`: use sales or customers",
                    other.unwrap_or_default()
                ),
            ),
        }
    })
    .await
}

const WEBHOOK_TYPES: &[&str] = &[
    "sale.update",
    "product.update",
    "customer.update",
    "inventory.update",
    "register_closure.create",
    "consignment.send",
    "consignment.receive",
];

#[derive(Deserialize)]
struct WebhookBody {
    url: Option<String>,
    active: Option<bool>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn parse_webhook(body: &[u8]) -> Result<WebhookBody, (StatusCode, String)> {
    let w: WebhookBody = serde_json::from_slice(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
    if let Some(k) = w
        .kind
        .as_ref()
        .filter(|k| !WEBHOOK_TYPES.contains(&k.as_str()))
    {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("unknown webhook type `{k}`"),
        ));
    }
    if let Some(u) = w.url.as_ref().filter(|u| url::Url::parse(u).is_err()) {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("`{u}` is not a URL"),
        ));
    }
    Ok(w)
}

fn rejected((status, message): (StatusCode, String)) -> Response {
    let title = status.canonical_reason().unwrap_or("Bad Request");
    error(status, title, &message)
}

async fn list_webhooks(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        json(StatusCode::OK, json!({ "data": m.webhooks }))
    })
    .await
}

async fn create_webhook(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
    body: Bytes,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let w = match parse_webhook(&body) {
            Ok(w) => w,
            Err(e) => return rejected(e),
        };
        let (Some(url), Some(kind)) = (w.url, w.kind) else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Entity",
                "url and type are required",
            );
        };
        if m.webhooks.iter().any(|h| h.url == url && h.kind == kind) {
            return error(
                StatusCode::CONFLICT,
                "Conflict",
                "A webhook with this type and URL already exists",
            );
        }
        let hook = Webhook {
            id: uid(&mut m.rng),
            url,
            active: w.active.unwrap_or(true),
            kind,
        };
        m.webhooks.push(hook.clone());
        json(StatusCode::OK, json!({ "data": hook }))
    })
    .await
}

async fn get_webhook(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((prefix, id)): Path<(String, String)>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        match m.webhooks.iter().find(|h| h.id == id) {
            Some(h) => json(StatusCode::OK, json!({ "data": h })),
            None => error(StatusCode::NOT_FOUND, "Not Found", "no such webhook"),
        }
    })
    .await
}

async fn update_webhook(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((prefix, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let w = match parse_webhook(&body) {
            Ok(w) => w,
            Err(e) => return rejected(e),
        };
        match m.webhooks.iter_mut().find(|h| h.id == id) {
            Some(h) => {
                if let Some(u) = w.url {
                    h.url = u;
                }
                if let Some(k) = w.kind {
                    h.kind = k;
                }
                if let Some(a) = w.active {
                    h.active = a;
                }
                json(StatusCode::OK, json!({ "data": h }))
            }
            None => error(StatusCode::NOT_FOUND, "Not Found", "no such webhook"),
        }
    })
    .await
}

async fn delete_webhook(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((prefix, id)): Path<(String, String)>,
) -> Response {
    with_store(&sb, &headers, &prefix, |m| {
        let before = m.webhooks.len();
        m.webhooks.retain(|h| h.id != id);
        if m.webhooks.len() < before {
            json(StatusCode::OK, json!({ "data": { "id": id } }))
        } else {
            error(StatusCode::NOT_FOUND, "Not Found", "no such webhook")
        }
    })
    .await
}
