//! Re-reading the configuration while running (SIGHUP, or `sevbot reload`, which checks the
//! file and then signals the running sevbot). A config that does not check is refused and
//! the one in force kept; a good one replaces it whole. Open SEVs keep the ladders frozen
//! onto them when they were declared; SEVs declared after the reload get the new policies,
//! rotations and people. What was read once at start-up (addresses, the database,
//! platform and integration settings) changes only with a restart, and the reload says so.

use std::path::Path;

use serde::Serialize;

use crate::config::{self, Config, Live, Problem};

/// What a reload did.
#[derive(Debug)]
pub enum Reloaded {
    /// The new config is in force; these sections changed but take effect at restart.
    Applied { restart_needed: Vec<&'static str> },
    /// The config in force is kept: these problems stop the new one.
    Refused { problems: Vec<Problem> },
}

/// Reads and checks the config at `path`; puts it in force when it checks.
pub fn reload(live: &Live, path: Option<&Path>) -> Reloaded {
    let checked = config::check(path);
    for p in checked.problems.iter().filter(|p| !p.fatal) {
        tracing::warn!(location = p.location, "{}", p.message);
    }
    let Some(next) = checked.config else {
        let problems: Vec<Problem> = checked.problems.into_iter().filter(|p| p.fatal).collect();
        for p in &problems {
            tracing::error!(location = p.location, "{}", p.message);
        }
        tracing::error!(
            errors = problems.len(),
            "configuration reload refused; the configuration in force is kept"
        );
        metrics::counter!("sevbot_config_reloads_total", "result" => "refused").increment(1);
        return Reloaded::Refused { problems };
    };
    let restart_needed = restart_only_changes(&live.get(), &next);
    live.replace(next);
    metrics::counter!("sevbot_config_reloads_total", "result" => "applied").increment(1);
    if restart_needed.is_empty() {
        tracing::info!("configuration reloaded");
    } else {
        tracing::warn!(
            sections = restart_needed.join(", "),
            "configuration reloaded; these sections changed and take effect only at restart"
        );
    }
    Reloaded::Applied { restart_needed }
}

/// Sections read once at start-up that differ between `now` and `next`.
fn restart_only_changes(now: &Config, next: &Config) -> Vec<&'static str> {
    fn differs<T: Serialize>(a: &T, b: &T) -> bool {
        serde_json::to_value(a).ok() != serde_json::to_value(b).ok()
    }
    let sections: [(&'static str, bool); 9] = [
        ("server", differs(&now.server, &next.server)),
        ("database", differs(&now.database, &next.database)),
        ("log", differs(&now.log, &next.log)),
        ("console", differs(&now.console, &next.console)),
        ("discord", differs(&now.discord, &next.discord)),
        ("pagerduty", differs(&now.pagerduty, &next.pagerduty)),
        ("jira", differs(&now.jira, &next.jira)),
        (
            "tracker_webhook",
            differs(&now.tracker_webhook, &next.tracker_webhook),
        ),
        (
            "email.smtp_url_env",
            now.email.smtp_url_env != next.email.smtp_url_env,
        ),
    ];
    sections
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
}

/// Sends SIGHUP to every other sevbot process of this user (or to `pid`): how `sevbot
/// reload` reaches the one running, in a container as on a host. Returns the pids
/// signalled.
#[cfg(unix)]
pub fn signal_running(pid: Option<i32>) -> std::io::Result<Vec<i32>> {
    let pids = match pid {
        Some(p) => vec![p],
        None => running_sevbots()?,
    };
    for p in &pids {
        // SAFETY: kill(2) with a pid and a signal number has no memory effects.
        if unsafe { libc::kill(*p, libc::SIGHUP) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(pids)
}

/// Other processes of this user whose executable is named like this one.
#[cfg(unix)]
fn running_sevbots() -> std::io::Result<Vec<i32>> {
    let me = std::process::id() as i32;
    let uid = unsafe { libc::getuid() };
    let exe_name = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_default()
    };
    let ours = exe_name("self");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let name = entry?.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let same_user = std::fs::metadata(format!("/proc/{pid}"))
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == uid)
            .unwrap_or(false);
        if pid != me && same_user && exe_name(&pid.to_string()) == ours {
            out.push(pid);
        }
    }
    Ok(out)
}
