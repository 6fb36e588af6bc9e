//! Workers claim due jobs under a lease, keep the lease alive with a heartbeat while they run,
//! and put each job back with its next run time, a backoff, or a pause.

use crate::connections::{status, CATALOG_JOB, ORDERS_JOB};
use crate::consumers::CONSUMER_JOB;
use crate::error::EngineError;
use crate::sync::Outcome;
use crate::Engine;
use std::time::Duration;
use tillbridge_store::jobs::{self, JobRow};
use tillbridge_store::{connections as conns, logs};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// How long a job in hand may take to reach its next page once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What happened to one claimed job.
#[derive(Debug, Clone)]
pub struct JobReport {
    pub job_id: String,
    pub kind: String,
    pub stream: String,
    pub result: Result<(), String>,
}

impl Engine {
    /// Claims and runs one due job; `None` when nothing is due.
    pub async fn run_one_job(&self) -> Result<Option<JobReport>, EngineError> {
        let now = self.now_ms();
        let lease = self.config().job_lease.as_millis() as i64;
        // Each claim has its own lease token, so a job restarted or re-claimed while a worker of
        // this same process still runs it cannot be checkpointed by that worker any more.
        let owner = format!("{}.{}", self.instance(), crate::ids::new_id("lease"));
        let Some(job) = jobs::claim(self.store(), &owner, now + lease, now).await? else {
            return Ok(None);
        };
        let span = tracing::info_span!("job", job_id = %job.id, kind = %job.kind, connection_id = %job.connection_id, stream = %job.stream_key);
        tracing::debug!(parent: &span, attempt = job.attempts, "job claimed");
        let heartbeat = self.spawn_heartbeat(&job);
        let work = async {
            match job.kind.as_str() {
                ORDERS_JOB => match self
                    .connection_row(&job.merchant_id, &job.connection_id)
                    .await
                    .map(|r| r.series)
                {
                    Ok(series) if series == "x" => self.run_x_orders(&job).await,
                    Ok(series) if series == "r" => self.run_r_orders(&job).await,
                    Ok(series) if series == "o" => self.run_o_orders(&job).await,
                    Ok(_) => self.run_k_orders(&job).await,
                    Err(e) => Err(e),
                },
                CATALOG_JOB => self.run_catalog(&job).await,
                CONSUMER_JOB => self.run_consumer(&job).await,
                other => Err(EngineError::Invalid(format!("unknown job kind `{other}`"))),
            }
        }
        .instrument(span);
        // A job stops at its next page once shutdown begins; one that waits longer (a pacer
        // holding requests for a rate-limit window, a retry backoff) is dropped after a grace
        // period, as a crash would drop it, and handed back: every job resumes from what it
        // committed.
        let result = tokio::select! {
            r = work => r,
            () = async {
                self.stopped().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => Err(EngineError::ShuttingDown),
        };
        heartbeat.abort();
        let report = JobReport {
            job_id: job.id.clone(),
            kind: job.kind.clone(),
            stream: job.stream_key.clone(),
            result: result.as_ref().map(|_| ()).map_err(ToString::to_string),
        };
        self.settle(&job, result).await?;
        Ok(Some(report))
    }

    /// Runs jobs until none is due (tests and the demo use this to drive work deterministically).
    pub async fn run_until_idle(&self) -> Result<Vec<JobReport>, EngineError> {
        let mut reports = Vec::new();
        let mut contended = 0;
        loop {
            if let Some(r) = self.run_one_job().await? {
                reports.push(r);
                contended = 0;
                continue;
            }
            // A claim skips rows another transaction holds; idle means nothing is due.
            let due = jobs::count_due(&mut *self.conn().await?, self.now_ms()).await?;
            if due == 0 || contended >= 100 {
                return Ok(reports);
            }
            contended += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn spawn_heartbeat(&self, job: &JobRow) -> JoinHandle<()> {
        let engine = self.clone();
        let id = job.id.clone();
        let owner = lease_owner(job).to_owned();
        let lease = self.config().job_lease;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let until = engine.now_ms() + lease.as_millis() as i64;
                let Ok(mut c) = engine.conn().await else {
                    continue;
                };
                if let Ok(false) = jobs::heartbeat(&mut c, &id, &owner, until).await {
                    return;
                }
            }
        })
    }

    async fn settle(
        &self,
        job: &JobRow,
        result: Result<Outcome, EngineError>,
    ) -> Result<(), EngineError> {
        let now = self.now_ms();
        let mut tx = self.store().begin().await?;
        let (m, c) = (job.merchant_id.as_str(), job.connection_id.as_str());
        match result {
            Ok(outcome @ (Outcome::Done | Outcome::RunBy(_))) => {
                let interval = match job.kind.as_str() {
                    CATALOG_JOB => self.config().catalog_interval,
                    CONSUMER_JOB => self.config().consumer_interval,
                    _ => self.config().poll_interval,
                };
                let mut next = now + interval.as_millis() as i64;
                if let Outcome::RunBy(at) = outcome {
                    next = next.min(at.max(now));
                }
                jobs::mark_succeeded(&mut tx, &job.id, now).await?;
                // Woken while it ran (a webhook, new events): due again at once.
                jobs::release(
                    &mut tx,
                    &job.id,
                    lease_owner(job),
                    "queued",
                    next,
                    Some(now),
                    None,
                    now,
                )
                .await?;
                // The connection recovers from a sync error once none of its streams is failing.
                let failing = jobs::list_for_connection(&mut tx, m, c)
                    .await?
                    .iter()
                    .any(|j| j.last_error.is_some() && j.state != "paused");
                if let Some(row) = conns::get_connection(&mut tx, m, c)
                    .await?
                    .filter(|_| !failing)
                {
                    if row.status == status::ERROR && row.account_id.is_some() {
                        conns::set_status(&mut tx, m, c, status::CONNECTED, None, now).await?;
                        logs::append(&mut tx, m, c, "info", "sync recovered", now).await?;
                    }
                }
            }
            Ok(Outcome::Unmapped) => {
                jobs::release(
                    &mut tx,
                    &job.id,
                    lease_owner(job),
                    "paused",
                    now,
                    None,
                    Some("the POS location is no longer mapped to a location"),
                    now,
                )
                .await?;
            }
            Err(EngineError::LeaseLost) => {
                tracing::warn!(job_id = %job.id, "job lease lost to another worker");
            }
            Err(EngineError::ShuttingDown) => {
                // Its position is committed: any worker may continue at once.
                jobs::release(
                    &mut tx,
                    &job.id,
                    lease_owner(job),
                    "queued",
                    now,
                    None,
                    None,
                    now,
                )
                .await?;
                tracing::info!(job_id = %job.id, kind = %job.kind, stream = %job.stream_key, "job handed back at shutdown");
            }
            Err(e @ (EngineError::NeedsReauth(_) | EngineError::Disabled(_))) => {
                jobs::release(
                    &mut tx,
                    &job.id,
                    lease_owner(job),
                    "paused",
                    now,
                    None,
                    Some(&e.to_string()),
                    now,
                )
                .await?;
            }
            Err(e) => {
                let attempts = job.attempts.max(1) as u32;
                let backoff = Duration::from_secs(5)
                    .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(10)))
                    .min(Duration::from_secs(900));
                let message = format!(
                    "sync of {} failed (attempt {attempts}, retrying in {}s): {e}",
                    job.stream_key,
                    backoff.as_secs()
                );
                tracing::warn!(job_id = %job.id, error = %e, "job failed");
                jobs::release(
                    &mut tx,
                    &job.id,
                    lease_owner(job),
                    "queued",
                    now + backoff.as_millis() as i64,
                    None,
                    Some(&e.to_string()),
                    now,
                )
                .await?;
                // Consumer jobs belong to the merchant, not to a connection.
                if job.kind != CONSUMER_JOB {
                    logs::append(
                        &mut tx,
                        m,
                        c,
                        if e.is_transient() { "warn" } else { "error" },
                        &message,
                        now,
                    )
                    .await?;
                }
                if !e.is_transient() && job.kind != CONSUMER_JOB {
                    conns::set_status(&mut tx, m, c, status::ERROR, Some(&e.to_string()), now)
                        .await?;
                }
            }
        }
        tillbridge_store::commit(tx).await?;
        Ok(())
    }

    /// Starts `n` worker loops, the alert-mail loop and the maintenance loop; they stop when
    /// `shutdown` turns true. A job in hand stops after the page it is writing and is handed
    /// back to the queue, due at once; short jobs simply finish.
    pub fn spawn_workers(&self, n: usize, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut handles = Vec::new();
        // Shutdown reaches the jobs in hand too: they stop after their current page.
        let engine = self.clone();
        let mut stop = shutdown.clone();
        handles.push(tokio::spawn(async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    return;
                }
            }
            engine.begin_shutdown();
        }));
        for i in 0..n {
            let engine = self.clone();
            let mut shutdown = shutdown.clone();
            self.inner
                .workers_started
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let alive = Alive::new(&self.inner.workers_alive);
            handles.push(tokio::spawn(async move {
                let _alive = alive;
                tracing::debug!(worker = i, "worker started");
                loop {
                    if *shutdown.borrow() {
                        break;
                    }
                    let idle = match engine.run_one_job().await {
                        Ok(Some(_)) => false,
                        Ok(None) => true,
                        Err(e) => {
                            tracing::error!(error = %e, "worker could not claim a job");
                            true
                        }
                    };
                    if idle {
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                }
            }));
        }
        let engine = self.clone();
        let mut mail_shutdown = shutdown.clone();
        handles.push(tokio::spawn(async move {
            loop {
                if let Err(e) = engine.deliver_mails().await {
                    tracing::warn!(error = %e, "alert mails could not be read from the outbox");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = mail_shutdown.changed() => { if *mail_shutdown.borrow() { break; } }
                }
            }
        }));
        let engine = self.clone();
        let mut shutdown = shutdown.clone();
        handles.push(tokio::spawn(async move {
            loop {
                if let Err(e) = engine.keep_alive().await {
                    tracing::warn!(error = %e, "keep-alive pass failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = shutdown.changed() => { if *shutdown.borrow() { break; } }
                }
            }
        }));
        handles
    }
}

/// The lease token of a claimed job (set by its claim).
pub(crate) fn lease_owner(job: &JobRow) -> &str {
    job.lease_owner.as_deref().unwrap_or_default()
}

/// Counts a running worker loop; dropped when the loop ends, by returning or by a panic.
struct Alive(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Alive {
    fn new(count: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Alive {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Alive(count.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}
