//! Configuration: defaults → TOML file → `SEVBOT_*` environment, then validated into the
//! domain's types. `check` reports every problem with where it is, instead of the first.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::domain::definitions::SevDefinition;
use crate::domain::escalation::Policy;
use crate::domain::oncall::Rotation;
use crate::domain::{FeedFilter, Level, Role, SevType};

mod availability;
mod escalation;
pub use availability::{AvailabilityConfig, Destination};
pub use escalation::{PagerDutyConfig, RawPolicy, RawSchedule, RawStep, Schedule, ScheduleKind};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub console: ConsoleConfig,
    /// Person ids who may downgrade, cancel or close any SEV.
    #[serde(default)]
    pub admins: Vec<String>,
    #[serde(default)]
    pub people: Vec<RawPerson>,
    #[serde(default)]
    pub rotations: Vec<RawRotation>,
    #[serde(default = "default_definitions")]
    pub definitions: Vec<SevDefinition>,
    #[serde(default)]
    pub reminders: RemindersConfig,
    #[serde(default)]
    pub feeds: Vec<RawFeed>,
    #[serde(default)]
    pub discord: DiscordConfig,
    /// Person ids paged by an `exec` escalation step.
    #[serde(default)]
    pub execs: Vec<String>,
    #[serde(default)]
    pub escalation_policies: Vec<RawPolicy>,
    #[serde(default)]
    pub pagerduty: PagerDutyConfig,
    #[serde(default)]
    pub schedules: Vec<RawSchedule>,
    #[serde(default)]
    pub availability: AvailabilityConfig,
}

/// Where sevbot works in Discord. Ids are snowflakes, as strings; secrets stay in the
/// environment (`DISCORD_BOT_TOKEN`, `DISCORD_PUBLIC_KEY`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// The server (guild) incident channels are created in.
    #[serde(default)]
    pub guild_id: Option<String>,
    /// The category incident channels are created under.
    #[serde(default)]
    pub incident_category: Option<String>,
    /// The category closed SEV channels move to until they are deleted.
    #[serde(default)]
    pub archive_category: Option<String>,
    /// Days an archived SEV channel is kept before it is deleted (a guild holds 500
    /// channels); 0 keeps them forever.
    #[serde(default = "default_retention")]
    pub archive_retention_days: u32,
    /// Where `/sev` is registered on start-up: `guild` (instant, for development) or
    /// `global` (every server the app is installed in).
    #[serde(default = "default_command_scope")]
    pub commands: CommandScope,
    /// Receive interactions over the gateway (a WebSocket from the bot) in addition to
    /// `POST /discord/interactions`.
    #[serde(default = "default_true")]
    pub gateway: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandScope {
    Guild,
    Global,
}

fn default_retention() -> u32 {
    30
}
fn default_command_scope() -> CommandScope {
    CommandScope::Guild
}
fn default_true() -> bool {
    true
}
impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            guild_id: None,
            incident_category: None,
            archive_category: None,
            archive_retention_days: default_retention(),
            commands: default_command_scope(),
            gateway: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_http_addr")]
    pub http_addr: String,
    /// How often the scheduler and outbox look for work even when not woken (other
    /// replicas may have enqueued it).
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// A request's headers must arrive within this (idle kept-alive connections close too).
    #[serde(default = "default_http_timeout_ms")]
    pub header_timeout_ms: u64,
    /// Once the headers are in, the whole body must arrive within this.
    #[serde(default = "default_http_timeout_ms")]
    pub body_timeout_ms: u64,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// 0 for none (set it to 0 behind a proxy: every connection then comes from the proxy).
    #[serde(default = "default_max_connections_per_source")]
    pub max_connections_per_source: usize,
    /// Requests refused for authentication (401) one address may make per minute; past
    /// it, the address is answered 429 until the minute is over.
    #[serde(default = "default_auth_failures")]
    pub auth_failures_per_minute: u32,
    /// Behind a trusted reverse proxy: the header holding the client's address (its last
    /// entry is used), e.g. "x-forwarded-for".
    #[serde(default)]
    pub client_ip_header: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_addr: default_http_addr(),
            poll_interval_ms: default_poll_ms(),
            header_timeout_ms: default_http_timeout_ms(),
            body_timeout_ms: default_http_timeout_ms(),
            max_connections: default_max_connections(),
            max_connections_per_source: default_max_connections_per_source(),
            auth_failures_per_minute: default_auth_failures(),
            client_ip_header: None,
        }
    }
}

fn default_http_timeout_ms() -> u64 {
    10_000
}

fn default_max_connections() -> usize {
    1024
}

fn default_max_connections_per_source() -> usize {
    64
}

fn default_auth_failures() -> u32 {
    30
}

fn default_http_addr() -> String {
    "127.0.0.1:8080".into()
}

fn default_poll_ms() -> u64 {
    1000
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default = "default_db_url")]
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: default_db_url(),
        }
    }
}

fn default_db_url() -> String {
    "sqlite://sevbot.db".into()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub json: bool,
    #[serde(default)]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Who you are when the console starts (a console handle).
    #[serde(default = "default_console_user")]
    pub user: String,
    #[serde(default = "default_console_channel")]
    pub channel: String,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            user: default_console_user(),
            channel: default_console_channel(),
        }
    }
}

fn default_console_user() -> String {
    "oncall".into()
}

fn default_console_channel() -> String {
    "general".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerson {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Platform → handle (`console`, `slack` user id, `discord` user id).
    #[serde(default)]
    pub handles: BTreeMap<String, String>,
    /// Person id of their manager, paged by a `manager` escalation step.
    #[serde(default)]
    pub manager: Option<String>,
    /// Also page them through PagerDuty (see `[pagerduty]`).
    #[serde(default)]
    pub pagerduty: bool,
}

fn default_tz() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRotation {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub types: Vec<SevType>,
    pub members: Vec<String>,
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// `YYYY-MM-DD`, the day the first member takes over.
    pub start_date: String,
    /// `HH:MM` local time of each hand-off.
    #[serde(default = "default_handoff")]
    pub handoff_time: String,
    #[serde(default = "default_period")]
    pub period_days: u32,
    /// `HH:MM-HH:MM` local hours on duty (may wrap midnight); on duty around the clock
    /// when absent.
    #[serde(default)]
    pub active_hours: Option<String>,
    /// Weekdays on duty (`mon` … `sun`); every day when empty.
    #[serde(default)]
    pub active_days: Vec<String>,
    /// Page whoever this rotation puts on call through PagerDuty too.
    #[serde(default)]
    pub pagerduty: bool,
}

fn default_handoff() -> String {
    "09:00".into()
}

fn default_period() -> u32 {
    7
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemindersConfig {
    /// Minutes between status updates before the IMOC is reminded, for SEV0..SEV3; 0 = never.
    #[serde(default = "default_cadence")]
    pub update_cadence_minutes: Vec<u32>,
    /// How many times an unanswered reminder is repeated (a cadence apart) before sevbot
    /// waits for the next update.
    #[serde(default = "default_max_repeats")]
    pub max_repeats: u32,
}

fn default_max_repeats() -> u32 {
    3
}

impl Default for RemindersConfig {
    fn default() -> Self {
        RemindersConfig {
            update_cadence_minutes: default_cadence(),
            max_repeats: default_max_repeats(),
        }
    }
}

fn default_cadence() -> Vec<u32> {
    vec![15, 30, 60, 0]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub platform: String,
    pub channel: String,
    #[serde(default)]
    pub types: Vec<SevType>,
    #[serde(default)]
    pub max_level: Option<Level>,
    /// A private channel of people cleared to see restricted SEVs: they show here in full.
    #[serde(default)]
    pub private: bool,
}

/// A channel subscribed from the config.
#[derive(Debug, Clone)]
pub struct Feed {
    pub platform: String,
    pub channel: String,
    pub filter: FeedFilter,
    /// Restricted SEVs show here in full; elsewhere they are one redacted line.
    pub private: bool,
}

pub fn default_definitions() -> Vec<SevDefinition> {
    [
        (
            0,
            Some(90.0),
            "Critical: the product is unusable for most users, or data is being lost",
        ),
        (
            1,
            Some(99.0),
            "Major: a key workflow is broken for many users",
        ),
        (
            2,
            Some(99.9),
            "Moderate: degraded for some users, a workaround exists",
        ),
        (
            3,
            None,
            "Minor: little user impact; fix within business hours",
        ),
    ]
    .into_iter()
    .map(|(l, a, s)| SevDefinition {
        level: Level::new(l).expect("static level"),
        availability_below: a,
        summary: s.into(),
    })
    .collect()
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub timezone: Tz,
    pub handles: BTreeMap<String, String>,
}

/// The validated configuration the program runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub raw: RawConfig,
    pub people: Vec<Person>,
    pub rotations: Vec<Rotation>,
    pub feeds: Vec<Feed>,
    pub policies: Vec<Policy>,
    pub schedules: Vec<Schedule>,
    /// The customer update template (minijinja).
    pub draft_template: String,
    /// Platform handles learned while running (Slack users found by e-mail), shared by
    /// every clone, so a look-up that succeeds late serves mentions, pages and commands.
    pub learned: Learned,
}

/// Handles learned at run time: (platform, person id) → handle.
#[derive(Debug, Clone, Default)]
pub struct Learned(Arc<RwLock<BTreeMap<(String, String), String>>>);

impl Learned {
    pub fn get(&self, platform: &str, person: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(platform.to_string(), person.to_string()))
            .cloned()
    }

    pub fn set(&self, platform: &str, person: &str, handle: &str) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(
            (platform.to_string(), person.to_string()),
            handle.to_string(),
        );
    }

    fn person_for(&self, platform: &str, handle: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|((p, _), h)| p == platform && h.eq_ignore_ascii_case(handle))
            .map(|((_, person), _)| person.clone())
    }
}

impl Config {
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    /// The person behind a platform handle; a person id is accepted too, so `@alice` works
    /// on any platform for people named in the config.
    pub fn person_by_handle(&self, platform: &str, handle: &str) -> Option<&Person> {
        self.people
            .iter()
            .find(|p| {
                p.handles
                    .get(platform)
                    .is_some_and(|h| h.eq_ignore_ascii_case(handle))
            })
            .or_else(|| {
                let learned = self.learned.person_for(platform, handle)?;
                self.person(&learned)
            })
            .or_else(|| {
                self.people
                    .iter()
                    .find(|p| p.id.eq_ignore_ascii_case(handle))
            })
    }

    /// The person's handle on `platform`: from the config, else as learned at run time.
    pub fn handle(&self, person: &str, platform: &str) -> Option<String> {
        self.person(person)
            .and_then(|p| p.handles.get(platform).cloned())
            .or_else(|| self.learned.get(platform, person))
    }

    pub fn is_admin(&self, person: &str) -> bool {
        self.raw.admins.iter().any(|a| a == person)
    }

    /// Whether `channel` is a feed the operator marked private, where restricted SEVs show
    /// in full.
    pub fn is_private_feed(&self, platform: &str, channel: &str) -> bool {
        self.feeds
            .iter()
            .any(|f| f.private && f.platform == platform && f.channel == channel)
    }

    pub fn update_cadence_minutes(&self, level: Level) -> u32 {
        self.raw
            .reminders
            .update_cadence_minutes
            .get(usize::from(level.get()))
            .copied()
            .unwrap_or(0)
    }
}

/// One thing wrong with the configuration, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: String,
    pub message: String,
    pub fatal: bool,
}

impl Problem {
    pub fn error(location: String, message: String) -> Problem {
        Problem {
            location,
            message,
            fatal: true,
        }
    }

    pub fn warning(location: String, message: String) -> Problem {
        Problem {
            location,
            message,
            fatal: false,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.fatal { "error" } else { "warning" };
        write!(f, "{kind}: {}: {}", self.location, self.message)
    }
}

/// Reads the layers. `path` None means built-in defaults plus environment only.
pub fn load_raw(path: Option<&Path>) -> Result<RawConfig, Problem> {
    let mut fig = Figment::from(Serialized::defaults(RawConfig::empty()));
    if let Some(p) = path {
        if !p.exists() {
            return Err(Problem {
                location: p.display().to_string(),
                message: "file not found (pass --config or set SEVBOT_CONFIG)".into(),
                fatal: true,
            });
        }
        fig = fig.merge(Toml::file_exact(p));
    }
    // `SEVBOT_SERVER__HTTP_ADDR=…`; the plain names operators expect come last and win.
    fig = fig
        .merge(
            Env::prefixed("SEVBOT_")
                .split("__")
                .ignore(&["config", "http_addr"]),
        )
        .merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| "database.url".into()),
        )
        .merge(
            Env::raw()
                .only(&["SEVBOT_HTTP_ADDR"])
                .map(|_| "server.http_addr".into()),
        );
    let mut raw: RawConfig = fig.extract().map_err(|e| Problem {
        location: path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "environment".into()),
        message: e.to_string(),
        fatal: true,
    })?;
    availability::load_routes(&mut raw.availability, path)?;
    Ok(raw)
}

impl RawConfig {
    fn empty() -> RawConfig {
        RawConfig {
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            console: ConsoleConfig::default(),
            admins: vec![],
            people: vec![],
            rotations: vec![],
            definitions: default_definitions(),
            reminders: RemindersConfig::default(),
            discord: DiscordConfig::default(),
            execs: vec![],
            escalation_policies: vec![],
            pagerduty: PagerDutyConfig::default(),
            schedules: vec![],
            availability: AvailabilityConfig::default(),
            feeds: vec![],
        }
    }
}

/// Validates everything and returns the config with all problems found (warnings do not
/// stop the bot; errors do).
pub fn validate(raw: RawConfig) -> (Option<Config>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut err = |location: String, message: String| {
        problems.push(Problem {
            location,
            message,
            fatal: true,
        })
    };
    let srv = &raw.server;
    if let Some(h) = &srv.client_ip_header
        && axum::http::HeaderName::try_from(h.as_str()).is_err()
    {
        err(
            "server.client_ip_header".into(),
            format!("\"{h}\" is not a header name"),
        );
    }
    for (key, v) in [
        ("header_timeout_ms", srv.header_timeout_ms),
        ("body_timeout_ms", srv.body_timeout_ms),
        ("max_connections", srv.max_connections as u64),
        (
            "auth_failures_per_minute",
            u64::from(srv.auth_failures_per_minute),
        ),
    ] {
        if v == 0 {
            err(format!("server.{key}"), "must be above 0".into());
        }
    }
    let mut people = Vec::new();
    let mut ids = HashSet::new();
    let mut handles = HashSet::new();
    for (i, p) in raw.people.iter().enumerate() {
        let loc = format!("people[{i}] ({})", p.id);
        if p.id.is_empty()
            || !p
                .id
                .chars()
                .all(|c| c.is_alphanumeric() || "._-".contains(c))
        {
            err(
                loc.clone(),
                format!("id \"{}\" must be letters, digits, '.', '_' or '-'", p.id),
            );
        }
        if !ids.insert(p.id.clone()) {
            err(loc.clone(), format!("duplicate person id \"{}\"", p.id));
        }
        for (platform, h) in &p.handles {
            if !handles.insert((platform.clone(), h.to_ascii_lowercase())) {
                err(
                    format!("{loc}.handles.{platform}"),
                    format!("handle \"{h}\" belongs to two people"),
                );
            }
        }
        let tz = parse_tz(&p.timezone).unwrap_or_else(|m| {
            err(format!("{loc}.timezone"), m);
            chrono_tz::UTC
        });
        people.push(Person {
            id: p.id.clone(),
            name: p.name.clone().unwrap_or_else(|| p.id.clone()),
            email: p.email.clone(),
            timezone: tz,
            handles: p.handles.clone(),
        });
    }
    for (i, a) in raw.admins.iter().enumerate() {
        if !ids.contains(a) {
            err(format!("admins[{i}]"), format!("unknown person \"{a}\""));
        }
    }
    let mut rotations = Vec::new();
    for (i, r) in raw.rotations.iter().enumerate() {
        let loc = format!("rotations[{i}] ({})", r.name);
        if r.members.is_empty() {
            err(
                format!("{loc}.members"),
                "a rotation needs at least one member".into(),
            );
        }
        for (j, m) in r.members.iter().enumerate() {
            if !ids.contains(m) {
                err(
                    format!("{loc}.members[{j}]"),
                    format!("unknown person \"{m}\" (add them under [[people]])"),
                );
            }
        }
        let tz = parse_tz(&r.timezone).map_err(|m| err(format!("{loc}.timezone"), m));
        let date = NaiveDate::parse_from_str(&r.start_date, "%Y-%m-%d").map_err(|_| {
            err(
                format!("{loc}.start_date"),
                format!("\"{}\" is not a date like 2026-01-05", r.start_date),
            )
        });
        let time = NaiveTime::parse_from_str(&r.handoff_time, "%H:%M").map_err(|_| {
            err(
                format!("{loc}.handoff_time"),
                format!("\"{}\" is not a time like 09:00", r.handoff_time),
            )
        });
        if r.period_days == 0 {
            err(format!("{loc}.period_days"), "must be at least 1".into());
        }
        let active_hours = match r.active_hours.as_deref().map(parse_hours) {
            Some(Err(m)) => {
                err(format!("{loc}.active_hours"), m);
                None
            }
            Some(Ok(h)) => Some(h),
            None => None,
        };
        let mut active_days = vec![];
        for (j, d) in r.active_days.iter().enumerate() {
            match d.parse::<chrono::Weekday>() {
                Ok(w) => active_days.push(w),
                Err(_) => err(
                    format!("{loc}.active_days[{j}]"),
                    format!("\"{d}\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)"),
                ),
            }
        }
        if let (Ok(timezone), Ok(start_date), Ok(handoff_time)) = (tz, date, time) {
            rotations.push(Rotation {
                active_hours,
                active_days,
                name: r.name.clone(),
                role: r.role,
                types: r.types.clone(),
                members: r.members.clone(),
                timezone,
                start_date,
                handoff_time,
                period_days: r.period_days.max(1),
            });
        }
    }
    let mut seen = HashSet::new();
    for (i, d) in raw.definitions.iter().enumerate() {
        if !seen.insert(d.level) {
            err(
                format!("definitions[{i}]"),
                format!("{} is defined twice", d.level),
            );
        }
        if let Some(a) = d.availability_below
            && !(0.0..=100.0).contains(&a)
        {
            err(
                format!("definitions[{i}].availability_below"),
                format!("{a} is not a percentage"),
            );
        }
    }
    for l in Level::all() {
        if !seen.contains(&l) {
            err(
                "definitions".into(),
                format!("{l} has no definition; responders need all four"),
            );
        }
    }
    let mut by_level: Vec<_> = raw
        .definitions
        .iter()
        .filter_map(|d| d.availability_below.map(|a| (d.level, a)))
        .collect();
    by_level.sort_by_key(|(l, _)| *l);
    for w in by_level.windows(2) {
        if w[0].1 >= w[1].1 {
            err(
                "definitions".into(),
                format!(
                    "{} must need a lower availability than {} ({} >= {})",
                    w[0].0, w[1].0, w[0].1, w[1].1
                ),
            );
        }
    }
    if raw.reminders.update_cadence_minutes.len() != 4 {
        err(
            "reminders.update_cadence_minutes".into(),
            format!(
                "needs 4 values (SEV0..SEV3), got {}",
                raw.reminders.update_cadence_minutes.len()
            ),
        );
    }
    let mut feeds = Vec::new();
    for (i, f) in raw.feeds.iter().enumerate() {
        if f.channel.trim().is_empty() {
            err(format!("feeds[{i}].channel"), "empty channel".into());
        }
        feeds.push(Feed {
            platform: f.platform.clone(),
            channel: f.channel.trim_start_matches('#').to_string(),
            filter: FeedFilter {
                types: f.types.clone(),
                max_level: f.max_level,
            },
            private: f.private,
        });
    }
    let d = &raw.discord;
    for (key, v) in [
        ("guild_id", &d.guild_id),
        ("incident_category", &d.incident_category),
        ("archive_category", &d.archive_category),
    ] {
        if let Some(v) = v
            && (v.is_empty() || !v.chars().all(|c| c.is_ascii_digit()))
        {
            err(
                format!("discord.{key}"),
                format!(
                    "\"{v}\" is not a Discord id (digits only: enable Developer Mode, right-click, Copy ID)"
                ),
            );
        }
    }
    for (platform, h) in raw.people.iter().flat_map(|p| &p.handles) {
        if platform == "discord" && !h.chars().all(|c| c.is_ascii_digit()) {
            err(
                "people.handles.discord".into(),
                format!("\"{h}\" is not a Discord user id (digits only, not the user name)"),
            );
        }
    }
    for role in [Role::Imoc, Role::Tloc] {
        for t in SevType::ALL {
            if crate::domain::oncall::rotation_for(&rotations, role, t).is_none() {
                problems.push(Problem {
                    location: "rotations".into(),
                    message: format!(
                        "no {role} rotation covers {t} SEVs; that role will start unassigned"
                    ),
                    fatal: false,
                });
            }
        }
    }
    let policies = escalation::parse_policies(&raw, &rotations, chrono::Utc::now(), &mut problems);
    let schedules = escalation::parse_schedules(&raw, &mut problems);
    availability::check(&raw.availability, &mut problems);
    let draft_template = availability::draft_template(&raw.availability, &mut problems);
    let ok = !problems.iter().any(|p| p.fatal);
    let cfg = ok.then_some(Config {
        raw,
        people,
        rotations,
        feeds,
        policies,
        schedules,
        draft_template,
        learned: Learned::default(),
    });
    (cfg, problems)
}

fn parse_hours(s: &str) -> Result<(NaiveTime, NaiveTime), String> {
    let bad = || format!("\"{s}\" is not a range of hours like 09:00-17:00");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| bad());
    let (a, b) = (t(a)?, t(b)?);
    if a == b {
        return Err(format!(
            "\"{s}\" is an empty range; leave active_hours out for around the clock"
        ));
    }
    Ok((a, b))
}

fn parse_tz(s: &str) -> Result<Tz, String> {
    s.parse::<Tz>()
        .map_err(|_| format!("unknown timezone \"{s}\" (use an IANA name like Europe/Berlin)"))
}

/// `--config`, else `SEVBOT_CONFIG`, else `config/sevbot.toml` when it exists.
pub fn resolve_path(cli: Option<PathBuf>) -> Option<PathBuf> {
    cli.or_else(|| std::env::var_os("SEVBOT_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let p = PathBuf::from("config/sevbot.toml");
            p.exists().then_some(p)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml: &str) -> RawConfig {
        Figment::from(Serialized::defaults(RawConfig::empty()))
            .merge(Toml::string(toml))
            .extract()
            .unwrap()
    }

    #[test]
    fn example_config_is_valid() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sevbot.toml"))
                .unwrap();
        let (cfg, problems) = validate(raw(&text));
        assert!(problems.is_empty(), "{problems:?}");
        let cfg = cfg.unwrap();
        assert!(!cfg.people.is_empty());
        assert!(!cfg.rotations.is_empty());
    }

    #[test]
    fn problems_carry_locations() {
        let (cfg, problems) = validate(raw(r#"
            admins = ["ghost"]
            [[people]]
            id = "alice"
            timezone = "Mars/Olympus"
            [[rotations]]
            name = "imoc"
            role = "imoc"
            members = ["alice", "zed"]
            start_date = "2026-13-01"
            "#));
        assert!(cfg.is_none());
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let has = |s: &str| text.iter().any(|t| t.contains(s));
        assert!(
            has("error: admins[0]: unknown person \"ghost\""),
            "{text:?}"
        );
        assert!(
            has("people[0] (alice).timezone: unknown timezone"),
            "{text:?}"
        );
        assert!(
            has("rotations[0] (imoc).members[1]: unknown person \"zed\""),
            "{text:?}"
        );
        assert!(has("rotations[0] (imoc).start_date"), "{text:?}");
        assert!(has("warning: rotations: no TLOC rotation"), "{text:?}");
    }

    #[test]
    fn typos_in_keys_fail_loudly() {
        let r: Result<RawConfig, _> = Figment::from(Serialized::defaults(RawConfig::empty()))
            .merge(Toml::string("[[people]]\nid = \"a\"\nemial = \"x\""))
            .extract();
        assert!(r.unwrap_err().to_string().contains("emial"));
    }

    #[test]
    fn definitions_must_be_ordered() {
        let (_, problems) = validate(raw(r#"
            [[definitions]]
            level = 0
            availability_below = 99.0
            summary = "a"
            [[definitions]]
            level = 1
            availability_below = 90.0
            summary = "b"
            "#));
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("SEV0 must need a lower availability")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("SEV2 has no definition")),
            "{text:?}"
        );
    }
}
