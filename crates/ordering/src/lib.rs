//! The ordering module: online orders from apps, marketplaces and kiosks into the merchant's
//! POS, their payment, and their status as the POS moves them along.
//!
//! - [`readiness`] checks the prerequisites (connection, fresh menu, payment method, webhooks)
//!   and holds the switch: orders are taken only once ordering is enabled;
//! - [`orders::submit`] checks an order against the location's synced menu, stock, tables and
//!   account profiles and stores it (idempotent on the channel order id);
//! - [`worker`] pushes it, pays it and follows it from the POS's webhooks, with
//!   reconciliation polling as the backstop, from the merchant's `ordering` consumer job;
//! - [`status`] is the ladder (received → submitted → accepted → ready → completed, or
//!   rejected, failed, cancelled) with an event per step.
//!
//! K-Series takes orders through Order & Pay ([`kseries`]); X- and R-Series as sales with
//! their payment ([`retail`]). O-Series is refused with a message. [`outage`] follows the
//! connection's outages (banner, events, alert mails).

pub mod kseries;
pub mod orders;
pub mod outage;
pub mod readiness;
pub mod request;
pub mod retail;
pub mod status;
pub mod worker;

use tillbridge_engine::consumers::{Consumer as ConsumerTrait, ConsumerFuture};
use tillbridge_engine::Engine;

pub const CONSUMER: &str = "ordering";

/// The ordering worker as an event consumer: it reads no events (webhooks and its own rows
/// drive it); its `background` step does the work under the job's lease.
pub struct Consumer;

impl ConsumerTrait for Consumer {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn event_types(&self) -> Option<&'static [&'static str]> {
        Some(&[])
    }

    fn background<'a>(&'a self, engine: &'a Engine, merchant_id: &'a str) -> ConsumerFuture<'a> {
        Box::pin(worker::run(engine, merchant_id))
    }

    /// The next retry or status check of any order.
    fn next_run<'a>(
        &'a self,
        engine: &'a Engine,
        merchant_id: &'a str,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<Option<i64>, tillbridge_engine::EngineError>>
                + Send
                + 'a,
        >,
    > {
        Box::pin(async move {
            let mut c = engine.conn().await?;
            Ok(tillbridge_store::ordering::next_due(&mut c, merchant_id).await?)
        })
    }
}
