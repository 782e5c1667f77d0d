//! `sevbot check-config` as an operator meets it: every mistake in one run, each at its
//! place in the user's own words with the name that was meant, the environment blamed for
//! what it set, exit codes as documented, and `--explain` for who gets paged.

use std::path::Path;
use std::process::{Command, Output};

mod example;

use example::BIN;

fn example_dir() -> String {
    format!("{}/config", env!("CARGO_MANIFEST_DIR"))
}

fn check(config: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("RUST_LOG")
        .env_remove("DATABASE_URL")
        .arg("--config")
        .arg(config)
        .arg("check-config");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn edited(dir: &tempfile::TempDir, edits: &[(&str, &str)]) -> std::path::PathBuf {
    example::edited_copy(dir.path(), edits)
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_example_checks_clean() {
    let out = check(Path::new(&format!("{}/sevbot.toml", example_dir())), &[]);
    assert!(out.status.success(), "{:?}", lines(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(
        "OK (6 people, 4 rotations, 1 escalation policies, 20 routes, 1 schedules, 2 feeds, 1 drill scenarios, 0 warnings)"
    ));
}

/// Twelve mistakes of the kinds operators make (ten errors, two risky values), all reported in one run, each with the
/// name that was meant; the risky values warned about; nothing that only follows from
/// another mistake.
#[test]
fn every_mistake_at_once_with_the_name_meant() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited(
        &dir,
        &[
            (
                "[log]\njson = false",
                "[log]\njson = false\nfilterr = \"debug\"",
            ),
            (
                "email = \"alice@example.com\"",
                "emial = \"alice@example.com\"",
            ),
            (
                "members = [\"alice\", \"dave\", \"erin\"]",
                "members = [\"alice\", \"dav\", \"erin\"]",
            ),
            (
                "timezone = \"Europe/London\"",
                "timezone = \"Europe/Londn\"",
            ),
            ("role = \"bmoc\"", "role = \"bmco\""),
            (
                "types = [\"security\"]\nmembers",
                "types = [\"secrity\"]\nmembers",
            ),
            ("target = \"exec\" }", "target = \"execs\" }"),
            ("cron = \"0 9,17 * * 1-5\"", "cron = \"0 9,17 * * mon-fry\""),
            (
                "platform = \"console\"\nchannel = \"sev-feed\"\nmax_level",
                "platform = \"slak\"\nchannel = \"sev-feed\"\nmax_level",
            ),
            ("confirm_minutes = 3 ", "confirm_minutes = 0 "),
            (
                "prometheus_poll_seconds = 30",
                "prometheus_poll_seconds = 1",
            ),
            (
                "handles = { console = \"bob\" }",
                "handles = { console = \"bob\" }\nmanager = \"carl\"",
            ),
        ],
    );
    let out = check(&path, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "errors exit 1 as the README says"
    );
    let got = lines(&out);
    let p = path.display().to_string();
    let expected = [
        "error: log.filterr: unknown key \"filterr\"; did you mean \"filter\"?",
        "error: people[0] (alice).emial: unknown key \"emial\"; did you mean \"email\"?",
        "error: rotations[2] (security-tech-leads).types[0]: unknown value \"secrity\"; did you mean \"security\"?",
        "error: rotations[3] (business-managers).role: unknown value \"bmco\"; did you mean \"bmoc\"?",
        "error: people[3] (dave).timezone: unknown timezone \"Europe/Londn\"; did you mean \"Europe/London\"?",
        "error: rotations[0] (incident-managers).members[1]: unknown person \"dav\"; did you mean \"dave\"?",
        "error: feeds[0].platform: unknown platform \"slak\"; did you mean \"slack\"?",
        "error: escalation_policies[0] (critical).steps[2]: target \"execs\" is not one of secondary, manager, exec, person:<id>, rotation:<name>; did you mean \"exec\"?",
        "error: schedules[0] (weekday digest).cron: \"0 9,17 * * mon-fry\": day of week \"mon-fry\" is not valid: \"fry\" is not a day of week; did you mean \"fri\"?",
        "error: people[1] (bob).manager: unknown person \"carl\"; did you mean \"carol\"?",
        "warning: availability.confirm_minutes: 0 files an availability SEV on the first bad sample",
        "warning: availability.prometheus_poll_seconds: 1 is raised to 5",
    ];
    for e in expected {
        let line = format!("{p}: {e}");
        assert!(
            got.iter().any(|g| g.starts_with(&line)),
            "missing {line:?} in:\n{}",
            got.join("\n")
        );
    }
    assert_eq!(got.last().unwrap(), &format!("{p}: 10 errors, 2 warnings"));
    assert_eq!(got.len(), expected.len() + 1, "nothing else: {got:#?}");
    let all = got.join("\n");
    assert!(!all.contains("default."), "no profile name in key paths");
    assert!(
        !all.contains("FRY"),
        "the user's cron text, not croner's rewrite"
    );
}

/// One bad timezone on a rotation is one error, not also "no IMOC rotation" and gaps.
#[test]
fn a_mistake_does_not_cascade() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited(
        &dir,
        &[(
            "timezone = \"Europe/Berlin\"\nstart_date = \"2026-01-05\"\nhandoff_time = \"09:00\"\nperiod_days = 7",
            "timezone = \"Europe/Berln\"\nstart_date = \"2026-01-05\"\nhandoff_time = \"09:00\"\nperiod_days = 7",
        )],
    );
    let out = check(&path, &[]);
    let got = lines(&out);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].ends_with(
        "error: rotations[0] (incident-managers).timezone: unknown timezone \"Europe/Berln\"; did you mean \"Europe/Berlin\"? (an IANA name like Europe/Berlin)"
    ));
    // A rotation left out for a bad role keeps the file's indices for the ones after it,
    // and its role is not also reported as uncovered.
    let path = edited(
        &dir,
        &[
            ("role = \"imoc\"", "role = \"boss\""),
            (
                "members = [\"bob\", \"frank\"]",
                "members = [\"bob\", \"frank\", \"zed\"]",
            ),
        ],
    );
    let got = lines(&check(&path, &[]));
    assert!(got[0].ends_with("error: rotations[0] (incident-managers).role: unknown value \"boss\" (one of: imoc, tloc, bmoc)"), "{got:#?}");
    assert!(got[1].ends_with("error: rotations[1] (platform-tech-leads).members[2]: unknown person \"zed\" (add them under [[people]])"), "{got:#?}");
    assert_eq!(got.len(), 3, "{got:#?}");
}

#[test]
fn the_environment_is_blamed_for_what_it_sets() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited(&dir, &[]);
    let out = check(
        &path,
        &[
            ("SEVBOT_LOG__FILTERR", "debug"),
            ("SEVBOT_SERVER__POLL_INTERVAL_MS", "fast"),
            ("SEVBOT_DISCORD__ARCHIVE_RETENTION_DAYS", "many"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let got = lines(&out).join("\n");
    for e in [
        "error: environment SEVBOT_LOG__FILTERR: unknown key \"filterr\"; did you mean \"filter\"?",
        "error: environment SEVBOT_SERVER__POLL_INTERVAL_MS: expected u64, found string \"fast\"",
        "error: environment SEVBOT_DISCORD__ARCHIVE_RETENTION_DAYS:",
    ] {
        assert!(got.contains(e), "missing {e:?} in:\n{got}");
    }
    assert!(got.ends_with(": 3 errors, 0 warnings"), "{got}");
}

#[test]
fn files_that_do_not_read_exit_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--config", "/nonexistent.toml", "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with(
        "error: /nonexistent.toml: file not found (pass --config or set SEVBOT_CONFIG)"
    ));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "admins = [\n").unwrap();
    let out = check(&bad, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TOML parse error at line 1"), "{err}");
    // A mistake in the routes file is located in it.
    let path = edited(&dir, &[]);
    let routes = dir.path().join("routes.toml");
    let text = std::fs::read_to_string(&routes).unwrap();
    std::fs::write(&routes, text.replacen("bucket = ", "buckt = ", 1)).unwrap();
    let got = lines(&check(&path, &[])).join("\n");
    assert!(
        got.contains("routes.toml: routes[0] (")
            && got.contains("unknown key \"buckt\"; did you mean \"bucket\"?"),
        "{got}"
    );
}

/// Who is on call and the ladder each level climbs, at a time given: the example's
/// rotations start on 2026-01-05 and hand over weekly (IMOC: alice, dave, erin).
#[test]
fn explain_says_who_gets_paged_at_a_given_time() {
    let config = format!("{}/sevbot.toml", example_dir());
    let out = Command::new(BIN)
        .args([
            "--config",
            &config,
            "check-config",
            "--explain",
            "--at",
            "2026-01-06T12:00:00Z",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for e in [
        "On call at 2026-01-06 12:00 UTC:",
        "  IMOC: alice (rotation incident-managers)",
        "    availability, durability, feature-degradation SEVs: bob (rotation platform-tech-leads)",
        "    security SEVs: frank (rotation security-tech-leads)",
        "  BMOC (filled for SEV0 and SEV1, and any SEV declared --customer-impact): carol (rotation business-managers)",
        "  SEV0: policy critical: page alice (IMOC); 5 min → secondary on call (dave); 10 min → manager (carol); 20 min → exec (frank)",
        "  SEV1: policy default: page alice (IMOC); 5 min → secondary on call (dave); 15 min → manager (carol); 30 min → exec (frank)",
    ] {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
    // A week later the IMOC has handed over.
    let out = Command::new(BIN)
        .args([
            "--config",
            &config,
            "check-config",
            "--explain",
            "--at",
            "2026-01-13T12:00:00+01:00",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  IMOC: dave (rotation incident-managers)"),
        "{text}"
    );
    let out = Command::new(BIN)
        .args([
            "--config",
            &config,
            "check-config",
            "--at",
            "2026-01-13T12:00:00Z",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "--at needs --explain");
}

/// The Slack and Discord deployment examples check clean and send everything to their
/// platform: a feed, schedule or monitoring SEV left on "console" would print to a
/// container's stdout and reach nobody.
#[test]
fn deployment_examples_post_on_their_platform() {
    for platform in ["slack", "discord"] {
        let path = format!("{}/{platform}.toml", example_dir());
        let out = check(Path::new(&path), &[]);
        assert!(out.status.success(), "{platform}: {:?}", lines(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("0 warnings"), "{platform}: {stdout}");
        let checked = sevbot::config::check(Some(Path::new(&path)));
        let cfg = checked.config.unwrap();
        assert!(!cfg.feeds.is_empty() && !cfg.schedules.is_empty());
        let mut places: Vec<(&str, &str)> = vec![];
        places.extend(cfg.feeds.iter().map(|f| ("feed", f.platform.as_str())));
        places.extend(
            cfg.schedules
                .iter()
                .map(|s| ("schedule", s.platform.as_str())),
        );
        places.push(("availability", cfg.availability.platform.as_str()));
        let updates = cfg.availability.customer_updates.as_ref().unwrap();
        places.push(("customer updates", updates.platform.as_str()));
        for (what, on) in places {
            assert_eq!(on, platform, "{platform}.toml: a {what} on {on}");
        }
        // Everyone can be reached there: by a handle, or (Slack) by e-mail.
        for p in &cfg.people {
            let reachable =
                p.handles.contains_key(platform) || (platform == "slack" && p.email.is_some());
            assert!(reachable, "{platform}.toml: {} cannot be found", p.id);
        }
        if platform == "discord" {
            assert!(cfg.discord.guild_id.is_some(), "channels need the server");
        }
    }
}
