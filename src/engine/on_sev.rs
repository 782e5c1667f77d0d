//! Commands about one SEV: read it (status, timeline) or change it through the domain's
//! `decide`, then record, page, invite and publish what changed.

use super::*;

impl Engine {
    pub(super) async fn on_sev(
        &self,
        tx: &mut Tx,
        inv: &Invocation,
        actor: &str,
        cmd: Command,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let explicit = cmd.target().flatten();
        let id = match explicit {
            Some(id) => id,
            None => match sevs::by_channel(tx, &inv.platform, &inv.channel).await? {
                Some(id) => id,
                None => {
                    return Ok(Outcome::Refused(Refusal::NotASevChannel {
                        here: self.channel_ref(&inv.platform, &inv.channel),
                        command: cmd.name(),
                    }));
                }
            },
        };
        tracing::Span::current().record("sev", id.0);
        let Some(mut inc) = sevs::load(tx, id).await? else {
            return Ok(Outcome::Refused(Refusal::NoSuchSev { id }));
        };
        if inc.restricted && !inc.may_see(actor, self.viewer(tx, inv, actor, id).await?) {
            return Ok(Outcome::Refused(Refusal::Restricted { id }));
        }
        let action = match cmd {
            Command::Status { .. } => {
                let name = |p: &str| self.name_of(&inv.platform, p);
                let mut text = self.with_markup(&inv.platform, |m| card_text(&inc, m));
                let unreached: Vec<String> = crate::store::paging::all(tx, id)
                    .await?
                    .into_iter()
                    .filter(|p| p.failed_at.is_some() && p.is_open())
                    .map(|p| {
                        let why = p.failure.unwrap_or_default();
                        format!("• {}: {}", name(&p.person), self.esc(&inv.platform, &why))
                    })
                    .collect();
                if !unreached.is_empty() {
                    text.push_str(&format!("\nCould not be paged:\n{}", unreached.join("\n")));
                }
                // Once it is over, what is left to do is what matters.
                if !inc.stage.is_open() {
                    let open: Vec<_> = crate::store::followups::all(tx, id)
                        .await?
                        .into_iter()
                        .filter(|f| f.done_at.is_none())
                        .collect();
                    if !open.is_empty() {
                        let lines = self.followup_lines(&inv.platform, &open);
                        text.push_str(&format!("\nOpen follow-ups:\n{}", lines.join("\n")));
                    }
                }
                return Ok(Outcome::Done(Reply::private(text)));
            }
            Command::Timeline { .. } => {
                let tl = sevs::timeline(tx, id).await?;
                let lines: Vec<String> = self.with_markup(&inv.platform, |m| {
                    tl.iter()
                        .map(|e| format!("{} {}", fmt_time(e.at), describe(&e.event, &e.actor, m)))
                        .collect()
                });
                return Ok(Outcome::Done(Reply::private(format!(
                    "Timeline of {id}:\n{}",
                    lines.join("\n")
                ))));
            }
            Command::Ack { .. } => {
                return self.ack_command(tx, &inv.platform, actor, inc, now).await;
            }
            Command::Impact { .. } => return self.impact_command(tx, &inc, now).await,
            Command::Draft { action, .. } => {
                return self
                    .draft_command(tx, &inv.platform, actor, inc, action, now)
                    .await;
            }
            Command::Level { level, reason, .. } => Action::SetLevel { level, reason },
            Command::Role { role, user, .. } => {
                match self.cfg().person_by_handle(&inv.platform, &user) {
                    // A drill reaches nobody outside it: its roles are for its people.
                    Some(p) if let Some(no) = self.outside_drill(&inc, &p.id) => {
                        return Ok(Outcome::Refused(no));
                    }
                    Some(p) => Action::AssignRole {
                        role,
                        person: p.id.clone(),
                    },
                    None => {
                        let cfg = self.cfg();
                        let known = cfg.people.iter().map(|p| p.id.as_str());
                        let guess = grammar::closest(&user, known).map(str::to_string);
                        return Ok(Outcome::Refused(Refusal::UnknownPerson { user, guess }));
                    }
                }
            }
            Command::Ask { role, .. } => {
                if let Some(ago) = self.asked_recently(tx, id, actor, role, now).await? {
                    return Ok(Outcome::Refused(Refusal::AskedRecently {
                        id,
                        role,
                        seconds_ago: ago / 1000,
                    }));
                }
                Action::AskForRole { role }
            }
            Command::Update { text, .. } => Action::PostUpdate { text },
            Command::Followup { action, .. } => {
                return self
                    .followup_command(tx, inv, actor, inc, action, now)
                    .await;
            }
            Command::Postmortem { .. } => {
                let doc = self.postmortem(tx, &inc, now).await?;
                return self.hand_over_postmortem(tx, inv, &inc, doc, now).await;
            }
            Command::Diagnosed { note, .. } => Action::Diagnose { note },
            // A drill stays marked as one whatever it is retitled to.
            Command::Retitle { title, .. } if inc.drill && !title.starts_with("DRILL") => {
                Action::Retitle {
                    title: format!("DRILL: {title}"),
                }
            }
            Command::Retitle { title, .. } => Action::Retitle { title },
            Command::Reopen { reason, .. } => {
                if inc.stage == Stage::Closed && self.channel_deleted(tx, &inc).await? {
                    return Ok(Outcome::Refused(Refusal::ChannelDeleted { id }));
                }
                Action::Reopen { reason }
            }
            Command::Mitigated { .. } => Action::Move {
                to: Stage::Mitigated,
            },
            Command::Resolved { .. } => Action::Move {
                to: Stage::Resolved,
            },
            Command::Close { .. } => Action::Move { to: Stage::Closed },
            Command::Cancel { reason, .. } => Action::Cancel { reason },
            Command::Note { text, .. } => Action::Note { text },
            Command::Declare { .. }
            | Command::List
            | Command::Sla
            | Command::Report { .. }
            | Command::Drill { .. }
            | Command::Oncall { .. }
            | Command::Simulate { .. }
            | Command::Subscribe { .. }
            | Command::Unsubscribe { .. }
            | Command::Help { .. } => {
                unreachable!("handled before on_sev")
            }
        };
        let standing = inc.standing(actor, self.cfg().is_admin(actor));
        let events = match decide(&inc, &action, standing) {
            Ok(ev) => ev,
            Err(why) => return Ok(refused_with_offer(&inc, &action, standing, why)),
        };
        let before = inc.clone();
        // Raising the level to one with customer impact needs a BMOC now.
        let mut probe = inc.clone();
        for ev in &events {
            evolve(&mut probe, ev);
        }
        // A drill's roles are the trainee's to take, never filled from the rotations.
        let filled: Vec<EventKind> = if probe.stage.is_open() && !inc.drill {
            self.fill_roles(&probe, now)
                .into_iter()
                .filter(|e| matches!(e, EventKind::RoleAssigned { .. }))
                .collect()
        } else {
            vec![]
        };
        let mut recorded = self
            .record_all(
                tx,
                &mut inc,
                &[(actor, &events), (SYSTEM_ACTOR, &filled)],
                now,
            )
            .await?;
        if before.stage.is_open() && !inc.stage.is_open() {
            self.stop_pages(tx, &inc, now).await?;
        }
        // Back from resolved, or raised onto a stricter policy: a new ladder from now.
        let reopened = !before.stage.is_open() && inc.stage.is_open();
        if reopened {
            if before.stage == Stage::Closed {
                // Its channel comes back before anything is posted there, and stays.
                crate::store::jobs::cancel(tx, id, JOB_DELETE_CHANNEL, now).await?;
                self.enqueue(tx, &inc.platform, Effect::UnarchiveChannel { sev: id }, now)
                    .await?;
            }
            let why = format!("{id} was reopened.");
            self.rearm_ladder(tx, &inc, actor, &why, now).await?;
        } else if inc.stage.is_open() && inc.level < before.level {
            let frozen = crate::store::paging::ladder(tx, id)
                .await?
                .map(|l| l.ladder.policy);
            if frozen.as_deref() != Some(self.policy_name(&inc).as_str()) {
                let why = format!("{id} was raised to {}.", inc.level);
                self.rearm_ladder(tx, &inc, actor, &why, now).await?;
            }
        }
        let handed = recorded.clone();
        recorded.extend(
            self.page_new_roles(tx, &mut inc, actor, &handed, now)
                .await?,
        );
        let topic_changed = before.level != inc.level
            || before.title != inc.title
            || before.stage != inc.stage
            || before.roles.get(&Role::Imoc) != inc.roles.get(&Role::Imoc);
        let new_people: Vec<String> = inc
            .roles
            .values()
            .filter(|p| !before.roles.values().any(|b| b == *p))
            .cloned()
            .collect();
        if !new_people.is_empty() {
            self.enqueue(
                tx,
                &inc.platform,
                Effect::Invite {
                    sev: id,
                    people: new_people,
                },
                now,
            )
            .await?;
        }
        // An ended SEV's channel is archived: a late note goes on the timeline only. The
        // card and the feeds show the SEV, not its timeline: a note or an acknowledgement
        // that changes nothing there is posted in the channel without editing them again
        // (each edit is a paced platform call during the busiest minutes).
        if !before.stage.is_final() || inc.stage.is_open() {
            if inc != before {
                self.publish(tx, &inc, &recorded, topic_changed, now)
                    .await?;
            } else {
                self.post_events(tx, &inc, recorded.clone(), now).await?;
            }
        }
        // A drill that ends is scored, in its channel before it is archived.
        let mut score = None;
        if inc.drill && before.stage.is_open() && !inc.stage.is_open() {
            score = Some(self.score_drill(tx, &mut inc, now).await?);
        }
        if inc.stage.is_final() && !before.stage.is_final() {
            self.retire_channel(tx, &inc, now).await?;
        }
        let updated = recorded
            .iter()
            .any(|e| matches!(e.event, EventKind::Update { .. }));
        if updated {
            sevs::touch_last_update(tx, id, now).await?;
        }
        if before.level != inc.level || before.stage != inc.stage || updated {
            self.reschedule_reminder(tx, &inc, updated.then_some(now), now)
                .await?;
        }
        let summary = self.summarize(&inv.platform, &recorded);
        let score = score
            .map(|s| format!("\nDRILL over, the score: {s}."))
            .unwrap_or_default();
        Ok(Outcome::Done(Reply::private(format!(
            "{id}: {summary}.{score}"
        ))))
    }

    /// Whether a closed SEV's archived channel is gone: its platform deletes archived
    /// channels and the deletion is no longer pending.
    async fn channel_deleted(&self, tx: &mut Tx, inc: &Incident) -> anyhow::Result<bool> {
        let deletes = self
            .renderers
            .get(&inc.platform)
            .is_some_and(|p| p.deletes_archived_channels());
        Ok(deletes
            && self.cfg().discord.archive_retention_days > 0
            && !crate::store::jobs::pending_for(tx, inc.id, JOB_DELETE_CHANNEL).await?)
    }

    /// A closed or cancelled SEV's channel is archived; on Discord, whose guilds hold 500
    /// channels, it is also deleted after the configured retention.
    pub(super) async fn retire_channel(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        now: i64,
    ) -> anyhow::Result<()> {
        self.enqueue(
            tx,
            &inc.platform,
            Effect::ArchiveChannel { sev: inc.id },
            now,
        )
        .await?;
        let days = i64::from(self.cfg().discord.archive_retention_days);
        let deletes = self
            .renderers
            .get(&inc.platform)
            .is_some_and(|p| p.deletes_archived_channels());
        if deletes && days > 0 {
            let due = now + days * 24 * 3_600_000;
            Job::DeleteChannel
                .schedule(tx, Some(inc.id), due, now)
                .await?;
        }
        Ok(())
    }
}

/// A refused hand-over of an occupied role comes with a button to ask for it, for anyone
/// who may ask (in the config, not the holder, not someone who could hand it on).
pub(super) fn refused_with_offer(
    inc: &Incident,
    action: &Action,
    standing: Standing,
    why: Refusal,
) -> Outcome {
    let Action::AssignRole { role, .. } = action else {
        return Outcome::Refused(why);
    };
    let ask = Action::AskForRole { role: *role };
    if decide(inc, &ask, standing).is_err() {
        return Outcome::Refused(why);
    }
    Outcome::Done(Reply {
        offer: Some(Offer {
            sev: inc.id,
            action: CardAction::AskForRole(*role),
        }),
        ..Reply::refused(why)
    })
}
