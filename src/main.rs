use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sevbot::app::{self, ConsoleMode};
use sevbot::{config, ops};

/// sevbot — declare, page, escalate and communicate incidents (SEVs).
///
/// With no chat platform configured, `sevbot` opens a terminal console where you type
/// `/sev …` commands as a user in a channel (`:as bob`, `:in #general` switch). Piped input
/// is run as a script. The database is SQLite (`sevbot.db`) unless DATABASE_URL says
/// otherwise.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Configuration file (default: config/sevbot.toml when present).
    #[arg(long, global = true, env = "SEVBOT_CONFIG")]
    config: Option<PathBuf>,
    /// Log as JSON lines (to stderr).
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the bot: HTTP server (/healthz, /readyz, /metrics), outbox, scheduler, and the
    /// console or the configured platforms. The default.
    ///
    /// Platforms and integrations are switched on by their secrets in the environment:
    /// SLACK_BOT_TOKEN (+ SLACK_SIGNING_SECRET for HTTP, SLACK_APP_TOKEN for Socket Mode);
    /// DISCORD_BOT_TOKEN, DISCORD_APPLICATION_ID (+ DISCORD_PUBLIC_KEY for HTTP
    /// interactions); PAGERDUTY_ROUTING_KEY; MONITORING_TOKEN for POST
    /// /api/v1/availability and /hooks/alertmanager; PROMETHEUS_URL to poll Prometheus.
    /// SLACK_API_URL, DISCORD_API_URL and [pagerduty] events_url point at other servers.
    Run {
        /// auto: the console unless a chat platform is configured; off: serve only.
        #[arg(long, value_enum, default_value_t = ConsoleMode::Auto)]
        console: ConsoleMode,
    },
    /// Check the configuration and report every problem with its location (exit 1 on
    /// errors; warnings alone exit 0).
    CheckConfig {
        /// Also print who is on call for each role now and the ladder each level gets.
        #[arg(long)]
        explain: bool,
        /// With --explain: at this time instead of now (RFC 3339, e.g.
        /// 2026-12-05T03:00:00+01:00), to check a weekend night before it comes.
        #[arg(long, requires = "explain", value_parser = parse_time)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Re-read the configuration in the running sevbot, without a restart: checks the file
    /// first (exit 1, and nothing changes, when it has errors), then sends SIGHUP to the
    /// running sevbot processes of this user (or to --pid). Open SEVs keep their ladders.
    Reload {
        /// The process to signal, instead of every other sevbot of this user.
        #[arg(long)]
        pid: Option<i32>,
    },
    /// Inspect and act on outbound messages that failed or are stuck.
    ///
    /// Reads the database the configuration (or DATABASE_URL) names; a running sevbot
    /// picks up a retried row within its poll interval.
    Outbox {
        #[command(subcommand)]
        action: OutboxCmd,
    },
    /// Check that SEV timelines are as sevbot wrote them.
    Audit {
        #[command(subcommand)]
        action: AuditCmd,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Walk each SEV's hash-chained timeline (or one SEV's) and name the first entry that
    /// was changed, removed or added beside sevbot. Prints each SEV's head hash: record it
    /// elsewhere to catch a rewrite of the whole chain. Exit 1 when a chain is broken.
    Verify {
        /// One SEV (e.g. SEV-12); all when omitted.
        sev: Option<String>,
    },
}

#[derive(Subcommand)]
enum OutboxCmd {
    /// Failed rows, and pending rows that have failed at least once or are over a
    /// minute late, with the reason.
    List {
        /// Every pending row too.
        #[arg(long)]
        all: bool,
    },
    /// Send a failed or waiting row again now (after fixing the cause).
    Retry { id: i64 },
    /// Give up on a row: it is kept as `dropped` and its queue moves on.
    Drop { id: i64 },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = config::resolve_path(cli.config.clone());
    let checked = config::check(path.as_deref());
    let json = cli.log_json || checked.log.json;
    let command = cli.command.unwrap_or(Cmd::Run {
        console: ConsoleMode::Auto,
    });
    let default_filter = match command {
        // The console shares the terminal: keep it to warnings there.
        Cmd::Run {
            console: ConsoleMode::Off,
        } => "sevbot=info,warn",
        Cmd::Run { .. } => "warn",
        Cmd::CheckConfig { .. } | Cmd::Reload { .. } | Cmd::Outbox { .. } | Cmd::Audit { .. } => {
            "warn"
        }
    };
    init_logging(
        json,
        checked.log.filter.as_deref().unwrap_or(default_filter),
    );
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(none: built-in defaults and the environment)".into()),
        "configuration read"
    );
    for name in config::ignored_env() {
        tracing::debug!(
            variable = name,
            "not read: only SEVBOT_<SECTION>__<KEY> of a known section (and SEVBOT_CONFIG, SEVBOT_HTTP_ADDR) are"
        );
    }
    let where_from = path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in defaults".into());
    let config::Checked {
        config: cfg,
        problems,
        ..
    } = checked;
    for p in &problems {
        if p.location.starts_with(&where_from) {
            eprintln!("{p}");
        } else {
            eprintln!("{where_from}: {p}");
        }
    }
    let errors = problems.iter().filter(|p| p.fatal).count();
    if errors > 0 {
        let warnings = problems.len() - errors;
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        eprintln!(
            "{where_from}: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        );
    }
    match command {
        Cmd::CheckConfig { explain, at } => match cfg {
            Some(c) => {
                if explain {
                    let at = at.unwrap_or_else(chrono::Utc::now);
                    println!("{}", config::explain(&c, at));
                }
                println!(
                    "{where_from}: OK ({} people, {} rotations, {} escalation policies, {} routes, {} schedules, {} feeds, {} drill scenarios, {} warnings)",
                    c.people.len(),
                    c.rotations.len(),
                    c.policies.len(),
                    c.availability.routes.len(),
                    c.schedules.len(),
                    c.feeds.len(),
                    c.drills.scenarios.len(),
                    problems.len()
                );
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        },
        Cmd::Reload { pid } => {
            if cfg.is_none() {
                eprintln!(
                    "not reloaded: fix the errors above; the running sevbot keeps its configuration."
                );
                return ExitCode::from(1);
            }
            reload(pid, &where_from)
        }
        Cmd::Outbox { action } => {
            let action = match action {
                OutboxCmd::List { all } => ops::OutboxAction::List { all },
                OutboxCmd::Retry { id } => ops::OutboxAction::Retry(id),
                OutboxCmd::Drop { id } => ops::OutboxAction::Drop(id),
            };
            operate(cfg, |store| async move {
                let text =
                    ops::outbox(&store, action, chrono::Utc::now().timestamp_millis()).await?;
                Ok((text, true))
            })
        }
        Cmd::Audit {
            action: AuditCmd::Verify { sev },
        } => {
            let only = match sev
                .as_deref()
                .map(|s| sevbot::domain::SevId::parse(s).ok_or(s))
            {
                Some(Err(s)) => {
                    eprintln!("{s:?} is not a SEV id; write it as SEV-12 (or #12).");
                    return ExitCode::from(1);
                }
                Some(Ok(id)) => Some(id),
                None => None,
            };
            operate(cfg, |store| async move {
                let r = sevbot::audit::verify(&store, only).await?;
                Ok((r.text, r.intact))
            })
        }
        Cmd::Run { console } => {
            let Some(cfg) = cfg else {
                eprintln!(
                    "sevbot did not start: fix the errors above (`sevbot check-config` lists them)."
                );
                return ExitCode::from(1);
            };
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(app::run(cfg, console, path)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sevbot stopped: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[cfg(unix)]
fn reload(pid: Option<i32>, config: &str) -> ExitCode {
    match sevbot::reload::signal_running(pid) {
        Ok(pids) if pids.is_empty() => {
            eprintln!("no running sevbot found for this user (pass --pid, or send it SIGHUP)");
            ExitCode::from(1)
        }
        Ok(pids) => {
            let pids: Vec<String> = pids.iter().map(i32::to_string).collect();
            println!(
                "{config} checks; asked sevbot (pid {}) to reload it. It logs \"configuration reloaded\", or why it refused and kept the one in force.",
                pids.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("could not signal sevbot: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(not(unix))]
fn reload(_pid: Option<i32>, _config: &str) -> ExitCode {
    eprintln!("reload needs a Unix signal; restart sevbot instead");
    ExitCode::from(1)
}

/// Runs an operator command against the configured database: its text on stdout and exit 0
/// when it succeeded, on stderr and exit 1 when it was refused or found a problem.
fn operate<F, Fut>(cfg: Option<config::Config>, f: F) -> ExitCode
where
    F: FnOnce(sevbot::store::Store) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(String, bool)>>,
{
    let Some(cfg) = cfg else {
        eprintln!("fix the configuration errors above first (`sevbot check-config`).");
        return ExitCode::from(1);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let store = sevbot::store::Store::connect(&cfg.database.url).await?;
        f(store).await
    });
    match result {
        Ok((text, true)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok((text, false)) => {
            println!("{text}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::from(1)
        }
    }
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| format!("\"{s}\" is not a time like 2026-12-05T03:00:00+01:00"))
}

fn init_logging(json: bool, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // Colour only on a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        // One flat object per line: the event's and its spans' fields beside `message`,
        // so collectors index `sev`, `platform` and `error` directly.
        builder
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(sevbot::logging::FlatJson)
            .init();
    } else {
        builder.init();
    }
}
