//! Jobs the scheduler fires (reminders, escalations, posts, pruning) and the reminders
//! a change reschedules.

use super::*;

impl Engine {
    /// Schedules the recurring housekeeping job unless one is pending (call at start-up).
    pub async fn ensure_housekeeping(&self) -> anyhow::Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        if !jobs::pending_of_kind(&mut tx, JOB_PRUNE_DELIVERIES).await? {
            schedule_prune(&mut tx, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Fires one claimed job in a transaction that also marks it done; if another replica
    /// took the job over meanwhile, everything is rolled back and nothing is sent.
    pub async fn fire_job(&self, job: &jobs::Job, owner: &str) -> anyhow::Result<bool> {
        let span = tracing::info_span!(
            "job",
            id = job.id,
            kind = %job.kind,
            sev = job.sev_id.map(|s| s.0),
            attempt = job.attempts,
        );
        self.pinned()
            .fire_job_inner(job, owner)
            .instrument(span)
            .await
    }

    pub(super) async fn fire_job_inner(
        &self,
        job: &jobs::Job,
        owner: &str,
    ) -> anyhow::Result<bool> {
        let now = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        if !jobs::complete(&mut tx, job.id, owner, now).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        match Job::decode(&job.kind, job.version, &job.payload) {
            Ok(Job::UpdateReminder { repeat }) => {
                self.update_reminder(&mut tx, job, repeat, now).await?
            }
            Ok(Job::PruneDeliveries) => {
                let before = now - DELIVERY_KEY_RETENTION_MS;
                let pruned = self.store.prune_deliveries(&mut tx, before).await?;
                let sent = outbox::prune(&mut tx, now - OUTBOX_RETENTION_MS).await?;
                tracing::debug!(pruned, sent, "old delivery keys and delivered rows removed");
                schedule_prune(&mut tx, now).await?;
            }
            Ok(Job::Escalate { step }) => self.escalate(&mut tx, job, step, now).await?,
            Ok(Job::ScheduledPost(p)) => self.scheduled_post(&mut tx, &p, now).await?,
            Ok(Job::StatusPush) => self.status_push(&mut tx, job, now).await?,
            Ok(Job::DrillStep(step)) => {
                if let Some(id) = job.sev_id {
                    self.drill_step(&mut tx, id, &step, now).await?;
                }
            }
            Ok(Job::FollowupDue { number }) => {
                if let Some(id) = job.sev_id {
                    self.followup_due(&mut tx, id, number, now).await?;
                }
            }
            Ok(Job::DeleteChannel) => {
                if let Some(id) = job.sev_id
                    && let Some(inc) = sevs::load(&mut tx, id).await?
                    && inc.stage.is_final()
                {
                    self.enqueue(
                        &mut tx,
                        &inc.platform,
                        Effect::DeleteChannel { sev: id },
                        now,
                    )
                    .await?;
                }
            }
            Err(e) => tracing::error!(
                kind = job.kind,
                id = job.id,
                error = format!("{e:#}"),
                "a job sevbot cannot read; marked done"
            ),
        }
        tx.commit().await?;
        let lateness = (now - job.due_at).max(0) as f64 / 1000.0;
        metrics::histogram!("sevbot_job_lateness_seconds", "kind" => job.kind.clone())
            .record(lateness);
        metrics::counter!("sevbot_jobs_fired_total", "kind" => job.kind.clone()).increment(1);
        self.wake_outbox.notify_one();
        Ok(true)
    }

    pub(super) async fn update_reminder(
        &self,
        tx: &mut Tx,
        job: &jobs::Job,
        repeat: u32,
        now: i64,
    ) -> anyhow::Result<()> {
        let Some(id) = job.sev_id else { return Ok(()) };
        let Some(mut inc) = sevs::load(tx, id).await? else {
            return Ok(());
        };
        if !inc.stage.is_open() {
            return Ok(());
        }
        let last = sevs::last_update_at(tx, id).await?;
        let minutes = (now - last) / 60_000;
        let imoc = inc.roles.get(&Role::Imoc).cloned();
        self.post_recorded(
            tx,
            &mut inc,
            &[EventKind::UpdateReminder {
                minutes_since_update: minutes,
                imoc,
            }],
            now,
        )
        .await?;
        // Remind again a cadence later, a bounded number of times; the next update
        // starts the count over.
        let cadence = i64::from(self.cfg().update_cadence_minutes(inc.level)) * 60_000;
        if cadence > 0 && repeat < self.cfg().reminders.max_repeats {
            Job::UpdateReminder { repeat: repeat + 1 }
                .schedule(tx, Some(id), now + cadence, now)
                .await?;
        }
        Ok(())
    }

    /// One pending update reminder per open SEV, due a cadence after the last update
    /// (`last_update` when the caller knows it, else as stored).
    pub(super) async fn reschedule_reminder(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        last_update: Option<i64>,
        now: i64,
    ) -> anyhow::Result<()> {
        jobs::cancel(tx, inc.id, JOB_UPDATE_REMINDER, now).await?;
        self.plan_reminder(tx, inc, last_update, now).await
    }

    /// The update reminder of a SEV that has none pending (one just declared: nothing to
    /// cancel, one statement fewer).
    pub(super) async fn plan_reminder(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        last_update: Option<i64>,
        now: i64,
    ) -> anyhow::Result<()> {
        let cadence = i64::from(self.cfg().update_cadence_minutes(inc.level)) * 60_000;
        if inc.stage.is_open() && cadence > 0 {
            let last = match last_update {
                Some(at) => at,
                None => sevs::last_update_at(tx, inc.id).await?,
            };
            let due = (last + cadence).max(now);
            Job::UpdateReminder { repeat: 0 }
                .schedule(tx, Some(inc.id), due, now)
                .await?;
        }
        Ok(())
    }
}

pub(super) async fn schedule_prune(tx: &mut Tx, now: i64) -> anyhow::Result<()> {
    Job::PruneDeliveries
        .schedule(tx, None, now + PRUNE_EVERY_MS, now)
        .await?;
    Ok(())
}
