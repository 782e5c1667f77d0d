//! The same scripted SEV on the console, Slack (signed slash commands) and Discord (signed
//! interactions), in one running app: each platform must produce the same timeline, the
//! same stages and the same delivered channel traffic shape.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use sevbot::adapters::console;
use sevbot::adapters::discord::DiscordSettings;
use sevbot::adapters::slack::SlackSettings;
use sevbot::app::App;
use sevbot::clock::{Clock, ManualClock};
use sevbot::engine::Invocation;
use support::T0;
use support::fake_discord::{self as fd, FakeDiscord, GENERAL, GUILD};
use support::fake_slack::{FakeSlack, TOKEN};

const SECRET: &str = "parity-signing-secret";
const ERIN_DISCORD: &str = "100000000000000015";

/// One step: grammar text (console, Slack) and the Discord subcommand with its options.
struct Step {
    text: &'static str,
    sub: &'static str,
    options: Value,
}

fn script() -> Vec<Step> {
    let sev = |o: Value| {
        let mut o = o.as_array().cloned().unwrap_or_default();
        o.push(json!({ "name": "sev", "type": 3, "value": "SEV-N" }));
        Value::Array(o)
    };
    vec![
        Step {
            text: "declare availability 1 Checkout failing",
            sub: "declare",
            options: json!([{ "name": "type", "value": "availability" }, { "name": "level", "value": 1 }, { "name": "title", "value": "Checkout failing" }]),
        },
        Step {
            text: "SEV-N role imoc ERIN",
            sub: "role",
            options: sev(
                json!([{ "name": "role", "value": "imoc" }, { "name": "user", "value": "ERIN" }]),
            ),
        },
        Step {
            text: "SEV-N update Rolled back the deploy",
            sub: "update",
            options: sev(json!([{ "name": "text", "value": "Rolled back the deploy" }])),
        },
        Step {
            text: "SEV-N level 2 fewer users affected",
            sub: "level",
            options: sev(
                json!([{ "name": "level", "value": 2 }, { "name": "reason", "value": "fewer users affected" }]),
            ),
        },
        Step {
            text: "SEV-N mitigated",
            sub: "mitigated",
            options: sev(json!([])),
        },
        Step {
            text: "SEV-N resolved",
            sub: "resolved",
            options: sev(json!([])),
        },
        Step {
            text: "SEV-N close",
            sub: "close",
            options: sev(json!([])),
        },
    ]
}

/// A console buffer the test can read.
type Screen = support::Captured;

/// One app with all three platforms: the console, Slack against its fake, Discord against
/// its fake, and its HTTP endpoints.
struct Platforms {
    app: App,
    clock: Arc<ManualClock>,
    slack: FakeSlack,
    discord: FakeDiscord,
    key: SigningKey,
    http: reqwest::Client,
    base: String,
    screen: Screen,
    _dir: tempfile::TempDir,
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

impl Platforms {
    async fn start() -> Platforms {
        let (slack, slack_addr) = FakeSlack::start().await;
        let (discord, discord_addr) = FakeDiscord::start().await;
        let dir = tempfile::tempdir().unwrap();
        let extra = format!(
            "[[people]]\nid = \"erin\"\nhandles = {{ console = \"erin\", slack = \"U_ERIN\", discord = \"{ERIN_DISCORD}\" }}\n\
             [discord]\nguild_id = \"{GUILD}\"\n"
        );
        let mut cfg = (*support::test_config(&extra)).clone();
        cfg.database.url = format!("sqlite://{}", dir.path().join("p.db").display());
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let slack_settings = SlackSettings {
            bot_token: TOKEN.into(),
            signing_secret: Some(SECRET.into()),
            app_token: None,
            api_url: format!("http://{slack_addr}/api"),
            call_timeout: Duration::from_secs(5),
        };
        let discord_settings = DiscordSettings {
            bot_token: Some(fd::TOKEN.into()),
            application_id: Some(fd::APP_ID.into()),
            public_key: Some(hex::encode(key.verifying_key().to_bytes())),
            api_url: format!("http://{discord_addr}/api/v10"),
            call_timeout: Duration::from_secs(5),
        };
        let clock = Arc::new(ManualClock::new(T0));
        let screen = Screen::default();
        let out: console::Output = Arc::new(std::sync::Mutex::new(Box::new(screen.clone())));
        let app = App::build(
            Arc::new(cfg),
            clock.clone(),
            out,
            Some(slack_settings),
            Some(discord_settings),
        )
        .await
        .unwrap();
        let addr = support::serve(app.router()).await;
        Platforms {
            app,
            clock,
            slack,
            discord,
            key,
            http: reqwest::Client::new(),
            base: format!("http://{addr}"),
            screen,
            _dir: dir,
        }
    }

    async fn console(&self, user: &str, text: &str) -> String {
        let inv = Invocation::new("console", user, "general");
        self.app.engine.handle(&inv, text).await.text
    }

    async fn slack_post(&self, path: &str, body: String) -> reqwest::Response {
        let ts = self.clock.now_ms() / 1000;
        let url = format!("{}{path}", self.base);
        support::slack_app::signed_post(
            &self.http,
            &url,
            SECRET,
            "application/x-www-form-urlencoded",
            body,
            ts,
        )
        .await
    }

    async fn slack_command(&self, user: &str, text: &str) -> String {
        let body = serde_urlencoded::to_string([
            ("token", "x"),
            ("team_id", "T0001"),
            ("channel_id", "C_GENERAL"),
            ("user_id", user),
            ("command", "/sev"),
            ("text", text),
            ("trigger_id", &format!("1.2.{}", next_id())),
            ("response_url", "https://hooks.slack.com/commands/1/2"),
        ])
        .unwrap();
        let r: Value = self
            .slack_post("/slack/commands", body)
            .await
            .json()
            .await
            .unwrap();
        r["text"].as_str().unwrap_or_default().to_string()
    }

    /// A button press in a direct message (the page's Acknowledge).
    async fn slack_button(&self, user: &str, action: &str, sev: &str) {
        let payload = json!({ "type": "block_actions", "user": { "id": user }, "channel": { "id": "D_PAGES" },
            "trigger_id": format!("1.3.{}", next_id()), "actions": [ { "action_id": action, "value": sev, "type": "button" } ] });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        assert_eq!(
            self.slack_post("/slack/interactions", body).await.status(),
            200
        );
    }

    async fn discord(&self, body: Value) -> Value {
        let body = body.to_string();
        let ts = self.clock.now_ms() / 1000;
        self.http
            .post(format!("{}/discord/interactions", self.base))
            .header("content-type", "application/json")
            .header("x-signature-ed25519", fd::sign(&self.key, ts, &body))
            .header("x-signature-timestamp", ts.to_string())
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn discord_command(&self, user: &str, sub: &str, options: Value) -> String {
        let id = format!("13{:0>17}", next_id());
        let r = self
            .discord(fd::command(&id, user, GENERAL, sub, options))
            .await;
        r["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn deliver(&self) {
        self.app
            .delivery
            .drain(Duration::from_secs(10))
            .await
            .unwrap();
    }

    /// Moves to `minute` after T0, runs the scheduler (a second cycle must find nothing)
    /// and delivers.
    async fn at_minute(&self, minute: i64) {
        self.clock.set(T0 + minute * 60_000);
        self.app.scheduler.tick().await.unwrap();
        assert_eq!(self.app.scheduler.tick().await.unwrap(), 0);
        self.deliver().await;
    }

    /// Lets Slack's one-message-a-second pacing run out.
    async fn settle(&self) {
        for _ in 0..30 {
            self.clock.advance(Duration::from_secs(2));
            self.deliver().await;
        }
    }
}

#[tokio::test]
async fn one_script_runs_the_same_on_console_slack_and_discord() {
    let p = Platforms::start().await;
    let mut replies: Vec<Vec<String>> = vec![];
    for (n, platform) in ["console", "slack", "discord"].into_iter().enumerate() {
        let sev = format!("SEV-{}", n + 1);
        let mut said = vec![];
        for (i, step) in script().iter().enumerate() {
            p.clock.advance(Duration::from_secs(60));
            // Erin runs the SEV once handed the IMOC role (lowering the level and closing
            // need the IMOC).
            let reply = match platform {
                "console" => {
                    let text = step.text.replace("SEV-N", &sev).replace("ERIN", "@erin");
                    p.console(if i >= 2 { "erin" } else { "alice" }, &text)
                        .await
                }
                "slack" => {
                    let text = step
                        .text
                        .replace("SEV-N", &sev)
                        .replace("ERIN", "<@U_ERIN>");
                    p.slack_command(if i >= 2 { "U_ERIN" } else { "U_ALICE" }, &text)
                        .await
                }
                _ => {
                    let options: Value = serde_json::from_str(
                        &step
                            .options
                            .to_string()
                            .replace("SEV-N", &sev)
                            .replace("ERIN", ERIN_DISCORD),
                    )
                    .unwrap();
                    let user = if i >= 2 {
                        ERIN_DISCORD
                    } else {
                        "100000000000000011"
                    };
                    p.discord_command(user, step.sub, options).await
                }
            };
            said.push(reply);
            p.deliver().await;
        }
        replies.push(said);
    }
    let (app, slack_fake, discord_fake) = (&p.app, &p.slack, &p.discord);
    // Slack paces messages a second apart per channel: let the last ones go.
    p.settle().await;
    // Same timeline, event for event, on every platform.
    let mut timelines = vec![];
    for id in 1..=3i64 {
        let kinds: Vec<String> = sqlx::query_scalar(
            "SELECT kind FROM incident_events WHERE sev_id = $1 AND kind <> 'channel_created' ORDER BY id",
        )
        .bind(id)
        .fetch_all(&app.engine.store.pool)
        .await
        .unwrap();
        let (stage, level): (String, i64) =
            sqlx::query_as("SELECT stage, level FROM sevs WHERE id = $1")
                .bind(id)
                .fetch_one(&app.engine.store.pool)
                .await
                .unwrap();
        timelines.push((kinds, stage, level));
    }
    assert_eq!(timelines[0].1, "closed", "{replies:?}");
    assert_eq!(timelines[0].2, 2);
    assert_eq!(timelines[0], timelines[1], "console vs Slack: {replies:?}");
    assert_eq!(
        timelines[0], timelines[2],
        "console vs Discord: {replies:?}"
    );
    // The replies say the same things, whatever the mention syntax.
    let plain = |s: &str| {
        s.replace("<@U_ERIN>", "@erin")
            .replace(&format!("<@{ERIN_DISCORD}>"), "@erin")
            .replace("<@U_ALICE>", "@alice")
            .replace("<@100000000000000011>", "@alice")
            .replace("<@U_BOB>", "@bob")
            .replace("<@100000000000000012>", "@bob")
            .replace("<@U_CAROL>", "@carol")
            .replace("<@100000000000000013>", "@carol")
            .replace("SEV-2", "SEV-1")
            .replace("SEV-3", "SEV-1")
    };
    let shapes: Vec<Vec<String>> = replies
        .iter()
        .map(|r| {
            r.iter()
                .map(|s| plain(s).split(':').next().unwrap_or_default().to_string())
                .collect()
        })
        .collect();
    assert_eq!(shapes[0], shapes[1], "{replies:?}");
    assert_eq!(shapes[0], shapes[2], "{replies:?}");
    // Each platform's channel got its card and was archived at close.
    assert!(slack_fake.calls_to("conversations.archive").len() == 1);
    assert_eq!(
        discord_fake
            .calls_to("POST", "/guilds/{guild_id}/channels")
            .len(),
        1
    );
    let undelivered: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
            .fetch_one(&app.engine.store.pool)
            .await
            .unwrap();
    let left: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT platform, effect, last_error FROM outbox WHERE status <> 'delivered'",
    )
    .fetch_all(&app.engine.store.pool)
    .await
    .unwrap();
    assert_eq!(
        undelivered, 0,
        "every message delivered on every platform: {left:?}"
    );
    discord_fake.assert_valid();
}

/// Security SEVs page ian (IMOC), then jo (5 min), mia (15), hank (30): the same ladder
/// on the console, Slack and Discord, each page exactly once, and nothing after an ack
/// given with each platform's own gesture.
#[tokio::test]
async fn the_escalation_ladder_runs_the_same_on_every_platform() {
    let p = Platforms::start().await;
    let declare = [("console", 1), ("slack", 2), ("discord", 3)];
    for (platform, _) in declare {
        let r = match platform {
            "console" => p.console("alice", "declare security 1 Token leaked --new").await,
            "slack" => p.slack_command("U_ALICE", "declare security 1 Token leaked --new").await,
            _ => {
                p.discord_command(
                    "100000000000000011",
                    "declare",
                    json!([{ "name": "type", "value": "security" }, { "name": "level", "value": 1 },
                           { "name": "title", "value": "Token leaked" }, { "name": "new", "value": true }]),
                )
                .await
            }
        };
        assert!(r.contains("declared"), "{r}");
    }
    p.deliver().await;
    for minute in [5, 15, 30, 90] {
        p.at_minute(minute).await;
    }
    p.settle().await;
    // Who got a page, per platform, in order.
    let console_pages: Vec<String> = p
        .screen
        .text()
        .lines()
        .filter_map(|l| {
            l.strip_prefix("[page → @")
                .and_then(|r| r.split(']').next())
                .map(str::to_string)
        })
        .collect();
    let slack_pages: Vec<String> = p
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter_map(|c| {
            c["channel"]
                .as_str()
                .filter(|ch| ch.starts_with("U_"))
                .map(|ch| ch.trim_start_matches("U_").to_lowercase())
        })
        .collect();
    let names = |id: &str| match id {
        "100000000000000021" => "ian",
        "100000000000000022" => "jo",
        "100000000000000023" => "mia",
        "100000000000000024" => "hank",
        "100000000000000012" => "bob",
        "100000000000000013" => "carol",
        _ => "?",
    };
    let discord_pages: Vec<String> = p
        .discord
        .calls_to("POST", "/channels/{channel_id}/messages")
        .into_iter()
        .filter_map(|c| {
            let ch = c.path.split('/').nth(2).unwrap().to_string();
            let dm = p
                .discord
                .channels()
                .get(&ch)
                .map(|x| x.name.clone())
                .unwrap_or_default();
            dm.strip_prefix("dm-").map(|id| names(id).to_string())
        })
        .collect();
    // The three role pages leave together (in any order), then the ladder's steps in turn.
    let in_order = |mut v: Vec<String>| {
        let n = v.len().min(3);
        v[..n].sort();
        v
    };
    let expected = vec!["bob", "carol", "ian", "jo", "mia", "hank"];
    assert_eq!(in_order(console_pages), expected, "{}", p.screen.text());
    assert_eq!(in_order(slack_pages), expected);
    assert_eq!(in_order(discord_pages), expected);

    // A second round: jo acknowledges at 7 minutes with each platform's own gesture.
    let t = 1000;
    p.clock.set(T0 + t * 60_000);
    p.console("alice", "declare security 1 Key rotated by mistake --new")
        .await;
    p.slack_command("U_ALICE", "declare security 1 Key rotated by mistake --new")
        .await;
    p.discord_command(
        "100000000000000011",
        "declare",
        json!([{ "name": "type", "value": "security" }, { "name": "level", "value": 1 },
               { "name": "title", "value": "Key rotated by mistake" }, { "name": "new", "value": true }]),
    )
    .await;
    p.deliver().await;
    p.at_minute(t + 5).await;
    p.clock.set(T0 + (t + 7) * 60_000);
    let r = p.console("jo", "ack SEV-4").await;
    assert!(r.contains("escalation is stopped"), "{r}");
    p.slack_button("U_JO", "sev_ack", "SEV-5").await;
    let r = p
        .discord(fd::button(
            "1399999999999999999",
            "100000000000000022",
            "1000000000000000999",
            json!({}),
            "sev_ack:SEV-6",
        ))
        .await;
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap()
            .contains("escalation is stopped"),
        "{r}"
    );
    for minute in [t + 15, t + 30, t + 60] {
        p.at_minute(minute).await;
    }
    p.settle().await;
    let acks: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT sev_id, COUNT(*) FROM incident_events WHERE kind = 'escalated' AND sev_id > 3 GROUP BY sev_id ORDER BY sev_id",
    )
    .fetch_all(&p.app.engine.store.pool)
    .await
    .unwrap();
    assert_eq!(
        acks,
        vec![(4, 1), (5, 1), (6, 1)],
        "only the 5-minute step, on every platform"
    );
    let stopped: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ladders WHERE sev_id > 3 AND acked_by = 'jo'")
            .fetch_one(&p.app.engine.store.pool)
            .await
            .unwrap();
    assert_eq!(stopped, 3);
    p.discord.assert_valid();
}
