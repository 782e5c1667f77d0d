//! A drill's score, as recorded on its timeline and told in its channel (`drill::score`
//! reads it off the timeline). Apart from `drill` so the timeline's events can carry it.

use serde::{Deserialize, Serialize};

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
