//! The settings sections that need no cross-checking: server, database, log, console,
//! Discord and reminders, with their defaults and their own checks.

use serde::{Deserialize, Serialize};

use super::{Problem, RawPerson};

/// Where sevbot works in Discord. Ids are snowflakes, as strings; secrets stay in the
/// environment (`DISCORD_BOT_TOKEN`, `DISCORD_PUBLIC_KEY`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// The server (guild) incident channels are created in.
    #[serde(default, deserialize_with = "snowflake")]
    pub guild_id: Option<String>,
    /// The category incident channels are created under.
    #[serde(default, deserialize_with = "snowflake")]
    pub incident_category: Option<String>,
    /// The category closed SEV channels move to until they are deleted.
    #[serde(default, deserialize_with = "snowflake")]
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

/// A Discord id as a string or a number: the environment
/// (`SEVBOT_DISCORD__GUILD_ID=1100000000000000001`) hands over digits, which read as a number.
fn snowflake<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Text(t) => t,
        Id::Number(n) => n.to_string(),
    }))
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
    /// The environment variable holding the token of the read API (`GET /api/v1/…`);
    /// the API is off while it is unset.
    #[serde(default = "default_api_token_env")]
    pub api_token_env: String,
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
            api_token_env: default_api_token_env(),
        }
    }
}

fn default_api_token_env() -> String {
    "API_TOKEN".into()
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

pub(super) fn check_server(srv: &ServerConfig, problems: &mut Vec<Problem>) {
    if let Some(h) = &srv.client_ip_header
        && axum::http::HeaderName::try_from(h.as_str()).is_err()
    {
        problems.push(Problem::error(
            "server.client_ip_header".into(),
            format!("\"{h}\" is not a header name"),
        ));
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
            problems.push(Problem::error(
                format!("server.{key}"),
                "must be above 0".into(),
            ));
        }
    }
}

/// Discord ids are snowflakes: digits, as Discord's "Copy ID" gives them.
pub(super) fn check_discord(d: &DiscordConfig, people: &[RawPerson], problems: &mut Vec<Problem>) {
    for (key, v) in [
        ("guild_id", &d.guild_id),
        ("incident_category", &d.incident_category),
        ("archive_category", &d.archive_category),
    ] {
        if let Some(v) = v
            && (v.is_empty() || !v.chars().all(|c| c.is_ascii_digit()))
        {
            problems.push(Problem::error(
                format!("discord.{key}"),
                format!(
                    "\"{v}\" is not a Discord id (digits only: enable Developer Mode, right-click, Copy ID)"
                ),
            ));
        }
    }
    for (platform, h) in people.iter().flat_map(|p| &p.handles) {
        if platform == "discord" && !h.chars().all(|c| c.is_ascii_digit()) {
            problems.push(Problem::error(
                "people.handles.discord".into(),
                format!("\"{h}\" is not a Discord user id (digits only, not the user name)"),
            ));
        }
    }
}

pub(super) fn check_reminders(r: &RemindersConfig, problems: &mut Vec<Problem>) {
    if r.update_cadence_minutes.len() != 4 {
        problems.push(Problem::error(
            "reminders.update_cadence_minutes".into(),
            format!(
                "needs 4 values (SEV0..SEV3), got {}",
                r.update_cadence_minutes.len()
            ),
        ));
    }
}
