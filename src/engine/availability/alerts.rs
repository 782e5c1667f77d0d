//! Alertmanager's webhooks: firing alerts for catalogued routes attach to the open SEV or
//! declare one; resolved alerts are told in its channel.

use super::*;

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
    /// The route's availability (percent) measured when the alert arrived (Prometheus),
    /// for an alert that carries no figure of its own.
    #[serde(skip)]
    pub measured: Option<f64>,
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
    /// Written with whatever else arrives meanwhile (group commit), on the config in force.
    pub async fn alerts(&self, batch: &AlertBatch) -> anyhow::Result<usize> {
        let this = self.pinned();
        let batch = batch.clone();
        let fresh = self
            .store
            .write(move |tx| Box::pin(async move { this.alerts_in(tx, &batch).await }))
            .await?;
        self.wake_outbox.notify_one();
        self.wake_jobs.notify_one();
        Ok(fresh)
    }

    async fn alerts_in(&self, tx: &mut Tx, batch: &AlertBatch) -> anyhow::Result<usize> {
        let now = self.clock.now_ms();
        let a = &self.cfg().availability;
        let mut fresh = 0;
        // Read once for the whole notification and kept current as its alerts are
        // applied: a storm of a thousand alerts is not a thousand reads of the same rows.
        let mut states: HashMap<String, RouteState> = avail::states(tx)
            .await?
            .into_iter()
            .map(|s| (s.route.clone(), s))
            .collect();
        let mut linked: Option<Option<Incident>> = None;
        // Timeline entries for the linked SEV, recorded and posted together (one append,
        // one outbox insert) when the SEV changes and at the end; routes whose state
        // changed, saved once each at the end. A storm is then a few statements, not a
        // few per alert.
        let mut pending: Vec<EventKind> = Vec::new();
        let mut touched: std::collections::BTreeSet<String> = Default::default();
        for alert in &batch.alerts {
            let labels = serde_json::to_string(&alert.labels)?;
            let key = match alert.fingerprint.is_empty() {
                true => labels.clone(),
                false => alert.fingerprint.clone(),
            };
            if !avail::first_alert(
                tx,
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
            // The SEV the alerts attach to, found for the first that needs it; later ones
            // attach to the same (or to the one the first declared).
            let attached = match linked.take() {
                Some(known) => known,
                None => self.linked_sev(tx, &states).await?,
            };
            let event = EventKind::Alert {
                name: name.clone(),
                route: route.clone(),
                firing,
            };
            if !firing {
                if attached.is_some() {
                    pending.push(event);
                }
                linked = Some(attached);
                continue;
            }
            let level = alert
                .labels
                .get("severity")
                .and_then(|s| a.alert_levels.get(s))
                .and_then(|l| Level::new(*l))
                .unwrap_or(Level::new(2).expect("static level"));
            let inc = match attached {
                Some(inc) => {
                    pending.push(event);
                    if level < inc.level {
                        pending.push(EventKind::Impact {
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
                    // Detection starts when the alert started firing (never later than now).
                    let started = chrono::DateTime::parse_from_rfc3339(&alert.starts_at)
                        .map(|t| t.timestamp_millis().min(now))
                        .unwrap_or(now);
                    let detected = EventKind::Detected {
                        at: started,
                        signal: format!("{name} started firing"),
                    };
                    self.declare_for_monitoring(
                        tx,
                        level,
                        &title,
                        "Alertmanager",
                        [detected, event],
                        now,
                    )
                    .await?
                }
            };
            if let Some(r) = &route {
                let st = states.entry(r.clone()).or_insert_with(|| blank(r));
                st.worthy_since.get_or_insert(now);
                st.level = Some(i64::from(level.get()));
                st.sev = Some(inc.id);
                // The alert's own figure, unless a sample of the last minutes says more.
                let fresh_sample = st.window_end.is_some_and(|w| now - w < FRESH_MS);
                let figure = impact::alert_figure(&alert.annotations).or(alert.measured);
                if !fresh_sample && let Some(v) = figure {
                    st.availability = Some(v);
                }
                touched.insert(r.clone());
            }
            linked = Some(Some(inc));
        }
        if let Some(Some(mut inc)) = linked
            && !pending.is_empty()
        {
            self.post_recorded(tx, &mut inc, &pending, now).await?;
        }
        for r in &touched {
            avail::save_state(tx, &states[r], now).await?;
        }
        Ok(fresh)
    }
}
