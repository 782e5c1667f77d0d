//! Discord: interactions over HTTP (`inbound`, verified with Ed25519) or the gateway
//! (`gateway`), the `/sev` application command (`commands`), modals and buttons (`views`),
//! and everything sevbot sends through the REST API (`platform`, `render`, `rest`).

pub mod commands;
pub mod gateway;
pub mod inbound;
pub mod platform;
pub mod render;
pub mod rest;
pub mod verify;
pub mod views;

pub const PLATFORM: &str = "discord";

/// Interaction types Discord sends (the inbound path and the views both read them).
pub const PING: u64 = 1;
pub const APPLICATION_COMMAND: u64 = 2;
pub const MESSAGE_COMPONENT: u64 = 3;
pub const MODAL_SUBMIT: u64 = 5;
pub const DEFAULT_API_URL: &str = "https://discord.com/api/v10";
/// A REST call that takes longer than this is retried later rather than holding the worker.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Credentials and endpoints, from the environment only.
#[derive(Clone)]
pub struct DiscordSettings {
    pub bot_token: Option<String>,
    pub application_id: Option<String>,
    pub public_key: Option<String>,
    pub api_url: String,
    /// How long one REST call may take before it is retried later.
    pub call_timeout: std::time::Duration,
}

impl std::fmt::Debug for DiscordSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSettings")
            .field("application_id", &self.application_id)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl DiscordSettings {
    /// `DISCORD_BOT_TOKEN`, `DISCORD_APPLICATION_ID`, `DISCORD_PUBLIC_KEY`, `DISCORD_API_URL`;
    /// `None` when none of the credentials is set.
    pub fn from_env() -> Option<DiscordSettings> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let s = DiscordSettings {
            bot_token: var("DISCORD_BOT_TOKEN"),
            application_id: var("DISCORD_APPLICATION_ID"),
            public_key: var("DISCORD_PUBLIC_KEY"),
            api_url: var("DISCORD_API_URL").unwrap_or_else(|| DEFAULT_API_URL.into()),
            call_timeout: CALL_TIMEOUT,
        };
        (s.bot_token.is_some() || s.public_key.is_some()).then_some(s)
    }
}

impl DiscordSettings {
    pub fn application_id(&self) -> Option<u64> {
        self.application_id.as_deref().and_then(|a| a.parse().ok())
    }
}
