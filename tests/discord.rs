//! Discord end to end: signed HTTP interactions and the gateway in, the real engine and
//! outbox, and a fake Discord that checks every REST body against Discord's OpenAPI spec.

mod support;

use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::json;
use sevbot::adapters::discord::gateway::Gateway;
use sevbot::clock::Clock;
use support::discord_app::{ALICE, DANA, DiscordApp};
use support::fake_discord::{
    self as fd, ARCHIVE, CATEGORY, FakeDiscord, Fault, GENERAL, GUILD, wait_until,
};

#[tokio::test]
async fn ping_pong_and_signatures() {
    let d = DiscordApp::start().await;
    let ping =
        json!({ "id": "1", "application_id": fd::APP_ID, "type": 1, "token": "t", "version": 1 });
    assert_eq!(d.signed(&ping).await, json!({ "type": 1 }));
    // Signed by someone else, unsigned, or replayed: 401 and nothing processed.
    let stranger = SigningKey::from_bytes(&[1u8; 32]);
    let declare = fd::command(
        "1300000000000000009",
        DANA,
        GENERAL,
        "declare",
        json!([{ "name": "type", "value": "availability" }, { "name": "level", "value": 1 }, { "name": "title", "value": "x" }]),
    );
    let now = d.clock.now_ms() / 1000;
    assert_eq!(d.send(&declare, &stranger, now).await.status(), 401);
    assert_eq!(d.send(&declare, &d.key, now - 600).await.status(), 401);
    let r = d
        .http
        .post(format!("{}/discord/interactions", d.base))
        .body(declare.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(d.rows("SELECT COUNT(*) FROM sevs").await, 0);
    // Oversized bodies are refused before anything is read.
    let huge = json!({ "type": 2, "pad": "x".repeat(70_000) });
    assert_eq!(d.send(&huge, &d.key, now).await.status(), 413);
}

#[tokio::test]
async fn slash_commands_run_through_the_engine_once() {
    let d = DiscordApp::start().await;
    let declare = fd::command(
        "1300000000000000001",
        DANA,
        GENERAL,
        "declare",
        json!([
            { "name": "type", "type": 3, "value": "availability" },
            { "name": "level", "type": 4, "value": 1 },
            { "name": "title", "type": 3, "value": "Checkout failing" }
        ]),
    );
    let r = d.signed(&declare).await;
    assert_eq!(r["type"], 4);
    assert!(
        DiscordApp::content(&r).starts_with("SEV-1 declared: SEV1 availability"),
        "{r}"
    );
    assert!(
        r["data"]["flags"].is_null() || r["data"]["flags"] == 0,
        "a declare is announced to the channel: {r}"
    );
    assert_eq!(r["data"]["allowed_mentions"]["parse"], json!([]));
    assert_eq!(
        d.rows("SELECT COUNT(*) FROM sevs WHERE platform = 'discord' AND declared_by = 'dana'")
            .await,
        1
    );
    // The same interaction again changes nothing.
    let r = d.signed(&declare).await;
    assert_eq!(r["data"]["content"], "Already handled.");
    // Mistakes are answered to the invoker only.
    let r = d
        .signed(&fd::command(
            "1300000000000000002",
            DANA,
            GENERAL,
            "status",
            json!([]),
        ))
        .await;
    assert_eq!(r["data"]["flags"], 64);
    assert!(
        DiscordApp::content(&r).contains("is not a SEV channel"),
        "{r}"
    );
    let role = fd::command(
        "1300000000000000003",
        DANA,
        GENERAL,
        "role",
        json!([
            { "name": "role", "type": 3, "value": "imoc" },
            { "name": "user", "type": 6, "value": DANA },
            { "name": "sev", "type": 3, "value": "SEV-1" }
        ]),
    );
    let r = d.signed(&role).await;
    assert_eq!(
        DiscordApp::content(&r),
        "alice holds IMOC on SEV-1. Only they or an admin can hand it over; ask them with `/sev SEV-1 ask imoc`.",
        "an occupied role is not seized"
    );
    let unknown =
        json!({ "id": "9", "application_id": "1", "type": 4, "token": "t", "version": 1 });
    assert_eq!(
        d.send(&unknown, &d.key, d.clock.now_ms() / 1000)
            .await
            .status(),
        400
    );
}

/// The incident channel from declare to deletion: category, card with buttons pinned and
/// edited in place, topic, timeline lines, archive, retention.
#[tokio::test]
async fn full_lifecycle_in_an_incident_channel() {
    let d = DiscordApp::start().await;
    d.declare("1300000000000000011", "Checkout failing").await;
    let (ch, c) = d.fake.channel_named("sev-1-").expect("incident channel");
    assert_eq!(c.parent_id.as_deref(), Some(CATEGORY));
    assert!(
        c.overwrites.iter().any(|o| o["id"] == ALICE),
        "IMOC let in: {:?}",
        c.overwrites
    );
    assert!(
        c.topic
            .as_deref()
            .unwrap()
            .starts_with("SEV-1 SEV1 availability | declared | IMOC <@100000000000000011>"),
        "{:?}",
        c.topic
    );
    assert_eq!(c.pins.len(), 1, "the card is pinned");
    let card_id = c.pins[0].clone();
    let card = c.messages[&card_id].clone();
    assert!(
        card["embeds"][0]["title"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1 · SEV1 availability")
    );
    assert!(card["components"].to_string().contains("sev_update:SEV-1"));
    // Buttons: a role someone holds cannot be taken (refused, to the presser only), then
    // mark mitigated; answers are ephemeral.
    let r = d
        .signed(&fd::button(
            "1300000000000000012",
            DANA,
            &ch,
            card.clone(),
            "sev_role_tloc:SEV-1",
        ))
        .await;
    assert_eq!(r["data"]["flags"], 64, "{r}");
    assert!(
        DiscordApp::content(&r).contains("bob holds TLOC on SEV-1"),
        "{r}"
    );
    // …with a button to ask for it, which mentions the holder and the IMOC in the channel.
    let ask = &r["data"]["components"][0]["components"][0];
    assert_eq!(ask["custom_id"], "sev_ask_tloc:SEV-1", "{r}");
    assert_eq!(ask["label"], "Ask for TLOC");
    let r = d
        .signed(&fd::button(
            "1300000000000000026",
            DANA,
            &ch,
            card.clone(),
            "sev_ask_tloc:SEV-1",
        ))
        .await;
    assert!(
        DiscordApp::content(&r).contains("asks for TLOC"),
        "answered to the presser: {r}"
    );
    d.deliver().await;
    let asked = d
        .fake
        .calls_to("POST", "/channels/{channel_id}/messages")
        .into_iter()
        .find(|c| {
            c.body["content"]
                .as_str()
                .unwrap_or_default()
                .contains("asks for TLOC")
        })
        .expect("the ask is posted in the SEV's channel");
    let (bob, alice) = ("100000000000000012", ALICE);
    let content = asked.body["content"].as_str().unwrap();
    assert!(
        content.contains(&format!("<@{bob}> or <@{alice}>")),
        "{content}"
    );
    let pinged = asked.body["allowed_mentions"]["users"].to_string();
    assert!(
        pinged.contains(bob) && pinged.contains(alice),
        "{}",
        asked.body
    );
    let r = d
        .signed(&fd::button(
            "1300000000000000013",
            DANA,
            &ch,
            card.clone(),
            "sev_update:SEV-1",
        ))
        .await;
    assert_eq!(r["type"], 9, "the update button opens a modal: {r}");
    assert_eq!(r["data"]["custom_id"], "sev_update:SEV-1");
    d.signed(&fd::modal_submit(
        "1300000000000000014",
        DANA,
        &ch,
        "sev_update:SEV-1",
        &[("text", "Rolled back the deploy")],
    ))
    .await;
    d.signed(&fd::button(
        "1300000000000000015",
        DANA,
        &ch,
        card.clone(),
        "sev_mitigated:SEV-1",
    ))
    .await;
    d.deliver().await;
    let c = &d.fake.channels()[&ch];
    let card = &c.messages[&card_id];
    let desc = card["embeds"][0]["description"].as_str().unwrap();
    assert!(
        desc.contains("**Stage:** mitigated") && desc.contains("Rolled back the deploy"),
        "{desc}"
    );
    assert!(
        desc.contains("**TLOC** <@100000000000000012>"),
        "the TLOC button was refused: bob still holds it: {desc}"
    );
    assert!(
        !card["components"].to_string().contains("sev_mitigated"),
        "no Mitigated button once mitigated"
    );
    // Only one card was ever posted in the channel; the rest were edits.
    let card_posts = d
        .fake
        .calls_to("POST", "/channels/{channel_id}/messages")
        .iter()
        .filter(|c| {
            c.path.contains(&ch) && c.body["embeds"].as_array().is_some_and(|e| !e.is_empty())
        })
        .count();
    assert_eq!(card_posts, 1);
    assert!(
        !d.fake
            .calls_to("PATCH", "/channels/{channel_id}/messages/{message_id}")
            .is_empty()
    );
    let lines: Vec<String> = c
        .messages
        .values()
        .filter_map(|m| {
            m["content"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("Rolled back the deploy")),
        "{lines:?}"
    );
    // Resolved and closed (by the IMOC): buttons gone, channel archived, deleted after 30 days.
    d.sub("1300000000000000016", &ch, "resolved", json!([]))
        .await;
    let r = d
        .signed(&fd::command(
            "1300000000000000017",
            ALICE,
            &ch,
            "close",
            json!([]),
        ))
        .await;
    assert!(DiscordApp::content(&r).contains("closed"), "{r}");
    d.deliver().await;
    let c = &d.fake.channels()[&ch];
    assert_eq!(c.messages[&card_id]["components"], json!([]));
    assert_eq!(c.parent_id.as_deref(), Some(ARCHIVE));
    d.clock.advance(Duration::from_secs(29 * 86_400));
    d.app.scheduler.tick().await.unwrap();
    d.deliver().await;
    assert!(
        d.fake.channels().contains_key(&ch),
        "kept during the retention"
    );
    // Reopened within the retention: back among the incident channels, deletion off.
    let reopen = |id: &'static str| {
        fd::command(
            id,
            ALICE,
            GENERAL,
            "reopen",
            json!([{ "name": "reason", "value": "back again" }, { "name": "sev", "value": "SEV-1" }]),
        )
    };
    let r = d.signed(&reopen("1300000000000000018")).await;
    assert!(DiscordApp::content(&r).contains("investigating"), "{r}");
    d.deliver().await;
    assert_eq!(d.fake.channels()[&ch].parent_id.as_deref(), Some(CATEGORY));
    d.sub("1300000000000000019", &ch, "resolved", json!([]))
        .await;
    d.signed(&fd::command(
        "1300000000000000020",
        ALICE,
        &ch,
        "close",
        json!([]),
    ))
    .await;
    d.deliver().await;
    assert_eq!(d.fake.channels()[&ch].parent_id.as_deref(), Some(ARCHIVE));
    d.clock.advance(Duration::from_secs(2 * 86_400));
    d.app.scheduler.tick().await.unwrap();
    d.deliver().await;
    assert!(
        d.fake.channels().contains_key(&ch),
        "the first deletion was called off by the reopen"
    );
    d.clock.advance(Duration::from_secs(29 * 86_400));
    d.app.scheduler.tick().await.unwrap();
    d.deliver().await;
    assert!(
        !d.fake.channels().contains_key(&ch),
        "deleted after the retention"
    );
    let r = d.signed(&reopen("1300000000000000022")).await;
    assert!(
        DiscordApp::content(&r).contains("channel was deleted after its retention"),
        "{r}"
    );
    d.fake.assert_valid();
    assert_eq!(
        d.rows("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
            .await,
        0
    );
}

#[tokio::test]
async fn declare_by_modal_and_private_security_channels() {
    let d = DiscordApp::start().await;
    d.sub("1300000000000000020", GENERAL, "subscribe", json!([]))
        .await;
    let r = d
        .signed(&fd::command(
            "1300000000000000021",
            DANA,
            GENERAL,
            "new",
            json!([]),
        ))
        .await;
    assert_eq!(r["type"], 9, "{r}");
    assert_eq!(r["data"]["custom_id"], "sev_declare");
    assert!(
        r.to_string().contains("0 Critical"),
        "the levels are in view: {r}"
    );
    let bad = fd::modal_submit(
        "1300000000000000022",
        DANA,
        GENERAL,
        "sev_declare",
        &[
            ("type", "security"),
            ("level", "9"),
            ("title", "Token leaked"),
        ],
    );
    let r = d.signed(&bad).await;
    assert_eq!(r["data"]["flags"], 64);
    assert_eq!(d.rows("SELECT COUNT(*) FROM sevs").await, 0, "{r}");
    let ok = fd::modal_submit(
        "1300000000000000023",
        DANA,
        GENERAL,
        "sev_declare",
        &[
            ("type", "Security"),
            ("level", "1"),
            ("title", "Token leaked"),
            ("description", "found in a public gist"),
            ("impact", "yes"),
        ],
    );
    let r = d.signed(&ok).await;
    assert!(
        DiscordApp::content(&r).starts_with("SEV-1 declared: SEV1 security"),
        "{r}"
    );
    assert_eq!(r["data"]["flags"], 64, "only the declarer sees it: {r}");
    d.deliver().await;
    // The subscribed channel learns that a restricted SEV exists, and nothing else.
    let general = serde_json::to_string(&d.fake.channels()[GENERAL].messages).unwrap();
    assert!(!general.contains("Token"), "{general}");
    assert!(
        general.contains("SEV-1 · security · restricted — details in its private channel"),
        "{general}"
    );
    let (_, c) = d.fake.channel_named("sev-1-security").unwrap();
    let everyone = c
        .overwrites
        .iter()
        .find(|o| o["id"] == GUILD)
        .expect("@everyone overwrite");
    assert_eq!(everyone["deny"], 1024, "hidden from @everyone");
    assert!(
        c.overwrites.iter().any(|o| o["id"] == fd::BOT_ID),
        "the bot keeps access"
    );
    assert!(
        c.overwrites.iter().any(|o| o["id"] == DANA)
            && c.overwrites.iter().any(|o| o["id"] == "100000000000000012"),
        "the declarer and the TLOC let in: {:?}",
        c.overwrites
    );
    assert_eq!(
        d.rows("SELECT COUNT(*) FROM incident_events WHERE kind = 'note'")
            .await,
        1,
        "the details went on the timeline"
    );
    d.fake.assert_valid();
}

#[tokio::test]
async fn feeds_are_edited_in_place() {
    let d = DiscordApp::start().await;
    let r = d
        .sub("1300000000000000031", GENERAL, "subscribe", json!([]))
        .await;
    assert!(DiscordApp::content(&r).contains("ubscribed"), "{r}");
    d.declare("1300000000000000032", "Search down").await;
    let feed_posts = |d: &DiscordApp| {
        d.fake
            .calls_to("POST", "/channels/{channel_id}/messages")
            .into_iter()
            .filter(|c| {
                c.path.contains(GENERAL)
                    && c.body["embeds"].as_array().is_some_and(|e| !e.is_empty())
            })
            .count()
    };
    assert_eq!(feed_posts(&d), 1);
    let (ch, _) = d.fake.channel_named("sev-1-").unwrap();
    d.sub(
        "1300000000000000033",
        &ch,
        "level",
        json!([{ "name": "level", "value": 0 }]),
    )
    .await;
    d.sub("1300000000000000034", &ch, "mitigated", json!([]))
        .await;
    assert_eq!(feed_posts(&d), 1, "announced once, then edited");
    let general = &d.fake.channels()[GENERAL];
    let feed = general
        .messages
        .values()
        .find(|m| !m["embeds"].as_array().unwrap().is_empty())
        .unwrap();
    let title = feed["embeds"][0]["title"].as_str().unwrap();
    assert!(title.starts_with("SEV-1 · SEV0"), "{title}");
    assert!(
        feed["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains("mitigated")
    );
    d.fake.assert_valid();
}

/// Discord answers 429 to a burst; every message still arrives once, in order, and no
/// request in a limited bucket is sent before `retry_after` has passed.
#[tokio::test]
async fn a_429_storm_delays_but_loses_nothing() {
    let d = DiscordApp::start().await;
    for _ in 0..6 {
        d.fake.inject(
            "/messages",
            Fault::Http429 {
                retry_after: 0.3,
                global: false,
            },
        );
    }
    d.fake.inject("/messages", Fault::Http500);
    d.signed(&fd::command(
        "1300000000000000041",
        DANA,
        GENERAL,
        "declare",
        json!([{ "name": "type", "value": "availability" }, { "name": "level", "value": 2 }, { "name": "title", "value": "Storm" }]),
    ))
    .await;
    for i in 0..5 {
        d.signed(&fd::command(
            &format!("13000000000000000{}", 50 + i),
            DANA,
            GENERAL,
            "update",
            json!([{ "name": "text", "value": format!("step {i}") }, { "name": "sev", "value": "SEV-1" }]),
        ))
        .await;
    }
    for _ in 0..100 {
        d.deliver().await;
        if d.rows("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
            .await
            == 0
        {
            break;
        }
        d.clock.advance(Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        d.rows("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
            .await,
        0
    );
    let (ch, c) = d.fake.channel_named("sev-1-storm").unwrap();
    let steps: Vec<String> = c
        .messages
        .values()
        .filter_map(|m| m["content"].as_str())
        .filter(|s| s.contains("step "))
        .map(str::to_string)
        .collect();
    assert_eq!(steps.len(), 5, "each update once: {steps:?}");
    for (i, s) in steps.iter().enumerate() {
        assert!(s.contains(&format!("step {i}")), "in order: {steps:?}");
    }
    let calls = d.fake.calls();
    let limited: Vec<_> = calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.status == 429)
        .collect();
    assert_eq!(limited.len(), 6);
    for (n, c) in limited {
        if let Some(next) = calls[n + 1..].iter().find(|x| x.path == c.path) {
            assert!(
                next.at.duration_since(c.at) >= Duration::from_millis(290),
                "{} retried {:?} after a 429 asking for 300 ms",
                c.path,
                next.at.duration_since(c.at)
            );
        }
    }
    assert!(ch.len() > 5);
    d.fake.assert_valid();
}

#[tokio::test]
async fn a_full_guild_gets_a_clear_message() {
    let d = DiscordApp::start().await;
    d.fake.set_max_channels(1);
    d.declare("1300000000000000061", "Payments down").await;
    let general = &d.fake.channels()[GENERAL];
    let said: Vec<&str> = general
        .messages
        .values()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(
        said.iter().any(
            |s| s.contains("SEV-1 is declared, but its channel could not be created")
                && s.contains("500 channels")
        ),
        "{said:?}"
    );
    d.fake.assert_valid();
}

async fn connect_gateway(d: &DiscordApp) -> Gateway {
    let g = d.app.start_discord().await.expect("gateway started");
    wait_until("IDENTIFY", || d.fake.gateway_stats().1 == 1).await;
    g
}

/// The gateway path: commands registered on start, interactions answered through the
/// callback, and a forced reconnect mid-SEV resumed with the missed interaction replayed.
#[tokio::test]
async fn gateway_interactions_survive_a_reconnect() {
    let d = DiscordApp::start().await;
    d.fake.heartbeat_every(1_000);
    let g = connect_gateway(&d).await;
    let commands = d.fake.commands();
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].0, GUILD, "guild-scoped by default");
    assert_eq!(commands[0].1[0]["name"], "sev");
    d.fake.dispatch(
        "INTERACTION_CREATE",
        fd::command(
            "1300000000000000071",
            DANA,
            GENERAL,
            "declare",
            json!([{ "name": "type", "type": 3, "value": "availability" }, { "name": "level", "type": 4, "value": 1 }, { "name": "title", "type": 3, "value": "Login broken" }]),
        ),
    );
    wait_until("the declare's callback", || d.fake.callbacks().len() == 1).await;
    let (id, body) = &d.fake.callbacks()[0];
    assert_eq!(id, "1300000000000000071");
    assert!(
        body["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1 declared"),
        "{body}"
    );
    d.deliver().await;
    let (ch, _) = d.fake.channel_named("sev-1-login-broken").unwrap();
    // Heartbeats flow; then Discord moves the session in the middle of the SEV.
    wait_until("a heartbeat", || d.fake.gateway_stats().3 >= 1).await;
    d.fake.force_reconnect();
    wait_until("the disconnect", || !d.fake.connected()).await;
    d.fake.dispatch(
        "INTERACTION_CREATE",
        fd::command(
            "1300000000000000072",
            DANA,
            &ch,
            "update",
            json!([{ "name": "text", "type": 3, "value": "Sessions store failing over" }]),
        ),
    );
    wait_until("the resumed session's callback", || {
        d.fake.callbacks().len() == 2
    })
    .await;
    let (connects, identifies, resumes, _) = d.fake.gateway_stats();
    assert_eq!(
        (connects, identifies, resumes),
        (2, 1, 1),
        "resumed, not re-identified"
    );
    d.deliver().await;
    let c = &d.fake.channels()[&ch];
    assert!(
        c.messages.values().any(|m| m["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Sessions store failing over")),
        "nothing lost"
    );
    assert_eq!(d.rows("SELECT COUNT(*) FROM sevs").await, 1);
    // Buttons and forms arrive over the gateway too.
    let card_id = d.fake.channels()[&ch].pins[0].clone();
    let card = d.fake.channels()[&ch].messages[&card_id].clone();
    d.fake.dispatch(
        "INTERACTION_CREATE",
        fd::button(
            "1300000000000000073",
            DANA,
            &ch,
            card.clone(),
            "sev_update:SEV-1",
        ),
    );
    d.fake.dispatch(
        "INTERACTION_CREATE",
        fd::modal_submit(
            "1300000000000000074",
            DANA,
            &ch,
            "sev_update:SEV-1",
            &[("text", "Failover done")],
        ),
    );
    d.fake.dispatch(
        "INTERACTION_CREATE",
        fd::button(
            "1300000000000000075",
            DANA,
            &ch,
            card,
            "sev_mitigated:SEV-1",
        ),
    );
    wait_until("three more callbacks", || d.fake.callbacks().len() == 5).await;
    let callbacks = d.fake.callbacks();
    assert_eq!(
        callbacks[2].1["type"], 9,
        "the update form: {:?}",
        callbacks[2]
    );
    assert!(
        callbacks[3].1["data"]["content"]
            .as_str()
            .unwrap()
            .contains("update"),
        "{:?}",
        callbacks[3]
    );
    assert!(
        callbacks[4].1["data"]["content"]
            .as_str()
            .unwrap()
            .contains("mitigated"),
        "{:?}",
        callbacks[4]
    );
    d.deliver().await;
    let c = &d.fake.channels()[&ch];
    assert!(
        c.messages[&card_id]["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains("mitigated")
    );
    g.stop().await;
    d.fake.assert_valid();
}

/// Answers that never arrive (Discord did the work; sevbot timed out): the channel is
/// found among the guild's channels instead of created twice (Discord allows duplicate
/// names), and messages are sent again with the same nonce, which Discord answers with
/// the first message instead of posting another.
#[tokio::test]
async fn lost_answers_create_no_second_channel_or_message() {
    let d = DiscordApp::with_timeout("", Duration::from_millis(400)).await;
    let slow = || Fault::Slow(Duration::from_millis(700));
    d.fake.inject("POST /guilds/", slow());
    for _ in 0..4 {
        d.fake.inject("/messages$", slow());
    }
    d.signed(&fd::command(
        "1300000000000000071",
        DANA,
        GENERAL,
        "declare",
        json!([
            { "name": "type", "type": 3, "value": "availability" },
            { "name": "level", "type": 4, "value": 1 },
            { "name": "title", "type": 3, "value": "Lost answers" }
        ]),
    ))
    .await;
    for _ in 0..8 {
        d.deliver().await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        d.clock.advance(Duration::from_secs(5));
    }
    d.deliver().await;
    assert_eq!(
        d.rows("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
            .await,
        0
    );
    assert!(
        d.rows("SELECT COUNT(*) FROM outbox WHERE attempts > 1")
            .await
            >= 3,
        "calls timed out and were tried again"
    );
    let channels = d.fake.channels();
    let named: Vec<&String> = channels
        .iter()
        .filter(|(_, c)| c.name == "sev-1-lost-answers")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(named.len(), 1, "one incident channel");
    assert_eq!(
        d.fake.calls_to("POST", "/guilds/{guild_id}/channels").len(),
        1,
        "created once, then found"
    );
    for (id, c) in &channels {
        let mut nonces: Vec<String> = c
            .messages
            .values()
            .filter_map(|m| m["nonce"].as_str().map(String::from))
            .collect();
        let n = nonces.len();
        nonces.sort();
        nonces.dedup();
        assert_eq!(
            nonces.len(),
            n,
            "a message was posted twice in {id} ({})",
            c.name
        );
    }
    assert!(
        d.fake
            .calls_to("POST", "/channels/{channel_id}/messages")
            .len()
            > channels.values().map(|c| c.messages.len()).sum::<usize>(),
        "some creates were repeats answered with the first message"
    );
    d.fake.assert_valid();
}

/// Discord allows two topic edits per channel in ten minutes. A topic told to wait is
/// set aside: the timeline keeps flowing, and the topic lands later with the current state.
#[tokio::test]
async fn a_rate_limited_topic_does_not_hold_up_the_channel() {
    let d = DiscordApp::start().await;
    d.declare("1300000000000000081", "Topic storm").await;
    let (ch, c) = d.fake.channel_named("sev-1-topic-storm").unwrap();
    assert!(
        c.topic.as_deref().unwrap().starts_with("SEV-1 SEV1"),
        "{:?}",
        c.topic
    );
    d.fake.inject(
        &format!("PATCH /channels/{ch}$"),
        Fault::Http429 {
            retry_after: 5.5,
            global: false,
        },
    );
    d.sub(
        "1300000000000000082",
        &ch,
        "level",
        json!([{ "name": "level", "value": 0 }]),
    )
    .await;
    let c = &d.fake.channels()[&ch];
    assert!(
        c.topic.as_deref().unwrap().starts_with("SEV-1 SEV1"),
        "the new topic is waiting: {:?}",
        c.topic
    );
    assert!(
        c.messages.values().any(|m| m["content"]
            .as_str()
            .unwrap_or_default()
            .contains("changed the level SEV1 → SEV0")),
        "timeline lines were not held up"
    );
    d.sub("1300000000000000083", &ch, "mitigated", json!([]))
        .await;
    // The bucket is still exhausted for a few seconds of real time; then the topic
    // goes out once, with the SEV as it is now.
    tokio::time::sleep(Duration::from_millis(5600)).await;
    d.clock.advance(Duration::from_secs(10));
    d.deliver().await;
    let c = &d.fake.channels()[&ch];
    assert!(
        c.topic
            .as_deref()
            .unwrap()
            .starts_with("SEV-1 SEV0 availability | mitigated"),
        "{:?}",
        c.topic
    );
    let topics = d
        .fake
        .calls_to("PATCH", "/channels/{channel_id}")
        .into_iter()
        .filter(|c| c.body.get("topic").is_some())
        .count();
    assert_eq!(
        topics, 2,
        "the declare's topic, then only the newest: the stale one was skipped"
    );
    assert_eq!(
        d.rows("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
            .await,
        0
    );
    d.fake.assert_valid();
}

/// When the engine cannot answer within Discord's window (here: its database is held),
/// the interaction is deferred at once and the answer follows through the webhook.
#[tokio::test]
async fn a_slow_answer_is_deferred_and_followed_up() {
    let d = DiscordApp::start().await;
    let held = d.app.engine.store.pool.acquire().await.unwrap();
    let started = std::time::Instant::now();
    let r = d
        .signed(&fd::command(
            "1300000000000000091",
            DANA,
            GENERAL,
            "declare",
            json!([{ "name": "type", "value": "availability" }, { "name": "level", "value": 2 }, { "name": "title", "value": "Slow disk" }]),
        ))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered inside Discord's 3 s, not {:?}",
        started.elapsed()
    );
    assert_eq!(r["type"], 5, "deferred: {r}");
    drop(held);
    wait_until("the follow-up", || {
        d.fake
            .callbacks()
            .iter()
            .any(|(k, _)| k.starts_with("followup:"))
    })
    .await;
    let (_, body) = d
        .fake
        .callbacks()
        .into_iter()
        .find(|(k, _)| k.starts_with("followup:"))
        .unwrap();
    assert!(
        body["content"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1 declared"),
        "{body}"
    );
    assert_eq!(d.rows("SELECT COUNT(*) FROM sevs").await, 1);
    d.fake.assert_valid();
}

/// The real binary with Discord credentials in its environment: `/sev` registered, the
/// gateway connected, an interaction answered and its channel created, then a clean stop.
#[tokio::test]
async fn the_binary_runs_on_discord_from_its_environment() {
    let (fake, addr) = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sevbot.toml");
    std::fs::write(
        &config,
        format!(
            "[[people]]\nid = \"dana\"\nhandles = {{ discord = \"{DANA}\" }}\n\
             [[rotations]]\nname = \"imoc\"\nrole = \"imoc\"\nmembers = [\"dana\"]\nstart_date = \"2026-01-05\"\n\
             [discord]\nguild_id = \"{GUILD}\"\nincident_category = \"{CATEGORY}\"\n"
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sevbot"))
        .current_dir(dir.path())
        .args([
            "--config",
            config.to_str().unwrap(),
            "run",
            "--console",
            "off",
        ])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("s.db").display()),
        )
        .env("SEVBOT_HTTP_ADDR", "127.0.0.1:0")
        .env("DISCORD_BOT_TOKEN", fd::TOKEN)
        .env("DISCORD_APPLICATION_ID", fd::APP_ID)
        .env("DISCORD_API_URL", format!("http://{addr}/api/v10"))
        .env_remove("DISCORD_PUBLIC_KEY")
        .env_remove("SLACK_BOT_TOKEN")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_until("IDENTIFY from the binary", || fake.gateway_stats().1 == 1).await;
    assert_eq!(fake.commands().len(), 1, "/sev registered on start-up");
    fake.dispatch(
        "INTERACTION_CREATE",
        fd::command(
            "1300000000000000101",
            DANA,
            GENERAL,
            "declare",
            json!([{ "name": "type", "type": 3, "value": "availability" }, { "name": "level", "type": 4, "value": 1 }, { "name": "title", "type": 3, "value": "From the binary" }]),
        ),
    );
    wait_until("the answer", || fake.callbacks().len() == 1).await;
    wait_until("the incident channel and its card", || {
        fake.channel_named("sev-1-from-the-binary")
            .is_some_and(|(_, c)| c.pins.len() == 1)
    })
    .await;
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    fake.assert_valid();
}

#[tokio::test]
async fn the_customer_draft_is_edited_in_a_modal() {
    let d = DiscordApp::start().await;
    d.declare("1300000000000000111", "Checkout failing").await;
    let (ch, _) = d.fake.channel_named("sev-1-").unwrap();
    let r = d.sub("1300000000000000112", &ch, "draft", json!([])).await;
    assert!(
        DiscordApp::content(&r).contains("Customer update draft for SEV-1"),
        "{r}"
    );
    let r = d
        .signed(&fd::command(
            "1300000000000000113",
            ALICE,
            &ch,
            "draft",
            json!([{ "name": "action", "type": 3, "value": "edit" }]),
        ))
        .await;
    assert_eq!(r["type"], 9, "{r}");
    assert_eq!(r["data"]["custom_id"], "sev_draft:SEV-1");
    assert!(
        r["data"]["components"][0]["components"][0]["value"]
            .as_str()
            .unwrap()
            .starts_with("Investigating:"),
        "{r}"
    );
    let r = d
        .signed(&fd::modal_submit(
            "1300000000000000114",
            ALICE,
            &ch,
            "sev_draft:SEV-1",
            &[("text", "We are fixing payments.")],
        ))
        .await;
    assert!(DiscordApp::content(&r).contains("saved"), "{r}");
    let r = d
        .signed(&fd::command(
            "1300000000000000115",
            DANA,
            &ch,
            "draft",
            json!([{ "name": "action", "type": 3, "value": "approve" }]),
        ))
        .await;
    assert_eq!(r["data"]["flags"], 64);
    assert!(
        DiscordApp::content(&r).starts_with("Only SEV-1's BMOC"),
        "{r}"
    );
    d.fake.assert_valid();
}

/// If the configured API cannot name a gateway, sevbot stays off the gateway rather than
/// fall back to Discord's own (HTTP interactions keep working).
#[tokio::test]
async fn no_gateway_url_means_no_gateway_not_discords_own() {
    let d = DiscordApp::start().await;
    d.fake.inject("GET /gateway/bot", Fault::Http500);
    assert!(d.app.start_discord().await.is_none());
    assert_eq!(d.fake.gateway_stats().0, 0, "never connected anywhere");
    let r = d.signed(&json!({ "id": "1", "application_id": fd::APP_ID, "type": 1, "token": "t", "version": 1 })).await;
    assert_eq!(r["type"], 1);
}

/// User text is data on Discord too: `@everyone`, a typed user mention and a masked link
/// in a title are shown, not acted on; every message may notify only the people sevbot
/// names itself.
#[tokio::test]
async fn typed_mentions_and_masked_links_do_nothing_on_discord() {
    let d = DiscordApp::start().await;
    let title =
        "Leak @everyone <@123456789012345678> [Click to re-login](https://evil.example/login)";
    let r = d.declare("1300000000000000099", title).await;
    let answer = r["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let posts = d.fake.calls_to("POST", "/channels/{channel_id}/messages");
    assert!(!posts.is_empty());
    let people: Vec<&str> = vec![
        "100000000000000011",
        "100000000000000012",
        "100000000000000013",
        DANA,
    ];
    let mut texts = vec![answer];
    for c in posts.iter().chain(
        d.fake
            .calls_to("PATCH", "/channels/{channel_id}/messages/{message_id}")
            .iter(),
    ) {
        let am = &c.body["allowed_mentions"];
        assert_eq!(am["parse"], json!([]), "{}", c.body);
        assert!(
            am["roles"].as_array().is_none_or(|r| r.is_empty()),
            "{}",
            c.body
        );
        for u in am["users"].as_array().into_iter().flatten() {
            assert!(people.contains(&u.as_str().unwrap()), "{}", c.body);
        }
        texts.push(c.body["content"].as_str().unwrap_or_default().to_string());
        texts.push(c.body["embeds"].to_string());
    }
    for (_, c) in d.fake.channels() {
        texts.push(c.topic.clone().unwrap_or_default());
    }
    // The postmortem goes as a file (whose words ping nobody); what is said in chat
    // about it carries no user text.
    let pm = d
        .sub(
            "1300000000000000098",
            GENERAL,
            "postmortem",
            json!([{ "name": "sev", "type": 3, "value": "SEV-1" }]),
        )
        .await;
    let pm = DiscordApp::content(&pm);
    assert!(pm.contains("postmortem-SEV-1.md"), "{pm}");
    texts.push(pm);
    for t in &texts {
        assert!(!t.contains("@everyone"), "{t}");
        assert!(!t.contains(" <@123456789012345678>"), "{t}");
        assert!(!t.contains(" [Click"), "a masked link: {t}");
    }
    let all = texts.join("\n");
    assert!(
        all.contains("\\[Click to re-login\\]"),
        "shown as typed: {all}"
    );
    assert!(
        all.contains("<@100000000000000011>"),
        "sevbot's own mention: {all}"
    );
    d.fake.assert_valid();
}

/// Options and forms are taken as typed: a title with flag-like words stays the title, and
/// a multi-line update from the form keeps its line breaks in the channel and the feed.
#[tokio::test]
async fn options_and_forms_keep_text_as_typed() {
    // The customer updates go to the general channel (a channel the fake Discord knows).
    const CUSTOMERS: &str = GENERAL;
    let d = DiscordApp::with(&format!(
        "[availability]\ncustomer_updates = {{ platform = \"discord\", channel = \"{CUSTOMERS}\" }}\n"
    ))
    .await;
    d.sub("1300000000000000070", GENERAL, "subscribe", json!([]))
        .await;
    let title = "Checkout \"eu\" --new --private -- failing";
    d.declare("1300000000000000071", title).await;
    let (stored, restricted): (String, i64) =
        sqlx::query_as("SELECT title, restricted FROM sevs WHERE id = 1")
            .fetch_one(&d.app.engine.store.pool)
            .await
            .unwrap();
    assert_eq!(stored, title);
    assert_eq!(restricted, 0, "a flag in the title flips nothing");
    let update = "rolled back\n\nnext: failover at 10:30";
    d.signed(&fd::modal_submit(
        "1300000000000000072",
        DANA,
        GENERAL,
        "sev_update:SEV-1",
        &[("text", update)],
    ))
    .await;
    d.deliver().await;
    let bodies: Vec<String> = d
        .fake
        .calls_to("POST", "/channels/{channel_id}/messages")
        .into_iter()
        .chain(
            d.fake
                .calls_to("PATCH", "/channels/{channel_id}/messages/{message_id}"),
        )
        .map(|c| c.body.to_string())
        .collect();
    let escaped = serde_json::to_string(update).unwrap();
    let escaped = escaped.trim_matches('"');
    let lines = bodies.iter().filter(|b| b.contains(escaped)).count();
    assert!(lines >= 2, "the channel's line and the feed: {bodies:?}");

    // The customer update, written in the draft form by the IMOC, keeps its lines too.
    let draft = "Checkout is failing for some customers.\n\nNo payment was taken twice.";
    let r = d
        .signed(&fd::modal_submit(
            "1300000000000000073",
            ALICE,
            GENERAL,
            "sev_draft:SEV-1",
            &[("text", draft)],
        ))
        .await;
    assert!(DiscordApp::content(&r).contains("saved"), "{r}");
    let r = d
        .signed(&fd::command(
            "1300000000000000074",
            ALICE,
            GENERAL,
            "draft",
            json!([
                { "name": "action", "type": 3, "value": "approve" },
                { "name": "sev", "type": 3, "value": "SEV-1" }
            ]),
        ))
        .await;
    assert!(DiscordApp::content(&r).contains("published"), "{r}");
    d.deliver().await;
    let published: Vec<String> = d
        .fake
        .calls_to("POST", "/channels/{channel_id}/messages")
        .into_iter()
        .filter(|c| c.path == format!("/channels/{CUSTOMERS}/messages"))
        .map(|c| c.body["content"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        published.contains(&draft.to_string()),
        "the customer update as written: {published:?}"
    );
}

/// `/sev review postmortem` in Discord: the whole document (far over a message's 2,000
/// characters) as a Markdown attachment in a direct message, pinging nobody.
#[tokio::test]
async fn the_postmortem_arrives_as_an_attachment_in_a_direct_message() {
    let d = DiscordApp::start().await;
    d.sub(
        "1300000000000000095",
        GENERAL,
        "declare",
        json!([{ "name": "type", "value": "availability" }, { "name": "level", "value": 1 }, { "name": "title", "value": "Checkout failing @everyone" }]),
    )
    .await;
    for (i, id) in [
        "1300000000000000097",
        "1300000000000000098",
        "1300000000000000099",
    ]
    .into_iter()
    .enumerate()
    {
        let text = format!(
            "Step {i}: {}",
            "drained the failing zone and watched the error rate. ".repeat(6)
        );
        d.sub(
            id,
            GENERAL,
            "update",
            json!([{ "name": "text", "value": text }, { "name": "sev", "value": "SEV-1" }]),
        )
        .await;
    }
    let r = d
        .sub(
            "1300000000000000096",
            GENERAL,
            "postmortem",
            json!([{ "name": "sev", "value": "SEV-1" }]),
        )
        .await;
    let said = DiscordApp::content(&r);
    assert!(
        said.ends_with("is on its way to you in a direct message, as postmortem-SEV-1.md."),
        "{r}"
    );
    assert_eq!(
        r["data"]["flags"], 64,
        "only the asker sees the answer: {r}"
    );
    let (_, dm) = d
        .fake
        .channel_named(&format!("dm-{DANA}"))
        .expect("a DM with the asker");
    let msg = dm
        .messages
        .values()
        .find(|m| !m["attachments"].is_null())
        .unwrap_or_else(|| {
            panic!(
                "a message with the file: {:?}\n{:?}\n{:?}",
                dm.messages,
                d.fake.violations(),
                d.fake
                    .calls()
                    .iter()
                    .rev()
                    .take(4)
                    .map(|c| format!("{} {} {}", c.method, c.path, c.body))
                    .collect::<Vec<_>>()
            )
        });
    assert_eq!(msg["attachments"][0]["filename"], "postmortem-SEV-1.md");
    let content = msg["attachments"][0]["content"].as_str().unwrap();
    assert!(content.contains("Checkout failing"), "{content}");
    assert!(content.len() > 2_000, "whole: {} bytes", content.len());
    assert!(
        msg["content"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1's postmortem as of")
    );
    let calls = d.fake.calls();
    let sent = calls
        .iter()
        .rfind(|c| c.method == "POST" && c.route == "/channels/{channel_id}/messages")
        .unwrap();
    assert_eq!(sent.body["allowed_mentions"], json!({ "parse": [] }));
    d.fake.assert_valid();
}

/// Discord says with each interaction what the bot may do in that channel: where it
/// cannot send messages, a subscription is refused with the permission to grant.
#[tokio::test]
async fn subscribing_where_sevbot_cannot_post_is_refused_with_the_fix() {
    let d = DiscordApp::start().await;
    let mut cmd = fd::command("1300000000000000090", DANA, GENERAL, "subscribe", json!([]));
    // View Channel without Send Messages.
    cmd["app_permissions"] = json!((1u64 << 10).to_string());
    let r = d.signed(&cmd).await;
    assert_eq!(r["data"]["flags"], 64, "only for the person who asked: {r}");
    let text = DiscordApp::content(&r);
    assert!(
        text.starts_with("Not subscribed: sevbot cannot post in <#")
            && text.contains("Give sevbot's role View Channel and Send Messages here"),
        "{text}"
    );
    assert_eq!(d.rows("SELECT COUNT(*) FROM subscriptions").await, 0);
    // Administrator is enough on its own.
    cmd["id"] = json!("1300000000000000091");
    cmd["app_permissions"] = json!((1u64 << 3).to_string());
    let r = d.signed(&cmd).await;
    assert!(DiscordApp::content(&r).starts_with("Subscribed"), "{r}");
    assert_eq!(d.rows("SELECT COUNT(*) FROM subscriptions").await, 1);
}
