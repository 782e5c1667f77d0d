//! The engine: one input (a command, a due job) becomes one database transaction that
//! applies the change, appends the timeline, schedules or cancels jobs and enqueues the
//! outbound effects. Nothing here talks to a chat platform.

mod asks;
mod availability;
mod declare;
mod drill;
mod failure;
mod followups;
mod housekeeping;
pub mod job;
pub mod mail;
mod on_sev;
pub mod outcomes;
mod paging;
mod plan;
mod postmortem;
mod publish;
mod reads;
mod report;
mod schedules;
mod tickets;
pub mod views;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::Instrument;

use crate::clock::Clock;
use crate::config::{Config, Live};
use crate::domain::access::{self, Viewer};
use crate::domain::actions::CardAction;
use crate::domain::command_set;
use crate::domain::definitions::{definition_for, render_table};
use crate::domain::grammar;
use crate::domain::incident::{decide, evolve};
use crate::domain::lifecycle::Standing;
use crate::domain::naming::{channel_basis, channel_name};
use crate::domain::oncall::{on_call_for, rotation_for};
use crate::domain::refusal::Refusal;
use crate::domain::text::{Markup, card_text, describe, fmt_time};
use crate::domain::{
    Action, Command, EventKind, Incident, Role, SevId, SevType, Stage, TimelineEvent,
};
use crate::effects::{Capability, Effect, Platform, Reach, Sink};
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
    /// Whether sevbot may post in `channel`, when the platform said so with the command
    /// (Discord's `app_permissions`); None: not said, asked when it matters.
    pub may_post: Option<bool>,
}

impl Invocation {
    pub fn new(platform: &str, user: &str, channel: &str) -> Invocation {
        Invocation {
            platform: platform.into(),
            user: user.into(),
            channel: channel.into(),
            may_post: None,
        }
    }
}

/// How long a platform may take to say whether sevbot can post in a channel before the
/// subscription goes ahead anyway (the command must be answered within seconds).
const REACH_WITHIN: Duration = Duration::from_secs(2);

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
    /// Why nothing was done, when nothing was: `text` is its wording.
    pub refusal: Option<Refusal>,
}

/// A next step offered with a refusal: a button for `action` on `sev`, rendered by each
/// platform like the card's buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub sev: SevId,
    pub action: CardAction,
}

impl Reply {
    /// An answer only the person who asked sees.
    pub fn private(text: impl Into<String>) -> Reply {
        Reply {
            offer: None,
            declared: None,
            text: text.into(),
            ephemeral: true,
            refusal: None,
        }
    }

    /// An answer for everyone in the channel.
    pub fn public(text: impl Into<String>) -> Reply {
        Reply {
            ephemeral: false,
            ..Reply::private(text)
        }
    }

    /// A refusal, worded in one place (`domain::refusal`), seen only by who asked.
    pub fn refused(why: Refusal) -> Reply {
        Reply {
            refusal: Some(why.clone()),
            ..Reply::private(why.to_string())
        }
    }
}

#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// The configuration in force (replaced whole on a reload): read it with `cfg()`.
    live: Live,
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
    /// The sink that sends SEVs' e-mail threads.
    pub mail_sink: Option<String>,
    /// Trackers that keep a ticket per SEV.
    pub ticket_sinks: Vec<String>,
}

/// What a command changes with, besides the command itself.
struct Change<'a> {
    inv: &'a Invocation,
    /// The platform's delivery key, to recognise a redelivery.
    key: Option<&'a str>,
    /// The reply goes through the outbox, in the same transaction.
    deferred: bool,
    now: i64,
    /// Why the channel cannot be subscribed, when it cannot (asked before the write).
    blocked: Option<String>,
}

/// A refusal worded for the user, as opposed to an internal failure.
enum Outcome {
    Done(Reply),
    Refused(Refusal),
    /// The delivery key was seen before: a platform's redelivery, already handled.
    Duplicate,
}

/// Creates at zero the engine's counters whose labels are few and known (each command,
/// each kind of failure), so a `rate()` or an `absent()` alert works before the first one.
pub fn seed_metrics() {
    for s in command_set::SET {
        metrics::counter!("sevbot_commands_total", "command" => s.name).absolute(0);
    }
    metrics::counter!("sevbot_commands_total", "command" => "invalid").absolute(0);
    for f in failure::Failure::ALL {
        metrics::counter!("sevbot_command_failures_total", "kind" => f.as_str()).absolute(0);
    }
}

impl Engine {
    pub fn new(store: Store, clock: Arc<dyn Clock>, cfg: impl Into<Live>) -> Engine {
        Engine {
            store,
            clock,
            live: cfg.into(),
            wake_outbox: Arc::new(Notify::new()),
            wake_jobs: Arc::new(Notify::new()),
            renderers: Arc::default(),
            paging_sinks: vec![],
            status_sink: None,
            mail_sink: None,
            ticket_sinks: vec![],
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
        let user_in = |w: &str| match self.renderers.get(&inv.platform) {
            Some(p) => p.user_in(w),
            None => grammar::plain_user(w),
        };
        let cmd = match grammar::parse_with(text, &user_in) {
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
            .pinned()
            .run(inv, cmd, key, deferred)
            .instrument(span.clone())
            .await
        {
            Ok(out) => {
                self.wake_outbox.notify_one();
                self.wake_jobs.notify_one();
                let reply = match out {
                    Outcome::Done(r) => r,
                    Outcome::Refused(why) => Reply::refused(why),
                    Outcome::Duplicate => return None,
                };
                if let Some(r) = &reply.refusal {
                    metrics::counter!("sevbot_refusals_total", "reason" => r.reason()).increment(1);
                    tracing::debug!(reason = r.reason(), "refused");
                }
                Some(reply)
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
        self.cfg()
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
        // Asked before the transaction: a platform call must not hold the write lock.
        let blocked = match &cmd {
            Command::Subscribe { email: None, .. } => self.cannot_post(inv).await,
            _ => None,
        };
        let now = self.clock.now_ms();
        // Written with whatever else arrives meanwhile, in one transaction and one commit
        // (group commit); the outcome comes back once that commit is on disk.
        let this = self.clone();
        let inv = inv.clone();
        let key = key.map(str::to_string);
        // The writer task runs it: what it logs still belongs to this command.
        let span = tracing::Span::current();
        self.store
            .write(move |tx| {
                Box::pin(
                    async move {
                        let change = Change {
                            inv: &inv,
                            key: key.as_deref(),
                            deferred,
                            now,
                            blocked,
                        };
                        this.apply(tx, change, cmd).await
                    }
                    .instrument(span),
                )
            })
            .await
    }

    /// A command's changes, in the transaction `tx` (a savepoint of a group transaction).
    async fn apply(
        &self,
        tx: &mut Tx,
        change: Change<'_>,
        cmd: Command,
    ) -> anyhow::Result<Outcome> {
        let Change {
            inv,
            key,
            deferred,
            now,
            blocked,
        } = change;
        let actor = self.actor(inv);
        if let Some(key) = key
            && !self.store.first_delivery(tx, key, now).await?
        {
            return Ok(Outcome::Duplicate);
        }
        let here = self.channel_ref(&inv.platform, &inv.channel);
        let out = match cmd {
            Command::Help { topic } => Outcome::Done(self.help(topic.as_deref())),
            Command::List => Outcome::Done(self.list(tx, inv, &actor).await?),
            Command::Sla => self.sla_command(tx, now).await?,
            Command::Report { period } => self.report_command(tx, period, inv, &actor, now).await?,
            Command::Drill {
                sev_type,
                level,
                scenario,
            } => {
                self.drill_command(tx, inv, &actor, (sev_type, level, scenario), now)
                    .await?
            }
            Command::Oncall { role, at } => Outcome::Done(self.oncall(role, at, now)),
            Command::Simulate {
                level,
                sev_type,
                at,
            } => Outcome::Done(self.simulate(level, sev_type, at, now)),
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
                        sevs::recent_declare(tx, &actor, sev_type, now - DUPLICATE_WINDOW_MS)
                            .await?
                {
                    break 'declare Outcome::Refused(Refusal::JustDeclared {
                        id: dup.id,
                        title: self.esc(&inv.platform, &dup.title),
                        seconds_ago: (now - dup.declared_at) / 1000,
                        channel: dup.channel_name,
                    });
                }
                let new = NewSev {
                    sev_type,
                    level,
                    title: &title,
                    customer_impact,
                    restricted: private || sev_type == SevType::Security,
                    drill: false,
                    declared_by: &actor,
                    platform: &inv.platform,
                    origin_channel: &inv.channel,
                    now,
                };
                Outcome::Done(self.declare(tx, new, description).await?)
            }
            Command::Subscribe { email: Some(_), .. } | Command::Unsubscribe { email: Some(_) }
                if self.mail_sink.is_none() =>
            {
                Outcome::Refused(Refusal::MailOff)
            }
            Command::Subscribe { email: None, .. } if blocked.is_some() => {
                Outcome::Refused(Refusal::CannotPost {
                    here,
                    fix: blocked.unwrap_or_default(),
                })
            }
            Command::Subscribe { filter, email } => {
                let (platform, channel, here, private) = match &email {
                    Some(a) => (
                        mail::EMAIL,
                        a.as_str(),
                        a.clone(),
                        self.cfg().email.is_private(a),
                    ),
                    None => (
                        inv.platform.as_str(),
                        inv.channel.as_str(),
                        here,
                        self.cfg().is_private_feed(&inv.platform, &inv.channel),
                    ),
                };
                if filter.types.contains(&SevType::Security) && !private {
                    Outcome::Refused(Refusal::SecurityFeed { here })
                } else {
                    let fresh =
                        subscriptions::upsert(tx, platform, channel, &filter, &actor, now).await?;
                    let verb = if fresh {
                        "Subscribed"
                    } else {
                        "Updated the subscription of"
                    };
                    let how = match email {
                        Some(_) => {
                            "Each SEV is one e-mail thread: the declaration, then a reply per status update and stage change."
                        }
                        None => "Announcements here are edited in place as SEVs change.",
                    };
                    Outcome::Done(Reply::public(format!(
                        "{verb} {here} to SEVs: {}. {how}",
                        filter.describe()
                    )))
                }
            }
            Command::Unsubscribe { email } => {
                let (platform, channel, here) = match &email {
                    Some(a) => (mail::EMAIL, a.as_str(), a.clone()),
                    None => (inv.platform.as_str(), inv.channel.as_str(), here),
                };
                if subscriptions::remove(tx, platform, channel).await? {
                    Outcome::Done(Reply::public(format!(
                        "{here} will no longer get new SEV announcements."
                    )))
                } else {
                    Outcome::Refused(Refusal::NotSubscribed { here })
                }
            }
            other => self.on_sev(tx, inv, &actor, other, now).await?,
        };
        if deferred {
            let reply = match &out {
                Outcome::Done(r) => r.clone(),
                Outcome::Refused(why) => Reply::refused(why.clone()),
                Outcome::Duplicate => unreachable!("returned before"),
            };
            self.enqueue(tx, &inv.platform, reply_effect(inv, &reply), now)
                .await?;
        }
        Ok(out)
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
        self.mail_sink = by(Capability::Mail).next();
        self.ticket_sinks = by(Capability::Tickets).collect();
        self
    }

    /// Why a channel cannot be subscribed where sevbot cannot post, with the fix; None
    /// when it can, or the platform cannot tell in time.
    async fn cannot_post(&self, inv: &Invocation) -> Option<String> {
        let p = self.renderers.get(&inv.platform)?;
        let reach = p.reach(&inv.channel, inv.may_post);
        match tokio::time::timeout(REACH_WITHIN, reach).await {
            Ok(Reach::Blocked { fix }) => Some(fix),
            Ok(_) => None,
            Err(_) => {
                tracing::warn!(
                    platform = inv.platform,
                    "could not tell in time whether sevbot can post in the channel subscribed"
                );
                None
            }
        }
    }

    /// The configuration in force now; keep the `Arc` for the work at hand, so one
    /// command never mixes an old config with a new one.
    pub fn cfg(&self) -> Arc<Config> {
        self.live.get()
    }

    /// This engine with the config in force now fixed, for one command, job or batch: a
    /// reload meanwhile does not mix two configs in it.
    pub(crate) fn pinned(&self) -> Engine {
        Engine {
            live: Live::new(self.live.get()),
            ..self.clone()
        }
    }

    /// The shared configuration, for whoever reloads it.
    pub fn live(&self) -> &Live {
        &self.live
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

    /// Text read outside chat (e-mail, trackers): no platform renders it, so people are
    /// `@id` and typed text stays as typed.
    pub(super) const PLAIN: &'static str = "";

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
            is_admin: self.cfg().is_admin(actor),
            was_paged: pages.iter().any(|p| p.person == actor),
        })
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

    /// Applies events, appends them to the timeline and saves the SEV.
    async fn record(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        actor: &str,
        events: &[EventKind],
        now: i64,
    ) -> anyhow::Result<Vec<TimelineEvent>> {
        self.record_all(tx, inc, &[(actor, events)], now).await
    }

    /// Like `record`, for events of several actors at once (a person's, then what sevbot
    /// did in answer): one append and one save for all of them.
    async fn record_all(
        &self,
        tx: &mut Tx,
        inc: &mut Incident,
        groups: &[(&str, &[EventKind])],
        now: i64,
    ) -> anyhow::Result<Vec<TimelineEvent>> {
        let before = inc.clone();
        let mut out = Vec::new();
        for (actor, events) in groups {
            for ev in *events {
                evolve(inc, ev);
                out.push(TimelineEvent {
                    at: now,
                    actor: actor.to_string(),
                    event: ev.clone(),
                });
            }
        }
        sevs::append_events(tx, inc.id, &out).await?;
        // Pages, acknowledgements and notes change nothing in the SEV's row.
        if *inc != before {
            // Each role is recorded as assigned by whoever assigned it last here.
            let by = |role: Role| {
                out.iter()
                    .rev()
                    .find_map(|te| match &te.event {
                        EventKind::RoleAssigned { role: r, .. } if *r == role => {
                            Some(te.actor.as_str())
                        }
                        _ => None,
                    })
                    .unwrap_or(SYSTEM_ACTOR)
            };
            sevs::save(tx, &before, inc, now, &by).await?;
        }
        Ok(out)
    }

    async fn enqueue(
        &self,
        conn: &mut Conn,
        platform: &str,
        effect: Effect,
        now: i64,
    ) -> anyhow::Result<()> {
        outbox::push(conn, platform, &effect, now).await
    }
}

fn reply_effect(inv: &Invocation, reply: &Reply) -> Effect {
    Effect::Reply {
        channel: inv.channel.clone(),
        user: reply.ephemeral.then(|| inv.user.clone()),
        text: reply.text.clone(),
    }
}

pub use availability::sla::{SlaMonth, SlaSev};
pub use availability::{Alert, AlertBatch, RouteSample};
pub use outcomes::channel_created;
