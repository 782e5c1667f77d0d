//! Escalation policies: ordered steps (a delay and a target), the default 5 / 15 / 30
//! minute ladder to an exec, the policy that applies to a SEV, freezing a policy into the
//! people it pages (so editing config never changes who is paged for an open SEV), and
//! the checks that find policies which would fail in an outage. Pure.

use serde::{Deserialize, Serialize};

use super::{Level, SevType};

/// Who a step pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The secondary of the IMOC rotation.
    Secondary,
    /// The paged IMOC's manager (`manager` in `[[people]]`).
    Manager,
    /// Everyone in `execs`.
    Exec,
    Person(String),
    /// Whoever is on call in that rotation.
    Rotation(String),
}

impl Target {
    /// `secondary`, `manager`, `exec`, `person:<id>`, `rotation:<name>`.
    pub fn parse(s: &str) -> Result<Target, String> {
        let s = s.trim();
        match s {
            "secondary" => Ok(Target::Secondary),
            "manager" => Ok(Target::Manager),
            "exec" => Ok(Target::Exec),
            _ => match s.split_once(':') {
                Some(("person", id)) if !id.is_empty() => Ok(Target::Person(id.into())),
                Some(("rotation", name)) if !name.is_empty() => Ok(Target::Rotation(name.into())),
                _ => Err(format!(
                    "target \"{s}\" is not one of secondary, manager, exec, person:<id>, rotation:<name>{}",
                    super::suggest::hint(s, ["secondary", "manager", "exec"])
                )),
            },
        }
    }

    pub fn label(&self) -> String {
        match self {
            Target::Secondary => "secondary on call".into(),
            Target::Manager => "manager".into(),
            Target::Exec => "exec".into(),
            Target::Person(p) => p.clone(),
            Target::Rotation(r) => format!("{r} on call"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Minutes after the first page without an acknowledgement.
    pub after_minutes: u32,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    /// Levels it applies to (empty: all).
    pub levels: Vec<Level>,
    /// Types it applies to (empty: all).
    pub types: Vec<SevType>,
    pub steps: Vec<Step>,
}

pub const DEFAULT_POLICY: &str = "default";

/// No ack after 5 minutes → secondary; 15 → manager; 30 → exec.
pub fn default_steps() -> Vec<Step> {
    vec![
        Step {
            after_minutes: 5,
            target: Target::Secondary,
        },
        Step {
            after_minutes: 15,
            target: Target::Manager,
        },
        Step {
            after_minutes: 30,
            target: Target::Exec,
        },
    ]
}

/// The policy for a SEV: one naming both its level and type beats one naming either,
/// which beats one naming neither; the first in config order wins a tie. Without a match,
/// the default ladder.
pub fn policy_for(policies: &[Policy], level: Level, t: SevType) -> (String, Vec<Step>) {
    let score = |p: &Policy| -> Option<u8> {
        let level_ok = p.levels.is_empty() || p.levels.contains(&level);
        let type_ok = p.types.is_empty() || p.types.contains(&t);
        (level_ok && type_ok)
            .then(|| u8::from(!p.levels.is_empty()) * 2 + u8::from(!p.types.is_empty()))
    };
    let mut best: Option<(&Policy, u8)> = None;
    for p in policies {
        if let Some(s) = score(p)
            && best.is_none_or(|(_, b)| s > b)
        {
            best = Some((p, s));
        }
    }
    match best {
        Some((p, _)) => (p.name.clone(), p.steps.clone()),
        None => (DEFAULT_POLICY.into(), default_steps()),
    }
}

/// How targets become people at one moment (config and rotations, behind closures so this
/// module stays free of them).
pub struct Resolver<'a> {
    pub secondary: &'a dyn Fn() -> Option<String>,
    pub manager_of: &'a dyn Fn(&str) -> Option<String>,
    pub execs: &'a [String],
    pub rotation: &'a dyn Fn(&str) -> Option<String>,
}

impl Resolver<'_> {
    pub fn resolve(&self, target: &Target, primary: Option<&str>) -> Vec<String> {
        match target {
            Target::Secondary => (self.secondary)().into_iter().collect(),
            Target::Manager => primary
                .and_then(|p| (self.manager_of)(p))
                .into_iter()
                .collect(),
            Target::Exec => self.execs.to_vec(),
            Target::Person(p) => vec![p.clone()],
            Target::Rotation(r) => (self.rotation)(r).into_iter().collect(),
        }
    }
}

/// A step as frozen onto a SEV: when, who, and how it was described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenStep {
    pub after_minutes: u32,
    pub target: String,
    pub people: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ladder {
    pub policy: String,
    pub steps: Vec<FrozenStep>,
}

/// Resolves every step now, for the SEV whose first page goes to `primary`.
pub fn freeze(policy: &str, steps: &[Step], primary: Option<&str>, r: &Resolver<'_>) -> Ladder {
    Ladder {
        policy: policy.into(),
        steps: steps
            .iter()
            .map(|s| FrozenStep {
                after_minutes: s.after_minutes,
                target: s.target.label(),
                people: r
                    .resolve(&s.target, primary)
                    .into_iter()
                    .filter(|p| Some(p.as_str()) != primary)
                    .collect(),
            })
            .collect(),
    }
}

/// Problems that would make a policy fail in an outage, worded for `check-config`.
/// `fatal` ones stop the bot from starting.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyProblem {
    pub policy: String,
    pub message: String,
    pub fatal: bool,
    /// About something the ladder lacks (steps, an exec), which a step that did not parse
    /// may have been meant to supply.
    pub lacks: bool,
}

/// Structural checks: steps with delays that do not increase, an empty ladder, and a SEV0
/// ladder that reaches no exec within 30 minutes.
pub fn check_structure(p: &Policy) -> Vec<PolicyProblem> {
    let mut out = vec![];
    let mut problem = |message: String, fatal: bool, lacks: bool| {
        out.push(PolicyProblem {
            policy: p.name.clone(),
            message,
            fatal,
            lacks,
        })
    };
    if p.steps.is_empty() {
        problem(
            "has no steps: nobody would be paged after the first page".into(),
            true,
            true,
        );
    }
    for w in p.steps.windows(2) {
        if w[1].after_minutes <= w[0].after_minutes {
            problem(
                format!(
                    "step delays must increase: {} min ({}) comes after {} min ({})",
                    w[1].after_minutes,
                    w[1].target.label(),
                    w[0].after_minutes,
                    w[0].target.label()
                ),
                true,
                false,
            );
        }
    }
    let covers_sev0 = p.levels.is_empty() || p.levels.iter().any(|l| l.get() == 0);
    if covers_sev0 {
        let exec_at = p
            .steps
            .iter()
            .find(|s| s.target == Target::Exec)
            .map(|s| s.after_minutes);
        match exec_at {
            None => problem(
                "applies to SEV0 but never reaches an exec (add a step with target = \"exec\" within 30 minutes)".into(),
                false,
                true,
            ),
            Some(m) if m > 30 => problem(
                format!("applies to SEV0 but reaches an exec only after {m} minutes (at most 30)"),
                false,
                false,
            ),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lvl(n: u8) -> Level {
        Level::new(n).unwrap()
    }

    fn policy(name: &str, levels: &[u8], types: &[SevType], steps: Vec<Step>) -> Policy {
        Policy {
            name: name.into(),
            levels: levels.iter().map(|l| lvl(*l)).collect(),
            types: types.to_vec(),
            steps,
        }
    }

    #[test]
    fn targets_parse_and_refuse_clearly() {
        assert_eq!(Target::parse("exec"), Ok(Target::Exec));
        assert_eq!(
            Target::parse("person:frank"),
            Ok(Target::Person("frank".into()))
        );
        assert_eq!(
            Target::parse("rotation:sre"),
            Ok(Target::Rotation("sre".into()))
        );
        assert!(
            Target::parse("person:")
                .unwrap_err()
                .contains("person:<id>")
        );
        assert!(Target::parse("boss").is_err());
    }

    #[test]
    fn the_most_specific_policy_wins_and_the_default_is_5_15_30() {
        let steps = |m: u32| {
            vec![Step {
                after_minutes: m,
                target: Target::Exec,
            }]
        };
        let ps = vec![
            policy("any", &[], &[], steps(1)),
            policy("sev0", &[0], &[], steps(2)),
            policy("sev0-security", &[0], &[SevType::Security], steps(3)),
        ];
        assert_eq!(
            policy_for(&ps, lvl(0), SevType::Security).0,
            "sev0-security"
        );
        assert_eq!(policy_for(&ps, lvl(0), SevType::Availability).0, "sev0");
        assert_eq!(policy_for(&ps, lvl(2), SevType::Availability).0, "any");
        let (name, d) = policy_for(&[], lvl(1), SevType::Availability);
        assert_eq!(name, DEFAULT_POLICY);
        assert_eq!(
            d.iter().map(|s| s.after_minutes).collect::<Vec<_>>(),
            vec![5, 15, 30]
        );
    }

    #[test]
    fn freezing_resolves_people_once() {
        let execs = vec!["erin".to_string(), "frank".to_string()];
        let r = Resolver {
            secondary: &|| Some("bob".into()),
            manager_of: &|p| (p == "alice").then(|| "dave".into()),
            execs: &execs,
            rotation: &|_| None,
        };
        let l = freeze(DEFAULT_POLICY, &default_steps(), Some("alice"), &r);
        let people: Vec<Vec<String>> = l.steps.iter().map(|s| s.people.clone()).collect();
        assert_eq!(
            people,
            vec![
                vec!["bob".to_string()],
                vec!["dave".into()],
                vec!["erin".into(), "frank".into()]
            ]
        );
        // Nobody is escalated to themselves.
        let l = freeze(
            "x",
            &[Step {
                after_minutes: 5,
                target: Target::Person("alice".into()),
            }],
            Some("alice"),
            &r,
        );
        assert!(l.steps[0].people.is_empty());
    }

    #[test]
    fn structural_problems_are_found() {
        let s = |m: u32, t: Target| Step {
            after_minutes: m,
            target: t,
        };
        let p = policy(
            "bad",
            &[0],
            &[],
            vec![
                s(15, Target::Secondary),
                s(10, Target::Manager),
                s(45, Target::Exec),
            ],
        );
        let problems = check_structure(&p);
        assert!(
            problems
                .iter()
                .any(|x| x.fatal && x.message.contains("must increase"))
        );
        assert!(
            problems
                .iter()
                .any(|x| !x.fatal && x.message.contains("after 45 minutes"))
        );
        let ok = policy("ok", &[0, 1], &[], default_steps());
        assert!(check_structure(&ok).is_empty());
        let no_exec = policy("sev2", &[2], &[], vec![s(5, Target::Secondary)]);
        assert!(
            check_structure(&no_exec).is_empty(),
            "only SEV0 ladders must reach an exec"
        );
        assert!(check_structure(&policy("empty", &[1], &[], vec![]))[0].fatal);
    }
}
