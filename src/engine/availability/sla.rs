//! `/sev sla` and the web view's SLA page: this month's downtime from availability SEVs
//! against the contract and the internal target, from the SEVs' timelines.

use serde::Serialize;

use super::*;
use crate::domain::TimelineEvent;
use crate::store::Conn;

/// One SEV's downtime this month.
#[derive(Debug, Clone, Serialize)]
pub struct SlaSev {
    pub id: String,
    pub number: i64,
    pub minutes: f64,
}

/// The month to date: downtime, both budgets, each SEV's share, and the downtime as it
/// added up at the end of each day so far (`burn[0]` is the first day).
#[derive(Debug, Clone, Serialize)]
pub struct SlaMonth {
    /// "December 2026"
    pub month: String,
    pub days: u32,
    pub total_minutes: f64,
    pub contract_percent: f64,
    pub contract_minutes: f64,
    pub internal_percent: f64,
    pub internal_minutes: f64,
    pub sevs: Vec<SlaSev>,
    pub burn: Vec<f64>,
}

impl Engine {
    /// The SLA month that `now` is in, to `now`.
    pub async fn sla_month(&self, now: i64) -> anyhow::Result<SlaMonth> {
        let mut conn = self.store.pool.acquire().await?;
        self.sla_month_in(&mut conn, now).await
    }

    async fn sla_month_in(&self, conn: &mut Conn, now: i64) -> anyhow::Result<SlaMonth> {
        let a = &self.cfg().availability;
        let start = month_start(now);
        let days = days_in_month(now);
        let mut timelines = vec![];
        for inc in &sevs::touching(conn, start, now + 1).await? {
            if inc.sev_type == SevType::Availability && inc.stage != Stage::Cancelled {
                timelines.push((inc.id, sevs::timeline(conn, inc.id).await?));
            }
        }
        let downtime = |t: &[TimelineEvent], to: i64| {
            impact::downtime_minutes(&level_spans(t, start, to), &a.downtime_weights)
        };
        let mut sevs = vec![];
        for (id, t) in &timelines {
            let minutes = downtime(t, now);
            if minutes > 0.0 {
                sevs.push(SlaSev {
                    id: id.to_string(),
                    number: id.0,
                    minutes,
                });
            }
        }
        const DAY: i64 = 86_400_000;
        let burn = (1..=i64::from(days))
            .map(|d| start + d * DAY)
            .take_while(|end| end - DAY < now)
            .map(|end| {
                timelines
                    .iter()
                    .map(|(_, t)| downtime(t, end.min(now)))
                    .sum()
            })
            .collect();
        Ok(SlaMonth {
            month: DateTime::<Utc>::from_timestamp_millis(now)
                .map(|t| t.format("%B %Y").to_string())
                .unwrap_or_default(),
            days,
            total_minutes: sevs.iter().map(|s| s.minutes).sum(),
            contract_percent: a.sla_contract,
            contract_minutes: impact::budget_minutes(a.sla_contract, days),
            internal_percent: a.sla_internal,
            internal_minutes: impact::budget_minutes(a.sla_internal, days),
            sevs,
            burn,
        })
    }

    /// `/sev sla`: month-to-date downtime from availability SEVs, against both targets.
    pub(in crate::engine) async fn sla_command(
        &self,
        tx: &mut Tx,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let m = self.sla_month_in(tx, now).await?;
        let total = m.total_minutes;
        let parts: Vec<String> = m
            .sevs
            .iter()
            .map(|s| format!("{} {:.1}", s.id, s.minutes))
            .collect();
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
            "SLA, {} to date: {total:.1} min of downtime{}.\n{}\n{}",
            m.month,
            if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(", "))
            },
            line("Contract", m.contract_percent, m.contract_minutes),
            line("Internal", m.internal_percent, m.internal_minutes),
        ))))
    }
}
