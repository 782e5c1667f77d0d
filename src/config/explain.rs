//! `sevbot check-config --explain`: who is on call for each role now, and the ladder each
//! level would climb, so a team checks its rotations before an outage does.

use chrono::{DateTime, Utc};

use super::Config;
use crate::domain::escalation::Ladder;
use crate::domain::{Level, Role, SevType};

/// The explanation at `now`.
pub fn explain(cfg: &Config, now: DateTime<Utc>) -> String {
    let mut out = format!("On call at {} UTC:\n", now.format("%Y-%m-%d %H:%M"));
    for role in Role::ALL {
        let holders = by_type(|t| match cfg.on_call(role, t, now) {
            Some((r, p)) => format!("{p} (rotation {})", r.name),
            None => "nobody: the role starts unassigned".into(),
        });
        let note = match role {
            Role::Bmoc => " (filled for SEV0 and SEV1, and any SEV declared --customer-impact)",
            _ => "",
        };
        out.push_str(&format!("  {role}{note}:{}\n", lines(&holders)));
    }
    out.push_str(
        "\nLadders (who is paged when a page is not acknowledged, resolved at that time):\n",
    );
    for level in Level::all() {
        let ladders = by_type(|t| {
            let primary = cfg.on_call(Role::Imoc, t, now).map(|(_, p)| p);
            describe(&cfg.ladder(level, t, primary, now), primary)
        });
        out.push_str(&format!("  {level}:{}\n", lines(&ladders)));
    }
    out
}

/// The value for each SEV type, types with the same value grouped (in the types' order).
fn by_type(f: impl Fn(SevType) -> String) -> Vec<(Vec<SevType>, String)> {
    let mut groups: Vec<(Vec<SevType>, String)> = Vec::new();
    for t in SevType::ALL {
        let v = f(t);
        match groups.iter_mut().find(|(_, g)| *g == v) {
            Some((types, _)) => types.push(t),
            None => groups.push((vec![t], v)),
        }
    }
    groups
}

/// One group on the same line; several, one line each under the heading.
fn lines(groups: &[(Vec<SevType>, String)]) -> String {
    match groups {
        [(_, v)] => format!(" {v}"),
        _ => groups
            .iter()
            .map(|(types, v)| {
                let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
                format!("\n    {} SEVs: {v}", names.join(", "))
            })
            .collect(),
    }
}

fn describe(ladder: &Ladder, primary: Option<&str>) -> String {
    let first = match primary {
        Some(p) => format!("page {p} (IMOC)"),
        None => "no IMOC on call, nobody paged first".into(),
    };
    let steps = ladder.steps.iter().map(|s| {
        let who = match s.people.as_slice() {
            [] => "nobody".to_string(),
            people => people.join(", "),
        };
        format!("{} min → {} ({who})", s.after_minutes, s.target)
    });
    let all: Vec<String> = std::iter::once(first).chain(steps).collect();
    format!("policy {}: {}", ladder.policy, all.join("; "))
}
