//! What a durable timer does when it fires, typed. Rows keep the `kind` and JSON
//! `payload` columns they always had, and a `version`, so rows written by an earlier
//! release still fire; each variant has a golden encoding (tests/stored.rs).

use serde::{Deserialize, Serialize};

use crate::domain::SevId;
use crate::store::{Conn, jobs};

pub use crate::store::jobs::JOB_VERSION;

pub const JOB_UPDATE_REMINDER: &str = "update_reminder";
pub const JOB_PRUNE_DELIVERIES: &str = "prune_deliveries";
/// Deletes an archived SEV channel once its retention has passed.
pub const JOB_DELETE_CHANNEL: &str = "delete_channel";
/// One step of a SEV's escalation ladder.
pub const JOB_ESCALATE: &str = "escalate";
/// A cron schedule's next post (a digest of open SEVs).
pub const JOB_SCHEDULED_POST: &str = "scheduled_post";
/// An open SEV's status pushed to its feeds at its level's cadence.
pub const JOB_STATUS_PUSH: &str = "status_push";
/// A follow-up's due date: its owner is reminded unless it is done.
pub const JOB_FOLLOWUP_DUE: &str = "followup_due";
/// A drill scenario's next step: its prompt and make-believe monitoring.
pub const JOB_DRILL_STEP: &str = "drill_step";

#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Remind the IMOC to post an update; `repeat` counts reminders without one.
    UpdateReminder {
        repeat: u32,
    },
    /// Forget old delivery keys and delivered outbox rows; plans the next run.
    PruneDeliveries,
    DeleteChannel,
    /// Climb to the ladder's step `step` (0-based) unless someone acknowledged.
    Escalate {
        step: usize,
    },
    ScheduledPost(PostPayload),
    StatusPush,
    /// Remind the owner of follow-up `number` unless it is done by then.
    FollowupDue {
        number: i64,
    },
    /// Post step `step` of drill scenario `scenario` (as the config has it when it fires).
    DrillStep(DrillStep),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillStep {
    pub scenario: String,
    pub step: usize,
}

#[derive(Serialize, Deserialize)]
struct Number {
    number: i64,
}

/// A scheduled post: the schedule as configured when it was planned (a changed
/// schedule's jobs are replanned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostPayload {
    pub schedule: String,
    pub cron: String,
    pub timezone: String,
    pub platform: String,
    pub channel: String,
}

#[derive(Serialize, Deserialize)]
struct Repeat {
    #[serde(default)]
    repeat: u32,
}

#[derive(Serialize, Deserialize)]
struct Step {
    step: usize,
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::UpdateReminder { .. } => JOB_UPDATE_REMINDER,
            Job::PruneDeliveries => JOB_PRUNE_DELIVERIES,
            Job::DeleteChannel => JOB_DELETE_CHANNEL,
            Job::Escalate { .. } => JOB_ESCALATE,
            Job::ScheduledPost(_) => JOB_SCHEDULED_POST,
            Job::StatusPush => JOB_STATUS_PUSH,
            Job::FollowupDue { .. } => JOB_FOLLOWUP_DUE,
            Job::DrillStep(_) => JOB_DRILL_STEP,
        }
    }

    pub fn payload(&self) -> String {
        let json = match self {
            Job::UpdateReminder { repeat: 0 } => Ok("{}".to_string()),
            Job::UpdateReminder { repeat } => serde_json::to_string(&Repeat { repeat: *repeat }),
            Job::Escalate { step } => serde_json::to_string(&Step { step: *step }),
            Job::ScheduledPost(p) => serde_json::to_string(p),
            Job::FollowupDue { number } => serde_json::to_string(&Number { number: *number }),
            Job::DrillStep(d) => serde_json::to_string(d),
            Job::PruneDeliveries | Job::DeleteChannel | Job::StatusPush => Ok("{}".to_string()),
        };
        json.unwrap_or_else(|_| "{}".into())
    }

    pub fn decode(kind: &str, version: i64, payload: &str) -> anyhow::Result<Job> {
        anyhow::ensure!(
            version <= JOB_VERSION,
            "written by a newer sevbot (job version {version}; this one reads up to {JOB_VERSION})"
        );
        Ok(match kind {
            JOB_UPDATE_REMINDER => Job::UpdateReminder {
                repeat: serde_json::from_str::<Repeat>(payload)?.repeat,
            },
            JOB_PRUNE_DELIVERIES => Job::PruneDeliveries,
            JOB_DELETE_CHANNEL => Job::DeleteChannel,
            JOB_ESCALATE => Job::Escalate {
                step: serde_json::from_str::<Step>(payload)?.step,
            },
            JOB_SCHEDULED_POST => Job::ScheduledPost(serde_json::from_str(payload)?),
            JOB_STATUS_PUSH => Job::StatusPush,
            JOB_FOLLOWUP_DUE => Job::FollowupDue {
                number: serde_json::from_str::<Number>(payload)?.number,
            },
            JOB_DRILL_STEP => Job::DrillStep(serde_json::from_str(payload)?),
            other => anyhow::bail!("unknown job kind {other:?}"),
        })
    }

    /// Stores the job, due at `due`.
    pub async fn schedule(
        &self,
        conn: &mut Conn,
        sev: Option<SevId>,
        due: i64,
        now: i64,
    ) -> anyhow::Result<i64> {
        jobs::schedule(
            conn,
            self.kind(),
            sev,
            due,
            &self.payload(),
            JOB_VERSION,
            now,
        )
        .await
    }

    /// One example of every variant, for the golden encoding tests; the match makes a
    /// new variant without an example a compile error.
    pub fn examples() -> Vec<Job> {
        let all = vec![
            Job::UpdateReminder { repeat: 0 },
            Job::UpdateReminder { repeat: 2 },
            Job::PruneDeliveries,
            Job::DeleteChannel,
            Job::Escalate { step: 1 },
            Job::ScheduledPost(PostPayload {
                schedule: "morning".into(),
                cron: "30 2 * * *".into(),
                timezone: "Europe/Berlin".into(),
                platform: "console".into(),
                channel: "sev-feed".into(),
            }),
            Job::StatusPush,
            Job::FollowupDue { number: 2 },
            Job::DrillStep(DrillStep {
                scenario: "checkout-outage".into(),
                step: 1,
            }),
        ];
        for j in &all {
            match j {
                Job::UpdateReminder { .. }
                | Job::PruneDeliveries
                | Job::DeleteChannel
                | Job::Escalate { .. }
                | Job::ScheduledPost(_)
                | Job::StatusPush
                | Job::FollowupDue { .. }
                | Job::DrillStep(_) => {}
            }
        }
        all
    }
}
