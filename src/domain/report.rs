//! What a month's or a quarter's report says: SEVs by type and level, how fast they were
//! acknowledged, detected, diagnosed and recovered (median and 90th percentile), downtime
//! against both budgets, the routes that caused it, and the follow-ups still open. Pure:
//! the engine gathers each SEV's timeline and samples; this adds them up.
//!
//! Which SEVs count: those declared in the period, drills and cancelled ones left out
//! (cancelled ones are counted apart). Downtime counts every availability SEV's open
//! minutes that fall inside the period, whenever it was declared, as the SLA ledger does.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::period::utc;
pub use super::period::{Asked, PERIODS, Period};

use super::impact;
use super::month::level_spans;
use super::postmortem::phases;
use super::types::{Level, SevType, Stage};
use super::{Incident, TimelineEvent};

/// One SEV as the report reads it.
pub struct SevFacts<'a> {
    pub sev: &'a Incident,
    pub timeline: &'a [TimelineEvent],
    /// Failed requests per route in the samples received while it was open (availability
    /// SEVs; empty otherwise).
    pub route_failures: BTreeMap<String, i64>,
}

/// A follow-up not done yet, with whether the reader may see its text.
#[derive(Debug, Clone, Serialize)]
pub struct OpenFollowup {
    pub sev: String,
    pub sev_number: i64,
    pub number: i64,
    /// `None` when its SEV is restricted and the reader may not see it.
    pub text: Option<String>,
    pub owner: Option<String>,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeriodView {
    /// `2026-12` or `2026-Q4`.
    pub key: String,
    /// `December 2026`, `Q4 2026`.
    pub label: String,
    /// `month` or `quarter`.
    pub kind: &'static str,
    /// RFC 3339: the first instant, and the end (exclusive).
    pub from: String,
    pub to: String,
    /// The period is still running: figures are to date.
    pub to_date: bool,
    pub days: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Count<K> {
    #[serde(flatten)]
    pub key: K,
    pub count: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct TypeKey {
    #[serde(rename = "type")]
    pub sev_type: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelKey {
    pub level: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct SevCounts {
    /// Declared in the period, not cancelled, not drills.
    pub total: u32,
    pub cancelled: u32,
    /// Every type, in a fixed order, zeros included.
    pub by_type: Vec<Count<TypeKey>>,
    /// By the most severe level each reached: 0 to 3, zeros included.
    pub by_level: Vec<Count<LevelKey>>,
}

/// Median and 90th percentile (nearest rank) over the SEVs where the phase happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    pub count: u32,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Times {
    pub to_acknowledge: Spread,
    pub detection: Spread,
    pub diagnosis: Spread,
    pub recovery: Spread,
}

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub percent: f64,
    pub budget_minutes: f64,
    /// Negative: exceeded by that much.
    pub left_minutes: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Downtime {
    pub minutes: f64,
    pub contract: Budget,
    pub internal: Budget,
}

/// A route's share of the period's downtime.
#[derive(Debug, Clone, Serialize)]
pub struct RouteShare {
    pub route: String,
    pub minutes: f64,
    pub failed_requests: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Followups {
    pub open: u32,
    pub overdue: u32,
    pub items: Vec<OpenFollowup>,
}

/// The report, as the API returns it (these field names are stable).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub period: PeriodView,
    pub sevs: SevCounts,
    pub times: Times,
    pub downtime: Downtime,
    /// Most downtime first; at most `TOP_ROUTES`.
    pub routes: Vec<RouteShare>,
    pub followups: Followups,
}

pub const TOP_ROUTES: usize = 5;

/// The budgets, weights and clock the sums need.
pub struct Terms {
    pub now: i64,
    pub contract_percent: f64,
    pub internal_percent: f64,
    pub downtime_weights: [f64; 4],
}

/// Nearest-rank percentile of sorted values: the smallest value with at least `p`% of
/// them at or below it.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).copied()
}

fn spread(mut values: Vec<i64>) -> Spread {
    values.sort_unstable();
    Spread {
        count: values.len() as u32,
        median_seconds: percentile(&values, 50),
        p90_seconds: percentile(&values, 90),
    }
}

/// The most severe level a SEV reached.
pub fn peak_level(inc: &Incident, timeline: &[TimelineEvent]) -> Level {
    super::postmortem::level_history(timeline)
        .iter()
        .map(|s| s.level)
        .chain(std::iter::once(inc.level))
        .min_by_key(|l| l.get())
        .unwrap_or(inc.level)
}

/// Splits one SEV's downtime over the routes that failed while it was open, by their share
/// of the failed requests; with no samples, evenly over the routes its alerts named.
pub fn attribute(
    minutes: f64,
    route_failures: &BTreeMap<String, i64>,
    timeline: &[TimelineEvent],
) -> Vec<(String, f64, i64)> {
    let failed: i64 = route_failures.values().sum();
    if failed > 0 {
        return route_failures
            .iter()
            .filter(|(_, f)| **f > 0)
            .map(|(r, f)| (r.clone(), minutes * *f as f64 / failed as f64, *f))
            .collect();
    }
    let mut named: Vec<String> = timeline
        .iter()
        .filter_map(|e| match &e.event {
            super::EventKind::Alert {
                route: Some(r),
                firing: true,
                ..
            } => Some(r.clone()),
            _ => None,
        })
        .collect();
    named.sort();
    named.dedup();
    let n = named.len().max(1) as f64;
    named.into_iter().map(|r| (r, minutes / n, 0)).collect()
}

/// The report over `sevs` (every non-drill SEV that may touch the period) and the open
/// follow-ups the engine read (already cut for the reader).
pub fn report(
    period: Period,
    sevs: &[SevFacts<'_>],
    followups: Vec<OpenFollowup>,
    t: &Terms,
) -> Report {
    let (from, to) = period.bounds();
    let until = to.min(t.now);
    let declared_in = |s: &SevFacts<'_>| s.sev.declared_at >= from && s.sev.declared_at < to;
    let mut counts_type: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut counts_level = [0u32; 4];
    let (mut total, mut cancelled) = (0, 0);
    let (mut ack, mut det, mut diag, mut rec) = (vec![], vec![], vec![], vec![]);
    let mut downtime = 0.0;
    let mut routes: BTreeMap<String, (f64, i64)> = BTreeMap::new();
    for s in sevs {
        if s.sev.stage == Stage::Cancelled {
            cancelled += u32::from(declared_in(s));
            continue;
        }
        if s.sev.sev_type == SevType::Availability {
            let spans = level_spans(s.timeline, from, until);
            let minutes = impact::downtime_minutes(&spans, &t.downtime_weights);
            downtime += minutes;
            if minutes > 0.0 {
                for (route, m, f) in attribute(minutes, &s.route_failures, s.timeline) {
                    let e = routes.entry(route).or_default();
                    e.0 += m;
                    e.1 += f;
                }
            }
        }
        if !declared_in(s) {
            continue;
        }
        total += 1;
        *counts_type.entry(s.sev.sev_type.as_str()).or_default() += 1;
        counts_level[usize::from(peak_level(s.sev, s.timeline).get()).min(3)] += 1;
        let d = phases(s.timeline).durations();
        ack.extend(d.to_acknowledge);
        det.extend(d.detection);
        diag.extend(d.diagnosis);
        rec.extend(d.recovery);
    }
    let days = period.days();
    let budget = |percent: f64| {
        let allowed = impact::budget_minutes(percent, days);
        Budget {
            percent,
            budget_minutes: round1(allowed),
            left_minutes: round1(allowed - downtime),
        }
    };
    let mut routes: Vec<RouteShare> = routes
        .into_iter()
        .map(|(route, (m, f))| RouteShare {
            route,
            minutes: round1(m),
            failed_requests: f,
        })
        .collect();
    routes.sort_by(|a, b| b.minutes.total_cmp(&a.minutes).then(a.route.cmp(&b.route)));
    routes.truncate(TOP_ROUTES);
    Report {
        period: PeriodView {
            key: period.key(),
            label: period.label(),
            kind: period.kind(),
            from: super::words::rfc3339(from),
            to: super::words::rfc3339(to),
            to_date: t.now < to,
            days,
        },
        sevs: SevCounts {
            total,
            cancelled,
            by_type: SevType::ALL
                .iter()
                .map(|ty| Count {
                    key: TypeKey {
                        sev_type: ty.as_str(),
                    },
                    count: counts_type.get(ty.as_str()).copied().unwrap_or(0),
                })
                .collect(),
            by_level: counts_level
                .iter()
                .enumerate()
                .map(|(l, c)| Count {
                    key: LevelKey { level: l as u8 },
                    count: *c,
                })
                .collect(),
        },
        times: Times {
            to_acknowledge: spread(ack),
            detection: spread(det),
            diagnosis: spread(diag),
            recovery: spread(rec),
        },
        downtime: Downtime {
            minutes: round1(downtime),
            contract: budget(t.contract_percent),
            internal: budget(t.internal_percent),
        },
        routes,
        followups: Followups {
            open: followups.len() as u32,
            overdue: followups.iter().filter(|f| f.overdue).count() as u32,
            items: followups,
        },
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A follow-up is overdue once its due day has passed (UTC).
pub fn overdue(due: Option<&str>, now: i64) -> bool {
    let today = utc(now).date_naive();
    due.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .is_some_and(|d| d < today)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventKind;
    use chrono::DateTime;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn periods_parse_and_bound() {
        let now = at("2026-12-02T10:00:00Z");
        assert_eq!(Period::parse(None, now), Some(Period::month_of(now)));
        let q = Period::parse(Some("quarter"), now).unwrap();
        assert_eq!(q.key(), "2026-Q4");
        assert_eq!(q.label(), "Q4 2026");
        assert_eq!(
            q.bounds(),
            (at("2026-10-01T00:00:00Z"), at("2027-01-01T00:00:00Z"))
        );
        assert_eq!(q.days(), 92);
        let m = Period::parse(Some("2026-02"), now).unwrap();
        assert_eq!(m.days(), 28);
        assert_eq!(m.label(), "February 2026");
        assert_eq!(m.previous().key(), "2026-01");
        assert_eq!(
            Period::parse(Some("2026-Q1"), now)
                .unwrap()
                .previous()
                .key(),
            "2025-Q4"
        );
        for bad in ["2026-13", "2026-Q5", "yesterday", "26-1", "2026"] {
            assert_eq!(Period::parse(Some(bad), now), None, "{bad}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[1, 100], 50), Some(1));
        assert_eq!(percentile(&[1, 100], 90), Some(100));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn downtime_is_split_by_failed_requests_else_by_alerted_routes() {
        let f = BTreeMap::from([("/a".to_string(), 30), ("/b".to_string(), 10)]);
        let split = attribute(8.0, &f, &[]);
        assert_eq!(
            split,
            vec![("/a".to_string(), 6.0, 30), ("/b".to_string(), 2.0, 10)]
        );
        let alert = |route: &str| TimelineEvent {
            at: 0,
            actor: "monitoring".into(),
            event: EventKind::Alert {
                name: "HighErrors".into(),
                route: Some(route.into()),
                firing: true,
            },
        };
        let split = attribute(
            8.0,
            &BTreeMap::new(),
            &[alert("/x"), alert("/y"), alert("/x")],
        );
        assert_eq!(
            split,
            vec![("/x".to_string(), 4.0, 0), ("/y".to_string(), 4.0, 0)]
        );
    }

    #[test]
    fn overdue_is_after_the_due_day() {
        let now = at("2026-12-02T10:00:00Z");
        assert!(overdue(Some("2026-12-01"), now));
        assert!(!overdue(Some("2026-12-02"), now));
        assert!(!overdue(None, now));
    }
}
