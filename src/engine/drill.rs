//! `/sev drill`: a practice SEV. It is declared like any other, with these differences:
//! the title says DRILL; its roles start empty for the trainee to take, and only its
//! starter and the configured volunteers may hold them; those people are paged (on the chat
//! platform only, never a paging service) and nobody else — no ladder, no execs; it is in no
//! feed, e-mail thread or ticket; a customer update is drafted but never published; the SLA
//! ledger and reports leave it out. A scenario posts its prompts and make-believe
//! monitoring on schedule; when the drill ends it is scored.

use super::job::DrillStep;
use super::*;
use crate::domain::Level;
use crate::domain::drill::{self, impact_line};

/// The drill's title: what the scenario calls it, or the kind of SEV practised.
fn drill_title(scenario: Option<&crate::config::Scenario>, level: Level, ty: SevType) -> String {
    match scenario {
        Some(s) => format!("DRILL: {}", s.title.trim()),
        None => format!("DRILL: practice {level} {ty} SEV"),
    }
}

impl Engine {
    pub(super) async fn drill_command(
        &self,
        tx: &mut Tx,
        inv: &Invocation,
        actor: &str,
        (sev_type, level, scenario): (SevType, Level, Option<String>),
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let cfg = self.cfg();
        let scenario = match scenario {
            None => None,
            Some(name) => match cfg.drills.scenarios.get(&name) {
                Some(s) => Some((name, s.clone())),
                None => {
                    let known: Vec<&str> =
                        cfg.drills.scenarios.keys().map(String::as_str).collect();
                    let text = match known.is_empty() {
                        true => format!(
                            "There is no drill scenario \"{}\": none is configured (`[drills] scenarios_dir`). `/sev drill {} {}` runs a drill without one.",
                            self.esc(&inv.platform, &name),
                            sev_type,
                            level.get()
                        ),
                        false => format!(
                            "There is no drill scenario \"{}\"{}; scenarios: {}.",
                            self.esc(&inv.platform, &name),
                            crate::domain::suggest::hint(&name, known.iter().copied()),
                            known.join(", ")
                        ),
                    };
                    return Ok(Outcome::Done(Reply::private(text)));
                }
            },
        };
        let title = drill_title(scenario.as_ref().map(|s| &s.1), level, sev_type);
        let new = NewSev {
            sev_type,
            level,
            title: &title,
            customer_impact: false,
            restricted: sev_type == SevType::Security,
            drill: true,
            declared_by: actor,
            platform: &inv.platform,
            origin_channel: &inv.channel,
            now,
        };
        let about = scenario
            .as_ref()
            .and_then(|(_, s)| s.description.clone())
            .map(|d| format!(" {}", d.trim()))
            .unwrap_or_default();
        let description = format!(
            "This is a DRILL, practice only: take the roles, post updates on cadence, draft the customer update; it is scored when resolved.{about}"
        );
        let reply = self.declare(tx, new, Some(description)).await?;
        if let (Some(id), Some((name, s))) = (reply.declared, &scenario)
            && let Some(first) = s.steps.first()
        {
            let due = now + i64::from(first.after_minutes) * 60_000;
            Job::DrillStep(DrillStep {
                scenario: name.clone(),
                step: 0,
            })
            .schedule(tx, Some(id), due, now)
            .await?;
        }
        Ok(Outcome::Done(reply))
    }

    /// Who takes part in a drill: its starter and the volunteers.
    pub(super) fn drill_people(&self, inc: &Incident) -> Vec<String> {
        let mut people = vec![inc.declared_by.clone()];
        for v in &self.cfg().drills.volunteers {
            if !people.contains(v) {
                people.push(v.clone());
            }
        }
        people
    }

    /// Why `person` may not be given a role or a follow-up in `inc`: it is a drill and they
    /// take no part in it.
    pub(super) fn outside_drill(&self, inc: &Incident, person: &str) -> Option<Refusal> {
        let people = self.drill_people(inc);
        (inc.drill && !people.iter().any(|p| p == person)).then(|| {
            let cfg = self.cfg();
            Refusal::NotInDrill {
                id: inc.id,
                person: cfg.display_name(person),
                people: people
                    .iter()
                    .map(|p| cfg.display_name(p))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
    }

    /// A drill's roles start empty: taking them is the practice.
    pub(super) fn drill_roles(&self, inc: &Incident) -> Vec<EventKind> {
        inc.missing_roles()
            .into_iter()
            .map(|role| EventKind::RoleUnfilled {
                role,
                why: format!(
                    "a drill: take it with `/sev role {} @you` (only the drill's people may hold it)",
                    role.as_str()
                ),
            })
            .collect()
    }

    /// Pages the drill's people on the chat platform (never a paging service).
    pub(super) async fn page_drill_people(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        now: i64,
    ) -> anyhow::Result<()> {
        for person in self.drill_people(inc) {
            // The title is on the card, escaped there; the page carries only sevbot's words.
            let why = format!(
                "DRILL, practice only: {} has started; join its channel #{} and take a role.",
                inc.id, inc.channel_name
            );
            self.page(tx, inc, &person, None, 0, why, now).await?;
        }
        Ok(())
    }

    /// A scenario step fires: its prompt and monitoring go to the drill's channel, and the
    /// next step is planned. Nothing happens once the drill is over or the scenario gone.
    pub(super) async fn drill_step(
        &self,
        tx: &mut Tx,
        id: SevId,
        step: &DrillStep,
        now: i64,
    ) -> anyhow::Result<()> {
        let Some(mut inc) = sevs::load(tx, id).await? else {
            return Ok(());
        };
        let cfg = self.cfg();
        let Some(scenario) = cfg.drills.scenarios.get(&step.scenario) else {
            tracing::warn!(scenario = %step.scenario, "a drill's scenario is no longer configured");
            return Ok(());
        };
        if !inc.drill || !inc.stage.is_open() {
            return Ok(());
        }
        let Some(s) = scenario.steps.get(step.step) else {
            return Ok(());
        };
        let samples: Vec<(String, u64, u64)> = s
            .samples
            .iter()
            .map(|x| (x.route.clone(), x.requests, x.failures))
            .collect();
        let prompt = EventKind::DrillPrompt {
            minute: s.after_minutes,
            text: s.prompt.clone(),
            impact: impact_line(&samples),
        };
        self.post_recorded(tx, &mut inc, &[prompt], now).await?;
        if let Some(next) = scenario.steps.get(step.step + 1) {
            let due = inc.declared_at + i64::from(next.after_minutes) * 60_000;
            Job::DrillStep(DrillStep {
                scenario: step.scenario.clone(),
                step: step.step + 1,
            })
            .schedule(tx, Some(id), due.max(now), now)
            .await?;
        }
        Ok(())
    }

    /// A drill ended (resolved or cancelled): its score, recorded and posted in its channel.
    pub(super) async fn score_drill(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        now: i64,
    ) -> anyhow::Result<String> {
        let timeline = sevs::timeline(tx, inc.id).await?;
        let cadence = self
            .cfg()
            .reminders
            .update_cadence_minutes
            .get(usize::from(inc.level.get()))
            .copied()
            .unwrap_or(0);
        let score = drill::score(
            &timeline,
            inc.declared_at,
            now,
            &inc.required_roles(),
            cadence,
            inc.bmoc_required(),
        );
        let text = score.describe();
        let ev = EventKind::DrillScored { score };
        self.post_recorded(tx, inc, &[ev], now).await?;
        Ok(text)
    }
}
