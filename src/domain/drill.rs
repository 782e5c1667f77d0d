//! Drills: who may take part, what a scenario's monitoring shows, and the score at the end,
//! read from the drill's timeline. Pure.

use super::incident::{EventKind, TimelineEvent};
pub use super::score::Score;
use super::types::Role;

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
