//! Route availability inside the engine: samples and alerts are stored in the same
//! transaction that evaluates them; impact that stays SEV-worthy through the confirmation
//! window declares an availability SEV (or attaches to the open one), level changes are
//! proposed for people to confirm, the impact card is kept current, and `/sev impact`,
//! `/sev draft` and `/sev sla` answer from the same data.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};

use super::{Engine, Outcome, Reply, SYSTEM_ACTOR};
use crate::domain::definitions::level_for_availability;
use crate::domain::grammar::DraftAction;
use crate::domain::impact::{self, Sample};
use crate::domain::text::fmt_time;
use crate::domain::{EventKind, Incident, Level, Role, SevId, SevType, Stage};
use crate::effects::Effect;
use crate::store::Tx;
use crate::store::availability::{self as avail, RouteState};
use crate::store::incidents::{self as sevs, NewSev};

/// One route's window, as monitoring reports it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct RouteSample {
    pub route: String,
    /// Window start and end, ms since the epoch.
    pub window_start: i64,
    pub window_end: i64,
    pub requests: i64,
    pub failures: i64,
}

/// Samples older than this are not "now".
const FRESH_MS: i64 = 10 * 60_000;
const GLOBAL: &str = "__global__";

impl Engine {
    /// Stores a batch and evaluates it in one transaction: accepted means kept.
    pub async fn ingest(&self, samples: &[RouteSample], source: &str) -> anyhow::Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        for s in samples {
            avail::insert_sample(
                &mut tx,
                &s.route,
                (s.window_start, s.window_end),
                s.requests,
                s.failures,
                source,
                now,
            )
            .await?;
        }
        self.evaluate(&mut tx, samples, now).await?;
        tx.commit().await?;
        metrics::counter!("sevbot_availability_samples_total", "source" => source.to_string())
            .increment(samples.len() as u64);
        self.wake_outbox.notify_one();
        self.wake_jobs.notify_one();
        Ok(())
    }

    /// Recomputes every route's standing from the freshest samples and acts on it.
    /// Each route keeps its latest window in its state row, so an evaluation reads one
    /// row per route however many samples are stored.
    pub(super) async fn evaluate(
        &self,
        tx: &mut Tx,
        batch: &[RouteSample],
        now: i64,
    ) -> anyhow::Result<()> {
        let a = &self.cfg.raw.availability;
        let thresholds = a.thresholds.thresholds();
        let mut states: HashMap<String, RouteState> = avail::states(tx)
            .await?
            .into_iter()
            .map(|s| (s.route.clone(), s))
            .collect();
        for s in batch {
            let st = states
                .entry(s.route.clone())
                .or_insert_with(|| blank(&s.route));
            if st.window_end.is_none_or(|e| s.window_end >= e) {
                st.requests = Some(s.requests);
                st.failures = Some(s.failures);
                st.window_end = Some(s.window_end);
            }
        }
        let fresh: Vec<(String, i64, i64)> = states
            .values()
            .filter(|s| s.window_end.is_some_and(|e| e >= now - FRESH_MS))
            .filter_map(|s| Some((s.route.clone(), s.requests?, s.failures?)))
            .collect();
        let mut all = vec![];
        for (route, requests, failures) in &fresh {
            let sample = Sample {
                requests: (*requests).max(0) as u64,
                failures: (*failures).max(0) as u64,
            };
            all.push(sample);
            let Some(r) = a.routes.iter().find(|r| &r.id == route) else {
                continue;
            };
            let Some(availability) = sample.availability() else {
                continue;
            };
            let st = states.entry(route.clone()).or_insert_with(|| blank(route));
            // Hysteresis: the margin only keeps a degraded route degraded; it never
            // makes one look worse.
            let level = thresholds.level(r.bucket, availability, 0.0).or_else(|| {
                match st.level.is_some() {
                    true => thresholds.level(r.bucket, availability, a.recover_margin),
                    false => None,
                }
            });
            mark(st, level, Some(availability), now);
        }
        let global = impact::global(&all);
        let gst = states.entry(GLOBAL.into()).or_insert_with(|| blank(GLOBAL));
        let glevel = global.and_then(|g| {
            let defs = &self.cfg.raw.definitions;
            level_for_availability(defs, g).or_else(|| match gst.level.is_some() {
                // Recovered only once above every threshold raised by the margin.
                true => defs
                    .iter()
                    .filter(|d| {
                        d.availability_below
                            .is_some_and(|t| g < impact::raised(t, a.recover_margin))
                    })
                    .map(|d| d.level)
                    .min(),
                false => None,
            })
        });
        mark(gst, glevel, global, now);

        let confirm_ms = i64::from(a.confirm_minutes) * 60_000;
        let confirmed: Vec<&RouteState> = states
            .values()
            .filter(|s| impact::confirmed(s.worthy_since, now, confirm_ms))
            .collect();
        let worth = confirmed
            .iter()
            .filter_map(|s| s.level.and_then(|l| Level::new(l as u8)))
            .min();
        let linked = self.linked_sev(tx, &states).await?;
        let mut sev = linked.clone();
        if let Some(level) = worth {
            let summary = self.impact_summary(&states);
            match linked {
                None => {
                    let titles: Vec<String> = confirmed
                        .iter()
                        .filter_map(|s| a.routes.iter().find(|r| r.id == s.route))
                        .map(|r| r.id.clone())
                        .collect();
                    let title = match titles.is_empty() {
                        true => "Global availability degraded".to_string(),
                        false => format!("Availability: {} degraded", titles.join(", ")),
                    };
                    let ev = EventKind::Impact {
                        summary,
                        suggested: None,
                    };
                    let inc = self
                        .declare_for_monitoring(tx, level, &title, "Monitoring", ev, now)
                        .await?;
                    sev = Some(inc);
                }
                Some(inc) => {
                    let last = last_suggestion(&states, inc.id);
                    if level < inc.level && last != Some(i64::from(level.get())) {
                        let mut inc = inc.clone();
                        let ev = EventKind::Impact {
                            summary,
                            suggested: Some(level),
                        };
                        self.post_recorded(tx, &mut inc, &[ev], now).await?;
                        remember_suggestion(&mut states, inc.id, Some(level));
                    }
                }
            }
            if let Some(inc) = &sev {
                for s in states.values_mut() {
                    if impact::confirmed(s.worthy_since, now, confirm_ms) && s.sev.is_none() {
                        s.sev = Some(inc.id);
                    }
                }
            }
        } else if let Some(inc) = &linked {
            let still = degraded(&states).any(|s| s.sev == Some(inc.id));
            let last = last_suggestion(&states, inc.id);
            if !still && last != Some(-1) && inc.stage != Stage::Mitigated {
                let mut inc = inc.clone();
                let ev = EventKind::Impact {
                    summary: "every route is back within its thresholds".into(),
                    suggested: None,
                };
                self.post_recorded(tx, &mut inc, &[ev], now).await?;
                remember_suggestion(&mut states, inc.id, None);
            }
        }
        if let Some(inc) = &sev {
            let text = self.impact_card(&states, Some(inc.id), now);
            let effect = Effect::UpsertImpact { sev: inc.id, text };
            self.enqueue(tx, &inc.platform, effect, now).await?;
        }
        for s in states.values() {
            avail::save_state(tx, s, now).await?;
        }
        Ok(())
    }

    /// Declares an availability SEV on monitoring's behalf (roles filled, IMOC paged),
    /// says so in the configured channel, and puts `event` on its timeline.
    async fn declare_for_monitoring(
        &self,
        tx: &mut Tx,
        level: Level,
        title: &str,
        by: &str,
        event: EventKind,
        now: i64,
    ) -> anyhow::Result<Incident> {
        let a = &self.cfg.raw.availability;
        let new = NewSev {
            sev_type: SevType::Availability,
            level,
            title,
            customer_impact: true,
            restricted: false,
            declared_by: SYSTEM_ACTOR,
            platform: &a.platform,
            origin_channel: &a.channel,
            now,
        };
        let reply = self.declare(tx, new, None).await?;
        let id = reply
            .declared
            .ok_or_else(|| anyhow::anyhow!("declare returned no SEV"))?;
        let tell = Effect::Reply {
            channel: a.channel.clone(),
            user: None,
            text: format!("{by}: {}", reply.text),
        };
        self.enqueue(tx, &a.platform, tell, now).await?;
        let mut inc = sevs::load(tx, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{id} vanished in its own transaction"))?;
        self.post_recorded(tx, &mut inc, &[event], now).await?;
        metrics::counter!("sevbot_sevs_auto_declared_total").increment(1);
        Ok(inc)
    }

    /// The open SEV monitoring is attached to: one a degraded route points at, else an
    /// open availability SEV sevbot declared itself.
    async fn linked_sev(
        &self,
        tx: &mut Tx,
        states: &HashMap<String, RouteState>,
    ) -> anyhow::Result<Option<Incident>> {
        for id in states.values().filter_map(|s| s.sev) {
            if let Some(inc) = sevs::load(tx, id).await?
                && inc.stage.is_open()
            {
                return Ok(Some(inc));
            }
        }
        let (open, _) = sevs::list(tx, 0).await?;
        Ok(open
            .into_iter()
            .find(|i| i.sev_type == SevType::Availability && i.declared_by == SYSTEM_ACTOR))
    }

    /// Records events on the SEV's timeline and posts them in its channel.
    pub(super) async fn post_recorded(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        events: &[EventKind],
        now: i64,
    ) -> anyhow::Result<()> {
        self.post_recorded_by(tx, inc, SYSTEM_ACTOR, events, now)
            .await
    }

    /// Like `post_recorded`, for events a person caused: the timeline names them.
    pub(super) async fn post_recorded_by(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        actor: &str,
        events: &[EventKind],
        now: i64,
    ) -> anyhow::Result<()> {
        for ev in self.record(tx, inc, actor, events, now).await? {
            self.enqueue(
                tx,
                &inc.platform,
                Effect::PostEvent {
                    sev: inc.id,
                    event: ev,
                },
                now,
            )
            .await?;
        }
        Ok(())
    }

    fn impact_summary(&self, states: &HashMap<String, RouteState>) -> String {
        let mut parts: Vec<String> = degraded(states)
            .map(|s| match s.route.as_str() {
                GLOBAL => format!(
                    "global availability {:.2}%",
                    s.availability.unwrap_or(100.0)
                ),
                r => format!("{r} at {:.1}%", s.availability.unwrap_or(100.0)),
            })
            .collect();
        parts.sort();
        match parts.is_empty() {
            true => "no route is degraded".into(),
            false => parts.join(", "),
        }
    }

    /// The impact card: every degraded route with its availability, bucket, since when,
    /// users affected and the share of the month's error budget it burned.
    fn impact_card(
        &self,
        states: &HashMap<String, RouteState>,
        sev: Option<SevId>,
        now: i64,
    ) -> String {
        let a = &self.cfg.raw.availability;
        let days = days_in_month(now);
        let mut lines = vec![];
        for s in degraded(states).filter(|s| sev.is_none() || s.sev.is_none() || s.sev == sev) {
            let availability = s.availability.unwrap_or(100.0);
            let since = s.worthy_since.unwrap_or(now);
            let minutes = (now - since) as f64 / 60_000.0;
            let Some(r) = a.routes.iter().find(|r| r.id == s.route) else {
                if s.route == GLOBAL {
                    lines.push(format!(
                        "• global availability {availability:.2}% since {}",
                        fmt_time(since)
                    ));
                }
                continue;
            };
            lines.push(format!(
                "• {} ({}, {}): {availability:.1}% since {} · ~{} users affected · {:.1}% of the month's error budget",
                r.description,
                r.id,
                r.bucket.as_str(),
                fmt_time(since),
                impact::users_affected(r, availability, minutes),
                100.0 * impact::budget_burned(availability, minutes, a.sla_contract, days),
            ));
        }
        lines.sort();
        match lines.is_empty() {
            true => format!("Impact as of {}: no route is degraded.", fmt_time(now)),
            false => format!("Impact as of {}:\n{}", fmt_time(now), lines.join("\n")),
        }
    }

    /// `/sev impact`: the card, and the channel's copy refreshed.
    pub(super) async fn impact_command(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let states: HashMap<String, RouteState> = avail::states(tx)
            .await?
            .into_iter()
            .map(|s| (s.route.clone(), s))
            .collect();
        let text = self.impact_card(&states, Some(inc.id), now);
        let effect = Effect::UpsertImpact {
            sev: inc.id,
            text: text.clone(),
        };
        self.enqueue(tx, &inc.platform, effect, now).await?;
        Ok(Outcome::Done(Reply::private(format!("{}: {text}", inc.id))))
    }

    /// `/sev draft`: show (writing one first if needed), edit, or approve and publish.
    pub(super) async fn draft_command(
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
        let refuse = |what: &str| {
            Outcome::Refused(format!(
                "Only {id}'s BMOC ({}) or IMOC ({}) may {what} the customer update.",
                who(Role::Bmoc),
                who(Role::Imoc)
            ))
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
                true => Outcome::Refused(format!(
                    "Give the new text: `/sev {id} draft edit <text…>` (on Slack and Discord, `draft edit` alone opens a form with the current draft)."
                )),
            }),
            DraftAction::Approve => {
                if !may_decide {
                    return Ok(refuse("approve"));
                }
                let Some(d) = existing else {
                    return Ok(Outcome::Refused(format!(
                        "{id} has no draft yet; `/sev {id} draft` writes one."
                    )));
                };
                if d.approved_by.is_some() || !avail::approve_draft(tx, d.id, actor, now).await? {
                    return Ok(Outcome::Refused(format!(
                        "Draft #{} was already approved and published; `/sev {id} draft` writes a new one.",
                        d.id
                    )));
                }
                let a = &self.cfg.raw.availability;
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
                self.post_recorded_by(
                    tx,
                    &mut inc,
                    actor,
                    &[EventKind::DraftApproved { draft: d.id }],
                    now,
                )
                .await?;
                Ok(Outcome::Done(Reply {
                    offer: None,
                    text: format!("{id}: customer update #{} approved and published.", d.id),
                    ephemeral: false,
                    declared: None,
                }))
            }
        }
    }

    async fn render_draft(&self, tx: &mut Tx, inc: &Incident) -> anyhow::Result<String> {
        let a = &self.cfg.raw.availability;
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
        let worst = linked
            .iter()
            .filter_map(|s| s.availability)
            .fold(100.0_f64, f64::min);
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
            share => format!("{:.0}", (100.0_f64 - worst).max(1.0)),
            resolved => !inc.stage.is_open(),
            mitigated => inc.stage == Stage::Mitigated,
            next_update_minutes => self.cfg.update_cadence_minutes(inc.level).max(30),
        };
        let env = minijinja::Environment::new();
        let text = env
            .render_str(&self.cfg.draft_template, ctx)
            .map_err(|e| anyhow::anyhow!("the customer update template failed: {e}"))?;
        Ok(text.trim().to_string())
    }

    /// `/sev sla`: month-to-date downtime from availability SEVs, against both targets.
    pub(super) async fn sla_command(&self, tx: &mut Tx, now: i64) -> anyhow::Result<Outcome> {
        let a = &self.cfg.raw.availability;
        let month_start = month_start(now);
        let days = days_in_month(now);
        let (open, ended) = sevs::list(tx, 1000).await?;
        let mut parts = vec![];
        let mut total = 0.0;
        for inc in open.iter().chain(ended.iter()) {
            if inc.sev_type != SevType::Availability || inc.stage == Stage::Cancelled {
                continue;
            }
            let timeline = sevs::timeline(tx, inc.id).await?;
            let spans = level_spans(&timeline, month_start, now);
            let minutes = impact::downtime_minutes(&spans, &a.downtime_weights);
            if minutes > 0.0 {
                parts.push(format!("{} {minutes:.1}", inc.id));
                total += minutes;
            }
        }
        let contract = impact::budget_minutes(a.sla_contract, days);
        let internal = impact::budget_minutes(a.sla_internal, days);
        let month = DateTime::<Utc>::from_timestamp_millis(now)
            .map(|t| t.format("%B %Y").to_string())
            .unwrap_or_default();
        let line = |name: &str, target: f64, budget: f64| {
            let left = budget - total;
            format!(
                "{name} {target}%: {budget:.1} min allowed, {}",
                if left >= 0.0 {
                    format!("{left:.1} left")
                } else {
                    format!("exceeded by {:.1}", -left)
                }
            )
        };
        Ok(Outcome::Done(Reply::private(format!(
            "SLA, {month} to date: {total:.1} min of downtime{}.\n{}\n{}",
            if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            },
            line("Contract", a.sla_contract, contract),
            line("Internal", a.sla_internal, internal),
        ))))
    }
}

fn blank(route: &str) -> RouteState {
    RouteState {
        route: route.to_string(),
        worthy_since: None,
        level: None,
        availability: None,
        sev: None,
        requests: None,
        failures: None,
        window_end: None,
    }
}

/// Applies a new evaluation; recovery clears the link to the SEV too.
fn mark(st: &mut RouteState, level: Option<Level>, availability: Option<f64>, now: i64) {
    st.availability = availability;
    match level {
        Some(l) => {
            st.worthy_since.get_or_insert(now);
            st.level = Some(i64::from(l.get()));
        }
        None => {
            st.worthy_since = None;
            st.level = None;
        }
    }
}

fn degraded(states: &HashMap<String, RouteState>) -> impl Iterator<Item = &RouteState> {
    states
        .values()
        .filter(|s| s.level.is_some() && !s.route.starts_with("sev:"))
}

/// The last level suggested for a SEV (-1: recovery announced), kept as a state row.
fn last_suggestion(states: &HashMap<String, RouteState>, sev: SevId) -> Option<i64> {
    states.get(&format!("sev:{sev}")).and_then(|s| s.level)
}

fn remember_suggestion(states: &mut HashMap<String, RouteState>, sev: SevId, level: Option<Level>) {
    let key = format!("sev:{sev}");
    let st = states.entry(key.clone()).or_insert_with(|| blank(&key));
    st.level = Some(level.map(|l| i64::from(l.get())).unwrap_or(-1));
    st.sev = Some(sev);
}

fn month_start(now: i64) -> i64 {
    let t = DateTime::<Utc>::from_timestamp_millis(now).unwrap_or_default();
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .map(|m| m.timestamp_millis())
        .unwrap_or(now)
}

fn days_in_month(now: i64) -> u32 {
    let t = DateTime::<Utc>::from_timestamp_millis(now).unwrap_or_default();
    let (y, m) = (t.year(), t.month());
    let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let a = chrono::NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default();
    let b = chrono::NaiveDate::from_ymd_opt(next.0, next.1, 1).unwrap_or_default();
    (b - a).num_days() as u32
}

/// Minutes the SEV spent open at each level within [from, to): from its declaration (and
/// level changes) until it was mitigated, resolved or cancelled.
fn level_spans(timeline: &[crate::domain::TimelineEvent], from: i64, to: i64) -> Vec<(Level, f64)> {
    let mut spans = vec![];
    let mut current: Option<(Level, i64)> = None;
    let close = |cur: &mut Option<(Level, i64)>, at: i64, spans: &mut Vec<(Level, f64)>| {
        if let Some((l, start)) = cur.take() {
            let (s, e) = (start.max(from), at.min(to));
            if e > s {
                spans.push((l, (e - s) as f64 / 60_000.0));
            }
        }
    };
    for e in timeline {
        match &e.event {
            EventKind::Declared { level, .. } => current = Some((*level, e.at)),
            // A level change while users are still affected starts a new span.
            EventKind::LevelChanged { to: l, .. } if current.is_some() => {
                close(&mut current, e.at, &mut spans);
                current = Some((*l, e.at));
            }
            EventKind::StageChanged {
                to: Stage::Mitigated | Stage::Resolved | Stage::Cancelled,
                ..
            } => close(&mut current, e.at, &mut spans),
            _ => {}
        }
    }
    close(&mut current, to, &mut spans);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TimelineEvent;

    #[test]
    fn open_time_by_level_counts_until_mitigation_within_the_month() {
        let l = |n| Level::new(n).unwrap();
        let ev = |at: i64, event| TimelineEvent {
            at,
            actor: "x".into(),
            event,
        };
        let t = vec![
            ev(
                0,
                EventKind::Declared {
                    sev_type: SevType::Availability,
                    level: l(1),
                    title: "t".into(),
                    customer_impact: true,
                },
            ),
            ev(
                10 * 60_000,
                EventKind::LevelChanged {
                    from: l(1),
                    to: l(0),
                    reason: None,
                },
            ),
            ev(
                25 * 60_000,
                EventKind::StageChanged {
                    from: Stage::Investigating,
                    to: Stage::Mitigated,
                    reason: None,
                },
            ),
        ];
        assert_eq!(
            level_spans(&t, 0, 60 * 60_000),
            vec![(l(1), 10.0), (l(0), 15.0)]
        );
        // Only the part inside the month counts.
        assert_eq!(
            level_spans(&t, 5 * 60_000, 60 * 60_000),
            vec![(l(1), 5.0), (l(0), 15.0)]
        );
        let november = Utc
            .with_ymd_and_hms(2026, 11, 22, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(days_in_month(november), 30);
        assert_eq!(
            month_start(november),
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
    }
}

/// One alert of an Alertmanager webhook (v4), with the fields sevbot reads; unknown
/// fields are ignored.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Alert {
    pub status: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    #[serde(rename = "startsAt", default)]
    pub starts_at: String,
    #[serde(default)]
    pub fingerprint: String,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct AlertBatch {
    /// The webhook format; sevbot reads version "4".
    #[serde(default)]
    pub version: String,
    #[serde(rename = "groupKey", default)]
    pub group_key: String,
    #[serde(default)]
    pub alerts: Vec<Alert>,
}

impl Engine {
    /// An Alertmanager notification: each alert state is recorded once (repeats and
    /// retries are recognised); a firing alert declares an availability SEV or attaches to
    /// the open one, a resolved one goes on its timeline and proposes stepping down.
    /// Returns how many alert states were new.
    pub async fn alerts(&self, batch: &AlertBatch) -> anyhow::Result<usize> {
        let now = self.clock.now_ms();
        let a = &self.cfg.raw.availability;
        let mut tx = self.store.begin().await?;
        let mut fresh = 0;
        for alert in &batch.alerts {
            let labels = serde_json::to_string(&alert.labels)?;
            let key = match alert.fingerprint.is_empty() {
                true => labels.clone(),
                false => alert.fingerprint.clone(),
            };
            if !avail::first_alert(
                &mut tx,
                &batch.group_key,
                &key,
                &alert.status,
                &alert.starts_at,
                &labels,
                now,
            )
            .await?
            {
                continue;
            }
            fresh += 1;
            let name = alert
                .labels
                .get("alertname")
                .cloned()
                .unwrap_or_else(|| "alert".into());
            // The catalogue's id, whether the label carries the id or the path.
            let route = alert.labels.get("route").map(|r| {
                a.routes
                    .iter()
                    .find(|k| &k.id == r || &k.pattern == r)
                    .map(|k| k.id.clone())
                    .unwrap_or_else(|| r.clone())
            });
            let firing = alert.status == "firing";
            let mut states: HashMap<String, RouteState> = avail::states(&mut tx)
                .await?
                .into_iter()
                .map(|s| (s.route.clone(), s))
                .collect();
            let linked = self.linked_sev(&mut tx, &states).await?;
            let event = EventKind::Alert {
                name: name.clone(),
                route: route.clone(),
                firing,
            };
            if !firing {
                if let Some(mut inc) = linked {
                    self.post_recorded(&mut tx, &mut inc, &[event], now).await?;
                }
                continue;
            }
            let level = alert
                .labels
                .get("severity")
                .and_then(|s| a.alert_levels.get(s))
                .and_then(|l| Level::new(*l))
                .unwrap_or(Level::new(2).expect("static level"));
            let inc = match linked {
                Some(mut inc) => {
                    let mut events = vec![event];
                    if level < inc.level {
                        events.push(EventKind::Impact {
                            summary: format!(
                                "{name} is firing at {}",
                                alert
                                    .labels
                                    .get("severity")
                                    .map(String::as_str)
                                    .unwrap_or("unknown severity")
                            ),
                            suggested: Some(level),
                        });
                    }
                    self.post_recorded(&mut tx, &mut inc, &events, now).await?;
                    inc
                }
                None => {
                    let summary = alert
                        .annotations
                        .get("summary")
                        .cloned()
                        .unwrap_or_else(|| name.clone());
                    let title = match &route {
                        Some(r) => format!("{name} on {r}"),
                        None => summary.clone(),
                    };
                    self.declare_for_monitoring(&mut tx, level, &title, "Alertmanager", event, now)
                        .await?
                }
            };
            if let Some(r) = &route {
                let st = states.entry(r.clone()).or_insert_with(|| blank(r));
                st.worthy_since.get_or_insert(now);
                st.level = Some(i64::from(level.get()));
                st.sev = Some(inc.id);
                avail::save_state(&mut tx, st, now).await?;
            }
        }
        tx.commit().await?;
        self.wake_outbox.notify_one();
        self.wake_jobs.notify_one();
        Ok(fresh)
    }
}

impl Engine {
    /// The draft to put in the edit form, for the SEV `sev` names (or whose channel this
    /// is), when the person may edit it (its BMOC or IMOC); `None` otherwise, so the command
    /// runs as typed and is refused with the reason.
    pub async fn draft_for_editing(
        &self,
        inv: &crate::engine::Invocation,
        sev: Option<SevId>,
    ) -> Option<(SevId, String)> {
        let mut conn = self.store.pool.acquire().await.ok()?;
        let id = match sev {
            Some(id) => id,
            None => sevs::by_channel(&mut conn, &inv.platform, &inv.channel)
                .await
                .ok()??,
        };
        let inc = sevs::load(&mut conn, id).await.ok()??;
        let actor = self.actor(inv);
        let may_edit = [Role::Bmoc, Role::Imoc]
            .iter()
            .any(|r| inc.roles.get(r) == Some(&actor));
        if !may_edit || !inc.stage.is_open() {
            return None;
        }
        let body = avail::latest_draft(&mut conn, id)
            .await
            .ok()
            .flatten()
            .filter(|d| d.approved_by.is_none())
            .map(|d| d.body)
            .unwrap_or_default();
        Some((id, body))
    }
}
