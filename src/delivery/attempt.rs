//! One delivery attempt of a claimed row: the effect carried out on its platform or sink,
//! reconciled first when an earlier attempt's outcome is unknown.

use std::time::Duration;

use super::TOPIC_DETOUR;
use super::settle::Done;
use super::{Delivery, MAX_BACKOFF_MS};
use crate::domain::SevId;
use crate::effects::{DeliveryError, Effect, Lane, Message, Outgoing, PageAction, Platform};
use crate::engine::outcomes::TICKET;
use crate::store::incidents as sevs;
use crate::store::outbox::{self, OutboxRow, Release};

/// Machine lines folded into one message at most.
pub(super) const FOLD_LIMIT: i64 = 2_000;
/// How long a row beside the SEV's own queue waits for the SEV's channel to exist.
const CHANNEL_WAIT_MS: i64 = 10 * 60_000;

/// The key a platform sees for this row (Discord's nonce, Slack's message metadata, the
/// status page's Idempotency-Key): at most 25 characters.
pub(super) fn key(row: &OutboxRow) -> String {
    format!("sevbot-{}", row.id)
}

impl Delivery {
    /// Delivers one claimed row and records the outcome; returns when a message went into
    /// a paced channel, if one did.
    pub(super) async fn attempt(
        &self,
        row: &OutboxRow,
        effect: Effect,
    ) -> anyhow::Result<Option<i64>> {
        if let Some(sink) = self.sinks.get(&row.platform).cloned() {
            let ticket = match &effect {
                Effect::Ticket { sev, .. } => {
                    let mut conn = self.store.pool.acquire().await?;
                    sevs::message_id(&mut conn, *sev, &row.platform, TICKET, TICKET).await?
                }
                _ => None,
            };
            let out = Outgoing {
                key: &key(row),
                doubt: row.doubt,
                ticket: ticket.as_deref(),
            };
            let result = sink.send(&effect, out).await.map(|sent| Done {
                ticket: sent.ticket.zip(effect.sev()).map(|(t, sev)| (sev, t)),
                paged: matches!(
                    effect,
                    Effect::ExternalPage {
                        action: PageAction::Trigger,
                        ..
                    }
                ),
                ..Done::default()
            });
            return self.settle(row, &effect, result, sink.title()).await;
        }
        let Some(p) = self.platforms.get(&row.platform).cloned() else {
            // Not lost: it waits for a replica (or a restart) that has this configured.
            let why = format!("{} is not configured on this replica", row.platform);
            tracing::warn!(platform = row.platform, id = row.id, "{why}; will retry");
            outbox::release(
                &self.store,
                row.id,
                &self.owner,
                Release {
                    at: self.clock.now_ms() + MAX_BACKOFF_MS,
                    error: Some(&why),
                    doubt: row.doubt,
                    counts: false,
                },
            )
            .await?;
            return Ok(None);
        };
        let result = match row.lane {
            Lane::Machine => self.fold(p.as_ref(), row, &effect).await,
            _ => self.apply(p.as_ref(), row, &effect).await,
        };
        self.settle(row, &effect, result, p.title()).await
    }

    pub(super) async fn apply(
        &self,
        p: &dyn Platform,
        row: &OutboxRow,
        effect: &Effect,
    ) -> Result<Done, DeliveryError> {
        let k = key(row);
        match effect {
            Effect::CreateChannel {
                sev,
                title,
                private,
                attempt,
            } => {
                self.create_channel(p, row, *sev, title, *private, *attempt)
                    .await
            }
            Effect::Invite { sev, people } => {
                let ch = self.incident_channel(*sev, row).await?;
                p.invite(&ch, people).await?;
                Ok(Done::default())
            }
            Effect::SetTopic { incident } => {
                // Only the newest topic matters once topics wait in their own queue.
                let newer = row.queue.ends_with(TOPIC_DETOUR)
                    && outbox::has_later(&self.store, &row.queue, row.id)
                        .await
                        .map_err(db_retry)?;
                if !newer {
                    let ch = self.incident_channel(incident.id, row).await?;
                    let current = self.current(incident).await;
                    let topic = {
                        let mention = |who: &str| p.mention(who);
                        let text = |t: &str| p.escape(t);
                        let m = crate::domain::Markup {
                            mention: &mention,
                            text: &text,
                        };
                        crate::domain::text::topic(&current, &m)
                    };
                    p.set_topic(&ch, &topic).await?;
                }
                Ok(Done::default())
            }
            Effect::Page {
                incident,
                person,
                why,
                ..
            } => {
                let reached = row.doubt && p.find_page(person, &k, row.created_at).await?;
                if reached {
                    tracing::info!(id = row.id, person, "the page had reached them already");
                } else {
                    p.page(person, Message::Page(incident, why), &k).await?;
                }
                metrics::counter!("sevbot_pages_sent_total", "via" => p.name().to_string())
                    .increment(1);
                Ok(Done {
                    paged: true,
                    ..Done::default()
                })
            }
            Effect::RemindFollowup {
                sev,
                person,
                number,
                text,
                due,
            } => {
                let msg = Message::FollowupDue {
                    sev: *sev,
                    number: *number,
                    text,
                    due,
                };
                // Sent before a crash? The person's DM says (the same look-up as a page's).
                let reached = row.doubt && p.find_page(person, &k, row.created_at).await?;
                if !reached {
                    p.page(person, msg, &k).await?;
                }
                Ok(Done::default())
            }
            Effect::UpsertImpact { sev, text } => {
                let ch = self.incident_channel(*sev, row).await?;
                self.upsert(p, row, *sev, &ch, "impact", Message::Impact(text))
                    .await
            }
            Effect::UpsertCard { incident } => {
                let ch = self.incident_channel(incident.id, row).await?;
                self.upsert(p, row, incident.id, &ch, "card", Message::Card(incident))
                    .await
            }
            Effect::UpsertFeed {
                channel,
                incident,
                as_of,
            } => {
                self.upsert(
                    p,
                    row,
                    incident.id,
                    channel,
                    "feed",
                    Message::FeedAnnouncement(incident, *as_of),
                )
                .await
            }
            Effect::PostEvent { sev, event } => {
                let ch = self.incident_channel(*sev, row).await?;
                self.post_once(p, row, &ch, Message::Event(*sev, event))
                    .await
            }
            Effect::Reply {
                channel,
                user,
                text,
            } => {
                // An answer only one person sees cannot be looked up afterwards; after an
                // uncertain attempt it is sent again (README: what each platform can tell).
                let seen = user.is_none()
                    && row.doubt
                    && p.find_post(channel, &k, row.created_at).await?.is_some();
                if !seen {
                    p.reply(channel, user.as_deref(), text, &k).await?;
                }
                Ok(Done {
                    sent: !seen,
                    ..Done::default()
                })
            }
            Effect::ArchiveChannel { sev } => {
                let ch = self.incident_channel(*sev, row).await?;
                p.archive(&ch).await?;
                Ok(Done::default())
            }
            Effect::SendFile {
                user,
                filename,
                content,
                text,
                ..
            } => {
                p.send_file(user, filename, content, text).await?;
                Ok(Done::default())
            }
            Effect::UnarchiveChannel { sev } => {
                let ch = self.incident_channel(*sev, row).await?;
                p.unarchive(&ch).await?;
                Ok(Done::default())
            }
            Effect::DeleteChannel { sev } => {
                let ch = self.incident_channel(*sev, row).await?;
                p.delete_channel(&ch).await?;
                Ok(Done::default())
            }
            Effect::ExternalPage { .. }
            | Effect::StatusPage { .. }
            | Effect::Email { .. }
            | Effect::Ticket { .. } => Err(DeliveryError::Permanent(format!(
                "{} is a sink, not a chat platform",
                row.platform
            ))),
        }
    }

    /// Posts a timeline line unless an earlier, unobserved attempt already did.
    pub(super) async fn post_once(
        &self,
        p: &dyn Platform,
        row: &OutboxRow,
        channel: &str,
        msg: Message<'_>,
    ) -> Result<Done, DeliveryError> {
        let k = key(row);
        if self.posted_before(p, row, channel).await?.is_some() {
            return Ok(Done::default());
        }
        p.post(channel, msg, &k).await?;
        Ok(Done {
            sent: true,
            ..Done::default()
        })
    }

    /// Posts the message the first time (pinning cards), edits it afterwards. No database
    /// connection is held while the platform is called.
    pub(super) async fn upsert(
        &self,
        p: &dyn Platform,
        row: &OutboxRow,
        sev: SevId,
        channel: &str,
        purpose: &str,
        msg: Message<'_>,
    ) -> Result<Done, DeliveryError> {
        let existing = {
            let mut conn = self.store.pool.acquire().await.map_err(db_retry)?;
            sevs::bind_message(&mut conn, sev, p.name(), channel, purpose)
                .await
                .map_err(db_retry)?;
            sevs::message_id(&mut conn, sev, p.name(), channel, purpose)
                .await
                .map_err(db_retry)?
        };
        if let Some(mid) = existing {
            p.edit(channel, &mid, msg).await?;
            return Ok(Done::default());
        }
        let (mid, sent) = match self.posted_before(p, row, channel).await? {
            Some(mid) => (mid, false),
            None => (p.post(channel, msg, &key(row)).await?, true),
        };
        // Recorded before anything else can fail, so a retry edits instead of posting a
        // second card.
        {
            let mut conn = self.store.pool.acquire().await.map_err(db_retry)?;
            sevs::set_message_id(&mut conn, sev, p.name(), channel, purpose, &mid)
                .await
                .map_err(db_retry)?;
        }
        // An unpinned card is still the card: a pin the platform refuses (a missing
        // permission) is said in the log with its fix, not counted as a failed card.
        if purpose == "card" {
            match p.pin(channel, &mid).await {
                Err(DeliveryError::Permanent(why)) => {
                    metrics::counter!("sevbot_pins_failed_total", "platform" => p.name().to_string())
                        .increment(1);
                    tracing::warn!(
                        platform = p.name(),
                        sev = %sev,
                        error = why,
                        "the card is posted but could not be pinned"
                    );
                }
                other => other?,
            }
        }
        Ok(Done {
            sent,
            ..Done::default()
        })
    }

    /// The SEV's channel. Rows in the SEV's own queue come after its creation, so a
    /// missing channel means creation failed; rows beside it (machine chatter, a topic set
    /// aside) wait a while for it.
    pub(super) async fn incident_channel(
        &self,
        sev: SevId,
        row: &OutboxRow,
    ) -> Result<String, DeliveryError> {
        let mut conn = self.store.pool.acquire().await.map_err(db_retry)?;
        if let Some(id) = sevs::channel_id(&mut conn, sev).await.map_err(db_retry)? {
            return Ok(id);
        }
        let beside = row.lane == Lane::Machine || row.queue.ends_with(TOPIC_DETOUR);
        if beside && self.clock.now_ms() - row.created_at < CHANNEL_WAIT_MS {
            return Err(DeliveryError::NotYet(format!("{sev} has no channel yet")));
        }
        Err(DeliveryError::Permanent(format!(
            "{sev} has no channel (its creation failed)"
        )))
    }

    /// The SEV as it is now (a set-aside topic must not bring back an old state).
    async fn current(&self, snapshot: &crate::domain::Incident) -> crate::domain::Incident {
        let loaded = match self.store.pool.acquire().await {
            Ok(mut conn) => sevs::load(&mut conn, snapshot.id).await.ok().flatten(),
            Err(_) => None,
        };
        loaded.unwrap_or_else(|| snapshot.clone())
    }
}

pub(super) fn db_retry(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Retry {
        reason: format!("database: {e}"),
        after: Some(Duration::from_secs(1)),
    }
}
