//! The scheduler: claims due jobs under a lease and fires them through the engine. Wakes at
//! the next due time, when the engine schedules something, or every poll interval (other
//! replicas may schedule too).

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;
use crate::store::jobs;

/// Firing a job is one short transaction; a process that dies holding one is reaped at
/// once (see `store::replicas`), and this lease is the backstop.
const LEASE_MS: i64 = 10_000;
/// Never spin: even an overdue job waits this long between claim attempts.
const MIN_SLEEP_MS: i64 = 5;
/// The backlog metrics count every pending job: read them this often, not every tick.
const METRICS_EVERY_MS: i64 = 10_000;

/// A job failing this many times in a row (about half an hour of retries) is given up.
pub const MAX_JOB_ATTEMPTS: i64 = 9;

/// The wait before the next try after `attempts` failed ones: 10 s, doubling, at most 10 min.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    (10_000i64 << (attempts - 1).clamp(0, 6)).min(600_000)
}

pub struct Scheduler {
    pub engine: Engine,
    pub owner: String,
    /// When the backlog metrics were last read (ms).
    pub metrics_at: std::sync::atomic::AtomicI64,
}

impl Scheduler {
    pub fn new(engine: Engine, owner: String) -> Scheduler {
        Scheduler {
            engine,
            owner,
            metrics_at: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }
}

impl Scheduler {
    /// Fires every job due now; returns how many fired.
    pub async fn tick(&self) -> anyhow::Result<usize> {
        let mut fired = 0;
        loop {
            let now = self.engine.clock.now_ms();
            let due = jobs::claim_due(&self.engine.store, &self.owner, now, LEASE_MS, 64).await?;
            if due.is_empty() {
                break;
            }
            for job in &due {
                match self.engine.fire_job(job, &self.owner).await {
                    Ok(true) => fired += 1,
                    Ok(false) => tracing::info!(id = job.id, "job taken over by another replica"),
                    Err(e) => self.failed(job, &format!("{e:#}"), now).await?,
                }
            }
        }
        let now = self.engine.clock.now_ms();
        let last = self.metrics_at.load(std::sync::atomic::Ordering::Relaxed);
        if now.saturating_sub(last) < METRICS_EVERY_MS && fired == 0 {
            return Ok(fired);
        }
        self.metrics_at
            .store(now, std::sync::atomic::Ordering::Relaxed);
        if let Ok((pending, late_ms)) = jobs::backlog(&self.engine.store, now).await {
            metrics::gauge!("sevbot_jobs_pending").set(pending as f64);
            metrics::gauge!("sevbot_jobs_oldest_overdue_seconds").set(late_ms as f64 / 1000.0);
            if late_ms > 60_000 {
                tracing::warn!(late_ms, "a job is more than 60 s late");
            }
        }
        Ok(fired)
    }

    /// A job whose transaction failed (it changed nothing): tried again after a delay that
    /// doubles from 10 s up to 10 minutes, and given up after `MAX_JOB_ATTEMPTS`, keeping
    /// the reason on the row.
    async fn failed(&self, job: &jobs::Job, error: &str, now: i64) -> anyhow::Result<()> {
        let store = &self.engine.store;
        if job.attempts >= MAX_JOB_ATTEMPTS {
            tracing::error!(
                id = job.id,
                kind = job.kind,
                attempts = job.attempts,
                error,
                "job keeps failing; given up"
            );
            metrics::counter!("sevbot_jobs_failed_total", "kind" => job.kind.clone()).increment(1);
            return jobs::give_up(store, job.id, &self.owner, now, error).await;
        }
        let delay = retry_delay_ms(job.attempts);
        tracing::error!(
            id = job.id,
            kind = job.kind,
            attempts = job.attempts,
            error,
            retry_in_ms = delay,
            "job failed; will retry"
        );
        jobs::release(store, job.id, &self.owner, now + delay, error).await
    }

    pub async fn run(
        self: Arc<Self>,
        poll: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::error!(error = format!("{e:#}"), "scheduler");
            }
            let now = self.engine.clock.now_ms();
            let sleep = match jobs::next_due(&self.engine.store).await {
                Ok(Some(due)) => Duration::from_millis(
                    (due - now).clamp(MIN_SLEEP_MS, poll.as_millis() as i64) as u64,
                ),
                _ => poll,
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.engine.wake_jobs.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }
}
