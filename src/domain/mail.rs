//! What people outside a SEV's channel hear of it — its e-mail thread and its tracker
//! ticket: which addresses are acceptable, what each message says, and the ids that make
//! mail clients thread them (every reply points at the opening).
//!
//! Restricted SEVs reach an address not cleared for them as one redacted line per stage or
//! level change: no title, no roles, no update text.

use sha2::{Digest, Sha256};

pub use super::address::valid_address;
use super::text::{Markup, card_text, describe};
use super::words::fmt_time;
use super::{EventKind, Incident, Stage, TimelineEvent};

/// The text of one message of the thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailText {
    pub subject: String,
    pub body: String,
}

/// The domain of a sender such as `sevbot <sevbot@example.com>`, for message ids.
pub fn sender_domain(from: &str) -> &str {
    from.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .unwrap_or("sevbot.invalid")
}

/// `[SEV-7] SEV1 availability: Checkout failing`; a restricted SEV says only its type.
pub fn subject(inc: &Incident) -> String {
    let s = if inc.redacted {
        format!("[{}] {} · restricted", inc.id, inc.sev_type)
    } else {
        format!("[{}] {} {}: {}", inc.id, inc.level, inc.sev_type, inc.title)
    };
    // A title typed with a line break stays one header line.
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The thread's first message: the SEV as its card shows it.
pub fn opening(inc: &Incident, m: &Markup) -> MailText {
    let mut body = card_text(inc, m);
    body.push_str(if inc.redacted {
        "\n\nThis SEV is restricted: its details stay in its channel. Replies to this thread \
         say when its stage or level changes.\n"
    } else {
        "\n\nReplies to this thread carry each status update and stage change.\n"
    });
    body.push_str(FOOTER);
    MailText {
        subject: subject(inc),
        body,
    }
}

/// The line people outside the channel (lists, tickets) get for an event they should hear
/// of — status updates, stage and level changes, a new title — or `None`. For a redacted
/// SEV, only the bare change: no reason typed, no update text.
pub fn outside_line(inc: &Incident, ev: &TimelineEvent, m: &Markup) -> Option<String> {
    let told = match &ev.event {
        // Someone started on it: the opening said "declared", the update says the rest.
        EventKind::StageChanged {
            from: Stage::Declared,
            to: Stage::Investigating,
            ..
        } => false,
        EventKind::StageChanged { .. } | EventKind::LevelChanged { .. } => true,
        EventKind::Update { .. } | EventKind::Retitled { .. } => !inc.redacted,
        _ => false,
    };
    if !told {
        return None;
    }
    Some(if inc.redacted {
        let bare = match &ev.event {
            EventKind::StageChanged { from, to, .. } => format!("moved {from} → {to}"),
            EventKind::LevelChanged { from, to, .. } => format!("level {from} → {to}"),
            _ => return None,
        };
        format!("{}: {bare}", inc.id)
    } else {
        describe(&ev.event, &ev.actor, m)
    })
}

/// A reply for an event the list should hear of (see `outside_line`), or `None`.
pub fn reply(inc: &Incident, ev: &TimelineEvent, m: &Markup) -> Option<MailText> {
    let line = outside_line(inc, ev, m)?;
    let body = format!(
        "{} at {}: {line}\n\n{}\n\n{FOOTER}",
        inc.id,
        fmt_time(ev.at),
        card_text(inc, m)
    );
    Some(MailText {
        subject: format!("Re: {}", subject(inc)),
        body,
    })
}

const FOOTER: &str =
    "-- \nsevbot: replies to this address are not read; talk in the SEV's channel.";

/// The opening's Message-ID, which every reply refers to.
pub fn thread_id(inc: &Incident, domain: &str) -> String {
    format!(
        "<{}.{}@{domain}>",
        inc.id.to_string().to_ascii_lowercase(),
        inc.declared_at
    )
}

/// A reply's Message-ID: the same for every recipient and every retry of that event.
pub fn reply_id(inc: &Incident, ev: &TimelineEvent, domain: &str) -> String {
    let digest = Sha256::digest(serde_json::to_vec(ev).unwrap_or_default());
    format!(
        "<{}.{}.{}.{}@{domain}>",
        inc.id.to_string().to_ascii_lowercase(),
        inc.declared_at,
        ev.at,
        hex::encode(&digest[..4])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Level, Role, SevId, SevType};

    fn inc() -> Incident {
        Incident {
            id: SevId(7),
            sev_type: SevType::Availability,
            level: Level::new(1).unwrap(),
            stage: Stage::Investigating,
            title: "Checkout\nfailing".into(),
            customer_impact: true,
            declared_by: "alice".into(),
            declared_at: 1_772_445_600_000,
            platform: "slack".into(),
            channel_name: "sev-7-checkout".into(),
            roles: [(Role::Imoc, "alice".to_string())].into(),
            latest_update: None,
            restricted: true,
            redacted: false,
            drill: false,
        }
    }

    fn m() -> Markup<'static> {
        Markup::plain(&|p: &str| format!("@{p}"))
    }

    fn ev(event: EventKind) -> TimelineEvent {
        TimelineEvent {
            at: 1_772_445_900_000,
            actor: "bob".into(),
            event,
        }
    }

    #[test]
    fn addresses() {
        for ok in ["ops@example.com", "a.b+sev@mail.example.co.uk"] {
            assert!(valid_address(ok), "{ok}");
        }
        for bad in [
            "ops",
            "ops@localhost",
            "Ops <ops@example.com>",
            "a@example.com,b@example.com",
            "a@example.com\r\nBcc: x@evil.example",
            "@example.com",
            "a..b@example.com",
        ] {
            assert!(!valid_address(bad), "{bad}");
        }
        assert_eq!(sender_domain("sevbot <sevbot@example.com>"), "example.com");
    }

    #[test]
    fn subjects_are_one_line_and_redacted_ones_say_nothing() {
        assert_eq!(
            subject(&inc()),
            "[SEV-7] SEV1 availability: Checkout failing"
        );
        let r = inc().redacted();
        assert_eq!(subject(&r), "[SEV-7] availability · restricted");
        assert!(!opening(&r, &m()).body.contains("Checkout"));
    }

    #[test]
    fn replies_for_updates_and_changes_only() {
        let i = inc();
        let upd = ev(EventKind::Update {
            text: "rolled back".into(),
        });
        let r = reply(&i, &upd, &m()).unwrap();
        assert!(r.subject.starts_with("Re: [SEV-7]"));
        assert!(
            r.body.contains("@bob posted an update: rolled back"),
            "{}",
            r.body
        );
        assert!(reply(&i, &ev(EventKind::Note { text: "x".into() }), &m()).is_none());
        // Restricted: stage changes without their reason, no updates at all.
        let red = i.redacted();
        assert!(reply(&red, &upd, &m()).is_none());
        let moved = ev(EventKind::StageChanged {
            from: Stage::Investigating,
            to: Stage::Mitigated,
            reason: Some("rotated the leaked key".into()),
        });
        let r = reply(&red, &moved, &m()).unwrap();
        assert!(r.body.contains("investigating → mitigated"), "{}", r.body);
        assert!(!r.body.contains("leaked"));
    }

    #[test]
    fn ids_thread_and_are_stable() {
        let i = inc();
        assert_eq!(
            thread_id(&i, "example.com"),
            "<sev-7.1772445600000@example.com>"
        );
        let e = ev(EventKind::Update { text: "a".into() });
        assert_eq!(reply_id(&i, &e, "x.org"), reply_id(&i, &e, "x.org"));
        let f = ev(EventKind::Update { text: "b".into() });
        assert_ne!(reply_id(&i, &e, "x.org"), reply_id(&i, &f, "x.org"));
    }
}
