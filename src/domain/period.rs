//! The periods reports cover: a calendar month or quarter in UTC, as asked for (`month`,
//! `quarter`, `2026-11`, `2026-Q4`). Pure calendar arithmetic, apart from `report` so the
//! grammar can read a period without the report's sums.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

/// A calendar month or quarter, in UTC like the SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Month { year: i32, month: u32 },
    Quarter { year: i32, quarter: u32 },
}

/// What `/sev report` and `?period=` accept, for error messages.
pub const PERIODS: &str = "`month`, `quarter`, a month as 2026-11 or a quarter as 2026-Q4";

impl Period {
    pub fn month_of(now: i64) -> Period {
        let t = utc(now);
        Period::Month {
            year: t.year(),
            month: t.month(),
        }
    }

    pub fn quarter_of(now: i64) -> Period {
        let t = utc(now);
        Period::Quarter {
            year: t.year(),
            quarter: (t.month() - 1) / 3 + 1,
        }
    }

    /// `month` (this one, the default), `quarter`, `2026-11`, `2026-Q4`; `None` for
    /// anything else.
    pub fn parse(word: Option<&str>, now: i64) -> Option<Period> {
        Asked::parse(word).map(|a| a.at(now))
    }

    fn first_month(self) -> (i32, u32, u32) {
        match self {
            Period::Month { year, month } => (year, month, 1),
            Period::Quarter { year, quarter } => (year, (quarter - 1) * 3 + 1, 3),
        }
    }

    /// Start (inclusive) and end (exclusive), in ms.
    pub fn bounds(self) -> (i64, i64) {
        let (year, month, months) = self.first_month();
        let end_month = month + months;
        let (ey, em) = if end_month > 12 {
            (year + 1, end_month - 12)
        } else {
            (year, end_month)
        };
        (midnight(year, month), midnight(ey, em))
    }

    pub fn days(self) -> u32 {
        let (a, b) = self.bounds();
        ((b - a) / 86_400_000) as u32
    }

    /// `2026-12`, `2026-Q4`: what `?period=` takes back.
    pub fn key(self) -> String {
        match self {
            Period::Month { year, month } => format!("{year}-{month:02}"),
            Period::Quarter { year, quarter } => format!("{year}-Q{quarter}"),
        }
    }

    /// `December 2026`, `Q4 2026`.
    pub fn label(self) -> String {
        match self {
            Period::Month { year, month } => NaiveDate::from_ymd_opt(year, month, 1)
                .map(|d| d.format("%B %Y").to_string())
                .unwrap_or_else(|| self.key()),
            Period::Quarter { year, quarter } => format!("Q{quarter} {year}"),
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Period::Month { .. } => "month",
            Period::Quarter { .. } => "quarter",
        }
    }

    /// The period before this one (for the web page's "previous" link).
    pub fn previous(self) -> Period {
        match self {
            Period::Month { year, month: 1 } => Period::Month {
                year: year - 1,
                month: 12,
            },
            Period::Month { year, month } => Period::Month {
                year,
                month: month - 1,
            },
            Period::Quarter { year, quarter: 1 } => Period::Quarter {
                year: year - 1,
                quarter: 4,
            },
            Period::Quarter { year, quarter } => Period::Quarter {
                year,
                quarter: quarter - 1,
            },
        }
    }
}

/// The period as asked for, before the clock says which month "this month" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    ThisMonth,
    ThisQuarter,
    Given(Period),
}

impl Asked {
    /// `month` (also nothing), `quarter`, `2026-11`, `2026-Q4`.
    pub fn parse(word: Option<&str>) -> Option<Asked> {
        let Some(w) = word.map(str::trim).filter(|w| !w.is_empty()) else {
            return Some(Asked::ThisMonth);
        };
        let w = w.to_ascii_lowercase();
        match w.as_str() {
            "month" => return Some(Asked::ThisMonth),
            "quarter" => return Some(Asked::ThisQuarter),
            _ => {}
        }
        let (year, rest) = w.split_once('-')?;
        let year: i32 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
        if let Some(q) = rest.strip_prefix('q') {
            let quarter: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
            return Some(Asked::Given(Period::Quarter { year, quarter }));
        }
        let month: u32 = rest.parse().ok().filter(|m| (1..=12).contains(m))?;
        Some(Asked::Given(Period::Month { year, month }))
    }

    pub fn at(self, now: i64) -> Period {
        match self {
            Asked::ThisMonth => Period::month_of(now),
            Asked::ThisQuarter => Period::quarter_of(now),
            Asked::Given(p) => p,
        }
    }
}

pub(super) fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

fn midnight(year: i32, month: u32) -> i64 {
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}
