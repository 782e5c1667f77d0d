//! Reading the layers: built-in defaults, then the TOML file, then the environment.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

use super::read;
use super::*;

/// Reads the layers into the raw config, with every problem found on the way. The config
/// is returned when it reads at all (unknown keys dropped), so the rest of it can still be
/// checked and every problem reported in one go; it must not be run when a problem is fatal.
pub(super) fn load(path: Option<&Path>) -> read::Read<RawConfig> {
    let mut fig = Figment::from(Serialized::defaults(RawConfig::empty()));
    if let Some(p) = path {
        if !p.exists() {
            let problem = Problem::error(
                p.display().to_string(),
                "file not found (pass --config or set SEVBOT_CONFIG)".into(),
            );
            return read::Read::failed(problem);
        }
        fig = fig.merge(Toml::file_exact(p));
    }
    // `SEVBOT_SERVER__HTTP_ADDR=…`, for sections sevbot has only: Kubernetes injects
    // `SEVBOT_PORT=tcp://…` and the like for a Service named sevbot. The plain names
    // operators expect come last and win.
    let sections = sections();
    fig = fig
        .merge(
            Env::prefixed("SEVBOT_")
                .filter(move |k| ours(k.as_str(), &sections))
                .split("__"),
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
    let file = path
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "config".into());
    let mut read = read::read::<RawConfig>(&fig, &file);
    if let Some(raw) = &mut read.value {
        availability::load_routes(&mut raw.availability, path, &mut read.problems);
        postmortem::load(&mut raw.postmortem, path, &mut read.problems);
        drills::load(&mut raw.drills, path, &mut read.problems);
    }
    read
}

/// The raw config when it reads without a fatal problem, else the problems.
pub fn load_raw(path: Option<&Path>) -> Result<RawConfig, Vec<Problem>> {
    let read = load(path);
    match read.value {
        Some(raw) if !read.problems.iter().any(|p| p.fatal) => Ok(raw),
        _ => Err(read.problems),
    }
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
            web: Default::default(),
            drills: Default::default(),
        }
    }
}

/// The top-level sections of the config file (`server`, `discord`, …).
fn sections() -> Vec<String> {
    serde_json::to_value(RawConfig::empty())
        .ok()
        .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
        .unwrap_or_default()
}

/// Whether `SEVBOT_<key>` (without the prefix) is `<SECTION>__<KEY>` of a known section.
fn ours(key: &str, sections: &[String]) -> bool {
    key.split_once("__").is_some_and(|(section, rest)| {
        !rest.is_empty() && sections.iter().any(|s| s.eq_ignore_ascii_case(section))
    })
}

/// `SEVBOT_*` variables sevbot does not read (not `SEVBOT_<SECTION>__<KEY>` of a known
/// section, nor `SEVBOT_CONFIG`, `SEVBOT_HTTP_ADDR` or `SEVBOT_WEB_TOKEN`), for a debug line at start-up.
pub fn ignored_env() -> Vec<String> {
    let sections = sections();
    std::env::vars()
        .filter_map(|(k, _)| {
            let rest = k.strip_prefix("SEVBOT_")?;
            let known =
                ours(rest, &sections) || ["CONFIG", "HTTP_ADDR", "WEB_TOKEN"].contains(&rest);
            (!known).then_some(k)
        })
        .collect()
}

/// `--config`, else `SEVBOT_CONFIG`, else `config/sevbot.toml` when it exists.
pub fn resolve_path(cli: Option<PathBuf>) -> Option<PathBuf> {
    cli.or_else(|| std::env::var_os("SEVBOT_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let p = PathBuf::from("config/sevbot.toml");
            p.exists().then_some(p)
        })
}
