//! Platform-neutral outbound effects, stored as versioned JSON in the outbox, how each is
//! routed (its queue and lane), and the ports that deliver them: chat platforms
//! (`Platform`) and webhook-style sinks such as PagerDuty and status pages (`Sink`).

mod message;
mod platform;
mod sink;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{EventKind, Incident, SevId, TimelineEvent};

pub use message::Message;
pub use platform::{NewChannel, Platform, Reach};
pub use sink::{Capability, Outgoing, Sent, Sink, TicketRef};

/// The encoding written today. Rows carry the version they were written with; older
/// encodings are read by `Effect::decode`.
pub const EFFECT_VERSION: i64 = 2;

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
    /// A closed SEV was reopened: bring its channel back.
    UnarchiveChannel {
        sev: SevId,
    },
    /// The retention of an archived channel has passed.
    DeleteChannel {
        sev: SevId,
    },
    /// Pages a person directly (a direct message with an Acknowledge button); `person` is
    /// a config person id or `@handle`. `page` is the page's row (v2), so its delivery or
    /// failure lands on the timeline.
    Page {
        incident: Incident,
        person: String,
        why: String,
        #[serde(default)]
        page: Option<i64>,
    },
    /// Reminds a follow-up's owner (a config person id) that it is due, in a direct
    /// message without an Acknowledge button.
    RemindFollowup {
        sev: SevId,
        person: String,
        number: i64,
        text: String,
        due: String,
    },
    /// A file for one person, in a direct message (`user` a platform handle): the
    /// postmortem someone asked for, too long and too precious for a chat message.
    SendFile {
        sev: SevId,
        user: String,
        filename: String,
        content: String,
        text: String,
    },
    /// The impact card in the incident channel (degraded routes), edited in place.
    UpsertImpact {
        sev: SevId,
        text: String,
    },
    /// An approved customer update for a status page sink.
    StatusPage {
        sev: SevId,
        url: String,
        body: String,
    },
    /// One message of a SEV's e-mail thread to one address: the opening when `message_id`
    /// is `thread`, else a reply to it (`In-Reply-To` and `References` name `thread`).
    Email {
        sev: SevId,
        to: String,
        subject: String,
        body: String,
        message_id: String,
        thread: String,
    },
    /// The SEV's ticket in a tracker (Jira, a webhook): opened at the declaration, then
    /// commented on; the postmortem attached when it is resolved.
    Ticket {
        sev: SevId,
        #[serde(flatten)]
        action: TicketAction,
    },
    /// A page through an external paging service (PagerDuty's Events API): triggered
    /// with a stable `dedup_key`, then acknowledged and resolved. Written as `pager_duty`
    /// by version 1.
    #[serde(alias = "pager_duty")]
    ExternalPage {
        sev: SevId,
        action: PageAction,
        dedup_key: String,
        summary: String,
        severity: String,
        #[serde(default)]
        person: Option<String>,
        #[serde(default)]
        page: Option<i64>,
    },
}

/// What to do to a SEV's ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TicketAction {
    /// Opens it; `label` finds it again after an attempt whose outcome sevbot did not see.
    Open {
        summary: String,
        description: String,
        level: crate::domain::Level,
        sev_type: crate::domain::SevType,
        label: String,
    },
    Comment {
        text: String,
    },
    /// A file on the ticket (the postmortem, in Markdown).
    Attach {
        filename: String,
        content: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageAction {
    Trigger,
    Acknowledge,
    Resolve,
}

impl PageAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PageAction::Trigger => "trigger",
            PageAction::Acknowledge => "acknowledge",
            PageAction::Resolve => "resolve",
        }
    }
}

/// The severity an external page carries, in the words paging services share
/// (PagerDuty's `critical`, `error`, `warning`, `info`).
pub fn page_severity(level: crate::domain::Level) -> &'static str {
    match level.get() {
        0 => "critical",
        1 => "error",
        2 => "warning",
        _ => "info",
    }
}

/// Which class of work a row is: pages leave first and never wait behind anything else;
/// machine chatter (alerts, monitoring notes, the impact card) is folded together and
/// never goes ahead of what people said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    Page = 0,
    Human = 1,
    Machine = 2,
}

impl Lane {
    pub fn from_i64(n: i64) -> Lane {
        match n {
            0 => Lane::Page,
            2 => Lane::Machine,
            _ => Lane::Human,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Page => "page",
            Lane::Human => "human",
            Lane::Machine => "machine",
        }
    }
}

/// Suffix of the queue machine chatter for a SEV's channel waits in.
pub const MACHINE_QUEUE: &str = ":auto";

impl Effect {
    /// Rows in one queue are delivered in order. Everything people see about the incident
    /// channel shares one queue, so nothing is posted before the channel exists; pages
    /// wait for nobody; machine chatter has a queue of its own beside the channel's.
    pub fn route(&self, platform: &str) -> (String, Lane) {
        match self {
            Effect::UpsertFeed { channel, .. } | Effect::Reply { channel, .. } => {
                (format!("{platform}:#{channel}"), Lane::Human)
            }
            Effect::PostEvent { sev, event } if is_machine_chatter(&event.event) => {
                (format!("{platform}:{sev}{MACHINE_QUEUE}"), Lane::Machine)
            }
            Effect::UpsertImpact { sev, .. } => {
                (format!("{platform}:{sev}{MACHINE_QUEUE}"), Lane::Machine)
            }
            Effect::CreateChannel { sev, .. }
            | Effect::Invite { sev, .. }
            | Effect::PostEvent { sev, .. }
            | Effect::ArchiveChannel { sev }
            | Effect::UnarchiveChannel { sev }
            | Effect::DeleteChannel { sev } => (format!("{platform}:{sev}"), Lane::Human),
            Effect::SetTopic { incident } | Effect::UpsertCard { incident } => {
                (format!("{platform}:{}", incident.id), Lane::Human)
            }
            Effect::Page { person, .. } => (format!("{platform}:page:{person}"), Lane::Page),
            // A reminder waits behind that person's pages and is no page itself.
            Effect::RemindFollowup { person, .. } => {
                (format!("{platform}:page:{person}"), Lane::Human)
            }
            Effect::ExternalPage { sev, .. } => (format!("{platform}:{sev}"), Lane::Page),
            Effect::StatusPage { sev, .. } => (format!("{platform}:{sev}"), Lane::Human),
            // One queue per address keeps each recipient's thread in order; one slow
            // mailbox holds up nobody else.
            Effect::Email { sev, to, .. } => (format!("{platform}:{sev}:{to}"), Lane::Human),
            Effect::SendFile { user, .. } => (format!("{platform}:dm:{user}"), Lane::Human),
            // Comments wait behind the ticket's opening.
            Effect::Ticket { sev, .. } => (format!("{platform}:{sev}"), Lane::Human),
        }
    }

    /// The channel a message lands in, for per-channel pacing: the SEV's channel for
    /// everything about it (its own queue and its machine queue), else the queue's target.
    /// `None` for what is not a message in a channel (channel management, pages).
    pub fn pace_key(&self, platform: &str) -> Option<String> {
        match self {
            Effect::PostEvent { sev, .. }
            | Effect::UpsertImpact { sev, .. }
            | Effect::UpsertCard {
                incident: Incident { id: sev, .. },
            } => Some(format!("{platform}:{sev}")),
            Effect::UpsertFeed { channel, .. } | Effect::Reply { channel, .. } => {
                Some(format!("{platform}:#{channel}"))
            }
            _ => None,
        }
    }

    /// A short name for logs, metrics and `sevbot outbox list`.
    pub fn label(&self) -> &'static str {
        match self {
            Effect::CreateChannel { .. } => "create_channel",
            Effect::Invite { .. } => "invite",
            Effect::SetTopic { .. } => "set_topic",
            Effect::UpsertCard { .. } => "card",
            Effect::UpsertFeed { .. } => "feed",
            Effect::PostEvent { .. } => "post",
            Effect::Reply { .. } => "reply",
            Effect::ArchiveChannel { .. } => "archive",
            Effect::UnarchiveChannel { .. } => "unarchive",
            Effect::DeleteChannel { .. } => "delete_channel",
            Effect::Page { .. } => "page",
            Effect::RemindFollowup { .. } => "remind_followup",
            Effect::ExternalPage { .. } => "external_page",
            Effect::UpsertImpact { .. } => "impact",
            Effect::StatusPage { .. } => "statuspage",
            Effect::Email { .. } => "email",
            Effect::SendFile { .. } => "send_file",
            Effect::Ticket { .. } => "ticket",
        }
    }

    /// The SEV the effect is about, where there is one.
    pub fn sev(&self) -> Option<SevId> {
        match self {
            Effect::CreateChannel { sev, .. }
            | Effect::Invite { sev, .. }
            | Effect::PostEvent { sev, .. }
            | Effect::ArchiveChannel { sev }
            | Effect::UnarchiveChannel { sev }
            | Effect::DeleteChannel { sev }
            | Effect::UpsertImpact { sev, .. }
            | Effect::StatusPage { sev, .. }
            | Effect::Email { sev, .. }
            | Effect::SendFile { sev, .. }
            | Effect::Ticket { sev, .. }
            | Effect::RemindFollowup { sev, .. }
            | Effect::ExternalPage { sev, .. } => Some(*sev),
            Effect::SetTopic { incident }
            | Effect::UpsertCard { incident }
            | Effect::UpsertFeed { incident, .. }
            | Effect::Page { incident, .. } => Some(incident.id),
            Effect::Reply { .. } => None,
        }
    }

    pub fn encode(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Reads a stored row. Version 1 differs from today's only by names and fields that
    /// serde's aliases and defaults cover; a later change of shape adds its upgrade here.
    pub fn decode(version: i64, json: &str) -> anyhow::Result<Effect> {
        match version {
            1 | EFFECT_VERSION => Ok(serde_json::from_str(json)?),
            v => anyhow::bail!(
                "written by a newer sevbot (effect version {v}; this one reads up to {EFFECT_VERSION})"
            ),
        }
    }

    /// One example of every variant, for the golden encoding tests. The match below makes
    /// a new variant without an example a compile error.
    pub fn examples() -> Vec<Effect> {
        let ex = examples::all();
        for e in &ex {
            match e {
                Effect::CreateChannel { .. }
                | Effect::Invite { .. }
                | Effect::SetTopic { .. }
                | Effect::UpsertCard { .. }
                | Effect::UpsertFeed { .. }
                | Effect::Reply { .. }
                | Effect::PostEvent { .. }
                | Effect::ArchiveChannel { .. }
                | Effect::UnarchiveChannel { .. }
                | Effect::DeleteChannel { .. }
                | Effect::Page { .. }
                | Effect::RemindFollowup { .. }
                | Effect::UpsertImpact { .. }
                | Effect::StatusPage { .. }
                | Effect::Email { .. }
                | Effect::SendFile { .. }
                | Effect::Ticket { .. }
                | Effect::ExternalPage { .. } => {}
            }
        }
        ex
    }
}

/// Lines machines write (alerts, monitoring's notes): folded together in storms, and
/// never ahead of a person's line.
pub fn is_machine_chatter(ev: &EventKind) -> bool {
    matches!(ev, EventKind::Alert { .. } | EventKind::Impact { .. })
}

mod examples {
    use super::*;
    use crate::domain::{Level, Role, SevType, Stage};

    pub fn incident() -> Incident {
        Incident {
            id: SevId(7),
            sev_type: SevType::Availability,
            level: Level::new(1).expect("static level"),
            stage: Stage::Investigating,
            title: "Checkout failing".into(),
            customer_impact: true,
            declared_by: "alice".into(),
            declared_at: 1_772_445_600_000,
            platform: "slack".into(),
            channel_name: "sev-7-checkout-failing".into(),
            roles: [(Role::Imoc, "alice".into()), (Role::Tloc, "bob".into())]
                .into_iter()
                .collect(),
            latest_update: Some("rolled back".into()),
            restricted: false,
            redacted: false,
            drill: false,
        }
    }

    pub fn all() -> Vec<Effect> {
        let inc = incident();
        let sev = SevId(7);
        vec![
            Effect::CreateChannel {
                sev,
                title: "Checkout failing".into(),
                private: false,
                attempt: 1,
            },
            Effect::Invite {
                sev,
                people: vec!["alice".into(), "bob".into()],
            },
            Effect::SetTopic {
                incident: inc.clone(),
            },
            Effect::UpsertCard {
                incident: inc.clone(),
            },
            Effect::UpsertFeed {
                channel: "C0FEED".into(),
                incident: inc.clone(),
                as_of: Some(1_772_446_500_000),
            },
            Effect::Reply {
                channel: "C0GENERAL".into(),
                user: Some("U_ALICE".into()),
                text: "SEV-7: done.".into(),
            },
            Effect::PostEvent {
                sev,
                event: TimelineEvent {
                    at: 1_772_445_660_000,
                    actor: "alice".into(),
                    event: EventKind::Update {
                        text: "rolled back".into(),
                    },
                },
            },
            Effect::ArchiveChannel { sev },
            Effect::UnarchiveChannel { sev },
            Effect::DeleteChannel { sev },
            Effect::Page {
                incident: inc.clone(),
                person: "bob".into(),
                why: "You are paged as TLOC for SEV-7.".into(),
                page: Some(3),
            },
            Effect::UpsertImpact {
                sev,
                text: "Impact as of 10:00 UTC: no route is degraded.".into(),
            },
            Effect::RemindFollowup {
                sev,
                person: "bob".into(),
                number: 2,
                text: "Alert on queue depth".into(),
                due: "2026-03-10".into(),
            },
            Effect::StatusPage {
                sev,
                url: "http://status.example/hook".into(),
                body: "We are investigating.".into(),
            },
            Effect::Email {
                sev,
                to: "incidents@example.com".into(),
                subject: "Re: [SEV-7] SEV1 availability: Checkout failing".into(),
                body: "SEV-7 at 10:05 UTC: @alice posted an update: rolled back".into(),
                message_id: "<sev-7.1772445600000.1772445900000.0a1b2c3d@example.com>".into(),
                thread: "<sev-7.1772445600000@example.com>".into(),
            },
            Effect::SendFile {
                sev,
                user: "U_ALICE".into(),
                filename: "postmortem-SEV-7.md".into(),
                content: "# SEV-7: Checkout failing\n".into(),
                text: "SEV-7's postmortem as of 2026-03-02 10:30 UTC".into(),
            },
            Effect::Ticket {
                sev,
                action: TicketAction::Open {
                    summary: "SEV-7 SEV1 availability: Checkout failing".into(),
                    description: "SEV-7 · SEV1 availability · declared · Checkout failing".into(),
                    level: Level::new(1).expect("static level"),
                    sev_type: SevType::Availability,
                    label: "sevbot-sev-7-1772445600000".into(),
                },
            },
            Effect::ExternalPage {
                sev,
                action: PageAction::Trigger,
                dedup_key: "sevbot/SEV-7/bob".into(),
                summary: "SEV-7 SEV1 availability: Checkout failing (paging bob)".into(),
                severity: "error".into(),
                person: Some("bob".into()),
                page: Some(3),
            },
        ]
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again: rate limited, 5xx, connection refused. `after` is the platform's own hint.
    #[error("temporary failure: {reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The call may have taken effect without sevbot seeing it (a timeout): reconcile
    /// with the platform before trying again.
    #[error("outcome unknown: {0}")]
    Uncertain(String),
    /// The platform answered success in a shape sevbot cannot read: the effect may have
    /// happened. Retried (after reconciling) a bounded number of times.
    #[error("unreadable answer: {0}")]
    Unreadable(String),
    /// Something this effect needs is not there yet (the SEV's channel is still being
    /// created): wait without counting an attempt.
    #[error("not yet: {0}")]
    NotYet(String),
    /// The channel name exists already; try the next suffix.
    #[error("channel name taken")]
    NameTaken,
    /// Retrying will not help (missing scope, channel archived…); the operator must act.
    #[error("permanent failure: {0}")]
    Permanent(String),
}
