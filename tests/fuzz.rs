//! Bounded fuzzing (proptest) of the `/sev` grammar and of every inbound body parser, through
//! the real HTTP handlers with valid signatures so the bodies reach the parsers: Slack
//! commands (form), interactions (`payload=` JSON) and events (JSON), Discord interactions,
//! availability samples and Alertmanager webhooks.
//!
//! Bodies are Slack's, Discord's and Alertmanager's own samples (../shared/fixtures) and
//! sevbot's own shapes, each with a few values replaced by hostile ones, keys removed or
//! types changed, plus plain garbage. Every answer must come within Slack's 3 s, never be a
//! 5xx, and never carry a secret; nor may anything sevbot logged meanwhile (at debug level).
//!
//! `FUZZ_CASES` (default 200 per target) and `FUZZ_SECONDS` (default 20 per
//! target) bound the run; a failure prints the shrunk input.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};
use sevbot::adapters::console;
use sevbot::adapters::discord::DiscordSettings;
use sevbot::adapters::slack::SlackSettings;
use sevbot::adapters::slack::verify::sign;
use sevbot::app::App;
use sevbot::clock::{Clock, ManualClock};
use sevbot::domain::grammar::{self, Command};
use support::fake_discord::{self as fd, FakeDiscord};
use support::fake_slack::{APP_TOKEN, FakeSlack, TOKEN as SLACK_TOKEN};
use support::slack_app::{SECRET, block_action, payload_fixture, slash_form, view_submission};
use support::{AVAILABILITY, T0};
use tower::ServiceExt;

const MONITORING: &str = "fuzz-monitoring-secret";

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn budget() -> Duration {
    Duration::from_secs(
        std::env::var("FUZZ_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    )
}

fn runner() -> TestRunner {
    TestRunner::new(RunnerConfig {
        cases: cases(),
        failure_persistence: None,
        max_shrink_time: 30_000,
        ..RunnerConfig::default()
    })
}

// ---------------------------------------------------------------------------------------
// Inputs

/// Values that have broken parsers before: mentions and markup, ids out of range, numbers
/// as strings, huge and empty text, control characters.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("SEV-1".to_string()),
        Just("SEV-999999999999999".to_string()),
        Just("SEV-0".to_string()),
        Just("<!channel> <!here|here> <!subteam^S123>".to_string()),
        Just("@everyone <@100000000000000011> [x](https://evil.example)".to_string()),
        Just("-1".to_string()),
        Just("4".to_string()),
        Just("1e308".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\u{0}\u{1b}[2J\r\n".to_string()),
        Just("sev_update:SEV-1".to_string()),
        Just("sev_role_imoc".to_string()),
        Just("--new --private --customer-impact --".to_string()),
        Just("x".repeat(5000)),
        "[a-z_]{1,12}",
        ".{0,60}",
    ]
}

/// Any JSON value, nested a little.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        nasty_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(Index, Value),
    Remove(Index),
    /// A number or bool written as a string, or a string as a number: what loose senders do.
    Retype(Index),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        prop_oneof![
            3 => (any::<Index>(), arb_json()).prop_map(|(i, v)| Edit::Replace(i, v)),
            1 => any::<Index>().prop_map(Edit::Remove),
            1 => any::<Index>().prop_map(Edit::Retype),
        ],
        0..4,
    )
}

/// JSON pointers to every value in `v` (the root excluded).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

fn apply(mut v: Value, edits: &[Edit]) -> Value {
    for e in edits {
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        if all.is_empty() {
            return v;
        }
        match e {
            Edit::Replace(i, new) => {
                if let Some(slot) = v.pointer_mut(all[i.index(all.len())].as_str()) {
                    *slot = new.clone();
                }
            }
            Edit::Retype(i) => {
                if let Some(slot) = v.pointer_mut(all[i.index(all.len())].as_str()) {
                    *slot = match slot.take() {
                        Value::String(s) => s
                            .parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map_or(Value::Bool(true), Value::Number),
                        Value::Object(_) | Value::Array(_) => Value::String("[object]".into()),
                        other => Value::String(other.to_string()),
                    };
                }
            }
            Edit::Remove(i) => {
                let p = all[i.index(all.len())].clone();
                let (parent, last) = p.rsplit_once('/').unwrap_or(("", &p));
                let key = last.replace("~1", "/").replace("~0", "~");
                match v.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(&key);
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(n) = key.parse::<usize>()
                            && n < a.len()
                        {
                            a.remove(n);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    v
}

/// `/sev` text: mostly command-shaped (words of the grammar in a plausible order), some
/// anything at all.
fn sev_text() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        4 => prop::sample::select(vec![
            "declare", "availability", "security", "durability", "latency", "0", "1", "2", "3",
            "SEV-1", "SEV-2", "#1", "status", "list", "timeline", "note", "update", "level",
            "role", "imoc", "tloc", "bmoc", "@U_BOB", "<@U_BOB|bob>", "ack", "mitigated",
            "resolved", "close", "cancel", "impact", "draft", "edit", "approve", "subscribe",
            "unsubscribe", "type=security", "level<=1", "help", "--new", "--private",
            "--customer-impact", "--", "because",
        ]).prop_map(String::from),
        1 => nasty_string(),
    ];
    prop_oneof![
        4 => prop::collection::vec(word, 0..8).prop_map(|w| w.join(" ")),
        1 => ".{0,200}",
    ]
}

/// Everything logged while the test runs, to look for secrets in.
fn capture_logs() -> support::Captured {
    let logs = support::Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("sevbot=debug,info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    logs
}

// ---------------------------------------------------------------------------------------
// The app under test: Slack, Discord and monitoring endpoints on one router

struct Harness {
    rt: tokio::runtime::Runtime,
    router: Router,
    clock: Arc<ManualClock>,
    key: SigningKey,
    _app: App,
    _slack: FakeSlack,
    _discord: FakeDiscord,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn start() -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let clock = Arc::new(ManualClock::new(T0));
        let (app, router, slack, discord) = rt.block_on(async {
            let (slack, slack_addr) = FakeSlack::start().await;
            let (discord, discord_addr) = FakeDiscord::start().await;
            let extra = format!(
                "[discord]\nguild_id = \"{}\"\nincident_category = \"{}\"\n{}",
                fd::GUILD,
                fd::CATEGORY,
                AVAILABILITY.replace("platform = \"test\"", "platform = \"slack\"")
            );
            let mut cfg = (*support::test_config(&extra)).clone();
            cfg.database.url = format!("sqlite://{}", dir.path().join("f.db").display());
            let slack_settings = SlackSettings {
                bot_token: SLACK_TOKEN.into(),
                signing_secret: Some(SECRET.into()),
                app_token: Some(APP_TOKEN.into()),
                call_timeout: Duration::from_millis(500),
                api_url: format!("http://{slack_addr}/api"),
            };
            let discord_settings = DiscordSettings {
                bot_token: Some(fd::TOKEN.into()),
                application_id: Some(fd::APP_ID.into()),
                public_key: Some(hex::encode(key.verifying_key().to_bytes())),
                api_url: format!("http://{discord_addr}/api/v10"),
                call_timeout: Duration::from_millis(500),
            };
            let out: console::Output = Arc::new(std::sync::Mutex::new(Box::new(std::io::sink())));
            let app = App::build(
                Arc::new(cfg),
                clock.clone(),
                out,
                Some(slack_settings),
                Some(discord_settings),
            )
            .await
            .unwrap();
            let router = app.router().merge(sevbot::adapters::monitoring::routes(
                app.engine.clone(),
                MONITORING,
                None,
            ));
            (app, router, slack, discord)
        });
        let h = Harness {
            rt,
            router,
            clock,
            key,
            _app: app,
            _slack: slack,
            _discord: discord,
            _dir: dir,
        };
        // Something to act on: SEV-1 (open) and SEV-2 (security, restricted).
        for text in [
            "declare availability 1 Checkout failing",
            "declare security 2 --new Key leaked",
        ] {
            let (status, body) = h.slack(
                "/slack/commands",
                "application/x-www-form-urlencoded",
                slash_form("U_ALICE", "C_GENERAL", text),
            );
            assert_eq!(status, 200, "{body}");
        }
        h
    }

    fn send(&self, req: Request<Body>) -> (u16, String) {
        self.rt.block_on(async {
            let r = tokio::time::timeout(Duration::from_secs(3), self.router.clone().oneshot(req))
                .await
                .expect("answered within Slack's 3 s")
                .unwrap();
            let status = r.status().as_u16();
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        })
    }

    fn now_s(&self) -> i64 {
        self.clock.now_ms() / 1000
    }

    fn slack(&self, path: &str, content_type: &str, body: String) -> (u16, String) {
        let ts = self.now_s();
        let req = Request::post(path)
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header(
                "x-slack-signature",
                sign(SECRET.as_bytes(), ts, body.as_bytes()),
            )
            .body(Body::from(body))
            .unwrap();
        self.send(req)
    }

    fn discord(&self, body: String) -> (u16, String) {
        let ts = self.now_s();
        let req = Request::post("/discord/interactions")
            .header("content-type", "application/json")
            .header("x-signature-ed25519", fd::sign(&self.key, ts, &body))
            .header("x-signature-timestamp", ts.to_string())
            .body(Body::from(body))
            .unwrap();
        self.send(req)
    }

    fn monitoring(&self, path: &str, body: String) -> (u16, String) {
        let req = Request::post(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {MONITORING}"))
            .body(Body::from(body))
            .unwrap();
        self.send(req)
    }
}

/// What every answer must be: no 5xx, no secret.
fn sound(what: &str, (status, body): (u16, String)) -> Result<(), TestCaseError> {
    prop_assert!(status < 500, "{what}: {status} {body}");
    for secret in [SECRET, SLACK_TOKEN, APP_TOKEN, fd::TOKEN, MONITORING] {
        prop_assert!(
            !body.contains(secret),
            "{what}: a secret in the answer: {body}"
        );
    }
    Ok(())
}

/// Runs `strategy` through `check` for at most the configured cases and time.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let deadline = Instant::now() + budget();
    let ran = std::cell::Cell::new(0u32);
    let result = runner().run(&strategy, |input| {
        if Instant::now() > deadline {
            return Ok(());
        }
        ran.set(ran.get() + 1);
        check(input)
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    eprintln!("{name}: {} cases", ran.get());
}

fn form(pairs: &[(String, String)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

fn alertmanager_samples() -> Vec<Value> {
    let dir = format!(
        "{}/../shared/fixtures/alertmanager",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut out = Vec::new();
    for f in std::fs::read_dir(&dir).expect("../shared/fixtures/alertmanager") {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            // Captures may wrap the body with the request's metadata.
            out.push(v.get("body").cloned().unwrap_or(v));
        }
    }
    assert!(!out.is_empty());
    out
}

// ---------------------------------------------------------------------------------------
// Targets

#[test]
fn the_grammar_answers_every_text_with_a_command_or_a_usage() {
    fuzz("grammar", sev_text(), |text| {
        match grammar::parse(&text) {
            Ok(Command::Declare { level, title, .. }) => {
                prop_assert!(level.get() <= 3, "{text:?} → level {}", level.get());
                prop_assert!(!title.trim().is_empty(), "{text:?} → an empty title");
            }
            Ok(_) => {}
            Err(e) => prop_assert!(
                !e.to_string().trim().is_empty(),
                "{text:?} → an empty usage"
            ),
        }
        Ok(())
    });
}

#[test]
fn every_inbound_body_is_answered_without_a_5xx_or_a_secret() {
    let logs = capture_logs();
    let h = Harness::start();

    // Slack slash commands: grammar-shaped text in Slack's form, then forms with fields
    // removed or replaced, then bytes.
    fuzz(
        "slack commands",
        (
            sev_text(),
            prop::sample::select(vec!["U_ALICE", "U_NOBODY", "U_IAN"]),
            prop::collection::vec((any::<Index>(), prop::option::of(nasty_string())), 0..3),
        ),
        |(text, user, changes)| {
            let body = slash_form(user, "C_GENERAL", &text);
            let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
            for (i, v) in changes {
                let n = i.index(pairs.len());
                match v {
                    Some(v) => pairs[n].1 = v,
                    None => {
                        pairs.remove(n);
                    }
                }
            }
            sound(
                &text,
                h.slack(
                    "/slack/commands",
                    "application/x-www-form-urlencoded",
                    form(&pairs),
                ),
            )
        },
    );
    fuzz(
        "slack raw bodies",
        prop::collection::vec(any::<u8>(), 0..400),
        |bytes| {
            let body = String::from_utf8_lossy(&bytes).into_owned();
            sound(
                "raw",
                h.slack(
                    "/slack/commands",
                    "application/x-www-form-urlencoded",
                    body.clone(),
                ),
            )?;
            sound(
                "raw",
                h.slack(
                    "/slack/interactions",
                    "application/x-www-form-urlencoded",
                    body.clone(),
                ),
            )?;
            sound("raw", h.slack("/slack/events", "application/json", body))
        },
    );

    // Slack interactions: sevbot's buttons and forms on Slack's samples, edited.
    let interactions = vec![
        block_action("U_BOB", "C_GENERAL", "sev_update", "SEV-1"),
        block_action("U_BOB", "C_GENERAL", "sev_mitigated", "SEV-1"),
        block_action("U_NOBODY", "C_GENERAL", "sev_role_tloc", "SEV-2"),
        block_action("U_BOB", "C_GENERAL", "sev_ack", "SEV-1"),
        view_submission(
            "U_ALICE",
            "sev_declare",
            "C_GENERAL",
            json!({
                "type": { "v": { "type": "static_select", "selected_option": { "text": { "type": "plain_text", "text": "latency" }, "value": "latency" } } },
                "level": { "v": { "type": "static_select", "selected_option": { "text": { "type": "plain_text", "text": "SEV2" }, "value": "2" } } },
                "title": { "v": { "type": "plain_text_input", "value": "Search slow" } },
                "description": { "v": { "type": "plain_text_input", "value": "p99 at 4 s" } },
                "impact": { "v": { "type": "checkboxes", "selected_options": [] } }
            }),
        ),
        view_submission(
            "U_CAROL",
            "sev_update",
            "SEV-1",
            json!({ "update": { "v": { "type": "plain_text_input", "value": "Failing over" } } }),
        ),
        view_submission(
            "U_CAROL",
            "sev_draft",
            "SEV-1",
            json!({ "draft": { "v": { "type": "plain_text_input", "value": "We are on it" } } }),
        ),
        payload_fixture("BlockActionPayload"),
        payload_fixture("ViewSubmissionPayload"),
        payload_fixture("ViewClosedPayload"),
    ];
    fuzz(
        "slack interactions",
        (prop::sample::select(interactions), edits()),
        |(seed, e)| {
            let payload = apply(seed, &e).to_string();
            sound(
                &payload,
                h.slack(
                    "/slack/interactions",
                    "application/x-www-form-urlencoded",
                    form(&[("payload".into(), payload.clone())]),
                ),
            )
        },
    );

    // Slack events.
    let events: Vec<Value> = ["AppMentionPayload", "MessagePayload", "MemberJoinedChannelPayload", "ChannelCreatedPayload", "ReactionAddedPayload", "PinAddedPayload"]
        .iter()
        .map(|n| json!({ "type": "event_callback", "token": "x", "team_id": "T0001", "api_app_id": "A1", "event_id": "Ev1", "event_time": 1, "event": payload_fixture(n) }))
        .chain([json!({ "type": "url_verification", "token": "x", "challenge": "abc" })])
        .collect();
    fuzz(
        "slack events",
        (prop::sample::select(events), edits()),
        |(seed, e)| {
            let body = apply(seed, &e).to_string();
            sound(
                &body,
                h.slack("/slack/events", "application/json", body.clone()),
            )
        },
    );

    // Discord interactions: ping, /sev subcommands, buttons and forms, edited.
    let alice = "100000000000000011";
    let discord = vec![
        json!({ "id": "1", "application_id": fd::APP_ID, "type": 1, "token": "t", "version": 1 }),
        fd::command(
            "2",
            alice,
            fd::GENERAL,
            "declare",
            json!([
                { "name": "type", "type": 3, "value": "availability" },
                { "name": "level", "type": 4, "value": 2 },
                { "name": "title", "type": 3, "value": "Search slow" },
            ]),
        ),
        fd::command(
            "3",
            alice,
            fd::GENERAL,
            "status",
            json!([{ "name": "sev", "type": 3, "value": "SEV-1" }]),
        ),
        fd::command(
            "4",
            alice,
            fd::GENERAL,
            "update",
            json!([{ "name": "sev", "type": 3, "value": "SEV-1" }, { "name": "text", "type": 3, "value": "Failing over" }]),
        ),
        fd::command(
            "5",
            alice,
            fd::GENERAL,
            "role",
            json!([{ "name": "role", "type": 3, "value": "tloc" }, { "name": "user", "type": 6, "value": alice }]),
        ),
        fd::command(
            "6",
            alice,
            fd::GENERAL,
            "subscribe",
            json!([{ "name": "type", "type": 3, "value": "security" }]),
        ),
        fd::button(
            "7",
            alice,
            fd::GENERAL,
            json!({ "id": "1", "channel_id": fd::GENERAL }),
            "sev_update:SEV-1",
        ),
        fd::button(
            "8",
            alice,
            fd::GENERAL,
            json!({ "id": "1", "channel_id": fd::GENERAL }),
            "sev_ack:SEV-2",
        ),
        fd::modal_submit(
            "9",
            alice,
            fd::GENERAL,
            "sev_update:SEV-1",
            &[("text", "Failing over")],
        ),
        fd::modal_submit(
            "10",
            alice,
            fd::GENERAL,
            "sev_declare",
            &[("type", "latency"), ("level", "2"), ("title", "Slow")],
        ),
    ];
    fuzz(
        "discord interactions",
        (prop::sample::select(discord), edits()),
        |(seed, e)| {
            let body = apply(seed, &e).to_string();
            sound(&body, h.discord(body.clone()))
        },
    );

    // Monitoring: samples and Alertmanager webhooks (the real captures), edited.
    let now = h.clock.now_ms();
    let mut monitoring: Vec<(&str, Value)> = vec![(
        "/api/v1/availability",
        json!({ "samples": [
            { "route": "web-checkout", "window_start": now - 60_000, "window_end": now, "requests": 1000, "failures": 3 },
            { "route": "api-cart", "window_start": now - 60_000, "window_end": now, "requests": 10, "failures": 0 },
        ] }),
    )];
    monitoring.extend(
        alertmanager_samples()
            .into_iter()
            .map(|b| ("/hooks/alertmanager", b)),
    );
    fuzz(
        "monitoring",
        (prop::sample::select(monitoring), edits()),
        |((path, seed), e)| {
            let body = apply(seed, &e).to_string();
            sound(&body, h.monitoring(path, body.clone()))
        },
    );

    let logged = logs.text();
    assert!(logged.contains(" INFO "), "the log was captured");
    for secret in [SECRET, SLACK_TOKEN, APP_TOKEN, fd::TOKEN, MONITORING] {
        assert!(!logged.contains(secret), "a secret in the log: {secret}");
    }
}
