//! The unified order: what every series' sale, receipt or check becomes.

use crate::{Email, Quantity, Series};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Sale,
    /// A refund of (part of) an earlier sale; amounts are negative.
    Refund,
    /// A cancellation of an earlier sale; amounts are negative and mirror the original.
    Void,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Sale => "sale",
            OrderKind::Refund => "refund",
            OrderKind::Void => "void",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Open,
    Closed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Closed => "closed",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub series: Series,
    /// The provider's identifier of this record (K-Series: `accountFiscId`).
    pub external_id: String,
    pub kind: OrderKind,
    /// For refunds and voids: the provider identifier of the original sale.
    pub original_external_id: Option<String>,
    pub status: OrderStatus,
    /// The provider's location identifier (K-Series business location id).
    pub external_location_id: String,
    pub register_id: Option<String>,
    pub register_name: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: DateTime<Utc>,
    /// The business date in the location's zone (filled in when the location is known).
    pub business_date: Option<NaiveDate>,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    pub payments: Vec<Payment>,
    /// Σ line totals including tax, in minor units (negative for refunds and voids).
    pub total_minor: i64,
    pub tax_minor: i64,
    pub discount_minor: i64,
    pub tip_minor: i64,
    pub covers: Option<i32>,
    pub customer_email: Option<Email>,
    pub customer_ref: Option<String>,
    pub customer_name: Option<String>,
    pub table: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub external_id: String,
    /// Modifier and sub-item lines point at their parent line.
    pub parent_external_id: Option<String>,
    pub sku: Option<String>,
    pub name: String,
    /// The category recorded on the line at the time of sale (never the current menu).
    pub category: Option<String>,
    pub category_id: Option<String>,
    pub quantity: Quantity,
    pub unit_price_minor: i64,
    /// Line and order discounts on this line, on the same basis as `total_minor` (tax
    /// included); negative on refund lines.
    pub discount_minor: i64,
    pub tax_minor: i64,
    /// Line total after discounts, including tax.
    pub total_minor: i64,
    /// Line total after discounts, excluding tax.
    pub net_minor: i64,
    pub voided: bool,
    /// The line's tax rate in basis points (900 = 9 %), where the POS gives it per line
    /// (K-Series `taxRatePercentage`, R-Series the sale's rates on a taxed line). Absent from
    /// the content hash when unknown, so orders read before it existed keep their hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate_bp: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub method_code: String,
    pub method_name: Option<String>,
    /// Amount paid including tip.
    pub amount_minor: i64,
    pub tip_minor: i64,
}

impl Order {
    /// A stable digest of everything tillbridge knows about this order; an unchanged digest
    /// means a re-delivery, a changed one a new version.
    pub fn content_hash(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}
