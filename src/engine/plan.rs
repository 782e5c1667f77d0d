//! `/sev oncall` and `/sev simulate`: who holds each role, and whom a SEV declared at a
//! given moment would page and when — read from the config as it stands, so a team can
//! check Saturday 03:00 before an outage does. A time without an offset is read in the
//! timezone of the rotation it is asked of. People are named, never mentioned: a question
//! about the rota notifies nobody.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::*;
use crate::domain::Level;
use crate::domain::oncall::Rotation;
use crate::domain::when::When;

/// "Sat 2026-12-05 03:00 Europe/Berlin (02:00 UTC)".
fn moment(at: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    if tz == chrono_tz::UTC {
        return local.format("%a %Y-%m-%d %H:%M UTC").to_string();
    }
    format!(
        "{} {tz} ({} UTC)",
        local.format("%a %Y-%m-%d %H:%M"),
        at.format("%H:%M")
    )
}

impl Engine {
    /// The instant `at` means for `rotation` (now when not given), and how to say it.
    fn instant(
        &self,
        at: Option<When>,
        rotation: Option<&Rotation>,
        now: i64,
    ) -> (DateTime<Utc>, String) {
        let now = DateTime::<Utc>::from_timestamp_millis(now).unwrap_or_default();
        let tz = rotation.map_or(chrono_tz::UTC, |r| r.timezone);
        let t = at.map_or(now, |w| w.resolve(tz, now));
        (t, moment(t, tz))
    }

    pub(super) fn oncall(&self, role: Option<Role>, at: Option<When>, now: i64) -> Reply {
        let cfg = self.cfg();
        let roles = role.map_or(Role::ALL.to_vec(), |r| vec![r]);
        let mut lines = vec![];
        for role in roles {
            // Types with the same answer share a line.
            let mut groups: Vec<(Vec<&str>, String)> = vec![];
            for t in SevType::ALL {
                let rotation = rotation_for(&cfg.rotations, role, t);
                let (instant, said) = self.instant(at, rotation, now);
                let who = match cfg.on_call(role, t, instant) {
                    Some((r, p)) => format!("{} (rotation {})", cfg.display_name(p), r.name),
                    None => "nobody: the role starts unassigned".into(),
                };
                let answer = format!("{who}, {said}");
                match groups.iter_mut().find(|(_, a)| *a == answer) {
                    Some((types, _)) => types.push(t.as_str()),
                    None => groups.push((vec![t.as_str()], answer)),
                }
            }
            for (types, answer) in groups {
                lines.push(format!("{role} for {} SEVs: {answer}", types.join(", ")));
            }
        }
        let when = if at.is_some() { "then" } else { "now" };
        Reply::private(format!("On call {when}:\n{}", lines.join("\n")))
    }

    pub(super) fn simulate(&self, level: Level, t: SevType, at: Option<When>, now: i64) -> Reply {
        let cfg = self.cfg();
        let (instant, said) = self.instant(at, rotation_for(&cfg.rotations, Role::Imoc, t), now);
        let holder = |role: Role| cfg.on_call(role, t, instant).map(|(_, p)| p.to_string());
        let imoc = holder(Role::Imoc);
        let mut lines = vec![format!("A {level} {t} SEV declared {said} would page:")];
        let bmoc_too = level.get() <= 1;
        for role in Role::ALL {
            if role == Role::Bmoc && !bmoc_too {
                lines.push(
                    "  BMOC: not filled at this level unless declared --customer-impact".into(),
                );
                continue;
            }
            let who = holder(role).map_or("nobody on call: unassigned".into(), |p| {
                format!("{} at once", cfg.display_name(&p))
            });
            lines.push(format!("  {role}: {who}"));
        }
        let ladder = cfg.ladder(level, t, imoc.as_deref(), instant);
        lines.push(format!(
            "If the IMOC does not acknowledge (escalation policy {}):",
            ladder.policy
        ));
        for step in &ladder.steps {
            let who = match step.people.as_slice() {
                [] => "nobody (this step pages no one)".to_string(),
                people => people
                    .iter()
                    .map(|p| cfg.display_name(p))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            lines.push(format!(
                "  after {} min: {} — {who}",
                step.after_minutes, step.target
            ));
        }
        Reply::private(lines.join("\n"))
    }
}
