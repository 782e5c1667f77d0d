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

/// How long something has been going, to the two largest units: "45 s", "12 min",
/// "3 h 5 min", "2 d 4 h".
pub fn fmt_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// RFC 3339 in UTC to the second, as the API and the web pages carry instants.
pub fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

pub fn fmt_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Text someone typed, made inert in a Markdown document: every character Markdown gives
/// a meaning to is backslash-escaped, so a title cannot become a link, a heading or a table.
pub fn markdown(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        if "\\`*_{}[]()<>#+-.!|~".contains(c) {
            out.push('\\');
        }
        match c {
            // One line: a typed line break cannot start a list or a heading.
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_inert_in_markdown() {
        assert_eq!(
            markdown("[Re-login](https://evil.example) # now\n| x |"),
            "\\[Re\\-login\\]\\(https://evil\\.example\\) \\# now \\| x \\|"
        );
    }
}
