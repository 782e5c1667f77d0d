//! Route availability inside the engine: samples and alerts are stored in the same
//! transaction that evaluates them; impact that stays SEV-worthy through the confirmation
//! window declares an availability SEV (or attaches to the open one), level changes are
//! proposed for people to confirm, the impact card is kept current, and `/sev impact`,
//! `/sev draft` and `/sev sla` answer from the same data.

mod alerts;
mod drafts;
mod impact_card;
pub mod sla;

pub use alerts::{Alert, AlertBatch};

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Engine, Outcome, Reply, SYSTEM_ACTOR};
use crate::domain::definitions::level_for_availability;
use crate::domain::grammar::DraftAction;
use crate::domain::impact::{self, Sample};
use crate::domain::month::{days_in_month, level_spans, month_start};
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
    /// Written with whatever else arrives meanwhile (group commit), on the config in force.
    pub async fn ingest(&self, samples: &[RouteSample], source: &str) -> anyhow::Result<()> {
        let this = self.pinned();
        let (batch, from) = (samples.to_vec(), source.to_string());
        self.store
            .write(move |tx| Box::pin(async move { this.ingest_in(tx, &batch, &from).await }))
            .await?;
        metrics::counter!("sevbot_availability_samples_total", "source" => source.to_string())
            .increment(samples.len() as u64);
        self.wake_outbox.notify_one();
        self.wake_jobs.notify_one();
        Ok(())
    }

    async fn ingest_in(
        &self,
        tx: &mut Tx,
        samples: &[RouteSample],
        source: &str,
    ) -> anyhow::Result<()> {
        let now = self.clock.now_ms();
        for s in samples {
            avail::insert_sample(
                tx,
                &s.route,
                (s.window_start, s.window_end),
                s.requests,
                s.failures,
                source,
                now,
            )
            .await?;
        }
        self.evaluate(tx, samples, now).await
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
        let a = &self.cfg().availability;
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
            let defs = &self.cfg().definitions;
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
                    // Detection starts at the first failing sample of the routes that
                    // made it a SEV.
                    let first = confirmed.iter().filter_map(|s| s.worthy_since).min();
                    let detected = EventKind::Detected {
                        at: first.unwrap_or(now),
                        signal: match titles.is_empty() {
                            true => "first failing samples (global availability)".into(),
                            false => format!("first failing sample on {}", titles.join(", ")),
                        },
                    };
                    let ev = EventKind::Impact {
                        summary,
                        suggested: None,
                    };
                    let inc = self
                        .declare_for_monitoring(
                            tx,
                            level,
                            &title,
                            "Monitoring",
                            [detected, ev],
                            now,
                        )
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
    /// says so in the configured channel, and puts `events` (when it was first seen, and
    /// what) on its timeline.
    async fn declare_for_monitoring(
        &self,
        tx: &mut Tx,
        level: Level,
        title: &str,
        by: &str,
        events: [EventKind; 2],
        now: i64,
    ) -> anyhow::Result<Incident> {
        let a = &self.cfg().availability;
        let new = NewSev {
            sev_type: SevType::Availability,
            level,
            title,
            customer_impact: true,
            restricted: false,
            drill: false,
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
        self.post_recorded(tx, &mut inc, &events, now).await?;
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
