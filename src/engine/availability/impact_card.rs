//! The impact card and `/sev impact`: the degraded routes of an availability SEV, with
//! availability, since when, users affected and error budget burned.

use super::*;

impl Engine {
    /// The impact card: every degraded route with its availability, bucket, since when,
    /// users affected and the share of the month's error budget it burned.
    pub(in crate::engine) fn impact_card(
        &self,
        states: &HashMap<String, RouteState>,
        sev: Option<SevId>,
        now: i64,
    ) -> String {
        let a = &self.cfg().availability;
        let days = days_in_month(now);
        let mut lines = vec![];
        for s in degraded(states).filter(|s| sev.is_none() || s.sev.is_none() || s.sev == sev) {
            let since = s.worthy_since.unwrap_or(now);
            let minutes = (now - since) as f64 / 60_000.0;
            let Some(r) = a.routes.iter().find(|r| r.id == s.route) else {
                if s.route == GLOBAL
                    && let Some(availability) = s.availability
                {
                    lines.push(format!(
                        "• global availability {availability:.2}% since {}",
                        fmt_time(since)
                    ));
                }
                continue;
            };
            // An alert says a route is bad, not how bad: until a sample (or the alert's
            // own figure) says, the numbers are unknown, not 100 %.
            let Some(availability) = s.availability else {
                lines.push(format!(
                    "• {} ({}, {}): degraded since {}; availability unknown until monitoring reports a figure for it, so users affected and error budget are unknown too",
                    r.description,
                    r.id,
                    r.bucket.as_str(),
                    fmt_time(since),
                ));
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
    pub(in crate::engine) async fn impact_command(
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
}
