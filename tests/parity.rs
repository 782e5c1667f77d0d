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
use sevbot::adapters::slack::verify::sign;
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

#[tokio::test]
async fn one_script_runs_the_same_on_console_slack_and_discord() {
    let (slack_fake, slack_addr) = FakeSlack::start().await;
    let (discord_fake, discord_addr) = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[[people]]\nid = \"erin\"\nhandles = {{ console = \"erin\", slack = \"U_ERIN\", discord = \"{ERIN_DISCORD}\" }}\n\
         [discord]\nguild_id = \"{GUILD}\"\n"
    );
    let mut cfg = (*support::test_config(&extra)).clone();
    cfg.raw.database.url = format!("sqlite://{}", dir.path().join("p.db").display());
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let slack = SlackSettings {
        bot_token: TOKEN.into(),
        signing_secret: Some(SECRET.into()),
        app_token: None,
        api_url: format!("http://{slack_addr}/api"),
        call_timeout: Duration::from_secs(5),
    };
    let discord = DiscordSettings {
        bot_token: Some(fd::TOKEN.into()),
        application_id: Some(fd::APP_ID.into()),
        public_key: Some(hex::encode(key.verifying_key().to_bytes())),
        api_url: format!("http://{discord_addr}/api/v10"),
        call_timeout: Duration::from_secs(5),
    };
    let clock = Arc::new(ManualClock::new(T0));
    let out: console::Output = Arc::new(std::sync::Mutex::new(Box::new(std::io::sink())));
    let app = App::build(
        Arc::new(cfg),
        clock.clone(),
        out,
        Some(slack),
        Some(discord),
    )
    .await
    .unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    std::mem::forget(stop_tx);
    let (addr, _) = sevbot::http::serve(app.router(), "127.0.0.1:0", stop)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");

    let mut replies: Vec<Vec<String>> = vec![];
    for (n, platform) in ["console", "slack", "discord"].into_iter().enumerate() {
        let sev = format!("SEV-{}", n + 1);
        let mut said = vec![];
        for (i, step) in script().iter().enumerate() {
            clock.advance(Duration::from_secs(60));
            let erin = match platform {
                "console" => "@erin".to_string(),
                "slack" => "<@U_ERIN>".to_string(),
                _ => ERIN_DISCORD.to_string(),
            };
            let text = step.text.replace("SEV-N", &sev).replace("ERIN", &erin);
            // Erin runs the SEV once handed the IMOC role (lowering the level and closing
            // need the IMOC).
            let reply = match platform {
                "console" => {
                    let user = if i >= 2 { "erin" } else { "alice" };
                    let inv = Invocation {
                        platform: "console".into(),
                        user: user.into(),
                        channel: "general".into(),
                    };
                    app.engine.handle(&inv, &text).await.text
                }
                "slack" => {
                    let user = if i >= 2 { "U_ERIN" } else { "U_ALICE" };
                    let body = serde_urlencoded::to_string([
                        ("token", "x"),
                        ("team_id", "T0001"),
                        ("channel_id", "C_GENERAL"),
                        ("user_id", user),
                        ("command", "/sev"),
                        ("text", &text),
                        ("trigger_id", &format!("1.2.{n}{i}")),
                        ("response_url", "https://hooks.slack.com/commands/1/2"),
                    ])
                    .unwrap();
                    let ts = clock.now_ms() / 1000;
                    let r: Value = http
                        .post(format!("{base}/slack/commands"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("x-slack-request-timestamp", ts.to_string())
                        .header(
                            "x-slack-signature",
                            sign(SECRET.as_bytes(), ts, body.as_bytes()),
                        )
                        .body(body)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    r["text"].as_str().unwrap_or_default().to_string()
                }
                _ => {
                    let user = if i >= 2 {
                        ERIN_DISCORD
                    } else {
                        "100000000000000011"
                    };
                    let options: Value = serde_json::from_str(
                        &step
                            .options
                            .to_string()
                            .replace("SEV-N", &sev)
                            .replace("ERIN", ERIN_DISCORD),
                    )
                    .unwrap();
                    let body =
                        fd::command(&format!("13{n}{i:0>17}"), user, GENERAL, step.sub, options)
                            .to_string();
                    let ts = clock.now_ms() / 1000;
                    let r: Value = http
                        .post(format!("{base}/discord/interactions"))
                        .header("content-type", "application/json")
                        .header("x-signature-ed25519", fd::sign(&key, ts, &body))
                        .header("x-signature-timestamp", ts.to_string())
                        .body(body)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    r["data"]["content"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                }
            };
            said.push(reply);
            app.delivery.drain(Duration::from_secs(10)).await.unwrap();
        }
        replies.push(said);
    }

    // Slack paces messages a second apart per channel: let the last ones go.
    for _ in 0..30 {
        clock.advance(Duration::from_secs(2));
        app.delivery.drain(Duration::from_secs(10)).await.unwrap();
    }
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
