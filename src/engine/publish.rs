//! Telling people what changed: the card, the topic, the timeline lines in the SEV's
//! channel, and the announcements in every feed that matches.

use super::*;

impl Engine {
    /// Tells the incident channel what happened, refreshes the card and topic, and brings the
    /// feeds up to date: existing announcements are edited, newly matching feeds get one.
    pub(super) async fn publish(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        events: &[TimelineEvent],
        topic_changed: bool,
        now: i64,
    ) -> anyhow::Result<()> {
        // The card first: on a paced platform it is what responders need to see at once.
        let card = Effect::UpsertCard {
            incident: inc.clone(),
        };
        self.enqueue(tx, &inc.platform, card, now).await?;
        if topic_changed {
            let topic = Effect::SetTopic {
                incident: inc.clone(),
            };
            self.enqueue(tx, &inc.platform, topic, now).await?;
        }
        self.post_events(tx, inc, events.to_vec(), now).await?;
        if inc.drill {
            // Practice stays in its channel: no feed hears of it.
            return Ok(());
        }
        for sub in subscriptions::all(tx).await? {
            if sub.platform != mail::EMAIL && sub.filter.matches(inc.sev_type, inc.level) {
                sevs::bind_message(tx, inc.id, &sub.platform, &sub.channel, "feed").await?;
            }
        }
        for f in &self.cfg().feeds {
            if f.filter.matches(inc.sev_type, inc.level) {
                sevs::bind_message(tx, inc.id, &f.platform, &f.channel, "feed").await?;
            }
        }
        let feeds = sevs::bound_channels(tx, inc.id, "feed").await?;
        // Announcements were just refreshed: the next scheduled push is a cadence away.
        self.reschedule_status_push(tx, inc, !feeds.is_empty(), now)
            .await?;
        for (platform, channel) in feeds {
            let incident = self.feed_view(inc, &platform, &channel);
            self.enqueue(
                tx,
                &platform,
                Effect::UpsertFeed {
                    channel,
                    incident,
                    as_of: None,
                },
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// The SEV as a feed channel may show it: restricted SEVs in full only in private feeds.
    pub(super) fn feed_view(&self, inc: &Incident, platform: &str, channel: &str) -> Incident {
        if inc.restricted && !self.cfg().is_private_feed(platform, channel) {
            inc.redacted()
        } else {
            inc.clone()
        }
    }

    /// Records events on the SEV's timeline and posts them in its channel.
    pub(super) async fn post_recorded(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        events: &[EventKind],
        now: i64,
    ) -> anyhow::Result<()> {
        self.post_recorded_by(tx, inc, SYSTEM_ACTOR, events, now)
            .await
    }

    /// Like `post_recorded`, for events a person caused: the timeline names them.
    pub(super) async fn post_recorded_by(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        actor: &str,
        events: &[EventKind],
        now: i64,
    ) -> anyhow::Result<()> {
        let recorded = self.record(tx, inc, actor, events, now).await?;
        self.post_events(tx, inc, recorded, now).await
    }

    /// What was recorded, in one line for the person who caused it ("a; b").
    pub(super) fn summarize(&self, platform: &str, recorded: &[TimelineEvent]) -> String {
        self.with_markup(platform, |m| {
            recorded
                .iter()
                .map(|e| describe(&e.event, &e.actor, m))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Posts timeline entries already recorded in the SEV's channel, and tells the SEV's
    /// e-mail thread and tickets what they should hear of.
    pub(super) async fn post_events(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        recorded: Vec<TimelineEvent>,
        now: i64,
    ) -> anyhow::Result<()> {
        // A drill has no e-mail thread and no ticket.
        if !inc.drill {
            self.mail(tx, inc, &recorded, now).await?;
            self.tickets(tx, inc, &recorded, now).await?;
        }
        for event in recorded {
            let post = Effect::PostEvent { sev: inc.id, event };
            self.enqueue(tx, &inc.platform, post, now).await?;
        }
        Ok(())
    }
}
