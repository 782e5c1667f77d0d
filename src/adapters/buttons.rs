//! What sevbot's buttons do, the same on every platform: a button's action id and the SEV
//! it belongs to become the command run for whoever pressed it (`mention` is how the
//! platform writes that person, `<@U…>` on both Slack and Discord).

use crate::domain::{Role, SevId};

pub fn command(action: &str, sev: SevId, mention: &str) -> Option<String> {
    Some(match action {
        "sev_mitigated" => format!("{sev} mitigated"),
        "sev_ack" => format!("{sev} ack"),
        "sev_resolved" => format!("{sev} resolved"),
        other => {
            if let Some(role) = other.strip_prefix("sev_role_").and_then(Role::parse) {
                format!("{sev} role {} {mention}", role.as_str())
            } else if let Some(role) = other.strip_prefix("sev_ask_").and_then(Role::parse) {
                format!("{sev} ask {}", role.as_str())
            } else {
                return None;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_button_runs_its_command() {
        let sev = SevId(4);
        let run = |a: &str| command(a, sev, "<@U1>");
        assert_eq!(run("sev_mitigated").as_deref(), Some("SEV-4 mitigated"));
        assert_eq!(run("sev_ack").as_deref(), Some("SEV-4 ack"));
        assert_eq!(run("sev_resolved").as_deref(), Some("SEV-4 resolved"));
        assert_eq!(
            run("sev_role_tloc").as_deref(),
            Some("SEV-4 role tloc <@U1>")
        );
        assert_eq!(run("sev_ask_imoc").as_deref(), Some("SEV-4 ask imoc"));
        assert_eq!(run("sev_ask_boss"), None);
        assert_eq!(run("sev_unknown"), None);
    }
}
