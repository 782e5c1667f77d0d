//! A cron expression that does not parse, explained in the user's own text: which field,
//! what it allows, and the name that was meant (croner's own error speaks of its rewritten
//! pattern, `'1-FRY'` for `mon-fry`).

use std::str::FromStr;

struct Field {
    name: &'static str,
    low: u32,
    high: u32,
    names: &'static [&'static str],
    /// What the field allows, as said to the user.
    allows: &'static str,
}

const SECOND: Field = Field {
    name: "second",
    low: 0,
    high: 59,
    names: &[],
    allows: "0-59",
};
const MINUTE: Field = Field {
    name: "minute",
    low: 0,
    high: 59,
    names: &[],
    allows: "0-59",
};
const HOUR: Field = Field {
    name: "hour",
    low: 0,
    high: 23,
    names: &[],
    allows: "0-23",
};
const DAY: Field = Field {
    name: "day of month",
    low: 1,
    high: 31,
    names: &[],
    allows: "1-31",
};
const MONTH: Field = Field {
    name: "month",
    low: 1,
    high: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    allows: "1-12 or jan-dec",
};
const WEEKDAY: Field = Field {
    name: "day of week",
    low: 0,
    high: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    allows: "0-7 or sun-sat, as in mon-fri",
};
const YEAR: Field = Field {
    name: "year",
    low: 1970,
    high: 2099,
    names: &[],
    allows: "1970-2099",
};

/// Why `expr` is not a cron expression, in terms of the user's own fields.
pub fn explain(expr: &str) -> String {
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let fields: &[Field] = match parts.len() {
        5 => &[MINUTE, HOUR, DAY, MONTH, WEEKDAY],
        6 => &[SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY],
        7 => &[SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY, YEAR],
        n => {
            return format!(
                "\"{expr}\" has {n} fields; cron needs 5 (minute hour day-of-month month day-of-week), or 6 with seconds first"
            );
        }
    };
    // Try each field alone among stars: the first that fails on its own is the culprit.
    for (i, field) in fields.iter().enumerate() {
        let probe: Vec<&str> = (0..parts.len())
            .map(|j| if j == i { parts[i] } else { "*" })
            .collect();
        if croner::Cron::from_str(&probe.join(" ")).is_err() {
            return format!(
                "\"{expr}\": {} \"{}\" {}",
                field.name,
                parts[i],
                what_is_wrong(field, parts[i])
            );
        }
    }
    format!("\"{expr}\" is not a cron expression (fields that work alone do not work together)")
}

fn what_is_wrong(field: &Field, text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let words = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty());
    for word in words {
        if let Ok(n) = word.parse::<u32>() {
            if n < field.low || n > field.high {
                return format!("is out of range: {n} (allowed: {})", field.allows);
            }
        } else if !field.names.contains(&word) {
            let guess = super::names::hint(word, field.names.iter().copied());
            return format!(
                "is not valid: \"{word}\" is not a {}{guess} (allowed: {})",
                field.name, field.allows
            );
        }
    }
    format!("is not valid (allowed: {}, with , - / and *)", field.allows)
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn names_the_field_in_the_users_words() {
        assert_eq!(
            explain("0 9 * * mon-fry"),
            "\"0 9 * * mon-fry\": day of week \"mon-fry\" is not valid: \"fry\" is not a day of week; did you mean \"fri\"? (allowed: 0-7 or sun-sat, as in mon-fri)"
        );
        assert_eq!(
            explain("60 9 * * *"),
            "\"60 9 * * *\": minute \"60\" is out of range: 60 (allowed: 0-59)"
        );
        assert_eq!(
            explain("0 9 * jn *"),
            "\"0 9 * jn *\": month \"jn\" is not valid: \"jn\" is not a month; did you mean \"jan\"? (allowed: 1-12 or jan-dec)"
        );
        assert!(explain("*/5 * * *").contains("has 4 fields; cron needs 5"));
        assert!(explain("0 0 25 * * *").starts_with("\"0 0 25 * * *\": hour \"25\""));
    }
}
