//! X-Series API 2.0 wire types, read leniently (amounts as numbers or strings).

pub use crate::kseries::wire::Amount;
use serde::Deserialize;

/// A version-cursor page: `{data: [...], version: {min, max}}`.
#[derive(Deserialize, Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub version: Option<Version>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Version {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct List<T> {
    pub data: Vec<T>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Outlet {
    pub id: String,
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub currency: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Register {
    pub id: String,
    pub name: Option<String>,
    pub outlet_id: Option<String>,
}

/// An inventory record of `GET /inventory`: a product's stock at an outlet.
#[derive(Deserialize, Debug, Clone)]
pub struct InventoryRecord {
    pub product_id: Option<String>,
    pub outlet_id: Option<String>,
    /// Whole units on hand (negative when oversold); fractional levels round down.
    pub inventory_level: Option<serde_json::Number>,
    pub deleted_at: Option<String>,
}

impl InventoryRecord {
    pub fn level(&self) -> Option<i64> {
        let n = self.inventory_level.as_ref()?;
        n.as_i64().or_else(|| {
            let text = n.to_string();
            let whole = text.split('.').next().unwrap_or_default();
            let whole: i64 = whole.parse().ok()?;
            // -1.5 rounds down to -2, 1.5 to 1.
            Some(if text.starts_with('-') && text.contains('.') {
                whole - 1
            } else {
                whole
            })
        })
    }
}

#[derive(Deserialize, Debug, Clone)]
pub struct Product {
    pub id: String,
    pub name: Option<String>,
    pub sku: Option<String>,
    pub product_type_id: Option<String>,
    #[serde(default)]
    pub categories: Vec<CategoryRef>,
    pub version: Option<u64>,
    pub price_including_tax: Option<Amount>,
    pub active: Option<bool>,
    /// Whether the store counts this product's stock.
    pub has_inventory: Option<bool>,
    pub deleted_at: Option<String>,
    /// Whether it belongs to a variant family; a family's products share `name`.
    pub has_variants: Option<bool>,
    /// The family's parent, on every product of a family but the parent.
    pub variant_parent_id: Option<String>,
    /// The product's own name within its family ("T-Shirt / M").
    pub variant_name: Option<String>,
    /// What sets it apart in its family (`null` or absent outside one).
    pub variant_options: Option<Vec<VariantOption>>,
}

impl Product {
    /// The name that tells this product apart: its `variant_name` in a variant family, else
    /// its `name`.
    pub fn display_name(&self) -> Option<&str> {
        self.variant_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or(self.name.as_deref())
    }
}

/// `GET /variant_attributes`: `{id, name, deleted_at}`.
#[derive(Deserialize, Debug, Clone)]
pub struct VariantAttribute {
    pub id: String,
    pub name: Option<String>,
    pub deleted_at: Option<String>,
}

/// `{name: "Size", value: "M"}`.
#[derive(Deserialize, Debug, Clone)]
pub struct VariantOption {
    pub name: Option<String>,
    pub value: Option<String>,
}

/// `GET /product_categories`: `{page_info: {has_next, last_seen}, data: {categories: […]}}`.
#[derive(Deserialize, Debug, Clone)]
pub struct CategoryPage {
    pub page_info: Option<PageInfo>,
    pub data: CategoryList,
}

#[derive(Deserialize, Debug, Clone)]
pub struct PageInfo {
    #[serde(default)]
    pub has_next: bool,
    pub last_seen: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Default)]
pub struct CategoryList {
    #[serde(default)]
    pub categories: Vec<CategoryRef>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct CategoryRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub version: Option<u64>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Sale {
    pub id: String,
    pub outlet_id: Option<String>,
    pub register_id: Option<String>,
    pub customer_id: Option<String>,
    pub status: Option<String>,
    pub return_for: Option<String>,
    pub sale_date: Option<String>,
    pub created_at: Option<String>,
    pub total_price: Option<Amount>,
    pub total_tax: Option<Amount>,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default)]
    pub payments: Vec<Payment>,
    pub version: Option<u64>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct LineItem {
    pub id: Option<String>,
    pub product_id: Option<String>,
    pub quantity: Option<Amount>,
    pub price: Option<Amount>,
    pub price_total: Option<Amount>,
    pub discount_total: Option<Amount>,
    pub tax_total: Option<Amount>,
    /// The tax applied to the line ([`Tax::id`]).
    pub tax_id: Option<String>,
    pub status: Option<String>,
    pub is_return: Option<bool>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Payment {
    pub name: Option<String>,
    pub retailer_payment_type_id: Option<String>,
    pub amount: Option<Amount>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub active: Option<bool>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct One<T> {
    pub data: T,
}

/// The `payload` of a `sale.update` webhook (API 1.0 shape); only what identifies the sale.
#[derive(Deserialize, Debug, Clone)]
pub struct SaleHint {
    pub id: String,
    pub version: Option<u64>,
    pub status: Option<String>,
}

/// A tax (`GET /taxes`): its rates add up (a compound tax has several).
#[derive(Deserialize, Debug, Clone)]
pub struct Tax {
    pub id: String,
    pub name: Option<String>,
    #[serde(default)]
    pub rates: Vec<TaxRate>,
    pub deleted_at: Option<String>,
}

/// One rate of a tax; `0.1` is 10 %.
#[derive(Deserialize, Debug, Clone)]
pub struct TaxRate {
    pub id: Option<String>,
    pub rate: Option<Amount>,
}

/// A payment type (`GET /payment_types`).
#[derive(Deserialize, Debug, Clone)]
pub struct PaymentType {
    pub id: String,
    pub name: Option<String>,
}

/// `POST /api/register_sales` answers `{"register_sale": {…}}`; only what identifies it.
#[derive(Deserialize, Debug, Clone)]
pub struct RegisterSaleCreated {
    pub register_sale: SaleHint,
}
