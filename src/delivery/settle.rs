//! Recording an attempt's outcome: delivered (with what it changed, in one transaction
//! that also moves the queue on), retried later (with the platform's wait, a backoff, or
//! in doubt), or failed for good — said where people look.

use super::TOPIC_DETOUR;
use super::{Delivery, backoff};
use crate::domain::SevId;
use crate::effects::{DeliveryError, Effect};
use crate::engine::outcomes::{self, PageRoute};
use crate::store::incidents as sevs;
use crate::store::outbox::{self, OutboxRow, Release};

/// A success answer sevbot cannot read is retried (after reconciling) this many times.
const MAX_UNREADABLE: i64 = 5;
/// A topic edit told to wait longer than this is set aside.
const TOPIC_DETOUR_AFTER_MS: i64 = 5_000;
/// How long a row waits for a precondition (the SEV's channel) between looks; the
/// channel's creation wakes it sooner.
const NOT_YET_MS: i64 = 5_000;

/// What a successful attempt changed, recorded with the row's completion.
#[derive(Debug, Default)]
pub(super) struct Done {
    /// A message went into a paced channel.
    pub sent: bool,
    /// The SEV's channel now exists: (SEV, name, platform id).
    pub channel: Option<(SevId, String, String)>,
    /// A page reached its person.
    pub paged: bool,
    /// Rows folded into this one's message (or made moot by it).
    pub folded: Vec<i64>,
    /// A tracker opened the SEV's ticket.
    pub ticket: Option<(SevId, crate::effects::TicketRef)>,
}

impl Delivery {
    /// Records the outcome; returns when a message went into a paced channel (the time its
    /// queue's next message was paced from), if one did.
    pub(super) async fn settle(
        &self,
        row: &OutboxRow,
        effect: &Effect,
        result: Result<Done, DeliveryError>,
        via: &str,
    ) -> anyhow::Result<Option<i64>> {
        let label = effect.label();
        let count = |result: &'static str| {
            metrics::counter!("sevbot_outbox_deliveries_total", "platform" => row.platform.clone(), "effect" => label, "result" => result).increment(1);
        };
        let now = self.clock.now_ms();
        let e = match result {
            Ok(done) => {
                count("ok");
                let sent = done.sent;
                let at = self.record_done(row, effect, done, via).await?;
                return Ok(sent.then_some(at));
            }
            Err(e) => e,
        };
        let later = |at: i64, error: String, doubt: bool, counts: bool| async move {
            outbox::release(
                &self.store,
                row.id,
                &self.owner,
                Release {
                    at,
                    error: Some(&error),
                    doubt,
                    counts,
                },
            )
            .await
        };
        match e {
            DeliveryError::Retry { reason, after } => {
                let wait = after
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or_else(|| backoff(row.attempts - 1));
                if matches!(effect, Effect::SetTopic { .. })
                    && !row.queue.ends_with(TOPIC_DETOUR)
                    && wait > TOPIC_DETOUR_AFTER_MS
                {
                    return self.detour_topic(row, wait).await.map(|_| None);
                }
                count("retry");
                tracing::warn!(
                    platform = row.platform,
                    id = row.id,
                    attempt = row.attempts,
                    reason,
                    wait_ms = wait,
                    "delivery will be retried"
                );
                // A wait the platform asked for is not a failure: it does not lengthen the
                // backoff of a later real error.
                later(now + wait, reason, row.doubt, after.is_none()).await?;
            }
            DeliveryError::Unreadable(reason) if row.attempts >= MAX_UNREADABLE => {
                let why =
                    format!("{reason} ({MAX_UNREADABLE} answers in a row sevbot could not read)");
                self.fail(row, effect, &why, via).await?;
            }
            DeliveryError::Uncertain(reason) | DeliveryError::Unreadable(reason) => {
                count("uncertain");
                tracing::warn!(
                    platform = row.platform,
                    id = row.id,
                    reason,
                    "outcome unknown; will reconcile before retrying"
                );
                later(now + backoff(row.attempts - 1), reason, true, true).await?;
            }
            DeliveryError::NotYet(reason) => match effect.sev() {
                Some(sev) => {
                    outbox::release_until_channel(
                        &self.store,
                        row.id,
                        &self.owner,
                        sev,
                        now,
                        now + NOT_YET_MS,
                    )
                    .await?
                }
                None => later(now + NOT_YET_MS, reason, row.doubt, false).await?,
            },
            DeliveryError::NameTaken => self.fail(row, effect, "channel name taken", via).await?,
            DeliveryError::Permanent(why) => self.fail(row, effect, &why, via).await?,
        }
        Ok(None)
    }

    /// Returns the time the row was recorded delivered (pacing counts from it).
    async fn record_done(
        &self,
        row: &OutboxRow,
        effect: &Effect,
        done: Done,
        via: &str,
    ) -> anyhow::Result<i64> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        outbox::lock_queue(&mut tx, &row.queue).await?;
        if !outbox::delivered(&mut tx, row.id, &self.owner, now).await? {
            // Whoever took the row over reconciles it with the platform.
            tracing::warn!(
                id = row.id,
                "lease lost while delivering; another worker owns the row"
            );
            tx.rollback().await?;
            return Ok(now);
        }
        outbox::delivered_with(&mut tx, &done.folded, now).await?;
        if let Some((sev, name, id)) = &done.channel {
            outcomes::channel_created(&mut tx, &row.platform, *sev, name, id, now).await?;
        }
        if let Some((sev, t)) = &done.ticket {
            outcomes::ticket_opened(&mut tx, &row.platform, via, *sev, t, now).await?;
        }
        if done.paged
            && let Some(route) = page_route(effect, via, self.sinks.contains_key(&row.platform))
        {
            outcomes::page_delivered(&mut tx, route, now).await?;
        }
        let not_before = match (done.sent, self.platforms.get(&row.platform)) {
            (true, Some(p)) => now + p.min_interval().as_millis() as i64,
            _ => now,
        };
        outbox::promote(&mut tx, &row.queue, not_before).await?;
        tx.commit().await?;
        Ok(now)
    }

    /// A permanent failure: the row is kept with its reason for the operator, the queue
    /// moves on, and what people need to know is said where they look.
    pub(super) async fn fail(
        &self,
        row: &OutboxRow,
        effect: &Effect,
        why: &str,
        via: &str,
    ) -> anyhow::Result<()> {
        tracing::error!(
            platform = row.platform,
            id = row.id,
            effect = effect.label(),
            error = why,
            "delivery failed permanently; fix the cause, the row is kept (sevbot outbox list)"
        );
        metrics::counter!("sevbot_outbox_deliveries_total", "platform" => row.platform.clone(), "effect" => effect.label(), "result" => "failed").increment(1);
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        outbox::lock_queue(&mut tx, &row.queue).await?;
        if !outbox::failed(&mut tx, row.id, &self.owner, why).await? {
            tx.rollback().await?;
            return Ok(());
        }
        outbox::promote(&mut tx, &row.queue, now).await?;
        let mut escalated = false;
        match effect {
            Effect::CreateChannel { sev, .. } => {
                self.tell_declarer(&mut tx, row, *sev, why).await?
            }
            Effect::UnarchiveChannel { sev } => {
                self.tell_unarchive_failed(&mut tx, row, *sev, why).await?
            }
            _ => {
                if let Some(route) = page_route(effect, via, self.sinks.contains_key(&row.platform))
                {
                    escalated = outcomes::page_failed(&mut tx, route, why, now).await?;
                }
            }
        }
        tx.commit().await?;
        if escalated {
            self.wake_jobs.notify_one();
        }
        Ok(())
    }

    /// A row whose stored effect cannot be read: failed with the reason.
    pub(super) async fn fail_unreadable(&self, row: &OutboxRow, why: &str) -> anyhow::Result<()> {
        tracing::error!(
            id = row.id,
            error = why,
            "unreadable outbox row; kept as failed"
        );
        let mut tx = self.store.begin().await?;
        outbox::lock_queue(&mut tx, &row.queue).await?;
        if outbox::failed(&mut tx, row.id, &self.owner, &format!("unreadable: {why}")).await? {
            outbox::promote(&mut tx, &row.queue, self.clock.now_ms()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Discord allows two topic edits per channel in ten minutes: a topic that must wait
    /// that long moves to a queue of its own, so the card and timeline behind it flow on.
    async fn detour_topic(&self, row: &OutboxRow, wait: i64) -> anyhow::Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        outbox::lock_queue(&mut tx, &row.queue).await?;
        let detour = outbox::NewRow {
            platform: &row.platform,
            queue: &format!("{}{TOPIC_DETOUR}", row.queue),
            lane: row.lane,
            paced: false,
            effect: &row.effect,
            version: row.version,
        };
        outbox::enqueue(&mut tx, &detour, now + wait).await?;
        if outbox::delivered(&mut tx, row.id, &self.owner, now).await? {
            outbox::promote(&mut tx, &row.queue, now).await?;
            tx.commit().await?;
            tracing::info!(
                id = row.id,
                wait_ms = wait,
                "topic edit rate limited; set aside"
            );
        } else {
            tx.rollback().await?;
        }
        Ok(())
    }

    /// A reopened SEV whose channel stays archived: say so where it was declared, with
    /// the platform's reason and how to go on.
    async fn tell_unarchive_failed(
        &self,
        tx: &mut crate::store::Tx,
        row: &OutboxRow,
        sev: SevId,
        why: &str,
    ) -> anyhow::Result<()> {
        let text = format!(
            "{sev} is reopened, but its channel could not be brought back: {why}. Unarchive it by hand \
             (or ask a workspace admin), and meanwhile keep working with `/sev {sev} update …`."
        );
        self.tell_origin(tx, row, sev, text).await
    }

    /// Without its channel a SEV has nowhere to talk: say so where it was declared, with
    /// the platform's reason, so responders are not left waiting for a channel.
    async fn tell_declarer(
        &self,
        tx: &mut crate::store::Tx,
        row: &OutboxRow,
        sev: SevId,
        why: &str,
    ) -> anyhow::Result<()> {
        let restricted = sevs::load(tx, sev).await?.is_some_and(|i| i.restricted);
        let text = if restricted {
            format!(
                "{sev} is declared, but its private channel could not be created: {why}. It is restricted: \
                 keep its details out of this channel, and ask a workspace admin to fix the cause."
            )
        } else {
            format!(
                "{sev} is declared, but its channel could not be created: {why}. Keep working here with `/sev {sev} update …` \
                 and ask a workspace admin to fix the cause."
            )
        };
        self.tell_origin(tx, row, sev, text).await
    }

    /// Posts `text` in the channel the SEV was declared from.
    async fn tell_origin(
        &self,
        tx: &mut crate::store::Tx,
        row: &OutboxRow,
        sev: SevId,
        text: String,
    ) -> anyhow::Result<()> {
        let Some(origin) = sevs::origin_channel(tx, sev).await? else {
            return Ok(());
        };
        let reply = Effect::Reply {
            channel: origin,
            user: None,
            text,
        };
        outbox::push(tx, &row.platform, &reply, self.clock.now_ms()).await?;
        Ok(())
    }
}

/// The page a row delivers, if it is one.
fn page_route<'a>(effect: &'a Effect, via: &'a str, sink: bool) -> Option<PageRoute<'a>> {
    match effect {
        Effect::Page {
            incident,
            person,
            page,
            ..
        } => Some(PageRoute {
            sev: incident.id,
            person,
            page: *page,
            via,
            chat: !sink,
        }),
        Effect::ExternalPage {
            sev,
            action: crate::effects::PageAction::Trigger,
            person: Some(person),
            page,
            ..
        } => Some(PageRoute {
            sev: *sev,
            person,
            page: *page,
            via,
            chat: false,
        }),
        _ => None,
    }
}
