//! What a postmortem measures, read from a SEV's timeline: when each phase began and ended,
//! how long each took, and who held which role and which level applied when. Pure: the
//! engine renders it through the operator's template.
//!
//! The phases, one after the other: **detection** from the first SEV-worthy signal
//! (monitoring's first failing sample or the alert's start; the declare itself when a
//! person saw it first) to the first responder paged; **diagnosis** from then to the first
//! mitigation step identified (`/sev diagnosed`, else taken as the mitigation's start);
//! **recovery** from then to mitigated. Besides: time to acknowledge (first page to first
//! acknowledgement) and time to resolve (signal to resolved).

use serde::Serialize;

use super::incident::{EventKind, TimelineEvent};
use super::types::{Level, Role, Stage};

/// The instants the phases run between (ms since the epoch); `None` until it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Phases {
    pub signal_at: i64,
    /// What the first signal was.
    pub signal: String,
    pub first_paged: Option<i64>,
    pub acknowledged: Option<i64>,
    pub diagnosed: Option<i64>,
    /// Whether `diagnosed` was marked, or taken from the mitigation.
    pub diagnosis_marked: bool,
    pub mitigated: Option<i64>,
    pub resolved: Option<i64>,
}

/// Seconds each phase took; `None` while it is still running or never happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Durations {
    pub detection: Option<i64>,
    pub diagnosis: Option<i64>,
    pub recovery: Option<i64>,
    pub to_acknowledge: Option<i64>,
    pub to_resolve: Option<i64>,
}

/// A level and when it applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelSpan {
    pub level: Level,
    pub from: i64,
    pub to: Option<i64>,
    pub reason: Option<String>,
}

/// Someone holding a role, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenure {
    pub role: Role,
    pub person: String,
    pub from: i64,
    pub to: Option<i64>,
}

pub fn phases(timeline: &[TimelineEvent]) -> Phases {
    let declared = timeline
        .iter()
        .find(|e| matches!(e.event, EventKind::Declared { .. }))
        .map(|e| e.at)
        .unwrap_or_default();
    let mut p = Phases {
        signal_at: declared,
        signal: "declared".into(),
        ..Phases::default()
    };
    let first = |slot: &mut Option<i64>, at: i64| {
        slot.get_or_insert(at);
    };
    for e in timeline {
        match &e.event {
            // Monitoring may have seen it before the declare, never after.
            EventKind::Detected { at, signal } if *at <= p.signal_at => {
                p.signal_at = *at;
                p.signal = signal.clone();
            }
            EventKind::Paged { .. } => first(&mut p.first_paged, e.at),
            EventKind::Acknowledged { .. } => first(&mut p.acknowledged, e.at),
            EventKind::Diagnosed { .. } if p.diagnosed.is_none() => {
                p.diagnosed = Some(e.at);
                p.diagnosis_marked = true;
            }
            EventKind::StageChanged { to, .. } => match to {
                Stage::Mitigated => first(&mut p.mitigated, e.at),
                // Mitigated and resolved in one step.
                Stage::Resolved => {
                    first(&mut p.mitigated, e.at);
                    first(&mut p.resolved, e.at);
                }
                _ => {}
            },
            _ => {}
        }
    }
    if p.diagnosed.is_none() {
        p.diagnosed = p.mitigated;
    }
    p
}

impl Phases {
    pub fn durations(&self) -> Durations {
        let secs = |from: Option<i64>, to: Option<i64>| match (from, to) {
            (Some(a), Some(b)) => Some((b - a).max(0) / 1000),
            _ => None,
        };
        let signal = Some(self.signal_at);
        Durations {
            detection: secs(signal, self.first_paged),
            // Nobody paged (everyone was already there): diagnosis runs from the signal.
            diagnosis: secs(self.first_paged.or(signal), self.diagnosed),
            recovery: secs(self.diagnosed, self.mitigated),
            to_acknowledge: secs(self.first_paged, self.acknowledged),
            to_resolve: secs(signal, self.resolved),
        }
    }
}

/// The levels it went through, each with when it applied and why it changed.
pub fn level_history(timeline: &[TimelineEvent]) -> Vec<LevelSpan> {
    let mut spans: Vec<LevelSpan> = vec![];
    for e in timeline {
        let (level, reason) = match &e.event {
            EventKind::Declared { level, .. } => (*level, None),
            EventKind::LevelChanged { to, reason, .. } => (*to, reason.clone()),
            _ => continue,
        };
        if let Some(last) = spans.last_mut() {
            last.to = Some(e.at);
        }
        spans.push(LevelSpan {
            level,
            from: e.at,
            to: None,
            reason,
        });
    }
    spans
}

/// Who held each role, from when until when (`to` `None`: still holds it).
pub fn role_history(timeline: &[TimelineEvent]) -> Vec<Tenure> {
    let mut held: Vec<Tenure> = vec![];
    for e in timeline {
        if let EventKind::RoleAssigned { role, person, .. } = &e.event {
            if let Some(t) = held.iter_mut().find(|t| t.role == *role && t.to.is_none()) {
                t.to = Some(e.at);
            }
            held.push(Tenure {
                role: *role,
                person: person.clone(),
                from: e.at,
                to: None,
            });
        }
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SevType;

    const MIN: i64 = 60_000;

    fn at(minute: i64, event: EventKind) -> TimelineEvent {
        TimelineEvent {
            at: 1_000_000 + minute * MIN,
            actor: "x".into(),
            event,
        }
    }

    fn declared() -> EventKind {
        EventKind::Declared {
            sev_type: SevType::Availability,
            level: Level::new(2).unwrap(),
            title: "t".into(),
            customer_impact: false,
        }
    }

    fn paged() -> EventKind {
        EventKind::Paged {
            person: "ian".into(),
            role: Some(Role::Imoc),
            step: 0,
            via: None,
        }
    }

    fn stage(to: Stage) -> EventKind {
        EventKind::StageChanged {
            from: Stage::Investigating,
            to,
            reason: None,
        }
    }

    #[test]
    fn phases_from_a_monitoring_signal_through_resolution() {
        let tl = vec![
            at(0, declared()),
            at(
                0,
                EventKind::Detected {
                    at: 1_000_000 - 4 * MIN,
                    signal: "first failing sample on checkout".into(),
                },
            ),
            at(1, paged()),
            at(
                3,
                EventKind::Acknowledged {
                    person: "ian".into(),
                    seconds: 120,
                    stopped_ladder: true,
                },
            ),
            at(12, EventKind::Diagnosed { note: None }),
            at(20, stage(Stage::Mitigated)),
            at(50, stage(Stage::Resolved)),
        ];
        let p = phases(&tl);
        assert_eq!(p.signal, "first failing sample on checkout");
        assert!(p.diagnosis_marked);
        assert_eq!(
            p.durations(),
            Durations {
                detection: Some(5 * 60),
                diagnosis: Some(11 * 60),
                recovery: Some(8 * 60),
                to_acknowledge: Some(2 * 60),
                to_resolve: Some(54 * 60),
            }
        );
    }

    #[test]
    fn diagnosis_ends_at_mitigation_when_unmarked_and_phases_run_until_they_end() {
        let tl = vec![
            at(0, declared()),
            at(2, paged()),
            at(9, stage(Stage::Resolved)),
        ];
        let p = phases(&tl);
        assert!(!p.diagnosis_marked);
        let d = p.durations();
        assert_eq!(d.detection, Some(120));
        assert_eq!(d.diagnosis, Some(7 * 60), "taken as the mitigation's start");
        assert_eq!(d.recovery, Some(0));
        assert_eq!(d.to_acknowledge, None, "nobody acknowledged");
        let open = phases(&tl[..2]).durations();
        assert_eq!(
            (open.diagnosis, open.recovery, open.to_resolve),
            (None, None, None)
        );
    }

    #[test]
    fn level_and_role_history() {
        let tl = vec![
            at(0, declared()),
            at(
                0,
                EventKind::RoleAssigned {
                    role: Role::Imoc,
                    person: "ian".into(),
                    previous: None,
                },
            ),
            at(
                5,
                EventKind::LevelChanged {
                    from: Level::new(2).unwrap(),
                    to: Level::new(0).unwrap(),
                    reason: Some("spreading".into()),
                },
            ),
            at(
                7,
                EventKind::RoleAssigned {
                    role: Role::Imoc,
                    person: "alice".into(),
                    previous: Some("ian".into()),
                },
            ),
        ];
        let levels = level_history(&tl);
        assert_eq!(levels.len(), 2);
        assert_eq!(levels[0].to, Some(levels[1].from));
        assert_eq!(levels[1].reason.as_deref(), Some("spreading"));
        let roles = role_history(&tl);
        assert_eq!(roles[0].person, "ian");
        assert_eq!(roles[0].to, Some(roles[1].from));
        assert_eq!((roles[1].person.as_str(), roles[1].to), ("alice", None));
    }
}
