//! The incident state machine: which stage may follow which, and who may make the moves that
//! lower urgency (downgrade, cancel, close).

use super::types::{Level, Role, Stage};

/// Forward-only moves; skipping a stage is allowed because incidents often mitigate and
/// resolve in one step. Cancelling is only for SEVs that turned out not to be incidents,
/// so it is refused once anything was mitigated.
pub fn can_move(from: Stage, to: Stage) -> bool {
    use Stage::*;
    matches!(
        (from, to),
        (Declared, Investigating | Mitigated | Resolved | Cancelled)
            | (Investigating, Mitigated | Resolved | Cancelled)
            | (Mitigated, Resolved)
            | (Resolved, Closed)
    )
}

/// Why a move was refused, worded for the person who asked.
pub fn refusal(from: Stage, to: Stage) -> String {
    use Stage::*;
    match (from, to) {
        (Closed, _) => "it is already closed; nothing more can change".into(),
        (Cancelled, _) => "it was cancelled; nothing more can change".into(),
        (f, t) if f == t => format!("it is already {t}"),
        (_, Closed) => {
            format!("it is {from}; only a resolved SEV can be closed (mark it resolved first)")
        }
        // Cancelling is for what was never an incident; the advice follows the stage.
        (Mitigated, Cancelled) => {
            "it is mitigated; a SEV that was mitigated was real, so mark it resolved (`/sev resolved`) instead of cancelling".into()
        }
        (Resolved, Cancelled) => {
            "it is resolved, so it was real; close it (`/sev close`) once its follow-ups are written down".into()
        }
        (Resolved, Mitigated | Investigating | Declared) => {
            "it is already resolved; only closing is left".to_string()
        }
        (f, t) => format!("it cannot go from {f} to {t}"),
    }
}

/// What an actor is to this SEV, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    pub is_imoc: bool,
    pub is_declarer: bool,
    pub is_admin: bool,
    /// The roles the actor holds on this SEV (IMOC, TLOC, BMOC).
    pub holds: [bool; 3],
    /// The actor is a person in the config (not just someone in the workspace).
    pub is_known: bool,
}

impl Standing {
    pub fn holds(&self, role: Role) -> bool {
        self.holds[role as usize]
    }
}

/// An occupied role changes hands only by its holder, the IMOC or an admin; a vacant one
/// anyone in the config may fill. Someone outside the config hands out no role (it would
/// let anyone in the workspace page people).
pub fn may_hand_over(s: Standing, role: Role, occupied: bool) -> bool {
    s.is_known && (!occupied || s.holds(role) || s.is_imoc || s.is_admin)
}

/// Lowering urgency mid-incident is how pages get silenced too early, so only the IMOC,
/// the declarer (while no IMOC holds it) or an admin may downgrade, cancel or close.
pub fn may_lower_urgency(s: Standing, has_imoc: bool) -> bool {
    s.is_imoc || s.is_admin || (s.is_declarer && !has_imoc)
}

/// The title is the SEV's headline on every card and feed: its declarer, its IMOC or an
/// admin may correct it.
pub fn may_retitle(s: Standing) -> bool {
    s.is_imoc || s.is_declarer || s.is_admin
}

/// A level change that makes the SEV less critical (a higher number).
pub fn is_downgrade(from: Level, to: Level) -> bool {
    to > from
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stage::*;

    #[test]
    fn legal_moves() {
        let legal = [
            (Declared, Investigating),
            (Declared, Mitigated),
            (Declared, Resolved),
            (Declared, Cancelled),
            (Investigating, Mitigated),
            (Investigating, Resolved),
            (Investigating, Cancelled),
            (Mitigated, Resolved),
            (Resolved, Closed),
        ];
        for from in Stage::ALL {
            for to in Stage::ALL {
                assert_eq!(
                    can_move(from, to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn every_illegal_move_has_a_specific_reason() {
        for from in Stage::ALL {
            for to in Stage::ALL {
                if !can_move(from, to) {
                    let why = refusal(from, to);
                    assert!(!why.is_empty());
                    assert!(!why.contains("error"), "{why}");
                }
            }
        }
        assert!(refusal(Closed, Resolved).contains("already closed"));
        assert!(refusal(Investigating, Closed).contains("resolved first"));
        assert!(
            refusal(Mitigated, Cancelled).contains("mark it resolved (`/sev resolved`) instead")
        );
        assert!(refusal(Resolved, Cancelled).contains("close it (`/sev close`)"));
        assert!(
            !refusal(Resolved, Cancelled).contains("mark it resolved"),
            "it is resolved already"
        );
        assert!(refusal(Resolved, Resolved).contains("already resolved"));
    }

    #[test]
    fn urgency_permissions() {
        let nobody = Standing::default();
        assert!(!may_lower_urgency(nobody, true));
        assert!(may_lower_urgency(
            Standing {
                is_imoc: true,
                ..nobody
            },
            true
        ));
        assert!(may_lower_urgency(
            Standing {
                is_admin: true,
                ..nobody
            },
            true
        ));
        assert!(may_lower_urgency(
            Standing {
                is_declarer: true,
                ..nobody
            },
            false
        ));
        assert!(!may_lower_urgency(
            Standing {
                is_declarer: true,
                ..nobody
            },
            true
        ));
        assert!(is_downgrade(Level::new(1).unwrap(), Level::new(2).unwrap()));
        assert!(!is_downgrade(
            Level::new(2).unwrap(),
            Level::new(0).unwrap()
        ));
    }
}
