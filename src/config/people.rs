//! People and rotations: who they are, where they are (timezones), how to reach them, and
//! who is on call when. Checked against each other (a rotation's members must be people).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::names::{self, parse_tz};
use super::{Problem, RawConfig};
use crate::domain::oncall::Rotation;
use crate::domain::{Role, SevType};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerson {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Platform → handle (`console`, `slack` user id, `discord` user id).
    #[serde(default)]
    pub handles: BTreeMap<String, String>,
    /// Person id of their manager, paged by a `manager` escalation step.
    #[serde(default)]
    pub manager: Option<String>,
    /// Also page them through PagerDuty (see `[pagerduty]`).
    #[serde(default)]
    pub pagerduty: bool,
}

pub(super) fn default_tz() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRotation {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub types: Vec<SevType>,
    pub members: Vec<String>,
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// `YYYY-MM-DD`, the day the first member takes over.
    pub start_date: String,
    /// `HH:MM` local time of each hand-off.
    #[serde(default = "default_handoff")]
    pub handoff_time: String,
    #[serde(default = "default_period")]
    pub period_days: u32,
    /// `HH:MM-HH:MM` local hours on duty (may wrap midnight); on duty around the clock
    /// when absent.
    #[serde(default)]
    pub active_hours: Option<String>,
    /// Weekdays on duty (`mon` … `sun`); every day when empty.
    #[serde(default)]
    pub active_days: Vec<String>,
    /// Page whoever this rotation puts on call through PagerDuty too.
    #[serde(default)]
    pub pagerduty: bool,
}

fn default_handoff() -> String {
    "09:00".into()
}

fn default_period() -> u32 {
    7
}

/// A person as the program uses them.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub timezone: Tz,
    pub handles: BTreeMap<String, String>,
    /// Paged by a `manager` escalation step when this person does not answer.
    pub manager: Option<String>,
    /// Pages to them also go to external paging (PagerDuty): flagged themselves or
    /// through a rotation they are in.
    pub pages_externally: bool,
}

/// Handles learned at run time: (platform, person id) → handle.
#[derive(Debug, Clone, Default)]
pub struct Learned(Arc<RwLock<BTreeMap<(String, String), String>>>);

impl Learned {
    pub fn get(&self, platform: &str, person: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(platform.to_string(), person.to_string()))
            .cloned()
    }

    pub fn set(&self, platform: &str, person: &str, handle: &str) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(
            (platform.to_string(), person.to_string()),
            handle.to_string(),
        );
    }

    pub(super) fn person_for(&self, platform: &str, handle: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|((p, _), h)| p == platform && h.eq_ignore_ascii_case(handle))
            .map(|((_, person), _)| person.clone())
    }
}

/// The people, the admins and the rotations, checked against each other.
pub(super) fn people_and_rotations(
    raw: &RawConfig,
    problems: &mut Vec<Problem>,
) -> (Vec<Person>, Vec<Rotation>) {
    let mut err =
        |location: String, message: String| problems.push(Problem::error(location, message));
    let mut people = Vec::new();
    let mut ids = HashSet::new();
    let mut handles = HashSet::new();
    for (i, p) in raw.people.iter().enumerate() {
        let loc = format!("people[{i}] ({})", p.id);
        if p.id.is_empty()
            || !p
                .id
                .chars()
                .all(|c| c.is_alphanumeric() || "._-".contains(c))
        {
            err(
                loc.clone(),
                format!("id \"{}\" must be letters, digits, '.', '_' or '-'", p.id),
            );
        }
        if !ids.insert(p.id.clone()) {
            err(loc.clone(), format!("duplicate person id \"{}\"", p.id));
        }
        for (platform, h) in &p.handles {
            if !handles.insert((platform.clone(), h.to_ascii_lowercase())) {
                err(
                    format!("{loc}.handles.{platform}"),
                    format!("handle \"{h}\" belongs to two people"),
                );
            }
        }
        let tz = parse_tz(&p.timezone).unwrap_or_else(|m| {
            err(format!("{loc}.timezone"), m);
            chrono_tz::UTC
        });
        people.push(Person {
            id: p.id.clone(),
            name: p.name.clone().unwrap_or_else(|| p.id.clone()),
            email: p.email.clone(),
            timezone: tz,
            handles: p.handles.clone(),
            manager: p.manager.clone(),
            pages_externally: p.pagerduty
                || raw
                    .rotations
                    .iter()
                    .any(|r| r.pagerduty && r.members.contains(&p.id)),
        });
    }
    for (i, a) in raw.admins.iter().enumerate() {
        if !ids.contains(a) {
            let known = raw.people.iter().map(|p| p.id.as_str());
            err(format!("admins[{i}]"), names::unknown_person(a, known));
        }
    }
    let mut rotations = Vec::new();
    for (i, r) in raw.rotations.iter().enumerate() {
        let loc = format!("rotations[{i}] ({})", r.name);
        if r.members.is_empty() {
            err(
                format!("{loc}.members"),
                "a rotation needs at least one member".into(),
            );
        }
        for (j, m) in r.members.iter().enumerate() {
            if !ids.contains(m) {
                let known = raw.people.iter().map(|p| p.id.as_str());
                err(
                    format!("{loc}.members[{j}]"),
                    format!(
                        "{} (add them under [[people]])",
                        names::unknown_person(m, known)
                    ),
                );
            }
        }
        let tz = parse_tz(&r.timezone).map_err(|m| err(format!("{loc}.timezone"), m));
        let date = NaiveDate::parse_from_str(&r.start_date, "%Y-%m-%d").map_err(|_| {
            err(
                format!("{loc}.start_date"),
                format!("\"{}\" is not a date like 2026-01-05", r.start_date),
            )
        });
        let time = NaiveTime::parse_from_str(&r.handoff_time, "%H:%M").map_err(|_| {
            err(
                format!("{loc}.handoff_time"),
                format!("\"{}\" is not a time like 09:00", r.handoff_time),
            )
        });
        if r.period_days == 0 {
            err(format!("{loc}.period_days"), "must be at least 1".into());
        }
        let active_hours = match r.active_hours.as_deref().map(parse_hours) {
            Some(Err(m)) => {
                err(format!("{loc}.active_hours"), m);
                None
            }
            Some(Ok(h)) => Some(h),
            None => None,
        };
        let mut active_days = vec![];
        for (j, d) in r.active_days.iter().enumerate() {
            match d.parse::<chrono::Weekday>() {
                Ok(w) => active_days.push(w),
                Err(_) => err(
                    format!("{loc}.active_days[{j}]"),
                    format!("\"{d}\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)"),
                ),
            }
        }
        // A rotation with a bad timezone, date or time is reported above and the config
        // refused; it is still kept (on UTC, from 1970, at midnight) so the checks that
        // follow do not also report its role as uncovered.
        {
            let timezone = tz.unwrap_or(chrono_tz::UTC);
            let start_date = date.unwrap_or_default();
            let handoff_time = time.unwrap_or_default();
            rotations.push(Rotation {
                active_hours,
                active_days,
                name: r.name.clone(),
                role: r.role,
                types: r.types.clone(),
                members: r.members.clone(),
                timezone,
                start_date,
                handoff_time,
                period_days: r.period_days.max(1),
            });
        }
    }
    for role in [Role::Imoc, Role::Tloc] {
        let uncovered: Vec<String> = SevType::ALL
            .into_iter()
            .filter(|t| crate::domain::oncall::rotation_for(&rotations, role, *t).is_none())
            .map(|t| t.to_string())
            .collect();
        // One line per role: a config without rotations is one gap, not eight.
        let which = match uncovered.len() {
            0 => continue,
            n if n == SevType::ALL.len() => "any".to_string(),
            _ => uncovered.join(", "),
        };
        problems.push(Problem::warning(
            "rotations".into(),
            format!("no {role} rotation covers {which} SEVs; that role will start unassigned"),
        ));
    }
    (people, rotations)
}

fn parse_hours(s: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let bad = || format!("\"{s}\" is not a range of hours like 09:00-17:00");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| bad());
    let (a, b) = (t(a)?, t(b)?);
    if a == b {
        return Err(format!(
            "\"{s}\" is an empty range; leave active_hours out for around the clock"
        ));
    }
    Ok((a, b))
}
