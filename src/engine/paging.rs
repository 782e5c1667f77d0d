//! Pages, the escalation ladder and acknowledgements, inside the engine's transactions:
//! a role handed to someone pages them; the ladder frozen at declare climbs a step at a
//! time (each a durable job) until someone in its chain acknowledges; resolving or
//! cancelling stops everything, PagerDuty included.

use chrono::DateTime;

use super::{Engine, JOB_ESCALATE, Job, Outcome, Reply, SYSTEM_ACTOR};
use crate::domain::escalation::{Ladder, policy_for};
use crate::domain::text::fmt_duration;
use crate::domain::{EventKind, Incident, Refusal, Role, TimelineEvent};
use crate::effects::{Effect, PageAction, page_severity};
use crate::store::paging::{self, Page, StoredLadder};
use crate::store::{Tx, jobs};

impl Engine {
    /// Freezes the SEV's escalation policy into people (its first page went to `primary`,
    /// the IMOC) and schedules the first step.
    pub(super) async fn start_ladder(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        now: i64,
    ) -> anyhow::Result<()> {
        let ladder = self.freeze_ladder(inc, now);
        paging::freeze(tx, inc.id, &ladder, now).await?;
        if let Some(first) = ladder.steps.first() {
            let due = now + i64::from(first.after_minutes) * 60_000;
            Job::Escalate { step: 0 }
                .schedule(tx, Some(inc.id), due, now)
                .await?;
        }
        Ok(())
    }

    /// Arms a new ladder from `now` on the SEV's current policy (a reopened SEV, or a
    /// level raised to a stricter policy): the IMOC is paged again and the steps climb from
    /// now until someone in the chain acknowledges. A policy without steps pages nobody;
    /// an IMOC who made the change is already there, which answers the ladder.
    pub(super) async fn rearm_ladder(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        actor: &str,
        why: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        if inc.drill {
            // A drill has no ladder: it never reaches secondaries, managers or execs.
            return Ok(());
        }
        let ladder = self.freeze_ladder(inc, now);
        jobs::cancel(tx, inc.id, JOB_ESCALATE, now).await?;
        paging::close_chain(tx, inc.id, now).await?;
        paging::freeze(tx, inc.id, &ladder, now).await?;
        let Some(first) = ladder.steps.first() else {
            return Ok(());
        };
        let Some(imoc) = inc.roles.get(&Role::Imoc) else {
            return Ok(());
        };
        if imoc == actor {
            paging::ack_ladder(tx, inc.id, actor, now).await?;
            return Ok(());
        }
        let why = format!("{why} You are paged as IMOC for {}.", inc.id);
        self.page(tx, inc, imoc, Some(Role::Imoc), 0, why, now)
            .await?;
        let due = now + i64::from(first.after_minutes) * 60_000;
        Job::Escalate { step: 0 }
            .schedule(tx, Some(inc.id), due, now)
            .await?;
        Ok(())
    }

    /// The policy that applies to `inc` now, by name (to tell whether a raise changed it).
    pub(super) fn policy_name(&self, inc: &Incident) -> String {
        policy_for(&self.cfg().policies, inc.level, inc.sev_type).0
    }

    /// The SEV's policy resolved to people now (config and rotations as they are).
    fn freeze_ladder(&self, inc: &Incident, now: i64) -> Ladder {
        let at = DateTime::from_timestamp_millis(now).unwrap_or_default();
        let primary = inc.roles.get(&Role::Imoc).map(String::as_str);
        self.cfg().ladder(inc.level, inc.sev_type, primary, at)
    }

    /// Pages everyone `events` handed a role to, except people who took it themselves
    /// (taking the IMOC role yourself acknowledges the ladder). Returns the timeline
    /// events recorded (an acknowledgement); "paged" is recorded once a page is delivered.
    pub(super) async fn page_new_roles(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        actor: &str,
        events: &[TimelineEvent],
        now: i64,
    ) -> anyhow::Result<Vec<TimelineEvent>> {
        let mut out = vec![];
        for ev in events {
            let EventKind::RoleAssigned { role, person, .. } = &ev.event else {
                continue;
            };
            if person == actor {
                // Taking the IMOC role yourself answers the escalation only when that
                // silences nobody (no one else's page of its chain is open, as when you
                // declare and hold the role); otherwise it answers your own pages alone.
                if *role == Role::Imoc {
                    let pages = paging::all(tx, inc.id).await?;
                    let others_paged = pages
                        .iter()
                        .any(|p| p.in_chain() && p.is_open() && p.person != *actor);
                    let ladder = paging::ladder(tx, inc.id).await?;
                    let (_, events) = self
                        .acknowledge(tx, inc, actor, !others_paged, (pages, ladder), now)
                        .await?;
                    out.extend(events);
                }
                continue;
            }
            let why = format!("You are paged as {role} for {}.", inc.id);
            self.page(tx, inc, person, Some(*role), 0, why, now).await?;
        }
        Ok(out)
    }

    /// One page: the row, the direct message, and the paging services where the person
    /// is flagged for them. The timeline says "paged" when a route delivers it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn page(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        person: &str,
        role: Option<Role>,
        step: u32,
        why: String,
        now: i64,
    ) -> anyhow::Result<()> {
        // A drill pages on the chat platform only: practice never wakes a paging service.
        let external =
            !inc.drill && !self.paging_sinks.is_empty() && self.external_paging_for(person);
        let id = paging::insert(tx, inc.id, person, role, i64::from(step), external, now).await?;
        let page = Effect::Page {
            incident: inc.clone(),
            person: person.to_string(),
            why,
            page: Some(id),
        };
        self.enqueue(tx, &inc.platform, page, now).await?;
        if external {
            let summary = format!(
                "{} {} {}: {} (paging {person})",
                inc.id, inc.level, inc.sev_type, inc.title
            );
            self.external_page(
                tx,
                inc,
                PageAction::Trigger,
                person,
                &summary,
                Some(id),
                now,
            )
            .await?;
        }
        metrics::counter!("sevbot_pages_total", "step" => step.to_string()).increment(1);
        Ok(())
    }

    /// People (or rotations) flagged `pagerduty = true` in the config are paged through
    /// the paging services too.
    fn external_paging_for(&self, person: &str) -> bool {
        self.cfg()
            .person(person)
            .is_some_and(|p| p.pages_externally)
    }

    /// One event for every paging sink.
    #[allow(clippy::too_many_arguments)]
    async fn external_page(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        action: PageAction,
        person: &str,
        summary: &str,
        page: Option<i64>,
        now: i64,
    ) -> anyhow::Result<()> {
        let effect = Effect::ExternalPage {
            sev: inc.id,
            action,
            // Stable: the same page always maps to the same incident in the service.
            dedup_key: format!("sevbot/{}/{person}", inc.id),
            summary: summary.to_string(),
            severity: page_severity(inc.level).into(),
            person: Some(person.to_string()),
            page,
        };
        for sink in &self.paging_sinks {
            self.enqueue(tx, sink, effect.clone(), now).await?;
        }
        Ok(())
    }

    /// A due ladder step: if nobody in the chain has acknowledged, page the step's people,
    /// say so in the channel, and schedule the next step.
    pub(super) async fn escalate(
        &self,
        tx: &mut Tx,
        job: &jobs::Job,
        step: usize,
        now: i64,
    ) -> anyhow::Result<()> {
        let Some(id) = job.sev_id else { return Ok(()) };
        let Some(mut inc) = crate::store::incidents::load(tx, id).await? else {
            return Ok(());
        };
        let Some(stored) = paging::ladder(tx, id).await? else {
            return Ok(());
        };
        if !inc.stage.is_open() || stored.acked_at.is_some() {
            return Ok(());
        }
        let Some(this) = stored.ladder.steps.get(step) else {
            return Ok(());
        };
        let pages = paging::all(tx, id).await?;
        let open = || pages.iter().filter(|p| p.in_chain() && p.is_open());
        let unacked: Vec<String> = open()
            .filter(|p| p.failed_at.is_none())
            .map(|p| p.person.clone())
            .collect();
        let unreachable: Vec<String> = open()
            .filter(|p| p.failed_at.is_some())
            .map(|p| p.person.clone())
            .collect();
        let number = step as u32 + 1;
        let events = vec![EventKind::Escalated {
            step: number,
            after_minutes: this.after_minutes,
            unacked: unacked.clone(),
            to: this.people.clone(),
            target: this.target.clone(),
            unreachable: unreachable.clone(),
        }];
        let why = match (unacked.is_empty(), unreachable.is_empty()) {
            (true, false) => format!("{} could not be paged", unreachable.join(", ")),
            (true, true) => format!(
                "No acknowledgement from anyone after {} min",
                this.after_minutes
            ),
            _ => format!(
                "No acknowledgement from {} after {} min",
                unacked.join(", "),
                this.after_minutes
            ),
        };
        for person in &this.people {
            let why = format!(
                "{why}: the page for {} climbed to you ({}).",
                inc.id, this.target
            );
            self.page(tx, &inc, person, None, number, why, now).await?;
        }
        for ev in self
            .record(tx, &mut inc, SYSTEM_ACTOR, &events, now)
            .await?
        {
            self.enqueue(
                tx,
                &inc.platform,
                Effect::PostEvent { sev: id, event: ev },
                now,
            )
            .await?;
        }
        if let Some(next) = stored.ladder.steps.get(step + 1) {
            let due = stored.started_at + i64::from(next.after_minutes) * 60_000;
            Job::Escalate { step: step + 1 }
                .schedule(tx, Some(id), due.max(now), now)
                .await?;
        }
        Ok(())
    }

    /// `/sev ack`: the paged person, or anyone the ladder climbed to, silences their page;
    /// from the chain it stops the ladder. Everyone else is told why they cannot.
    pub(super) async fn ack_command(
        &self,
        tx: &mut Tx,
        platform: &str,
        actor: &str,
        mut inc: Incident,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let id = inc.id;
        let name = |p: &str| self.name_of(platform, p);
        if !inc.stage.is_open() {
            return Ok(Outcome::Refused(Refusal::NothingToAck {
                id,
                stage: inc.stage,
            }));
        }
        let pages = paging::all(tx, id).await?;
        let mine: Vec<&Page> = pages.iter().filter(|p| p.person == actor).collect();
        // The IMOC answers for the escalation, paged or not (say after a hand-over).
        let is_imoc = inc.roles.get(&Role::Imoc).is_some_and(|i| i == actor);
        let ladder = paging::ladder(tx, id).await?;
        let ladder_running = ladder.as_ref().is_some_and(|l| l.acked_at.is_none());
        if mine.is_empty() && !is_imoc {
            let paged: Vec<String> = pages
                .iter()
                .map(|p| match (p.role, p.step) {
                    (Some(r), 0) => format!("{} ({r})", name(&p.person)),
                    (_, s) => format!("{} (step {s})", name(&p.person)),
                })
                .collect();
            return Ok(Outcome::Refused(Refusal::NotPaged { id, paged }));
        }
        let answerable = mine.iter().any(|p| p.is_open()) || (is_imoc && ladder_running);
        if !answerable {
            let why = match (mine.iter().filter_map(|p| p.acked_at).max(), ladder) {
                (Some(at), _) => Refusal::AlreadyAcked { id, at },
                (None, Some(l)) if l.acked_at.is_some() => Refusal::AckedByOther {
                    id,
                    by: l.acked_by.as_deref().map(name).unwrap_or_default(),
                    at: l.acked_at.unwrap_or_default(),
                },
                _ => Refusal::PageStopped { id },
            };
            return Ok(Outcome::Refused(why));
        }
        let (text, recorded) = self
            .acknowledge(tx, &mut inc, actor, is_imoc, (pages, ladder), now)
            .await?;
        self.post_events(tx, &inc, recorded, now).await?;
        Ok(Outcome::Done(Reply::public(text)))
    }

    /// Acknowledges `person`'s pages; from the ladder's chain (the IMOC's page or a step),
    /// or from the IMOC acknowledging for the escalation (`as_imoc`), it also stops the
    /// ladder and closes the chain's other pages. `seen` is the SEV's pages and ladder as
    /// the caller read them in this transaction. Returns the answer and the timeline events
    /// recorded.
    pub(super) async fn acknowledge(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        person: &str,
        as_imoc: bool,
        seen: (Vec<Page>, Option<StoredLadder>),
        now: i64,
    ) -> anyhow::Result<(String, Vec<TimelineEvent>)> {
        let id = inc.id;
        let (pages, ladder) = seen;
        let mine: Vec<&Page> = pages
            .iter()
            .filter(|p| p.person == person && p.is_open())
            .collect();
        let in_chain = mine.iter().any(|p| p.in_chain()) || as_imoc;
        paging::ack_person(tx, id, person, now).await?;
        let stop = in_chain && ladder.as_ref().is_some_and(|l| l.acked_at.is_none());
        let first_paged = mine.iter().map(|p| p.paged_at).min();
        let since = match (&ladder, stop) {
            (Some(l), true) => l.started_at,
            _ => first_paged.unwrap_or(now),
        };
        let seconds = (now - since) / 1000;
        if stop {
            paging::ack_ladder(tx, id, person, now).await?;
            jobs::cancel(tx, id, JOB_ESCALATE, now).await?;
            paging::close_chain(tx, id, now).await?;
            metrics::histogram!("sevbot_time_to_ack_seconds").record(seconds as f64);
            self.external_all(tx, inc, &pages, PageAction::Acknowledge, now)
                .await?;
        }
        if mine.is_empty() && !stop {
            return Ok((format!("{id}: nothing to acknowledge."), vec![]));
        }
        let ev = EventKind::Acknowledged {
            person: person.to_string(),
            seconds,
            stopped_ladder: stop,
        };
        let recorded = self.record(tx, inc, person, &[ev], now).await?;
        let text = match stop {
            true => format!(
                "{id} acknowledged by {} after {}; the escalation is stopped.",
                self.name_of(&inc.platform, person),
                fmt_duration(seconds)
            ),
            false => format!(
                "{id}: {} acknowledged their page after {}.",
                self.name_of(&inc.platform, person),
                fmt_duration(seconds)
            ),
        };
        Ok((text, recorded))
    }

    /// The SEV is no longer open: the ladder and every page stop, PagerDuty resolves.
    pub(super) async fn stop_pages(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        now: i64,
    ) -> anyhow::Result<()> {
        jobs::cancel(tx, inc.id, JOB_ESCALATE, now).await?;
        paging::close_open(tx, inc.id, now).await?;
        let pages = paging::all(tx, inc.id).await?;
        self.external_all(tx, inc, &pages, PageAction::Resolve, now)
            .await
    }

    /// Sends `action` for every page of the SEV (`pages`) that went to PagerDuty.
    async fn external_all(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        pages: &[Page],
        action: PageAction,
        now: i64,
    ) -> anyhow::Result<()> {
        let mut people: Vec<String> = pages
            .iter()
            .filter(|p| p.pagerduty)
            .map(|p| p.person.clone())
            .collect();
        people.sort();
        people.dedup();
        for person in people {
            self.external_page(tx, inc, action, &person, &inc.title, None, now)
                .await?;
        }
        Ok(())
    }
}
