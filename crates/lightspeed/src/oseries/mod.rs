//! Lightspeed Restaurant O-Series (formerly Upserve). O-Series publishes no API documentation;
//! the dialect this adapter speaks is defined, with every assumption, in the sandbox's
//! `oseries` module. OAuth follows K-Series, so [`crate::kseries::oauth`] serves both.

pub mod client;
pub mod map;

pub use client::OClient;

/// Scopes tillbridge asks for.
pub const DEFAULT_SCOPES: &str = "checks:read customers:read menu:read webhooks";
/// The largest page of checks.
pub const PAGE_LIMIT: u32 = 200;
