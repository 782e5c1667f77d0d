//! Platform-neutral outbound effects, stored as JSON in the outbox, and the port every chat
//! platform adapter implements to deliver them.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::incident::{card_text, describe};
use crate::domain::{EventKind, Incident, SevId, TimelineEvent};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Open the incident channel; `attempt` picks the name suffix after a collision.
    CreateChannel {
        sev: SevId,
        title: String,
        private: bool,
        attempt: u32,
    },
    Invite {
        sev: SevId,
        people: Vec<String>,
    },
    SetTopic {
        incident: Incident,
    },
    /// The pinned summary card in the incident channel, edited in place.
    UpsertCard {
        incident: Incident,
    },
    /// A feed announcement, edited in place as the SEV changes.
    UpsertFeed {
        channel: String,
        incident: Incident,
        /// Set by the scheduled status push: the time the status was last confirmed.
        #[serde(default)]
        as_of: Option<i64>,
    },
    /// An answer to someone's command, sent later (to `user` only, where the platform allows).
    Reply {
        channel: String,
        user: Option<String>,
        text: String,
    },
    /// A timeline event told in the incident channel.
    PostEvent {
        sev: SevId,
        event: TimelineEvent,
    },
    /// The SEV is over: put its channel out of the way (kept for the postmortem).
    ArchiveChannel {
        sev: SevId,
    },
    /// The retention of an archived channel has passed.
    DeleteChannel {
        sev: SevId,
    },
    /// Pages a person directly (a direct message with an Acknowledge button); `person` is
    /// a config person id or `@handle`.
    Page {
        incident: Incident,
        person: String,
        why: String,
    },
    /// The impact card in the incident channel (degraded routes), edited in place.
    UpsertImpact {
        sev: SevId,
        text: String,
    },
    /// An approved customer update sent to a status page webhook.
    StatusPage {
        sev: SevId,
        url: String,
        body: String,
    },
    /// A PagerDuty Events API v2 event, delivered on its own queue so a PagerDuty outage
    /// never delays a chat page.
    PagerDuty {
        sev: SevId,
        action: PagerDutyAction,
        dedup_key: String,
        summary: String,
        severity: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PagerDutyAction {
    Trigger,
    Acknowledge,
    Resolve,
}

impl PagerDutyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PagerDutyAction::Trigger => "trigger",
            PagerDutyAction::Acknowledge => "acknowledge",
            PagerDutyAction::Resolve => "resolve",
        }
    }
}

impl Effect {
    /// Rows in one queue are delivered in order. Everything about the incident channel
    /// shares one queue, so nothing is posted before the channel exists.
    pub fn queue(&self, platform: &str) -> String {
        match self {
            Effect::UpsertFeed { channel, .. } | Effect::Reply { channel, .. } => {
                format!("{platform}:#{channel}")
            }
            Effect::CreateChannel { sev, .. }
            | Effect::Invite { sev, .. }
            | Effect::PostEvent { sev, .. }
            | Effect::ArchiveChannel { sev }
            | Effect::DeleteChannel { sev } => {
                format!("{platform}:{sev}")
            }
            Effect::SetTopic { incident } | Effect::UpsertCard { incident } => {
                format!("{platform}:{}", incident.id)
            }
            // Pages must not wait behind a channel being created.
            Effect::Page { person, .. } => format!("{platform}:page:{person}"),
            Effect::PagerDuty { sev, .. } => format!("pagerduty:{sev}"),
            Effect::UpsertImpact { sev, .. } => format!("{platform}:{sev}"),
            Effect::StatusPage { sev, .. } => format!("statuspage:{sev}"),
        }
    }
}

/// What a message is about; each adapter renders it in its own format.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    Card(&'a Incident),
    /// A feed's announcement; with the time of a scheduled status push.
    FeedAnnouncement(&'a Incident, Option<i64>),
    Event(SevId, &'a TimelineEvent),
    /// A page to one person: why they are paged, about which SEV.
    Page(&'a Incident, &'a str),
    /// The impact card: plain text, edited in place.
    Impact(&'a str),
}

impl Message<'_> {
    /// Plain text for terminals, notification previews and screen readers; platforms with
    /// rich formatting render their own alongside it.
    pub fn plain_text(&self, mention: &dyn Fn(&str) -> String) -> String {
        match self {
            Message::Card(inc) | Message::FeedAnnouncement(inc, None) => card_text(inc, mention),
            Message::FeedAnnouncement(inc, Some(at)) => format!(
                "{}\nStatus as of {}",
                card_text(inc, mention),
                crate::domain::incident::fmt_time(*at)
            ),
            Message::Event(_, ev) => describe(&ev.event, &ev.actor, mention),
            Message::Impact(text) => text.to_string(),
            Message::Page(inc, why) => format!(
                "{why}\n{} {} {} · {} · {}\nAcknowledge with the button or `/sev ack {}`.",
                inc.id, inc.level, inc.sev_type, inc.stage, inc.title, inc.id
            ),
        }
    }

    /// A button answering this message: the reminder offers to post an update, a page to
    /// acknowledge it. (action, label, SEV)
    pub fn action(&self) -> Option<(&'static str, &'static str, SevId)> {
        match self {
            Message::Page(inc, _) => Some(("sev_ack", "Acknowledge", inc.id)),
            Message::Event(sev, ev) if matches!(ev.event, EventKind::UpdateReminder { .. }) => {
                Some(("sev_update", "Post update", *sev))
            }
            _ => None,
        }
    }

    /// A short label for messages that sevbot keeps editing; `None` for timeline lines.
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            Message::Card(_) => Some("card"),
            Message::FeedAnnouncement(..) => Some("feed"),
            Message::Impact(_) => Some("impact"),
            Message::Event(..) | Message::Page(..) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again: rate limited, 5xx, timeout. `after` is the platform's own hint.
    #[error("temporary failure: {reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The channel name exists already; try the next suffix.
    #[error("channel name taken")]
    NameTaken,
    /// Retrying will not help (missing scope, channel archived…); the operator must act.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// A chat platform as the outbox sees it. Ids are the platform's own.
#[async_trait]
pub trait Platform: Send + Sync {
    fn name(&self) -> &str;
    /// How a person (a config person id, or `@handle` for someone not in the config) is
    /// mentioned on this platform.
    fn mention(&self, who: &str) -> String;
    /// How a channel (by platform id) is referred to in text.
    fn channel_ref(&self, channel: &str) -> String {
        format!("#{channel}")
    }
    /// The least time between two messages to one channel (Slack: about one a second).
    fn min_interval(&self) -> Duration {
        Duration::ZERO
    }
    /// Creates a channel and returns its id.
    async fn create_channel(&self, name: &str, private: bool) -> Result<String, DeliveryError>;
    /// `people` are platform handles.
    async fn invite(&self, channel: &str, people: &[String]) -> Result<(), DeliveryError>;
    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), DeliveryError>;
    /// Posts and returns the message id.
    async fn post(&self, channel: &str, msg: Message<'_>) -> Result<String, DeliveryError>;
    async fn edit(
        &self,
        channel: &str,
        message_id: &str,
        msg: Message<'_>,
    ) -> Result<(), DeliveryError>;
    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), DeliveryError>;
    /// Moves a finished SEV's channel out of the way (Slack: archived; Discord: moved to
    /// the archive category).
    async fn archive(&self, _channel: &str) -> Result<(), DeliveryError> {
        Ok(())
    }
    /// Deletes a channel whose retention has passed; platforms that keep archived
    /// channels do nothing.
    async fn delete_channel(&self, _channel: &str) -> Result<(), DeliveryError> {
        Ok(())
    }
    /// Pages `person` (a config person id or `@handle`) directly, with an Acknowledge button.
    async fn page(&self, person: &str, msg: Message<'_>) -> Result<(), DeliveryError>;
    /// A plain-text answer; `user` set means only that user (a platform handle) sees it.
    async fn reply(
        &self,
        channel: &str,
        user: Option<&str>,
        text: &str,
    ) -> Result<(), DeliveryError>;
}
