//! Drills: who may take part, what a scenario's monitoring shows, and the score at the end,
//! read from the drill's timeline. Pure.

use serde::{Deserialize, Serialize};

use super::incident::{EventKind, TimelineEvent};
use super::types::Role;
use super::words::fmt_duration;

/// The score a drill ends with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// How long it ran.
    pub seconds: i64,
    /// From the start to the first status update; `None`: there was none.
    pub first_update_seconds: Option<i64>,
    /// Gaps between updates (from the start) that stayed within the cadence, of all the
    /// gaps the cadence asked for; `cadence_minutes` 0: the level asks for none.
    pub on_cadence: u32,
    pub due: u32,
    pub cadence_minutes: u32,
    /// Each role the SEV needed and how long it took to fill (`None`: never filled).
    pub roles: Vec<(Role, Option<i64>)>,
    /// Whether the customer update was needed, drafted and approved.
    pub draft_needed: bool,
    pub drafted: bool,
    pub approved: bool,
}

/// Scores a drill from its timeline: `start` is its declaration, `end` now, `required`
/// the roles its level needs, `cadence_minutes` its level's update cadence.
pub fn score(
    timeline: &[TimelineEvent],
    start: i64,
    end: i64,
    required: &[Role],
    cadence_minutes: u32,
    draft_needed: bool,
) -> Score {
    let updates: Vec<i64> = timeline
        .iter()
        .filter(|e| matches!(e.event, EventKind::Update { .. }))
        .map(|e| e.at)
        .collect();
    let cadence = i64::from(cadence_minutes) * 60_000;
    let (mut on_cadence, mut due) = (0, 0);
    if cadence > 0 {
        let mut last = start;
        for at in &updates {
            due += 1;
            if at - last <= cadence {
                on_cadence += 1;
            }
            last = *at;
        }
        // Ending within a cadence of the last update owes nothing more.
        if end - last > cadence {
            due += 1;
        }
    }
    let roles = required
        .iter()
        .map(|r| {
            let filled = timeline.iter().find_map(|e| match &e.event {
                EventKind::RoleAssigned { role, .. } if role == r => Some(e.at),
                _ => None,
            });
            (*r, filled.map(|at| (at - start).max(0) / 1000))
        })
        .collect();
    let has = |f: fn(&EventKind) -> bool| timeline.iter().any(|e| f(&e.event));
    Score {
        seconds: (end - start).max(0) / 1000,
        first_update_seconds: updates.first().map(|at| (at - start).max(0) / 1000),
        on_cadence,
        due,
        cadence_minutes,
        roles,
        draft_needed,
        drafted: has(|e| matches!(e, EventKind::DraftProposed { .. })),
        approved: has(|e| matches!(e, EventKind::DraftApproved { .. })),
    }
}

impl Score {
    /// "ran 32 min: first update after 3 min; updates on cadence 2 of 3 (every 15 min);
    /// IMOC after 1 min, TLOC after 4 min, BMOC not filled; customer update drafted, not
    /// approved".
    pub fn describe(&self) -> String {
        let first = match self.first_update_seconds {
            Some(s) => format!("first update after {}", fmt_duration(s)),
            None => "no update posted".into(),
        };
        let cadence = match self.cadence_minutes {
            0 => "no update cadence at this level".into(),
            m => format!(
                "updates on cadence {} of {} (every {m} min)",
                self.on_cadence, self.due
            ),
        };
        let roles = self
            .roles
            .iter()
            .map(|(r, s)| match s {
                Some(s) => format!("{r} after {}", fmt_duration(*s)),
                None => format!("{r} not filled"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let draft = match (self.draft_needed, self.drafted, self.approved) {
            (false, false, _) => "no customer update needed".to_string(),
            (_, true, true) => "customer update drafted and approved".into(),
            (_, true, false) => "customer update drafted, not approved".into(),
            (true, false, _) => "no customer update drafted".into(),
        };
        format!(
            "ran {}: {first}; {cadence}; {roles}; {draft}",
            fmt_duration(self.seconds)
        )
    }
}

/// What a scenario's make-believe monitoring shows: `web-checkout at 88.0% (120 of 1000
/// requests failing)`.
pub fn impact_line(samples: &[(String, u64, u64)]) -> Option<String> {
    let parts: Vec<String> = samples
        .iter()
        .map(|(route, requests, failures)| {
            let ok =
                100.0 * (requests.saturating_sub(*failures)) as f64 / (*requests).max(1) as f64;
            format!("{route} at {ok:.1}% ({failures} of {requests} requests failing)")
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn ev(min: i64, event: EventKind) -> TimelineEvent {
        TimelineEvent {
            at: min * MIN,
            actor: "bob".into(),
            event,
        }
    }

    fn update(min: i64) -> TimelineEvent {
        ev(min, EventKind::Update { text: "x".into() })
    }

    #[test]
    fn the_score_reads_updates_roles_and_the_draft() {
        let t = vec![
            ev(
                1,
                EventKind::RoleAssigned {
                    role: Role::Imoc,
                    person: "bob".into(),
                    previous: None,
                },
            ),
            update(3),
            update(25), // 22 min after the last: late at a 15 min cadence
            update(35),
            ev(36, EventKind::DraftProposed { draft: 1 }),
        ];
        let s = score(&t, 0, 60 * MIN, &[Role::Imoc, Role::Tloc], 15, true);
        assert_eq!(s.first_update_seconds, Some(180));
        assert_eq!(
            (s.on_cadence, s.due),
            (2, 4),
            "3 ok of 3, late, then 25 min to the end"
        );
        assert_eq!(s.roles, vec![(Role::Imoc, Some(60)), (Role::Tloc, None)]);
        assert_eq!(
            s.describe(),
            "ran 60 min: first update after 3 min; updates on cadence 2 of 4 (every 15 min); \
             IMOC after 1 min, TLOC not filled; customer update drafted, not approved"
        );
        // Ending within the cadence owes no more; no updates at all owes one.
        let s = score(&[update(10)], 0, 20 * MIN, &[], 15, false);
        assert_eq!((s.on_cadence, s.due), (1, 1));
        let s = score(&[], 0, 20 * MIN, &[], 15, false);
        assert_eq!((s.on_cadence, s.due, s.first_update_seconds), (0, 1, None));
        assert!(s.describe().contains("no update posted"));
    }

    #[test]
    fn monitoring_says_what_share_fails() {
        assert_eq!(
            impact_line(&[("web-checkout".into(), 1000, 120)]).as_deref(),
            Some("web-checkout at 88.0% (120 of 1000 requests failing)")
        );
        assert_eq!(impact_line(&[]), None);
    }
}
