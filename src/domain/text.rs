//! Sevbot's words: timeline lines, the summary card, the topic. Rendered for a platform by
//! a `Markup`: how it mentions people, and how it makes text someone typed inert (a title
//! with `<!channel>` or a masked link is shown, never acted on).

use super::incident::{EventKind, Incident};
use super::types::Role;
pub use super::words::{fmt_duration, fmt_time};

/// How one platform shows sevbot's words.
#[derive(Clone, Copy)]
pub struct Markup<'a> {
    /// A person (config id or `@handle`) as the platform mentions them.
    pub mention: &'a dyn Fn(&str) -> String,
    /// Text someone typed (titles, updates, notes, reasons) or monitoring sent (alert
    /// names, routes), made inert for the platform.
    pub text: &'a dyn Fn(&str) -> String,
}

fn as_typed(t: &str) -> String {
    t.to_string()
}

impl<'a> Markup<'a> {
    /// Text shown as it is (a terminal, a test).
    pub fn plain(mention: &'a dyn Fn(&str) -> String) -> Markup<'a> {
        Markup {
            mention,
            text: &as_typed,
        }
    }
}

/// The channel topic: level, stage and IMOC at a glance.
pub fn topic(inc: &Incident, m: &Markup) -> String {
    let imoc = inc
        .roles
        .get(&Role::Imoc)
        .map(|p| (m.mention)(p))
        .unwrap_or_else(|| "unassigned".into());
    format!(
        "{} {} {} | {} | IMOC {} | {}",
        inc.id,
        inc.level,
        inc.sev_type,
        inc.stage,
        imoc,
        (m.text)(&inc.title)
    )
}

/// One timeline line, e.g. "alice changed the level SEV2 → SEV1: spreading to EU".
pub fn describe(ev: &EventKind, actor: &str, m: &Markup) -> String {
    let mention = m.mention;
    let esc = m.text;
    let who = mention(actor);
    let why = |r: &Option<String>| {
        r.as_ref()
            .map(|r| format!(": {}", esc(r)))
            .unwrap_or_default()
    };
    match ev {
        EventKind::Declared {
            sev_type,
            level,
            title,
            customer_impact,
        } => format!(
            "{who} declared a {level} {sev_type} SEV \"{}\"{}",
            esc(title),
            if *customer_impact {
                " with customer impact"
            } else {
                ""
            }
        ),
        EventKind::LevelChanged { from, to, reason } => {
            format!("{who} changed the level {from} → {to}{}", why(reason))
        }
        EventKind::StageChanged { from, to, reason } => {
            format!("{who} moved it {from} → {to}{}", why(reason))
        }
        EventKind::RoleAssigned {
            role,
            person,
            previous,
        } => match previous {
            Some(p) => format!("{who} made {} {role} (was {})", mention(person), mention(p)),
            None => format!("{who} made {} {role}", mention(person)),
        },
        EventKind::RoleUnfilled { role, why } => format!("{role} could not be filled: {why}"),
        EventKind::RoleRequested { role, asked } => format!(
            "{who} asks for {role}: {}, please hand it on with `/sev role {} @…` if you agree",
            asked
                .iter()
                .map(|p| mention(p))
                .collect::<Vec<_>>()
                .join(" or "),
            role.as_str()
        ),
        EventKind::Update { text } => format!("{who} posted an update: {}", esc(text)),
        EventKind::Note { text } => format!("{who} noted: {}", esc(text)),
        EventKind::FollowupAdded {
            number,
            text,
            owner,
            due,
        } => {
            let mut s = format!("{who} added follow-up #{number}: {}", esc(text));
            match (owner, due) {
                (Some(o), Some(d)) => s.push_str(&format!(" ({}, due {d})", mention(o))),
                (Some(o), None) => s.push_str(&format!(" ({})", mention(o))),
                (None, Some(d)) => s.push_str(&format!(" (due {d})")),
                (None, None) => {}
            }
            s
        }
        EventKind::FollowupDone { number } => format!("{who} marked follow-up #{number} done"),
        // The key and address are what a tracker answered: text, like anything typed.
        EventKind::TicketOpened { via, key, url } => {
            format!("{via} ticket {}: {}", esc(key), esc(url))
        }
        EventKind::Retitled { from, to } => {
            format!("{who} retitled it \"{}\" → \"{}\"", esc(from), esc(to))
        }
        EventKind::Diagnosed { note } => match note {
            Some(n) => format!("{who} marked it diagnosed: {}", esc(n)),
            None => format!("{who} marked it diagnosed"),
        },
        EventKind::Detected { at, signal } => {
            format!(
                "monitoring first saw it at {}: {}",
                fmt_time(*at),
                esc(signal)
            )
        }
        EventKind::ChannelCreated { name } => format!("channel #{name} opened"),
        EventKind::UpdateReminder {
            minutes_since_update,
            imoc,
        } => match imoc {
            Some(p) => format!(
                "no update for {minutes_since_update} min: {}, please post one (`/sev update …`)",
                mention(p)
            ),
            None => format!("no update for {minutes_since_update} min; reminded the IMOC"),
        },
        EventKind::Paged {
            person,
            role,
            step,
            via,
        } => {
            let via = via
                .as_ref()
                .map(|v| format!(" via {v}"))
                .unwrap_or_default();
            match (role, step) {
                (Some(r), 0) => format!("paged {} as {r}{via}", mention(person)),
                (None, 0) => format!("paged {}{via}", mention(person)),
                _ => format!("paged {} (escalation step {step}){via}", mention(person)),
            }
        }
        EventKind::PageFailed {
            person,
            role,
            step,
            via,
            reason,
            unpaged,
            escalating,
        } => {
            let what = match (role, step) {
                (Some(r), 0) => format!(" as {r}"),
                _ => format!(" (escalation step {step})"),
            };
            let then = match (unpaged, escalating) {
                (_, true) => "; nobody reached them, so the escalation moves on now",
                (true, false) => "; no route reached them",
                (false, false) => "",
            };
            format!(
                "could not page {}{what} on {via}: {}{then}",
                mention(person),
                esc(reason)
            )
        }
        EventKind::Escalated {
            after_minutes,
            unacked,
            to,
            target,
            unreachable,
            ..
        } => {
            let names = |v: &[String]| v.iter().map(|p| mention(p)).collect::<Vec<_>>().join(", ");
            let why = match (unacked.is_empty(), unreachable.is_empty()) {
                (true, false) => format!("{} could not be paged", names(unreachable)),
                (true, true) => format!("no ack from anyone after {after_minutes} min"),
                (false, true) => {
                    format!("no ack from {} after {after_minutes} min", names(unacked))
                }
                (false, false) => format!(
                    "no ack from {} after {after_minutes} min and {} could not be paged",
                    names(unacked),
                    names(unreachable)
                ),
            };
            match to.is_empty() {
                true => format!("{why}; the next step ({target}) pages nobody"),
                false => format!("{why}, paging {} ({target})", names(to)),
            }
        }
        EventKind::Impact { summary, suggested } => match suggested {
            Some(l) => format!(
                "monitoring: {}; this suggests {l} (confirm with `/sev level {}`)",
                esc(summary),
                l.get()
            ),
            None => format!("monitoring: {}", esc(summary)),
        },
        EventKind::Alert {
            name,
            route,
            firing,
        } => format!(
            "alert {}{} {}",
            esc(name),
            route
                .as_ref()
                .map(|r| format!(" on {}", esc(r)))
                .unwrap_or_default(),
            if *firing {
                "is firing"
            } else {
                "resolved; consider `/sev mitigated` or a lower level"
            }
        ),
        EventKind::DrillPrompt {
            minute,
            text,
            impact,
        } => format!(
            "DRILL, minute {minute}: {}{}",
            esc(text),
            impact
                .as_ref()
                .map(|i| format!(" Monitoring (make-believe): {}.", esc(i)))
                .unwrap_or_default()
        ),
        EventKind::DrillScored { score } => format!("DRILL over, the score: {}", score.describe()),
        EventKind::DraftProposed { draft } => {
            format!("{who} drafted customer update #{draft} (`/sev draft` to review)")
        }
        EventKind::DraftApproved {
            draft,
            published: true,
        } => format!("{who} approved customer update #{draft}; it was published"),
        EventKind::DraftApproved {
            draft,
            published: false,
        } => format!("{who} approved customer update #{draft} (a drill: sent nowhere)"),
        EventKind::Acknowledged {
            person,
            seconds,
            stopped_ladder,
        } => format!(
            "{} acknowledged after {}{}",
            mention(person),
            fmt_duration(*seconds),
            if *stopped_ladder {
                "; escalation stopped"
            } else {
                ""
            }
        ),
    }
}

/// The plain-text summary card; platforms with rich formatting render their own from the
/// same `Incident`.
pub fn card_text(inc: &Incident, m: &Markup) -> String {
    if inc.redacted {
        return format!(
            "{}\nStage: {}",
            super::access::redacted_line(inc.id, inc.sev_type),
            inc.stage
        );
    }
    let mention = m.mention;
    let roles = Role::ALL
        .iter()
        .filter_map(|r| inc.roles.get(r).map(|p| format!("{r} {}", mention(p))))
        .collect::<Vec<_>>();
    let missing: Vec<_> = inc
        .missing_roles()
        .iter()
        .map(|r| format!("{r} unassigned"))
        .collect();
    let mut out = format!(
        "{} · {} {} · {} · {}{}\nRoles: {}\nChannel: #{} · declared {} by {}",
        inc.id,
        inc.level,
        inc.sev_type,
        inc.stage,
        (m.text)(&inc.title),
        if inc.customer_impact {
            " · customer impact"
        } else {
            ""
        },
        [roles, missing].concat().join(", "),
        inc.channel_name,
        fmt_time(inc.declared_at),
        mention(&inc.declared_by),
    );
    if let Some(u) = &inc.latest_update {
        out.push_str(&format!("\nLatest update: {}", (m.text)(u)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Level, SevId, SevType, Stage};
    use std::collections::BTreeMap;

    fn inc() -> Incident {
        Incident {
            id: SevId(7),
            sev_type: SevType::Availability,
            level: Level::new(2).unwrap(),
            stage: Stage::Declared,
            title: "Checkout failing".into(),
            customer_impact: false,
            declared_by: "dave".into(),
            declared_at: 0,
            platform: "console".into(),
            channel_name: "sev-7-checkout-failing".into(),
            roles: BTreeMap::from([(Role::Imoc, "alice".into()), (Role::Tloc, "bob".into())]),
            latest_update: None,
            restricted: false,
            redacted: false,
            drill: false,
        }
    }

    #[test]
    fn a_trackers_answer_is_text() {
        let mention = |p: &str| format!("@{p}");
        let text = |t: &str| t.replace('<', "&lt;");
        let m = Markup {
            mention: &mention,
            text: &text,
        };
        let ev = EventKind::TicketOpened {
            via: "the tracker webhook".into(),
            key: "<!channel>".into(),
            url: "https://t.example/<!here>".into(),
        };
        let line = describe(&ev, "sevbot", &m);
        assert!(!line.contains("<!"), "{line}");
    }

    #[test]
    fn descriptions_and_card() {
        let mention = |p: &str| format!("@{p}");
        let m = Markup::plain(&mention);
        let i = inc();
        assert_eq!(
            describe(
                &EventKind::LevelChanged {
                    from: Level::new(2).unwrap(),
                    to: Level::new(1).unwrap(),
                    reason: Some("EU too".into())
                },
                "alice",
                &m
            ),
            "@alice changed the level SEV2 → SEV1: EU too"
        );
        let card = card_text(&i, &m);
        assert!(
            card.starts_with("SEV-7 · SEV2 availability · declared · Checkout failing"),
            "{card}"
        );
        assert!(card.contains("IMOC @alice, TLOC @bob"));
        assert!(topic(&i, &m).contains("IMOC @alice"));
    }

    /// Every place typed text appears goes through the platform's `text`, and mentions
    /// through its `mention` — never the other way round.
    #[test]
    fn typed_text_goes_through_the_platforms_escaping_and_mentions_do_not() {
        let mention = |p: &str| format!("<@{p}>");
        let esc = |t: &str| format!("[{t}]");
        let m = Markup {
            mention: &mention,
            text: &esc,
        };
        let mut i = inc();
        i.title = "T".into();
        i.latest_update = Some("U".into());
        let card = card_text(&i, &m);
        assert!(
            card.contains("· [T]") && card.contains("Latest update: [U]"),
            "{card}"
        );
        assert!(card.contains("IMOC <@alice>"), "{card}");
        assert!(topic(&i, &m).ends_with("IMOC <@alice> | [T]"));
        let reason = Some("R".to_string());
        for (ev, want) in [
            (
                EventKind::Update { text: "x".into() },
                "<@bob> posted an update: [x]",
            ),
            (EventKind::Note { text: "x".into() }, "<@bob> noted: [x]"),
            (
                EventKind::StageChanged {
                    from: Stage::Declared,
                    to: Stage::Investigating,
                    reason: reason.clone(),
                },
                "<@bob> moved it declared → investigating: [R]",
            ),
            (
                EventKind::Alert {
                    name: "A".into(),
                    route: Some("r".into()),
                    firing: true,
                },
                "alert [A] on [r] is firing",
            ),
        ] {
            assert_eq!(describe(&ev, "bob", &m), want);
        }
    }
}
