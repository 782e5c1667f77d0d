//! Who may see a SEV. Most SEVs are open to the whole workspace. Restricted ones (every
//! security SEV, and any SEV declared with `--private`) show in full only in their own
//! private channel, to their members, and in feeds the operator marked private; everywhere
//! else they appear as one line that names no title, person or update.

use super::incident::Incident;
use super::types::{SevId, SevType};

pub use super::words::REDACTED;

/// Who is asking, as far as seeing a SEV goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Viewer {
    /// They typed in the SEV's own channel: being there is being invited.
    pub in_its_channel: bool,
    pub is_admin: bool,
    /// Someone paged them for this SEV (an escalation step, an exec).
    pub was_paged: bool,
}

impl Incident {
    /// The declarer and the role holders.
    pub fn is_member(&self, actor: &str) -> bool {
        self.declared_by == actor || self.roles.values().any(|p| p == actor)
    }

    pub fn may_see(&self, actor: &str, v: Viewer) -> bool {
        !self.restricted || v.in_its_channel || v.is_admin || v.was_paged || self.is_member(actor)
    }

    /// A copy fit for a place that may not see this SEV: renderers show its id and type
    /// only; its title, people, impact and updates are not in it.
    pub fn redacted(&self) -> Incident {
        Incident {
            title: String::new(),
            customer_impact: false,
            declared_by: String::new(),
            roles: Default::default(),
            latest_update: None,
            redacted: true,
            ..self.clone()
        }
    }
}

/// `SEV-12 · security · restricted — details in its private channel`.
pub fn redacted_line(id: SevId, sev_type: SevType) -> String {
    format!("{id} · {sev_type} · {REDACTED}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Level, Role, Stage};

    fn sev(restricted: bool) -> Incident {
        Incident {
            id: SevId(12),
            sev_type: SevType::Security,
            level: Level::new(1).unwrap(),
            stage: Stage::Declared,
            title: "Leaked API key".into(),
            customer_impact: true,
            declared_by: "eve".into(),
            declared_at: 0,
            platform: "slack".into(),
            channel_name: "sev-12-security".into(),
            roles: [(Role::Imoc, "ian".to_string())].into(),
            latest_update: Some("rotating the key".into()),
            restricted,
            redacted: false,
            drill: false,
        }
    }

    #[test]
    fn who_sees_a_restricted_sev() {
        let open = sev(false);
        let r = sev(true);
        let nobody = Viewer::default();
        assert!(open.may_see("frank", nobody));
        assert!(!r.may_see("frank", nobody));
        assert!(r.may_see("eve", nobody), "the declarer");
        assert!(r.may_see("ian", nobody), "a role holder");
        for v in [
            Viewer {
                in_its_channel: true,
                ..nobody
            },
            Viewer {
                is_admin: true,
                ..nobody
            },
            Viewer {
                was_paged: true,
                ..nobody
            },
        ] {
            assert!(r.may_see("frank", v), "{v:?}");
        }
    }

    #[test]
    fn a_redacted_copy_keeps_nothing_typed_or_personal() {
        let r = sev(true).redacted();
        let json = serde_json::to_string(&r).unwrap();
        for secret in ["Leaked", "rotating", "\"eve\"", "\"ian\""] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(r.redacted && r.restricted);
        assert_eq!(
            redacted_line(r.id, r.sev_type),
            "SEV-12 · security · restricted — details in its private channel"
        );
    }
}
