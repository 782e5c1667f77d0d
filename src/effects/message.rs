//! What a message is about; each adapter renders it in its own format.

use crate::domain::actions::CardAction;
use crate::domain::text::{Markup, card_text, describe};
use crate::domain::{EventKind, Incident, SevId, TimelineEvent};

/// A storm folded into one message shows this many lines; the rest are counted (all of
/// them are on the timeline).
pub const BATCH_LINES: usize = 15;

#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    Card(&'a Incident),
    /// A feed's announcement; with the time of a scheduled status push.
    FeedAnnouncement(&'a Incident, Option<i64>),
    Event(SevId, &'a TimelineEvent),
    /// Machine lines that arrived together (an alert storm), told as one message.
    Batch(SevId, &'a [TimelineEvent]),
    /// A page to one person: why they are paged, about which SEV.
    Page(&'a Incident, &'a str),
    /// The impact card: plain text, edited in place.
    Impact(&'a str),
    /// A follow-up's owner reminded on its due date, in a direct message.
    FollowupDue {
        sev: SevId,
        number: i64,
        text: &'a str,
        due: &'a str,
    },
}

impl Message<'_> {
    /// The SEV a card or feed announcement shows in full (not a redacted one): what a link
    /// to its web page goes with.
    pub fn shown_sev(&self) -> Option<SevId> {
        match self {
            Message::Card(inc) | Message::FeedAnnouncement(inc, _) if !inc.redacted => Some(inc.id),
            _ => None,
        }
    }

    /// Plain text for terminals, notification previews and screen readers; platforms with
    /// rich formatting render their own alongside it.
    pub fn plain_text(&self, m: &Markup) -> String {
        match self {
            Message::Card(inc) | Message::FeedAnnouncement(inc, None) => card_text(inc, m),
            Message::FeedAnnouncement(inc, Some(at)) => format!(
                "{}\nStatus as of {}",
                card_text(inc, m),
                crate::domain::text::fmt_time(*at)
            ),
            Message::Event(_, ev) => describe(&ev.event, &ev.actor, m),
            Message::Batch(sev, events) => batch_text(*sev, events, m),
            // Written by sevbot from the catalogue and monitoring's numbers.
            Message::Impact(text) => (m.text)(text),
            Message::FollowupDue {
                sev,
                number,
                text,
                due,
            } => format!(
                "Follow-up #{number} of {sev} is due {due}: {}\nMark it done with `/sev {sev} followup done {number}`.",
                (m.text)(text)
            ),
            Message::Page(inc, why) => format!(
                "{why}\n{} {} {} · {} · {}\nAcknowledge with the button or `/sev ack {}`.",
                inc.id,
                inc.level,
                inc.sev_type,
                inc.stage,
                (m.text)(&inc.title),
                inc.id
            ),
        }
    }

    /// A button answering this message: the reminder offers to post an update, a page to
    /// acknowledge it. (action, label, SEV)
    pub fn action(&self) -> Option<(CardAction, SevId)> {
        match self {
            Message::Page(inc, _) => Some((CardAction::Ack, inc.id)),
            Message::Event(sev, ev) if matches!(ev.event, EventKind::UpdateReminder { .. }) => {
                Some((CardAction::PostUpdate, *sev))
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
            Message::Event(..)
            | Message::Batch(..)
            | Message::Page(..)
            | Message::FollowupDue { .. } => None,
        }
    }
}

/// "12 alerts:" and the first lines, then how many more and where they all are.
fn batch_text(sev: SevId, events: &[TimelineEvent], m: &Markup) -> String {
    let n = events.len();
    let alerts = events
        .iter()
        .filter(|e| matches!(e.event, EventKind::Alert { .. }))
        .count();
    let count = |k: usize, one: &str| match k {
        1 => format!("1 {one}"),
        k => format!("{k} {one}s"),
    };
    let head = match alerts {
        a if a == n => format!("{}:", count(n, "alert")),
        0 => format!("{}:", count(n, "monitoring note")),
        a => format!(
            "{} and {}:",
            count(a, "alert"),
            count(n - a, "monitoring note")
        ),
    };
    let mut lines = vec![head];
    lines.extend(
        events
            .iter()
            .take(BATCH_LINES)
            .map(|e| format!("• {}", describe(&e.event, &e.actor, m))),
    );
    if n > BATCH_LINES {
        lines.push(format!(
            "…and {} more; `/sev timeline {sev}` lists every one.",
            n - BATCH_LINES
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(i: usize, firing: bool) -> TimelineEvent {
        TimelineEvent {
            at: 0,
            actor: "sevbot".into(),
            event: EventKind::Alert {
                name: format!("A{i}"),
                route: None,
                firing,
            },
        }
    }

    #[test]
    fn a_storm_reads_as_one_message_that_counts_what_it_does_not_show() {
        let events: Vec<TimelineEvent> = (0..40).map(|i| alert(i, true)).collect();
        let same = |w: &str| w.to_string();
        let text = Message::Batch(SevId(3), &events).plain_text(&Markup::plain(&same));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "40 alerts:");
        assert_eq!(lines[1], "• alert A0 is firing");
        assert_eq!(lines.len(), 1 + BATCH_LINES + 1);
        assert_eq!(
            lines.last().unwrap(),
            &"…and 25 more; `/sev timeline SEV-3` lists every one."
        );
        let mixed = vec![
            alert(1, true),
            TimelineEvent {
                at: 0,
                actor: "sevbot".into(),
                event: EventKind::Impact {
                    summary: "x".into(),
                    suggested: None,
                },
            },
        ];
        let text = Message::Batch(SevId(3), &mixed).plain_text(&Markup::plain(&same));
        assert!(text.starts_with("1 alert and 1 monitoring note:"), "{text}");
    }
}
