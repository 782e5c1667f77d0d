//! `/sev followup`: what is to be done after the SEV, numbered per SEV, with an owner and a
//! due date. Follow-ups may be added and closed after the SEV ended (they are its
//! aftermath); the postmortem lists them and `/sev status` shows the open ones.

use super::*;
use crate::domain::grammar::FollowupAction;
use crate::store::followups::{self, Followup};

impl Engine {
    pub(super) async fn followup_command(
        &self,
        tx: &mut Tx,
        inv: &Invocation,
        actor: &str,
        mut inc: Incident,
        action: FollowupAction,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let id = inc.id;
        let event = match action {
            FollowupAction::List => {
                let all = followups::all(tx, id).await?;
                let text = match all.is_empty() {
                    true => format!(
                        "{id} has no follow-ups; add one with `/sev {id} followup add <text…> [@owner] [due YYYY-MM-DD]`."
                    ),
                    false => format!(
                        "Follow-ups of {id}:\n{}",
                        self.followup_lines(&inv.platform, &all).join("\n")
                    ),
                };
                return Ok(Outcome::Done(Reply::private(text)));
            }
            FollowupAction::Add { text, owner, due } => {
                let owner = match owner {
                    None => None,
                    Some(h) => match self.cfg().person_by_handle(&inv.platform, &h) {
                        // A drill's follow-up reminds nobody outside it.
                        Some(p) if let Some(no) = self.outside_drill(&inc, &p.id) => {
                            return Ok(Outcome::Refused(no));
                        }
                        Some(p) => Some(p.id.clone()),
                        None => {
                            let cfg = self.cfg();
                            let known = cfg.people.iter().map(|p| p.id.as_str());
                            let guess = grammar::closest(&h, known).map(str::to_string);
                            return Ok(Outcome::Refused(Refusal::UnknownOwner { user: h, guess }));
                        }
                    },
                };
                let number =
                    followups::add(tx, id, &text, owner.as_deref(), due.as_deref(), actor, now)
                        .await?;
                if let (Some(o), Some(d)) = (&owner, &due) {
                    let at = self.due_at(o, d).unwrap_or(now).max(now);
                    Job::FollowupDue { number }
                        .schedule(tx, Some(id), at, now)
                        .await?;
                }
                EventKind::FollowupAdded {
                    number,
                    text,
                    owner,
                    due,
                }
            }
            FollowupAction::Done(number) => {
                if !followups::done(tx, id, number, actor, now).await? {
                    return Ok(Outcome::Refused(Refusal::NoSuchFollowup { id, number }));
                }
                EventKind::FollowupDone { number }
            }
        };
        let recorded = self.record(tx, &mut inc, actor, &[event], now).await?;
        let summary = self.summarize(&inv.platform, &recorded);
        // An ended SEV's channel is archived: the timeline keeps it, the channel does not.
        if !inc.stage.is_final() {
            self.post_events(tx, &inc, recorded, now).await?;
        }
        Ok(Outcome::Done(Reply::private(format!("{id}: {summary}."))))
    }

    /// 09:00 on the due date where the owner is (their configured timezone).
    fn due_at(&self, owner: &str, due: &str) -> Option<i64> {
        use chrono::TimeZone;
        let tz = self.cfg().person(owner).map(|p| p.timezone)?;
        let day = chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d").ok()?;
        let local = day.and_hms_opt(9, 0, 0)?;
        Some(
            tz.from_local_datetime(&local)
                .earliest()?
                .timestamp_millis(),
        )
    }

    /// A follow-up's due date came: its owner gets a direct message, unless it is done.
    pub(super) async fn followup_due(
        &self,
        tx: &mut Tx,
        id: SevId,
        number: i64,
        now: i64,
    ) -> anyhow::Result<()> {
        let (Some(inc), Some(f)) = (
            sevs::load(tx, id).await?,
            followups::get(tx, id, number).await?,
        ) else {
            return Ok(());
        };
        let (None, Some(owner), Some(due)) = (f.done_at, f.owner, f.due) else {
            return Ok(());
        };
        let remind = Effect::RemindFollowup {
            sev: id,
            person: owner,
            number,
            text: f.text,
            due,
        };
        self.enqueue(tx, &inc.platform, remind, now).await?;
        Ok(())
    }

    /// `#2 [open] Alert on queue depth — @bob, due 2026-03-10`.
    pub(super) fn followup_lines(&self, platform: &str, all: &[Followup]) -> Vec<String> {
        all.iter()
            .map(|f| {
                let mut s = format!(
                    "#{} [{}] {}",
                    f.number,
                    if f.done_at.is_some() { "done" } else { "open" },
                    self.esc(platform, &f.text)
                );
                let owner = f.owner.as_deref().map(|o| self.name_of(platform, o));
                match (owner, &f.due) {
                    (Some(o), Some(d)) => s.push_str(&format!(" — {o}, due {d}")),
                    (Some(o), None) => s.push_str(&format!(" — {o}")),
                    (None, Some(d)) => s.push_str(&format!(" — due {d}")),
                    (None, None) => {}
                }
                s
            })
            .collect()
    }
}
