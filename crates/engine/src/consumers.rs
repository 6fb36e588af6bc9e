//! Event consumers: modules (loyalty, labor, …) that read a merchant's event log from their own
//! cursor. Each (merchant, consumer) pair is a job of kind [`CONSUMER_JOB`] whose checkpoint is
//! the last sequence number handled; a batch of events and the cursor that covers it are
//! committed in one transaction, so a crash anywhere re-reads the batch and nothing is applied
//! twice or skipped. Appending an event makes the merchant's consumers due at once; besides,
//! they run every `consumer_interval` for time-driven work (a daily check) and for wakes that
//! came while they ran, unless [`Consumer::next_run`] asks for sooner.
//!
//! Modules sit above the engine, so they plug in through the [`Consumer`] trait rather than the
//! engine calling them by name.

use crate::error::EngineError;
use crate::ids::new_id;
use crate::sync::Outcome;
use crate::Engine;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tillbridge_store::events::{self, EventRow};
use tillbridge_store::jobs::{self, JobRow};
use tillbridge_store::Tx;

pub const CONSUMER_JOB: &str = tillbridge_store::jobs::CONSUMER;

/// Events handled per transaction.
const BATCH: i64 = 500;

pub type ConsumerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), EngineError>> + Send + 'a>>;

/// A module that applies a merchant's events.
pub trait Consumer: Send + Sync {
    /// Unique and stable: it names the cursor.
    fn name(&self) -> &'static str;

    /// Applies `events` (in sequence order) inside `tx`, the transaction that also advances
    /// the cursor past them. Must be deterministic: a batch rolled back is handled again.
    /// Nothing by default, for modules driven only by their `background` step and `tick`.
    fn handle<'a>(
        &'a self,
        _engine: &'a Engine,
        _tx: &'a mut Tx,
        _merchant_id: &'a str,
        _events: &'a [EventRow],
    ) -> ConsumerFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// The event types [`Consumer::handle`] reads; `None` (the default): every event. The
    /// cursor moves past the others without reading them.
    fn event_types(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// Longer work that manages its own transactions (an import that commits a chunk at a
    /// time), run at the start of every run of the consumer's job, before [`Consumer::tick`],
    /// under the job's lease. Nothing by default.
    fn background<'a>(&'a self, _engine: &'a Engine, _merchant_id: &'a str) -> ConsumerFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    /// When the consumer has time-driven work due sooner than `consumer_interval` (a retry
    /// scheduled by its background step). Nothing by default.
    fn next_run<'a>(
        &'a self,
        _engine: &'a Engine,
        _merchant_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<i64>, EngineError>> + Send + 'a>> {
        Box::pin(async { Ok(None) })
    }

    /// Work that is due by time rather than by events (a daily check), run at the start of
    /// every run of the consumer's job in its own transaction. Nothing by default.
    fn tick<'a>(
        &'a self,
        _engine: &'a Engine,
        _tx: &'a mut Tx,
        _merchant_id: &'a str,
    ) -> ConsumerFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

impl Engine {
    /// Registers a consumer and makes sure every existing merchant has its cursor job.
    pub async fn register_consumer(&self, consumer: Arc<dyn Consumer>) -> Result<(), EngineError> {
        let name = consumer.name();
        self.inner
            .consumers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|c| c.name() != name);
        self.inner
            .consumers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(consumer);
        let merchants = {
            let mut c = self.conn().await?;
            tillbridge_store::merchants::list_merchants(&mut c).await?
        };
        let mut tx = self.store().begin().await?;
        for m in merchants {
            ensure_job(&mut tx, &m.id, name, self.now_ms()).await?;
        }
        tillbridge_store::commit(tx).await?;
        Ok(())
    }

    /// The cursor jobs of every registered consumer for a new merchant.
    pub(crate) async fn ensure_consumer_jobs(
        &self,
        tx: &mut Tx,
        merchant_id: &str,
    ) -> Result<(), EngineError> {
        let names: Vec<&'static str> = self
            .inner
            .consumers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|c| c.name())
            .collect();
        for name in names {
            ensure_job(tx, merchant_id, name, self.now_ms()).await?;
        }
        Ok(())
    }

    fn consumer(&self, name: &str) -> Option<Arc<dyn Consumer>> {
        self.inner
            .consumers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|c| c.name() == name)
            .cloned()
    }

    /// Starts consumer `name` over from a merchant's first event, inside `tx` (a replay); a
    /// batch it is handling now loses its lease and rolls back. Returns the last event's
    /// sequence number as of `tx`.
    pub async fn restart_consumer(
        &self,
        tx: &mut Tx,
        merchant_id: &str,
        name: &str,
    ) -> Result<i64, EngineError> {
        let last = events::last_seq(tx, merchant_id).await?;
        jobs::restart_stream(tx, merchant_id, "", CONSUMER_JOB, name, self.now_ms()).await?;
        Ok(last)
    }

    /// Runs a consumer's cursor job until it has handled every event.
    pub(crate) async fn run_consumer(&self, job: &JobRow) -> Result<Outcome, EngineError> {
        let consumer = self.consumer(&job.stream_key).ok_or_else(|| {
            EngineError::Invalid(format!(
                "no consumer `{}` is registered in this process",
                job.stream_key
            ))
        })?;
        let m = job.merchant_id.as_str();
        let mut after = job
            .checkpoint
            .get("after")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        let mut handled = job.progress_done;
        consumer.background(self, m).await?;
        let mut tx = self.store().begin().await?;
        consumer.tick(self, &mut tx, m).await?;
        tillbridge_store::commit(tx).await?;
        let types = consumer.event_types();
        loop {
            let (batch, last) = {
                let mut c = self.conn().await?;
                match types {
                    None => {
                        let batch = events::list_after(&mut c, m, after, None, BATCH).await?;
                        let last = batch.last().map_or(after, |e| e.seq);
                        (batch, last)
                    }
                    // Every event up to the last committed sequence number is committed (they
                    // are numbered under the merchant's row lock), so the cursor may pass the
                    // ones of other types up to it.
                    Some(types) => {
                        let until = events::last_seq(&mut c, m).await?;
                        let batch =
                            events::list_of_types(&mut c, m, after, until, types, BATCH).await?;
                        let last = match batch.last() {
                            Some(e) if batch.len() as i64 == BATCH => e.seq,
                            _ => until,
                        };
                        (batch, last)
                    }
                }
            };
            if last <= after {
                return Ok(match consumer.next_run(self, m).await? {
                    Some(at) => Outcome::RunBy(at),
                    None => Outcome::Done,
                });
            }
            let now = self.now_ms();
            let mut tx = self.store().begin().await?;
            if !batch.is_empty() {
                consumer.handle(self, &mut tx, m, &batch).await?;
            }
            handled += batch.len() as i64;
            let position = serde_json::json!({ "after": last, "phase": "incremental" });
            self.save_progress(&mut tx, job, &position, handled, None, now)
                .await?;
            tillbridge_store::commit(tx).await?;
            self.continue_unless_stopping()?;
            after = last;
        }
    }
}

async fn ensure_job(
    tx: &mut Tx,
    merchant_id: &str,
    name: &str,
    now: i64,
) -> Result<(), EngineError> {
    jobs::ensure(
        tx,
        &jobs::NewJob {
            id: &new_id("job"),
            merchant_id,
            connection_id: "",
            kind: CONSUMER_JOB,
            stream_key: name,
            run_after: now,
            checkpoint: &serde_json::json!({ "after": 0 }),
        },
        now,
    )
    .await?;
    Ok(())
}
