//! The customer-facing update: written from the template, edited by the BMOC or IMOC
//! (in a form where there are forms), approved and published.

use super::*;
use crate::domain::Refusal;

impl Engine {
    /// `/sev draft`: show (writing one first if needed), edit, or approve and publish.
    pub(in crate::engine) async fn draft_command(
        &self,
        tx: &mut Tx,
        platform: &str,
        actor: &str,
        mut inc: Incident,
        action: DraftAction,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let id = inc.id;
        let may_decide = [Role::Bmoc, Role::Imoc]
            .iter()
            .any(|r| inc.roles.get(r).is_some_and(|p| p == actor));
        let who = |r: Role| {
            inc.roles
                .get(&r)
                .map(|p| self.name_of(platform, p))
                .unwrap_or_else(|| "unassigned".into())
        };
        let refuse = |what: &'static str| {
            Outcome::Refused(Refusal::NotDraftOwner {
                id,
                what,
                bmoc: who(Role::Bmoc),
                imoc: who(Role::Imoc),
            })
        };
        let existing = avail::latest_draft(tx, id).await?;
        match action {
            DraftAction::Show => {
                let draft = match existing.filter(|d| d.approved_by.is_none()) {
                    Some(d) => d.body,
                    None => {
                        let body = self.render_draft(tx, &inc).await?;
                        let draft = avail::insert_draft(tx, id, &body, actor, now).await?;
                        self.post_recorded(
                            tx,
                            &mut inc,
                            &[EventKind::DraftProposed { draft }],
                            now,
                        )
                        .await?;
                        body
                    }
                };
                Ok(Outcome::Done(Reply::private(format!(
                    "Customer update draft for {id}:\n\n{}\n\nEdit with `/sev {id} draft edit <text…>`; publish with `/sev {id} draft approve` (BMOC or IMOC).",
                    self.esc(platform, &draft)
                ))))
            }
            DraftAction::Edit(text) => {
                if !may_decide {
                    return Ok(refuse("edit"));
                }
                let draft = avail::insert_draft(tx, id, &text, actor, now).await?;
                self.post_recorded_by(
                    tx,
                    &mut inc,
                    actor,
                    &[EventKind::DraftProposed { draft }],
                    now,
                )
                .await?;
                Ok(Outcome::Done(Reply::private(format!(
                    "Draft #{draft} saved for {id}. Publish it with `/sev {id} draft approve`."
                ))))
            }
            DraftAction::Form => Ok(match may_decide {
                false => refuse("edit"),
                true => Outcome::Refused(Refusal::DraftTextMissing { id }),
            }),
            DraftAction::Approve => {
                if !may_decide {
                    return Ok(refuse("approve"));
                }
                let Some(d) = existing else {
                    return Ok(Outcome::Refused(Refusal::NoDraft { id }));
                };
                if d.approved_by.is_some() || !avail::approve_draft(tx, d.id, actor, now).await? {
                    return Ok(Outcome::Refused(Refusal::DraftPublished {
                        id,
                        draft: d.id,
                    }));
                }
                // A drill's is approved as practice: nothing reaches customers or the
                // status page.
                let published = !inc.drill;
                let a = &self.cfg().availability;
                if published {
                    match &a.customer_updates {
                        Some(dest) => {
                            let post = Effect::Reply {
                                channel: dest.channel.trim_start_matches('#').to_string(),
                                user: None,
                                text: self.esc(&dest.platform, &d.body),
                            };
                            self.enqueue(tx, &dest.platform, post, now).await?;
                        }
                        None => tracing::warn!(
                            "no availability.customer_updates configured; approved update not posted"
                        ),
                    }
                    if let (Some(url), Some(sink)) = (&a.status_page_url, &self.status_sink) {
                        let effect = Effect::StatusPage {
                            sev: id,
                            url: url.clone(),
                            body: d.body.clone(),
                        };
                        self.enqueue(tx, sink, effect, now).await?;
                    }
                }
                self.post_recorded_by(
                    tx,
                    &mut inc,
                    actor,
                    &[EventKind::DraftApproved {
                        draft: d.id,
                        published,
                    }],
                    now,
                )
                .await?;
                Ok(Outcome::Done(Reply::public(match published {
                    true => format!("{id}: customer update #{} approved and published.", d.id),
                    false => format!(
                        "{id}: customer update #{} approved — a drill, so it was sent nowhere (a real SEV's would now go to the customer updates channel and the status page).",
                        d.id
                    ),
                })))
            }
        }
    }

    pub(in crate::engine) async fn render_draft(
        &self,
        tx: &mut Tx,
        inc: &Incident,
    ) -> anyhow::Result<String> {
        let a = &self.cfg().availability;
        let states = avail::states(tx).await?;
        let linked: Vec<&RouteState> = states.iter().filter(|s| s.sev == Some(inc.id)).collect();
        let mut features: Vec<String> = linked
            .iter()
            .filter_map(|s| a.routes.iter().find(|r| r.id == s.route))
            .map(|r| r.description.clone())
            .collect();
        features.sort();
        features.dedup();
        if features.is_empty() {
            features.push("using some of our services".into());
        }
        // The worst known figure; none known, and the update says "some" rather than a
        // number sevbot would have made up.
        let worst = linked
            .iter()
            .filter_map(|s| s.availability)
            .reduce(f64::min);
        let timeline = sevs::timeline(tx, inc.id).await?;
        let ended = timeline.iter().rev().find_map(|e| match &e.event {
            EventKind::StageChanged { to, .. } if !to.is_open() => Some(e.at),
            _ => None,
        });
        let hhmm = |ms: i64| {
            DateTime::<Utc>::from_timestamp_millis(ms)
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_default()
        };
        // Customers felt it from when the impact began, not from when it was filed.
        let began = linked
            .iter()
            .filter_map(|s| s.worthy_since)
            .min()
            .unwrap_or(inc.declared_at)
            .min(inc.declared_at);
        let ctx = minijinja::context! {
            features => features,
            since => hhmm(began),
            until => ended.map(hhmm).unwrap_or_default(),
            share => worst.map(impact::failing_share),
            resolved => !inc.stage.is_open(),
            mitigated => inc.stage == Stage::Mitigated,
            next_update_minutes => self.cfg().update_cadence_minutes(inc.level).max(30),
        };
        let env = minijinja::Environment::new();
        let text = env
            .render_str(&self.cfg().draft_template, ctx)
            .map_err(|e| anyhow::anyhow!("the customer update template failed: {e}"))?;
        Ok(text.trim().to_string())
    }

    /// The draft to put in the edit form, for the SEV `sev` names (or whose channel this
    /// is), when the person may edit it (its BMOC or IMOC); `None` otherwise, so the command
    /// runs as typed and is refused with the reason (or, if the database failed here, told
    /// that by the same run).
    pub async fn draft_for_editing(
        &self,
        inv: &crate::engine::Invocation,
        sev: Option<SevId>,
    ) -> Option<(SevId, String)> {
        match self.editable_draft(inv, sev).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "could not read the draft to edit");
                None
            }
        }
    }

    async fn editable_draft(
        &self,
        inv: &crate::engine::Invocation,
        sev: Option<SevId>,
    ) -> anyhow::Result<Option<(SevId, String)>> {
        let mut conn = self.store.pool.acquire().await?;
        let id = match sev {
            Some(id) => id,
            None => match sevs::by_channel(&mut conn, &inv.platform, &inv.channel).await? {
                Some(id) => id,
                None => return Ok(None),
            },
        };
        let Some(inc) = sevs::load(&mut conn, id).await? else {
            return Ok(None);
        };
        let actor = self.actor(inv);
        let may_edit = [Role::Bmoc, Role::Imoc]
            .iter()
            .any(|r| inc.roles.get(r) == Some(&actor));
        if !may_edit || !inc.stage.is_open() {
            return Ok(None);
        }
        let body = avail::latest_draft(&mut conn, id)
            .await?
            .filter(|d| d.approved_by.is_none())
            .map(|d| d.body)
            .unwrap_or_default();
        Ok(Some((id, body)))
    }
}
