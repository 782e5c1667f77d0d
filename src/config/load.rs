//! Reading the layers: built-in defaults, then the TOML file, then the environment.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use super::*;

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
    postmortem::load(&mut raw.postmortem, path)?;
    Ok(raw)
}

impl RawConfig {
    pub(super) fn empty() -> RawConfig {
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
            postmortem: PostmortemConfig::default(),
            email: Default::default(),
            jira: Default::default(),
            tracker_webhook: Default::default(),
        }
    }
}

/// `--config`, else `SEVBOT_CONFIG`, else `config/sevbot.toml` when it exists.
pub fn resolve_path(cli: Option<PathBuf>) -> Option<PathBuf> {
    cli.or_else(|| std::env::var_os("SEVBOT_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let p = PathBuf::from("config/sevbot.toml");
            p.exists().then_some(p)
        })
}
