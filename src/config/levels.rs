//! The SEV levels' definitions: what each level means and the availability below which
//! monitoring suggests it. All four must be defined, in order.

use std::collections::HashSet;

use super::Problem;
use crate::domain::Level;
use crate::domain::definitions::SevDefinition;

pub fn default_definitions() -> Vec<SevDefinition> {
    [
        (
            0,
            Some(90.0),
            "Critical: the product is unusable for most users, or data is being lost",
        ),
        (
            1,
            Some(99.0),
            "Major: a key workflow is broken for many users",
        ),
        (
            2,
            Some(99.9),
            "Moderate: degraded for some users, a workaround exists",
        ),
        (
            3,
            None,
            "Minor: little user impact; fix within business hours",
        ),
    ]
    .into_iter()
    .map(|(l, a, s)| SevDefinition {
        level: Level::new(l).expect("static level"),
        availability_below: a,
        summary: s.into(),
    })
    .collect()
}

pub(super) fn check_definitions(definitions: &[SevDefinition], problems: &mut Vec<Problem>) {
    let mut err =
        |location: String, message: String| problems.push(Problem::error(location, message));
    let mut seen = HashSet::new();
    for (i, d) in definitions.iter().enumerate() {
        if !seen.insert(d.level) {
            err(
                format!("definitions[{i}]"),
                format!("{} is defined twice", d.level),
            );
        }
        if let Some(a) = d.availability_below
            && !(0.0..=100.0).contains(&a)
        {
            err(
                format!("definitions[{i}].availability_below"),
                format!("{a} is not a percentage"),
            );
        }
    }
    for l in Level::all() {
        if !seen.contains(&l) {
            err(
                "definitions".into(),
                format!("{l} has no definition; responders need all four"),
            );
        }
    }
    let mut by_level: Vec<_> = definitions
        .iter()
        .filter_map(|d| d.availability_below.map(|a| (d.level, a)))
        .collect();
    by_level.sort_by_key(|(l, _)| *l);
    for w in by_level.windows(2) {
        if w[0].1 >= w[1].1 {
            err(
                "definitions".into(),
                format!(
                    "{} must need a lower availability than {} ({} >= {})",
                    w[0].0, w[1].0, w[0].1, w[1].1
                ),
            );
        }
    }
}
