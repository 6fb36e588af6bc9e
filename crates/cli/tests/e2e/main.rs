//! End-to-end tests: the sandbox and the hub in one process (or the real binary, for crash
//! tests), on SQLite and, when `TILLBRIDGE_TEST_POSTGRES_URL` is set, on PostgreSQL with a
//! database per test.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected value"
)]

mod api_input;
mod budgets;
mod catalog;
mod common;
mod consumers;
mod crash;
mod dashboard;
mod financials;
mod kseries;
mod labor;
mod loyalty;
mod oauth;
mod ordering;
mod oseries;
mod rseries;
mod samples;
mod soak;
mod sync;
mod tokens;
mod webhooks_out;
mod xseries;
