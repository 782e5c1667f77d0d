//! The real binary, driven the way a newcomer would: a scripted console session, a restart,
//! the HTTP endpoints, and the CLI.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

mod example;

use example::BIN;

fn sevbot(dir: &tempfile::TempDir) -> Command {
    example::sevbot(dir.path())
}

/// Runs sevbot with `script` on stdin; `cmd` may carry extra environment.
fn feed(mut cmd: Command, script: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sevbot");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn run_script(dir: &tempfile::TempDir, script: &str) -> String {
    let out = feed(sevbot(dir), script);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "sevbot failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn scripted_console_session_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_script(
        &dir,
        "/sev declare availability 1 Checkout failing\n\
         :in #sev-1-checkout-failing\n\
         /sev update payments provider returns 502s\n\
         /sev level 0 all regions\n\
         /sev mitigated\n\
         /sev resolved\n\
         :as erin\n\
         /sev close\n\
         /sev close\n\
         /sev frobnicate\n",
    );
    for expected in [
        "alice@#general> /sev declare availability 1 Checkout failing",
        "#general | sevbot: SEV-1 declared: SEV1 availability \"Checkout failing\". Channel #sev-1-checkout-failing.",
        "+ sevbot created channel #sev-1-checkout-failing",
        "#sev-1-checkout-failing | sevbot: @alice posted an update: payments provider returns 502s",
        "#sev-1-checkout-failing | sevbot: @alice changed the level SEV1 → SEV0: all regions",
        // erin is an admin: she may close whoever holds the IMOC role this week.
        "#sev-1-checkout-failing | sevbot: @erin moved it resolved → closed",
        "SEV-1 is closed; nothing more can change but its notes",
        "Unknown command \"frobnicate\".",
        "(edited message",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    // The feed configured in config/sevbot.toml got one announcement, then edits.
    assert_eq!(
        out.matches("#sev-feed | sevbot: [feed] SEV-1").count(),
        1,
        "{out}"
    );
    assert!(out.contains("#sev-feed | sevbot (edited message"), "{out}");

    let out = run_script(&dir, "/sev list\n/sev timeline SEV-1\n");
    assert!(
        out.contains("SEV-1 SEV0 availability · closed · Checkout failing"),
        "{out}"
    );
    assert!(out.contains("@erin moved it resolved → closed"), "{out}");
    assert!(
        !out.contains("+ sevbot created"),
        "nothing is re-sent after a restart:\n{out}"
    );
}

#[test]
fn console_switches_user_and_channel() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_script(
        &dir,
        ":as bob\n:in #ops\n/sev declare security 2 Token leaked\n:channels\n:bogus\n/deploy now\n",
    );
    assert!(
        out.contains("bob@#ops> /sev declare security 2 Token leaked"),
        "{out}"
    );
    assert!(
        out.contains("+ sevbot created private channel #sev-1-security"),
        "{out}"
    );
    assert!(out.contains("channels: #sev-1-security"), "{out}");
    // The example config's feeds: #sev-feed sees a restricted SEV as one redacted line,
    // the private #security-team feed in full.
    assert!(
        out.contains(
            "#sev-feed | sevbot: [feed] SEV-1 · security · restricted — details in its private channel"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "#security-team | sevbot: [feed] SEV-1 · SEV2 security · declared · Token leaked"
        ),
        "{out}"
    );
    for line in out.lines().filter(|l| l.contains("Token leaked")) {
        assert!(
            !line.starts_with('#')
                || line.contains("(only you)")
                || line.starts_with("#sev-1-security")
                || line.starts_with("#security-team"),
            "told outside: {line}"
        );
    }
    assert!(out.contains("(unknown console command :bogus)"), "{out}");
    assert!(
        out.contains("(no such slash command /deploy; sevbot answers /sev)"),
        "{out}"
    );
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::get(format!("http://{addr}{path}"))
            .await
            .expect("http get");
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn http_health_readiness_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = sevbot(&dir)
        .env("RUST_LOG", "sevbot=info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addr = None;
    for line in stderr.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("addr=").nth(1) {
            addr = Some(rest.split_whitespace().next().unwrap().to_string());
            // The start-up line says what is running and how it can be reached.
            for field in [
                concat!("version=\"", env!("CARGO_PKG_VERSION"), "\""),
                "platforms=\"console\"",
                "integrations=\"none\"",
                "database=\"sqlite://",
            ] {
                assert!(line.contains(field), "{field} missing from: {line}");
            }
            break;
        }
    }
    let addr = addr.expect("sevbot logs the address it listens on");
    // Keep reading its logs, so the process never writes to a closed pipe.
    std::thread::spawn(move || stderr.for_each(drop));
    writeln!(stdin, "/sev declare availability 2 Search slow").unwrap();
    writeln!(stdin, "/sev nonsense").unwrap();
    writeln!(stdin, "/sev SEV-9 status").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1500));

    assert_eq!(http_get(&addr, "/healthz"), (200, "ok\n".into()));
    let (status, ready) = http_get(&addr, "/readyz");
    assert_eq!(status, 200, "{ready}");
    assert!(
        ready.starts_with("ready\nreplica ") && ready.ends_with("\nleads nothing\n"),
        "a console run leads no duty: {ready}"
    );
    let (status, metrics) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    for m in [
        "sevbot_commands_total{command=\"declare\"} 1",
        "sevbot_commands_total{command=\"invalid\"} 1",
        "sevbot_refusals_total{reason=\"no_such_sev\"} 1",
        "sevbot_sevs_declared_total{type=\"availability\",level=\"SEV2\"} 1",
        "sevbot_outbox_deliveries_total{platform=\"console\",effect=\"create_channel\",result=\"ok\"} 1",
        "sevbot_jobs_pending",
        "sevbot_pages_total",
        "sevbot_pages_sent_total{via=\"console\"}",
        "sevbot_outbox_rows{state=\"failed\"}",
        "sevbot_outbox_oldest_ready_seconds",
        // Group commit: real histograms (their buckets) with the commands written so far.
        "sevbot_group_commit_size_bucket{le=\"256\"}",
        "sevbot_write_seconds_bucket{le=\"1\"}",
        "# HELP sevbot_write_seconds ",
        concat!(
            "sevbot_build_info{version=\"",
            env!("CARGO_PKG_VERSION"),
            "\"} 1"
        ),
        "# HELP sevbot_commands_total ",
    ] {
        assert!(metrics.contains(m), "missing {m} in:\n{metrics}");
    }
    assert_eq!(http_get(&addr, "/nope").0, 404);
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// What an operator does about a row that failed for good: list it with its reason, send
/// it again once the cause is fixed, or give up on it.
#[test]
fn the_outbox_command_lists_retries_and_drops_failed_rows() {
    let dir = tempfile::tempdir().unwrap();
    run_script(&dir, "/sev declare availability 2 Search slow\n");
    let url = format!("sqlite://{}", dir.path().join("sevbot.db").display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // As a revoked Slack token leaves a row: failed, with the platform's reason and the fix.
    let id: i64 = rt.block_on(async {
        let store = sevbot::store::Store::connect(&url).await.unwrap();
        let now = chrono::Utc::now().timestamp_millis() - 120_000;
        sqlx::query_scalar(
            "INSERT INTO outbox (platform, queue, effect, created_at, next_attempt_at, status, attempts, last_error, version) \
             VALUES ('slack', 'slack:SEV-1', '{\"effect\":\"archive_channel\",\"sev\":1}', $1, $2, 'failed', 3, $3, 2) RETURNING id",
        )
        .bind(now)
        .bind(now)
        .bind("conversations.archive: invalid_auth (check SLACK_BOT_TOKEN)")
        .fetch_one(&store.pool)
        .await
        .unwrap()
    });
    let outbox = |args: &[&str]| {
        let out = sevbot(&dir).arg("outbox").args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, list, err) = outbox(&["list"]);
    assert_eq!(code, Some(0), "{err}");
    let line = list
        .lines()
        .find(|l| l.starts_with(&id.to_string()))
        .unwrap_or_else(|| panic!("{list}"));
    for part in [
        "failed",
        "slack:SEV-1",
        "archive",
        "invalid_auth (check SLACK_BOT_TOKEN)",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    let (code, out, _) = outbox(&["retry", &id.to_string()]);
    assert_eq!(code, Some(0));
    assert!(out.contains("will be sent again"), "{out}");
    let (_, all, _) = outbox(&["list", "--all"]);
    assert!(all.contains("pending"), "{all}");
    let (code, out, _) = outbox(&["drop", &id.to_string()]);
    assert_eq!(code, Some(0));
    assert!(out.contains("dropped"), "{out}");
    assert_eq!(
        outbox(&["list"]).1.trim(),
        "Nothing failed or stuck in the outbox."
    );
    let (code, _, err) = outbox(&["retry", "999999"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("No failed or pending outbox row 999999"),
        "{err}"
    );
}

/// `sevbot audit verify` on the database a console session left: intact, then, after an
/// edit made with SQL, the SEV and entry that no longer fit, with exit code 1.
#[test]
fn audit_verify_names_the_entry_changed_beside_sevbot() {
    let dir = tempfile::tempdir().unwrap();
    run_script(
        &dir,
        "/sev declare availability 2 Search slow\n/sev SEV-1 update Rolled back\n",
    );
    let audit = |args: &[&str]| {
        let out = sevbot(&dir)
            .args(["audit", "verify"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = audit(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("SEV-1: intact, ") && out.contains("1 SEV(s) checked: 1 intact, 0 broken."),
        "{out}"
    );

    let db = sql_on_file(
        &dir,
        &[
            "DROP TRIGGER incident_events_no_update",
            "UPDATE incident_events SET detail = replace(detail, 'Rolled back', 'All fine') WHERE kind = 'update'",
        ],
    );
    let (code, out, _) = audit(&["SEV-1"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with(&format!("SEV-1: BROKEN at entry {db} (row ")),
        "{out}"
    );
    let (code, _, err) = audit(&["SEV-9"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("There is no SEV-9"), "{err}");
    let (code, _, err) = audit(&["banana"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("\"banana\" is not a SEV id"), "{err}");
}

/// Runs statements on the test's SQLite file; returns the position of the SEV-1 entry
/// the last statement touched (the update).
fn sql_on_file(dir: &tempfile::TempDir, statements: &[&str]) -> i64 {
    let url = format!("sqlite://{}", dir.path().join("sevbot.db").display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = sevbot::store::Store::connect(&url).await.unwrap();
        for q in statements {
            sqlx::query(sqlx::AssertSqlSafe(q.to_string()))
                .execute(&store.pool)
                .await
                .unwrap();
        }
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_events WHERE sev_id = 1 AND id <= \
             (SELECT id FROM incident_events WHERE kind = 'update')",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap()
    })
}

/// A server that nobody can talk to says so loudly at start-up, in text and in JSON.
#[test]
fn a_bot_nothing_can_reach_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // The start-up log lines up to one containing `until`, with or without --log-json.
    let start = |json: bool, until: &str| -> Vec<String> {
        let mut cmd = sevbot(&dir);
        cmd.env("RUST_LOG", "sevbot=info")
            .env_remove("SLACK_APP_TOKEN")
            .env_remove("DISCORD_PUBLIC_KEY");
        if json {
            cmd.arg("--log-json");
        }
        let mut child = cmd
            .args(["run", "--console", "off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = vec![];
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            let done = line.contains(until);
            lines.push(line);
            if done {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        lines
    };
    let text = start(false, "sevbot started");
    assert!(
        text.iter()
            .any(|l| l.contains("ERROR") && l.contains("nothing can reach sevbot")),
        "no warning that nothing can reach the bot: {text:?}"
    );
    assert!(
        text.last().unwrap().contains("platforms=\"none\""),
        "{text:?}"
    );
    // One flat object per line.
    for line in start(true, "sevbot started") {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(v.get("fields").is_none(), "{v}");
        if v["message"] == "sevbot started" {
            assert_eq!(v["platforms"], "none", "{v}");
            assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{v}");
        }
    }
    // The example's feeds, schedule and customer updates go to the console, which is off:
    // each is named, with why nothing will show them.
    let text = start(false, "availability.customer_updates");
    for place in [
        "feeds[0] (console sev-feed)",
        "schedules[0] (weekday digest)",
        "availability.customer_updates",
    ] {
        assert!(
            text.iter().any(|l| l.contains("WARN")
                && l.contains(place)
                && l.contains("the console is off: its posts only reach standard output")),
            "{place}: {text:#?}"
        );
    }
}

#[test]
fn help_documents_every_subcommand() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for s in [
        "run",
        "check-config",
        "reload",
        "outbox",
        "audit",
        "--config",
        "--log-json",
    ] {
        assert!(text.contains(s), "{s} missing from --help:\n{text}");
    }
    let out = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--console"));
    let out = Command::new(BIN)
        .args(["check-config", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--explain") && text.contains("--at"),
        "{text}"
    );
}

#[test]
fn bad_database_url_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = sevbot(&dir)
        .env("DATABASE_URL", "mysql://u:hunter2@h/db")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported database URL"), "{err}");
    assert!(
        !err.contains("hunter2"),
        "secrets must not be printed: {err}"
    );
}

#[test]
fn a_busy_http_port_only_warns_in_the_console_but_stops_a_server() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = sevbot(&dir);
    cmd.env("SEVBOT_HTTP_ADDR", &addr);
    let out = feed(cmd, "/sev list\n");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("No open SEVs."));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("warning: cannot listen on {addr}")),
        "{err}"
    );

    let out = sevbot(&dir)
        .env("SEVBOT_HTTP_ADDR", &addr)
        .args(["run", "--console", "off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));
}

#[test]
fn environment_overrides_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = sevbot(&dir);
    cmd.env("SEVBOT_CONSOLE__USER", "bob")
        .env("SEVBOT_CONSOLE__CHANNEL", "#ops");
    let out = feed(cmd, "/sev list\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("bob@#ops> /sev list"), "{stdout}");
    assert!(
        dir.path().join("sevbot.db").exists(),
        "DATABASE_URL chose the file"
    );
}

/// ARCHITECTURE.md names files; each must exist, so the map cannot drift from the code.
#[test]
fn architecture_names_only_files_that_exist() {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/ARCHITECTURE.md")).unwrap();
    let mut files: Vec<String> = vec![];
    let mut walk = vec![
        std::path::PathBuf::from(format!("{root}/src")),
        format!("{root}/tests").into(),
    ];
    while let Some(dir) = walk.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk.push(p);
            } else {
                files.push(p.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut named = 0;
    for quoted in text.split('`').skip(1).step_by(2) {
        let path = quoted.split("::").next().unwrap_or_default();
        if !path.ends_with(".rs") || path.contains('<') {
            continue;
        }
        named += 1;
        assert!(
            files.iter().any(|f| f.ends_with(&format!("/{path}"))),
            "ARCHITECTURE.md names `{path}`, which does not exist"
        );
    }
    assert!(named > 30, "{named} files named");
}

/// The modules of `src/` as a graph of who imports whom (`crate::…` and `super::…` paths
/// outside tests): no cycles, and the domain imports nothing but itself.
#[test]
fn modules_import_without_cycles_and_the_domain_stands_alone() {
    use std::collections::{BTreeMap, BTreeSet};
    let src = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut walk = vec![src.clone()];
    while let Some(dir) = walk.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap().to_string();
                files.insert(parts.join("::"), code);
            }
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &files {
        let me: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        for (i, _) in code.match_indices("::") {
            // The path this `::` belongs to, from its first segment.
            let start = code[..i]
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(0, |p| p + 1);
            let path: String = code[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if !(path.starts_with("crate::") || path.starts_with("super::")) {
                continue;
            }
            let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Vec<String> = match segs.first() {
                Some(&"crate") => vec![],
                _ => me[..me.len().saturating_sub(1)]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            };
            segs.remove(0);
            base.extend(segs.iter().map(|s| s.to_string()));
            // `use super::{blocks, views::Intent}`: each head of the group is a path too.
            let mut paths = vec![base.clone()];
            let after = &code[start + path.len()..];
            if let Some(group) = after.strip_prefix('{') {
                let mut depth = 0;
                let end = group
                    .find(|c| {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => return true,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        false
                    })
                    .unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let head = item.trim().split("::").next().unwrap_or_default();
                    if !head.is_empty() && head != "self" {
                        let mut p = base.clone();
                        p.push(
                            head.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'))
                                .to_string(),
                        );
                        paths.push(p);
                    }
                }
            }
            for p in paths {
                let target = (1..=p.len())
                    .rev()
                    .map(|n| p[..n].join("::"))
                    .find(|k| modules.contains(k));
                if let Some(t) = target
                    && t != *module
                    && !t.starts_with(&format!("{module}::"))
                    && !module.starts_with(&format!("{t}::"))
                {
                    edges.entry(module.clone()).or_default().insert(t);
                }
            }
        }
    }
    for (m, targets) in &edges {
        if m.starts_with("domain") {
            for t in targets {
                assert!(t.starts_with("domain"), "the domain imports {t} (in {m})");
            }
        }
    }
    // The layers, lowest first: a module imports only its own layer and those below
    // (ARCHITECTURE.md draws them).
    let layer = |m: &str| -> usize {
        let top = m.split("::").next().unwrap_or_default();
        let layers: [&[&str]; 6] = [
            &["domain", "clock"],
            &["config", "store", "effects"],
            &["engine"],
            &[
                "delivery",
                "scheduler",
                "audit",
                "ops",
                "reload",
                "leadership",
            ],
            &["adapters", "http", "logging", "web"],
            &["app", ""],
        ];
        layers
            .iter()
            .position(|l| l.contains(&top))
            .unwrap_or_else(|| panic!("{m}: which layer? (tests/binary.rs)"))
    };
    let mut upward = vec![];
    for (m, targets) in &edges {
        for t in targets {
            if layer(t) > layer(m) {
                upward.push(format!("{m} -> {t}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a lower layer to a higher one: {upward:#?}"
    );
    // Depth-first search for a cycle, naming it.
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(i) = path.iter().position(|p| p == m) {
            panic!("import cycle: {} -> {m}", path[i..].join(" -> "));
        }
        if done.contains(m) {
            return;
        }
        path.push(m.to_string());
        for t in edges.get(m).into_iter().flatten() {
            visit(t, edges, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        visit(m, &edges, &mut vec![], &mut done);
    }
    assert!(edges.len() > 40, "{} modules import others", edges.len());
}
