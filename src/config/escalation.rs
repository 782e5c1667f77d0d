//! Escalation policies, PagerDuty and scheduled posts in the config, and the checks that
//! flag policies which would fail in an outage: a step that resolves to nobody, delays
//! that do not increase, a rotation with nobody on call at some hour of the week, a SEV0
//! ladder that takes longer than 30 minutes to reach an exec.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::names::{self, parse_tz};
use super::{Problem, RawConfig};
use crate::domain::escalation::{Policy, Step, Target, check_structure};
use crate::domain::oncall::{Rotation, on_call_for, rotation_for};
use crate::domain::{Level, Role, SevType};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub name: String,
    #[serde(default)]
    pub levels: Vec<Level>,
    #[serde(default)]
    pub types: Vec<SevType>,
    pub steps: Vec<RawStep>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub after_minutes: u32,
    /// `secondary`, `manager`, `exec`, `person:<id>` or `rotation:<name>`.
    #[serde(default)]
    pub target: String,
}

/// PagerDuty Events API v2, for people and rotations with `pagerduty = true`. The routing
/// (integration) key is a secret: it comes from the environment variable named here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    #[serde(default = "default_events_url")]
    pub events_url: String,
    #[serde(default = "default_routing_key_env")]
    pub routing_key_env: String,
}

fn default_events_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}

fn default_routing_key_env() -> String {
    "PAGERDUTY_ROUTING_KEY".into()
}

impl Default for PagerDutyConfig {
    fn default() -> Self {
        PagerDutyConfig {
            events_url: default_events_url(),
            routing_key_env: default_routing_key_env(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// A digest of every open SEV.
    Digest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub name: String,
    /// Five fields (minute hour day month weekday), or six with seconds first.
    pub cron: String,
    #[serde(default = "super::people::default_tz")]
    pub timezone: String,
    #[serde(default = "default_kind")]
    pub post: ScheduleKind,
    pub platform: String,
    pub channel: String,
}

fn default_kind() -> ScheduleKind {
    ScheduleKind::Digest
}

/// A validated schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub expr: String,
    pub cron: croner::Cron,
    pub tz: Tz,
    pub kind: ScheduleKind,
    pub platform: String,
    pub channel: String,
}

impl Schedule {
    /// The first time strictly after `after_ms`, in UTC ms. croner runs a time that falls
    /// in a daylight-saving gap at the first valid instant after it, and once on a
    /// repeated hour.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let at = DateTime::<Utc>::from_timestamp_millis(after_ms)?.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&at, false)
            .ok()
            .map(|t| t.with_timezone(&Utc).timestamp_millis())
    }
}

pub(super) fn parse_schedules(raw: &RawConfig, problems: &mut Vec<Problem>) -> Vec<Schedule> {
    let mut out = vec![];
    for (i, s) in raw.schedules.iter().enumerate() {
        let loc = format!("schedules[{i}] ({})", s.name);
        let tz = parse_tz(&s.timezone);
        let cron = croner::Cron::from_str(&s.cron);
        match (tz, cron) {
            (Ok(tz), Ok(cron)) => out.push(Schedule {
                name: s.name.clone(),
                expr: s.cron.clone(),
                cron,
                tz,
                kind: s.post,
                platform: s.platform.clone(),
                channel: s.channel.trim_start_matches('#').to_string(),
            }),
            (tz, cron) => {
                if let Err(e) = tz {
                    problems.push(Problem::error(format!("{loc}.timezone"), e));
                }
                if cron.is_err() {
                    let why = super::cron::explain(&s.cron);
                    problems.push(Problem::error(format!("{loc}.cron"), why));
                }
            }
        }
    }
    out
}

/// Parses the policies and checks them against the people and rotations they page.
pub(super) fn parse_policies(
    raw: &RawConfig,
    rotations: &[Rotation],
    now: DateTime<Utc>,
    problems: &mut Vec<Problem>,
) -> Vec<Policy> {
    let known = |id: &str| raw.people.iter().any(|p| p.id == id);
    let ids = || raw.people.iter().map(|p| p.id.as_str());
    for (i, e) in raw.execs.iter().enumerate() {
        if !known(e) {
            let at = format!("execs[{i}]");
            problems.push(Problem::error(at, names::unknown_person(e, ids())));
        }
    }
    for (i, p) in raw.people.iter().enumerate() {
        if let Some(m) = &p.manager
            && !known(m)
        {
            let at = format!("people[{i}] ({}).manager", p.id);
            problems.push(Problem::error(at, names::unknown_person(m, ids())));
        }
    }
    let mut policies = vec![];
    for (i, rp) in raw.escalation_policies.iter().enumerate() {
        let loc = format!("escalation_policies[{i}] ({})", rp.name);
        let mut steps = vec![];
        // A step that is wrong is reported; what the ladder lacks without it is not (the
        // step may have been meant to supply it).
        let mut whole = true;
        for (j, s) in rp.steps.iter().enumerate() {
            let at = format!("{loc}.steps[{j}]");
            if s.target.trim().is_empty() {
                problems.push(Problem::error(
                    at,
                    "step without a target: nobody would be paged (secondary, manager, exec, person:<id>, rotation:<name>)".into(),
                ));
                whole = false;
                continue;
            }
            match Target::parse(&s.target) {
                Ok(target) => {
                    if let Some(why) = unresolvable(&target, raw, rotations) {
                        problems.push(Problem::error(at.clone(), why));
                    }
                    steps.push(Step {
                        after_minutes: s.after_minutes,
                        target,
                    });
                }
                Err(e) => {
                    problems.push(Problem::error(at, e));
                    whole = false;
                }
            }
        }
        let policy = Policy {
            name: rp.name.clone(),
            levels: rp.levels.clone(),
            types: rp.types.clone(),
            steps,
        };
        for pp in check_structure(&policy)
            .into_iter()
            .filter(|pp| whole || !pp.lacks)
        {
            problems.push(Problem {
                location: loc.clone(),
                message: pp.message,
                fatal: pp.fatal,
            });
        }
        policies.push(policy);
    }
    // The default ladder (no policy for some level) needs what it names too.
    let default_needed = Level::all().any(|l| {
        SevType::ALL
            .iter()
            .any(|t| !policies.iter().any(|p| covers(p, l, *t)))
    });
    if default_needed {
        for target in [Target::Manager, Target::Exec] {
            if let Some(why) = unresolvable(&target, raw, rotations) {
                problems.push(Problem::warning(
                    "escalation_policies (default ladder: 5 min secondary, 15 manager, 30 exec)"
                        .into(),
                    why,
                ));
            }
        }
    }
    for role in Role::ALL {
        for t in SevType::ALL {
            if rotation_for(rotations, role, t).is_none() {
                continue; // reported as "no rotation covers" elsewhere
            }
            if let Some(gap) = first_gap(rotations, role, t, now) {
                problems.push(Problem::warning(
                    format!("rotations ({role}, {t} SEVs)"),
                    format!("nobody is on call at {gap} UTC: a {t} SEV declared then starts without a {role} and pages nobody"),
                ));
            }
        }
    }
    policies
}

fn covers(p: &Policy, l: Level, t: SevType) -> bool {
    (p.levels.is_empty() || p.levels.contains(&l)) && (p.types.is_empty() || p.types.contains(&t))
}

/// Why a target would page nobody at some point, if it would.
fn unresolvable(target: &Target, raw: &RawConfig, rotations: &[Rotation]) -> Option<String> {
    match target {
        Target::Person(p) if !raw.people.iter().any(|x| &x.id == p) => Some(format!(
            "{} (add them under [[people]])",
            names::unknown_person(p, raw.people.iter().map(|x| x.id.as_str()))
        )),
        Target::Rotation(r) if !rotations.iter().any(|x| &x.name == r) => Some(format!(
            "unknown rotation \"{r}\"{}",
            names::hint(r, raw.rotations.iter().map(|x| x.name.as_str()))
        )),
        Target::Exec if raw.execs.is_empty() => {
            Some("target exec, but `execs` lists nobody".into())
        }
        Target::Manager => {
            let imocs = rotations.iter().filter(|r| r.role == Role::Imoc);
            let missing: Vec<&str> = imocs
                .flat_map(|r| r.members.iter())
                // A member who is not in [[people]] is reported as such, not here.
                .filter(|m| {
                    raw.people
                        .iter()
                        .find(|p| &p.id == *m)
                        .is_some_and(|p| p.manager.is_none())
                })
                .map(String::as_str)
                .collect();
            (!missing.is_empty()).then(|| {
                format!(
                    "target manager, but {} (on an IMOC rotation) has no manager: nobody would be paged when they are on call",
                    missing.join(", ")
                )
            })
        }
        Target::Secondary => {
            let lonely: Vec<&str> = SevType::ALL
                .iter()
                .filter_map(|t| rotation_for(rotations, Role::Imoc, *t))
                .filter(|r| r.members.len() < 2)
                .map(|r| r.name.as_str())
                .collect();
            (!lonely.is_empty()).then(|| {
                format!(
                    "target secondary, but rotation {} has a single member, so there is no secondary",
                    lonely.join(", ")
                )
            })
        }
        _ => None,
    }
}

/// The first hour of the coming week when no rotation puts anyone on call for `role`.
fn first_gap(rotations: &[Rotation], role: Role, t: SevType, now: DateTime<Utc>) -> Option<String> {
    (0..7 * 24)
        .map(|h| now + Duration::hours(h))
        .find_map(|at| {
            on_call_for(rotations, role, t, at)
                .is_none()
                .then(|| at.format("%a %Y-%m-%d %H:%M").to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::super::{RawConfig, validate};
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};

    fn check(toml: &str) -> Vec<(String, String, bool)> {
        let raw: RawConfig = Figment::from(Serialized::defaults(RawConfig::empty()))
            .merge(Toml::string(toml))
            .extract()
            .unwrap();
        validate(raw)
            .1
            .into_iter()
            .map(|p| (p.location, p.message, p.fatal))
            .collect()
    }

    const PEOPLE: &str = r#"
execs = ["erin"]
[[people]]
id = "alice"
manager = "dave"
[[people]]
id = "bob"
[[people]]
id = "dave"
[[people]]
id = "erin"
[[rotations]]
name = "imoc"
role = "imoc"
members = ["alice", "bob"]
start_date = "2026-01-05"
[[rotations]]
name = "tloc"
role = "tloc"
members = ["bob"]
start_date = "2026-01-05"
active_hours = "09:00-17:00"
active_days = ["mon", "tue", "wed", "thu", "fri"]
"#;

    #[test]
    fn policies_that_would_fail_in_an_outage_are_flagged() {
        let p = check(&format!(
            r#"{PEOPLE}
[[escalation_policies]]
name = "sev0"
levels = [0]
steps = [
  {{ after_minutes = 5, target = "secondary" }},
  {{ after_minutes = 5, target = "manager" }},
  {{ after_minutes = 40, target = "exec" }},
  {{ after_minutes = 50 }},
  {{ after_minutes = 60, target = "person:zoe" }},
]
"#
        ));
        let has =
            |loc: &str, msg: &str| p.iter().any(|(l, m, _)| l.contains(loc) && m.contains(msg));
        assert!(has("steps[3]", "step without a target"), "{p:#?}");
        assert!(has("sev0", "must increase"), "{p:#?}");
        assert!(has("sev0", "only after 40 minutes"), "{p:#?}");
        assert!(has("steps[4]", "unknown person \"zoe\""), "{p:#?}");
        assert!(
            has("steps[1]", "bob (on an IMOC rotation) has no manager"),
            "{p:#?}"
        );
        assert!(
            has("rotations (TLOC, availability SEVs)", "nobody is on call"),
            "{p:#?}"
        );
    }

    fn schedule(cron: &str, tz: &str) -> super::Schedule {
        let raw: RawConfig = Figment::from(Serialized::defaults(RawConfig::empty()))
            .merge(Toml::string(&format!(
                "[[schedules]]\nname = \"s\"\ncron = \"{cron}\"\ntimezone = \"{tz}\"\nplatform = \"console\"\nchannel = \"x\"\n"
            )))
            .extract()
            .unwrap();
        let mut problems = vec![];
        let s = super::parse_schedules(&raw, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        s.into_iter().next().unwrap()
    }

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    fn fires(s: &super::Schedule, from: &str, n: usize) -> Vec<String> {
        let mut t = utc(from);
        (0..n)
            .map(|_| {
                t = s.next_after(t).unwrap();
                chrono::DateTime::from_timestamp_millis(t)
                    .unwrap()
                    .to_rfc3339()
            })
            .collect()
    }

    #[test]
    fn cron_runs_through_daylight_saving_changes() {
        // Berlin springs forward 2026-03-29 02:00 → 03:00: the 02:30 run happens at 03:00.
        let s = schedule("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            fires(&s, "2026-03-27T12:00:00Z", 3),
            vec![
                "2026-03-28T01:30:00+00:00",
                "2026-03-29T01:00:00+00:00",
                "2026-03-30T00:30:00+00:00"
            ]
        );
        // Falls back 2026-10-25 03:00 → 02:00: 02:30 comes twice but runs once.
        assert_eq!(
            fires(&s, "2026-10-24T12:00:00Z", 3),
            vec![
                "2026-10-25T00:30:00+00:00",
                "2026-10-26T01:30:00+00:00",
                "2026-10-27T01:30:00+00:00"
            ]
        );
        // Five fields, weekdays 09:00 and 17:00.
        let w = schedule("0 9,17 * * 1-5", "Europe/Berlin");
        assert_eq!(
            fires(&w, "2026-03-27T12:00:00Z", 3),
            vec![
                "2026-03-27T16:00:00+00:00",
                "2026-03-30T07:00:00+00:00",
                "2026-03-30T15:00:00+00:00"
            ]
        );
    }

    #[test]
    fn a_sound_policy_passes_and_cron_is_checked() {
        let p = check(&format!(
            r##"{PEOPLE}
[[people]]
id = "carol"
[[escalation_policies]]
name = "all"
steps = [
  {{ after_minutes = 5, target = "secondary" }},
  {{ after_minutes = 10, target = "person:carol" }},
  {{ after_minutes = 30, target = "exec" }},
]
[[schedules]]
name = "digest"
cron = "0 9,17 * * 1-5"
timezone = "Europe/Berlin"
platform = "console"
channel = "#sev-feed"
[[schedules]]
name = "bad"
cron = "every day"
timezone = "Mars/Base"
platform = "console"
channel = "x"
"##
        ));
        let policy_problems: Vec<_> = p
            .iter()
            .filter(|(l, _, _)| l.contains("escalation_policies"))
            .collect();
        assert!(policy_problems.is_empty(), "{policy_problems:#?}");
        assert!(
            p.iter()
                .any(|(l, m, f)| l == "schedules[1] (bad).cron" && m.contains("every day") && *f)
        );
        assert!(
            p.iter()
                .any(|(l, _, f)| l == "schedules[1] (bad).timezone" && *f)
        );
        assert!(!p.iter().any(|(l, _, _)| l.starts_with("schedules[0]")));
    }
}
