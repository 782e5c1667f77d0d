//! `/sev sla`: this month's downtime from availability SEVs against the contract and the
//! internal target, from the SEVs' timelines.

use super::*;

impl Engine {
    /// `/sev sla`: month-to-date downtime from availability SEVs, against both targets.
    pub(in crate::engine) async fn sla_command(
        &self,
        tx: &mut Tx,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let a = &self.cfg().availability;
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
