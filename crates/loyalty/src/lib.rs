//! The loyalty module. Its rules are plain functions over plain data, with no I/O, no clock
//! and no database ([`allocate`], [`eligible`], [`earning`], [`tiers`], [`cards`], [`rfm`]),
//! each table-tested and property-tested on its own. The services around them ([`program`],
//! [`members`], [`purchases`], [`punch_cards`], [`tiering`], [`segments`], [`insights`], [`replay`], [`broadcasts`]) read and write through the store, and [`purchases::Consumer`]
//! applies every synced order from the merchant's event log with its own cursor.
//!
//! Money is integer minor units throughout. Rules that recompute (credit, stamps) take the
//! whole purchase — a sale with its refunds and voids — and the posting functions return only
//! the difference to what was already posted, so any sequence of refunds reverses exactly.

pub mod allocate;
pub mod broadcasts;
pub mod cards;
pub mod earning;
pub mod eligible;
pub mod insights;
pub mod members;
pub mod program;
pub mod punch_cards;
pub mod purchases;
pub mod replay;
pub mod rfm;
pub mod segments;
pub mod tiering;
pub mod tiers;
