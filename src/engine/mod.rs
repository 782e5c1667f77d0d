//! The engine: one input (a command, a due job) becomes one database transaction that
//! applies the change, appends the timeline, schedules or cancels jobs and enqueues the
//! outbound effects. Nothing here talks to a chat platform.

mod asks;
mod availability;
mod failure;
pub mod job;
pub mod outcomes;
mod paging;
mod schedules;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::access::{self, Viewer};
use crate::domain::actions::CardAction;
use crate::domain::definitions::{definition_for, render_table};
use crate::domain::grammar::{self, COMMANDS};
use crate::domain::incident::{decide, evolve};
use crate::domain::lifecycle::Standing;
use crate::domain::naming::{channel_basis, channel_name};
use crate::domain::oncall::{on_call_for, rotation_for};
use crate::domain::text::{Markup, card_text, describe, fmt_duration, fmt_time};
use crate::domain::{
    Action, Command, EventKind, Incident, Role, SevId, SevType, Stage, TimelineEvent,
};
use crate::effects::{Capability, Effect, Platform, Sink};
use crate::store::incidents::{self as sevs, NewSev};
use crate::store::{Conn, Store, Tx, jobs, outbox, subscriptions};

pub use job::{
    JOB_DELETE_CHANNEL, JOB_ESCALATE, JOB_PRUNE_DELIVERIES, JOB_SCHEDULED_POST, JOB_STATUS_PUSH,
    JOB_UPDATE_REMINDER, Job,
};

pub const SYSTEM_ACTOR: &str = "sevbot";
/// Platforms redeliver within minutes; a day of delivery keys is ample.
pub const DELIVERY_KEY_RETENTION_MS: i64 = 24 * 3_600_000;
/// Delivered outbox rows are kept a week for the operator (the timeline keeps the rest),
/// so the table holds the work, not the history.
pub const OUTBOX_RETENTION_MS: i64 = 7 * 24 * 3_600_000;
const PRUNE_EVERY_MS: i64 = 3_600_000;
/// A second declare of the same type by the same person this soon is most likely a retype.
pub const DUPLICATE_WINDOW_MS: i64 = 120_000;

/// Who typed a command, where.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub platform: String,
    /// The platform's user handle (console name, Slack/Discord user id).
    pub user: String,
    /// The channel the command was typed in (platform channel id).
    pub channel: String,
}

/// The answer to the person who typed the command.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    /// Only the invoker sees it (where the platform allows).
    pub ephemeral: bool,
    /// The SEV a declare opened, so adapters can follow up on it.
    pub declared: Option<SevId>,
    /// Something the person can do next, offered as a button where the platform has them.
    pub offer: Option<Offer>,
}

/// A next step offered with a refusal: a button for `action` on `sev`, rendered by each
/// platform like the card's buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub sev: SevId,
    pub action: CardAction,
}

impl Reply {
    fn private(text: impl Into<String>) -> Reply {
        Reply {
            offer: None,
            declared: None,
            text: text.into(),
            ephemeral: true,
        }
    }
}

#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub cfg: Arc<Config>,
    /// Wakes the outbox worker after a commit that enqueued effects.
    pub wake_outbox: Arc<Notify>,
    /// Wakes the scheduler after a commit that may have scheduled jobs.
    pub wake_jobs: Arc<Notify>,
    /// Platforms, only to word replies in their own mention and channel syntax.
    renderers: Arc<HashMap<String, Arc<dyn Platform>>>,
    /// Sinks that page people (PagerDuty): pages for people flagged for external paging
    /// also go there.
    pub paging_sinks: Vec<String>,
    /// The sink approved customer updates go to.
    pub status_sink: Option<String>,
}

/// A refusal worded for the user, as opposed to an internal failure.
enum Outcome {
    Done(Reply),
    Refused(String),
    /// The delivery key was seen before: a platform's redelivery, already handled.
    Duplicate,
}

impl Engine {
    pub fn new(store: Store, clock: Arc<dyn Clock>, cfg: Arc<Config>) -> Engine {
        Engine {
            store,
            clock,
            cfg,
            wake_outbox: Arc::new(Notify::new()),
            wake_jobs: Arc::new(Notify::new()),
            renderers: Arc::default(),
            paging_sinks: vec![],
            status_sink: None,
        }
    }

    /// Handles one `/sev` command. Internal failures are logged and answered with what to do,
    /// never swallowed.
    pub async fn handle(&self, inv: &Invocation, text: &str) -> Reply {
        self.handle_inner(inv, text, None, false)
            .await
            .unwrap_or_else(|| Reply::private(""))
    }

    /// Handles a delivery that the platform may send again: `key` is recorded in the same
    /// transaction as the change, so a redelivery returns `None` and changes nothing, and a
    /// crash before the commit leaves the key free for the redelivery.
    pub async fn handle_once(
        &self,
        inv: &Invocation,
        text: &str,
        key: &str,
        deferred: bool,
    ) -> Option<Reply> {
        self.handle_inner(inv, text, Some(key), deferred).await
    }

    /// Like `handle`, for inputs that cannot be answered in their own response (modal
    /// submissions, buttons): the reply goes through the outbox, in the same transaction
    /// as the change it reports.
    pub async fn handle_deferred(&self, inv: &Invocation, text: &str) -> Reply {
        self.handle_inner(inv, text, None, true)
            .await
            .unwrap_or_else(|| Reply::private(""))
    }

    async fn handle_inner(
        &self,
        inv: &Invocation,
        text: &str,
        key: Option<&str>,
        deferred: bool,
    ) -> Option<Reply> {
        let cmd = match grammar::parse(text) {
            Ok(c) => c,
            Err(e) => {
                metrics::counter!("sevbot_commands_total", "command" => "invalid").increment(1);
                let reply = Reply::private(e.to_string());
                if deferred && let Err(e) = self.enqueue_reply(inv, &reply).await {
                    tracing::error!(error = format!("{e:#}"), "could not queue a reply");
                }
                return Some(reply);
            }
        };
        self.execute(inv, cmd, key, deferred).await
    }

    /// Runs a typed command: what buttons, forms and Discord options build directly, and
    /// what typed text becomes after the grammar. `key` makes a platform's redelivery a
    /// no-op (`None` back); `deferred` sends the answer through the outbox, in the same
    /// transaction as the change it reports.
    pub async fn execute(
        &self,
        inv: &Invocation,
        cmd: Command,
        key: Option<&str>,
        deferred: bool,
    ) -> Option<Reply> {
        let name = cmd.name();
        metrics::counter!("sevbot_commands_total", "command" => name).increment(1);
        // Everything logged while handling it (the engine, the store) carries these.
        let span = tracing::info_span!(
            "command",
            command = name,
            platform = %inv.platform,
            channel = %inv.channel,
            sev = tracing::field::Empty,
        );
        if let Some(id) = cmd.target().flatten() {
            span.record("sev", id.0);
        }
        match self
            .run(inv, cmd, key, deferred)
            .instrument(span.clone())
            .await
        {
            Ok(out) => {
                self.wake_outbox.notify_one();
                self.wake_jobs.notify_one();
                match out {
                    Outcome::Done(r) => Some(r),
                    Outcome::Refused(why) => Some(Reply::private(why)),
                    Outcome::Duplicate => None,
                }
            }
            Err(e) => {
                let failure = failure::Failure::of(&e);
                span.in_scope(|| {
                    tracing::error!(
                        error = format!("{e:#}"),
                        failure = failure.as_str(),
                        "command failed"
                    )
                });
                metrics::counter!("sevbot_command_failures_total", "kind" => failure.as_str())
                    .increment(1);
                Some(Reply::private(failure.tell(&e)))
            }
        }
    }

    /// Queues an answer for someone outside any command (for example a modal that failed).
    pub async fn send_reply(&self, inv: &Invocation, reply: &Reply) -> anyhow::Result<()> {
        self.enqueue_reply(inv, reply).await
    }

    async fn enqueue_reply(&self, inv: &Invocation, reply: &Reply) -> anyhow::Result<()> {
        let mut tx = self.store.begin().await?;
        self.enqueue(
            &mut tx,
            &inv.platform,
            reply_effect(inv, reply),
            self.clock.now_ms(),
        )
        .await?;
        tx.commit().await?;
        self.wake_outbox.notify_one();
        Ok(())
    }

    fn actor(&self, inv: &Invocation) -> String {
        self.cfg
            .person_by_handle(&inv.platform, &inv.user)
            .map(|p| p.id.clone())
            .unwrap_or_else(|| format!("@{}", inv.user))
    }

    async fn run(
        &self,
        inv: &Invocation,
        cmd: Command,
        key: Option<&str>,
        deferred: bool,
    ) -> anyhow::Result<Outcome> {
        let now = self.clock.now_ms();
        let actor = self.actor(inv);
        let mut tx = self.store.begin().await?;
        if let Some(key) = key
            && !self.store.first_delivery(&mut tx, key, now).await?
        {
            tx.rollback().await?;
            return Ok(Outcome::Duplicate);
        }
        let here = self.channel_ref(&inv.platform, &inv.channel);
        let out = match cmd {
            Command::Help { topic } => Outcome::Done(self.help(topic.as_deref())),
            Command::List => Outcome::Done(self.list(&mut tx, inv, &actor).await?),
            Command::Sla => self.sla_command(&mut tx, now).await?,
            Command::Declare {
                sev_type,
                level,
                title,
                customer_impact,
                force_new,
                private,
                description,
            } => 'declare: {
                if !force_new
                    && let Some(dup) =
                        sevs::recent_declare(&mut tx, &actor, sev_type, now - DUPLICATE_WINDOW_MS)
                            .await?
                {
                    let secs = (now - dup.declared_at) / 1000;
                    break 'declare Outcome::Refused(format!(
                        "You declared {} \"{}\" {secs} s ago (#{}). Is this the same incident? Post to it with `/sev {} update …`; \
                         to open a separate SEV, repeat your command with --new.",
                        dup.id,
                        self.esc(&inv.platform, &dup.title),
                        dup.channel_name,
                        dup.id
                    ));
                }
                let new = NewSev {
                    sev_type,
                    level,
                    title: &title,
                    customer_impact,
                    restricted: private || sev_type == SevType::Security,
                    declared_by: &actor,
                    platform: &inv.platform,
                    origin_channel: &inv.channel,
                    now,
                };
                Outcome::Done(self.declare(&mut tx, new, description).await?)
            }
            Command::Subscribe(filter)
                if filter.types.contains(&SevType::Security)
                    && !self.cfg.is_private_feed(&inv.platform, &inv.channel) =>
            {
                Outcome::Refused(format!(
                    "Security SEVs are restricted, so {here} cannot subscribe to them: every feed \
                     shows them only as \"SEV-n · security · {}\". To see them in full, the \
                     sevbot operator lists a private channel under [[feeds]] with private = true.",
                    access::REDACTED
                ))
            }
            Command::Subscribe(filter) => {
                let fresh = subscriptions::upsert(
                    &mut tx,
                    &inv.platform,
                    &inv.channel,
                    &filter,
                    &actor,
                    now,
                )
                .await?;
                let verb = if fresh {
                    "Subscribed"
                } else {
                    "Updated the subscription of"
                };
                Outcome::Done(Reply {
                    offer: None,
                    declared: None,
                    text: format!(
                        "{verb} {here} to SEVs: {}. Announcements here are edited in place as SEVs change.",
                        filter.describe()
                    ),
                    ephemeral: false,
                })
            }
            Command::Unsubscribe => {
                if subscriptions::remove(&mut tx, &inv.platform, &inv.channel).await? {
                    Outcome::Done(Reply {
                        offer: None,
                        declared: None,
                        text: format!("{here} will no longer get new SEV announcements."),
                        ephemeral: false,
                    })
                } else {
                    Outcome::Refused(format!(
                        "{here} is not subscribed; `/sev subscribe` subscribes it."
                    ))
                }
            }
            other => self.on_sev(&mut tx, inv, &actor, other, now).await?,
        };
        if deferred {
            let reply = match &out {
                Outcome::Done(r) => r.clone(),
                Outcome::Refused(why) => Reply::private(why.clone()),
                Outcome::Duplicate => unreachable!("returned before"),
            };
            self.enqueue(&mut tx, &inv.platform, reply_effect(inv, &reply), now)
                .await?;
        }
        tx.commit().await.context("commit")?;
        Ok(out)
    }

    fn help(&self, topic: Option<&str>) -> Reply {
        let defs = render_table(&self.cfg.raw.definitions);
        let text = match topic {
            Some(t) => {
                let (_, usage, summary) = COMMANDS
                    .iter()
                    .find(|(n, _, _)| *n == t)
                    .expect("parser checked");
                let mut s = format!("{usage}\n{summary}");
                if t == "declare" {
                    s.push_str(&format!("\n\nSEV levels:\n{defs}"));
                }
                s
            }
            None => {
                let lines: Vec<String> = COMMANDS
                    .iter()
                    .map(|(_, u, s)| format!("{u} — {s}"))
                    .collect();
                format!(
                    "{}\nCommands about one SEV work in its channel as they are, or anywhere with its id (`/sev status SEV-12`).\n\nSEV levels:\n{defs}",
                    lines.join("\n")
                )
            }
        };
        Reply::private(text)
    }

    async fn list(&self, conn: &mut Conn, inv: &Invocation, actor: &str) -> anyhow::Result<Reply> {
        let platform = inv.platform.as_str();
        let (open, ended) = sevs::list(conn, 5).await?;
        let mut hidden = std::collections::HashSet::new();
        for i in open.iter().chain(&ended).filter(|i| i.restricted) {
            if !i.may_see(actor, self.viewer(conn, inv, actor, i.id).await?) {
                hidden.insert(i.id);
            }
        }
        let line = |i: &Incident| {
            if hidden.contains(&i.id) {
                return access::redacted_line(i.id, i.sev_type);
            }
            let imoc = i
                .roles
                .get(&Role::Imoc)
                .map(|p| format!(" · IMOC {}", self.name_of(platform, p)))
                .unwrap_or_default();
            format!(
                "{} {} {} · {} · {}{} · #{}",
                i.id,
                i.level,
                i.sev_type,
                i.stage,
                self.esc(platform, &i.title),
                imoc,
                i.channel_name
            )
        };
        let mut text = if open.is_empty() {
            "No open SEVs.".to_string()
        } else {
            format!(
                "Open SEVs:\n{}",
                open.iter().map(line).collect::<Vec<_>>().join("\n")
            )
        };
        if !ended.is_empty() {
            text.push_str(&format!(
                "\nRecently ended:\n{}",
                ended.iter().map(line).collect::<Vec<_>>().join("\n")
            ));
        }
        Ok(Reply::private(text))
    }

    /// A person's display for replies; platforms render real mentions in their own effects.
    /// Lets replies use each platform's mentions (`<@U123>` on Slack) and channel links.
    pub fn with_platforms(mut self, platforms: &[Arc<dyn Platform>]) -> Engine {
        self.renderers = Arc::new(
            platforms
                .iter()
                .map(|p| (p.name().to_string(), p.clone()))
                .collect(),
        );
        self
    }

    /// Chooses sinks by what they can do: paging services get pages, status page sinks
    /// get approved customer updates.
    pub fn with_sinks(mut self, sinks: &[Arc<dyn Sink>]) -> Engine {
        let by = |c: Capability| {
            sinks
                .iter()
                .filter(move |s| s.capabilities().contains(&c))
                .map(|s| s.name().to_string())
        };
        self.paging_sinks = by(Capability::Paging).collect();
        self.status_sink = by(Capability::StatusUpdates).next();
        self
    }

    fn channel_ref(&self, platform: &str, channel: &str) -> String {
        match self.renderers.get(platform) {
            Some(p) => p.channel_ref(channel),
            None => format!("#{channel}"),
        }
    }

    /// Text someone typed, made inert for `platform` (see `Platform::escape`).
    pub(super) fn esc(&self, platform: &str, text: &str) -> String {
        match self.renderers.get(platform) {
            Some(p) => p.escape(text),
            None => text.to_string(),
        }
    }

    /// Runs `f` with `platform`'s markup: its mentions, its escaping of typed text.
    fn with_markup<R>(&self, platform: &str, f: impl FnOnce(&Markup) -> R) -> R {
        let mention = |p: &str| self.name_of(platform, p);
        let text = |t: &str| self.esc(platform, t);
        f(&Markup {
            mention: &mention,
            text: &text,
        })
    }

    /// Who `actor` is to SEV `id`, asking from `inv`'s channel.
    async fn viewer(
        &self,
        conn: &mut Conn,
        inv: &Invocation,
        actor: &str,
        id: SevId,
    ) -> anyhow::Result<Viewer> {
        let here = sevs::by_channel(conn, &inv.platform, &inv.channel).await?;
        let pages = crate::store::paging::all(conn, id).await?;
        Ok(Viewer {
            in_its_channel: here == Some(id),
            is_admin: self.cfg.is_admin(actor),
            was_paged: pages.iter().any(|p| p.person == actor),
        })
    }

    /// The SEV as a feed channel may show it: restricted SEVs in full only in private feeds.
    fn feed_view(&self, inc: &Incident, platform: &str, channel: &str) -> Incident {
        if inc.restricted && !self.cfg.is_private_feed(platform, channel) {
            inc.redacted()
        } else {
            inc.clone()
        }
    }

    fn name_of(&self, platform: &str, who: &str) -> String {
        if let Some(p) = self.renderers.get(platform) {
            return p.mention(who);
        }
        if who.starts_with('@') || who == SYSTEM_ACTOR {
            who.to_string()
        } else {
            format!("@{who}")
        }
    }

    async fn declare(
        &self,
        tx: &mut Tx,
        new: NewSev<'_>,
        description: Option<String>,
    ) -> anyhow::Result<Reply> {
        let now = new.now;
        let id = sevs::insert(tx, &new).await?;
        tracing::Span::current().record("sev", id.0);
        let mut inc = Incident {
            id,
            sev_type: new.sev_type,
            level: new.level,
            stage: Stage::Declared,
            title: new.title.to_string(),
            customer_impact: new.customer_impact,
            declared_by: new.declared_by.to_string(),
            declared_at: now,
            platform: new.platform.to_string(),
            channel_name: channel_name(
                id,
                channel_basis(new.title, new.sev_type, new.restricted),
                0,
            ),
            roles: Default::default(),
            latest_update: None,
            restricted: new.restricted,
            redacted: false,
        };
        let mut declared = vec![EventKind::Declared {
            sev_type: inc.sev_type,
            level: inc.level,
            title: inc.title.clone(),
            customer_impact: inc.customer_impact,
        }];
        declared.extend(description.map(|text| EventKind::Note { text }));
        let roles = self.fill_roles(&inc, now);
        self.enqueue(
            tx,
            &inc.platform,
            Effect::CreateChannel {
                sev: id,
                title: channel_basis(&inc.title, inc.sev_type, inc.restricted).to_string(),
                private: inc.restricted,
                attempt: 0,
            },
            now,
        )
        .await?;
        let mut recorded = self
            .record(tx, &mut inc, new.declared_by, &declared, now)
            .await?;
        let filled = self.record(tx, &mut inc, SYSTEM_ACTOR, &roles, now).await?;
        recorded.extend(filled.iter().cloned());
        self.start_ladder(tx, &inc, now).await?;
        let declarer = new.declared_by.to_string();
        recorded.extend(
            self.page_new_roles(tx, &mut inc, &declarer, &filled, now)
                .await?,
        );
        let invitees = invitees(&inc);
        self.enqueue(
            tx,
            &inc.platform,
            Effect::Invite {
                sev: id,
                people: invitees,
            },
            now,
        )
        .await?;
        self.publish(tx, &inc, &recorded, true, now).await?;
        self.reschedule_reminder(tx, &inc, now).await?;
        metrics::counter!("sevbot_sevs_declared_total", "type" => inc.sev_type.as_str(), "level" => inc.level.to_string())
            .increment(1);

        let roles: Vec<String> = Role::ALL
            .iter()
            .filter_map(|r| {
                inc.roles
                    .get(r)
                    .map(|p| format!("{r} {}", self.name_of(&inc.platform, p)))
            })
            .collect();
        let unfilled: Vec<String> = inc
            .missing_roles()
            .iter()
            .map(|r| format!("{r} unassigned (`/sev role {} @someone`)", r.as_str()))
            .collect();
        let meaning = definition_for(&self.cfg.raw.definitions, inc.level)
            .map(|d| format!("\n{} means: {}", inc.level, d.summary))
            .unwrap_or_default();
        let restricted = if inc.restricted {
            "\nRestricted: only you see this answer, the channel is private, and feeds and \
             `/sev list` show it without its title or people. Invite responders to the channel."
        } else {
            ""
        };
        Ok(Reply {
            offer: None,
            declared: Some(id),
            text: format!(
                "{id} declared: {} {} \"{}\". Channel #{}. {}.{meaning}{restricted}\nDeclared by mistake? `/sev cancel {id} <reason>`.",
                inc.level,
                inc.sev_type,
                self.esc(&inc.platform, &inc.title),
                inc.channel_name,
                [roles, unfilled].concat().join(", ")
            ),
            ephemeral: inc.restricted,
        })
    }

    /// Whoever is on call now for each required role that is still empty.
    fn fill_roles(&self, inc: &Incident, now: i64) -> Vec<EventKind> {
        let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        inc.missing_roles()
            .into_iter()
            .map(|role| match on_call_for(&self.cfg.rotations, role, inc.sev_type, at) {
                Some((_, person)) => EventKind::RoleAssigned { role, person: person.to_string(), previous: None },
                None => EventKind::RoleUnfilled {
                    role,
                    why: match rotation_for(&self.cfg.rotations, role, inc.sev_type) {
                        Some(_) => format!("no {role} rotation for {} SEVs is on duty now; assign one with `/sev role {} @someone`", inc.sev_type, role.as_str()),
                        None => format!("no {role} rotation covers {} SEVs; assign one with `/sev role {} @someone`", inc.sev_type, role.as_str()),
                    },
                },
            })
            .collect()
    }

    /// Applies events, appends them to the timeline and saves the SEV.
    async fn record(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        actor: &str,
        events: &[EventKind],
        now: i64,
    ) -> anyhow::Result<Vec<TimelineEvent>> {
        let before = inc.clone();
        let mut out = Vec::new();
        for ev in events {
            evolve(inc, ev);
            let te = TimelineEvent {
                at: now,
                actor: actor.to_string(),
                event: ev.clone(),
            };
            out.push(te);
        }
        sevs::append_events(tx, inc.id, &out).await?;
        // Pages, acknowledgements and notes change nothing in the SEV's row.
        if *inc != before {
            sevs::save(tx, &before, inc, now, actor).await?;
        }
        Ok(out)
    }

    async fn enqueue(
        &self,
        conn: &mut Conn,
        platform: &str,
        effect: Effect,
        now: i64,
    ) -> anyhow::Result<i64> {
        outbox::push(conn, platform, &effect, now).await
    }

    /// Tells the incident channel what happened, refreshes the card and topic, and brings the
    /// feeds up to date: existing announcements are edited, newly matching feeds get one.
    async fn publish(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        events: &[TimelineEvent],
        topic_changed: bool,
        now: i64,
    ) -> anyhow::Result<()> {
        // The card first: on a paced platform it is what responders need to see at once.
        let card = Effect::UpsertCard {
            incident: inc.clone(),
        };
        self.enqueue(tx, &inc.platform, card, now).await?;
        if topic_changed {
            let topic = Effect::SetTopic {
                incident: inc.clone(),
            };
            self.enqueue(tx, &inc.platform, topic, now).await?;
        }
        for ev in events {
            let post = Effect::PostEvent {
                sev: inc.id,
                event: ev.clone(),
            };
            self.enqueue(tx, &inc.platform, post, now).await?;
        }
        for sub in subscriptions::all(tx).await? {
            if sub.filter.matches(inc.sev_type, inc.level) {
                sevs::bind_message(tx, inc.id, &sub.platform, &sub.channel, "feed").await?;
            }
        }
        for f in &self.cfg.feeds {
            if f.filter.matches(inc.sev_type, inc.level) {
                sevs::bind_message(tx, inc.id, &f.platform, &f.channel, "feed").await?;
            }
        }
        let feeds = sevs::bound_channels(tx, inc.id, "feed").await?;
        // Announcements were just refreshed: the next scheduled push is a cadence away.
        self.reschedule_status_push(tx, inc, !feeds.is_empty(), now)
            .await?;
        for (platform, channel) in feeds {
            let incident = self.feed_view(inc, &platform, &channel);
            self.enqueue(
                tx,
                &platform,
                Effect::UpsertFeed {
                    channel,
                    incident,
                    as_of: None,
                },
                now,
            )
            .await?;
        }
        Ok(())
    }

    async fn on_sev(
        &self,
        tx: &mut Tx,
        inv: &Invocation,
        actor: &str,
        cmd: Command,
        now: i64,
    ) -> anyhow::Result<Outcome> {
        let explicit = cmd.target().flatten();
        let id = match explicit {
            Some(id) => id,
            None => match sevs::by_channel(tx, &inv.platform, &inv.channel).await? {
                Some(id) => id,
                None => {
                    return Ok(Outcome::Refused(format!(
                        "{} is not a SEV channel; name the SEV, e.g. `/sev {} SEV-12 …` (`/sev list` shows them).",
                        self.channel_ref(&inv.platform, &inv.channel),
                        cmd.name()
                    )));
                }
            },
        };
        tracing::Span::current().record("sev", id.0);
        let Some(mut inc) = sevs::load(tx, id).await? else {
            return Ok(Outcome::Refused(format!(
                "There is no {id}; `/sev list` shows the SEVs."
            )));
        };
        if inc.restricted && !inc.may_see(actor, self.viewer(tx, inv, actor, id).await?) {
            return Ok(Outcome::Refused(access::refusal(id)));
        }
        let action = match cmd {
            Command::Status { .. } => {
                let name = |p: &str| self.name_of(&inv.platform, p);
                let mut text = self.with_markup(&inv.platform, |m| card_text(&inc, m));
                let unreached: Vec<String> = crate::store::paging::all(tx, id)
                    .await?
                    .into_iter()
                    .filter(|p| p.failed_at.is_some() && p.is_open())
                    .map(|p| {
                        let why = p.failure.unwrap_or_default();
                        format!("• {}: {}", name(&p.person), self.esc(&inv.platform, &why))
                    })
                    .collect();
                if !unreached.is_empty() {
                    text.push_str(&format!("\nCould not be paged:\n{}", unreached.join("\n")));
                }
                return Ok(Outcome::Done(Reply::private(text)));
            }
            Command::Timeline { .. } => {
                let tl = sevs::timeline(tx, id).await?;
                let lines: Vec<String> = self.with_markup(&inv.platform, |m| {
                    tl.iter()
                        .map(|e| format!("{} {}", fmt_time(e.at), describe(&e.event, &e.actor, m)))
                        .collect()
                });
                return Ok(Outcome::Done(Reply::private(format!(
                    "Timeline of {id}:\n{}",
                    lines.join("\n")
                ))));
            }
            Command::Ack { .. } => {
                return self.ack_command(tx, &inv.platform, actor, inc, now).await;
            }
            Command::Impact { .. } => return self.impact_command(tx, &inc, now).await,
            Command::Draft { action, .. } => {
                return self
                    .draft_command(tx, &inv.platform, actor, inc, action, now)
                    .await;
            }
            Command::Level { level, reason, .. } => Action::SetLevel { level, reason },
            Command::Role { role, user, .. } => {
                match self.cfg.person_by_handle(&inv.platform, &user) {
                    Some(p) => Action::AssignRole {
                        role,
                        person: p.id.clone(),
                    },
                    None => {
                        let known = self.cfg.people.iter().map(|p| p.id.as_str());
                        let guess = grammar::closest(&user, known)
                            .map(|g| format!(" Did you mean @{g}?"))
                            .unwrap_or_default();
                        return Ok(Outcome::Refused(format!(
                            "I don't know @{user}: role holders must be people in the sevbot config ([[people]]).{guess}\nUsage: {}",
                            grammar::usage("role")
                        )));
                    }
                }
            }
            Command::Ask { role, .. } => {
                if let Some(ago) = self.asked_recently(tx, id, actor, role, now).await? {
                    return Ok(Outcome::Refused(format!(
                        "You asked for {role} on {id} {} ago; they were told in its channel. Ask again in a few minutes if nothing happens.",
                        fmt_duration(ago / 1000)
                    )));
                }
                Action::AskForRole { role }
            }
            Command::Update { text, .. } => Action::PostUpdate { text },
            Command::Mitigated { .. } => Action::Move {
                to: Stage::Mitigated,
            },
            Command::Resolved { .. } => Action::Move {
                to: Stage::Resolved,
            },
            Command::Close { .. } => Action::Move { to: Stage::Closed },
            Command::Cancel { reason, .. } => Action::Cancel { reason },
            Command::Note { text, .. } => Action::Note { text },
            Command::Declare { .. }
            | Command::List
            | Command::Sla
            | Command::Subscribe(_)
            | Command::Unsubscribe
            | Command::Help { .. } => {
                unreachable!("handled before on_sev")
            }
        };
        let standing = inc.standing(actor, self.cfg.is_admin(actor));
        let events = match decide(&inc, &action, standing) {
            Ok(ev) => ev,
            Err(why) => return Ok(refused_with_offer(&inc, &action, standing, why)),
        };
        let before = inc.clone();
        // Raising the level to one with customer impact needs a BMOC now.
        let mut probe = inc.clone();
        for ev in &events {
            evolve(&mut probe, ev);
        }
        let filled: Vec<EventKind> = if probe.stage.is_open() {
            self.fill_roles(&probe, now)
                .into_iter()
                .filter(|e| matches!(e, EventKind::RoleAssigned { .. }))
                .collect()
        } else {
            vec![]
        };
        let mut recorded = self.record(tx, &mut inc, actor, &events, now).await?;
        recorded.extend(
            self.record(tx, &mut inc, SYSTEM_ACTOR, &filled, now)
                .await?,
        );
        if before.stage.is_open() && !inc.stage.is_open() {
            self.stop_pages(tx, &inc, now).await?;
        }
        let handed = recorded.clone();
        recorded.extend(
            self.page_new_roles(tx, &mut inc, actor, &handed, now)
                .await?,
        );
        let topic_changed = before.level != inc.level
            || before.stage != inc.stage
            || before.roles.get(&Role::Imoc) != inc.roles.get(&Role::Imoc);
        let new_people: Vec<String> = inc
            .roles
            .values()
            .filter(|p| !before.roles.values().any(|b| b == *p))
            .cloned()
            .collect();
        if !new_people.is_empty() {
            self.enqueue(
                tx,
                &inc.platform,
                Effect::Invite {
                    sev: id,
                    people: new_people,
                },
                now,
            )
            .await?;
        }
        self.publish(tx, &inc, &recorded, topic_changed, now)
            .await?;
        if inc.stage.is_final() && !before.stage.is_final() {
            self.retire_channel(tx, &inc, now).await?;
        }
        if recorded
            .iter()
            .any(|e| matches!(e.event, EventKind::Update { .. }))
        {
            sevs::touch_last_update(tx, id, now).await?;
        }
        if before.level != inc.level
            || before.stage != inc.stage
            || recorded
                .iter()
                .any(|e| matches!(e.event, EventKind::Update { .. }))
        {
            self.reschedule_reminder(tx, &inc, now).await?;
        }
        let summary = self.with_markup(&inv.platform, |m| {
            recorded
                .iter()
                .map(|e| describe(&e.event, &e.actor, m))
                .collect::<Vec<_>>()
                .join("; ")
        });
        Ok(Outcome::Done(Reply {
            offer: None,
            declared: None,
            text: format!("{id}: {summary}."),
            ephemeral: true,
        }))
    }

    /// A closed or cancelled SEV's channel is archived; on Discord, whose guilds hold 500
    /// channels, it is also deleted after the configured retention.
    async fn retire_channel(&self, tx: &mut Tx, inc: &Incident, now: i64) -> anyhow::Result<()> {
        self.enqueue(
            tx,
            &inc.platform,
            Effect::ArchiveChannel { sev: inc.id },
            now,
        )
        .await?;
        let days = i64::from(self.cfg.raw.discord.archive_retention_days);
        let deletes = self
            .renderers
            .get(&inc.platform)
            .is_some_and(|p| p.deletes_archived_channels());
        if deletes && days > 0 {
            let due = now + days * 24 * 3_600_000;
            Job::DeleteChannel
                .schedule(tx, Some(inc.id), due, now)
                .await?;
        }
        Ok(())
    }

    /// One pending update reminder per open SEV, due a cadence after the last update.
    async fn reschedule_reminder(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        now: i64,
    ) -> anyhow::Result<()> {
        jobs::cancel(tx, inc.id, JOB_UPDATE_REMINDER, now).await?;
        let cadence = i64::from(self.cfg.update_cadence_minutes(inc.level)) * 60_000;
        if inc.stage.is_open() && cadence > 0 {
            let last = sevs::last_update_at(tx, inc.id).await?;
            let due = (last + cadence).max(now);
            Job::UpdateReminder { repeat: 0 }
                .schedule(tx, Some(inc.id), due, now)
                .await?;
        }
        Ok(())
    }

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
        self.fire_job_inner(job, owner).instrument(span).await
    }

    async fn fire_job_inner(&self, job: &jobs::Job, owner: &str) -> anyhow::Result<bool> {
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

    async fn update_reminder(
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
        let recorded = self
            .record(
                tx,
                &mut inc,
                SYSTEM_ACTOR,
                &[EventKind::UpdateReminder {
                    minutes_since_update: minutes,
                    imoc,
                }],
                now,
            )
            .await?;
        for ev in recorded {
            self.enqueue(
                tx,
                &inc.platform,
                Effect::PostEvent { sev: id, event: ev },
                now,
            )
            .await?;
        }
        // Remind again a cadence later, a bounded number of times; the next update
        // starts the count over.
        let cadence = i64::from(self.cfg.update_cadence_minutes(inc.level)) * 60_000;
        if cadence > 0 && repeat < self.cfg.raw.reminders.max_repeats {
            Job::UpdateReminder { repeat: repeat + 1 }
                .schedule(tx, Some(id), now + cadence, now)
                .await?;
        }
        Ok(())
    }
}

/// Who is invited to a new SEV's channel: the declarer and the role holders, each once, in
/// that order; never sevbot itself (the declarer of what monitoring files).
fn invitees(inc: &Incident) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for p in std::iter::once(&inc.declared_by).chain(inc.roles.values()) {
        if p != SYSTEM_ACTOR && !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// A refused hand-over of an occupied role comes with a button to ask for it, for anyone
/// who may ask (in the config, not the holder, not someone who could hand it on).
fn refused_with_offer(inc: &Incident, action: &Action, standing: Standing, why: String) -> Outcome {
    let Action::AssignRole { role, .. } = action else {
        return Outcome::Refused(why);
    };
    let ask = Action::AskForRole { role: *role };
    if decide(inc, &ask, standing).is_err() {
        return Outcome::Refused(why);
    }
    Outcome::Done(Reply {
        offer: Some(Offer {
            sev: inc.id,
            action: CardAction::AskForRole(*role),
        }),
        ..Reply::private(why)
    })
}

fn reply_effect(inv: &Invocation, reply: &Reply) -> Effect {
    Effect::Reply {
        channel: inv.channel.clone(),
        user: reply.ephemeral.then(|| inv.user.clone()),
        text: reply.text.clone(),
    }
}

async fn schedule_prune(tx: &mut Tx, now: i64) -> anyhow::Result<()> {
    Job::PruneDeliveries
        .schedule(tx, None, now + PRUNE_EVERY_MS, now)
        .await?;
    Ok(())
}

pub use availability::{Alert, AlertBatch, RouteSample};
pub use outcomes::channel_created;
