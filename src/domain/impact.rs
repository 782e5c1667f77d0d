//! Route availability and what it means for users: per-route and global availability from
//! samples, the SEV level that impact is worth (per-bucket thresholds and the definitions
//! table), a confirmation window and hysteresis against flapping, users affected, error
//! budget burned, and the SLA ledger's arithmetic. Pure.

use serde::{Deserialize, Serialize};

use super::Level;
use super::definitions::{SevDefinition, level_for_availability};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Critical,
    High,
    Medium,
}

impl Bucket {
    pub const ALL: [Bucket; 3] = [Bucket::Critical, Bucket::High, Bucket::Medium];

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Critical => "critical",
            Bucket::High => "high",
            Bucket::Medium => "medium",
        }
    }
}

/// A key route of the product, as users know it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub id: String,
    pub pattern: String,
    pub service: String,
    pub bucket: Bucket,
    /// Customer language: "uploading files from the web".
    pub description: String,
    /// Distinct users on the route in a normal minute, to estimate users affected.
    pub users_per_minute: f64,
}

/// One window of one route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub requests: u64,
    pub failures: u64,
}

impl Sample {
    /// Percent of requests that succeeded; `None` without traffic.
    pub fn availability(&self) -> Option<f64> {
        (self.requests > 0).then(|| {
            100.0 * (self.requests - self.failures.min(self.requests)) as f64 / self.requests as f64
        })
    }
}

/// Global availability: all routes' requests together.
pub fn global(samples: &[Sample]) -> Option<f64> {
    let total = Sample {
        requests: samples.iter().map(|s| s.requests).sum(),
        failures: samples.iter().map(|s| s.failures).sum(),
    };
    total.availability()
}

/// Availability (percent) below which a route of a bucket is worth each level, SEV0..SEV3
/// (`None`: that level is never reached by this bucket alone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub critical: [Option<f64>; 4],
    pub high: [Option<f64>; 4],
    pub medium: [Option<f64>; 4],
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            critical: [Some(90.0), Some(95.0), Some(99.0), Some(99.5)],
            high: [Some(80.0), Some(90.0), Some(97.0), Some(99.0)],
            medium: [None, Some(70.0), Some(90.0), Some(95.0)],
        }
    }
}

impl Thresholds {
    pub fn of(&self, b: Bucket) -> &[Option<f64>; 4] {
        match b {
            Bucket::Critical => &self.critical,
            Bucket::High => &self.high,
            Bucket::Medium => &self.medium,
        }
    }

    /// The most critical level a route at `availability` is worth. With a `margin` (a
    /// share of the gap between each threshold and 100%), a route that is already
    /// degraded must close that share of the gap to count as recovered (hysteresis).
    pub fn level(&self, b: Bucket, availability: f64, margin: f64) -> Option<Level> {
        self.of(b)
            .iter()
            .enumerate()
            .find(|(_, t)| t.is_some_and(|t| availability < raised(t, margin)))
            .and_then(|(l, _)| Level::new(l as u8))
    }
}

/// A threshold moved `margin` of the way to 100%.
pub fn raised(threshold: f64, margin: f64) -> f64 {
    threshold + margin.clamp(0.0, 1.0) * (100.0 - threshold)
}

/// What impact is worth now: the most critical of the routes' levels and the global one.
pub fn worth(
    routes: &[(&Route, f64, bool)],
    global_availability: Option<f64>,
    thresholds: &Thresholds,
    definitions: &[SevDefinition],
    margin: f64,
) -> Option<Level> {
    let by_route = routes
        .iter()
        .filter_map(|(r, a, degraded)| {
            thresholds.level(r.bucket, *a, if *degraded { margin } else { 0.0 })
        })
        .min();
    let by_global = global_availability.and_then(|g| level_for_availability(definitions, g));
    [by_route, by_global].into_iter().flatten().min()
}

/// Debounce: impact must stay SEV-worthy for the confirmation window before a SEV is
/// filed. `since` is when it became worthy (kept across evaluations).
pub fn confirmed(worthy_since: Option<i64>, now: i64, confirm_ms: i64) -> bool {
    worthy_since.is_some_and(|s| now - s >= confirm_ms)
}

/// Users affected over a degraded period: the failing share of a normal minute's users,
/// for every minute of it.
/// The availability (percent) an alert carries, when its rule put it in an annotation
/// (`availability`, else `value`): a ratio (`0.9`, Prometheus' `{{ $value }}`) or a
/// percentage (`90`, `90%`). `None` when there is none: an alert says a route is bad, not
/// how bad, and a number sevbot made up would reach customers.
pub fn alert_figure(annotations: &std::collections::BTreeMap<String, String>) -> Option<f64> {
    let raw = annotations
        .get("availability")
        .or_else(|| annotations.get("value"))?;
    let text = raw.trim();
    let (text, percent) = match text.strip_suffix('%') {
        Some(t) => (t.trim(), true),
        None => (text, false),
    };
    let v: f64 = text.parse().ok().filter(|v: &f64| v.is_finite())?;
    let pct = if percent || v > 1.0 { v } else { v * 100.0 };
    (0.0..=100.0).contains(&pct).then_some(pct)
}

/// The share of attempts failing, as a customer update says it: whole percents from 1 %,
/// one decimal below (never "about 1 %" for 0.3 %).
pub fn failing_share(availability: f64) -> String {
    let failing = (100.0 - availability).clamp(0.0, 100.0);
    match failing >= 1.0 {
        true => format!("{failing:.0}"),
        false => format!("{failing:.1}"),
    }
}

pub fn users_affected(route: &Route, availability: f64, minutes: f64) -> u64 {
    let share = ((100.0 - availability) / 100.0).clamp(0.0, 1.0);
    (route.users_per_minute * share * minutes.max(1.0)).round() as u64
}

/// Minutes of downtime a target allows in a month of `days` days.
pub fn budget_minutes(target_percent: f64, days: u32) -> f64 {
    (100.0 - target_percent) / 100.0 * f64::from(days) * 24.0 * 60.0
}

/// Share of a month's error budget a route burned: its failing share over the degraded
/// minutes, against what the target allows.
pub fn budget_burned(availability: f64, minutes: f64, target_percent: f64, days: u32) -> f64 {
    let bad_minutes = (100.0 - availability) / 100.0 * minutes;
    let budget = budget_minutes(target_percent, days);
    if budget <= 0.0 {
        1.0
    } else {
        bad_minutes / budget
    }
}

/// Downtime one availability SEV adds to the ledger: its open minutes, weighted by its
/// level (a SEV0 is an outage; a SEV3 barely counts).
pub fn downtime_minutes(open_minutes_by_level: &[(Level, f64)], weights: &[f64; 4]) -> f64 {
    open_minutes_by_level
        .iter()
        .map(|(l, m)| m * weights[usize::from(l.get()).min(3)])
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_figure_is_read_only_when_it_is_there() {
        let a = |k: &str, v: &str| [(k.to_string(), v.to_string())].into_iter().collect();
        assert_eq!(alert_figure(&a("availability", "0.7")), Some(70.0));
        assert_eq!(alert_figure(&a("value", "0.9012")), Some(90.12));
        assert_eq!(alert_figure(&a("availability", "90 %")), Some(90.0));
        assert_eq!(alert_figure(&a("availability", "85")), Some(85.0));
        assert_eq!(alert_figure(&a("availability", "NaN")), None);
        assert_eq!(alert_figure(&a("availability", "250")), None);
        assert_eq!(alert_figure(&a("summary", "availability below 95%")), None);
        assert_eq!(failing_share(70.0), "30");
        assert_eq!(failing_share(99.7), "0.3");
    }
    use crate::config::default_definitions;

    fn route(b: Bucket) -> Route {
        Route {
            id: "checkout".into(),
            pattern: "/api/checkout".into(),
            service: "checkout".into(),
            bucket: b,
            description: "paying for an order".into(),
            users_per_minute: 1200.0,
        }
    }

    #[test]
    fn a_critical_route_at_90_percent_is_a_sev_even_when_global_looks_fine() {
        let t = Thresholds::default();
        let r = route(Bucket::Critical);
        let lvl = worth(
            &[(&r, 90.0, false)],
            Some(99.95),
            &t,
            &default_definitions(),
            0.5,
        );
        assert_eq!(
            lvl,
            Level::new(1),
            "90% on a critical route: below SEV1's 95"
        );
        let medium = route(Bucket::Medium);
        assert_eq!(
            worth(
                &[(&medium, 90.0, false)],
                Some(99.95),
                &t,
                &default_definitions(),
                0.5
            ),
            Level::new(3)
        );
        // Global availability alone: the definitions table (SEV0 below 90%).
        assert_eq!(
            worth(&[], Some(85.0), &t, &default_definitions(), 0.5),
            Level::new(0)
        );
        assert_eq!(
            worth(&[], Some(99.99), &t, &default_definitions(), 0.5),
            None
        );
    }

    #[test]
    fn hysteresis_keeps_a_degraded_route_degraded_until_it_clears_the_margin() {
        let t = Thresholds::default();
        // Critical SEV3 below 99.5: at 99.7 a fresh route is fine; a degraded one must
        // close half the gap to 100% (99.75) to recover.
        assert_eq!(t.level(Bucket::Critical, 99.7, 0.0), None);
        assert_eq!(t.level(Bucket::Critical, 99.7, 0.5), Level::new(3));
        assert_eq!(t.level(Bucket::Critical, 99.8, 0.5), None);
        assert!((raised(99.9, 0.5) - 99.95).abs() < 1e-9);
        assert!(!confirmed(None, 1000, 0));
        assert!(!confirmed(Some(0), 179_999, 180_000));
        assert!(confirmed(Some(0), 180_000, 180_000));
    }

    #[test]
    fn users_budget_and_sla_arithmetic() {
        assert_eq!(
            Sample {
                requests: 200,
                failures: 20
            }
            .availability(),
            Some(90.0)
        );
        assert_eq!(
            Sample {
                requests: 0,
                failures: 0
            }
            .availability(),
            None
        );
        assert_eq!(
            global(&[
                Sample {
                    requests: 900,
                    failures: 0
                },
                Sample {
                    requests: 100,
                    failures: 50
                }
            ]),
            Some(95.0)
        );
        assert_eq!(users_affected(&route(Bucket::Critical), 90.0, 10.0), 1200);
        // 99.9% of a 30-day month allows 43.2 minutes; 99.95% 21.6.
        assert!((budget_minutes(99.9, 30) - 43.2).abs() < 1e-9);
        assert!((budget_minutes(99.95, 30) - 21.6).abs() < 1e-9);
        // 10% failing for 43.2 minutes burns 10% of the 99.9% budget.
        assert!((budget_burned(90.0, 43.2, 99.9, 30) - 0.1).abs() < 1e-9);
        let w = [1.0, 0.5, 0.1, 0.0];
        let l = |n| Level::new(n).unwrap();
        assert!(
            (downtime_minutes(&[(l(0), 10.0), (l(1), 20.0), (l(3), 60.0)], &w) - 20.0).abs() < 1e-9
        );
    }
}
