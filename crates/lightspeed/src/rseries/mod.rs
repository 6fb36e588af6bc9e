//! Lightspeed Retail R-Series (formerly Merchant OS).

pub mod client;
pub mod map;
pub mod oauth;
pub mod wire;

pub use client::RClient;

/// Relations loaded with every sale: lines with their items, the customer with contact
/// details (the e-mail lives there), and payments.
pub const SALE_RELATIONS: &str =
    r#"["SaleLines","SaleLines.Item","Customer","Customer.Contact","SalePayments"]"#;
/// The largest page R-Series serves.
pub const PAGE_LIMIT: u32 = 100;
