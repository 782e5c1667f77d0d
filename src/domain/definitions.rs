//! The SEV definitions table: what each level means, shown in help and on declare so
//! nobody has to look it up mid-outage.

use serde::{Deserialize, Serialize};

use super::types::Level;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SevDefinition {
    pub level: Level,
    /// Global availability (percent) below which an outage is at least this level.
    #[serde(default)]
    pub availability_below: Option<f64>,
    pub summary: String,
}

/// The most critical level whose availability threshold the measurement is under.
pub fn level_for_availability(defs: &[SevDefinition], availability_pct: f64) -> Option<Level> {
    defs.iter()
        .filter(|d| d.availability_below.is_some_and(|t| availability_pct < t))
        .map(|d| d.level)
        .min()
}

pub fn render_table(defs: &[SevDefinition]) -> String {
    let mut sorted: Vec<_> = defs.iter().collect();
    sorted.sort_by_key(|d| d.level);
    sorted
        .iter()
        .map(|d| match d.availability_below {
            Some(a) => format!("{}: {} (global availability < {a}%)", d.level, d.summary),
            None => format!("{}: {}", d.level, d.summary),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn definition_for(defs: &[SevDefinition], level: Level) -> Option<&SevDefinition> {
    defs.iter().find(|d| d.level == level)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Vec<SevDefinition> {
        [
            (0, Some(90.0), "down"),
            (1, Some(99.0), "badly hurt"),
            (2, Some(99.9), "hurt"),
            (3, None, "minor"),
        ]
        .into_iter()
        .map(|(l, a, s)| SevDefinition {
            level: Level::new(l).unwrap(),
            availability_below: a,
            summary: s.into(),
        })
        .collect()
    }

    #[test]
    fn availability_maps_to_the_most_critical_level() {
        let d = defs();
        assert_eq!(level_for_availability(&d, 85.0), Level::new(0));
        assert_eq!(level_for_availability(&d, 95.0), Level::new(1));
        assert_eq!(level_for_availability(&d, 99.5), Level::new(2));
        assert_eq!(level_for_availability(&d, 99.95), None);
    }

    #[test]
    fn table_is_sorted_and_complete() {
        let mut d = defs();
        d.reverse();
        let t = render_table(&d);
        let lines: Vec<_> = t.lines().collect();
        assert_eq!(lines[0], "SEV0: down (global availability < 90%)");
        assert_eq!(lines[3], "SEV3: minor");
        assert_eq!(
            definition_for(&d, Level::new(1).unwrap()).unwrap().summary,
            "badly hurt"
        );
    }
}
