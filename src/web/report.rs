//! The reports page's charts: horizontal bars drawn as inline SVG from the report's
//! figures (numbers and fixed labels only; a route's name is drawn as SVG text, which the
//! template escapes like any text).

use serde::Serialize;

use crate::domain::report::{Report, Spread};
use crate::domain::words::fmt_duration;

const WIDTH: f64 = 640.0;
const LABEL: f64 = 170.0;
const VALUE: f64 = 110.0;
const ROW: f64 = 26.0;
const BAR: f64 = 18.0;

#[derive(Debug, Serialize)]
pub struct Bar {
    pub label: String,
    /// The value as written beside the bar.
    pub text: String,
    pub y: String,
    pub text_y: String,
    pub width: String,
    /// A CSS class for its colour.
    pub class: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Bars {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub value_x: String,
    pub bars: Vec<Bar>,
}

/// Bars for `(label, value, text, class)`, scaled so the largest fills the width.
pub fn bars(items: Vec<(String, f64, String, &'static str)>) -> Bars {
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max);
    let span = WIDTH - LABEL - VALUE;
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, value, text, class))| {
            let top = i as f64 * ROW + 4.0;
            Bar {
                label,
                text,
                y: format!("{top:.1}"),
                text_y: format!("{:.1}", top + BAR - 4.0),
                // A zero is drawn as a hairline, so the row reads as "nothing", not "missing".
                width: format!(
                    "{:.1}",
                    if max > 0.0 {
                        (value / max * span).max(1.0)
                    } else {
                        1.0
                    }
                ),
                class,
            }
        })
        .collect::<Vec<_>>();
    Bars {
        width: WIDTH,
        height: bars.len() as f64 * ROW + 8.0,
        left: LABEL,
        value_x: format!("{:.1}", WIDTH - VALUE + 8.0),
        bars,
    }
}

#[derive(Debug, Serialize)]
pub struct Charts {
    pub levels: Bars,
    pub times: Bars,
    pub downtime: Bars,
}

fn seconds(s: Option<i64>) -> (f64, String) {
    match s {
        Some(s) => (s as f64, fmt_duration(s)),
        None => (0.0, "—".into()),
    }
}

pub fn charts(r: &Report) -> Charts {
    const LEVEL_CLASS: [&str; 4] = ["bar-0", "bar-1", "bar-2", "bar-3"];
    let levels = bars(
        r.sevs
            .by_level
            .iter()
            .map(|c| {
                let l = usize::from(c.key.level).min(3);
                (
                    format!("SEV{}", c.key.level),
                    f64::from(c.count),
                    c.count.to_string(),
                    LEVEL_CLASS[l],
                )
            })
            .collect(),
    );
    let t = &r.times;
    let phases: [(&str, &Spread); 4] = [
        ("Acknowledge", &t.to_acknowledge),
        ("Detection", &t.detection),
        ("Diagnosis", &t.diagnosis),
        ("Recovery", &t.recovery),
    ];
    let mut items = vec![];
    for (name, s) in phases {
        let (m, mt) = seconds(s.median_seconds);
        let (p, pt) = seconds(s.p90_seconds);
        items.push((format!("{name}, median"), m, mt, "bar-median"));
        items.push((format!("{name}, 90th pct."), p, pt, "bar-p90"));
    }
    let d = &r.downtime;
    let min = |v: f64| format!("{v:.1} min");
    let downtime = bars(vec![
        (
            "Downtime".into(),
            d.minutes,
            min(d.minutes),
            if d.minutes > d.contract.budget_minutes {
                "bar-over"
            } else {
                "bar-used"
            },
        ),
        (
            format!("Internal {}%", d.internal.percent),
            d.internal.budget_minutes,
            min(d.internal.budget_minutes),
            "bar-budget",
        ),
        (
            format!("Contract {}%", d.contract.percent),
            d.contract.budget_minutes,
            min(d.contract.budget_minutes),
            "bar-budget",
        ),
    ]);
    Charts {
        levels,
        times: bars(items),
        downtime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_value_fills_the_span_and_zero_is_a_hairline() {
        let b = bars(vec![
            ("a".into(), 10.0, "10".into(), "x"),
            ("b".into(), 5.0, "5".into(), "x"),
            ("c".into(), 0.0, "0".into(), "x"),
        ]);
        let w: Vec<f64> = b.bars.iter().map(|b| b.width.parse().unwrap()).collect();
        assert_eq!(w[0], WIDTH - LABEL - VALUE);
        assert_eq!(w[1], w[0] / 2.0);
        assert_eq!(w[2], 1.0);
        let y: Vec<f64> = b.bars.iter().map(|b| b.y.parse().unwrap()).collect();
        assert!(y.windows(2).all(|p| p[1] > p[0]), "rows top to bottom");
        assert!(b.height >= y[2] + BAR);
    }
}
