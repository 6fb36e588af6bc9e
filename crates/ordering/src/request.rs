//! An online order as the API takes it, and the checks that need no database: shape, sizes,
//! and the totals being consistent with each other. Amounts are integer minor units.

use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// The channel's own id for the order: the idempotency key.
    pub channel_order_id: String,
    pub location_id: String,
    #[serde(rename = "type")]
    pub order_type: OrderType,
    /// Dine-in only: the table number as the POS knows it.
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub covers: Option<i64>,
    /// Delivery only.
    #[serde(default)]
    pub delivery_address: Option<Address>,
    /// RFC 3339; must be in the future.
    #[serde(default)]
    pub scheduled_at: Option<String>,
    pub customer: Customer,
    pub items: Vec<Item>,
    #[serde(default)]
    pub payment: Option<Payment>,
    /// The account profile (order profile) code; defaults by type (`COLLECT` for takeaway,
    /// `DELIVERY` for delivery, none for dine-in).
    #[serde(default)]
    pub account_profile: Option<String>,
    /// What the channel charged for the items (tip excluded); checked against the menu.
    #[serde(default)]
    pub total_minor: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    DineIn,
    Takeaway,
    Delivery,
}

impl OrderType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::DineIn => "dine_in",
            OrderType::Takeaway => "takeaway",
            OrderType::Delivery => "delivery",
        }
    }
}

#[derive(Deserialize, Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub zip: String,
    pub city: String,
}

#[derive(Deserialize, Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// E.164, e.g. `+4512345678`.
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Deserialize, Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub sku: String,
    pub quantity: i64,
    /// The unit price the channel showed; checked against the menu when given.
    #[serde(default)]
    pub unit_price_minor: Option<i64>,
    /// Production instruction ids from the catalog item's `instructions` (K-Series), sent as
    /// the line's `modifiers[].modifierId`.
    #[serde(default)]
    pub modifiers: Vec<String>,
    /// Priced add-ons or a deal's choices from the catalog item's `choices` (K-Series), sent
    /// as the line's `subItems`.
    #[serde(default)]
    pub sub_items: Vec<SubItem>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A sub-item of an order line: `quantity` of `sku` for each unit of the line.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SubItem {
    pub sku: String,
    pub quantity: i64,
}

#[derive(Deserialize, Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// The POS payment method (K-Series code, X/R payment type name); by default the one in
    /// the ordering settings for the connection (`OOPAYMENT`, "Online payment").
    #[serde(default)]
    pub method: Option<String>,
    /// What was paid for the items, tip excluded.
    pub amount_minor: i64,
    #[serde(default)]
    pub tip_minor: i64,
    /// The channel's payment reference.
    #[serde(default)]
    pub reference: Option<String>,
}

/// Why an order is refused, from the fixed taxonomy the spec names.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    SkuNotFound,
    ItemUnavailable,
    PriceMismatch,
    LocationOffline,
    InvalidProfile,
    CustomerConflict,
    Other,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SkuNotFound => "sku_not_found",
            Reason::ItemUnavailable => "item_unavailable",
            Reason::PriceMismatch => "price_mismatch",
            Reason::LocationOffline => "location_offline",
            Reason::InvalidProfile => "invalid_profile",
            Reason::CustomerConflict => "customer_conflict",
            Reason::Other => "other",
        }
    }

    /// Classifies a POS failure message (K-Series `FAILURE` webhooks carry free text).
    pub fn of_pos_message(message: &str) -> Reason {
        let m = message.to_ascii_lowercase();
        if m.contains("consumer already exists") || m.contains("customer") {
            Reason::CustomerConflict
        } else if m.contains("not available") || m.contains("unavailable") {
            Reason::ItemUnavailable
        } else if m.contains("sku") || m.contains("item") {
            Reason::SkuNotFound
        } else if m.contains("profile") {
            Reason::InvalidProfile
        } else if m.contains("offline") {
            Reason::LocationOffline
        } else {
            Reason::Other
        }
    }
}

/// One thing wrong with an order: the field (`items[2].sku`), the reason and what to do.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub reason: Reason,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, reason: Reason, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            reason,
            message: message.into(),
        }
    }
}

/// The checks that need nothing but the request.
pub fn check_shape(r: &OrderRequest, now_ms: i64) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut bad =
        |field: &str, message: String| out.push(Problem::new(field, Reason::Other, message));
    if r.channel_order_id.trim().is_empty() || r.channel_order_id.chars().count() > 128 {
        bad(
            "channel_order_id",
            "give the channel's order id: 1 to 128 characters".into(),
        );
    }
    let first = r.customer.first_name.trim();
    if first.is_empty() || first.chars().count() > 128 {
        bad(
            "customer.first_name",
            "the customer's first name is required (1 to 128 characters)".into(),
        );
    }
    if let Some(email) = &r.customer.email {
        if tillbridge_model::email::Email::parse(email).is_err() {
            bad(
                "customer.email",
                format!("`{email}` is not an e-mail address"),
            );
        }
    }
    if let Some(phone) = &r.customer.phone {
        let digits = phone.strip_prefix('+').unwrap_or_default();
        if digits.len() < 6 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            bad(
                "customer.phone",
                format!("`{phone}` is not an E.164 number such as +4512345678"),
            );
        }
    }
    if r.items.is_empty() {
        bad("items", "an order needs at least one item".into());
    }
    for (i, item) in r.items.iter().enumerate() {
        if item.sku.trim().is_empty() || item.sku.chars().count() > 25 {
            bad(
                &format!("items[{i}].sku"),
                "a SKU is 1 to 25 characters".into(),
            );
        }
        if !(1..=999).contains(&item.quantity) {
            bad(
                &format!("items[{i}].quantity"),
                format!("quantity {} is not between 1 and 999", item.quantity),
            );
        }
        if item.unit_price_minor.is_some_and(|p| p < 0) {
            bad(
                &format!("items[{i}].unit_price_minor"),
                "a unit price cannot be negative".into(),
            );
        }
        for (j, sub) in item.sub_items.iter().enumerate() {
            if sub.sku.trim().is_empty() || sub.sku.chars().count() > 25 {
                bad(
                    &format!("items[{i}].sub_items[{j}].sku"),
                    "a SKU is 1 to 25 characters".into(),
                );
            }
            if !(1..=99).contains(&sub.quantity) {
                bad(
                    &format!("items[{i}].sub_items[{j}].quantity"),
                    format!(
                        "quantity {} is not between 1 and 99 (it counts per unit of the line)",
                        sub.quantity
                    ),
                );
            }
        }
    }
    match r.order_type {
        OrderType::DineIn => {
            if r.table.as_deref().is_none_or(|t| t.trim().is_empty()) {
                bad("table", "a dine-in order needs the table number".into());
            }
            if r.delivery_address.is_some() {
                bad(
                    "delivery_address",
                    "only delivery orders take an address".into(),
                );
            }
        }
        OrderType::Takeaway | OrderType::Delivery => {
            if r.table.is_some() {
                bad("table", "only dine-in orders take a table".into());
            }
            if r.order_type == OrderType::Delivery && r.delivery_address.is_none() {
                bad(
                    "delivery_address",
                    "a delivery order needs the delivery address".into(),
                );
            }
            if r.order_type == OrderType::Takeaway && r.delivery_address.is_some() {
                bad(
                    "delivery_address",
                    "only delivery orders take an address".into(),
                );
            }
        }
    }
    if r.covers.is_some_and(|c| !(1..=99).contains(&c)) {
        bad("covers", "covers must be between 1 and 99".into());
    }
    if let Some(at) = &r.scheduled_at {
        match chrono::DateTime::parse_from_rfc3339(at)
            .ok()
            .map(|t| t.timestamp_millis())
        {
            Some(ms) if ms > now_ms => {}
            Some(_) => bad("scheduled_at", format!("`{at}` is not in the future")),
            None => bad(
                "scheduled_at",
                format!("`{at}` is not an RFC 3339 instant such as 2026-11-23T18:30:00Z"),
            ),
        }
    }
    if let Some(p) = &r.payment {
        if p.amount_minor < 0 || p.tip_minor < 0 {
            bad("payment", "payment amounts cannot be negative".into());
        }
    }
    if r.total_minor.is_some_and(|t| t < 0) {
        bad("total_minor", "a total cannot be negative".into());
    }
    out
}

/// Minor units as the decimal string the POS APIs take: 1250 → "12.50".
impl OrderRequest {
    /// The order's note and each item's note (`SKU: note`), one a line; `None` when none.
    pub fn notes(&self) -> Option<String> {
        let notes: Vec<String> = std::iter::once(self.note.clone())
            .chain(
                self.items
                    .iter()
                    .map(|i| i.note.as_ref().map(|n| format!("{}: {n}", i.sku))),
            )
            .flatten()
            .collect();
        (!notes.is_empty()).then(|| notes.join("\n"))
    }
}

pub fn decimal(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderRequest {
        serde_json::from_value(serde_json::json!({
            "channel_order_id": "c1", "location_id": "loc", "type": "takeaway",
            "customer": {"first_name": "Ada", "email": "ada@example.com"},
            "items": [{"sku": "H001", "quantity": 2}]
        }))
        .expect("order")
    }

    #[test]
    fn a_plain_takeaway_passes() {
        assert!(check_shape(&order(), 0).is_empty());
    }

    #[test]
    fn each_shape_problem_names_its_field() {
        type Change = fn(&mut OrderRequest);
        let cases: Vec<(Change, &str)> = vec![
            (|o| o.items.clear(), "items"),
            (|o| o.items[0].quantity = 0, "items[0].quantity"),
            (|o| o.items[0].sku = String::new(), "items[0].sku"),
            (
                |o| {
                    o.items[0].sub_items = vec![SubItem {
                        sku: "A014".into(),
                        quantity: 0,
                    }]
                },
                "items[0].sub_items[0].quantity",
            ),
            (
                |o| {
                    o.items[0].sub_items = vec![SubItem {
                        sku: " ".into(),
                        quantity: 1,
                    }]
                },
                "items[0].sub_items[0].sku",
            ),
            (
                |o| o.customer.first_name = " ".into(),
                "customer.first_name",
            ),
            (|o| o.customer.email = Some("nope".into()), "customer.email"),
            (
                |o| o.customer.phone = Some("12345".into()),
                "customer.phone",
            ),
            (|o| o.order_type = OrderType::DineIn, "table"),
            (|o| o.order_type = OrderType::Delivery, "delivery_address"),
            (|o| o.table = Some("4".into()), "table"),
            (
                |o| o.scheduled_at = Some("2020-01-01T00:00:00Z".into()),
                "scheduled_at",
            ),
            (|o| o.scheduled_at = Some("tomorrow".into()), "scheduled_at"),
            (|o| o.channel_order_id = String::new(), "channel_order_id"),
        ];
        for (change, field) in cases {
            let mut o = order();
            change(&mut o);
            let problems = check_shape(&o, 1_700_000_000_000);
            assert!(
                problems.iter().any(|p| p.field == field),
                "{field}: {problems:?}"
            );
        }
    }

    #[test]
    fn pos_messages_map_to_the_taxonomy() {
        assert_eq!(
            Reason::of_pos_message("Item with sku X1 not found"),
            Reason::SkuNotFound
        );
        assert_eq!(
            Reason::of_pos_message("Item with sku X1 is not available"),
            Reason::ItemUnavailable
        );
        assert_eq!(
            Reason::of_pos_message("Account profile FOO not found"),
            Reason::InvalidProfile
        );
        assert_eq!(
            Reason::of_pos_message("A consumer already exists for this email address with a different external reference."),
            Reason::CustomerConflict
        );
        assert_eq!(Reason::of_pos_message("boom"), Reason::Other);
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(1250), "12.50");
        assert_eq!(decimal(5), "0.05");
        assert_eq!(decimal(-105), "-1.05");
    }
}
