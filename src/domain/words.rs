//! Words shared by several renderers, kept apart from the types they describe so any
//! module may use them: times, durations, and what a restricted SEV shows instead of
//! its title.

use chrono::{DateTime, Utc};

/// What a redacted SEV shows instead of its title.
pub const REDACTED: &str = "restricted — details in its private channel";

/// `7 min 12 s`, `45 s`.
pub fn fmt_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

pub fn fmt_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}
