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
