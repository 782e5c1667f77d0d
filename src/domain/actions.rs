//! The buttons sevbot puts under its messages, the same on every platform: which ones a
//! card shows, their id (Slack's `action_id`, Discord's `custom_id` before `:SEV-n`), their
//! label, and the typed command each runs for whoever pressed it.

use super::grammar::Command;
use super::incident::Incident;
use super::types::{Role, SevId, Stage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardAction {
    /// Fill a vacant role oneself.
    TakeRole(Role),
    /// Opens the update form (there is no command until it is submitted).
    PostUpdate,
    Mitigated,
    Resolved,
    /// Acknowledge a page.
    Ack,
    /// Ask the holder of an occupied role (and the IMOC) for it.
    AskForRole(Role),
}

/// How prominent a button is; each platform maps it to its own styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emphasis {
    Primary,
    Secondary,
    Success,
}

impl CardAction {
    pub fn id(&self) -> String {
        match self {
            CardAction::TakeRole(r) => format!("sev_role_{}", r.as_str()),
            CardAction::PostUpdate => "sev_update".into(),
            CardAction::Mitigated => "sev_mitigated".into(),
            CardAction::Resolved => "sev_resolved".into(),
            CardAction::Ack => "sev_ack".into(),
            CardAction::AskForRole(r) => format!("sev_ask_{}", r.as_str()),
        }
    }

    pub fn parse(id: &str) -> Option<CardAction> {
        Some(match id {
            "sev_update" => CardAction::PostUpdate,
            "sev_mitigated" => CardAction::Mitigated,
            "sev_resolved" => CardAction::Resolved,
            "sev_ack" => CardAction::Ack,
            other => {
                if let Some(r) = other.strip_prefix("sev_role_") {
                    CardAction::TakeRole(Role::parse(r)?)
                } else {
                    CardAction::AskForRole(Role::parse(other.strip_prefix("sev_ask_")?)?)
                }
            }
        })
    }

    pub fn label(&self) -> String {
        match self {
            CardAction::TakeRole(r) => format!("Take {r}"),
            CardAction::PostUpdate => "Post update".into(),
            CardAction::Mitigated => "Mitigated".into(),
            CardAction::Resolved => "Resolved".into(),
            CardAction::Ack => "Acknowledge".into(),
            CardAction::AskForRole(r) => format!("Ask for {r}"),
        }
    }

    pub fn emphasis(&self) -> Emphasis {
        match self {
            CardAction::PostUpdate | CardAction::Ack | CardAction::AskForRole(_) => {
                Emphasis::Primary
            }
            CardAction::Resolved => Emphasis::Success,
            CardAction::TakeRole(_) | CardAction::Mitigated => Emphasis::Secondary,
        }
    }

    /// What pressing it on `sev` runs for `user` (their platform id); `None` for the update
    /// button, which opens a form instead.
    pub fn command(&self, sev: SevId, user: &str) -> Option<Command> {
        let sev = Some(sev);
        Some(match *self {
            CardAction::TakeRole(role) => Command::Role {
                sev,
                role,
                user: user.to_string(),
            },
            CardAction::PostUpdate => return None,
            CardAction::Mitigated => Command::Mitigated { sev },
            CardAction::Resolved => Command::Resolved { sev },
            CardAction::Ack => Command::Ack { sev },
            CardAction::AskForRole(role) => Command::Ask { sev, role },
        })
    }
}

/// The buttons under a SEV's card while it is open: the vacant roles (an occupied one is
/// handed on by its holder), the update form, mitigated unless it is, resolved.
pub fn on_card(inc: &Incident) -> Vec<CardAction> {
    if !inc.stage.is_open() {
        return vec![];
    }
    let mut out: Vec<CardAction> = inc
        .missing_roles()
        .into_iter()
        .map(CardAction::TakeRole)
        .collect();
    out.push(CardAction::PostUpdate);
    if inc.stage != Stage::Mitigated {
        out.push(CardAction::Mitigated);
    }
    out.push(CardAction::Resolved);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_id_and_runs_its_command() {
        let all = Role::ALL
            .iter()
            .flat_map(|r| [CardAction::TakeRole(*r), CardAction::AskForRole(*r)])
            .chain([
                CardAction::PostUpdate,
                CardAction::Mitigated,
                CardAction::Resolved,
                CardAction::Ack,
            ]);
        for a in all {
            assert_eq!(CardAction::parse(&a.id()), Some(a), "{}", a.id());
            assert!(
                a.id().len() <= 90,
                "fits Discord's custom_id with the SEV id"
            );
        }
        let sev = SevId(4);
        assert_eq!(
            CardAction::TakeRole(Role::Tloc).command(sev, "U1"),
            Some(Command::Role {
                sev: Some(sev),
                role: Role::Tloc,
                user: "U1".into()
            })
        );
        assert_eq!(
            CardAction::AskForRole(Role::Imoc).command(sev, "U1"),
            Some(Command::Ask {
                sev: Some(sev),
                role: Role::Imoc
            })
        );
        assert_eq!(CardAction::PostUpdate.command(sev, "U1"), None);
        assert_eq!(CardAction::parse("sev_ask_boss"), None);
        assert_eq!(CardAction::parse("sev_unknown"), None);
    }
}
