//! Sync jobs: provider pages → model → store, checkpointed in the same transaction as the data
//! they wrote, so a crash anywhere resumes at the first unwritten page.

pub mod kseries;
pub mod rseries;
pub mod xseries;

use serde::{Deserialize, Serialize};

/// How a job run ended (errors are returned separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Caught up; run again after the poll interval.
    Done,
    /// The stream's location is no longer mapped; the job waits until it is.
    Unmapped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Backfill,
    Incremental,
}

/// The resumable position of an orders stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    pub phase: Phase,
    /// Start of the backfill range (epoch ms).
    pub backfill_from: Option<i64>,
    /// The window being read: `[window_from, window_to)` on closing time.
    pub window_from: Option<i64>,
    pub window_to: Option<i64>,
    /// Where this run stops (fixed when the run starts).
    pub target: Option<i64>,
    /// The provider's token for the next page of the current window.
    pub page_token: Option<String>,
    /// Everything closed before this has been read.
    pub high_water: Option<i64>,
    /// Orders written (new or changed versions) so far.
    pub orders: i64,
    /// Records that were not orders (floats, transfers, …).
    pub skipped: i64,
    pub pages: i64,
}
