//! Incident channel names that every platform accepts (Slack's rules are the strictest:
//! lowercase letters, digits, `-`, `_`, at most 80 characters).

use std::borrow::Cow;

use super::types::{SevId, SevType};

pub const MAX_CHANNEL_NAME: usize = 80;

/// What an incident channel's name is made of: its title, or for a restricted SEV only its
/// type (`sev-12-security`), since people who cannot open a channel may still see its name;
/// a restricted drill's still says it is one (`sev-12-drill-security`; a drill's title
/// starts with DRILL).
pub fn channel_basis(
    title: &str,
    sev_type: SevType,
    restricted: bool,
    drill: bool,
) -> Cow<'_, str> {
    match (restricted, drill) {
        (false, _) => Cow::Borrowed(title),
        (true, false) => Cow::Borrowed(sev_type.as_str()),
        (true, true) => Cow::Owned(format!("drill-{}", sev_type.as_str())),
    }
}

/// `sev-42-checkout-failing`; `attempt` 0 is the plain name, later attempts add `-2`, `-3`…
/// for when the platform says the name is taken. The suffix always survives truncation.
pub fn channel_name(id: SevId, title: &str, attempt: u32) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    let prefix = format!("sev-{}", id.0);
    let suffix = if attempt == 0 {
        String::new()
    } else {
        format!("-{}", attempt + 1)
    };
    let room = MAX_CHANNEL_NAME - prefix.len() - suffix.len();
    let mut body = String::new();
    if !slug.is_empty() && room > 1 {
        body.push('-');
        body.push_str(&slug[..slug.len().min(room - 1)]);
    }
    let body = body.trim_end_matches('-');
    format!("{prefix}{body}{suffix}")
}

pub fn is_valid_channel_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CHANNEL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restricted_sev_channel_carries_no_title() {
        let basis = channel_basis("Leaked API key in repo", SevType::Security, true, false);
        assert_eq!(channel_name(SevId(12), &basis, 0), "sev-12-security");
        let basis = channel_basis("Payroll export", SevType::Durability, true, false);
        assert_eq!(channel_name(SevId(3), &basis, 1), "sev-3-durability-2");
        let basis = channel_basis("Checkout failing", SevType::Availability, false, false);
        assert_eq!(channel_name(SevId(4), &basis, 0), "sev-4-checkout-failing");
        let basis = channel_basis("DRILL: key leak", SevType::Security, true, true);
        assert_eq!(channel_name(SevId(5), &basis, 0), "sev-5-drill-security");
        let basis = channel_basis("DRILL: checkout", SevType::Availability, false, true);
        assert_eq!(channel_name(SevId(6), &basis, 0), "sev-6-drill-checkout");
    }

    #[test]
    fn names_follow_slack_rules() {
        assert_eq!(
            channel_name(SevId(42), "Checkout failing!! (EU)", 0),
            "sev-42-checkout-failing-eu"
        );
        assert_eq!(channel_name(SevId(1), "Über Ärger", 0), "sev-1-ber-rger");
        assert_eq!(channel_name(SevId(1), "🔥🔥", 0), "sev-1");
        assert_eq!(
            channel_name(SevId(1), "db_primary down", 0),
            "sev-1-db_primary-down"
        );
        let long = "a very long title ".repeat(20);
        for attempt in [0, 1, 12] {
            let n = channel_name(SevId(123456), &long, attempt);
            assert!(is_valid_channel_name(&n), "{n}");
            assert!(n.len() <= 80);
            assert!(!n.contains("--"));
        }
        assert!(channel_name(SevId(123456), &long, 12).ends_with("-13"));
        assert_eq!(channel_name(SevId(5), "x", 1), "sev-5-x-2");
    }

    #[test]
    fn validity() {
        assert!(is_valid_channel_name("sev-1_x"));
        assert!(!is_valid_channel_name("Sev-1"));
        assert!(!is_valid_channel_name(&"a".repeat(81)));
        assert!(!is_valid_channel_name(""));
    }
}
