//! R-Series API V3 under `/rseries/API/V3`: `Account.json`, and per account `Shop`, `Register`,
//! `Category`, `Item`, `ItemShop`, `PaymentType`, `Customer` and `Sale` (`.json`), with `load_relations`, `timeStamp`
//! filter operators (`>=,2024-01-01T00:00:00+00:00`), `sort`, `limit` ≤ 100 and cursor pages
//! through `@attributes.next` (empty when done).

use super::render::{self, sale_timestamp, Relations};
use super::{guard, with_headers};
use crate::http::json;
use crate::world::Merchant;
use crate::Sandbox;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/rseries/API/V3/Account.json", get(account))
        .route(
            "/rseries/API/V3/Account/{acct}/{entity}",
            get(list).post(super::orders::create),
        )
        .route("/rseries/API/V3/Account/{acct}/Sale/{id}", get(one_sale))
        .route(
            "/rseries/API/V3/Account/{acct}/Item/{id}",
            get(super::items::one)
                .put(super::items::update)
                .delete(super::items::archive),
        )
}

type Params = HashMap<String, String>;

pub(super) fn error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        json!({ "httpCode": status.as_u16().to_string(), "httpMessage": status.canonical_reason().unwrap_or_default(), "message": message, "errorClass": "ApiException" }),
    )
}

async fn with_account(
    sb: &Sandbox,
    headers: &HeaderMap,
    account: Option<&str>,
    f: impl FnOnce(&Merchant) -> Response,
) -> Response {
    with_account_mut(sb, headers, account, 1.0, |m| f(m)).await
}

/// Runs `f` for an authenticated request on the account, charging `cost` drips.
pub(super) async fn with_account_mut(
    sb: &Sandbox,
    headers: &HeaderMap,
    account: Option<&str>,
    cost: f64,
    f: impl FnOnce(&mut Merchant) -> Response,
) -> Response {
    let scale = sb.time_scale();
    let (delay, response) = sb.with_world(|w| {
        // Account discovery names no account: the token's own is used.
        let account = match account {
            Some(a) => a.to_owned(),
            None => crate::http::bearer(headers)
                .and_then(|t| w.access_tokens.get(&t).map(|a| a.merchant_id.clone()))
                .and_then(|m| w.merchants.get(&m).map(|m| m.business_id.to_string()))
                .unwrap_or_default(),
        };
        let (delay, guarded) = guard(w, scale, headers, &account, cost);
        let response = match guarded {
            Err(r) => r,
            Ok(g) => match w.merchants.get_mut(&g.merchant_id) {
                Some(m) => with_headers(f(m), &g.headers),
                None => error(StatusCode::NOT_FOUND, "no such account"),
            },
        };
        (delay, response)
    });
    crate::kseries::delayed(delay, response).await
}

async fn account(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    with_account(&sb, &headers, None, |m| {
        json(StatusCode::OK, json!({ "@attributes": { "count": "1" }, "Account": { "accountID": m.business_id.to_string(), "name": m.name } }))
    })
    .await
}

/// A filter such as `>=,2024-01-01T00:00:00+00:00` on a timestamp.
struct TimeFilter {
    op: String,
    a: DateTime<Utc>,
    b: Option<DateTime<Utc>>,
}

impl TimeFilter {
    fn parse(raw: &str) -> Result<Self, String> {
        let (op, rest) = raw
            .split_once(',')
            .ok_or_else(|| format!("filter `{raw}` needs an operator: OP,value"))?;
        let parse = |v: &str| {
            crate::wire::parse_instant(v.trim()).ok_or_else(|| format!("`{v}` is not a date-time"))
        };
        match op {
            "><" => {
                let (a, b) = rest.split_once(',').ok_or("`><` needs two values")?;
                Ok(TimeFilter {
                    op: op.to_owned(),
                    a: parse(a)?,
                    b: Some(parse(b)?),
                })
            }
            "=" | ">" | ">=" | "<" | "<=" | "!=" => Ok(TimeFilter {
                op: op.to_owned(),
                a: parse(rest)?,
                b: None,
            }),
            other => Err(format!("unsupported operator `{other}` for a date-time")),
        }
    }

    fn matches(&self, at: DateTime<Utc>) -> bool {
        let a = self.a;
        match self.op.as_str() {
            "=" => at == a,
            ">" => at > a,
            ">=" => at >= a,
            "<" => at < a,
            "<=" => at <= a,
            "!=" => at != a,
            "><" => at >= a && self.b.is_some_and(|b| at <= b),
            _ => false,
        }
    }
}

/// A text filter: `value` or `=,value` (exact), `~,pattern` (like, `%` wildcard); both
/// case-insensitive.
fn text_filter(raw: &str, have: &str) -> bool {
    let have = have.trim().to_lowercase();
    let (op, value) = match raw.split_once(',') {
        Some((op @ ("=" | "~"), v)) => (op, v),
        _ => ("=", raw),
    };
    let value = value.trim().to_lowercase();
    if op == "=" {
        return have == value;
    }
    let parts: Vec<&str> = value.split('%').collect();
    let mut rest = have.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return part.is_empty() || rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

/// A listed entity's sort keys; `index` renders it, and only entities on the page are rendered.
struct Entry {
    time: DateTime<Utc>,
    id: u64,
    index: usize,
}

/// Sorts, filters and pages `entries` the V3 way.
fn page(
    entity: &str,
    mut entries: Vec<Entry>,
    render: impl Fn(usize) -> Value,
    q: &Params,
    self_url: &str,
) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return error(StatusCode::BAD_REQUEST, "limit must be between 1 and 100"),
    };
    if let Some(raw) = q.get("timeStamp") {
        match TimeFilter::parse(raw) {
            Ok(filter) => entries.retain(|e| filter.matches(e.time)),
            Err(m) => return error(StatusCode::BAD_REQUEST, &m),
        }
    }
    let by_time = match q.get("sort").map(String::as_str) {
        None => false,
        Some("timeStamp") => true,
        Some(f) if f == format!("{}ID", entity.to_lowercase()) => false,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("cannot sort by `{other}`"),
            )
        }
    };
    // timeStamp has whole seconds; ties are broken by id, as the cursor records both.
    let key = |e: &Entry| {
        if by_time {
            (e.time.timestamp(), e.id)
        } else {
            (0, e.id)
        }
    };
    entries.sort_by_key(key);
    if let Some(cursor) = q.get("after") {
        let decoded = STANDARD
            .decode(cursor)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let after = match decoded.as_ref().and_then(|v| v.as_array()) {
            Some(a) if by_time && a.len() == 2 => a[0]
                .as_str()
                .and_then(crate::wire::parse_instant)
                .zip(a[1].as_u64())
                .map(|(t, i)| (t.timestamp(), i)),
            Some(a) if !by_time && a.len() == 1 => a[0].as_u64().map(|i| (0, i)),
            _ => None,
        };
        let Some(after) = after else {
            return error(
                StatusCode::BAD_REQUEST,
                "the `after` cursor is not valid: take it from @attributes.next",
            );
        };
        entries.retain(|e| key(e) > after);
    }
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next = match (more, entries.last(), url::Url::parse(self_url)) {
        (true, Some(last), Ok(mut url)) => {
            let cursor = if by_time {
                json!([render::time(last.time), last.id])
            } else {
                json!([last.id])
            };
            let kept: Vec<(String, String)> = q
                .iter()
                .filter(|(k, _)| k.as_str() != "after" && k.as_str() != "before")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("after", &STANDARD.encode(cursor.to_string()));
            url.to_string()
        }
        _ => String::new(),
    };
    let mut body = json!({ "@attributes": { "next": next, "previous": "" } });
    if !entries.is_empty() {
        body[entity] = render::one_or_many(entries.into_iter().map(|e| render(e.index)).collect());
    }
    json(StatusCode::OK, body)
}

async fn list(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((acct, entity)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Response {
    let self_url = format!("{}/rseries/API/V3/Account/{acct}/{entity}", sb.base_url());
    let Some(name) = entity.strip_suffix(".json").map(str::to_owned) else {
        return error(
            StatusCode::NOT_ACCEPTABLE,
            "only JSON is served by the sandbox: add .json to the path",
        );
    };
    with_account(&sb, &headers, Some(&acct), |m| {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let keyed = |n: usize| {
            (0..n)
                .map(|i| Entry {
                    time: epoch,
                    id: i as u64 + 1,
                    index: i,
                })
                .collect::<Vec<_>>()
        };
        let registers: Vec<(usize, usize)> = (0..m.locations.len())
            .flat_map(|l| (0..m.locations[l].devices.len()).map(move |d| (l, d)))
            .collect();
        let (entries, render): (Vec<Entry>, Box<dyn Fn(usize) -> Value + '_>) = match name.as_str()
        {
            "Shop" => (keyed(m.locations.len()), Box::new(|i| render::shop(m, i))),
            "Register" => (
                registers
                    .iter()
                    .enumerate()
                    .map(|(i, (l, d))| Entry {
                        time: epoch,
                        id: m.register_ref(*l, *d).parse().unwrap_or(0),
                        index: i,
                    })
                    .collect(),
                Box::new(move |i| render::register(m, registers[i].0, registers[i].1)),
            ),
            "Category" => (keyed(m.groups.len()), Box::new(|g| render::category(m, g))),
            "PaymentType" => (
                keyed(m.payment_methods.len()),
                Box::new(|p| render::payment_type(m, p)),
            ),
            "Item" => {
                // Archived (deleted) items only with `archived=true` (with the rest) or `only`.
                let archived = q.get("archived").map(String::as_str);
                let wanted =
                    |field: &str, have: &str| q.get(field).is_none_or(|raw| text_filter(raw, have));
                let mut entries = keyed(m.menu.len());
                entries.retain(|e| {
                    let it = &m.menu[e.index];
                    let shown = match archived {
                        Some("true") => true,
                        Some("only") => it.deleted_at.is_some(),
                        _ => it.deleted_at.is_none(),
                    };
                    shown
                        && wanted("customSku", &it.sku)
                        && wanted("systemSku", &render::system_sku(e.index))
                });
                (entries, Box::new(|i| render::item(m, i)))
            }
            "ItemShop" => {
                let records = render::item_shops(m);
                let wanted =
                    |field: &str, have: &str| q.get(field).is_none_or(|raw| text_filter(raw, have));
                let entries = records
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| wanted("shopID", &r.shop_id) && wanted("itemID", &r.item_id))
                    .map(|(i, r)| Entry {
                        time: r.updated_at,
                        id: r.id,
                        index: i,
                    })
                    .collect();
                (entries, Box::new(move |i| records[i].render()))
            }
            "Customer" => {
                let contact = q
                    .get("load_relations")
                    .is_some_and(|r| r.contains("Contact") || r == "all");
                let mut entries = keyed(m.customers.len());
                if let Some(raw) = q.get("Contact.email") {
                    entries.retain(|e| {
                        m.customers[e.index]
                            .email
                            .as_deref()
                            .is_some_and(|email| text_filter(raw, email))
                    });
                }
                (entries, Box::new(move |i| render::customer(m, i, contact)))
            }
            "Sale" => {
                let rel = match Relations::parse(q.get("load_relations").map(String::as_str)) {
                    Ok(r) => r,
                    Err(message) => return error(StatusCode::BAD_REQUEST, &message),
                };
                let reference = q.get("referenceNumber");
                let entries = (0..m.sales.len())
                    .filter(|&i| {
                        reference.is_none_or(|raw| {
                            let have = m.sales[i].online.as_ref().map(|o| o.reference.as_str());
                            text_filter(raw, have.unwrap_or_default())
                        })
                    })
                    .map(|i| Entry {
                        time: sale_timestamp(&m.sales[i]),
                        id: m.sales[i].serial,
                        index: i,
                    })
                    .collect();
                (entries, Box::new(move |i| render::sale(m, i, rel)))
            }
            other => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("unknown resource `{other}`"),
                )
            }
        };
        page(&name, entries, render, &q, &self_url)
    })
    .await
}

async fn one_sale(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((acct, id)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Response {
    let id = id.trim_end_matches(".json").to_owned();
    with_account(&sb, &headers, Some(&acct), |m| {
        let rel = match Relations::parse(q.get("load_relations").map(String::as_str)) {
            Ok(r) => r,
            Err(message) => return error(StatusCode::BAD_REQUEST, &message),
        };
        match m.sales.iter().position(|s| s.serial.to_string() == id) {
            Some(i) => json(
                StatusCode::OK,
                json!({ "@attributes": { "count": "1" }, "Sale": render::sale(m, i, rel) }),
            ),
            None => error(StatusCode::NOT_FOUND, &format!("Sale {id} not found")),
        }
    })
    .await
}
