//! Lightspeed Retail X-Series (formerly Vend).

pub mod client;
pub mod map;
pub mod oauth;
pub mod wire;

pub use client::XClient;

/// Sale statuses after which a sale no longer changes at the till.
pub const CLOSED_STATUSES: &[&str] = &[
    "CLOSED",
    "ONACCOUNT_CLOSED",
    "LAYBY_CLOSED",
    "DISPATCHED_CLOSED",
    "PICKED_UP_CLOSED",
    "SERVICE_CLOSED",
];
/// Page size for version-cursor lists.
pub const PAGE_SIZE: u32 = 1000;
/// The rate-limit window X-Series documents.
pub const RATE_WINDOW_SECS: u64 = 300;

/// Whether `prefix` is a plausible store domain prefix (it becomes part of a host name).
pub fn valid_domain_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 63
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !prefix.starts_with('-')
}
