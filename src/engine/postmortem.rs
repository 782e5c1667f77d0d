//! The postmortem document: rendered from the operator's template (Markdown) with what
//! the timeline says happened — the phases and their durations, the level and role
//! history, the impact monitoring recorded and the SLA minutes — so it is pre-filled from
//! the declare on and current whenever it is asked for. People write the rest.

use std::collections::HashMap;

use minijinja::context;

use super::{Engine, Invocation, Outcome, Reply};
use crate::domain::impact;
use crate::domain::month::level_spans;
use crate::domain::postmortem::{level_history, phases, role_history};
use crate::domain::text::{Markup, describe, fmt_duration, fmt_time};
use crate::domain::words::markdown;
use crate::domain::{EventKind, Incident, SevType, Stage};
use crate::effects::Effect;
use crate::store::Conn;
use crate::store::Tx;
use crate::store::availability::{self as avail, RouteState};
use crate::store::incidents as sevs;

impl Engine {
    /// `/sev postmortem`: where the platform takes files, the document goes to the asker
    /// as `postmortem-SEV-n.md` in a direct message (whole, however long; mentions in a
    /// file notify nobody); elsewhere (the console) it is the answer, as text the platform
    /// must not act on (an `@everyone` in a title stays text).
    pub(super) async fn hand_over_postmortem(
        &self,
        tx: &mut Tx,
        inv: &Invocation,
        inc: &Incident,
        doc: String,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let files = self
            .renderers
            .get(&inv.platform)
            .is_some_and(|p| p.sends_files());
        if !files {
            return Ok(Outcome::Done(Reply::private(self.esc(&inv.platform, &doc))));
        }
        let filename = format!("postmortem-{}.md", inc.id);
        let text = format!("{}'s postmortem as of {}", inc.id, fmt_time(now));
        let file = Effect::SendFile {
            sev: inc.id,
            user: inv.user.clone(),
            filename: filename.clone(),
            content: doc,
            text: text.clone(),
        };
        self.enqueue(tx, &inv.platform, file, now).await?;
        Ok(Outcome::Done(Reply::private(format!(
            "{text} is on its way to you in a direct message, as {filename}."
        ))))
    }

    /// The postmortem of `inc` as it stands at `now`, in Markdown.
    pub async fn postmortem(
        &self,
        conn: &mut Conn,
        inc: &Incident,
        now: i64,
    ) -> anyhow::Result<String> {
        let timeline = sevs::timeline(conn, inc.id).await?;
        let name = |p: &str| markdown(self.cfg().person(p).map_or(p, |x| x.name.as_str()));
        let time = |t: Option<i64>| t.map(fmt_time);
        let p = phases(&timeline);
        let d = p.durations();
        let took = |s: Option<i64>| s.map(fmt_duration).unwrap_or_else(|| "—".into());
        let levels: Vec<_> = level_history(&timeline)
            .into_iter()
            .map(|l| {
                context! { level => l.level.to_string(), from => fmt_time(l.from),
                to => time(l.to), reason => l.reason.as_deref().map(markdown) }
            })
            .collect();
        let roles: Vec<_> = role_history(&timeline)
            .into_iter()
            .map(|t| {
                context! { role => t.role.to_string(), person => name(&t.person),
                from => fmt_time(t.from), to => time(t.to) }
            })
            .collect();
        let lines: Vec<String> = {
            let mention = |p: &str| name(p);
            let m = Markup {
                mention: &mention,
                text: &markdown,
            };
            timeline
                .iter()
                .map(|e| format!("{} {}", fmt_time(e.at), describe(&e.event, &e.actor, &m)))
                .collect()
        };
        let states: HashMap<String, RouteState> = avail::states(conn)
            .await?
            .into_iter()
            .map(|s| (s.route.clone(), s))
            .collect();
        let mut impact_lines: Vec<String> = match states.values().any(|s| s.sev == Some(inc.id)) {
            true => self
                .impact_card(&states, Some(inc.id), now)
                .lines()
                .filter(|l| l.starts_with("• "))
                .map(|l| l.trim_start_matches("• ").to_string())
                .collect(),
            false => vec![],
        };
        if impact_lines.is_empty()
            && let Some(last) = timeline.iter().rev().find_map(|e| match &e.event {
                EventKind::Impact { summary, .. } => Some(summary.clone()),
                _ => None,
            })
        {
            impact_lines.push(format!("last seen by monitoring: {}", markdown(&last)));
        }
        let sla_minutes = (inc.sev_type == SevType::Availability && inc.stage != Stage::Cancelled)
            .then(|| {
                let spans = level_spans(&timeline, inc.declared_at, now);
                let minutes =
                    impact::downtime_minutes(&spans, &self.cfg().availability.downtime_weights);
                format!("{minutes:.1}")
            });
        let followups: Vec<_> = crate::store::followups::all(conn, inc.id)
            .await?
            .into_iter()
            .map(|f| {
                context! { number => f.number, text => markdown(&f.text),
                state => if f.done_at.is_some() { "done" } else { "open" },
                owner => f.owner.as_deref().map(name), due => f.due }
            })
            .collect();
        let ctx = context! {
            sev => context! {
                id => inc.id.to_string(), title => markdown(&inc.title), type => inc.sev_type.to_string(),
                level => inc.level.to_string(), stage => inc.stage.to_string(),
                declared_at => fmt_time(inc.declared_at), declared_by => name(&inc.declared_by),
                customer_impact => inc.customer_impact,
            },
            phases => context! {
                signal => markdown(&p.signal), signal_at => fmt_time(p.signal_at),
                first_paged => time(p.first_paged), acknowledged => time(p.acknowledged),
                diagnosed => time(p.diagnosed), diagnosis_marked => p.diagnosis_marked,
                mitigated => time(p.mitigated), resolved => time(p.resolved),
            },
            took => context! {
                detection => took(d.detection), diagnosis => took(d.diagnosis),
                recovery => took(d.recovery), to_acknowledge => took(d.to_acknowledge),
                to_resolve => took(d.to_resolve),
            },
            seconds => d,
            levels, roles, impact => impact_lines, sla_minutes, timeline => lines, followups,
        };
        let env = minijinja::Environment::new();
        env.render_str(&self.cfg().postmortem_template, ctx)
            .map_err(|e| anyhow::anyhow!("the postmortem template failed: {e}"))
    }
}
