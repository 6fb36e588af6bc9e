//! The labor worker: the merchant's labor work runs from its own event-consumer job, which the
//! engine runs under a lease. Order events need nothing here (days are recomputed from the
//! stored orders); the job's `background` step runs historical imports and the schedule.

use tillbridge_engine::consumers::{Consumer as ConsumerTrait, ConsumerFuture};
use tillbridge_engine::Engine;

pub const CONSUMER: &str = "labor";

pub struct Consumer;

impl ConsumerTrait for Consumer {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    /// No event: the cursor only moves.
    fn event_types(&self) -> Option<&'static [&'static str]> {
        Some(&[])
    }

    /// Imports run in transactions of their own (a chunk of days each), so progress shows
    /// while they run and a crash loses at most the chunk in flight.
    fn background<'a>(&'a self, engine: &'a Engine, merchant_id: &'a str) -> ConsumerFuture<'a> {
        Box::pin(async move {
            while crate::imports::run_next(engine, merchant_id).await? {}
            crate::schedule::run_due(engine, merchant_id).await?;
            Ok(())
        })
    }
}
