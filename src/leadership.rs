//! Duties only one replica may perform at a time: the Discord gateway and Slack Socket
//! Mode (each platform sends every event down every open connection, so two replicas
//! holding one would handle everything twice) and polling Prometheus. Every replica runs
//! `hold` for each configured duty; the one whose lease is taken starts the work, the
//! others wait and take over when the holder dies (at once on PostgreSQL when its session
//! drops) or stops renewing (within `TTL_MS` plus a renewal tick: under 5 s).
//!
//! A holder that cannot renew steps down a second before its lease runs out, so the next
//! one never starts while it still holds the connection.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::store::{Store, leases};

/// How long a lease lasts unless renewed.
pub const TTL_MS: i64 = 3_000;
/// How often the holder renews and the others try to take over.
const RENEW_EVERY: Duration = Duration::from_millis(1_000);
/// A holder that has not renewed for this long stops the work: its lease runs out a
/// second later, and only then may another replica start it.
const STEP_DOWN_AFTER: Duration = Duration::from_millis((TTL_MS - 1_000) as u64);
/// A duty that failed to start is tried again after this long (while the lease is held).
const RETRY_START: Duration = Duration::from_secs(30);

/// Work that one replica at a time performs.
#[async_trait]
pub trait Duty: Send + Sync {
    /// The lease's name, shown in `/readyz` and the `sevbot_leading` metric.
    fn name(&self) -> &'static str;
    /// Starts the work; `None` when it could not start (the reason is logged).
    async fn start(&self) -> Option<Box<dyn Running>>;
}

/// Started work, stopped when the lease is lost or the process stops.
#[async_trait]
pub trait Running: Send {
    async fn stop(self: Box<Self>);
}

/// The duties this replica performs now (what `/readyz` reports).
#[derive(Clone, Default)]
pub struct Leading(Arc<Mutex<BTreeSet<&'static str>>>);

impl Leading {
    pub fn names(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }

    fn set(&self, name: &'static str, on: bool) {
        let mut names = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if on {
            names.insert(name);
        } else {
            names.remove(name);
        }
        metrics::gauge!("sevbot_leading", "duty" => name).set(if on { 1.0 } else { 0.0 });
    }
}

/// Where the lease lives and whose it is.
#[derive(Clone)]
pub struct Lessee {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub owner: String,
}

/// Performs `duty` whenever this replica holds its lease, until `stop` fires; then stops
/// it and gives the lease up at once, so another replica need not wait for it to run out.
pub async fn hold(
    duty: Arc<dyn Duty>,
    lessee: Lessee,
    leading: Leading,
    mut stop: watch::Receiver<bool>,
) {
    let name = duty.name();
    leading.set(name, false);
    let (held_tx, mut held) = watch::channel(false);
    let keeper = tokio::spawn(keep_lease(name, lessee.clone(), held_tx, stop.clone()));
    let mut running: Option<Box<dyn Running>> = None;
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        let holding = *held.borrow_and_update();
        if holding && running.is_none() && retry_at.is_none_or(|t| t <= tokio::time::Instant::now())
        {
            tracing::info!(duty = name, owner = %lessee.owner, "this replica takes the lead");
            running = duty.start().await;
            retry_at = running
                .is_none()
                .then(|| tokio::time::Instant::now() + RETRY_START);
            leading.set(name, running.is_some());
            // The lease may have been lost while the work was starting: look again.
            continue;
        }
        if !holding {
            retry_at = None;
            if let Some(r) = running.take() {
                tracing::warn!(duty = name, "lost the lead; stopping");
                r.stop().await;
                leading.set(name, false);
            }
        }
        let retry = async {
            match retry_at {
                Some(t) if holding => tokio::time::sleep_until(t).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = held.changed() => if changed.is_err() { break },
            _ = retry => {}
            _ = stop.changed() => break,
        }
    }
    keeper.abort();
    if let Some(r) = running.take() {
        r.stop().await;
        leading.set(name, false);
    }
    if let Err(e) = leases::release(&lessee.store, name, &lessee.owner).await {
        tracing::warn!(
            duty = name,
            error = format!("{e:#}"),
            "could not give up the lead"
        );
    }
}

/// Takes or renews the lease every second and says whether it is held. A renewal that
/// fails or hangs counts as held until `STEP_DOWN_AFTER` since the last one that worked.
async fn keep_lease(
    name: &'static str,
    lessee: Lessee,
    held: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut renewed: Option<tokio::time::Instant> = None;
    loop {
        let asked = tokio::time::Instant::now();
        let outcome = tokio::time::timeout(
            RENEW_EVERY,
            leases::hold(
                &lessee.store,
                name,
                &lessee.owner,
                lessee.clock.now_ms(),
                TTL_MS,
            ),
        )
        .await;
        let holding = match outcome {
            Ok(Ok(true)) => {
                renewed = Some(asked);
                true
            }
            Ok(Ok(false)) => {
                renewed = None;
                false
            }
            failed => {
                if let Ok(Err(e)) = failed {
                    tracing::warn!(
                        duty = name,
                        error = format!("{e:#}"),
                        "could not renew the lead"
                    );
                }
                renewed.is_some_and(|t| t.elapsed() < STEP_DOWN_AFTER)
            }
        };
        held.send_if_modified(|h| std::mem::replace(h, holding) != holding);
        let next = asked + RENEW_EVERY;
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => return,
        }
    }
}
