//! Who holds a role, and the ladder a SEV would climb, at a given moment: what the engine
//! freezes onto a SEV at declare, and what `check-config --explain` prints.

use chrono::{DateTime, Utc};

use super::Config;
use crate::domain::escalation::{Ladder, Resolver, freeze, policy_for};
use crate::domain::oncall::{Rotation, on_call_for};
use crate::domain::{Level, Role, SevType};

impl Config {
    /// Who fills `role` for a SEV of type `t` at `at`, and from which rotation.
    pub fn on_call(&self, role: Role, t: SevType, at: DateTime<Utc>) -> Option<(&Rotation, &str)> {
        on_call_for(&self.rotations, role, t, at)
    }

    /// The ladder a SEV of `level` and type `t` whose IMOC is `primary` gets at `at`:
    /// its policy with every step resolved to people (config and rotations as they are).
    pub fn ladder(
        &self,
        level: Level,
        t: SevType,
        primary: Option<&str>,
        at: DateTime<Utc>,
    ) -> Ladder {
        let (policy, steps) = policy_for(&self.policies, level, t);
        let secondary = || {
            self.on_call(Role::Imoc, t, at)
                .and_then(|(r, _)| r.secondary(at))
                .map(str::to_string)
        };
        let manager_of = |p: &str| self.person(p).and_then(|x| x.manager.clone());
        let rotation = |name: &str| {
            self.rotations
                .iter()
                .find(|r| r.name == name)
                .and_then(|r| r.on_call(at))
                .map(str::to_string)
        };
        let resolver = Resolver {
            secondary: &secondary,
            manager_of: &manager_of,
            execs: &self.execs,
            rotation: &rotation,
        };
        freeze(&policy, &steps, primary, &resolver)
    }
}
