//! K-Series Order & Pay: account profiles, the online menu, item availability, online orders
//! (`/o/op/1/order/local` and `/toGo`), payments (`/o/op/1/pay`), open checks and
//! `saleByExternalReference`.
//!
//! As on the real platform, an accepted order is only queued: it reaches the "POS" a moment
//! later, and the outcome (`SUCCESS` with the account identifier, or `FAILURE` with a reason)
//! arrives by webhook at the endpoint the order named. Payments work the same way. The sandbox
//! control API plays the staff: mark an order ready, close it (it becomes a sale in the
//! financial data, with `externalReferences` `TASK:OO-{bl}-{reference}`) or void it.

use super::data::with_merchant;
use super::render::{self, Includes, Version};
use super::webhooks::delivery;
use crate::generate::{self, TAX_BASIS_POINTS};
use crate::http::json;
use crate::webhooks::Delivery;
use crate::wire::{cents, k_instant, parse_instant};
use crate::world::{
    ItemKind, MenuItem, Merchant, OnlineOrder, OnlineState, OrderLine, OrderedItem, SaleLine,
    SalePayment, World,
};
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// How long an accepted order or payment takes to reach the POS (divided by the time scale).
const DELIVERY: Duration = Duration::from_millis(300);

/// The account profiles every location has: (code, name, delivery mode).
pub const PROFILES: [(&str, &str, &str); 3] = [
    ("DINEIN", "Dine in", "NONE"),
    ("COLLECT", "Collect", "TAKE_AWAY"),
    ("DELIVERY", "Delivery", "DELIVERY"),
];

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/kseries/o/op/data/account-profiles", get(account_profiles))
        .route("/kseries/o/op/data/{bl}/floorplans", get(floor_plans))
        .route(
            "/kseries/o/op/data/{bl}/floorplans/{plan}/tables",
            get(floor_plan_tables),
        )
        .route("/kseries/o/op/1/menu/list", get(menu_list))
        .route("/kseries/o/op/2/menu/load/{menu}", get(menu_load))
        .route(
            "/kseries/o/op/data/{bl}/account-profiles/tagcode/{code}",
            get(account_profile_by_tag),
        )
        .route("/kseries/o/op/1/menu/discounts", get(menu_discounts))
        .route(
            "/kseries/o/op/1/itemAvailability",
            get(item_availability).post(item_availability_post),
        )
        .route(
            "/kseries/o/op/1/order/table/{table}/getCheck",
            get(table_check),
        )
        .route("/kseries/o/op/1/printMsg", post(print_message))
        .route("/kseries/o/op/1/order/local", post(order_local))
        .route("/kseries/o/op/1/order/toGo", post(order_to_go))
        .route("/kseries/o/op/1/pay", post(pay))
        .route("/kseries/o/op/1/order/table/getCheck", get(open_checks))
        .route("/kseries/o/op/1/order/accounts/{account}", get(account))
        .route(
            "/kseries/f/finance/{bl}/saleByExternalReference",
            get(sale_by_external_reference),
        )
}

type Params = HashMap<String, String>;

fn spring(status: StatusCode, message: impl Into<String>, path: &str) -> Response {
    json(
        status,
        json!({
            "timestamp": Utc::now(),
            "status": status.as_u16(),
            "error": status.canonical_reason(),
            "message": message.into(),
            "path": path,
        }),
    )
}

/// A Spring validation failure: one entry per (field, message, constraint code).
fn validation(object: &str, path: &str, errors: &[(String, String, &str)]) -> Response {
    let list: Vec<Value> = errors
        .iter()
        .map(|(field, message, code)| {
            json!({
                "codes": [format!("{code}.{object}.{field}"), format!("{code}.{field}"), (*code).to_owned()],
                "arguments": null,
                "defaultMessage": message,
                "objectName": object,
                "field": field,
                "bindingFailure": false,
                "code": code,
            })
        })
        .collect();
    json(
        StatusCode::BAD_REQUEST,
        json!({
            "timestamp": Utc::now(),
            "status": 400,
            "error": "Bad Request",
            "message": format!("Validation failed for object='{object}'. Error count: {}", list.len()),
            "errors": list,
            "path": path,
        }),
    )
}

fn business_location(params: &Params) -> Option<&str> {
    params.get("businessLocationId").map(String::as_str)
}

/// Runs `f` for an Order & Pay request on the `businessLocationId` of its query, answering
/// 404 in Spring style when the merchant has no such location.
async fn at_location(
    sb: &Sandbox,
    headers: &HeaderMap,
    params: &Params,
    path: &str,
    f: impl FnOnce(&mut Merchant, usize) -> Response,
) -> Response {
    let bl = business_location(params).unwrap_or_default().to_owned();
    with_merchant(sb, headers, "orders-api", Some(&bl), |m, loc| match loc {
        Some(loc) => f(m, loc),
        None => spring(
            StatusCode::NOT_FOUND,
            format!("business location {bl} not found"),
            path,
        ),
    })
    .await
}

async fn account_profiles(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    at_location(&sb, &headers, &params, "/o/op/data/account-profiles", |m, loc| {
        let id = m.locations[loc].id;
        let list: Vec<Value> = PROFILES
            .iter()
            .enumerate()
            .map(|(i, (code, name, mode))| json!({"id": id * 10 + i as i64 + 1, "code": code, "name": name, "deliveryMode": mode}))
            .collect();
        json(StatusCode::OK, json!({"businessLocationId": id, "accountProfileList": list}))
    })
    .await
}

/// `GET /o/op/data/{bl}/account-profiles/tagcode/{code}`: one profile, or 404.
async fn account_profile_by_tag(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((bl, code)): Path<(String, String)>,
) -> Response {
    let path = format!("/o/op/data/{bl}/account-profiles/tagcode/{code}");
    with_merchant(&sb, &headers, "orders-api", Some(&bl), |m, loc| {
        let Some(loc) = loc else {
            return spring(StatusCode::NOT_FOUND, format!("business location {bl} not found"), &path);
        };
        let id = m.locations[loc].id;
        match PROFILES.iter().position(|(c, _, _)| *c == code) {
            Some(i) => {
                let (code, name, mode) = PROFILES[i];
                json(
                    StatusCode::OK,
                    json!({"id": id * 10 + i as i64 + 1, "code": code, "name": name, "deliveryMode": mode}),
                )
            }
            None => spring(
                StatusCode::NOT_FOUND,
                format!("account profile with tag code {code} not found"),
                &path,
            ),
        }
    })
    .await
}

/// The discounts a menu offers: the manual discount the generated sales use.
async fn menu_discounts(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    at_location(&sb, &headers, &params, "/o/op/1/menu/discounts", |_, _| {
        json(
            StatusCode::OK,
            json!([{"name": "10% off", "code": "TEN", "discountPercentage": 10}]),
        )
    })
    .await
}

fn table_json(t: &crate::world::Table) -> Value {
    json!({
        "number": t.number,
        "reference": format!("T{}", t.number),
        "id": t.id,
        "active": t.active,
        "description": t.description,
        "defaultClientCount": t.default_client_count,
    })
}

/// `GET /o/op/data/{blId}/floorplans?expandTables=`: 404 when the location has none.
async fn floor_plans(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let path = format!("/o/op/data/{bl}/floorplans");
    let expand = params.get("expandTables").map(String::as_str) == Some("true");
    with_merchant(&sb, &headers, "orders-api", Some(&bl), |m, loc| {
        let Some(loc) = loc else {
            return spring(
                StatusCode::NOT_FOUND,
                format!("business location {bl} not found"),
                &path,
            );
        };
        let plans = &m.locations[loc].floor_plans;
        if plans.is_empty() {
            return spring(
                StatusCode::NOT_FOUND,
                format!("no floor plans configured for business location {bl}"),
                &path,
            );
        }
        let list: Vec<Value> = plans
            .iter()
            .map(|p| {
                let mut v = json!({"id": p.id, "name": p.name});
                if expand {
                    v["tables"] = p.tables.iter().map(table_json).collect();
                }
                v
            })
            .collect();
        json(StatusCode::OK, Value::Array(list))
    })
    .await
}

/// `GET /o/op/data/{blId}/floorplans/{floorPlanId}/tables`.
async fn floor_plan_tables(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((bl, plan)): Path<(String, String)>,
) -> Response {
    let path = format!("/o/op/data/{bl}/floorplans/{plan}/tables");
    with_merchant(&sb, &headers, "orders-api", Some(&bl), |m, loc| {
        let found = loc.and_then(|loc| {
            m.locations[loc]
                .floor_plans
                .iter()
                .find(|p| p.id.to_string() == plan)
        });
        match found {
            Some(p) => json(StatusCode::OK, p.tables.iter().map(table_json).collect()),
            None => spring(
                StatusCode::NOT_FOUND,
                format!("floor plan {plan} not found for business location {bl}"),
                &path,
            ),
        }
    })
    .await
}

async fn menu_list(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    at_location(&sb, &headers, &params, "/o/op/1/menu/list", |m, loc| {
        json(
            StatusCode::OK,
            json!([{ "menuName": "Online", "ikentooMenuId": m.locations[loc].id * 100 + 1 }]),
        )
    })
    .await
}

async fn menu_load(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(menu): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let path = format!("/o/op/2/menu/load/{menu}");
    let rich = params.get("richContent").is_some_and(|v| v == "true");
    let base = sb.base_url();
    at_location(&sb, &headers, &params, &path, |m, loc| {
        if menu != (m.locations[loc].id * 100 + 1).to_string() {
            return spring(StatusCode::NOT_FOUND, format!("menu {menu} not found"), &path);
        }
        let groups: Vec<Value> = m
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                let entries: Vec<Value> = m
                    .menu
                    .iter()
                    .filter(|item| item.group == g && item.deleted_at.is_none())
                    .map(|item| menu_entry(m, item, rich, &base))
                    .collect();
                json!({"@type": "group", "id": group.id, "name": group.name, "color": "#4a90e2", "menuEntry": entries})
            })
            .collect();
        json(
            StatusCode::OK,
            json!({"menuName": "Online", "ikentooMenuId": m.locations[loc].id * 100 + 1, "menuEntryGroups": groups}),
        )
    })
    .await
}

/// A menu entry as `/o/op/2/menu/load` writes it: a `menuItem` with its production
/// instructions and product modifier groups, a `menuProductModifier`, or a `menuDeal` with
/// its deal groups.
fn menu_entry(m: &Merchant, item: &MenuItem, rich: bool, base: &str) -> Value {
    let kind = match item.kind {
        ItemKind::Plain => "menuItem",
        ItemKind::Modifier => "menuProductModifier",
        ItemKind::Deal => "menuDeal",
    };
    let mut entry = priced_entry(m, item, kind, rich, base);
    entry["productionInstructionList"] = Value::from(
        m.groups[item.group]
            .instructions
            .iter()
            .map(|g| {
                json!({
                    "multiSelectionPermitted": g.multiple,
                    "productionInstructionGroupName": g.name,
                    // Spelled as the API spells it.
                    "productionIntructionGroupId": g.id,
                    "productionInstructionList": g.instructions.iter().map(|(id, name)| json!({"instruction": name, "ikentooModifierId": id})).collect::<Vec<_>>(),
                })
            })
            .collect::<Vec<_>>(),
    );
    // A product modifier group lists its modifiers at their price; a deal group lists items
    // with the extra price they add to the deal.
    let (groups_key, option_type, price_key, options_key) = match item.kind {
        ItemKind::Plain => (
            "menuModifierGroups",
            "menuProductModifier",
            "productPrice",
            "productModifiers",
        ),
        ItemKind::Deal => ("menuDealGroups", "menuItem", "extraPrice", "items"),
        ItemKind::Modifier => return entry,
    };
    if item.kind == ItemKind::Plain {
        entry["asSubItem"] = Value::from(false);
    }
    entry[groups_key] = Value::from(
        item.choices
            .iter()
            .map(|g| {
                let options = m
                    .live_options(g)
                    .map(|o| {
                        let mut e = priced_entry(m, &m.menu[o.item], option_type, rich, base);
                        e[price_key] = Value::from(cents(o.price_cents));
                        if option_type == "menuItem" {
                            e["asSubItem"] = Value::from(false);
                        }
                        e
                    })
                    .collect::<Vec<_>>();
                let mut v = json!({
                    "description": g.name,
                    "sku": g.sku,
                    "mustSelectAnItem": g.min > 0,
                    "multiSelectionPermitted": g.max != Some(1),
                    "minimumSelection": g.min,
                    "maximumSelection": g.max,
                    "itemRichData": null,
                });
                v[options_key] = Value::from(options);
                v
            })
            .collect::<Vec<_>>(),
    );
    entry
}

/// The fields every priced menu entry has.
fn priced_entry(m: &Merchant, item: &MenuItem, kind: &str, rich: bool, base: &str) -> Value {
    let rich_data = if rich {
        super::items::item_rich_data(m, item, base)
    } else {
        None
    };
    json!({
        "@type": kind,
        "itemRichData": rich_data,
        "productName": item.name,
        "productPrice": cents(item.price_cents),
        "sku": item.sku,
        "pricingStrategy": "PRICE_CANNOT_BE_CUSTOMIZED",
        "taxes": [{"description": "VAT", "amount": null, "percentage": TAX_BASIS_POINTS / 100}],
        "defaultTaxPercentage": TAX_BASIS_POINTS / 100,
        "taxIncludedInPrice": true,
    })
}

async fn item_availability(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let bl = get("businessLocationId").unwrap_or_default();
    let skus: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "skus")
        .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let page = get("page").map_or(Ok(0), |p| p.parse::<usize>());
    let size = get("size").map_or(Ok(25), |p| p.parse::<usize>());
    let request = match (page, size) {
        (Ok(page), Ok(size)) => Ok((skus, page, size)),
        _ => Err("page and size must be whole numbers"),
    };
    availability(&sb, &headers, &bl, request, 50).await
}

/// `POST /o/op/1/itemAvailability` with `{businessLocationId, skus, page, size}` (size ≤ 100).
async fn item_availability_post(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/o/op/1/itemAvailability";
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return spring(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
            path,
        );
    };
    let bl = match v.get("businessLocationId") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => {
            return spring(
                StatusCode::BAD_REQUEST,
                "businessLocationId is required",
                path,
            )
        }
    };
    let skus: Option<Vec<String>> = v.get("skus").and_then(Value::as_array).map(|l| {
        l.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    });
    let number = |name: &str, default: u64| match v.get(name) {
        None | Some(Value::Null) => Some(default),
        Some(n) => n.as_u64(),
    };
    let request = match (skus, number("page", 0), number("size", 25)) {
        (Some(skus), Some(page), Some(size)) => Ok((skus, page as usize, size as usize)),
        (None, _, _) => Err("skus must be an array of SKUs"),
        _ => Err("page and size must be whole numbers"),
    };
    availability(&sb, &headers, &bl, request, 100).await
}

/// One page of the availability of `skus` at a business location; `max_size` is 50 for GET
/// and 100 for POST.
async fn availability(
    sb: &Sandbox,
    headers: &HeaderMap,
    bl: &str,
    request: Result<(Vec<String>, usize, usize), &str>,
    max_size: usize,
) -> Response {
    let path = "/o/op/1/itemAvailability";
    with_merchant(sb, headers, "orders-api", Some(bl), |m, loc| {
        let Some(loc) = loc else {
            return spring(StatusCode::NOT_FOUND, format!("business location {bl} not found"), path);
        };
        let (skus, page, size) = match request {
            Ok(r) => r,
            Err(message) => return spring(StatusCode::BAD_REQUEST, message, path),
        };
        if skus.is_empty() || skus.len() > 50 {
            return spring(StatusCode::BAD_REQUEST, "skus: between 1 and 50 SKUs are required", path);
        }
        if !(1..=max_size).contains(&size) {
            return spring(StatusCode::BAD_REQUEST, format!("size must be between 1 and {max_size}"), path);
        }
        let data: Vec<Value> = skus
            .iter()
            .filter_map(|sku| {
                m.availability.get(&(loc, sku.clone())).map(|stock| {
                    json!({"sku": sku, "count": stock.count.max(0), "updatedAt": k_instant(stock.updated_at)})
                })
            })
            .collect();
        let total = data.len();
        let pages = total.div_ceil(size).max(1);
        let slice: Vec<Value> = data.into_iter().skip(page * size).take(size).collect();
        json(
            StatusCode::OK,
            json!({"data": slice, "metadata": {"current": page, "total": total, "totalPages": pages, "warnings": []}}),
        )
    })
    .await
}

fn str_field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// Checks an order body; returns the order to queue or the validation errors.
fn check_order(
    m: &Merchant,
    body: &Value,
    local: bool,
) -> Result<OnlineOrder, Vec<(String, String, &'static str)>> {
    let mut errors = Vec::new();
    let mut err = |field: &str, message: &str, code: &'static str| {
        errors.push((field.to_owned(), message.to_owned(), code));
    };
    let location = match body.get("businessLocationId") {
        None | Some(Value::Null) => {
            err("businessLocationId", "must not be null", "NotNull");
            None
        }
        Some(v) => {
            let id = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()));
            let found = id.and_then(|id| m.locations.iter().position(|l| l.id == id));
            if found.is_none() {
                err("businessLocationId", "unknown business location", "Invalid");
            }
            found
        }
    };
    let reference = str_field(body, "thirdPartyReference").unwrap_or_default();
    if reference.is_empty() || reference.chars().count() > 48 {
        err(
            "thirdPartyReference",
            "size must be between 1 and 48",
            "Size",
        );
    }
    let endpoint = str_field(body, "endpointId").unwrap_or_default();
    if endpoint.is_empty() {
        err("endpointId", "must not be blank", "NotBlank");
    } else if !m.k_webhooks.iter().any(|h| h.endpoint_id == endpoint) {
        err(
            "endpointId",
            "no webhook is registered with this endpointId",
            "Invalid",
        );
    }
    let customer = body.get("customerInfo").filter(|c| c.is_object());
    let first = customer
        .and_then(|c| str_field(c, "firstName"))
        .unwrap_or_default();
    if customer.is_none() {
        err("customerInfo", "must not be null", "NotNull");
    } else if first.is_empty() || first.chars().count() > 128 {
        err(
            "customerInfo.firstName",
            "size must be between 1 and 128",
            "Size",
        );
    }
    let last = customer
        .and_then(|c| str_field(c, "lastName"))
        .unwrap_or_default();
    let mut items = Vec::new();
    match body.get("items") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                let sku = str_field(item, "sku").unwrap_or_default();
                if sku.is_empty() || sku.chars().count() > 25 {
                    err(
                        &format!("items[{i}].sku"),
                        "size must be between 1 and 25",
                        "Size",
                    );
                }
                let mut modifiers = Vec::new();
                match item.get("modifiers") {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(list)) => {
                        for (j, modifier) in list.iter().enumerate() {
                            match str_field(modifier, "modifierId").filter(|id| !id.is_empty()) {
                                Some(id) => modifiers.push(id.to_owned()),
                                None => err(
                                    &format!("items[{i}].modifiers[{j}].modifierId"),
                                    "must not be blank",
                                    "NotBlank",
                                ),
                            }
                        }
                    }
                    Some(_) => err(&format!("items[{i}].modifiers"), "must be an array", "Type"),
                }
                let mut sub_items = Vec::new();
                match item.get("subItems") {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(list)) => {
                        for (j, sub) in list.iter().enumerate() {
                            let field = format!("items[{i}].subItems[{j}]");
                            let sub_sku = str_field(sub, "sku").unwrap_or_default();
                            if sub_sku.is_empty() || sub_sku.chars().count() > 25 {
                                err(
                                    &format!("{field}.sku"),
                                    "size must be between 1 and 25",
                                    "Size",
                                );
                            }
                            if sub
                                .get("subItems")
                                .and_then(Value::as_array)
                                .is_some_and(|l| !l.is_empty())
                            {
                                err(
                                    &format!("{field}.subItems"),
                                    "this menu has no sub-items of sub-items",
                                    "Invalid",
                                );
                            }
                            match sub.get("quantity").and_then(Value::as_i64) {
                                Some(q) if q >= 1 && q <= i64::from(i32::MAX) => {
                                    sub_items.push((sub_sku.to_owned(), q));
                                }
                                _ => err(
                                    &format!("{field}.quantity"),
                                    "must be a whole number of at least 1",
                                    "Min",
                                ),
                            }
                        }
                    }
                    Some(_) => err(&format!("items[{i}].subItems"), "must be an array", "Type"),
                }
                match item.get("quantity").and_then(Value::as_i64) {
                    Some(q) if q >= 1 && q <= i64::from(i32::MAX) => items.push(OrderedItem {
                        sku: sku.to_owned(),
                        quantity: q,
                        modifiers,
                        sub_items,
                    }),
                    _ => err(
                        &format!("items[{i}].quantity"),
                        "must be a whole number of at least 1",
                        "Min",
                    ),
                }
            }
        }
        Some(_) => err("items", "must be an array", "Type"),
    }
    if let Some(raw) = str_field(body, "scheduledTimeForOrderAsIso8601") {
        if parse_instant(raw).is_none_or(|at| at <= Utc::now()) {
            err(
                "scheduledTimeForOrderAsIso8601",
                "must be a future date-time",
                "Future",
            );
        }
    }
    if !local && str_field(body, "collectionCode").is_some_and(|c| c.chars().count() > 8) {
        err("collectionCode", "size must be between 0 and 8", "Size");
    }
    let mut payments = Vec::new();
    if let Some(p) = body.get("payment").filter(|p| !p.is_null()) {
        let amount = p.get("paymentAmount").and_then(crate::wire::amount_cents);
        let tip = p
            .get("tipAmount")
            .map_or(Some(0), crate::wire::amount_cents);
        let method = str_field(p, "paymentMethod")
            .and_then(|code| m.payment_methods.iter().position(|pm| pm.code == code));
        match (amount, tip, method) {
            (Some(a), Some(t), Some(method)) if a >= 0 && t >= 0 && t <= a => {
                payments.push((method, a - t, t, format!("{reference}-order")));
            }
            (_, _, None) => err("payment.paymentMethod", "unknown payment method", "Invalid"),
            _ => err(
                "payment.paymentAmount",
                "must be an amount of at least the tip",
                "Invalid",
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(OnlineOrder {
        reference: reference.to_owned(),
        endpoint_id: endpoint.to_owned(),
        location: location.unwrap_or_default(),
        state: OnlineState::Pending,
        failure: None,
        identifier: None,
        account_id: None,
        items,
        lines: Vec::new(),
        dine_in: local,
        table: if local {
            str_field(body, "tableNumber").map(str::to_owned)
        } else {
            None
        },
        client_count: body
            .get("clientCount")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(1),
        customer_name: format!("{first} {last}").trim().to_owned(),
        profile: str_field(body, "accountProfileCode").map(str::to_owned),
        payments,
        opened: Utc::now(),
        sale: None,
    })
}

async fn order_local(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    submit(sb, headers, body, true).await
}

async fn order_to_go(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    submit(sb, headers, body, false).await
}

async fn submit(sb: Sandbox, headers: HeaderMap, body: Bytes, local: bool) -> Response {
    let (path, object) = if local {
        ("/o/op/1/order/local", "localOrder")
    } else {
        ("/o/op/1/order/toGo", "toGoOrder")
    };
    let mut queued: Option<(String, String)> = None;
    let response = with_merchant(&sb, &headers, "orders-api", None, |m, _| {
        let body: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return spring(StatusCode::BAD_REQUEST, format!("JSON parse error: {e}"), path),
        };
        let order = match check_order(m, &body, local) {
            Ok(o) => o,
            Err(errors) => return validation(object, path, &errors),
        };
        if m.k_orders.iter().any(|o| o.reference == order.reference) {
            return json(
                StatusCode::CONFLICT,
                json!({"status": "fail", "msg": format!("reference has already been used {}", order.reference)}),
            );
        }
        queued = Some((m.id.clone(), order.reference.clone()));
        m.k_orders.push(order);
        json(StatusCode::OK, json!({"status": "ok"}))
    })
    .await;
    if let Some((merchant, reference)) = queued {
        let delay = DELIVERY.div_f64(sb.time_scale());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            sb.send_webhooks(&merchant, |w| deliver_order(w, &merchant, &reference));
        });
    }
    response
}

/// The order notification for `o` to the endpoint it named.
fn order_event(
    m: &mut Merchant,
    o: &OnlineOrder,
    status: &str,
    reason: Option<&str>,
) -> Vec<Delivery> {
    let Some(hook) = m
        .k_webhooks
        .iter()
        .find(|h| h.endpoint_id == o.endpoint_id)
        .cloned()
    else {
        return Vec::new();
    };
    let mut body = json!({
        "status": status,
        "type": "ORDER",
        "businessLocationId": m.locations[o.location].id,
        "thirdPartyReference": o.reference,
        "ikentooAccountId": o.account_id,
        "ikentooAccountIdentifier": o.identifier,
    });
    if let Some(reason) = reason {
        body["reason"] = Value::from(reason);
    }
    vec![delivery(m, &hook, &body)]
}

/// The names of the production instructions `ids` on menu item `item`, or why the POS refuses
/// them: an id the item does not offer, or two from a group that allows one.
fn instructions(m: &Merchant, item: usize, ids: &[String]) -> Result<Vec<String>, String> {
    let sku = &m.menu[item].sku;
    let mut names = Vec::new();
    let mut single_groups = Vec::new();
    for id in ids {
        let found = m.instructions_of(item).iter().find_map(|g| {
            g.instructions
                .iter()
                .find(|(i, _)| i.to_string() == *id)
                .map(|(_, name)| (g, name))
        });
        let Some((group, name)) = found else {
            return Err(format!("Modifier {id} not found for item with sku {sku}"));
        };
        if !group.multiple {
            if single_groups.contains(&group.id) {
                return Err(format!(
                    "Only one modifier of {} can be chosen for item with sku {sku}",
                    group.name
                ));
            }
            single_groups.push(group.id);
        }
        names.push(name.clone());
    }
    Ok(names)
}

/// The lines of the sub-items `chosen` on menu item `item`, as (item, quantity per unit,
/// unit price), or why the POS refuses them: a sku none of the item's groups offers, or a
/// group chosen fewer or more times than it allows.
fn sub_items(
    m: &Merchant,
    item: usize,
    chosen: &[(String, i64)],
) -> Result<Vec<(usize, i64, i64)>, String> {
    let parent = &m.menu[item];
    let mut counts = vec![0i64; parent.choices.len()];
    let mut out = Vec::new();
    for (sku, quantity) in chosen {
        let found = parent.choices.iter().enumerate().find_map(|(g, group)| {
            m.live_options(group)
                .find(|o| m.menu[o.item].sku == *sku)
                .map(|o| (g, o))
        });
        let Some((g, option)) = found else {
            return Err(format!(
                "Sub-item with sku {sku} not found for item with sku {}",
                parent.sku
            ));
        };
        counts[g] += quantity;
        out.push((option.item, *quantity, option.price_cents));
    }
    for (group, count) in parent.choices.iter().zip(counts) {
        if count < group.min {
            return Err(format!(
                "At least {} of {} must be chosen for item with sku {}",
                group.min, group.name, parent.sku
            ));
        }
        if group.max.is_some_and(|max| count > max) {
            return Err(format!(
                "At most {} of {} can be chosen for item with sku {}",
                group.max.unwrap_or_default(),
                group.name,
                parent.sku
            ));
        }
    }
    Ok(out)
}

/// Delivers a queued order to the POS: an open account, or a failure with its reason.
fn deliver_order(w: &mut World, merchant: &str, reference: &str) -> Vec<Delivery> {
    let Some(m) = w.merchants.get_mut(merchant) else {
        return Vec::new();
    };
    let Some(i) = m.k_orders.iter().position(|o| o.reference == reference) else {
        return Vec::new();
    };
    if m.k_orders[i].state != OnlineState::Pending {
        return Vec::new();
    }
    let loc = m.k_orders[i].location;
    let mut lines = Vec::new();
    let mut failure = None;
    for ordered in m.k_orders[i].items.clone() {
        let (sku, qty) = (&ordered.sku, ordered.quantity);
        match m.live_item(sku) {
            None => failure = Some(format!("Item with sku {sku} not found")),
            Some(item) if m.menu[item].kind == ItemKind::Modifier => {
                failure = Some(format!(
                    "Item with sku {sku} is a product modifier and can only be ordered as a sub-item"
                ));
            }
            Some(item) => match m.availability.get(&(loc, sku.clone())) {
                Some(stock) if stock.count < qty => {
                    failure = Some(format!("Item with sku {sku} is not available"));
                }
                _ => match instructions(m, item, &ordered.modifiers)
                    .and_then(|names| Ok((names, sub_items(m, item, &ordered.sub_items)?)))
                    .and_then(|(names, subs)| {
                        // A sub-item whose stock is counted must have enough for every unit.
                        let short = subs.iter().find(|(sub, per_unit, _)| {
                            m.availability
                                .get(&(loc, m.menu[*sub].sku.clone()))
                                .is_some_and(|stock| stock.count < per_unit * qty)
                        });
                        match short {
                            Some((sub, ..)) => Err(format!(
                                "Item with sku {} is not available",
                                m.menu[*sub].sku
                            )),
                            None => Ok((names, subs)),
                        }
                    }) {
                    Ok((instructions, subs)) => {
                        let parent = lines.len();
                        lines.push(OrderLine {
                            item,
                            quantity: qty,
                            unit_cents: m.menu[item].price_cents,
                            instructions,
                            parent: None,
                        });
                        for (sub, per_unit, unit_cents) in subs {
                            lines.push(OrderLine {
                                item: sub,
                                quantity: per_unit * qty,
                                unit_cents,
                                instructions: Vec::new(),
                                parent: Some(parent),
                            });
                        }
                    }
                    Err(reason) => failure = Some(reason),
                },
            },
        }
        if failure.is_some() {
            break;
        }
    }
    if let Some(code) = &m.k_orders[i].profile {
        if failure.is_none() && !PROFILES.iter().any(|p| p.0 == code) {
            failure = Some(format!("Account profile {code} not found"));
        }
    }
    if let Some(table) = &m.k_orders[i].table {
        let known = m.locations[loc]
            .floor_plans
            .iter()
            .flat_map(|p| &p.tables)
            .any(|t| t.active && Some(t.number) == table.trim().parse().ok());
        if failure.is_none() && !known {
            failure = Some(format!("Table {table} not found"));
        }
    }
    if let Some(reason) = failure {
        m.k_orders[i].state = OnlineState::Failed;
        m.k_orders[i].failure = Some(reason.clone());
        let o = m.k_orders[i].clone();
        return order_event(m, &o, "FAILURE", Some(&reason));
    }
    let now = Utc::now();
    for line in &lines {
        let sku = m.menu[line.item].sku.clone();
        m.take_stock(loc, &sku, line.quantity);
    }
    let location = &mut m.locations[loc];
    location.account_counter += 1;
    let n = location.account_counter;
    let short = location.id % 100_000;
    let o = &mut m.k_orders[i];
    o.identifier = Some(format!("A{short}.{n}"));
    o.account_id = Some(format!("{}{n:08}", location.id));
    o.lines = lines;
    o.state = OnlineState::Open;
    o.opened = now;
    let o = o.clone();
    order_event(m, &o, "SUCCESS", None)
}

async fn pay(State(sb): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/o/op/1/pay";
    let mut queued: Option<(String, Value)> = None;
    let response = with_merchant(&sb, &headers, "orders-api", None, |m, _| {
        let body: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return spring(
                    StatusCode::BAD_REQUEST,
                    format!("JSON parse error: {e}"),
                    path,
                )
            }
        };
        let mut errors = Vec::new();
        let bl = body.get("businessLocationId").and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        if bl.is_none_or(|id| !m.locations.iter().any(|l| l.id == id)) {
            errors.push((
                "businessLocationId".to_owned(),
                "unknown business location".to_owned(),
                "Invalid",
            ));
        }
        let endpoint = str_field(&body, "endpointId").unwrap_or_default();
        if !m.k_webhooks.iter().any(|h| h.endpoint_id == endpoint) {
            errors.push((
                "endpointId".to_owned(),
                "no webhook is registered with this endpointId".to_owned(),
                "Invalid",
            ));
        }
        if body
            .get("paymentAmount")
            .and_then(crate::wire::amount_cents)
            .is_none_or(|a| a < 0)
        {
            errors.push((
                "paymentAmount".to_owned(),
                "must be a non-negative amount".to_owned(),
                "Invalid",
            ));
        }
        let reference = str_field(&body, "thirdPartyPaymentReference").unwrap_or_default();
        if reference.is_empty() || reference.chars().count() > 50 {
            errors.push((
                "thirdPartyPaymentReference".to_owned(),
                "size must be between 1 and 50".to_owned(),
                "Size",
            ));
        }
        if !errors.is_empty() {
            return validation("payment", path, &errors);
        }
        if m.k_payment_refs.iter().any(|r| r == reference) {
            return spring(
                StatusCode::BAD_REQUEST,
                format!("reference has already been used {reference}"),
                path,
            );
        }
        m.k_payment_refs.push(reference.to_owned());
        queued = Some((m.id.clone(), body));
        json(StatusCode::OK, json!({"status": "ok"}))
    })
    .await;
    if let Some((merchant, body)) = queued {
        let delay = DELIVERY.div_f64(sb.time_scale());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            sb.send_webhooks(&merchant, |w| apply_payment(w, &merchant, &body));
        });
    }
    response
}

/// Applies a queued payment to its account and notifies the payment's endpoint.
fn apply_payment(w: &mut World, merchant: &str, body: &Value) -> Vec<Delivery> {
    let Some(m) = w.merchants.get_mut(merchant) else {
        return Vec::new();
    };
    let Some(hook) = str_field(body, "endpointId")
        .and_then(|e| m.k_webhooks.iter().find(|h| h.endpoint_id == e))
        .cloned()
    else {
        return Vec::new();
    };
    let reference = str_field(body, "thirdPartyPaymentReference")
        .unwrap_or_default()
        .to_owned();
    let identifier = str_field(body, "iKaccountIdentifier").unwrap_or_default();
    let amount = body
        .get("paymentAmount")
        .and_then(crate::wire::amount_cents)
        .unwrap_or_default();
    let tip = body
        .get("tipAmount")
        .and_then(crate::wire::amount_cents)
        .unwrap_or_default();
    let found = m
        .k_orders
        .iter()
        .position(|o| o.identifier.as_deref() == Some(identifier));
    let method = str_field(body, "paymentMethod").map_or(Some(0), |code| {
        m.payment_methods.iter().position(|pm| pm.code == code)
    });
    let error = match (found, method) {
        (None, _) => Some("ACCOUNT_NOT_FOUND"),
        (Some(i), _)
            if matches!(
                m.k_orders[i].state,
                OnlineState::Closed | OnlineState::Cancelled
            ) =>
        {
            Some("ACCOUNT_ALREADY_CLOSED")
        }
        (_, None) => Some("PAYMENT_METHOD_NOT_FOUND"),
        (Some(i), Some(_)) => {
            let o = &m.k_orders[i];
            (o.paid_cents() + amount > o.total_cents()).then_some("OVERPAID")
        }
    };
    let mut out = json!({
        "thirdPartyReference": reference,
        "businessLocationId": body.get("businessLocationId"),
        "ikentooAccountIdentifier": identifier,
        "type": "PAYMENT",
    });
    match (error, found, method) {
        (None, Some(i), Some(method)) => {
            m.k_orders[i]
                .payments
                .push((method, amount, tip, reference));
            out["status"] = Value::from("SUCCESS");
            out["ikentooAccountId"] = Value::from(m.k_orders[i].account_id.clone());
        }
        (error, _, _) => {
            let kind = error.unwrap_or("UNKNOWN");
            out["status"] = Value::from("FAILURE");
            out["reason"] = Value::from(format!("payment refused: {kind}"));
            out["errors"] = json!({"account": {"type": kind}});
        }
    }
    vec![delivery(m, &hook, &out)]
}

/// A line of an open account (`salesEntries[]`), its sub-items' lines nested under it.
fn account_line(m: &Merchant, o: &OnlineOrder, n: usize) -> Value {
    let line = &o.lines[n];
    let (item, qty, unit) = (line.item, line.quantity, line.unit_cents);
    let total = unit * qty;
    let tax = generate::tax_included_10k(total);
    let subs: Vec<Value> = (0..o.lines.len())
        .filter(|&k| o.lines[k].parent == Some(n))
        .map(|k| account_line(m, o, k))
        .collect();
    json!({
        "id": n + 1,
        "itemName": m.menu[item].name,
        "itemSku": m.menu[item].sku,
        "unitAmount": cents(unit),
        "quantity": qty,
        "modifiers": line.instructions.iter().map(|name| json!({"name": name, "quantity": 1})).collect::<Vec<_>>(),
        "amountWithTax": cents(total),
        "amountLessTax": cents(total - (tax + 50) / 100),
        "discountedAmount": "0.00",
        "grossUnitAmount": cents(unit),
        "timeOfTransactionUtc": k_instant(o.opened),
        "active": true,
        "subLineItems": subs,
        "taxIncluded": true,
    })
}

/// An AccountSnapshot of an online order's account.
fn snapshot(m: &Merchant, o: &OnlineOrder) -> Value {
    let entries: Vec<Value> = (0..o.lines.len())
        .filter(|&n| o.lines[n].parent.is_none())
        .map(|n| account_line(m, o, n))
        .collect();
    let payments: Vec<Value> = o
        .payments
        .iter()
        .map(|(method, amount, tip, reference)| {
            let pm = &m.payment_methods[*method];
            json!({
                "paymentMethodDescription": pm.name,
                "externalReference": reference,
                "paymentMethodCode": pm.code,
                "amountPaid": cents(amount + tip),
                "paymentDate": k_instant(o.opened),
                "active": true,
                "accountCancelled": o.state == OnlineState::Cancelled,
            })
        })
        .collect();
    let closed = match (o.state, o.sale) {
        (OnlineState::Closed, Some(s)) => Some(k_instant(m.sales[s].closed)),
        _ => None,
    };
    json!({
        "clientCount": o.client_count,
        "uuid": o.account_id,
        "openDate": k_instant(o.opened),
        "closeDate": closed,
        "paidAmount": cents(o.payments.iter().map(|p| p.1 + p.2).sum()),
        "serviceCharge": "0.00",
        "name": o.customer_name,
        "currentAmount": cents(o.total_cents()),
        "staffName": "Online",
        "staffId": 0,
        "salesEntries": entries,
        "paymentEntries": payments,
        "ikaccountId": o.identifier,
        "tableNumber": o.table.as_deref().and_then(|t| t.parse::<i64>().ok()),
        "posId": m.locations[o.location].devices.first().map(|d| d.id),
    })
}

async fn open_checks(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    at_location(
        &sb,
        &headers,
        &params,
        "/o/op/1/order/table/getCheck",
        |m, loc| {
            let list: Vec<Value> = m
                .k_orders
                .iter()
                .filter(|o| {
                    o.location == loc && matches!(o.state, OnlineState::Open | OnlineState::Ready)
                })
                .map(|o| snapshot(m, o))
                .collect();
            json(StatusCode::OK, Value::from(list))
        },
    )
    .await
}

/// `GET /o/op/1/order/table/{tableNumber}/getCheck`: the oldest open check on the table.
async fn table_check(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(table): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let path = format!("/o/op/1/order/table/{table}/getCheck");
    at_location(&sb, &headers, &params, &path, |m, loc| {
        let found = m.k_orders.iter().find(|o| {
            o.location == loc
                && o.table.as_deref() == Some(table.as_str())
                && matches!(o.state, OnlineState::Open | OnlineState::Ready)
        });
        match found {
            Some(o) => json(StatusCode::OK, snapshot(m, o)),
            None => spring(
                StatusCode::NOT_FOUND,
                format!("no open check on table {table}"),
                &path,
            ),
        }
    })
    .await
}

/// `POST /o/op/1/printMsg?businessLocationId=` with `{message, alsoToPrinter}`.
async fn print_message(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response {
    let path = "/o/op/1/printMsg";
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let also = parsed
        .as_ref()
        .and_then(|v| v.get("alsoToPrinter"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    at_location(&sb, &headers, &params, path, |m, loc| {
        let Some(message) = message.filter(|t| !t.trim().is_empty()) else {
            return validation(
                "printMessage",
                path,
                &[("message".into(), "must not be blank".into(), "NotBlank")],
            );
        };
        m.print_messages.push(crate::world::PrintMessage {
            location: loc,
            message,
            also_to_printer: also,
            at: Utc::now(),
        });
        json(StatusCode::OK, json!({"status": "ok"}))
    })
    .await
}

async fn account(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let bl = business_location(&params).unwrap_or_default().to_owned();
    let path = format!("/o/op/1/order/accounts/{account}");
    with_merchant(&sb, &headers, "orders-api", Some(&bl), |m, loc| {
        // A voided online order leaves no account behind.
        let found = m.k_orders.iter().find(|o| {
            Some(o.location) == loc
                && o.identifier.as_deref() == Some(account.as_str())
                && o.state != OnlineState::Cancelled
        });
        match found {
            Some(o) => json(StatusCode::OK, snapshot(m, o)),
            None => spring(
                StatusCode::NOT_FOUND,
                format!("account not found for BL {bl}"),
                &path,
            ),
        }
    })
    .await
}

async fn sale_by_external_reference(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let wanted = params
        .get("externalReferenceId")
        .cloned()
        .unwrap_or_default();
    with_merchant(&sb, &headers, "financial-api", Some(&bl), |m, loc| {
        if loc.is_none() {
            return json(StatusCode::BAD_REQUEST, json!({"error": format!("unknown business location {bl}")}));
        }
        if wanted.is_empty() {
            return json(StatusCode::BAD_REQUEST, json!({"error": "Required request parameter 'externalReferenceId' for method parameter type String is not present"}));
        }
        let inc = Includes { payments: true, consumer: true, staff: false, table: true };
        match m.sales.iter().find(|s| s.external_reference.as_deref() == Some(wanted.as_str())) {
            Some(s) => json(StatusCode::OK, render::sale(m, s, inc, Version::V1)),
            None => json(StatusCode::NOT_FOUND, json!({"error": format!("No sale found for external reference {wanted}")})),
        }
    })
    .await
}

/// Staff actions on an online order, for the control API: `ready`, `close` or `void`.
pub(crate) fn staff_action(
    m: &mut Merchant,
    reference: &str,
    action: &str,
) -> Result<(Value, Vec<Delivery>), String> {
    let i = m
        .k_orders
        .iter()
        .position(|o| o.reference == reference)
        .ok_or_else(|| format!("no online order with reference `{reference}`"))?;
    let state = m.k_orders[i].state;
    if !matches!(state, OnlineState::Open | OnlineState::Ready) {
        return Err(format!(
            "online order `{reference}` is {state:?}: only an open account can be marked ready, closed or voided"
        ));
    }
    let deliveries = match action {
        "ready" => {
            m.k_orders[i].state = OnlineState::Ready;
            let o = m.k_orders[i].clone();
            order_event(m, &o, "READY_FOR_PICKUP", None)
        }
        "void" => {
            m.k_orders[i].state = OnlineState::Cancelled;
            let o = m.k_orders[i].clone();
            order_event(m, &o, "CANCELLED", Some("Canceled by merchant"))
        }
        "close" => {
            let sale = close_account(m, i);
            crate::kseries::webhooks::account_events(m, &[sale])
        }
        other => {
            return Err(format!(
                "unknown action `{other}`: use ready, close or void"
            ))
        }
    };
    let o = &m.k_orders[i];
    Ok((
        json!({"reference": o.reference, "state": format!("{:?}", o.state).to_lowercase(), "identifier": o.identifier, "sale": o.sale.map(|s| m.sales[s].fisc_id.clone())}),
        deliveries,
    ))
}

/// Closes an online order's account: it becomes a sale paid by its payments (the rest in
/// cash, as staff would take it at the counter).
fn close_account(m: &mut Merchant, i: usize) -> usize {
    let o = m.k_orders[i].clone();
    let now = Utc::now();
    let mut lines: Vec<SaleLine> = Vec::new();
    for l in &o.lines {
        let mut line = generate::priced_line(m, o.location, l.item, l.quantity, l.unit_cents, 0);
        line.of = l.parent.map(|p| lines[p].id.clone());
        lines.push(line);
    }
    let total: i64 = lines.iter().map(|l| l.total_cents).sum();
    let paid = o.paid_cents().min(total);
    let tips: i64 = o.payments.iter().map(|p| p.2).sum();
    let online = o.payments.first().map_or(0, |p| p.0);
    let covers = if o.dine_in { o.client_count } else { 1 };
    let sale = generate::push_sale(
        m,
        o.location,
        0,
        crate::world::SaleType::Sale,
        None,
        o.opened,
        now,
        lines,
        if paid > 0 { online } else { 0 },
        if paid > 0 { paid } else { total },
        tips,
        covers,
        o.dine_in,
        o.table.clone(),
        None,
    );
    let bl = m.locations[o.location].id;
    let s = &mut m.sales[sale];
    if paid > 0 && paid < total {
        let first = s.payments[0].clone();
        s.payments.push(SalePayment {
            method: 0,
            amount_cents: total - paid,
            tip_cents: 0,
            fisc_id: format!("{}.2", first.fisc_id),
            uuid: format!("{}2", first.uuid),
        });
    }
    if let Some(identifier) = &o.identifier {
        s.fisc_id.clone_from(identifier);
    }
    s.external_reference = Some(format!("TASK:OO-{bl}-{}", o.reference));
    m.k_orders[i].state = OnlineState::Closed;
    m.k_orders[i].sale = Some(sale);
    sale
}

/// The online orders of a merchant, for the control API.
pub(crate) fn list(m: &Merchant) -> Value {
    Value::from(
        m.k_orders
            .iter()
            .map(|o| {
                json!({
                    "reference": o.reference,
                    "location": m.locations[o.location].id,
                    "state": format!("{:?}", o.state).to_lowercase(),
                    "reason": o.failure,
                    "identifier": o.identifier,
                    "items": o.items.iter().map(|i| json!({"sku": i.sku, "quantity": i.quantity})).collect::<Vec<_>>(),
                    "lines": o.lines.iter().map(|l| json!({"sku": m.menu[l.item].sku, "quantity": l.quantity, "unit": cents(l.unit_cents), "instructions": l.instructions, "parent": l.parent.map(|p| m.menu[o.lines[p].item].sku.clone())})).collect::<Vec<_>>(),
                    "total": cents(o.total_cents()),
                    "paid": cents(o.paid_cents()),
                    "payments": o.payments.len(),
                    "profile": o.profile,
                    "table": o.table,
                    "dine_in": o.dine_in,
                    "sale": o.sale.map(|s| m.sales[s].fisc_id.clone()),
                })
            })
            .collect::<Vec<_>>(),
    )
}
