//! The `tillbridge` command line. `main.rs` parses flags and calls into these modules; tests
//! start the same hub with a pre-bound listener.

pub mod bench;
pub mod bench_backfill;
pub mod bench_dashboard;
pub mod bench_ingest;
pub mod bench_labor;
pub mod bench_memory;
pub mod client;
pub mod config;
pub mod demo;
pub mod hub;
pub mod logging;
pub mod truth;
