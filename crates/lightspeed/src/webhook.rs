//! Reading webhook deliveries, series by series, into what the hub records of one: the key it
//! is deduplicated on, its topic, its subject and the detail the ordering module needs. Pure
//! functions of the delivery's bytes (checking where it came from is the engine's part), so the
//! fuzzers drive exactly what the server runs.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// One delivery, read.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// What a redelivery of the same event repeats (K: the idempotency header; X: topic, sale,
    /// version and status; O: the delivery id).
    pub key: String,
    /// `ORDER.CLOSED`, `sale.update`, `check.closed`…
    pub topic: String,
    /// The order, account, sale, check or SKU it is about; empty when it names none.
    pub subject: String,
    /// What the ordering module reads of an online order's outcome; `None` when the event
    /// carries nothing for it.
    pub detail: Option<Value>,
}

/// Why a delivery could not be read; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WebhookError(pub String);

/// A K-Series Order & Pay notification: JSON, deduplicated on `X-Lightspeed-Idempotency-Key`.
/// The detail (for an event naming a third-party reference) leaves out the account snapshot,
/// which would carry the shopper's details.
pub fn kseries(idempotency_key: Option<&str>, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let key = idempotency_key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            WebhookError("the `X-Lightspeed-Idempotency-Key` header is required".into())
        })?;
    let note: crate::kseries::wire::Notification = serde_json::from_slice(body).map_err(|e| {
        WebhookError(format!(
            "the webhook body is not a K-Series notification: {e}"
        ))
    })?;
    let topic = format!(
        "{}.{}",
        note.kind.as_deref().unwrap_or("ORDER"),
        note.status
    );
    let detail = note.third_party_reference.as_ref().map(|reference| {
        json!({
            "status": note.status,
            "type": note.kind,
            "third_party_reference": reference,
            "account_id": note.ikentoo_account_id.as_ref().map(ToString::to_string),
            "account_identifier": note.ikentoo_account_identifier,
            "reason": note.reason,
            "errors": note.errors,
        })
    });
    // An item availability change (`ITEM.RESTRICTED`) names the SKU.
    let subject = note
        .third_party_reference
        .or(note.ikentoo_account_identifier)
        .or(note.sku)
        .unwrap_or_default();
    Ok(WebhookEvent {
        key: key.to_owned(),
        topic,
        subject,
        detail,
    })
}

/// An X-Series delivery: a form whose `payload` field holds the object as JSON, with its
/// `type` (`sale.update` when absent). A sale (API 1.0 shape) is keyed on its version and
/// status, and its detail names the sale and its status, for the ordering module when the sale
/// is one of its orders. Any other event (`product.update`, `inventory.update`) only makes the
/// connection's streams due: it is keyed on its object and a digest of its payload, so a
/// redelivery is known and a later change is not, and carries no detail.
pub fn xseries(form: &[u8]) -> Result<WebhookEvent, WebhookError> {
    let mut payload = None;
    let mut topic = None;
    for (name, value) in url::form_urlencoded::parse(form) {
        match name.as_ref() {
            "payload" if payload.is_none() => payload = Some(value.into_owned()),
            "type" if topic.is_none() => topic = Some(value.into_owned()),
            _ => {}
        }
    }
    let payload = payload.ok_or_else(|| {
        WebhookError("the webhook body is not a form with a `payload` field".into())
    })?;
    let hint: crate::xseries::wire::SaleHint = serde_json::from_str(&payload)
        .map_err(|e| WebhookError(format!("`payload` is not the expected JSON: {e}")))?;
    let topic = topic
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "sale.update".into());
    if topic != "sale.update" {
        let digest = Sha256::digest(payload.as_bytes());
        let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        return Ok(WebhookEvent {
            key: format!("{topic}:{}:{short}", hint.id),
            topic,
            detail: None,
            subject: hint.id,
        });
    }
    let key = format!(
        "{topic}:{}:{}:{}",
        hint.id,
        hint.version.unwrap_or(0),
        hint.status.as_deref().unwrap_or_default()
    );
    Ok(WebhookEvent {
        key,
        topic,
        detail: Some(json!({ "type": "X_SALE", "sale_id": hint.id, "status": hint.status })),
        subject: hint.id,
    })
}

/// An O-Series delivery: `{id, event, data: {check_id, …}}`, deduplicated on its id.
pub fn oseries(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
    #[derive(serde::Deserialize)]
    struct Body {
        id: String,
        event: String,
        data: Value,
    }
    let b: Body = serde_json::from_slice(body)
        .map_err(|e| WebhookError(format!("the webhook body is not the expected JSON: {e}")))?;
    if b.id.trim().is_empty() {
        return Err(WebhookError("the delivery's `id` is empty".into()));
    }
    let subject = b
        .data
        .get("check_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(WebhookEvent {
        key: b.id,
        topic: b.event,
        subject,
        detail: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_k_order_outcome_without_the_account_snapshot() {
        let e = kseries(
            Some(" key-1 "),
            br#"{"status":"SUCCESS","type":"ORDER","thirdPartyReference":"o_1","ikentooAccountId":12,"ikentooAccountIdentifier":"A1.2","account":{"customer":"x"}}"#,
        )
        .expect("reads");
        assert_eq!(
            (e.key.as_str(), e.topic.as_str(), e.subject.as_str()),
            ("key-1", "ORDER.SUCCESS", "o_1")
        );
        let detail = e.detail.expect("detail");
        assert_eq!(detail["account_id"], "12");
        assert!(detail.get("account").is_none());
    }

    #[test]
    fn k_needs_its_idempotency_key_and_json() {
        let body = br#"{"status":"CLOSED"}"#;
        assert!(kseries(None, body)
            .unwrap_err()
            .0
            .contains("Idempotency-Key"));
        assert!(kseries(Some("  "), body).is_err());
        assert!(kseries(Some("k"), b"{")
            .unwrap_err()
            .0
            .contains("notification"));
        let item = kseries(
            Some("k"),
            br#"{"status":"RESTRICTED","type":"ITEM","sku":"H1"}"#,
        )
        .expect("reads");
        assert_eq!(
            (item.topic.as_str(), item.subject.as_str()),
            ("ITEM.RESTRICTED", "H1")
        );
        assert_eq!(item.detail, None);
    }

    #[test]
    fn reads_an_x_form_and_keys_it_on_version_and_status() {
        let e = xseries(b"payload=%7B%22id%22%3A%22s1%22%2C%22version%22%3A7%2C%22status%22%3A%22CLOSED%22%7D&type=sale.update&payload=ignored")
            .expect("reads");
        assert_eq!(e.key, "sale.update:s1:7:CLOSED");
        assert_eq!(e.subject, "s1");
        assert_eq!(e.detail.expect("detail")["status"], "CLOSED");
        let bare = xseries(b"payload=%7B%22id%22%3A%22s2%22%7D").expect("reads");
        assert_eq!(bare.key, "sale.update:s2:0:");
        assert!(xseries(b"type=sale.update")
            .unwrap_err()
            .0
            .contains("`payload`"));
        assert!(xseries(b"payload=nope").unwrap_err().0.contains("JSON"));
    }

    #[test]
    fn an_x_catalog_event_is_keyed_on_its_payload_and_carries_no_detail() {
        let product = |price: &str| {
            format!("type=product.update&payload=%7B%22id%22%3A%22p1%22%2C%22price%22%3A{price}%7D")
        };
        let e = xseries(product("5").as_bytes()).expect("reads");
        assert_eq!(
            (e.topic.as_str(), e.subject.as_str()),
            ("product.update", "p1")
        );
        assert_eq!(e.detail, None);
        assert!(e.key.starts_with("product.update:p1:"), "{}", e.key);
        let again = xseries(product("5").as_bytes()).expect("reads");
        assert_eq!(again.key, e.key, "a redelivery repeats the key");
        let changed = xseries(product("6").as_bytes()).expect("reads");
        assert_ne!(changed.key, e.key, "a later change has a key of its own");
    }

    #[test]
    fn reads_an_o_delivery() {
        let e = oseries(br#"{"id":"d1","event":"check.closed","data":{"check_id":"c1"}}"#)
            .expect("reads");
        assert_eq!(
            (e.key.as_str(), e.topic.as_str(), e.subject.as_str()),
            ("d1", "check.closed", "c1")
        );
        assert!(oseries(br#"{"id":"","event":"x","data":{}}"#).is_err());
        assert!(oseries(br#"{"event":"x","data":{}}"#).is_err());
    }
}
