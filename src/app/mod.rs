//! Wiring: store, engine, outbox worker, scheduler, HTTP server and the platforms whose
//! credentials are present.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::adapters::console::{self, ConsolePlatform, Output};
use crate::adapters::discord::{self, DiscordSettings};
use crate::adapters::sinks;
use crate::adapters::slack::{self, SlackPlatform, SlackSettings};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Live};
use crate::delivery::Delivery;
use crate::effects::Platform;
use crate::engine::Engine;
use crate::leadership::{self, Duty, Leading, Lessee};
use crate::scheduler::Scheduler;

pub mod duties;
use crate::store::{Store, outbox, redact, replicas};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsoleMode {
    /// The console when no chat platform is configured.
    Auto,
    On,
    /// No console: serve HTTP and run the workers until stopped (containers).
    Off,
}

pub struct App {
    pub engine: Engine,
    pub delivery: Arc<Delivery>,
    pub scheduler: Arc<Scheduler>,
    pub slack: Option<(SlackSettings, Arc<SlackPlatform>)>,
    pub discord: Option<DiscordApp>,
    /// The secret monitoring authenticates with (`availability.token_env`); the
    /// availability and Alertmanager endpoints are off without it.
    pub monitoring_token: Option<String>,
    /// This process, registered as alive for as long as the app lives.
    pub registration: replicas::Registration,
    /// The duties this replica leads now (shown by `/readyz`).
    pub leading: Leading,
}

impl App {
    /// How people reach this sevbot, for the start-up line.
    fn reachable_by(&self, console: bool) -> Vec<String> {
        let mut on = vec![];
        if let Some((s, _)) = &self.slack {
            match (s.signing_secret.is_some(), s.app_token.is_some()) {
                (_, true) => on.push("slack (socket mode)".to_string()),
                (true, false) => on.push("slack (http)".to_string()),
                (false, false) => on.push("slack (post only)".to_string()),
            }
        }
        if let Some(d) = &self.discord {
            let gateway = d.rest.is_some() && self.engine.cfg().discord.gateway;
            on.push(
                if gateway {
                    "discord (gateway + http)"
                } else {
                    "discord (http)"
                }
                .to_string(),
            );
        }
        if console {
            on.push("console".to_string());
        }
        if on.is_empty() {
            on.push("none".to_string());
        }
        on
    }

    /// The sinks and monitoring switched on, for the start-up line.
    /// Places the config posts to that nothing will show: a platform without credentials
    /// (its posts would wait in the outbox for good), or the console while it is off (they
    /// would only reach standard output). Each with why.
    fn unheard_destinations(&self, console: bool) -> Vec<(String, &'static str)> {
        let why = |platform: &str| match platform {
            "console" if !console => {
                Some("the console is off: its posts only reach standard output")
            }
            "slack" if self.slack.is_none() => {
                Some("Slack is not configured (SLACK_BOT_TOKEN): its posts wait in the outbox")
            }
            "discord" if self.discord.as_ref().is_none_or(|d| d.rest.is_none()) => {
                Some("Discord is not configured (DISCORD_BOT_TOKEN): its posts wait in the outbox")
            }
            _ => None,
        };
        let cfg = self.engine.cfg();
        let mut places: Vec<(String, &str)> = vec![];
        for (i, f) in cfg.feeds.iter().enumerate() {
            places.push((
                format!("feeds[{i}] ({} {})", f.platform, f.channel),
                &f.platform,
            ));
        }
        for (i, s) in cfg.schedules.iter().enumerate() {
            places.push((format!("schedules[{i}] ({})", s.name), &s.platform));
        }
        let a = &cfg.availability;
        if self.monitoring_token.is_some() {
            places.push(("availability.platform".into(), &a.platform));
        }
        if let Some(d) = &a.customer_updates {
            places.push(("availability.customer_updates".into(), &d.platform));
        }
        places
            .into_iter()
            .filter_map(|(place, platform)| why(platform).map(|w| (place, w)))
            .collect()
    }

    fn integrations(&self) -> Vec<String> {
        let e = &self.engine;
        let mut on: Vec<String> = e.paging_sinks.clone();
        on.extend(e.mail_sink.iter().cloned());
        on.extend(e.ticket_sinks.iter().cloned());
        if self.monitoring_token.is_some() {
            on.push("monitoring".into());
        }
        if std::env::var("PROMETHEUS_URL").is_ok_and(|u| !u.trim().is_empty()) {
            on.push("prometheus".into());
        }
        if on.is_empty() {
            on.push("none".into());
        }
        on
    }
}

/// Discord as configured: the REST client exists when there is a bot token.
pub struct DiscordApp {
    pub settings: DiscordSettings,
    pub rest: Option<Arc<discord::rest::Rest>>,
}

/// A name unique to this start of this process, for leases: a container restarted in
/// the same pod has the same host name and often the same pid.
pub fn owner_id() -> String {
    let started = chrono::Utc::now().timestamp_millis();
    format!("{}-{}-{started:x}", hostname(), std::process::id())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "sevbot".into())
}

impl App {
    pub async fn build(
        cfg: Arc<Config>,
        clock: Arc<dyn Clock>,
        out: Output,
        slack: Option<SlackSettings>,
        discord: Option<DiscordSettings>,
    ) -> anyhow::Result<App> {
        let store = Store::connect(&cfg.database.url).await?;
        // One configuration in force for the engine and every platform, replaced whole on
        // a reload.
        let live = Live::new(cfg.clone());
        let mut platforms: Vec<Arc<dyn Platform>> = vec![Arc::new(ConsolePlatform::new(
            store.clone(),
            live.clone(),
            out,
        ))];
        let slack = match slack {
            Some(s) => {
                let p = Arc::new(SlackPlatform::new(&s, live.clone())?);
                // Slack being down must not hold the bot's start-up for long; whoever is
                // not mapped yet is looked up again in the background and on demand.
                let mapping = slack::people::map_people_by_email(&p, &cfg);
                if tokio::time::timeout(Duration::from_secs(5), mapping)
                    .await
                    .is_err()
                {
                    tracing::warn!(
                        "Slack did not answer the email look-ups within 5 s; they are retried in the background and when someone is paged"
                    );
                }
                platforms.push(p.clone());
                Some((s, p))
            }
            None => None,
        };
        let discord = match discord {
            Some(settings) => {
                let rest = match &settings.bot_token {
                    Some(token) => {
                        let mut rest = discord::rest::Rest::new(
                            token,
                            &settings.api_url,
                            settings.call_timeout,
                        )?;
                        if store.backend == crate::store::Backend::Postgres {
                            rest.share_limits(store.clone(), clock.clone());
                        }
                        let rest = Arc::new(rest);
                        let bot = discord_bot_user(&rest, &settings).await;
                        platforms.push(Arc::new(discord::platform::DiscordPlatform::new(
                            rest.clone(),
                            live.clone(),
                            bot,
                        )));
                        Some(rest)
                    }
                    None => None,
                };
                Some(DiscordApp { settings, rest })
            }
            None => None,
        };
        let sinks = sinks::configured(&cfg)?;
        let engine = Engine::new(store.clone(), clock.clone(), live)
            .with_platforms(&platforms)
            .with_sinks(&sinks);
        let owner = owner_id();
        let delivery = Delivery::new(store, clock, platforms, owner.clone())
            .with_sinks(sinks)
            .with_wakers(engine.wake_outbox.clone(), engine.wake_jobs.clone());
        let registration = delivery.recover().await?;
        let delivery = Arc::new(delivery);
        let scheduler = Arc::new(Scheduler::new(engine.clone(), owner));
        let monitoring_token = std::env::var(&engine.cfg().availability.token_env)
            .ok()
            .filter(|t| !t.trim().is_empty());
        Ok(App {
            engine,
            delivery,
            scheduler,
            slack,
            discord,
            monitoring_token,
            registration,
            leading: Leading::default(),
        })
    }

    /// Slack Socket Mode, when an app token is configured.
    fn socket_mode(&self) -> Option<duties::SlackSocketMode> {
        let (settings, platform) = self.slack.as_ref()?;
        settings.app_token.as_ref()?;
        Some(duties::SlackSocketMode {
            inbound: slack::inbound::Inbound {
                engine: self.engine.clone(),
                slack: platform.clone(),
            },
            platform: platform.clone(),
            settings: settings.clone(),
        })
    }

    /// Connects Slack's Socket Mode when an app token is configured, outside any lead
    /// (`run` holds it only while this replica leads it).
    pub async fn start_socket_mode(
        &self,
    ) -> anyhow::Result<
        Option<
            slack_morphism::prelude::SlackClientSocketModeListener<
                slack_morphism::prelude::SlackClientHyperHttpsConnector,
            >,
        >,
    > {
        match self.socket_mode() {
            Some(s) => Ok(Some(s.connect().await?)),
            None => Ok(None),
        }
    }

    fn discord_interactions(&self) -> Option<discord::inbound::Interactions> {
        let d = self.discord.as_ref()?;
        let followup = d.rest.clone().zip(d.settings.application_id());
        Some(discord::inbound::Interactions {
            engine: self.engine.clone(),
            followup,
        })
    }

    /// Registers `/sev` (every replica does; it is idempotent) and returns the gateway to
    /// hold when it is enabled. Discord being down does not stop the bot: HTTP
    /// interactions and the outbox keep working, and the problem is logged with what to do.
    pub async fn register_discord(&self) -> Option<duties::DiscordGateway> {
        let d = self.discord.as_ref()?;
        let (Some(rest), Some(token)) = (&d.rest, &d.settings.bot_token) else {
            return None;
        };
        let Some(app) = d.settings.application_id() else {
            tracing::error!(
                "DISCORD_APPLICATION_ID is missing or not a number: /sev is not registered and the gateway is off"
            );
            return None;
        };
        let dcfg = &self.engine.cfg().discord;
        if dcfg.guild_id.is_none() {
            tracing::error!(
                "discord.guild_id is not set in the config: /sev answers, but no incident channel can be created"
            );
        }
        tracing::info!(
            invite = discord::platform::invite_url(app),
            "Discord configured; add the bot to a server with this link"
        );
        match tokio::time::timeout(
            Duration::from_secs(10),
            discord::commands::register(rest, app, dcfg),
        )
        .await
        {
            Ok(Ok(scope)) => tracing::info!(scope, "Discord /sev command registered"),
            Ok(Err(e)) => tracing::error!(error = %e, "could not register /sev with Discord"),
            Err(_) => tracing::error!("Discord did not answer the /sev registration within 10 s"),
        }
        if !dcfg.gateway {
            return None;
        }
        Some(duties::DiscordGateway {
            interactions: self.discord_interactions()?,
            rest: rest.clone(),
            token: token.clone(),
            application_id: app,
        })
    }

    /// Registers `/sev` and connects the gateway (when enabled), outside any lead.
    pub async fn start_discord(&self) -> Option<discord::gateway::Gateway> {
        self.register_discord().await?.open().await
    }

    /// What only one replica at a time may do, as configured: the Discord gateway, Slack
    /// Socket Mode, polling Prometheus.
    pub async fn duties(&self) -> Vec<Arc<dyn Duty>> {
        let mut all: Vec<Arc<dyn Duty>> = vec![];
        if let Some(s) = self.socket_mode() {
            all.push(Arc::new(s));
        }
        if let Some(g) = self.register_discord().await {
            all.push(Arc::new(g));
        }
        if let Ok(url) = std::env::var("PROMETHEUS_URL")
            && !url.trim().is_empty()
        {
            all.push(Arc::new(duties::PrometheusPoll {
                engine: self.engine.clone(),
                url,
            }));
        }
        all
    }

    /// Holds each duty's lease and performs it while this replica leads it.
    pub async fn spawn_duties(
        &self,
        stop: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let lessee = Lessee {
            store: self.engine.store.clone(),
            clock: self.engine.clock.clone(),
            owner: self.registration.owner.clone(),
        };
        self.duties()
            .await
            .into_iter()
            .map(|d| {
                tokio::spawn(leadership::hold(
                    d,
                    lessee.clone(),
                    self.leading.clone(),
                    stop.clone(),
                ))
            })
            .collect()
    }

    /// The web view's credentials from `[web]` and the environment; `None`: it is off.
    pub fn web_access(&self) -> Option<crate::web::Access> {
        let web = &self.engine.cfg().web;
        crate::web::Access::new(web, std::env::var(&web.token_env).ok())
    }

    /// Health, readiness and metrics, plus the endpoints of each configured platform.
    pub fn router(&self) -> axum::Router {
        let mut r = crate::http::router(
            self.engine.store.clone(),
            self.registration.owner.clone(),
            self.leading.clone(),
        );
        let api_token = std::env::var(&self.engine.cfg().server.api_token_env)
            .ok()
            .filter(|t| !t.trim().is_empty());
        if let Some(token) = &api_token {
            r = r.merge(crate::adapters::api::routes(self.engine.clone(), token));
        }
        if let Some(access) = self.web_access() {
            r = r.merge(crate::web::routes(self.engine.clone(), access));
        }
        if let Some(token) = &self.monitoring_token {
            let prometheus = std::env::var("PROMETHEUS_URL")
                .ok()
                .filter(|u| !u.trim().is_empty());
            r = r.merge(crate::adapters::monitoring::routes(
                self.engine.clone(),
                token,
                prometheus.as_deref(),
            ));
        }
        if let Some((settings, platform)) = &self.slack
            && let Some(secret) = settings.signing_secret.as_deref()
        {
            r = r.merge(slack::inbound::routes(
                self.engine.clone(),
                secret,
                platform.clone(),
            ));
        }
        if let Some(d) = &self.discord
            && let Some(key) = d.settings.public_key.as_deref()
        {
            match discord::verify::public_key(key) {
                Ok(key) => {
                    if let Some(inner) = self.discord_interactions() {
                        r = r.merge(discord::inbound::routes(inner, key))
                    }
                }
                Err(e) => tracing::error!(error = e, "Discord HTTP interactions are off"),
            }
        }
        r
    }

    /// Starts the outbox worker and the scheduler.
    pub fn spawn_workers(&self, stop: &watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        let poll = Duration::from_millis(self.engine.cfg().server.poll_interval_ms.max(10));
        vec![
            tokio::spawn(self.delivery.clone().run(poll, stop.clone())),
            tokio::spawn(self.scheduler.clone().run(poll, stop.clone())),
        ]
    }

    /// Waits until nothing deliverable is left (or `limit` passes), for scripted runs.
    pub async fn settle(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            self.delivery.drain(Duration::from_secs(5)).await?;
            let (pending, _) = outbox::pending(&self.engine.store).await?;
            if pending == 0 || tokio::time::Instant::now() >= deadline {
                if pending > 0 {
                    tracing::warn!(
                        pending,
                        "exiting with undelivered messages; they are kept and sent on the next start"
                    );
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `sevbot run`. `path` is the config file, re-read on SIGHUP.
pub async fn run(cfg: Config, mode: ConsoleMode, path: Option<PathBuf>) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let out = console::stdout();
    let slack = SlackSettings::from_env();
    if let Some(s) = &slack
        && s.signing_secret.is_none()
        && s.app_token.is_none()
    {
        tracing::warn!(
            "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN: sevbot can post to Slack but will not hear /sev"
        );
    }
    let discord = DiscordSettings::from_env();
    let app = App::build(
        cfg.clone(),
        Arc::new(SystemClock),
        out.clone(),
        slack,
        discord,
    )
    .await?;
    let (stop_tx, stop) = watch::channel(false);
    if let Some(d) = &app.discord
        && d.rest.is_none()
    {
        tracing::warn!(
            "DISCORD_PUBLIC_KEY is set but not DISCORD_BOT_TOKEN: sevbot answers /sev over HTTP interactions but cannot create channels or post"
        );
    }
    let platforms_configured = app.slack.is_some() || app.discord.is_some();
    let console = match mode {
        ConsoleMode::On => true,
        ConsoleMode::Off => false,
        ConsoleMode::Auto => !platforms_configured,
    };
    if !console && !platforms_configured {
        tracing::error!(
            "nothing can reach sevbot: the console is off and no Slack or Discord credentials are set \
             (SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN; DISCORD_BOT_TOKEN and \
             DISCORD_PUBLIC_KEY); /sev will not be heard"
        );
    }
    let limits = crate::http::Limits::from_config(&cfg.server);
    let http =
        crate::http::serve_with(app.router(), &cfg.server.http_addr, stop.clone(), limits).await;
    let http = match http {
        Ok((addr, task)) => {
            tracing::info!(
                version = env!("CARGO_PKG_VERSION"),
                %addr,
                database = redact(&cfg.database.url),
                platforms = app.reachable_by(console).join(", "),
                integrations = app.integrations().join(", "),
                console,
                "sevbot started"
            );
            Some((addr, task))
        }
        // Trying the console must not fail because something else holds port 8080; a
        // server without its health endpoint must.
        Err(e) if console => {
            eprintln!("warning: {e:#}; continuing without the HTTP endpoints");
            None
        }
        Err(e) => return Err(e),
    };
    for (place, why) in app.unheard_destinations(console) {
        tracing::warn!(config = place, "{why}");
    }
    app.engine.ensure_housekeeping().await?;
    app.engine.ensure_schedules().await?;
    let mut workers = app.spawn_workers(&stop);
    if let Some((_, platform)) = &app.slack {
        workers.push(tokio::spawn(slack::people::keep_mapping(
            platform.clone(),
            app.engine.cfg().clone(),
            stop.clone(),
        )));
    }
    #[cfg(unix)]
    workers.push(tokio::spawn(reload_on_hangup(
        app.engine.clone(),
        app.slack.as_ref().map(|(_, p)| p.clone()),
        path,
        stop.clone(),
    )));
    if app.web_access().is_none() {
        tracing::info!(
            env = cfg.web.token_env,
            "no web token and no proxy user header set: the web view is off"
        );
    }
    if app.monitoring_token.is_none() {
        tracing::info!(
            env = cfg.availability.token_env,
            "no monitoring token set: POST /api/v1/availability and /hooks/alertmanager are off"
        );
    }
    workers.extend(app.spawn_duties(&stop).await);
    if console {
        let interactive = std::io::stdin().is_terminal();
        if interactive && let Some((addr, _)) = &http {
            console_banner(&out, *addr);
        }
        let input = tokio::io::BufReader::new(tokio::io::stdin());
        console::run(
            app.engine.clone(),
            app.delivery.clone(),
            out,
            input,
            interactive,
        )
        .await?;
        app.settle(Duration::from_secs(30)).await?;
    } else {
        shutdown_signal().await;
        tracing::info!("stopping");
    }
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    if let Some((_, task)) = http {
        let _ = task.await;
    }
    Ok(())
}

/// Re-reads the config on each SIGHUP (see `crate::reload`), then brings what was planned
/// from it up to date: scheduled posts, and Slack users of new people.
#[cfg(unix)]
async fn reload_on_hangup(
    engine: Engine,
    slack: Option<Arc<SlackPlatform>>,
    path: Option<PathBuf>,
    mut stop: watch::Receiver<bool>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: reload by restarting");
        return;
    };
    loop {
        tokio::select! {
            _ = hangup.recv() => {}
            _ = stop.changed() => return,
        }
        tracing::info!("SIGHUP: reloading the configuration");
        let reloaded = crate::reload::reload(engine.live(), path.as_deref());
        if !matches!(reloaded, crate::reload::Reloaded::Applied { .. }) {
            continue;
        }
        if let Err(e) = engine.ensure_schedules().await {
            tracing::error!(
                error = format!("{e:#}"),
                "could not replan scheduled posts after the reload"
            );
        }
        if let Some(p) = &slack {
            tokio::spawn(slack::people::keep_mapping(
                p.clone(),
                engine.cfg(),
                stop.clone(),
            ));
        }
    }
}

/// The bot's own user id (for private channels' overwrites), from `GET /users/@me`,
/// else the application id, which is the bot's user id for applications made since 2019.
async fn discord_bot_user(rest: &discord::rest::Rest, s: &DiscordSettings) -> Option<u64> {
    use serenity::all::{LightMethod, Route};
    let me = tokio::time::timeout(
        Duration::from_secs(5),
        rest.call("who am I", LightMethod::Get, Route::UserMe, None::<&()>),
    )
    .await;
    match me {
        Ok(Ok(v)) => v["id"].as_str().and_then(|i| i.parse().ok()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "GET /users/@me failed; using the application id as the bot's user id");
            s.application_id()
        }
        Err(_) => s.application_id(),
    }
}

fn console_banner(out: &Output, addr: SocketAddr) {
    let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(w, "(HTTP: http://{addr}/healthz, /readyz, /metrics)");
}

use std::io::Write;

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
