//! Reading R-Series JSON, where every scalar is a string, an empty relation is `""`, and a
//! single child is an object instead of an array.

use serde_json::Value;

/// A scalar as text: strings as they are, numbers and booleans written out; `None` for
/// null, `""`, objects and arrays.
pub fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `"true"`/`true` → true.
pub fn flag(v: &Value, key: &str) -> bool {
    text(v, key).is_some_and(|s| s == "true" || s == "1")
}

/// The children of a relation `{"Child": …}`: none for `""` or absent, one for an object,
/// all for an array.
pub fn children<'a>(v: &'a Value, relation: &str, child: &str) -> Vec<&'a Value> {
    match v.get(relation).and_then(|r| r.get(child)) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(obj @ Value::Object(_)) => vec![obj],
        _ => Vec::new(),
    }
}

/// The entities of a list response (`{"@attributes": …, "Sale": […] | {…}}`).
pub fn entities<'a>(page: &'a Value, name: &str) -> Vec<&'a Value> {
    match page.get(name) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(obj @ Value::Object(_)) => vec![obj],
        _ => Vec::new(),
    }
}

/// `@attributes.next`, taken verbatim; `None` when empty.
pub fn next_url(page: &Value) -> Option<String> {
    page.get("@attributes")
        .and_then(|a| a.get("next"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub struct Account {
    pub id: String,
    pub name: Option<String>,
}

pub struct Shop {
    pub id: String,
    pub name: String,
    pub time_zone: Option<String>,
}

/// An item as online orders need it: id, SKU (the custom SKU, else the system SKU), name and
/// default price.
pub struct Item {
    pub id: String,
    pub sku: String,
    pub name: Option<String>,
    pub price: Option<String>,
    pub category_id: Option<String>,
    /// Whether the shop counts its stock (every `itemType` but `non_inventory`).
    pub tracks_stock: bool,
}

/// An item's quantity on hand at one shop (`ItemShop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStock {
    pub item_id: String,
    pub shop_id: String,
    pub qoh: i64,
}

/// A shop (`Shop`); `None` without a `shopID`.
pub fn shop(v: &Value) -> Option<Shop> {
    Some(Shop {
        id: text(v, "shopID")?,
        name: text(v, "name").unwrap_or_default(),
        time_zone: text(v, "timeZone"),
    })
}

/// A category as (id, name).
pub fn category(v: &Value) -> Option<(String, String)> {
    Some((text(v, "categoryID")?, text(v, "name")?))
}

/// A payment type as (id, name).
pub fn payment_type(v: &Value) -> Option<(String, String)> {
    Some((text(v, "paymentTypeID")?, text(v, "name")?))
}

/// An item that is not archived, with its default price; `None` for an archived item or one
/// without an id or any SKU.
pub fn item(v: &Value) -> Option<Item> {
    if flag(v, "archived") {
        return None;
    }
    let sku = text(v, "customSku")
        .filter(|s| !s.is_empty())
        .or_else(|| text(v, "systemSku"))?;
    let price = children(v, "Prices", "ItemPrice")
        .into_iter()
        .find(|p| text(p, "useType").as_deref() == Some("Default"))
        .and_then(|p| text(p, "amount"));
    Some(Item {
        id: text(v, "itemID")?,
        sku,
        name: text(v, "description"),
        price,
        category_id: text(v, "categoryID"),
        tracks_stock: text(v, "itemType").as_deref() != Some("non_inventory"),
    })
}

/// An item's stock at one shop (`ItemShop`); `None` for the all-shops summary record
/// (`shopID` 0) and for a quantity that is not a number.
pub fn item_stock(v: &Value) -> Option<ItemStock> {
    let shop_id = text(v, "shopID").filter(|s| s != "0")?;
    let qoh = text(v, "qoh")?;
    Some(ItemStock {
        item_id: text(v, "itemID")?,
        shop_id,
        qoh: qoh.split('.').next()?.trim().parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_quirks() {
        let v = json!({ "a": "1", "b": 2, "c": "", "Lines": { "Line": { "x": "1" } }, "Empty": "", "Many": { "M": [{}, {}] }, "@attributes": { "next": "" } });
        assert_eq!(text(&v, "a").as_deref(), Some("1"));
        assert_eq!(text(&v, "b").as_deref(), Some("2"));
        assert_eq!(text(&v, "c"), None);
        assert_eq!(children(&v, "Lines", "Line").len(), 1);
        assert_eq!(children(&v, "Empty", "Line").len(), 0);
        assert_eq!(children(&v, "Many", "M").len(), 2);
        assert_eq!(next_url(&v), None);
    }
}
