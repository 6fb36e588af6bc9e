//! Lightspeed Restaurant K-Series (formerly iKentoo).

pub mod client;
pub mod map;
pub mod oauth;
pub mod wire;

pub use client::KClient;

/// Scopes tillbridge asks for: business discovery and online orders, and financial data.
pub const DEFAULT_SCOPES: &str = "orders-api financial-api items";
/// The Financial API V1 page size limit.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The Financial API's maximum range per request.
pub const MAX_RANGE_DAYS: i64 = 365;
