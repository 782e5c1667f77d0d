//! An incident's state, the events that change it, and the rules that decide which events a
//! request produces. `decide` refuses with a sentence for the person who asked; `evolve`
//! applies an accepted event. The timeline is the list of those events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::lifecycle::{self, Standing};
use super::refusal::Refusal;
use super::types::{Level, Role, SevId, SevType, Stage};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: SevId,
    pub sev_type: SevType,
    pub level: Level,
    pub stage: Stage,
    pub title: String,
    pub customer_impact: bool,
    /// Person id, or `@handle` for someone not in the config.
    pub declared_by: String,
    pub declared_at: i64,
    pub platform: String,
    pub channel_name: String,
    pub roles: BTreeMap<Role, String>,
    pub latest_update: Option<String>,
    /// Shown in full only to its members, in its channel and in private feeds: every
    /// security SEV, and any declared with `--private` (see `access`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub restricted: bool,
    /// This copy's details were removed for a place that may not see them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub redacted: bool,
    /// A practice SEV (`/sev drill`): only its starter and the volunteers take part; it
    /// never reaches feeds, paging services, execs, customers, the SLA ledger or reports.
    #[serde(default, skip_serializing_if = "is_false")]
    pub drill: bool,
}

/// Customer updates approved before drills existed were all published.
fn published() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Incident {
    /// Customer impact needs someone owning customer communication.
    pub fn bmoc_required(&self) -> bool {
        self.level.get() <= 1 || self.customer_impact
    }

    pub fn required_roles(&self) -> Vec<Role> {
        let mut r = vec![Role::Imoc, Role::Tloc];
        if self.bmoc_required() {
            r.push(Role::Bmoc);
        }
        r
    }

    pub fn missing_roles(&self) -> Vec<Role> {
        self.required_roles()
            .into_iter()
            .filter(|r| !self.roles.contains_key(r))
            .collect()
    }

    /// `actor` is a person id, or `@handle` for someone not in the config.
    pub fn standing(&self, actor: &str, is_admin: bool) -> Standing {
        let holds = |r: Role| self.roles.get(&r).is_some_and(|p| p == actor);
        Standing {
            is_imoc: holds(Role::Imoc),
            is_declarer: self.declared_by == actor,
            is_admin,
            holds: Role::ALL.map(holds),
            is_known: !actor.starts_with('@'),
        }
    }
}

/// What a person asked to change about an open SEV.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    SetLevel {
        level: Level,
        reason: Option<String>,
    },
    AssignRole {
        role: Role,
        person: String,
    },
    /// Ask whoever may hand on an occupied role (its holder and the IMOC) to hand it over.
    AskForRole {
        role: Role,
    },
    PostUpdate {
        text: String,
    },
    Move {
        to: Stage,
    },
    Cancel {
        reason: String,
    },
    Note {
        text: String,
    },
    Diagnose {
        note: Option<String>,
    },
    Retitle {
        title: String,
    },
    /// A resolved SEV is not over after all: back to investigating.
    Reopen {
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Declared {
        sev_type: SevType,
        level: Level,
        title: String,
        customer_impact: bool,
    },
    LevelChanged {
        from: Level,
        to: Level,
        reason: Option<String>,
    },
    StageChanged {
        from: Stage,
        to: Stage,
        reason: Option<String>,
    },
    RoleAssigned {
        role: Role,
        person: String,
        previous: Option<String>,
    },
    RoleUnfilled {
        role: Role,
        why: String,
    },
    /// Someone asked for an occupied role; `asked` are the people who may hand it on
    /// (the holder, then the IMOC), mentioned so they are notified.
    RoleRequested {
        role: Role,
        asked: Vec<String>,
    },
    Update {
        text: String,
    },
    Note {
        text: String,
    },
    /// The cause is understood and the first mitigation step identified (`/sev diagnosed`):
    /// ends the diagnosis phase the postmortem measures.
    Diagnosed {
        note: Option<String>,
    },
    /// A follow-up to do after the SEV; `owner` a person id, `due` `YYYY-MM-DD`.
    FollowupAdded {
        number: i64,
        text: String,
        owner: Option<String>,
        due: Option<String>,
    },
    FollowupDone {
        number: i64,
    },
    /// A new headline; the channel keeps its name.
    Retitled {
        from: String,
        to: String,
    },
    /// The first SEV-worthy signal, when monitoring saw it before anyone declared: the
    /// first failing sample, or when the alert started firing. Starts the detection phase.
    Detected {
        at: i64,
        signal: String,
    },
    ChannelCreated {
        name: String,
    },
    /// A tracker opened the SEV's ticket (`via` as people call it: "Jira").
    TicketOpened {
        via: String,
        key: String,
        url: String,
    },
    UpdateReminder {
        minutes_since_update: i64,
        /// Who was reminded (the IMOC at the time).
        #[serde(default)]
        imoc: Option<String>,
    },
    /// A page reached someone: as a role holder (`step` 0) or by the ladder's step
    /// `step`. Recorded when a route delivered it; `via` names a route other than the
    /// SEV's chat platform (an external paging service).
    Paged {
        person: String,
        role: Option<Role>,
        step: u32,
        #[serde(default)]
        via: Option<String>,
    },
    /// A page could not be delivered on one route, with the platform's reason and the fix.
    /// `unpaged`: no route reached the person; `escalating`: the ladder moved on at once.
    PageFailed {
        person: String,
        role: Option<Role>,
        step: u32,
        via: String,
        reason: String,
        unpaged: bool,
        escalating: bool,
    },
    /// Nobody acknowledged in time (or nobody could be reached): the ladder climbed to `to`.
    Escalated {
        step: u32,
        after_minutes: u32,
        unacked: Vec<String>,
        to: Vec<String>,
        target: String,
        /// Pages of the chain that could not be delivered at all.
        #[serde(default)]
        unreachable: Vec<String>,
    },
    /// Monitoring's view changed: what it sees, and the level it suggests people confirm.
    Impact {
        summary: String,
        suggested: Option<Level>,
    },
    /// An Alertmanager alert fired or resolved.
    Alert {
        name: String,
        route: Option<String>,
        firing: bool,
    },
    DraftProposed {
        draft: i64,
    },
    DraftApproved {
        draft: i64,
        /// False for a drill's: approved as practice, sent nowhere.
        #[serde(default = "published")]
        published: bool,
    },
    Acknowledged {
        person: String,
        /// Time from the first page of the chain (or of their own page) to the ack.
        seconds: i64,
        stopped_ladder: bool,
    },
    /// A drill's scenario step: what the trainee is told `minute` minutes in, and what its
    /// make-believe monitoring shows.
    DrillPrompt {
        minute: u32,
        text: String,
        impact: Option<String>,
    },
    /// A drill ended: how it went.
    DrillScored {
        score: super::score::Score,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub at: i64,
    pub actor: String,
    pub event: EventKind,
}

/// Checks a request against the SEV's state and the actor's standing; returns the events to
/// record or a refusal that says why.
pub fn decide(
    inc: &Incident,
    action: &Action,
    standing: Standing,
) -> Result<Vec<EventKind>, Refusal> {
    let id = inc.id;
    let lower_ok = lifecycle::may_lower_urgency(standing, inc.roles.contains_key(&Role::Imoc));
    let needs_imoc = |what: &'static str| Refusal::NeedsImoc {
        id,
        what,
        imoc: inc.roles.get(&Role::Imoc).cloned(),
        declarer: inc.declared_by.clone(),
    };
    // Notes stay welcome after the end: the postmortem is written from the timeline.
    if inc.stage.is_final() && !matches!(action, Action::Note { .. } | Action::Reopen { .. }) {
        return Err(Refusal::Final {
            id,
            stage: inc.stage,
        });
    }
    match action {
        Action::SetLevel { level, reason } => {
            if !inc.stage.is_open() {
                return Err(Refusal::LevelFrozen {
                    id,
                    stage: inc.stage,
                });
            }
            if *level == inc.level {
                return Err(Refusal::SameLevel { id, level: *level });
            }
            if lifecycle::is_downgrade(inc.level, *level) && !lower_ok {
                return Err(needs_imoc("downgrade"));
            }
            Ok(vec![EventKind::LevelChanged {
                from: inc.level,
                to: *level,
                reason: reason.clone(),
            }])
        }
        Action::AssignRole { role, person } => {
            let previous = inc.roles.get(role).cloned();
            if previous.as_deref() == Some(person.as_str()) {
                return Err(Refusal::AlreadyHolds {
                    id,
                    person: person.clone(),
                    role: *role,
                });
            }
            if !standing.is_known {
                return Err(Refusal::NotInConfig {
                    id,
                    doing: "hand out roles",
                });
            }
            if let Some(holder) = &previous
                && !lifecycle::may_hand_over(standing, *role, true)
            {
                return Err(Refusal::RoleOccupied {
                    id,
                    role: *role,
                    holder: holder.clone(),
                    imoc: inc.roles.get(&Role::Imoc).filter(|i| *i != holder).cloned(),
                });
            }
            Ok(vec![EventKind::RoleAssigned {
                role: *role,
                person: person.clone(),
                previous,
            }])
        }
        Action::AskForRole { role } => {
            if !standing.is_known {
                return Err(Refusal::NotInConfig {
                    id,
                    doing: "take roles",
                });
            }
            let Some(holder) = inc.roles.get(role) else {
                return Err(Refusal::NobodyHolds { id, role: *role });
            };
            if standing.holds(*role) {
                return Err(Refusal::YouHold { id, role: *role });
            }
            if lifecycle::may_hand_over(standing, *role, true) {
                return Err(Refusal::MayTakeIt { id, role: *role });
            }
            let mut asked = vec![holder.clone()];
            if let Some(imoc) = inc.roles.get(&Role::Imoc)
                && imoc != holder
            {
                asked.push(imoc.clone());
            }
            Ok(vec![EventKind::RoleRequested { role: *role, asked }])
        }
        Action::PostUpdate { text } => {
            let mut ev = vec![EventKind::Update { text: text.clone() }];
            if inc.stage == Stage::Declared {
                ev.push(EventKind::StageChanged {
                    from: Stage::Declared,
                    to: Stage::Investigating,
                    reason: None,
                });
            }
            Ok(ev)
        }
        Action::Move { to } => {
            if !lifecycle::can_move(inc.stage, *to) {
                return Err(Refusal::CannotMove {
                    id,
                    from: inc.stage,
                    to: *to,
                });
            }
            if *to == Stage::Closed && !lower_ok {
                return Err(needs_imoc("close"));
            }
            Ok(vec![EventKind::StageChanged {
                from: inc.stage,
                to: *to,
                reason: None,
            }])
        }
        Action::Cancel { reason } => {
            if !lifecycle::can_move(inc.stage, Stage::Cancelled) {
                return Err(Refusal::CannotMove {
                    id,
                    from: inc.stage,
                    to: Stage::Cancelled,
                });
            }
            if !lower_ok {
                return Err(needs_imoc("cancel"));
            }
            Ok(vec![EventKind::StageChanged {
                from: inc.stage,
                to: Stage::Cancelled,
                reason: Some(reason.clone()),
            }])
        }
        Action::Note { text } => Ok(vec![EventKind::Note { text: text.clone() }]),
        Action::Reopen { reason } => match inc.stage {
            Stage::Resolved | Stage::Closed => Ok(vec![EventKind::StageChanged {
                from: inc.stage,
                to: Stage::Investigating,
                reason: reason.clone(),
            }]),
            stage => Err(Refusal::CannotReopen { id, stage }),
        },
        Action::Retitle { title } => {
            if *title == inc.title {
                return Err(Refusal::SameTitle { id });
            }
            if !lifecycle::may_retitle(standing) {
                return Err(Refusal::NotTitleOwner {
                    id,
                    imoc: inc.roles.get(&Role::Imoc).cloned(),
                    declarer: inc.declared_by.clone(),
                });
            }
            Ok(vec![EventKind::Retitled {
                from: inc.title.clone(),
                to: title.clone(),
            }])
        }
        Action::Diagnose { note } => {
            if !inc.stage.is_open() {
                return Err(Refusal::NotOpen {
                    id,
                    stage: inc.stage,
                    what: "diagnosed",
                });
            }
            Ok(vec![EventKind::Diagnosed { note: note.clone() }])
        }
    }
}

/// Applies an accepted event to the state.
pub fn evolve(inc: &mut Incident, ev: &EventKind) {
    match ev {
        EventKind::LevelChanged { to, .. } => inc.level = *to,
        EventKind::StageChanged { to, .. } => inc.stage = *to,
        EventKind::RoleAssigned { role, person, .. } => {
            inc.roles.insert(*role, person.clone());
        }
        EventKind::Update { text } => inc.latest_update = Some(text.clone()),
        EventKind::ChannelCreated { name } => inc.channel_name = name.clone(),
        EventKind::Retitled { to, .. } => inc.title = to.clone(),
        EventKind::Declared { .. }
        | EventKind::RoleUnfilled { .. }
        | EventKind::RoleRequested { .. }
        | EventKind::Note { .. }
        | EventKind::Diagnosed { .. }
        | EventKind::FollowupAdded { .. }
        | EventKind::FollowupDone { .. }
        | EventKind::Detected { .. }
        | EventKind::TicketOpened { .. }
        | EventKind::UpdateReminder { .. }
        | EventKind::Paged { .. }
        | EventKind::PageFailed { .. }
        | EventKind::Escalated { .. }
        | EventKind::Acknowledged { .. }
        | EventKind::Impact { .. }
        | EventKind::Alert { .. }
        | EventKind::DrillPrompt { .. }
        | EventKind::DrillScored { .. }
        | EventKind::DraftProposed { .. }
        | EventKind::DraftApproved { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc() -> Incident {
        Incident {
            id: SevId(7),
            sev_type: SevType::Availability,
            level: Level::new(2).unwrap(),
            stage: Stage::Declared,
            title: "Checkout failing".into(),
            customer_impact: false,
            declared_by: "dave".into(),
            declared_at: 0,
            platform: "console".into(),
            channel_name: "sev-7-checkout-failing".into(),
            roles: BTreeMap::from([(Role::Imoc, "alice".into()), (Role::Tloc, "bob".into())]),
            latest_update: None,
            restricted: false,
            redacted: false,
            drill: false,
        }
    }

    fn anyone() -> Standing {
        Standing {
            is_known: true,
            ..Standing::default()
        }
    }

    fn imoc() -> Standing {
        Standing {
            is_imoc: true,
            holds: [true, false, false],
            ..anyone()
        }
    }

    fn run(i: &mut Incident, a: Action, s: Standing) -> Result<(), Refusal> {
        for ev in decide(i, &a, s)? {
            evolve(i, &ev);
        }
        Ok(())
    }

    #[test]
    fn bmoc_required_for_customer_impact() {
        let mut i = inc();
        assert_eq!(i.missing_roles(), vec![]);
        i.level = Level::new(1).unwrap();
        assert_eq!(i.missing_roles(), vec![Role::Bmoc]);
        i.level = Level::new(3).unwrap();
        i.customer_impact = true;
        assert!(i.bmoc_required());
    }

    #[test]
    fn first_update_starts_investigating() {
        let mut i = inc();
        run(
            &mut i,
            Action::PostUpdate {
                text: "looking".into(),
            },
            anyone(),
        )
        .unwrap();
        assert_eq!(i.stage, Stage::Investigating);
        assert_eq!(i.latest_update.as_deref(), Some("looking"));
        let ev = decide(
            &i,
            &Action::PostUpdate {
                text: "more".into(),
            },
            anyone(),
        )
        .unwrap();
        assert_eq!(ev.len(), 1);
    }

    #[test]
    fn full_lifecycle() {
        let mut i = inc();
        run(
            &mut i,
            Action::SetLevel {
                level: Level::new(1).unwrap(),
                reason: None,
            },
            anyone(),
        )
        .unwrap();
        run(
            &mut i,
            Action::Move {
                to: Stage::Mitigated,
            },
            anyone(),
        )
        .unwrap();
        run(
            &mut i,
            Action::Move {
                to: Stage::Resolved,
            },
            anyone(),
        )
        .unwrap();
        let e = run(&mut i, Action::Move { to: Stage::Closed }, anyone()).unwrap_err();
        assert_eq!(
            e,
            Refusal::NeedsImoc {
                id: SevId(7),
                what: "close",
                imoc: Some("alice".into()),
                declarer: "dave".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "Only SEV-7's IMOC (alice) or an admin may close it; ask them."
        );
        run(&mut i, Action::Move { to: Stage::Closed }, imoc()).unwrap();
        let closed = Refusal::Final {
            id: SevId(7),
            stage: Stage::Closed,
        };
        let e = run(&mut i, Action::Move { to: Stage::Closed }, imoc()).unwrap_err();
        assert_eq!(e, closed);
        run(&mut i, Action::Note { text: "x".into() }, anyone()).expect("notes after close");
    }

    #[test]
    fn every_illegal_stage_move_is_refused_with_its_reason() {
        for from in Stage::ALL {
            for to in [
                Stage::Investigating,
                Stage::Mitigated,
                Stage::Resolved,
                Stage::Closed,
            ] {
                let mut i = inc();
                i.stage = from;
                let r = decide(&i, &Action::Move { to }, imoc());
                assert_eq!(r.is_ok(), lifecycle::can_move(from, to), "{from} -> {to}");
                if let Err(e) = r {
                    assert!(
                        matches!(e, Refusal::CannotMove { from: f, to: t, .. } if f == from && t == to)
                            || matches!(e, Refusal::Final { .. }) && from.is_final(),
                        "{e:?}"
                    );
                }
            }
            let mut i = inc();
            i.stage = from;
            let r = decide(&i, &Action::Cancel { reason: "x".into() }, imoc());
            assert_eq!(
                r.is_ok(),
                lifecycle::can_move(from, Stage::Cancelled),
                "{from} -> cancelled"
            );
        }
    }

    #[test]
    fn downgrade_and_cancel_need_the_imoc() {
        let mut i = inc();
        let e = decide(
            &i,
            &Action::SetLevel {
                level: Level::new(3).unwrap(),
                reason: None,
            },
            anyone(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, Refusal::NeedsImoc { what: "downgrade", imoc: Some(i), .. } if i == "alice"),
            "{e:?}"
        );
        assert!(!e.to_string().contains("take the IMOC role"), "{e}");
        assert!(
            decide(
                &i,
                &Action::SetLevel {
                    level: Level::new(3).unwrap(),
                    reason: None
                },
                imoc()
            )
            .is_ok()
        );
        assert!(
            decide(
                &i,
                &Action::SetLevel {
                    level: Level::new(0).unwrap(),
                    reason: None
                },
                anyone()
            )
            .is_ok()
        );
        assert!(
            decide(
                &i,
                &Action::SetLevel {
                    level: Level::new(2).unwrap(),
                    reason: None
                },
                anyone()
            )
            .unwrap_err()
                == Refusal::SameLevel {
                    id: SevId(7),
                    level: Level::new(2).unwrap()
                }
        );
        assert!(
            decide(
                &i,
                &Action::Cancel {
                    reason: "dup".into()
                },
                anyone()
            )
            .is_err()
        );
        // With no IMOC the declarer may lower urgency.
        i.roles.clear();
        let declarer = Standing {
            is_declarer: true,
            ..anyone()
        };
        let e = decide(
            &i,
            &Action::Cancel {
                reason: "dup".into(),
            },
            anyone(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, Refusal::NeedsImoc { what: "cancel", imoc: None, declarer, .. } if declarer == "dave"),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("Only SEV-7's declarer (dave)"),
            "{e}"
        );
        assert!(
            decide(
                &i,
                &Action::Cancel {
                    reason: "dup".into()
                },
                declarer
            )
            .is_ok()
        );
    }

    #[test]
    fn level_frozen_after_resolution() {
        let mut i = inc();
        i.stage = Stage::Resolved;
        assert!(
            decide(
                &i,
                &Action::SetLevel {
                    level: Level::new(0).unwrap(),
                    reason: None
                },
                imoc()
            )
            .unwrap_err()
                == Refusal::LevelFrozen {
                    id: SevId(7),
                    stage: Stage::Resolved
                }
        );
    }

    #[test]
    fn reassigning_roles() {
        let mut i = inc();
        let to_carol = Action::AssignRole {
            role: Role::Imoc,
            person: "carol".into(),
        };
        // An occupied role is not seized: only its holder, the IMOC or an admin hand it on.
        let no = decide(&i, &to_carol, anyone()).unwrap_err();
        assert_eq!(
            no,
            Refusal::RoleOccupied {
                id: SevId(7),
                role: Role::Imoc,
                holder: "alice".into(),
                imoc: None
            }
        );
        assert_eq!(
            no.to_string(),
            "alice holds IMOC on SEV-7. Only they or an admin can hand it over; ask them with `/sev SEV-7 ask imoc`."
        );
        let tloc_no = decide(
            &i,
            &Action::AssignRole {
                role: Role::Tloc,
                person: "carol".into(),
            },
            anyone(),
        )
        .unwrap_err();
        assert!(
            matches!(&tloc_no, Refusal::RoleOccupied { role: Role::Tloc, imoc: Some(i), .. } if i == "alice"),
            "{tloc_no:?}"
        );
        assert!(
            tloc_no
                .to_string()
                .contains("Only they, the IMOC (alice) or an admin"),
            "{tloc_no}"
        );
        let ev = decide(&i, &to_carol, imoc()).unwrap();
        assert_eq!(
            ev,
            vec![EventKind::RoleAssigned {
                role: Role::Imoc,
                person: "carol".into(),
                previous: Some("alice".into())
            }]
        );
        let admin = Standing {
            is_admin: true,
            ..anyone()
        };
        assert!(decide(&i, &to_carol, admin).is_ok());
        let bob_as_tloc = Standing {
            holds: [false, true, false],
            ..anyone()
        };
        assert!(
            decide(
                &i,
                &Action::AssignRole {
                    role: Role::Tloc,
                    person: "carol".into()
                },
                bob_as_tloc
            )
            .is_ok(),
            "the holder hands their own role on"
        );
        // A vacant role anyone may fill.
        i.roles.remove(&Role::Tloc);
        assert!(
            decide(
                &i,
                &Action::AssignRole {
                    role: Role::Tloc,
                    person: "carol".into()
                },
                anyone()
            )
            .is_ok()
        );
        evolve(&mut i, &ev[0]);
        assert!(matches!(
            decide(&i, &to_carol, admin),
            Err(Refusal::AlreadyHolds {
                role: Role::Imoc,
                ..
            })
        ));
    }
}
