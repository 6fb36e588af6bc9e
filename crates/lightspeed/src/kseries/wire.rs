//! K-Series wire types, read leniently: money arrives as strings (sometimes numbers), ids as
//! numbers here and strings there, and unknown fields are ignored.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A decimal that arrives either as a JSON string (`"11.00"`) or a number (`11.0`).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum Amount {
    Text(String),
    Number(serde_json::Number),
}

impl Amount {
    pub fn as_text(&self) -> String {
        match self {
            Amount::Text(s) => s.clone(),
            Amount::Number(n) => n.to_string(),
        }
    }
}

/// An identifier that arrives as a number or a string.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum Id {
    Text(String),
    Number(serde_json::Number),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Text(s) => f.write_str(s),
            Id::Number(n) => write!(f, "{n}"),
        }
    }
}

/// `GET /o/op/data/businesses`: a plain array.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OpBusiness {
    pub name: Option<String>,
    pub id: Id,
    #[serde(default)]
    pub business_locations: Vec<OpLocation>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct OpLocation {
    pub id: Id,
    pub name: Option<String>,
}

/// `GET /f/data/businesses`: HAL.
#[derive(Deserialize, Debug, Clone)]
pub struct FinancialBusinesses {
    #[serde(rename = "_embedded")]
    pub embedded: Option<BusinessListEmbedded>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct BusinessListEmbedded {
    #[serde(rename = "businessList", default)]
    pub business_list: Vec<FinancialBusiness>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FinancialBusiness {
    pub business_name: Option<String>,
    pub business_id: Id,
    pub currency_code: Option<String>,
    #[serde(default)]
    pub business_locations: Vec<FinancialLocation>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct FinancialLocation {
    #[serde(rename = "blName")]
    pub name: Option<String>,
    /// Note the spelling: `blID`.
    #[serde(rename = "blID")]
    pub id: Id,
    pub country: Option<String>,
    pub timezone: Option<String>,
}

/// `FinancialDto`: a page of `GET /f/finance/{blId}/financials/{from}/{to}`.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FinancialPage {
    pub business_name: Option<String>,
    pub business_location_id: Option<Id>,
    pub sales: Vec<Sale>,
    pub data_complete: Option<bool>,
    #[serde(rename = "_links")]
    pub links: Option<Links>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Links {
    pub next_page: Option<Link>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Link {
    pub href: String,
}

impl FinancialPage {
    /// The `nextPageToken` of the next page, read from `_links.nextPage.href`.
    pub fn next_page_token(&self) -> Option<String> {
        let href = &self.links.as_ref()?.next_page.as_ref()?.href;
        let url = url::Url::parse(href).ok()?;
        let token = url
            .query_pairs()
            .find(|(k, _)| k == "nextPageToken")
            .map(|(_, v)| v.into_owned());
        token
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Sale {
    pub account_reference: Option<String>,
    pub account_fisc_id: Option<String>,
    pub receipt_id: Option<String>,
    pub source: Option<Source>,
    #[serde(default)]
    pub sales_lines: Vec<SaleLine>,
    #[serde(default)]
    pub payments: Vec<Payment>,
    /// V1 spelling.
    pub timeof_opening: Option<String>,
    /// V1 spelling.
    pub timeof_close_and_paid: Option<String>,
    /// V2 spelling.
    pub time_of_opening: Option<String>,
    /// V2 spelling.
    pub time_closed: Option<String>,
    pub cancelled: Option<bool>,
    pub table_number: Option<Id>,
    pub nb_covers: Option<Amount>,
    pub dine_in: Option<bool>,
    pub device_id: Option<Id>,
    pub device_name: Option<String>,
    #[serde(rename = "type")]
    pub sale_type: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub initial_account_id: Option<Id>,
    pub previous_account_id: Option<Id>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SaleLine {
    pub id: Option<Id>,
    pub parent_line_id: Option<Id>,
    pub total_net_amount_with_tax: Option<Amount>,
    pub total_net_amount_without_tax: Option<Amount>,
    pub menu_list_price: Option<Amount>,
    pub tax_amount: Option<Amount>,
    /// The line's tax rate as a percentage (`"9.00"`).
    pub tax_rate_percentage: Option<Amount>,
    pub discount_amount: Option<Amount>,
    pub account_discount_amount: Option<Amount>,
    pub total_discount_amount: Option<Amount>,
    pub sku: Option<String>,
    pub name: Option<String>,
    pub name_override: Option<String>,
    pub quantity: Option<Amount>,
    pub accounting_group: Option<AccountingGroup>,
    pub categories: Option<Vec<Category>>,
    pub currency: Option<String>,
    pub void_reason: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AccountingGroup {
    pub accounting_group_id: Option<Id>,
    pub name: Option<String>,
    pub code: Option<String>,
    /// A JSON-encoded string such as `[{"category":"default","value":"Food"}]`.
    pub statistic_group: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Category {
    pub category: Option<String>,
    pub value: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub code: Option<String>,
    pub description: Option<String>,
    pub net_amount_with_tax: Option<Amount>,
    pub tip: Option<Amount>,
    pub currency: Option<String>,
    pub consumer: Option<Consumer>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Consumer {
    pub id: Option<String>,
    pub customer_id: Option<Id>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

/// `_embedded.accountingGroupList` of `GET /f/finance/{blId}/accountingGroups`.
#[derive(Deserialize, Debug, Clone)]
pub struct AccountingGroups {
    #[serde(rename = "_embedded")]
    pub embedded: Option<AccountingGroupsEmbedded>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct AccountingGroupsEmbedded {
    #[serde(rename = "accountingGroupList", default)]
    pub list: Vec<AccountingGroup>,
}

/// `_embedded.paymentMethodList` of `GET /f/finance/{blId}/paymentMethods`.
#[derive(Deserialize, Debug, Clone)]
pub struct PaymentMethods {
    #[serde(rename = "_embedded")]
    pub embedded: Option<PaymentMethodsEmbedded>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct PaymentMethodsEmbedded {
    #[serde(rename = "paymentMethodList", default)]
    pub list: Vec<PaymentMethod>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethod {
    pub name: Option<String>,
    pub code: Option<String>,
    pub pm_id: Option<Id>,
}

/// A floor plan of `GET /o/op/data/{blId}/floorplans?expandTables=true`.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FloorPlan {
    pub id: Option<Id>,
    pub name: Option<String>,
    #[serde(default)]
    pub tables: Vec<Table>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    /// The number orders name (`tableNumber`, sent as a string).
    pub number: Option<Id>,
    pub id: Option<Id>,
    pub description: Option<String>,
    /// Inactive tables take no orders; absent means active.
    pub active: Option<bool>,
    pub default_client_count: Option<i64>,
}

/// Reads the category names out of a `statisticGroup` JSON string.
pub fn statistic_group_values(raw: &str) -> Vec<String> {
    serde_json::from_str::<Vec<Category>>(raw)
        .map(|cats| cats.into_iter().filter_map(|c| c.value).collect())
        .unwrap_or_default()
}

/// The body of `PUT`/`POST /o/wh/1/webhook`. On update, omitted flags reset to their
/// defaults, so every field is always sent.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRegistration<'a> {
    pub endpoint_id: &'a str,
    pub url: &'a str,
    pub with_basic_auth: bool,
    pub username: &'a str,
    pub password: &'a str,
    pub provide_account: bool,
    pub expand_transactions: bool,
    pub expand_payments: bool,
    pub subscribe_to: Vec<serde_json::Value>,
}

/// A business location linked to a webhook endpoint.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct WebhookLocation {
    pub business_location_id: Id,
}

/// An Order & Pay notification (order, payment or account status). Only what the hub reads;
/// amounts inside `account` are strings and instants carry `+0000` offsets.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub status: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub business_location_id: Option<Id>,
    #[serde(default)]
    pub ikentoo_account_identifier: Option<String>,
    #[serde(default)]
    pub third_party_reference: Option<String>,
    #[serde(default)]
    pub ikentoo_account_id: Option<Id>,
    /// Item availability notifications: the item whose sales restriction changed.
    #[serde(default)]
    pub sku: Option<String>,
    /// Why an order or payment failed.
    #[serde(default)]
    pub reason: Option<String>,
    /// Payment failures: `{timeout: {errorKey, message}, account: {type}}`.
    #[serde(default)]
    pub errors: Option<serde_json::Value>,
}

#[cfg(test)]
mod notification_tests {
    use super::*;

    #[test]
    fn reads_the_documented_notifications() {
        let success: Notification = serde_json::from_str(
            r#"{"status":"SUCCESS","ikentooAccountId":"2114502594134196","ikentooAccountIdentifier":"A123080.14","thirdPartyReference":"REF11","type":"ORDER"}"#,
        )
        .expect("success example");
        assert_eq!(success.third_party_reference.as_deref(), Some("REF11"));
        let failure: Notification = serde_json::from_str(
            r#"{"status":"FAILURE","reason":"A consumer already exists for this email address with a different external reference.","thirdPartyReference":"REF12212"}"#,
        )
        .expect("failure example");
        assert_eq!((failure.status.as_str(), failure.kind), ("FAILURE", None));
        let closed: Notification = serde_json::from_str(
            r#"{"status":"CLOSED","type":"ORDER","businessLocationId":45454,"account":{"totalAmount":"4.00","closeDate":"2021-12-21T13:24:49.265+0000"}}"#,
        )
        .expect("closed account");
        assert_eq!(
            closed.business_location_id.map(|b| b.to_string()),
            Some("45454".to_owned())
        );
        let item: Notification = serde_json::from_str(
            r#"{"sku":"H001","businessLocationId":45454,"count":3,"countUpdatedAt":"2021-12-21T13:24:49.265+0000","status":"RESTRICTED","type":"ITEM"}"#,
        )
        .expect("item availability");
        assert_eq!(
            (item.kind.as_deref(), item.sku.as_deref()),
            (Some("ITEM"), Some("H001"))
        );
    }
}

#[cfg(test)]
mod menu_tests {
    use super::*;

    #[test]
    fn reads_production_instructions_as_the_api_spells_them() {
        let menu = serde_json::json!({"menuEntryGroups": [
            {"@type": "group", "id": 7, "name": "Mains", "menuEntry": [
                {"@type": "menuItem", "sku": "B1", "productionInstructionList": [
                    {"multiSelectionPermitted": false, "productionInstructionGroupName": "Meat cooking",
                     "productionIntructionGroupId": 236025632784487_i64,
                     "productionInstructionList": [
                        {"instruction": "Rare", "ikentooModifierId": 236025632784490_i64},
                        {"instruction": "Well done", "ikentooModifierId": "236025632784498"}
                     ]}
                ]},
                {"@type": "menuItem", "sku": "B2", "productionInstructionList": "not a list"}
            ]}
        ]});
        let items = menu_items(&menu);
        let groups = &items[0].instructions;
        assert_eq!(groups.len(), 1);
        assert_eq!(
            (
                groups[0].id.as_ref().map(ToString::to_string).as_deref(),
                groups[0].name.as_deref(),
                groups[0].multi_selection_permitted
            ),
            (Some("236025632784487"), Some("Meat cooking"), Some(false))
        );
        let ids: Vec<String> = groups[0]
            .instructions
            .iter()
            .filter_map(|i| i.ikentoo_modifier_id.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(ids, ["236025632784490", "236025632784498"]);
        assert!(items[1].instructions.is_empty(), "a malformed list is none");
    }

    #[test]
    fn reads_product_modifier_groups_and_deals() {
        let menu = serde_json::json!({"menuEntryGroups": [
            {"@type": "group", "id": 7, "name": "Coffee", "menuEntry": [
                {"@type": "menuItem", "sku": "C1", "productPrice": 3.6, "menuModifierGroups": [
                    {"description": "Milk options", "sku": "30", "mustSelectAnItem": false,
                     "multiSelectionPermitted": true, "minimumSelection": null, "maximumSelection": 2,
                     "productModifiers": [
                        {"@type": "menuProductModifier", "sku": "M1", "productName": "Oat milk", "productPrice": 0.5}
                     ]}
                ]},
                {"@type": "menuProductModifier", "sku": "M1", "productName": "Oat milk", "productPrice": 0.5},
                {"@type": "menuDeal", "sku": "D1", "productPrice": "5.50", "menuDealGroups": [
                    {"description": "Drink", "sku": "25", "mustSelectAnItem": true, "minimumSelection": 1,
                     "maximumSelection": 1, "items": [
                        {"@type": "menuItem", "sku": "C1", "productName": "Cappuccino", "extraPrice": "0.30"}
                     ]}
                ]}
            ]}
        ]});
        let items = menu_items(&menu);
        let kinds: Vec<(&str, EntryKind)> =
            items.iter().map(|i| (i.sku.as_str(), i.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("C1", EntryKind::Item),
                ("M1", EntryKind::ProductModifier),
                ("D1", EntryKind::Deal)
            ]
        );
        let milk = &items[0].choices[0];
        assert_eq!(
            (milk.minimum_selection, milk.maximum_selection),
            (None, Some(2))
        );
        assert_eq!(milk.options[0].sku.as_deref(), Some("M1"));
        assert_eq!(
            milk.options[0]
                .product_price
                .as_ref()
                .map(Amount::as_text)
                .as_deref(),
            Some("0.5")
        );
        let drink = &items[2].choices[0];
        assert_eq!(drink.description.as_deref(), Some("Drink"));
        assert_eq!(
            drink.options[0]
                .extra_price
                .as_ref()
                .map(Amount::as_text)
                .as_deref(),
            Some("0.30")
        );
    }

    #[test]
    fn walks_nested_groups_and_reads_rich_content() {
        let menu = serde_json::json!({"menuEntryGroups": [
            {"@type": "group", "id": 7, "name": "Hot Drinks", "menuEntry": [
                {"@type": "menuItem", "sku": "H001", "productName": "Espresso", "productPrice": 2.8,
                 "defaultTaxPercentage": 9, "taxIncludedInPrice": true,
                 "itemRichData": {"allergenCodes": ["milk"], "descriptions": [{"localeCode": "en", "description": "Short", "displayName": null}], "pictureUrl": "https://cdn.example/h001.png"}},
                {"@type": "group", "menuEntry": [
                    {"@type": "menuItem", "sku": "H002", "productPrice": "3.10", "itemRichData": null}
                ]},
                {"@type": "group", "id": "8", "name": "Teas", "menuEntry": [
                    {"@type": "menuItem", "sku": "T001", "defaultTaxPercentage": "5.5"},
                    {"@type": "menuDeal", "sku": "D1"}
                ]}
            ]}
        ]});
        let items = menu_items(&menu);
        let skus: Vec<&str> = items.iter().map(|i| i.sku.as_str()).collect();
        assert_eq!(skus, ["H001", "H002", "T001", "D1"]);
        assert_eq!(
            items[3].kind,
            EntryKind::Deal,
            "a deal is an entry of its own kind"
        );
        assert_eq!(items[3].group_id.as_deref(), Some("8"));
        let (espresso, unnamed, tea) = (&items[0], &items[1], &items[2]);
        assert_eq!(
            (espresso.group.as_deref(), espresso.group_id.as_deref()),
            (Some("Hot Drinks"), Some("7"))
        );
        assert_eq!(
            espresso
                .tax_percentage
                .as_ref()
                .map(Amount::as_text)
                .as_deref(),
            Some("9")
        );
        assert_eq!(espresso.tax_included, Some(true));
        let rich = espresso.rich.as_ref().expect("rich content");
        assert_eq!(rich.allergen_codes, ["milk"]);
        assert_eq!(rich.descriptions[0].locale_code, "en");
        assert_eq!(
            rich.picture_url.as_deref(),
            Some("https://cdn.example/h001.png")
        );
        // A group without a name belongs to the group around it.
        assert_eq!(
            (
                unnamed.group.as_deref(),
                unnamed.group_id.as_deref(),
                unnamed.rich.as_ref()
            ),
            (Some("Hot Drinks"), Some("7"), None)
        );
        assert_eq!(
            (tea.group.as_deref(), tea.group_id.as_deref()),
            (Some("Teas"), Some("8"))
        );
    }
}

/// `GET /o/op/data/account-profiles`.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AccountProfiles {
    #[serde(default)]
    pub account_profile_list: Vec<AccountProfile>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AccountProfile {
    pub id: Option<Id>,
    pub code: Option<String>,
    pub name: Option<String>,
    /// `NONE`, `TAKE_AWAY` or `DELIVERY`.
    pub delivery_mode: Option<String>,
}

/// An entry of `GET /o/op/1/menu/list`.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct MenuRef {
    pub menu_name: Option<String>,
    pub ikentoo_menu_id: Option<Id>,
}

/// A menu item found anywhere in a menu tree, with the group holding it.
#[derive(Debug, Clone, PartialEq)]
pub struct MenuItem {
    pub sku: String,
    pub name: Option<String>,
    pub price: Option<Amount>,
    pub group: Option<String>,
    pub group_id: Option<String>,
    /// `defaultTaxPercentage`, as sent (a whole or decimal percentage).
    pub tax_percentage: Option<Amount>,
    pub tax_included: Option<bool>,
    /// `itemRichData`, present when the menu was loaded with `richContent=true` and the item
    /// has rich data.
    pub rich: Option<RichItem>,
    /// `productionInstructionList`: the production instructions an order line may carry.
    pub instructions: Vec<InstructionGroup>,
    /// Which entry it is: `menuItem`, `menuProductModifier` or `menuDeal`.
    pub kind: EntryKind,
    /// What a line of it chooses from as `subItems`: a `menuItem`'s `menuModifierGroups`
    /// (V2) or a `menuDeal`'s `menuDealGroups`.
    pub choices: Vec<ChoiceGroup>,
}

/// The `@type` of a priced menu entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// `menuItem`: sold on its own.
    Item,
    /// `menuProductModifier`: a priced add-on, sold only as a sub-item of an item offering it.
    ProductModifier,
    /// `menuDeal`: a combo priced for one choice per deal group.
    Deal,
}

/// A product modifier group (`menuModifierGroups[]`) or a deal group (`menuDealGroups[]`).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChoiceGroup {
    pub description: Option<String>,
    pub sku: Option<String>,
    pub must_select_an_item: Option<bool>,
    pub multi_selection_permitted: Option<bool>,
    /// Null: no minimum.
    pub minimum_selection: Option<i64>,
    /// Null: no maximum.
    pub maximum_selection: Option<i64>,
    /// A modifier group's `productModifiers`, a deal group's `items`.
    #[serde(rename = "productModifiers", alias = "items", default)]
    pub options: Vec<ChoiceEntry>,
}

/// What a choice group offers: a product modifier, priced at `productPrice`, or a deal's item,
/// which adds its `extraPrice` to the deal.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChoiceEntry {
    pub sku: Option<String>,
    pub product_name: Option<String>,
    pub product_price: Option<Amount>,
    pub extra_price: Option<Amount>,
}

/// A production instruction group of a menu item.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InstructionGroup {
    /// Spelled `productionIntructionGroupId` by the API.
    #[serde(
        rename = "productionIntructionGroupId",
        alias = "productionInstructionGroupId"
    )]
    pub id: Option<Id>,
    #[serde(rename = "productionInstructionGroupName")]
    pub name: Option<String>,
    pub multi_selection_permitted: Option<bool>,
    #[serde(rename = "productionInstructionList", default)]
    pub instructions: Vec<Instruction>,
}

/// One production instruction: what the kitchen reads and the id an order line names
/// (`modifiers[].modifierId`).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Instruction {
    pub instruction: Option<String>,
    pub ikentoo_modifier_id: Option<Id>,
}

/// A Rich Item API record (`/i/richItem/{businessId}/{sku}`), also a menu item's
/// `itemRichData`.
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RichItem {
    #[serde(default)]
    pub allergen_codes: Vec<String>,
    #[serde(default)]
    pub descriptions: Vec<RichDescription>,
    pub picture_url: Option<String>,
}

#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RichDescription {
    pub locale_code: String,
    pub description: String,
    pub display_name: Option<String>,
}

/// An entry of `GET /i/allergens`.
#[derive(Deserialize, Debug, Clone)]
pub struct Allergen {
    pub code: String,
    #[serde(default)]
    pub translations: Vec<Translation>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Translation {
    pub locale: String,
    pub text: String,
}

/// An Items API ItemDTO (`/items/v1/items`), the fields the hub reads.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: Id,
    pub name: Option<String>,
    pub sku: Option<String>,
    pub accounting_group: Option<ItemGroup>,
    #[serde(default)]
    pub prices: Vec<ItemPrice>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct ItemGroup {
    pub id: Option<Id>,
    pub name: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct ItemPrice {
    pub amount: Option<Amount>,
    pub name: Option<String>,
}

/// Collects the priced entries (`menuItem`, `menuProductModifier`, `menuDeal`) of a loaded
/// menu (`GET /o/op/2/menu/load/{id}`), walking nested groups
/// (`menuEntryGroups[].menuEntry[]`, entries discriminated by `@type`).
pub fn menu_items(menu: &serde_json::Value) -> Vec<MenuItem> {
    type Group<'a> = Option<(Option<&'a str>, Option<String>)>;
    fn walk(entries: &[serde_json::Value], group: Group<'_>, out: &mut Vec<MenuItem>) {
        for e in entries {
            match e.get("@type").and_then(serde_json::Value::as_str) {
                Some("group") => {
                    let name = e.get("name").and_then(serde_json::Value::as_str);
                    let id = e
                        .get("id")
                        .and_then(|v| serde_json::from_value::<Id>(v.clone()).ok())
                        .map(|id| id.to_string());
                    if let Some(children) = e.get("menuEntry").and_then(serde_json::Value::as_array)
                    {
                        let inner = match (name, &group) {
                            (None, Some(_)) => group.clone(),
                            _ => Some((name, id)),
                        };
                        walk(children, inner, out);
                    }
                }
                Some(kind @ ("menuItem" | "menuProductModifier" | "menuDeal")) => {
                    let Some(sku) = e.get("sku").and_then(serde_json::Value::as_str) else {
                        continue;
                    };
                    let (kind, choices) = match kind {
                        "menuDeal" => (EntryKind::Deal, "menuDealGroups"),
                        "menuProductModifier" => (EntryKind::ProductModifier, "menuModifierGroups"),
                        _ => (EntryKind::Item, "menuModifierGroups"),
                    };
                    out.push(MenuItem {
                        sku: sku.to_owned(),
                        name: e
                            .get("productName")
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_owned),
                        price: e
                            .get("productPrice")
                            .and_then(|p| serde_json::from_value(p.clone()).ok()),
                        group: group.as_ref().and_then(|g| g.0).map(str::to_owned),
                        group_id: group.as_ref().and_then(|g| g.1.clone()),
                        tax_percentage: e
                            .get("defaultTaxPercentage")
                            .and_then(|p| serde_json::from_value(p.clone()).ok()),
                        tax_included: e
                            .get("taxIncludedInPrice")
                            .and_then(serde_json::Value::as_bool),
                        rich: e
                            .get("itemRichData")
                            .filter(|r| !r.is_null())
                            .and_then(|r| serde_json::from_value(r.clone()).ok()),
                        instructions: e
                            .get("productionInstructionList")
                            .and_then(|l| serde_json::from_value(l.clone()).ok())
                            .unwrap_or_default(),
                        kind,
                        choices: e
                            .get(choices)
                            .and_then(|l| serde_json::from_value(l.clone()).ok())
                            .unwrap_or_default(),
                    });
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    if let Some(groups) = menu
        .get("menuEntryGroups")
        .and_then(serde_json::Value::as_array)
    {
        walk(groups, None, &mut out);
    }
    out
}

/// `GET /o/op/1/itemAvailability`.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityPage {
    #[serde(default)]
    pub data: Vec<Availability>,
    pub metadata: Option<AvailabilityMeta>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    pub sku: String,
    /// How many are left; absent or null when the count is not tracked.
    pub count: Option<i64>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityMeta {
    pub total_pages: Option<i64>,
}

/// `GET /o/op/1/order/accounts/{accountIdentifier}` (an AccountSnapshot, the fields read).
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AccountSnapshot {
    pub close_date: Option<String>,
    pub paid_amount: Option<Amount>,
    pub current_amount: Option<Amount>,
    #[serde(default)]
    pub payment_entries: Vec<PaymentEntry>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PaymentEntry {
    pub external_reference: Option<String>,
    pub payment_method_code: Option<String>,
    pub amount_paid: Option<Amount>,
    pub account_cancelled: Option<bool>,
}
