//! Calendar arithmetic for the SLA: where the month starts, how long it is, and how long a
//! SEV was open at each level within a window (from its timeline).

use chrono::{DateTime, Datelike, TimeZone, Utc};

use super::incident::{EventKind, TimelineEvent};
use super::types::{Level, Stage};

/// Midnight UTC on the first of `now`'s month (milliseconds).
pub fn month_start(now: i64) -> i64 {
    let t = DateTime::<Utc>::from_timestamp_millis(now).unwrap_or_default();
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .map(|m| m.timestamp_millis())
        .unwrap_or(now)
}

pub fn days_in_month(now: i64) -> u32 {
    let t = DateTime::<Utc>::from_timestamp_millis(now).unwrap_or_default();
    let (y, m) = (t.year(), t.month());
    let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let a = chrono::NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
    let b = chrono::NaiveDate::from_ymd_opt(next.0, next.1, 1).unwrap_or_default();
    (b - a).num_days() as u32
}

/// Minutes the SEV spent open at each level within [from, to): from its declaration (and
/// level changes) until it was mitigated, resolved or cancelled.
pub fn level_spans(timeline: &[TimelineEvent], from: i64, to: i64) -> Vec<(Level, f64)> {
    let mut spans = vec![];
    let mut current: Option<(Level, i64)> = None;
    let close = |cur: &mut Option<(Level, i64)>, at: i64, spans: &mut Vec<(Level, f64)>| {
        if let Some((l, start)) = cur.take() {
            let (s, e) = (start.max(from), at.min(to));
            if e > s {
                spans.push((l, (e - s) as f64 / 60_000.0));
            }
        }
    };
    for e in timeline {
        match &e.event {
            EventKind::Declared { level, .. } => current = Some((*level, e.at)),
            // A level change while users are still affected starts a new span.
            EventKind::LevelChanged { to: l, .. } if current.is_some() => {
                close(&mut current, e.at, &mut spans);
                current = Some((*l, e.at));
            }
            EventKind::StageChanged {
                to: Stage::Mitigated | Stage::Resolved | Stage::Cancelled,
                ..
            } => close(&mut current, e.at, &mut spans),
            _ => {}
        }
    }
    close(&mut current, to, &mut spans);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SevType;

    #[test]
    pub fn open_time_by_level_counts_until_mitigation_within_the_month() {
        let l = |n| Level::new(n).unwrap();
        let ev = |at: i64, event| TimelineEvent {
            at,
            actor: "x".into(),
            event,
        };
        let t = vec![
            ev(
                0,
                EventKind::Declared {
                    sev_type: SevType::Availability,
                    level: l(1),
                    title: "t".into(),
                    customer_impact: true,
                },
            ),
            ev(
                10 * 60_000,
                EventKind::LevelChanged {
                    from: l(1),
                    to: l(0),
                    reason: None,
                },
            ),
            ev(
                25 * 60_000,
                EventKind::StageChanged {
                    from: Stage::Investigating,
                    to: Stage::Mitigated,
                    reason: None,
                },
            ),
        ];
        assert_eq!(
            level_spans(&t, 0, 60 * 60_000),
            vec![(l(1), 10.0), (l(0), 15.0)]
        );
        // Only the part inside the month counts.
        assert_eq!(
            level_spans(&t, 5 * 60_000, 60 * 60_000),
            vec![(l(1), 5.0), (l(0), 15.0)]
        );
        let november = Utc
            .with_ymd_and_hms(2026, 11, 22, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(days_in_month(november), 30);
        assert_eq!(
            month_start(november),
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
    }
}
