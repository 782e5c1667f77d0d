//! Scheduled posts: cron digests of the open SEVs to chosen channels, and each open SEV's
//! status pushed to its feeds at its level's cadence (edited in place). Every occurrence
//! is a job row, so a restart neither skips nor repeats one.

use super::job::PostPayload;
use super::{Engine, JOB_SCHEDULED_POST, JOB_STATUS_PUSH, Job};
use crate::config::{Schedule, ScheduleKind};
use crate::domain::access;
use crate::domain::text::fmt_duration;
use crate::domain::{Incident, Role};
use crate::effects::Effect;
use crate::store::incidents as sevs;
use crate::store::{Tx, jobs};

impl PostPayload {
    fn of(s: &Schedule) -> PostPayload {
        PostPayload {
            schedule: s.name.clone(),
            cron: s.expr.clone(),
            timezone: s.tz.name().to_string(),
            platform: s.platform.clone(),
            channel: s.channel.clone(),
        }
    }
}

impl Engine {
    /// At start-up and after a reload: one pending job per configured schedule; jobs of
    /// schedules that were removed or changed are cancelled and replanned.
    pub async fn ensure_schedules(&self) -> anyhow::Result<()> {
        let now = self.clock.now_ms();
        let cfg = self.cfg();
        let mut tx = self.store.begin().await?;
        let pending = jobs::pending(&mut tx, JOB_SCHEDULED_POST).await?;
        let mut kept = vec![];
        for (id, payload) in pending {
            let wanted = match Job::decode(JOB_SCHEDULED_POST, 1, &payload) {
                Ok(Job::ScheduledPost(p)) => Some(p),
                _ => None,
            }
            .filter(|p| {
                cfg.schedules.iter().any(|s| PostPayload::of(s) == *p)
                    && !kept.contains(&p.schedule)
            });
            match wanted {
                Some(p) => kept.push(p.schedule),
                None => jobs::cancel_id(&mut tx, id, now).await?,
            }
        }
        for s in cfg.schedules.iter().filter(|s| !kept.contains(&s.name)) {
            plan(&mut tx, s, now, now).await?;
        }
        tx.commit().await?;
        self.wake_jobs.notify_one();
        Ok(())
    }

    /// A due scheduled post: post it, plan the next occurrence.
    pub(super) async fn scheduled_post(
        &self,
        tx: &mut Tx,
        payload: &PostPayload,
        now: i64,
    ) -> anyhow::Result<()> {
        let cfg = self.cfg();
        let Some(s) = cfg
            .schedules
            .iter()
            .find(|s| PostPayload::of(s) == *payload)
        else {
            tracing::info!(
                schedule = payload.schedule,
                "schedule no longer configured; not posted"
            );
            return Ok(());
        };
        let text = match s.kind {
            ScheduleKind::Digest => self.digest(tx, &s.platform, &s.channel, now).await?,
        };
        let post = Effect::Reply {
            channel: s.channel.clone(),
            user: None,
            text,
        };
        self.enqueue(tx, &s.platform, post, now).await?;
        // After a long outage the missed occurrences collapse into this one.
        plan(tx, s, now, now).await
    }

    /// Every open SEV, most critical first, with its latest status.
    async fn digest(
        &self,
        tx: &mut Tx,
        platform: &str,
        channel: &str,
        now: i64,
    ) -> anyhow::Result<String> {
        let (mut open, _) = sevs::list(tx, 0).await?;
        // Drills are practice, for their channel only.
        open.retain(|i| !i.drill);
        if open.is_empty() {
            return Ok("SEV digest: no open SEVs.".into());
        }
        let mut lines = vec![format!(
            "SEV digest: {} open SEV{}",
            open.len(),
            if open.len() == 1 { "" } else { "s" }
        )];
        for inc in &open {
            let inc = self.feed_view(inc, platform, channel);
            if inc.redacted {
                lines.push(format!("• {}", access::redacted_line(inc.id, inc.sev_type)));
                continue;
            }
            let last = sevs::last_update_at(tx, inc.id).await?;
            lines.push(self.digest_line(&inc, platform, now, last));
        }
        Ok(lines.join("\n"))
    }

    fn digest_line(&self, inc: &Incident, platform: &str, now: i64, last_update: i64) -> String {
        let imoc = inc
            .roles
            .get(&Role::Imoc)
            .map(|p| format!(" · IMOC {}", self.name_of(platform, p)))
            .unwrap_or_default();
        let status = match &inc.latest_update {
            Some(u) => format!(
                " · last update {} ago: {}",
                fmt_duration((now - last_update) / 1000),
                self.esc(platform, u)
            ),
            None => " · no update yet".into(),
        };
        format!(
            "• {} {} {} · {} · {}{imoc}{status}",
            inc.id,
            inc.level,
            inc.sev_type,
            inc.stage,
            self.esc(platform, &inc.title)
        )
    }

    /// (Re)plans the SEV's status push a cadence from now, or stops it (closed, no feed
    /// announces it, or a level without cadence).
    pub(super) async fn reschedule_status_push(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        has_feeds: bool,
        now: i64,
    ) -> anyhow::Result<()> {
        jobs::cancel(tx, inc.id, JOB_STATUS_PUSH, now).await?;
        let cadence = i64::from(self.cfg().update_cadence_minutes(inc.level)) * 60_000;
        if has_feeds && inc.stage.is_open() && cadence > 0 {
            Job::StatusPush
                .schedule(tx, Some(inc.id), now + cadence, now)
                .await?;
        }
        Ok(())
    }

    /// A due status push: the SEV's announcement in every feed is refreshed in place with
    /// the time of this status, then the next push is planned.
    pub(super) async fn status_push(
        &self,
        tx: &mut Tx,
        job: &jobs::Job,
        now: i64,
    ) -> anyhow::Result<()> {
        let Some(id) = job.sev_id else { return Ok(()) };
        let Some(inc) = sevs::load(tx, id).await? else {
            return Ok(());
        };
        if !inc.stage.is_open() {
            return Ok(());
        }
        let feeds = sevs::bound_channels(tx, id, "feed").await?;
        let has_feeds = !feeds.is_empty();
        for (platform, channel) in feeds {
            let effect = Effect::UpsertFeed {
                incident: self.feed_view(&inc, &platform, &channel),
                channel,
                as_of: Some(now),
            };
            self.enqueue(tx, &platform, effect, now).await?;
        }
        self.reschedule_status_push(tx, &inc, has_feeds, now).await
    }
}

/// The next occurrence strictly after `after`, as a job.
async fn plan(tx: &mut Tx, s: &Schedule, after: i64, now: i64) -> anyhow::Result<()> {
    let Some(due) = s.next_after(after) else {
        tracing::warn!(schedule = s.name, "the schedule has no next occurrence");
        return Ok(());
    };
    Job::ScheduledPost(PostPayload::of(s))
        .schedule(tx, None, due, now)
        .await?;
    Ok(())
}
