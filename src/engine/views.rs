//! What the web view and the JSON API show of SEVs: plain data, the same for both (the
//! API's field names are these, and stable), with a restricted SEV cut down to its id,
//! type, level and stage for a reader who may not see it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::*;

/// Who reads, outside chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// A shared credential (the web token, the API token): nobody in particular, so no
    /// restricted SEV's details.
    Anyone,
    /// A person from the config, as a fronting proxy signed them in.
    Person(String),
}

/// A role's holder.
#[derive(Debug, Clone, Serialize)]
pub struct Holder {
    pub id: String,
    pub name: String,
}

/// One SEV in a list.
#[derive(Debug, Clone, Serialize)]
pub struct SevSummary {
    /// `SEV-12`
    pub id: String,
    pub number: i64,
    pub level: u8,
    #[serde(rename = "type")]
    pub sev_type: &'static str,
    pub stage: &'static str,
    pub open: bool,
    pub restricted: bool,
    /// A practice SEV (`/sev drill`).
    pub drill: bool,
    /// The details are withheld from this reader: no title, people or updates below.
    pub redacted: bool,
    pub title: Option<String>,
    pub customer_impact: Option<bool>,
    /// Role (`imoc`, `tloc`, `bmoc`) → who holds it.
    pub roles: BTreeMap<&'static str, Holder>,
    /// RFC 3339, UTC.
    pub declared_at: String,
    pub age_seconds: i64,
    pub last_update: Option<String>,
    pub last_update_at: Option<String>,
    pub channel: Option<String>,
}

/// One timeline line.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineLine {
    pub at: String,
    pub actor: String,
    pub kind: String,
    /// sevbot's sentence for it, with people by name; text as typed (escape it to show it).
    pub text: String,
}

/// A page sent for the SEV and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct PageLine {
    pub person: Holder,
    pub role: Option<&'static str>,
    /// 0: paged as the role holder; n: by the escalation ladder's step n.
    pub step: i64,
    pub paged_at: String,
    pub delivered_at: Option<String>,
    pub acknowledged_at: Option<String>,
    pub failed_at: Option<String>,
    pub failure: Option<String>,
}

/// What monitoring said of the SEV's impact, and the level it suggested.
#[derive(Debug, Clone, Serialize)]
pub struct ImpactLine {
    pub at: String,
    pub summary: String,
    pub suggested_level: Option<u8>,
}

/// A customer-facing update: drafted, maybe approved, and whether it went out.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerUpdate {
    pub number: i64,
    pub text: String,
    pub drafted_by: Holder,
    pub drafted_at: String,
    pub approved_by: Option<Holder>,
    pub approved_at: Option<String>,
    /// Approved and sent to customers (a drill's never is).
    pub published: bool,
}

/// A follow-up of the SEV.
#[derive(Debug, Clone, Serialize)]
pub struct FollowupLine {
    pub number: i64,
    pub text: String,
    pub owner: Option<Holder>,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
    pub done: bool,
    pub overdue: bool,
}

/// One SEV in full.
#[derive(Debug, Clone, Serialize)]
pub struct SevDetail {
    #[serde(flatten)]
    pub summary: SevSummary,
    pub timeline: Vec<TimelineLine>,
    pub pages: Vec<PageLine>,
    /// Monitoring's view of the impact, as it changed.
    pub impact: Vec<ImpactLine>,
    pub customer_updates: Vec<CustomerUpdate>,
    pub followups: Vec<FollowupLine>,
    /// The postmortem as it stands, in Markdown (what `/sev postmortem` hands over).
    pub postmortem: Option<String>,
}

/// Open SEVs, most severe first, and the most recently ended.
#[derive(Debug, Clone, Serialize)]
pub struct SevList {
    pub open: Vec<SevSummary>,
    pub recently_ended: Vec<SevSummary>,
}

pub use crate::domain::words::rfc3339;

impl Engine {
    /// Open SEVs and the last `ended` that ended, as `reader` may see them.
    pub async fn sev_list(&self, reader: &Reader, ended: i64) -> anyhow::Result<SevList> {
        let mut conn = self.store.pool.acquire().await?;
        let (open, done) = sevs::list(&mut conn, ended).await?;
        let now = self.clock.now_ms();
        let mut list = SevList {
            open: vec![],
            recently_ended: vec![],
        };
        for (from, to) in [(open, &mut list.open), (done, &mut list.recently_ended)] {
            for inc in from {
                let shown = self.shown_to(&mut conn, reader, &inc).await?;
                to.push(self.summary(&mut conn, &inc, shown, now).await?);
            }
        }
        Ok(list)
    }

    /// One SEV as `reader` may see it; `None` when there is no such SEV.
    pub async fn sev_detail(
        &self,
        id: SevId,
        reader: &Reader,
    ) -> anyhow::Result<Option<SevDetail>> {
        let mut conn = self.store.pool.acquire().await?;
        let Some(inc) = sevs::load(&mut conn, id).await? else {
            return Ok(None);
        };
        let now = self.clock.now_ms();
        let shown = self.shown_to(&mut conn, reader, &inc).await?;
        let summary = self.summary(&mut conn, &inc, shown, now).await?;
        if !shown {
            return Ok(Some(SevDetail {
                summary,
                timeline: vec![],
                pages: vec![],
                impact: vec![],
                customer_updates: vec![],
                followups: vec![],
                postmortem: None,
            }));
        }
        let events = sevs::timeline(&mut conn, id).await?;
        let pages = crate::store::paging::all(&mut conn, id).await?;
        let postmortem = Some(self.postmortem(&mut conn, &inc, now).await?);
        let drafts = crate::store::availability::all_drafts(&mut conn, id).await?;
        let followups = crate::store::followups::all(&mut conn, id).await?;
        let cfg = self.cfg();
        let name = |p: &str| cfg.display_name(p);
        let markup = Markup::plain(&name);
        let impact = events
            .iter()
            .filter_map(|ev| match &ev.event {
                EventKind::Impact { summary, suggested } => Some(ImpactLine {
                    at: rfc3339(ev.at),
                    summary: summary.clone(),
                    suggested_level: suggested.map(|l| l.get()),
                }),
                _ => None,
            })
            .collect();
        let customer_updates = drafts
            .into_iter()
            .map(|d| CustomerUpdate {
                number: d.id,
                text: d.body,
                drafted_by: self.holder(&cfg, &d.created_by),
                drafted_at: rfc3339(d.created_at),
                published: d.approved_by.is_some() && !inc.drill,
                approved_by: d.approved_by.map(|p| self.holder(&cfg, &p)),
                approved_at: d.approved_at.map(rfc3339),
            })
            .collect();
        let followups = followups
            .into_iter()
            .map(|f| FollowupLine {
                number: f.number,
                owner: f.owner.map(|o| self.holder(&cfg, &o)),
                done: f.done_at.is_some(),
                overdue: f.done_at.is_none()
                    && crate::domain::report::overdue(f.due.as_deref(), now),
                due: f.due,
                text: f.text,
            })
            .collect();
        let timeline = events
            .into_iter()
            .map(|ev| TimelineLine {
                at: rfc3339(ev.at),
                actor: ev.actor.clone(),
                kind: event_kind(&ev.event),
                text: describe(&ev.event, &ev.actor, &markup),
            })
            .collect();
        let pages = pages
            .into_iter()
            .map(|p| PageLine {
                person: self.holder(&cfg, &p.person),
                role: p.role.map(|r| r.as_str()),
                step: p.step,
                paged_at: rfc3339(p.paged_at),
                delivered_at: p.delivered_at.map(rfc3339),
                acknowledged_at: p.acked_at.map(rfc3339),
                failed_at: p.failed_at.map(rfc3339),
                failure: p.failure,
            })
            .collect();
        Ok(Some(SevDetail {
            summary,
            timeline,
            pages,
            impact,
            customer_updates,
            followups,
            postmortem,
        }))
    }

    /// Whether `reader` may see `inc` in full: an open SEV anyone; a restricted one its
    /// members, admins and the people paged for it, never a shared credential.
    pub(super) async fn shown_to(
        &self,
        conn: &mut Conn,
        reader: &Reader,
        inc: &Incident,
    ) -> anyhow::Result<bool> {
        if !inc.restricted {
            return Ok(true);
        }
        let Reader::Person(person) = reader else {
            return Ok(false);
        };
        let pages = crate::store::paging::all(conn, inc.id).await?;
        let viewer = Viewer {
            in_its_channel: false,
            is_admin: self.cfg().is_admin(person),
            was_paged: pages.iter().any(|p| &p.person == person),
        };
        Ok(inc.may_see(person, viewer))
    }

    async fn summary(
        &self,
        conn: &mut Conn,
        inc: &Incident,
        shown: bool,
        now: i64,
    ) -> anyhow::Result<SevSummary> {
        let cfg = self.cfg();
        let last_update_at = if shown && inc.latest_update.is_some() {
            Some(rfc3339(sevs::last_update_at(conn, inc.id).await?))
        } else {
            None
        };
        Ok(SevSummary {
            id: inc.id.to_string(),
            number: inc.id.0,
            level: inc.level.get(),
            sev_type: inc.sev_type.as_str(),
            stage: inc.stage.as_str(),
            open: inc.stage.is_open(),
            restricted: inc.restricted,
            drill: inc.drill,
            redacted: !shown,
            title: shown.then(|| inc.title.clone()),
            customer_impact: shown.then_some(inc.customer_impact),
            roles: if shown {
                inc.roles
                    .iter()
                    .map(|(r, p)| (r.as_str(), self.holder(&cfg, p)))
                    .collect()
            } else {
                BTreeMap::new()
            },
            declared_at: rfc3339(inc.declared_at),
            age_seconds: (now - inc.declared_at).max(0) / 1000,
            last_update: if shown {
                inc.latest_update.clone()
            } else {
                None
            },
            last_update_at,
            channel: (shown && !inc.channel_name.is_empty()).then(|| inc.channel_name.clone()),
        })
    }

    fn holder(&self, cfg: &Config, person: &str) -> Holder {
        Holder {
            id: person.to_string(),
            name: cfg.display_name(person),
        }
    }
}

/// The event's kind as the API names it (`declared`, `update`, `role_assigned`, …): its
/// stored tag.
fn event_kind(ev: &EventKind) -> String {
    serde_json::to_value(ev)
        .ok()
        .and_then(|v| v.get("kind")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "event".into())
}
