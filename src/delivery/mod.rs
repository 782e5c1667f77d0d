//! The outbox worker. It claims the heads of ready queues (pages first), delivers them
//! concurrently — each platform's channel work and its pages in lanes of their own, with
//! bounded concurrency, so a hung call blocks only its own queue — paces messages per
//! channel, folds machine chatter, reconciles outcomes it did not see, and sleeps until
//! the next row is due.

mod attempt;
mod coalesce;
mod reconcile;
mod settle;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::clock::Clock;
use crate::effects::{Effect, Lane, Platform, Sink};
use crate::store::outbox::{self, OutboxRow, Release};
use crate::store::{Backend, Store, pacing, replicas};

/// A claimed row is held this long unless its worker renews the lease; a process that
/// dies mid-call frees its rows within this time (at once, when it is known to be gone).
/// Suffix of the queue a rate-limited topic edit waits in (attempt puts it there,
/// settle routes it).
const TOPIC_DETOUR: &str = ":topic";

pub const LEASE_MS: i64 = 4_000;
const RENEW_EVERY: Duration = Duration::from_millis(1_000);
/// PostgreSQL: how often a replica looks for dead peers' work and lost queue heads.
const REAP_EVERY: Duration = Duration::from_millis(1_000);
const REPAIR_EVERY_TICKS: u32 = 60;
const METRICS_EVERY: Duration = Duration::from_secs(10);
/// Rows claimed per round.
const CLAIM_BATCH: i64 = 32;
/// The longest backoff between attempts of a failing row.
pub const MAX_BACKOFF_MS: i64 = 5 * 60_000;

pub struct Delivery {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub owner: String,
    platforms: HashMap<String, Arc<dyn Platform>>,
    sinks: HashMap<String, Arc<dyn Sink>>,
    /// Wakes the worker (the engine's commits, a finished call).
    wake: Arc<Notify>,
    /// Wakes the scheduler when a failed page pulls an escalation step forward.
    wake_jobs: Arc<Notify>,
    lanes: std::sync::Mutex<HashMap<(String, bool), Arc<Semaphore>>>,
    pacing: std::sync::Mutex<HashMap<String, Pace>>,
    in_flight: AtomicUsize,
}

/// A channel's pacing: a message to it is in flight, or when the last one went.
#[derive(Debug, Default, Clone, Copy)]
struct Pace {
    busy: bool,
    last: Option<i64>,
}

/// What one round of claiming did, for callers that drain the outbox.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    Idle,
    Worked(usize),
}

impl Delivery {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        platforms: Vec<Arc<dyn Platform>>,
        owner: String,
    ) -> Delivery {
        Delivery {
            store,
            clock,
            owner,
            platforms: platforms
                .into_iter()
                .map(|p| (p.name().to_string(), p))
                .collect(),
            sinks: HashMap::new(),
            wake: Arc::new(Notify::new()),
            wake_jobs: Arc::new(Notify::new()),
            lanes: Default::default(),
            pacing: Default::default(),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Registers webhook-style sinks (PagerDuty, status pages) by name.
    pub fn with_sinks(mut self, sinks: Vec<Arc<dyn Sink>>) -> Delivery {
        for s in sinks {
            self.register_sink(s);
        }
        self
    }

    pub fn register_sink(&mut self, sink: Arc<dyn Sink>) {
        self.sinks.insert(sink.name().to_string(), sink);
    }

    /// Shares the engine's wake-ups: its commits wake the worker, and a failed page that
    /// moves a ladder on wakes the scheduler.
    pub fn with_wakers(mut self, outbox: Arc<Notify>, jobs: Arc<Notify>) -> Delivery {
        self.wake = outbox;
        self.wake_jobs = jobs;
        self
    }

    pub fn platform(&self, name: &str) -> Option<&Arc<dyn Platform>> {
        self.platforms.get(name)
    }

    /// At start-up: records this process as alive and takes over the work of processes
    /// that are gone (on SQLite, any other; on PostgreSQL, those whose session ended).
    pub async fn recover(&self) -> anyhow::Result<replicas::Registration> {
        let reg = replicas::register(&self.store, &self.owner, self.clock.now_ms()).await?;
        replicas::reap(&self.store, &self.owner).await?;
        outbox::repair_heads(&self.store).await?;
        Ok(reg)
    }

    /// The lane a row travels in: each platform's (and sink's) pages have their own.
    fn lane(&self, platform: &str, pages: bool) -> Arc<Semaphore> {
        let size = self
            .platforms
            .get(platform)
            .map(|p| p.concurrency())
            .unwrap_or(4)
            .max(1);
        self.lanes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((platform.to_string(), pages))
            .or_insert_with(|| Arc::new(Semaphore::new(size)))
            .clone()
    }

    /// Lanes with no free call, and how many calls the others can take now.
    fn capacity(&self) -> (Vec<(String, bool)>, i64) {
        for name in self.platforms.keys().chain(self.sinks.keys()) {
            for pages in [true, false] {
                self.lane(name, pages);
            }
        }
        let lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let full = lanes
            .iter()
            .filter(|(_, s)| s.available_permits() == 0)
            .map(|(k, _)| k.clone())
            .collect();
        let free: usize = lanes.values().map(|s| s.available_permits()).sum();
        (full, (free as i64).min(CLAIM_BATCH))
    }

    /// The channel a row paces on, and the least gap between messages there.
    fn pacing_of(&self, row: &OutboxRow, effect: &Effect) -> Option<(String, i64)> {
        let interval = self
            .platforms
            .get(&row.platform)?
            .min_interval()
            .as_millis() as i64;
        if interval == 0 {
            return None;
        }
        effect.pace_key(&row.platform).map(|k| (k, interval))
    }

    /// Takes the channel for one message, or says when it is free again. On PostgreSQL
    /// the channel is also taken in the database for all replicas; the hold taken there
    /// comes back, to be freed after the call.
    async fn take_pace(&self, key: &str, interval: i64, now: i64) -> Result<Option<i64>, i64> {
        {
            let mut p = self.pacing.lock().unwrap_or_else(|p| p.into_inner());
            let pace = p.entry(key.to_string()).or_default();
            if pace.busy {
                return Err(now + interval);
            }
            if let Some(last) = pace.last
                && now < last + interval
            {
                return Err(last + interval);
            }
            pace.busy = true;
        }
        if self.store.backend != Backend::Postgres {
            return Ok(None);
        }
        let hold = now + LEASE_MS;
        match pacing::take(&self.store, key, &self.owner, now, hold).await {
            Ok(Ok(())) => Ok(Some(hold)),
            Ok(Err(free_at)) => {
                self.free_pace(key, None);
                Err(free_at.max(now + 1))
            }
            Err(e) => {
                // Without the shared record, pacing here alone beats not posting at all.
                tracing::warn!(error = format!("{e:#}"), "shared pacing unavailable");
                Ok(None)
            }
        }
    }

    fn free_pace(&self, key: &str, sent_at: Option<i64>) {
        let mut p = self.pacing.lock().unwrap_or_else(|p| p.into_inner());
        let pace = p.entry(key.to_string()).or_default();
        pace.busy = false;
        if sent_at.is_some() {
            pace.last = sent_at;
        }
    }

    /// Claims ready heads and starts their deliveries in `set`; returns how many started.
    async fn dispatch(self: &Arc<Self>, set: &mut JoinSet<()>) -> anyhow::Result<usize> {
        let now = self.clock.now_ms();
        // No more rows than there are free calls, so few come back unsent.
        let (full, free) = self.capacity();
        if free == 0 {
            return Ok(0);
        }
        let rows = outbox::claim(&self.store, &self.owner, now, LEASE_MS, free, &full).await?;
        let mut started = 0;
        for row in rows {
            let effect = match Effect::decode(row.version, &row.effect) {
                Ok(e) => e,
                Err(e) => {
                    self.fail_unreadable(&row, &format!("{e:#}")).await?;
                    continue;
                }
            };
            let pace = self.pacing_of(&row, &effect);
            let mut shared = None;
            if let Some((key, interval)) = &pace {
                match self.take_pace(key, *interval, now).await {
                    Ok(hold) => shared = hold,
                    Err(free_at) => {
                        self.put_back(&row, free_at).await?;
                        continue;
                    }
                }
            }
            let lane = self.lane(&row.platform, row.lane == Lane::Page);
            let Ok(permit) = lane.try_acquire_owned() else {
                if let Some((key, _)) = &pace {
                    self.free_pace(key, None);
                    if let Some(hold) = shared {
                        self.free_shared(key, hold, now).await;
                    }
                }
                self.put_back(&row, now).await?;
                continue;
            };
            started += 1;
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let this = self.clone();
            // What the platform adapter logs about this call carries the row it is for.
            let span = tracing::info_span!(
                "deliver",
                row = row.id,
                platform = %row.platform,
                queue = %row.queue,
                effect = effect.label(),
                sev = effect.sev().map(|s| s.0),
                attempt = row.attempts,
            );
            set.spawn(
                async move {
                    this.deliver(row, effect, pace, shared, permit).await;
                }
                .instrument(span),
            );
        }
        Ok(started)
    }

    /// Returns a claimed row unattempted (its channel or lane is busy).
    async fn put_back(&self, row: &OutboxRow, at: i64) -> anyhow::Result<()> {
        outbox::release(
            &self.store,
            row.id,
            &self.owner,
            Release {
                at,
                error: None,
                doubt: row.doubt,
                counts: false,
            },
        )
        .await
    }

    async fn deliver(
        self: Arc<Self>,
        row: OutboxRow,
        effect: Effect,
        pace: Option<(String, i64)>,
        shared: Option<i64>,
        _permit: OwnedSemaphorePermit,
    ) {
        let mut done = Finished {
            delivery: &self,
            pace: pace.as_ref().map(|(key, _)| key.clone()),
            sent_at: None,
        };
        done.sent_at = match self.attempt(&row, effect).await {
            Ok(at) => at,
            Err(e) => {
                // The database failed while recording: the lease runs out and the row is
                // tried again, reconciled first.
                tracing::error!(id = row.id, error = format!("{e:#}"), "outbox worker");
                None
            }
        };
        if let (Some((key, interval)), Some(hold)) = (&pace, shared) {
            let free_at = done
                .sent_at
                .map_or_else(|| self.clock.now_ms(), |at| at + interval);
            self.free_shared(key, hold, free_at).await;
        }
    }

    /// Gives back the channel taken in the database; if this fails the hold runs out.
    async fn free_shared(&self, key: &str, hold: i64, free_at: i64) {
        if let Err(e) = pacing::free(&self.store, key, hold, free_at).await {
            tracing::warn!(error = format!("{e:#}"), "could not free a paced channel");
        }
    }

    /// Claims and delivers one round of ready heads, waiting for their calls.
    pub async fn tick(self: &Arc<Self>) -> anyhow::Result<Progress> {
        let mut set = JoinSet::new();
        let n = self.dispatch(&mut set).await?;
        while set.join_next().await.is_some() {}
        Ok(match n {
            0 => Progress::Idle,
            n => Progress::Worked(n),
        })
    }

    /// Delivers everything that is ready, for scripted runs and tests; stops when nothing
    /// is ready or `limit` elapses.
    pub async fn drain(self: &Arc<Self>, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.tick().await? == Progress::Idle {
                // Another worker may hold a ready row, or pacing holds one back a moment.
                if outbox::ready(&self.store, self.clock.now_ms()).await? == 0 {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(())
    }

    /// The worker loop: runs until `stop` fires. Sleeps until the next row is due, a
    /// commit wakes it, a call finishes, or `poll` passes (other replicas enqueue too).
    pub async fn run(
        self: Arc<Self>,
        poll: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let keeper = tokio::spawn(self.clone().keep_leases(stop.clone()));
        let mut set: JoinSet<()> = JoinSet::new();
        let mut last_metrics = tokio::time::Instant::now() - METRICS_EVERY;
        loop {
            match self.dispatch(&mut set).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = format!("{e:#}"), "outbox worker"),
            }
            if last_metrics.elapsed() >= METRICS_EVERY {
                last_metrics = tokio::time::Instant::now();
                self.export_metrics().await;
            }
            let (full, _) = self.capacity();
            let sleep = match outbox::next_due(&self.store, &full).await {
                Ok(Some(due)) => Duration::from_millis(
                    (due - self.clock.now_ms()).clamp(5, poll.as_millis() as i64) as u64,
                ),
                Ok(None) => poll,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "outbox worker");
                    poll
                }
            };
            tokio::select! {
                Some(_) = set.join_next(), if !set.is_empty() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = stop.changed() => break,
            }
        }
        // Calls in flight get a moment to finish and be recorded; what does not finish is
        // reconciled by whoever takes the rows over.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while set.join_next().await.is_some() {}
        })
        .await;
        keeper.abort();
    }

    /// Renews the leases of calls in flight; on PostgreSQL also takes over the work of
    /// replicas that are gone and repairs queue heads a race left unmarked.
    async fn keep_leases(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let shared = self.store.backend == Backend::Postgres;
        let mut ticks = 0u32;
        loop {
            let every = if shared {
                RENEW_EVERY.min(REAP_EVERY)
            } else {
                RENEW_EVERY
            };
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            if self.in_flight.load(Ordering::SeqCst) > 0
                && let Err(e) =
                    outbox::renew(&self.store, &self.owner, self.clock.now_ms() + LEASE_MS).await
            {
                tracing::warn!(error = format!("{e:#}"), "could not renew outbox leases");
            }
            if shared {
                ticks = ticks.wrapping_add(1);
                match replicas::reap(&self.store, &self.owner).await {
                    Ok(r) if r.outbox > 0 || r.jobs > 0 => {
                        self.wake.notify_one();
                        self.wake_jobs.notify_one();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = format!("{e:#}"), "could not reap"),
                }
                if ticks.is_multiple_of(REPAIR_EVERY_TICKS)
                    && let Ok(n) = outbox::repair_heads(&self.store).await
                    && n > 0
                {
                    tracing::warn!(
                        queues = n,
                        "repaired outbox queue heads that had lost their mark"
                    );
                    self.wake.notify_one();
                }
            }
        }
    }

    async fn export_metrics(&self) {
        match outbox::stats(&self.store, self.clock.now_ms()).await {
            Ok(s) => {
                metrics::gauge!("sevbot_outbox_pending").set(s.pending as f64);
                metrics::gauge!("sevbot_outbox_rows", "state" => "pending").set(s.pending as f64);
                metrics::gauge!("sevbot_outbox_rows", "state" => "in_flight")
                    .set(s.in_flight as f64);
                metrics::gauge!("sevbot_outbox_rows", "state" => "failed").set(s.failed as f64);
                metrics::gauge!("sevbot_outbox_oldest_ready_seconds")
                    .set(s.oldest_ready_ms as f64 / 1000.0);
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "outbox metrics"),
        }
    }
}

/// Frees what a delivery held when it ends, however it ends (a panic included), so a
/// channel is never left marked busy.
struct Finished<'a> {
    delivery: &'a Delivery,
    pace: Option<String>,
    /// When a message went out: the same instant the queue's next message was paced from
    /// in the database, so the two agree on when the channel is free.
    sent_at: Option<i64>,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        if let Some(key) = &self.pace {
            self.delivery.free_pace(key, self.sent_at);
        }
        self.delivery.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.delivery.wake.notify_one();
    }
}

/// Backoff after `attempts` failed attempts: 1 s, 2 s, 4 s … up to five minutes.
fn backoff(attempts: i64) -> i64 {
    (1000i64 << attempts.clamp(0, 12)).min(MAX_BACKOFF_MS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(super::backoff(0), 1000);
        assert_eq!(super::backoff(3), 8000);
        assert_eq!(super::backoff(40), super::MAX_BACKOFF_MS);
    }
}
