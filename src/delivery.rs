//! The outbox worker: claims ready rows (the head of each channel's queue), delivers them
//! through the platform adapter, and records platform ids so later changes edit in place.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::adapters::pagerduty::{self, PagerDuty};
use crate::adapters::statuspage;
use crate::clock::Clock;
use crate::domain::SevId;
use crate::domain::naming::channel_name;
use crate::effects::{DeliveryError, Effect, Message, Platform};
use crate::engine;
use crate::store::Store;
use crate::store::incidents as sevs;
use crate::store::outbox::{self, OutboxRow};

const LEASE_MS: i64 = 60_000;
const MAX_BACKOFF_MS: i64 = 5 * 60_000;
/// More collisions than this means something else is wrong with channel creation.
const MAX_NAME_ATTEMPTS: u32 = 20;

/// Suffix of the queue a rate-limited topic edit waits in.
const TOPIC_DETOUR: &str = ":topic";
/// A topic edit told to wait longer than this is set aside.
const TOPIC_DETOUR_AFTER_MS: i64 = 5_000;

pub struct Delivery {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub platforms: HashMap<String, Arc<dyn Platform>>,
    /// PagerDuty, when its routing key is configured.
    pub pagerduty: Option<Arc<PagerDuty>>,
    /// For webhooks (status pages).
    http: reqwest::Client,
    pub owner: String,
    /// When each queue (a channel) last got a message, for platform pacing. In memory: a
    /// restart at worst sends one message early, which the platform's 429 then paces.
    last_sent: std::sync::Mutex<HashMap<String, i64>>,
}

/// What happened to one row, for callers that drain the outbox.
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
        let platforms = platforms
            .into_iter()
            .map(|p| (p.name().to_string(), p))
            .collect();
        Delivery {
            store,
            clock,
            platforms,
            pagerduty: None,
            http: reqwest::Client::new(),
            owner,
            last_sent: Default::default(),
        }
    }

    /// Claims and delivers one batch of queue heads.
    pub async fn tick(&self) -> anyhow::Result<Progress> {
        let now = self.clock.now_ms();
        let rows = outbox::claim(&self.store, &self.owner, now, LEASE_MS, 32).await?;
        if rows.is_empty() {
            return Ok(Progress::Idle);
        }
        let n = rows.len();
        for row in rows {
            self.deliver_row(row).await?;
        }
        Ok(Progress::Worked(n))
    }

    async fn deliver_row(&self, row: OutboxRow) -> anyhow::Result<()> {
        if row.platform == pagerduty::PLATFORM || row.platform == statuspage::PLATFORM {
            return self.deliver_direct(row).await;
        }
        let Some(platform) = self.platforms.get(&row.platform) else {
            // Not lost: it waits for a replica (or a restart) that has this platform configured.
            tracing::warn!(
                platform = row.platform,
                id = row.id,
                "no adapter for platform; will retry"
            );
            let at = self.clock.now_ms() + MAX_BACKOFF_MS;
            return outbox::retry_later(
                &self.store,
                row.id,
                &self.owner,
                at,
                "platform not configured",
            )
            .await;
        };
        let effect: Effect = match serde_json::from_str(&row.effect) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(id = row.id, error = %e, "unreadable outbox row");
                return outbox::failed(
                    &self.store,
                    row.id,
                    &self.owner,
                    &format!("unreadable: {e}"),
                )
                .await;
            }
        };
        // Slack paces messages per channel; channel management has its own limits.
        let is_message = matches!(
            effect,
            Effect::PostEvent { .. }
                | Effect::Reply { .. }
                | Effect::UpsertCard { .. }
                | Effect::UpsertFeed { .. }
                | Effect::Page { .. }
                | Effect::UpsertImpact { .. }
        );
        let pace = if is_message {
            platform.min_interval().as_millis() as i64
        } else {
            0
        };
        if pace > 0 {
            let now = self.clock.now_ms();
            let last = self
                .last_sent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&row.queue)
                .copied();
            if let Some(last) = last
                && now < last + pace
            {
                return outbox::defer(&self.store, row.id, &self.owner, last + pace).await;
            }
        }
        let label = match &effect {
            Effect::CreateChannel { .. } => "create_channel",
            Effect::Invite { .. } => "invite",
            Effect::SetTopic { .. } => "set_topic",
            Effect::UpsertCard { .. } => "card",
            Effect::UpsertFeed { .. } => "feed",
            Effect::PostEvent { .. } => "post",
            Effect::Reply { .. } => "reply",
            Effect::ArchiveChannel { .. } => "archive",
            Effect::DeleteChannel { .. } => "delete_channel",
            Effect::Page { .. } => "page",
            Effect::PagerDuty { .. } => "pagerduty",
            Effect::UpsertImpact { .. } => "impact",
            Effect::StatusPage { .. } => "statuspage",
        };
        let result = self.apply(platform.as_ref(), &row, &effect).await;
        self.settle(row, label, effect, result, pace > 0).await
    }

    /// PagerDuty events and status page posts: their own senders, the same retry rules.
    async fn deliver_direct(&self, row: OutboxRow) -> anyhow::Result<()> {
        let effect: Effect = serde_json::from_str(&row.effect)?;
        let result = match (&effect, &self.pagerduty) {
            (Effect::StatusPage { sev, url, body }, _) => {
                statuspage::send(&self.http, url, *sev, body).await
            }
            (
                Effect::PagerDuty {
                    action,
                    dedup_key,
                    summary,
                    severity,
                    ..
                },
                Some(pd),
            ) => pd.send(*action, dedup_key, summary, severity).await,
            _ => Err(DeliveryError::Retry {
                reason: "PagerDuty is not configured on this replica".into(),
                after: Some(Duration::from_millis(MAX_BACKOFF_MS as u64)),
            }),
        };
        let result = match result {
            Ok(()) => {
                let now = self.clock.now_ms();
                let mut tx = self.store.begin().await?;
                outbox::delivered(&mut tx, row.id, &self.owner, now).await?;
                tx.commit().await?;
                Ok(())
            }
            Err(e) => Err(e),
        };
        let label = match effect {
            Effect::StatusPage { .. } => "statuspage",
            _ => "pagerduty",
        };
        self.settle(row, label, effect, result, false).await
    }

    /// Records the outcome of one delivery attempt: done, retried later (with the
    /// platform's wait or a backoff), renamed after a name collision, or failed for good.
    async fn settle(
        &self,
        row: OutboxRow,
        label: &'static str,
        effect: Effect,
        result: Result<(), DeliveryError>,
        paced: bool,
    ) -> anyhow::Result<()> {
        match result {
            Ok(()) => {
                if paced {
                    self.last_sent
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(row.queue.clone(), self.clock.now_ms());
                }
                metrics::counter!("sevbot_outbox_deliveries_total", "platform" => row.platform.clone(), "effect" => label, "result" => "ok").increment(1);
                Ok(())
            }
            Err(DeliveryError::NameTaken) => {
                if let Effect::CreateChannel {
                    sev,
                    title,
                    private,
                    attempt,
                } = effect
                {
                    if attempt + 1 >= MAX_NAME_ATTEMPTS {
                        return self
                            .fail(&row, label, "channel name taken after 20 attempts")
                            .await;
                    }
                    let next = Effect::CreateChannel {
                        sev,
                        title,
                        private,
                        attempt: attempt + 1,
                    };
                    outbox::rewrite(&self.store, row.id, &serde_json::to_string(&next)?).await?;
                    outbox::retry_later(
                        &self.store,
                        row.id,
                        &self.owner,
                        self.clock.now_ms(),
                        "name taken",
                    )
                    .await
                } else {
                    self.fail(&row, label, "name taken").await
                }
            }
            Err(DeliveryError::Retry { reason, after }) => {
                let backoff = after
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or_else(|| (1000i64 << row.attempts.clamp(0, 12)).min(MAX_BACKOFF_MS));
                if matches!(effect, Effect::SetTopic { .. })
                    && !row.queue.ends_with(TOPIC_DETOUR)
                    && backoff > TOPIC_DETOUR_AFTER_MS
                {
                    return self.detour_topic(&row, backoff).await;
                }
                tracing::warn!(
                    platform = row.platform,
                    id = row.id,
                    attempt = row.attempts,
                    reason,
                    backoff_ms = backoff,
                    "delivery will be retried"
                );
                metrics::counter!("sevbot_outbox_deliveries_total", "platform" => row.platform.clone(), "effect" => label, "result" => "retry").increment(1);
                if after.is_some() {
                    // The platform said when (a rate limit): waiting is not a failure, so
                    // it does not lengthen the backoff of a later real error.
                    return outbox::wait(
                        &self.store,
                        row.id,
                        &self.owner,
                        self.clock.now_ms() + backoff,
                        &reason,
                    )
                    .await;
                }
                outbox::retry_later(
                    &self.store,
                    row.id,
                    &self.owner,
                    self.clock.now_ms() + backoff,
                    &reason,
                )
                .await
            }
            Err(DeliveryError::Permanent(why)) => {
                if let Effect::CreateChannel { sev, .. } = &effect {
                    self.tell_declarer(&row, *sev, &why).await?;
                }
                self.fail(&row, label, &why).await
            }
        }
    }

    /// Discord allows two topic edits per channel in ten minutes: a topic that must wait
    /// that long moves to a queue of its own, so the card and timeline behind it flow on.
    async fn detour_topic(&self, row: &OutboxRow, backoff: i64) -> anyhow::Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        outbox::enqueue(
            &mut tx,
            &row.platform,
            &format!("{}{TOPIC_DETOUR}", row.queue),
            &row.effect,
            now + backoff,
        )
        .await?;
        outbox::delivered(&mut tx, row.id, &self.owner, now).await?;
        tx.commit().await?;
        tracing::info!(
            id = row.id,
            backoff_ms = backoff,
            "topic edit rate limited; set aside"
        );
        Ok(())
    }

    /// Without its channel a SEV has nowhere to talk: say so where it was declared, with
    /// the platform's reason, so responders are not left waiting for a channel.
    async fn tell_declarer(&self, row: &OutboxRow, sev: SevId, why: &str) -> anyhow::Result<()> {
        let mut tx = self.store.begin().await?;
        let Some(origin) = sevs::origin_channel(&mut tx, sev).await? else {
            return Ok(());
        };
        let text = format!(
            "{sev} is declared, but its channel could not be created: {why}. Keep working here with `/sev {sev} update …` \
             and ask a workspace admin to fix the cause."
        );
        let reply = Effect::Reply {
            channel: origin,
            user: None,
            text,
        };
        let queue = reply.queue(&row.platform);
        outbox::enqueue(
            &mut tx,
            &row.platform,
            &queue,
            &serde_json::to_string(&reply)?,
            self.clock.now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fail(&self, row: &OutboxRow, label: &'static str, why: &str) -> anyhow::Result<()> {
        tracing::error!(
            platform = row.platform,
            id = row.id,
            effect = label,
            error = why,
            "delivery failed permanently; fix the cause, the row is kept"
        );
        metrics::counter!("sevbot_outbox_deliveries_total", "platform" => row.platform.clone(), "effect" => label, "result" => "failed").increment(1);
        outbox::failed(&self.store, row.id, &self.owner, why).await
    }

    /// The SEV as it is now (a set-aside topic must not bring back an old state).
    async fn current(&self, snapshot: &crate::domain::Incident) -> crate::domain::Incident {
        let loaded = match self.store.pool.acquire().await {
            Ok(mut conn) => sevs::load(&mut conn, snapshot.id).await.ok().flatten(),
            Err(_) => None,
        };
        loaded.unwrap_or_else(|| snapshot.clone())
    }

    async fn incident_channel(&self, sev: SevId) -> Result<String, DeliveryError> {
        let mut conn = self.store.pool.acquire().await.map_err(db_retry)?;
        sevs::channel_id(&mut conn, sev)
            .await
            .map_err(db_retry)?
            .ok_or_else(|| {
                DeliveryError::Permanent(format!("{sev} has no channel (its creation failed)"))
            })
    }

    /// Delivers and, in one transaction, records the platform ids and marks the row done.
    async fn apply(
        &self,
        p: &dyn Platform,
        row: &OutboxRow,
        effect: &Effect,
    ) -> Result<(), DeliveryError> {
        let now = self.clock.now_ms();
        let mut tx = match effect {
            Effect::CreateChannel {
                sev,
                title,
                private,
                attempt,
            } => {
                let name = channel_name(*sev, title, *attempt);
                let id = p.create_channel(&name, *private).await?;
                let mut tx = self.store.begin().await.map_err(db_retry)?;
                engine::channel_created(&mut tx, *sev, &name, &id, now)
                    .await
                    .map_err(db_retry)?;
                tx
            }
            Effect::Invite { sev, people } => {
                let ch = self.incident_channel(*sev).await?;
                p.invite(&ch, people).await?;
                self.store.begin().await.map_err(db_retry)?
            }
            Effect::SetTopic { incident } => {
                // Only the newest topic matters once topics wait in their own queue.
                let newer = row.queue.ends_with(TOPIC_DETOUR)
                    && outbox::has_later(&self.store, &row.queue, row.id)
                        .await
                        .map_err(db_retry)?;
                if !newer {
                    let ch = self.incident_channel(incident.id).await?;
                    let current = self.current(incident).await;
                    p.set_topic(&ch, &current.topic(&|who| p.mention(who)))
                        .await?;
                }
                self.store.begin().await.map_err(db_retry)?
            }
            Effect::Page {
                incident,
                person,
                why,
            } => {
                p.page(person, Message::Page(incident, why)).await?;
                metrics::counter!("sevbot_pages_sent_total", "via" => p.name().to_string())
                    .increment(1);
                self.store.begin().await.map_err(db_retry)?
            }
            Effect::PagerDuty { .. } | Effect::StatusPage { .. } => {
                return Err(DeliveryError::Permanent(
                    "webhook effects are delivered by their own sender".into(),
                ));
            }
            Effect::UpsertImpact { sev, text } => {
                let ch = self.incident_channel(*sev).await?;
                self.upsert(p, *sev, &ch, "impact", Message::Impact(text))
                    .await?
            }
            Effect::ArchiveChannel { sev } => {
                let ch = self.incident_channel(*sev).await?;
                p.archive(&ch).await?;
                self.store.begin().await.map_err(db_retry)?
            }
            Effect::DeleteChannel { sev } => {
                let ch = self.incident_channel(*sev).await?;
                p.delete_channel(&ch).await?;
                self.store.begin().await.map_err(db_retry)?
            }
            Effect::PostEvent { sev, event } => {
                let ch = self.incident_channel(*sev).await?;
                p.post(&ch, Message::Event(*sev, event)).await?;
                self.store.begin().await.map_err(db_retry)?
            }
            Effect::Reply {
                channel,
                user,
                text,
            } => {
                p.reply(channel, user.as_deref(), text).await?;
                self.store.begin().await.map_err(db_retry)?
            }
            Effect::UpsertCard { incident } => {
                let ch = self.incident_channel(incident.id).await?;
                self.upsert(p, incident.id, &ch, "card", Message::Card(incident))
                    .await?
            }
            Effect::UpsertFeed {
                channel,
                incident,
                as_of,
            } => {
                self.upsert(
                    p,
                    incident.id,
                    channel,
                    "feed",
                    Message::FeedAnnouncement(incident, *as_of),
                )
                .await?
            }
        };
        let ok = outbox::delivered(&mut tx, row.id, &self.owner, now)
            .await
            .map_err(db_retry)?;
        if !ok {
            tracing::warn!(
                id = row.id,
                "lease lost while delivering; another worker owns the row"
            );
        }
        tx.commit().await.map_err(db_retry)?;
        Ok(())
    }

    /// Posts the message the first time (pinning cards), edits it afterwards. No database
    /// connection is held while the platform is called.
    async fn upsert(
        &self,
        p: &dyn Platform,
        sev: SevId,
        channel: &str,
        purpose: &str,
        msg: Message<'_>,
    ) -> Result<crate::store::Tx, DeliveryError> {
        let existing = {
            let mut conn = self.store.pool.acquire().await.map_err(db_retry)?;
            sevs::bind_message(&mut conn, sev, p.name(), channel, purpose)
                .await
                .map_err(db_retry)?;
            sevs::message_id(&mut conn, sev, p.name(), channel, purpose)
                .await
                .map_err(db_retry)?
        };
        match existing {
            Some(mid) => p.edit(channel, &mid, msg).await?,
            None => {
                let mid = p.post(channel, msg).await?;
                // Recorded before anything else can fail, so a retry edits instead of
                // posting a second card.
                let mut conn = self.store.pool.acquire().await.map_err(db_retry)?;
                sevs::set_message_id(&mut conn, sev, p.name(), channel, purpose, &mid)
                    .await
                    .map_err(db_retry)?;
                drop(conn);
                if purpose == "card" {
                    p.pin(channel, &mid).await?;
                }
            }
        }
        self.store.begin().await.map_err(db_retry)
    }

    /// Delivers everything that is ready, for scripted runs and tests; stops when nothing
    /// is ready or `limit` elapses.
    pub async fn drain(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.tick().await? == Progress::Idle {
                // Another worker may hold a ready row; wait for it rather than return early.
                if outbox::ready(&self.store, self.clock.now_ms()).await? == 0 {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(())
    }

    /// The worker loop: runs until `stop` fires, woken early by the engine.
    pub async fn run(
        self: Arc<Self>,
        wake: Arc<tokio::sync::Notify>,
        poll: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            match self.tick().await {
                Ok(Progress::Worked(_)) => continue,
                Ok(Progress::Idle) => {}
                Err(e) => tracing::error!(error = format!("{e:#}"), "outbox worker"),
            }
            if let Ok((n, _)) = outbox::pending(&self.store).await {
                metrics::gauge!("sevbot_outbox_pending").set(n as f64);
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

fn db_retry(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Retry {
        reason: format!("database: {e}"),
        after: Some(Duration::from_secs(1)),
    }
}
