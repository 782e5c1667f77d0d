//! The SLA page's numbers and its burn-down chart, drawn as inline SVG from the month's
//! figures (numbers only: nothing typed reaches the drawing).

use serde::Serialize;

use crate::engine::SlaMonth;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A budget against the month's downtime.
#[derive(Debug, Serialize)]
pub struct Budget {
    pub name: &'static str,
    pub percent: String,
    pub allowed: String,
    /// "12.3 left" or "exceeded by 4.0".
    pub state: String,
    pub exceeded: bool,
    /// Where its line is drawn.
    pub y: String,
}

#[derive(Debug, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: String,
    pub bottom: String,
    /// The downtime added up, day by day: `x,y x,y …`.
    pub points: String,
    /// Day marks on the x axis: (x, day).
    pub days: Vec<(String, u32)>,
    /// The y axis' top, in minutes.
    pub top_minutes: String,
    pub top: f64,
}

#[derive(Debug, Serialize)]
pub struct SlaView {
    pub month: String,
    pub total: String,
    pub budgets: Vec<Budget>,
    pub chart: Chart,
    pub sevs: Vec<(String, i64, String)>,
}

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

pub fn view(m: &SlaMonth) -> SlaView {
    let peak = m.burn.iter().copied().fold(m.total_minutes, f64::max);
    let ymax = (m.contract_minutes.max(peak) * 1.15).max(1.0);
    let days = f64::from(m.days.max(1));
    let x = |day: f64| LEFT + day / days * (WIDTH - LEFT - RIGHT);
    let y = |minutes: f64| TOP + (1.0 - minutes / ymax) * (HEIGHT - TOP - BOTTOM);
    let points = std::iter::once((0.0, 0.0))
        .chain(m.burn.iter().enumerate().map(|(i, v)| ((i + 1) as f64, *v)))
        .map(|(d, v)| format!("{},{}", f1(x(d)), f1(y(v))))
        .collect::<Vec<_>>()
        .join(" ");
    let budget = |name, percent: f64, allowed: f64| {
        let left = allowed - m.total_minutes;
        Budget {
            name,
            percent: format!("{percent}%"),
            allowed: f1(allowed),
            state: if left >= 0.0 {
                format!("{} left", f1(left))
            } else {
                format!("exceeded by {}", f1(-left))
            },
            exceeded: left < 0.0,
            y: f1(y(allowed)),
        }
    };
    SlaView {
        month: m.month.clone(),
        total: f1(m.total_minutes),
        budgets: vec![
            budget("Contract", m.contract_percent, m.contract_minutes),
            budget("Internal", m.internal_percent, m.internal_minutes),
        ],
        chart: Chart {
            width: WIDTH,
            height: HEIGHT,
            left: LEFT,
            right: f1(WIDTH - RIGHT),
            bottom: f1(HEIGHT - BOTTOM),
            points,
            days: [1, 8, 15, 22, m.days]
                .iter()
                .map(|d| (f1(x(f64::from(*d))), *d))
                .collect(),
            top_minutes: format!("{ymax:.0}"),
            top: TOP,
        },
        sevs: m
            .sevs
            .iter()
            .map(|s| (s.id.clone(), s.number, f1(s.minutes)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SlaSev;

    #[test]
    fn the_chart_climbs_with_the_downtime_and_marks_both_budgets() {
        let m = SlaMonth {
            month: "March 2026".into(),
            days: 31,
            total_minutes: 50.0,
            contract_percent: 99.9,
            contract_minutes: 44.64,
            internal_percent: 99.95,
            internal_minutes: 22.32,
            sevs: vec![SlaSev {
                id: "SEV-1".into(),
                number: 1,
                minutes: 50.0,
            }],
            burn: vec![0.0, 30.0, 50.0],
        };
        let v = view(&m);
        let pts: Vec<(f64, f64)> = v
            .chart
            .points
            .split(' ')
            .map(|p| {
                let (a, b) = p.split_once(',').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect();
        assert_eq!(pts.len(), 4, "the month's start and three days");
        assert!(
            pts.windows(2).all(|w| w[1].0 > w[0].0),
            "days left to right"
        );
        assert!(
            pts[3].1 < pts[2].1 && pts[2].1 < pts[1].1,
            "more downtime is higher"
        );
        assert_eq!(pts[0].1, pts[1].1, "nothing on day one");
        assert_eq!(v.budgets[0].state, "exceeded by 5.4");
        assert!(v.budgets[0].exceeded && v.budgets[1].exceeded);
        let contract_y: f64 = v.budgets[0].y.parse().unwrap();
        let internal_y: f64 = v.budgets[1].y.parse().unwrap();
        assert!(contract_y < internal_y, "the larger budget is drawn higher");
        assert!(pts[3].1 < contract_y, "50 min is above the 44.6 min line");
        assert_eq!(v.total, "50.0");
    }
}
