//! R-Series item writes: `POST Item.json` creates, `PUT Item/{itemID}.json` changes the fields
//! it names, `DELETE Item/{itemID}.json` archives (the item stays in past sales and leaves the
//! lists unless `archived=true|only`), and `GET Item/{itemID}.json` reads one, archived or not.
//! Each answers the item as `{"@attributes": {"count": "1"}, "Item": {…}}`.

use super::api::{error, with_account_mut};
use super::orders::bad;
use super::render;
use crate::http::json;
use crate::world::Merchant;
use crate::Sandbox;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

/// The longest description and custom SKU the sandbox takes.
const DESCRIPTION_MAX: usize = 255;
const SKU_MAX: usize = 255;

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn answer(m: &Merchant, i: usize) -> Response {
    json(
        StatusCode::OK,
        json!({ "@attributes": { "count": "1" }, "Item": render::item(m, i) }),
    )
}

/// The item `itemID` (`12` or `12.json`).
fn find(m: &Merchant, id: &str) -> Option<usize> {
    let id = id.trim_end_matches(".json");
    id.parse::<usize>()
        .ok()
        .filter(|&n| (1..=m.menu.len()).contains(&n))
        .map(|n| n - 1)
}

/// What a create or update body asks for; `None` where it names nothing.
struct Fields {
    description: Option<String>,
    sku: Option<String>,
    group: Option<usize>,
    price_cents: Option<i64>,
}

fn fields(m: &Merchant, v: &Value, editing: Option<usize>) -> Result<Fields, String> {
    let description = text(v, "description");
    if let Some(d) = &description {
        if d.is_empty() || d.chars().count() > DESCRIPTION_MAX {
            return Err(format!(
                "description must be 1 to {DESCRIPTION_MAX} characters"
            ));
        }
    }
    let sku = text(v, "customSku").filter(|s| !s.is_empty());
    if let Some(sku) = &sku {
        if sku.chars().count() > SKU_MAX {
            return Err(format!("customSku must be at most {SKU_MAX} characters"));
        }
        let taken = m
            .menu
            .iter()
            .enumerate()
            .any(|(i, it)| Some(i) != editing && it.deleted_at.is_none() && it.sku == *sku);
        if taken {
            return Err(format!("customSku `{sku}` is already used by another item"));
        }
    }
    let group = match text(v, "categoryID") {
        None => None,
        Some(id) => Some(
            id.parse::<usize>()
                .ok()
                .filter(|g| (1..=m.groups.len()).contains(g))
                .map(|g| g - 1)
                .ok_or_else(|| format!("categoryID `{id}` is not a category of this account"))?,
        ),
    };
    let prices: Vec<&Value> = match v.get("Prices").and_then(|p| p.get("ItemPrice")) {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        None => Vec::new(),
        Some(_) => return Err("Prices.ItemPrice must be an object or a list of them".into()),
    };
    let default = prices
        .iter()
        .find(|p| text(p, "useType").as_deref() == Some("Default"));
    let price_cents = match default {
        None if prices.is_empty() => None,
        None => return Err("Prices.ItemPrice has no price with useType `Default`".into()),
        Some(p) => Some(
            p.get("amount")
                .and_then(crate::wire::amount_cents)
                .filter(|c| *c >= 0)
                .ok_or("the Default price's amount must be a decimal of at least 0")?,
        ),
    };
    Ok(Fields {
        description,
        sku,
        group,
        price_cents,
    })
}

fn body(raw: &Bytes) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(raw) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

/// `POST Item.json`: description, categoryID and a Default price are required; without a
/// customSku the item is known by its system SKU.
pub(super) fn create(m: &mut Merchant, v: &Value) -> Response {
    let f = match fields(m, v, None) {
        Ok(f) => f,
        Err(message) => return bad(&message),
    };
    let (Some(description), Some(group), Some(price)) = (f.description, f.group, f.price_cents)
    else {
        return bad("an item needs a description, a categoryID and a Default price (Prices.ItemPrice with useType `Default`)");
    };
    let sku = f.sku.unwrap_or_else(|| render::system_sku(m.menu.len()));
    let i = m.add_item(sku, description, price, group);
    answer(m, i)
}

pub(super) async fn one(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((acct, id)): Path<(String, String)>,
) -> Response {
    with_account_mut(&sb, &headers, Some(&acct), 1.0, |m| match find(m, &id) {
        Some(i) => answer(m, i),
        None => error(StatusCode::NOT_FOUND, &format!("Item {id} not found")),
    })
    .await
}

pub(super) async fn update(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((acct, id)): Path<(String, String)>,
    raw: Bytes,
) -> Response {
    with_account_mut(&sb, &headers, Some(&acct), 1.0, |m| {
        let v = match body(&raw) {
            Ok(v) => v,
            Err(message) => return bad(&message),
        };
        let Some(i) = find(m, &id).filter(|&i| m.menu[i].deleted_at.is_none()) else {
            return error(StatusCode::NOT_FOUND, &format!("Item {id} not found"));
        };
        let f = match fields(m, &v, Some(i)) {
            Ok(f) => f,
            Err(message) => return bad(&message),
        };
        let version = m.next_version();
        let it = &mut m.menu[i];
        if let Some(d) = f.description {
            it.name = d;
        }
        if let Some(sku) = f.sku {
            it.sku = sku;
        }
        if let Some(g) = f.group {
            it.group = g;
        }
        if let Some(p) = f.price_cents {
            it.price_cents = p;
        }
        it.version = version;
        answer(m, i)
    })
    .await
}

pub(super) async fn archive(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((acct, id)): Path<(String, String)>,
) -> Response {
    with_account_mut(&sb, &headers, Some(&acct), 1.0, |m| {
        let Some(i) = find(m, &id).filter(|&i| m.menu[i].deleted_at.is_none()) else {
            return error(StatusCode::NOT_FOUND, &format!("Item {id} not found"));
        };
        if m.sellable_items() == [i] {
            return error(
                StatusCode::CONFLICT,
                "the sandbox keeps an account's last item: it needs one to sell",
            );
        }
        m.delete_item(i);
        answer(m, i)
    })
    .await
}
