//! `/sev report`, the web view's reports page and `/api/v1/reports`: the engine reads each
//! SEV that touches the period (its timeline, the samples received while it was open, its
//! open follow-ups) and `domain::report` adds them up.

use std::collections::BTreeMap;

use super::views::Reader;
use super::*;
use crate::domain::postmortem::phases;
use crate::domain::report::{self, OpenFollowup, Period, Report, SevFacts, Terms};
use crate::domain::words::fmt_duration;
use crate::store::{availability as samples, followups};

impl Engine {
    /// The report for `period` as `reader` may see it: counts include restricted SEVs,
    /// their follow-ups' text only for people who may see them.
    pub async fn report(&self, period: Period, reader: &Reader) -> anyhow::Result<Report> {
        let mut conn = self.store.pool.acquire().await?;
        self.report_in(&mut conn, period, reader).await
    }

    async fn report_in(
        &self,
        conn: &mut Conn,
        period: Period,
        reader: &Reader,
    ) -> anyhow::Result<Report> {
        let now = self.clock.now_ms();
        let (from, to) = period.bounds();
        let until = to.min(now);
        let list = sevs::touching(conn, from, to).await?;
        let mut timelines = Vec::with_capacity(list.len());
        let mut failures = Vec::with_capacity(list.len());
        let mut open_followups = vec![];
        for inc in &list {
            let timeline = sevs::timeline(conn, inc.id).await?;
            // The samples received while it was open, within the period.
            let by_route = if inc.sev_type == SevType::Availability {
                let p = phases(&timeline);
                let start = p.signal_at.max(from);
                let end = p.mitigated.unwrap_or(until).min(until);
                if end > start {
                    samples::failures_by_route(conn, start, end).await?
                } else {
                    BTreeMap::new()
                }
            } else {
                BTreeMap::new()
            };
            if inc.declared_at >= from && inc.declared_at < to && inc.stage != Stage::Cancelled {
                let shown = self.shown_to(conn, reader, inc).await?;
                let cfg = self.cfg();
                for f in followups::all(conn, inc.id).await? {
                    if f.done_at.is_some() {
                        continue;
                    }
                    open_followups.push(OpenFollowup {
                        sev: inc.id.to_string(),
                        sev_number: inc.id.0,
                        number: f.number,
                        overdue: report::overdue(f.due.as_deref(), now),
                        text: shown.then(|| f.text.clone()),
                        owner: f.owner.filter(|_| shown).map(|o| cfg.display_name(&o)),
                        due: f.due,
                    });
                }
            }
            timelines.push(timeline);
            failures.push(by_route);
        }
        let facts: Vec<SevFacts<'_>> = list
            .iter()
            .zip(&timelines)
            .zip(failures)
            .map(|((sev, timeline), route_failures)| SevFacts {
                sev,
                timeline,
                route_failures,
            })
            .collect();
        let a = &self.cfg().availability;
        let terms = Terms {
            now,
            contract_percent: a.sla_contract,
            internal_percent: a.sla_internal,
            downtime_weights: a.downtime_weights,
        };
        Ok(report::report(period, &facts, open_followups, &terms))
    }

    /// `/sev report [month|quarter|2026-11|2026-Q4]`: the report as a private reply.
    pub(in crate::engine) async fn report_command(
        &self,
        tx: &mut Tx,
        asked: report::Asked,
        inv: &Invocation,
        actor: &str,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let period = asked.at(now);
        let r = self
            .report_in(tx, period, &Reader::Person(actor.to_string()))
            .await?;
        let link = self
            .cfg()
            .web
            .page_url(&format!("reports?period={}", period.key()));
        let esc = |t: &str| self.esc(&inv.platform, t);
        Ok(Outcome::Done(Reply::private(report_text(&r, link, &esc))))
    }
}

/// The report in a few lines of chat; `esc` makes typed text (follow-ups, owners' names,
/// route names) inert on the platform it goes to.
pub fn report_text(r: &Report, link: Option<String>, esc: &dyn Fn(&str) -> String) -> String {
    let p = &r.period;
    let mut out = format!(
        "Report, {}{} (UTC):\n",
        p.label,
        if p.to_date { " to date" } else { "" }
    );
    let types: Vec<String> = r
        .sevs
        .by_type
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| format!("{} {}", c.key.sev_type, c.count))
        .collect();
    let levels: Vec<String> = r
        .sevs
        .by_level
        .iter()
        .map(|c| format!("SEV{} {}", c.key.level, c.count))
        .collect();
    out += &format!(
        "SEVs: {}{}; by level {}{}.\n",
        r.sevs.total,
        if types.is_empty() {
            String::new()
        } else {
            format!(" ({})", types.join(", "))
        },
        levels.join(", "),
        match r.sevs.cancelled {
            0 => String::new(),
            n => format!("; {n} cancelled, not counted"),
        }
    );
    let spread = |name: &str, s: &report::Spread| match (s.median_seconds, s.p90_seconds) {
        (Some(m), Some(p)) => format!("{name} {} / {}", fmt_duration(m), fmt_duration(p)),
        _ => format!("{name} —"),
    };
    let t = &r.times;
    out += &format!(
        "Median / 90th percentile: {} · {} · {} · {}.\n",
        spread("acknowledge", &t.to_acknowledge),
        spread("detection", &t.detection),
        spread("diagnosis", &t.diagnosis),
        spread("recovery", &t.recovery),
    );
    let d = &r.downtime;
    let budget = |name: &str, b: &report::Budget| {
        format!(
            "{name} {}%: {:.1} min allowed, {}",
            b.percent,
            b.budget_minutes,
            if b.left_minutes >= 0.0 {
                format!("{:.1} left", b.left_minutes)
            } else {
                format!("exceeded by {:.1}", -b.left_minutes)
            }
        )
    };
    out += &format!(
        "Downtime: {:.1} min. {}. {}.\n",
        d.minutes,
        budget("Contract", &d.contract),
        budget("Internal", &d.internal)
    );
    if !r.routes.is_empty() {
        let routes: Vec<String> = r
            .routes
            .iter()
            .map(|x| match x.failed_requests {
                0 => format!("{} {:.1} min", esc(&x.route), x.minutes),
                f => format!(
                    "{} {:.1} min ({f} failed requests)",
                    esc(&x.route),
                    x.minutes
                ),
            })
            .collect();
        out += &format!("Routes behind it: {}.\n", routes.join(", "));
    }
    let f = &r.followups;
    out += &format!(
        "Open follow-ups: {}{}",
        f.open,
        match f.overdue {
            0 => String::new(),
            n => format!(" ({n} overdue)"),
        }
    );
    const SHOWN: usize = 10;
    for item in f.items.iter().take(SHOWN) {
        out += &format!("\n• {} #{}", item.sev, item.number);
        match &item.text {
            Some(text) => out += &format!(" {}", esc(text)),
            None => out += " (restricted)",
        }
        if let Some(o) = &item.owner {
            out += &format!(" — {}", esc(o));
        }
        if let Some(due) = &item.due {
            out += &format!(", due {due}{}", if item.overdue { ", overdue" } else { "" });
        }
    }
    if f.items.len() > SHOWN {
        out += &format!("\n…and {} more", f.items.len() - SHOWN);
    }
    if let Some(link) = link {
        out += &format!("\nCharts: {link}");
    }
    out
}
