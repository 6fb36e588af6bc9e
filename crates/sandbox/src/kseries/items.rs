//! K-Series Items API (`/items/v1/items`, scope `items`) and Rich Item API (`/i/...`, scope
//! `orders-api`). Both edit the merchant's one menu, which every location's menu, the
//! availability answers and new sales read.
//!
//! The Items API's error body is `{status (a string), timestamp, message, apiSubExceptions}`.
//! The Rich Item paths take the business id, not a business location id. What the reference
//! leaves open is inferred: the item list is an array, `prices[].amount` is a decimal string as
//! in the Financial API, a rich item's picture is patched as `{"picture": base64}` and served
//! back (without a token, as a CDN would) at the item's `pictureUrl`.
//! The sandbox keeps at least one item per business: deleting the last one is refused.

use super::data::with_merchant;
use crate::http::json;
use crate::wire::{amount_cents, cents};
use crate::world::{Description, MenuItem, Merchant, RichItem};
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;

type Params = HashMap<String, String>;

const ITEMS: &str = "/kseries/items/v1/items";
/// The longest SKU the Items API takes; the Rich Item API takes 25.
const SKU_MAX: usize = 32;
const RICH_SKU_MAX: usize = 25;
const DOCKET_NAME_MAX: usize = 64;
const NAME_MAX: usize = 128;
/// The largest picture the sandbox keeps, decoded.
const PICTURE_MAX_BYTES: usize = 1 << 20;

/// The allergens `/i/allergens` lists: the fourteen the EU requires, in English and French.
pub const ALLERGENS: [(&str, &str, &str); 14] = [
    ("gluten", "Gluten", "Gluten"),
    ("crustaceans", "Crustaceans", "Crustacés"),
    ("eggs", "Eggs", "Œufs"),
    ("fish", "Fish", "Poisson"),
    ("peanuts", "Peanuts", "Arachides"),
    ("soybeans", "Soybeans", "Soja"),
    ("milk", "Milk", "Lait"),
    ("nuts", "Nuts", "Fruits à coque"),
    ("celery", "Celery", "Céleri"),
    ("mustard", "Mustard", "Moutarde"),
    ("sesame", "Sesame seeds", "Graines de sésame"),
    (
        "sulphites",
        "Sulphur dioxide and sulphites",
        "Anhydride sulfureux et sulfites",
    ),
    ("lupin", "Lupin", "Lupin"),
    ("molluscs", "Molluscs", "Mollusques"),
];

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route(ITEMS, get(list).post(create))
        .route(
            &format!("{ITEMS}/{{id}}"),
            get(one).put(update).delete(remove),
        )
        .route("/kseries/i/allergens", get(allergens))
        .route(
            "/kseries/i/locales/{business}",
            get(locales).put(put_locales),
        )
        .route("/kseries/i/richItem/{business}", get(rich_list))
        .route(
            "/kseries/i/richItem/{business}/itemsBySkus",
            post(rich_by_skus),
        )
        .route(
            "/kseries/i/richItem/{business}/{sku}",
            get(rich_one)
                .put(rich_put)
                .patch(rich_picture)
                .delete(rich_delete),
        )
        .route("/kseries/i/picture/{business}/{sku}", get(picture))
}

/// The Items API's error: `status` is a string, sub-exceptions name the field.
fn api_error(
    status: StatusCode,
    message: impl Into<String>,
    subs: &[(&str, Value, String)],
) -> Response {
    let subs: Vec<Value> = subs
        .iter()
        .map(|(field, rejected, message)| {
            json!({"field": field, "rejectedValue": rejected, "message": message})
        })
        .collect();
    json(
        status,
        json!({
            "status": status.as_u16().to_string(),
            "timestamp": Utc::now(),
            "message": message.into(),
            "apiSubExceptions": subs,
        }),
    )
}

fn invalid(subs: &[(&str, Value, String)]) -> Response {
    api_error(StatusCode::BAD_REQUEST, "Validation failed", subs)
}

fn not_found(message: impl Into<String>) -> Response {
    api_error(StatusCode::NOT_FOUND, message, &[])
}

/// An ItemDTO.
fn item_dto(m: &Merchant, item: &MenuItem) -> Value {
    let group = &m.groups[item.group];
    json!({
        "id": item.id,
        "name": item.name,
        "docketName": item.name.chars().take(DOCKET_NAME_MAX).collect::<String>(),
        "sku": item.sku,
        "active": true,
        "barcode": null,
        "barcodes": [],
        "accountingGroup": {"id": group.id, "name": group.name},
        "statisticGroups": [{"category": "default", "value": group.name}],
        "costPrice": null,
        "prices": [{"amount": cents(item.price_cents), "name": "Default"}],
        "priceMode": "AMOUNT",
        "sharingType": "GLOBAL",
        "inventorySource": "PURCHASED",
        "disabled": false,
        "contentDimension": "DIMENSION_LESS",
        "contentUom": null,
        "contentValue": null,
        "itemType": "ITEM",
    })
}

fn live_by_id(m: &Merchant, id: &str) -> Option<usize> {
    let id = id.parse::<i64>().ok()?;
    m.menu
        .iter()
        .position(|i| i.id == id && i.deleted_at.is_none())
}

/// `GET /items/v1/items?businessLocationId=…&sku=&name=&accountingGroupId=&itemIds=&offset=&amount=`.
async fn list(State(sb): State<Sandbox>, headers: HeaderMap, Query(p): Query<Params>) -> Response {
    let Some(bl) = p.get("businessLocationId").cloned() else {
        return invalid(&[("businessLocationId", Value::Null, "must not be null".into())]);
    };
    with_merchant(&sb, &headers, "items", Some(&bl), |m, _| {
        let number = |name: &str, default: usize| match p.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse::<usize>().map_err(|_| {
                (
                    name.to_owned(),
                    raw.clone(),
                    "must be a whole number".to_owned(),
                )
            }),
        };
        let (offset, amount) = match (number("offset", 0), number("amount", 100)) {
            (Ok(o), Ok(a)) if (1..=1000).contains(&a) => (o, a),
            (Ok(_), Ok(a)) => {
                return invalid(&[("amount", json!(a), "must be between 1 and 1000".into())])
            }
            (Err((f, raw, msg)), _) | (_, Err((f, raw, msg))) => {
                return invalid(&[(
                    if f == "offset" { "offset" } else { "amount" },
                    json!(raw),
                    msg,
                )])
            }
        };
        let ids: Option<Vec<i64>> = match p.get("itemIds") {
            None => None,
            Some(raw) => {
                let parsed: Result<Vec<i64>, _> = raw
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim().parse::<i64>())
                    .collect();
                match parsed {
                    Ok(ids) if ids.len() <= 200 => Some(ids),
                    Ok(_) => return invalid(&[("itemIds", json!(raw), "at most 200 ids".into())]),
                    Err(_) => {
                        return invalid(&[(
                            "itemIds",
                            json!(raw),
                            "must be a comma-separated list of item ids".into(),
                        )])
                    }
                }
            }
        };
        let group: Option<i64> = match p.get("accountingGroupId").map(|g| g.parse::<i64>()) {
            None => None,
            Some(Ok(g)) => Some(g),
            Some(Err(_)) => {
                return invalid(&[(
                    "accountingGroupId",
                    json!(p.get("accountingGroupId")),
                    "must be a number".into(),
                )])
            }
        };
        let name = p.get("name").map(|n| n.to_lowercase());
        let matching = m.menu.iter().filter(|i| {
            i.deleted_at.is_none()
                && ids.as_ref().is_none_or(|ids| ids.contains(&i.id))
                && p.get("sku").is_none_or(|s| &i.sku == s)
                && name
                    .as_ref()
                    .is_none_or(|n| i.name.to_lowercase().contains(n))
                && group.is_none_or(|g| m.groups[i.group].id == g)
        });
        // With itemIds, offset and amount are ignored.
        let page: Vec<Value> = if ids.is_some() {
            matching.map(|i| item_dto(m, i)).collect()
        } else {
            matching
                .skip(offset)
                .take(amount)
                .map(|i| item_dto(m, i))
                .collect()
        };
        json(StatusCode::OK, Value::Array(page))
    })
    .await
}

async fn one(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let bl = p.get("businessLocationId").cloned();
    with_merchant(
        &sb,
        &headers,
        "items",
        bl.as_deref(),
        |m, _| match live_by_id(m, &id) {
            Some(i) => json(StatusCode::OK, item_dto(m, &m.menu[i])),
            None => not_found(format!("Item {id} not found")),
        },
    )
    .await
}

/// What a create or update body asks for, once checked against the merchant.
struct ItemInput {
    name: String,
    group: usize,
    price_cents: i64,
    sku: Option<String>,
}

/// The `businessLocationId` of a body, as text for [`with_merchant`]; the body's other fields
/// are checked inside it.
fn body_location(body: &Value) -> Option<String> {
    match body.get("businessLocationId") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The JSON object of a body, or the 400 that says why it is not one.
fn parse_body(raw: &Bytes) -> Result<Value, Box<Response>> {
    let message = match serde_json::from_slice::<Value>(raw) {
        Ok(v) if v.is_object() => return Ok(v),
        Ok(_) => "The request body must be a JSON object".to_owned(),
        Err(e) => format!("The request body is not valid JSON: {e}"),
    };
    Err(Box::new(api_error(StatusCode::BAD_REQUEST, message, &[])))
}

/// Checks a create (`sku_required` false) or update body; every problem is listed.
fn item_input(
    m: &Merchant,
    body: &Value,
    sku_required: bool,
    editing: Option<usize>,
) -> Result<ItemInput, Box<Response>> {
    let mut subs: Vec<(&str, Value, String)> = Vec::new();
    let name = match body.get("name").and_then(Value::as_str).map(str::trim) {
        Some(n) if !n.is_empty() && n.chars().count() <= NAME_MAX => Some(n.to_owned()),
        Some(n) if !n.is_empty() => {
            subs.push((
                "name",
                json!(n),
                format!("size must be between 1 and {NAME_MAX}"),
            ));
            None
        }
        _ => {
            subs.push((
                "name",
                body.get("name").cloned().unwrap_or(Value::Null),
                "must not be blank".into(),
            ));
            None
        }
    };
    let group = match body.get("accountingGroupId") {
        None | Some(Value::Null) => {
            subs.push(("accountingGroupId", Value::Null, "must not be null".into()));
            None
        }
        Some(v) => {
            let id = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()));
            match id.and_then(|id| m.groups.iter().position(|g| g.id == id)) {
                Some(g) => Some(g),
                None => {
                    subs.push((
                        "accountingGroupId",
                        v.clone(),
                        "accounting group not found".into(),
                    ));
                    None
                }
            }
        }
    };
    let price = match body.get("defaultPrice") {
        None | Some(Value::Null) => {
            subs.push(("defaultPrice", Value::Null, "must not be null".into()));
            None
        }
        Some(v) => match amount_cents(v) {
            Some(c) if c >= 0 => Some(c),
            _ => {
                subs.push((
                    "defaultPrice",
                    v.clone(),
                    "must be zero or more, with at most two decimals".into(),
                ));
                None
            }
        },
    };
    let sku = match body.get("sku") {
        None | Some(Value::Null) if !sku_required => None,
        None | Some(Value::Null) => {
            subs.push(("sku", Value::Null, "must not be null".into()));
            None
        }
        Some(v) => match v.as_str().map(str::trim) {
            Some(s) if !s.is_empty() && s.chars().count() <= SKU_MAX => {
                let taken = m.menu.iter().enumerate().any(|(i, item)| {
                    item.sku == s && item.deleted_at.is_none() && Some(i) != editing
                });
                if taken {
                    subs.push((
                        "sku",
                        v.clone(),
                        format!("SKU {s} is already used by another item"),
                    ));
                }
                Some(s.to_owned())
            }
            _ => {
                subs.push((
                    "sku",
                    v.clone(),
                    format!("size must be between 1 and {SKU_MAX}"),
                ));
                None
            }
        },
    };
    match (name, group, price) {
        (Some(name), Some(group), Some(price_cents)) if subs.is_empty() => Ok(ItemInput {
            name,
            group,
            price_cents,
            sku,
        }),
        _ => Err(Box::new(invalid(&subs))),
    }
}

/// `POST /items/v1/items`: 201 with the new item.
async fn create(State(sb): State<Sandbox>, headers: HeaderMap, raw: Bytes) -> Response {
    let body = match parse_body(&raw) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(bl) = body_location(&body) else {
        return invalid(&[("businessLocationId", Value::Null, "must not be null".into())]);
    };
    with_merchant(&sb, &headers, "items", Some(&bl), |m, _| {
        let input = match item_input(m, &body, false, None) {
            Ok(i) => i,
            Err(r) => return *r,
        };
        let sku = input.sku.unwrap_or_else(|| {
            let prefix = m.groups[input.group].name.chars().next().unwrap_or('I');
            (m.menu.len() + 1..)
                .map(|n| format!("{prefix}{n:03}"))
                .find(|s| !m.menu.iter().any(|i| &i.sku == s))
                .unwrap_or_default()
        });
        let i = m.add_item(sku, input.name, input.price_cents, input.group);
        let item = &m.menu[i];
        json(StatusCode::CREATED, item_dto(m, item))
    })
    .await
}

/// `PUT /items/v1/items/{id}`: the item as updated.
async fn update(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(p): Query<Params>,
    raw: Bytes,
) -> Response {
    let body = match parse_body(&raw) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(bl) = body_location(&body).or_else(|| p.get("businessLocationId").cloned()) else {
        return invalid(&[("businessLocationId", Value::Null, "must not be null".into())]);
    };
    with_merchant(&sb, &headers, "items", Some(&bl), |m, _| {
        let Some(i) = live_by_id(m, &id) else {
            return not_found(format!("Item {id} not found"));
        };
        let input = match item_input(m, &body, true, Some(i)) {
            Ok(input) => input,
            Err(r) => return *r,
        };
        let old_sku = m.menu[i].sku.clone();
        let version = m.next_version();
        let item = &mut m.menu[i];
        item.name = input.name;
        item.group = input.group;
        item.price_cents = input.price_cents;
        item.version = version;
        if let Some(sku) = input.sku {
            item.sku = sku;
        }
        let new_sku = item.sku.clone();
        if new_sku != old_sku {
            // Stock and rich data follow the item to its new SKU.
            let moved: Vec<_> = m
                .availability
                .keys()
                .filter(|(_, s)| *s == old_sku)
                .cloned()
                .collect();
            for key in moved {
                if let Some(stock) = m.availability.remove(&key) {
                    m.availability.insert((key.0, new_sku.clone()), stock);
                }
            }
        }
        json(StatusCode::OK, item_dto(m, &m.menu[i]))
    })
    .await
}

/// `DELETE /items/v1/items/{id}`: 204. Its stock records go with it.
async fn remove(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let bl = p.get("businessLocationId").cloned();
    with_merchant(&sb, &headers, "items", bl.as_deref(), |m, _| {
        let Some(i) = live_by_id(m, &id) else {
            return not_found(format!("Item {id} not found"));
        };
        if m.sellable_items() == [i] {
            return api_error(
                StatusCode::BAD_REQUEST,
                "The sandbox keeps at least one item per business: create another item first",
                &[],
            );
        }
        m.delete_item(i);
        StatusCode::NO_CONTENT.into_response()
    })
    .await
}

/// Runs `f` for a Rich Item request whose path names the token's own business.
async fn with_business(
    sb: &Sandbox,
    headers: &HeaderMap,
    business: &str,
    f: impl FnOnce(&mut Merchant, &str) -> Response,
) -> Response {
    let base = sb.base_url();
    let business = business.to_owned();
    with_merchant(sb, headers, "orders-api", None, move |m, _| {
        if business != m.business_id.to_string() {
            return api_error(
                StatusCode::FORBIDDEN,
                format!("Access token not relevant for business {business}"),
                &[],
            );
        }
        f(m, &base)
    })
    .await
}

fn rich_dto(m: &Merchant, item: &MenuItem, base: &str) -> Value {
    let r = &item.rich;
    json!({
        "businessId": m.business_id,
        "sku": item.sku,
        "allergenCodes": r.allergens,
        "descriptions": r.descriptions.iter().map(|d| json!({
            "localeCode": d.locale,
            "description": d.description,
            "displayName": d.display_name,
        })).collect::<Vec<_>>(),
        "pictureUrl": r.picture.as_ref().map(|_| format!("{base}/kseries/i/picture/{}/{}", m.business_id, item.sku)),
    })
}

/// The rich data of a menu item for `menu/load?richContent=true`; `None` when it has none.
pub fn item_rich_data(m: &Merchant, item: &MenuItem, base: &str) -> Option<Value> {
    (!item.rich.is_empty()).then(|| rich_dto(m, item, base))
}

async fn allergens(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    with_merchant(&sb, &headers, "orders-api", None, |_, _| {
        let list: Vec<Value> = ALLERGENS
            .iter()
            .map(|(code, en, fr)| {
                json!({"code": code, "translations": [{"locale": "en", "text": en}, {"locale": "fr", "text": fr}]})
            })
            .collect();
        json(StatusCode::OK, Value::Array(list))
    })
    .await
}

async fn locales(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(business): Path<String>,
) -> Response {
    with_business(&sb, &headers, &business, |m, _| {
        json(StatusCode::OK, json!(m.locales))
    })
    .await
}

/// A locale such as `en`, `fr` or `nl-BE`.
fn is_locale(raw: &str) -> bool {
    let (lang, region) = raw.split_once('-').unwrap_or((raw, ""));
    lang.len() == 2
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && (region.is_empty()
            || (region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase())))
}

async fn put_locales(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(business): Path<String>,
    raw: Bytes,
) -> Response {
    let list: Vec<String> = match serde_json::from_slice(&raw) {
        Ok(l) => l,
        Err(_) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "The body must be a JSON array of locale codes, such as [\"en\",\"fr\"]",
                &[],
            )
        }
    };
    if list.is_empty() {
        return invalid(&[(
            "locales",
            json!(list),
            "at least one locale is required".into(),
        )]);
    }
    if let Some(bad) = list.iter().find(|l| !is_locale(l)) {
        return invalid(&[(
            "locales",
            json!(bad),
            "not a locale code such as `en` or `nl-BE`".into(),
        )]);
    }
    with_business(&sb, &headers, &business, move |m, _| {
        let mut list = list;
        list.dedup();
        m.locales = list;
        json(StatusCode::OK, json!(m.locales))
    })
    .await
}

/// `GET /i/richItem/{businessId}?page&size`: the items that have rich data, by SKU, in HAL.
async fn rich_list(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(business): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let page = p.get("page").map_or(Ok(0), |v| v.parse::<usize>());
    let size = p.get("size").map_or(Ok(20), |v| v.parse::<usize>());
    let (Ok(page), Ok(size)) = (page, size) else {
        return invalid(&[(
            "page",
            json!(p.get("page")),
            "page and size must be whole numbers".into(),
        )]);
    };
    if !(1..=100).contains(&size) {
        return invalid(&[("size", json!(size), "must be between 1 and 100".into())]);
    }
    with_business(&sb, &headers, &business, |m, base| {
        let mut items: Vec<&MenuItem> = m
            .menu
            .iter()
            .filter(|i| i.deleted_at.is_none() && !i.rich.is_empty())
            .collect();
        items.sort_by(|a, b| a.sku.cmp(&b.sku));
        let total = items.len();
        let pages = total.div_ceil(size);
        let list: Vec<Value> = items
            .iter()
            .skip(page * size)
            .take(size)
            .map(|i| rich_dto(m, i, base))
            .collect();
        let href = |n: usize| format!("{base}/kseries/i/richItem/{business}?page={n}&size={size}");
        let mut links = json!({"self": {"href": href(page)}});
        if page + 1 < pages {
            links["next"] = json!({"href": href(page + 1)});
        }
        let mut r = json(
            StatusCode::OK,
            json!({
                "_embedded": {"richItemDtoList": list},
                "_links": links,
                "page": {"size": size, "totalElements": total, "totalPages": pages, "number": page},
            }),
        );
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/hal+json"),
        );
        r
    })
    .await
}

async fn rich_by_skus(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(business): Path<String>,
    raw: Bytes,
) -> Response {
    let Ok(skus) = serde_json::from_slice::<Vec<String>>(&raw) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "The body must be a JSON array of SKUs",
            &[],
        );
    };
    with_business(&sb, &headers, &business, |m, base| {
        let list: Vec<Value> = skus
            .iter()
            .filter_map(|s| m.live_item(s))
            .map(|i| rich_dto(m, &m.menu[i], base))
            .collect();
        json(StatusCode::OK, Value::Array(list))
    })
    .await
}

async fn rich_one(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((business, sku)): Path<(String, String)>,
) -> Response {
    with_business(&sb, &headers, &business, |m, base| {
        match m.live_item(&sku) {
            Some(i) => json(StatusCode::OK, rich_dto(m, &m.menu[i], base)),
            None => not_found(format!("No item with SKU {sku}")),
        }
    })
    .await
}

/// `PUT /i/richItem/{businessId}/{sku}`: replaces the allergens and descriptions (the picture
/// stays).
async fn rich_put(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((business, sku)): Path<(String, String)>,
    raw: Bytes,
) -> Response {
    let body = match parse_body(&raw) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    with_business(&sb, &headers, &business, |m, base| {
        let mut subs: Vec<(&str, Value, String)> = Vec::new();
        if sku.chars().count() > RICH_SKU_MAX {
            subs.push((
                "sku",
                json!(sku),
                format!("size must be between 1 and {RICH_SKU_MAX}"),
            ));
        }
        match body.get("sku").and_then(Value::as_str) {
            Some(s) if s == sku => {}
            other => subs.push(("sku", json!(other), format!("must be the path's SKU {sku}"))),
        }
        let allergens: Vec<String> = match body.get("allergenCodes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|v| match v.as_str() {
                    Some(code) if ALLERGENS.iter().any(|(c, _, _)| *c == code) => {
                        Some(code.to_owned())
                    }
                    _ => {
                        subs.push((
                            "allergenCodes",
                            v.clone(),
                            "unknown allergen code; see /i/allergens".into(),
                        ));
                        None
                    }
                })
                .collect(),
            Some(other) => {
                subs.push((
                    "allergenCodes",
                    other.clone(),
                    "must be an array of allergen codes".into(),
                ));
                Vec::new()
            }
        };
        let descriptions: Vec<Description> = match body.get("descriptions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|d| {
                    let locale = d.get("localeCode").and_then(Value::as_str);
                    let text = d.get("description").and_then(Value::as_str);
                    match (locale, text) {
                        (Some(l), Some(t)) if m.locales.iter().any(|x| x == l) => {
                            Some(Description {
                                locale: l.to_owned(),
                                description: t.to_owned(),
                                display_name: d
                                    .get("displayName")
                                    .and_then(Value::as_str)
                                    .map(str::to_owned),
                            })
                        }
                        (Some(l), Some(_)) => {
                            subs.push((
                                "descriptions.localeCode",
                                json!(l),
                                format!("not one of the business's locales {:?}", m.locales),
                            ));
                            None
                        }
                        _ => {
                            subs.push((
                                "descriptions",
                                d.clone(),
                                "each needs localeCode and description".into(),
                            ));
                            None
                        }
                    }
                })
                .collect(),
            Some(other) => {
                subs.push(("descriptions", other.clone(), "must be an array".into()));
                Vec::new()
            }
        };
        let Some(i) = m.live_item(&sku) else {
            return not_found(format!("No item with SKU {sku}"));
        };
        if !subs.is_empty() {
            return invalid(&subs);
        }
        let mut allergens = allergens;
        allergens.sort();
        allergens.dedup();
        m.menu[i].rich.allergens = allergens;
        m.menu[i].rich.descriptions = descriptions;
        m.version += 1;
        json(StatusCode::OK, rich_dto(m, &m.menu[i], base))
    })
    .await
}

/// `PATCH /i/richItem/{businessId}/{sku}` with `{"picture": base64}`.
async fn rich_picture(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((business, sku)): Path<(String, String)>,
    raw: Bytes,
) -> Response {
    let body = match parse_body(&raw) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let picture = body
        .get("picture")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let decoded = picture
        .as_deref()
        .map(|p| base64::engine::general_purpose::STANDARD.decode(p));
    let picture = match (picture, decoded) {
        (Some(p), Some(Ok(bytes))) if !bytes.is_empty() && bytes.len() <= PICTURE_MAX_BYTES => p,
        (Some(_), Some(Ok(bytes))) if !bytes.is_empty() => {
            return invalid(&[(
                "picture",
                Value::Null,
                format!("at most {PICTURE_MAX_BYTES} bytes once decoded"),
            )])
        }
        _ => {
            return invalid(&[(
                "picture",
                Value::Null,
                "must be the image, base64-encoded".into(),
            )])
        }
    };
    with_business(&sb, &headers, &business, |m, base| {
        let Some(i) = m.live_item(&sku) else {
            return not_found(format!("No item with SKU {sku}"));
        };
        m.menu[i].rich.picture = Some(picture);
        m.version += 1;
        json(StatusCode::OK, rich_dto(m, &m.menu[i], base))
    })
    .await
}

async fn rich_delete(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((business, sku)): Path<(String, String)>,
) -> Response {
    with_business(&sb, &headers, &business, |m, _| {
        let Some(i) = m.live_item(&sku) else {
            return not_found(format!("No item with SKU {sku}"));
        };
        m.menu[i].rich = RichItem::default();
        m.version += 1;
        StatusCode::NO_CONTENT.into_response()
    })
    .await
}

/// The picture bytes at a rich item's `pictureUrl`, without a token.
async fn picture(
    State(sb): State<Sandbox>,
    Path((business, sku)): Path<(String, String)>,
) -> Response {
    let found = sb.with_world(|w| {
        w.merchants
            .values()
            .filter(|m| m.series == "k" && m.business_id.to_string() == business)
            .find_map(|m| {
                m.live_item(&sku)
                    .and_then(|i| m.menu[i].rich.picture.clone())
            })
    });
    let Some(bytes) = found.and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
    else {
        return (StatusCode::NOT_FOUND, "no picture").into_response();
    };
    let kind = if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        "image/jpeg"
    } else {
        "application/octet-stream"
    };
    ([(header::CONTENT_TYPE, kind)], bytes).into_response()
}
