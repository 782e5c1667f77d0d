//! Slack end to end: signed requests in over HTTP, the real engine and outbox, and a fake
//! Slack Web API that speaks Slack's wire format.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use sevbot::adapters::slack::verify::sign;
use support::Backend;
use support::fake_slack::Fault;
use support::slack_app::{SECRET, SlackApp, block_action, slash_envelope, view_submission};

both_backends!(
    declare_by_text_and_run_the_lifecycle_in_slack,
    |b| async move {
        let s = SlackApp::start(b).await;
        let r = s
            .command(
                "U_ALICE",
                "C_GENERAL",
                "declare availability 1 Checkout failing",
            )
            .await;
        assert_eq!(r["response_type"], "in_channel");
        assert!(
            r["text"].as_str().unwrap().starts_with("SEV-1 declared"),
            "{r}"
        );
        // Acked with the SEV stored and no Web API call made yet.
        assert_eq!(s.count("SELECT COUNT(*) FROM sevs").await, 1);
        assert!(s.slack.calls().is_empty());

        s.deliver().await;
        let create = s.slack.calls_to("conversations.create");
        assert_eq!(create.len(), 1);
        assert_eq!(create[0]["name"], "sev-1-checkout-failing");
        let ch = s.slack.channel_id("sev-1-checkout-failing").unwrap();
        let invite = s.slack.calls_to("conversations.invite");
        assert_eq!(invite[0]["channel"], json!(ch));
        let users: Vec<String> = invite[0]["users"]
            .as_str()
            .map(|u| u.split(',').map(String::from).collect())
            .unwrap_or_else(|| {
                invite[0]["users"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u.as_str().unwrap().to_string())
                    .collect()
            });
        assert_eq!(users, vec!["U_ALICE", "U_BOB", "U_CAROL"]);
        let posts = s.slack.calls_to("chat.postMessage");
        let card = posts
            .iter()
            .find(|p| p["blocks"][0]["type"] == "header")
            .expect("card posted with Block Kit");
        assert!(
            card["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("*IMOC* <@U_ALICE>"),
            "{card}"
        );
        let pins = s.slack.calls_to("pins.add");
        assert_eq!(pins.len(), 1);
        let card_ts = pins[0]["timestamp"].as_str().unwrap().to_string();
        let topic = s.slack.calls_to("conversations.setTopic");
        assert!(
            topic[0]["topic"]
                .as_str()
                .unwrap()
                .contains("IMOC <@U_ALICE>"),
            "{topic:?}"
        );

        // In the incident channel, by its Slack id.
        let r = s.command("U_BOB", &ch, "update failover started").await;
        assert_eq!(r["response_type"], "ephemeral");
        s.deliver().await;
        let updates = s.slack.calls_to("chat.update");
        let edited = updates
            .iter()
            .find(|u| u["ts"] == json!(card_ts))
            .expect("card edited in place");
        assert!(edited["blocks"].to_string().contains("failover started"));
        for cmd in ["mitigated", "resolved", "close"] {
            s.command("U_ALICE", &ch, cmd).await;
        }
        s.deliver().await;
        let last = s
            .slack
            .calls_to("chat.update")
            .into_iter()
            .rfind(|u| u["ts"] == json!(card_ts))
            .unwrap();
        assert!(
            last["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("SEV-1")
        );
        assert!(
            last["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("*Stage:* closed"),
            "{last}"
        );
        assert_eq!(
            s.slack
                .calls_to("chat.postMessage")
                .iter()
                .filter(|p| p["blocks"][0]["type"] == "header")
                .count(),
            1
        );
        // Reopened after close: Slack unarchives the channel before anything is posted in
        // it (an archived channel answers is_archived), then the line and the card follow.
        assert_eq!(s.slack.calls_to("conversations.archive").len(), 1);
        let r = s.command("U_BOB", &ch, "reopen paging again").await;
        assert!(r["text"].as_str().unwrap().contains("investigating"), "{r}");
        s.deliver().await;
        assert_eq!(
            s.slack.calls_to("conversations.unarchive")[0]["channel"],
            json!(ch)
        );
        assert!(
            s.slack.messages(&ch).iter().any(|m| m["text"]
                .as_str()
                .unwrap_or("")
                .contains("closed → investigating")),
            "{:?}",
            s.slack.messages(&ch)
        );
        assert_eq!(
            s.count("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
                .await,
            0,
            "nothing failed on an archived channel"
        );

        // Mistakes are answered only to the invoker.
        let r = s
            .command("U_ALICE", "C_GENERAL", "declare availability 7 x")
            .await;
        assert_eq!(r["response_type"], "ephemeral");
        assert!(
            r["text"]
                .as_str()
                .unwrap()
                .contains("Level 7 does not exist")
        );
    }
);

both_backends!(feeds_in_slack_are_edited_in_place, |b| async move {
    let s = SlackApp::start(b).await;
    let r = s.command("U_CAROL", "C_FEED", "subscribe level<=1").await;
    assert!(r["text"].as_str().unwrap().contains("Subscribed"), "{r}");
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s.deliver().await;
    let feed_posts: Vec<_> = s
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|p| p["channel"] == "C_FEED")
        .collect();
    assert_eq!(feed_posts.len(), 1);
    let ch = s.slack.channel_id("sev-1-checkout-failing").unwrap();
    s.command("U_ALICE", &ch, "level 0").await;
    s.deliver().await;
    let feed_edits: Vec<_> = s
        .slack
        .calls_to("chat.update")
        .into_iter()
        .filter(|p| p["channel"] == "C_FEED")
        .collect();
    assert_eq!(feed_edits.len(), 1);
    assert!(
        feed_edits[0]["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("SEV0")
    );
    assert_eq!(
        s.slack
            .calls_to("chat.postMessage")
            .into_iter()
            .filter(|p| p["channel"] == "C_FEED")
            .count(),
        1
    );
});

#[tokio::test]
async fn bad_stale_and_oversized_requests_are_refused_and_nothing_is_processed() {
    let s = SlackApp::start(Backend::Sqlite).await;
    let body = "channel_id=C1&user_id=U_ALICE&text=declare+availability+1+x".to_string();
    // Wrong signature.
    let r = s
        .http
        .post(format!("{}/slack/commands", s.base))
        .header("x-slack-request-timestamp", s.now().to_string())
        .header("x-slack-signature", "v0=deadbeef")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // No signature at all.
    let r = s
        .http
        .post(format!("{}/slack/commands", s.base))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Correctly signed, but six minutes old: a replay.
    let r = s
        .signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body.clone(),
            s.now() - 360,
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.text().await.unwrap(),
        "request timestamp outside the 300 s window"
    );
    // Oversized.
    let big = format!("{body}{}", "x".repeat(100_000));
    let r = s.post_form("/slack/commands", big).await;
    assert_eq!(r.status(), 413);
    assert_eq!(s.count("SELECT COUNT(*) FROM sevs").await, 0);
    s.deliver().await;
    assert!(s.slack.calls().is_empty());
    // Signed but not a slash command.
    let r = s.post_form("/slack/commands", "hello".into()).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn events_verify_urls_and_drop_retries() {
    let s = SlackApp::start(Backend::Sqlite).await;
    let r = s.post_json("/slack/events", json!({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    let ev = json!({
        "token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "Ev08MFMKH6", "event_time": 1234567890,
        "event": {"type": "member_joined_channel", "user": "U_BOB", "channel": "C1", "channel_type": "C", "team": "T1"}
    })
    .to_string();
    for retry in [None, Some("1"), Some("2")] {
        let mut req = s
            .http
            .post(format!("{}/slack/events", s.base))
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", s.now().to_string())
            .header(
                "x-slack-signature",
                sign(SECRET.as_bytes(), s.now(), ev.as_bytes()),
            );
        if let Some(n) = retry {
            req = req
                .header("x-slack-retry-num", n)
                .header("x-slack-retry-reason", "http_timeout");
        }
        assert_eq!(req.body(ev.clone()).send().await.unwrap().status(), 200);
    }
    assert_eq!(
        s.count("SELECT COUNT(*) FROM inbound_seen WHERE key LIKE 'slack:event:%'")
            .await,
        1
    );
    let r = s
        .post_json("/slack/events", "{\"type\":\"event_callback\"}".into())
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn slack_faults_name_taken_rate_limits_outages_and_missing_scopes() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.slack.existing_channel("sev-1-checkout-failing");
    s.slack.inject(
        "chat.postMessage",
        Fault::Http429 {
            retry_after_secs: 300,
        },
    );
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s.deliver().await;
    let names: Vec<_> = s
        .slack
        .calls_to("conversations.create")
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        vec!["sev-1-checkout-failing", "sev-1-checkout-failing-2"]
    );
    // The first message (a page) was told to wait 300 s; paced channel messages moved
    // the clock about a minute meanwhile.
    let posted = s.slack.calls_to("chat.postMessage").len();
    s.clock.set(support::T0 + 299_000);
    s.deliver().await;
    assert_eq!(
        s.slack.calls_to("chat.postMessage").len(),
        posted,
        "Retry-After is honoured"
    );
    s.clock.set(support::T0 + 301_000);
    s.deliver().await;
    assert!(s.slack.calls_to("chat.postMessage").len() > posted);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            .await,
        0
    );

    // A 500 is retried; a missing scope is kept as a failure with what to fix.
    let ch = s.slack.channel_id("sev-1-checkout-failing-2").unwrap();
    s.slack.inject("chat.postMessage", Fault::Http500);
    s.command("U_ALICE", &ch, "update one").await;
    s.deliver().await;
    s.clock.advance(Duration::from_secs(5));
    s.deliver().await;
    assert!(
        s.slack
            .calls_to("chat.postMessage")
            .iter()
            .any(|p| p["text"].as_str().unwrap().ends_with("update: one"))
    );
    s.slack
        .inject("chat.postMessage", Fault::Error("is_archived"));
    s.command("U_ALICE", &ch, "update two").await;
    s.deliver().await;
    let err: String = sqlx::query_scalar("SELECT last_error FROM outbox WHERE status = 'failed'")
        .fetch_one(&s.app.engine.store.pool)
        .await
        .unwrap();
    assert!(
        err.starts_with("chat.postMessage: is_archived (the channel is archived"),
        "{err}"
    );
}

#[tokio::test]
async fn declare_by_modal_and_act_with_the_card_buttons() {
    let s = SlackApp::start(Backend::Sqlite).await;
    // `/sev` alone: acknowledged empty, then the modal opens with the trigger.
    let form = serde_urlencoded::to_string([
        ("channel_id", "C_GENERAL"),
        ("user_id", "U_ALICE"),
        ("command", "/sev"),
        ("text", ""),
        ("trigger_id", "12345.98765.abcd"),
    ])
    .unwrap();
    let r = s.post_form("/slack/commands", form).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    let opened = s.wait_for_calls("views.open", 1).await;
    assert_eq!(opened[0]["trigger_id"], "12345.98765.abcd");
    let view: Value = match &opened[0]["view"] {
        Value::String(v) => serde_json::from_str(v).unwrap(),
        v => v.clone(),
    };
    assert_eq!(view["callback_id"], "sev_declare");
    assert!(
        view.to_string().contains("SEV1: Major"),
        "definitions in view: {view}"
    );

    // Submitting it declares, with the details as a timeline note.
    let submission = view_submission(
        "U_ALICE",
        "sev_declare",
        "C_GENERAL",
        json!({
            "type": { "v": { "type": "static_select", "selected_option": { "text": { "type": "plain_text", "text": "durability" }, "value": "durability" } } },
            "level": { "v": { "type": "static_select", "selected_option": { "text": { "type": "plain_text", "text": "SEV2" }, "value": "2" } } },
            "title": { "v": { "type": "plain_text_input", "value": "Backups lagging" } },
            "description": { "v": { "type": "plain_text_input", "value": "last good backup 6 hours ago" } },
            "impact": { "v": { "type": "checkboxes", "selected_options": [] } }
        }),
    );
    let r = s.interaction(submission).await;
    assert_eq!(r.status(), 200);
    s.deliver().await;
    assert_eq!(
        s.slack.calls_to("conversations.create")[0]["name"],
        "sev-1-backups-lagging"
    );
    let said: Vec<_> = s
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|p| p["channel"] == "C_GENERAL")
        .collect();
    assert!(
        said[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1 declared: SEV2 durability"),
        "{said:?}"
    );
    let ch = s.slack.channel_id("sev-1-backups-lagging").unwrap();
    let r = s.command("U_BOB", &ch, "timeline").await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("noted: last good backup 6 hours ago"),
        "{r}"
    );

    // The card carries buttons; pressing them acts as the presser.
    let card = s
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|p| p["blocks"][0]["type"] == "header")
        .unwrap();
    let buttons: Vec<String> = card["blocks"].as_array().unwrap().last().unwrap()["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["action_id"].as_str().unwrap().to_string())
        .collect();
    // IMOC and TLOC are held: no "Take" buttons for them.
    assert_eq!(buttons, vec!["sev_update", "sev_mitigated", "sev_resolved"]);
    let click = |action: &str, user: &str| block_action(user, &ch, action, "SEV-1");
    assert_eq!(
        s.interaction(click("sev_role_imoc", "U_CAROL"))
            .await
            .status(),
        200
    );
    assert_eq!(
        s.interaction(click("sev_mitigated", "U_CAROL"))
            .await
            .status(),
        200
    );
    s.deliver().await;
    let status = s.command("U_BOB", &ch, "status").await;
    let status = status["text"].as_str().unwrap();
    assert!(
        status.contains("IMOC <@U_ALICE>"),
        "an occupied role is not seized: {status}"
    );
    assert!(status.contains("mitigated"), "{status}");
    let eph = s.slack.calls_to("chat.postEphemeral");
    assert!(
        eph.iter().any(|e| e["user"] == "U_CAROL"
            && e["text"]
                .as_str()
                .unwrap()
                .contains("alice holds IMOC on SEV-1. Only they or an admin can hand it over")),
        "{eph:?}"
    );
    // A refused click is explained to the presser only.
    s.interaction(click("sev_mitigated", "U_BOB")).await;
    s.deliver().await;
    let eph = s.slack.calls_to("chat.postEphemeral");
    assert!(
        eph.iter()
            .any(|e| e["user"] == "U_BOB"
                && e["text"].as_str().unwrap().contains("already mitigated")),
        "{eph:?}"
    );

    // "Post update" opens the update modal; submitting it posts the update.
    s.interaction(click("sev_update", "U_BOB")).await;
    let opened = s.wait_for_calls("views.open", 2).await;
    assert!(
        opened[1]["view"]
            .to_string()
            .contains(&format!("SEV-1|{ch}"))
    );
    let submit = view_submission(
        "U_BOB",
        "sev_update",
        &format!("SEV-1|{ch}"),
        json!({ "text": { "v": { "type": "plain_text_input", "value": "replica caught up" } } }),
    );
    assert_eq!(s.interaction(submit).await.status(), 200);
    s.deliver().await;
    assert!(s.slack.calls_to("chat.postMessage").iter().any(|p| {
        p["text"]
            .as_str()
            .unwrap()
            .ends_with("posted an update: replica caught up")
    }));

    // A modal missing a field is answered inside the modal.
    let bad = view_submission("U_BOB", "sev_declare", "C1", json!({}));
    let r: Value = s.interaction(bad).await.json().await.unwrap();
    assert_eq!(r["response_action"], "errors");
    // Unsigned interactions are refused.
    let r = s
        .http
        .post(format!("{}/slack/interactions", s.base))
        .body("payload=%7B%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn messages_to_one_channel_are_paced_at_one_a_second() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.command("U_CAROL", "C_FEED", "subscribe").await;
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s.app.delivery.drain(Duration::from_secs(20)).await.unwrap();
    let ch = s.slack.channel_id("sev-1-checkout-failing").unwrap();
    let in_channel = |s: &SlackApp| {
        s.slack
            .calls_to("chat.postMessage")
            .into_iter()
            .filter(|p| p["channel"] == json!(ch))
            .count()
    };
    // Channel set-up is not held back; the card goes first; the feed is another channel.
    assert_eq!(s.slack.calls_to("conversations.create").len(), 1);
    assert_eq!(s.slack.calls_to("conversations.setTopic").len(), 1);
    assert_eq!(in_channel(&s), 1);
    let first_in_channel = s
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|p| p["channel"] == json!(ch))
        .unwrap();
    assert_eq!(
        first_in_channel["blocks"][0]["type"], "header",
        "the card is the first message"
    );
    assert_eq!(
        s.slack
            .calls_to("chat.postMessage")
            .iter()
            .filter(|p| p["channel"] == "C_FEED")
            .count(),
        1
    );
    s.clock.advance(Duration::from_millis(999));
    s.app.delivery.drain(Duration::from_secs(20)).await.unwrap();
    assert_eq!(in_channel(&s), 1);
    s.clock.advance(Duration::from_millis(1));
    s.app.delivery.drain(Duration::from_secs(20)).await.unwrap();
    assert_eq!(in_channel(&s), 2);
    s.deliver().await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_slack_outage_mid_sev_loses_nothing_and_keeps_order() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s.deliver().await;
    let ch = s.slack.channel_id("sev-1-checkout-failing").unwrap();
    for _ in 0..10 {
        s.slack.inject("*", Fault::Http500);
    }
    for i in 0..6 {
        s.command("U_ALICE", &ch, &format!("update step {i}")).await;
    }
    // Slack keeps failing for a while; sevbot keeps retrying with backoff.
    for _ in 0..30 {
        s.deliver().await;
        if s.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            .await
            == 0
        {
            break;
        }
        s.clock.advance(Duration::from_secs(300));
    }
    assert_eq!(
        s.count("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
            .await,
        0
    );
    let updates: Vec<String> = s
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter_map(|p| {
            p["text"]
                .as_str()
                .filter(|t| t.contains("posted an update"))
                .map(String::from)
        })
        .collect();
    let expected: Vec<String> = (0..6)
        .map(|i| format!("<@U_ALICE> posted an update: step {i}"))
        .collect();
    assert_eq!(updates, expected);
}

#[tokio::test]
async fn people_are_mapped_to_slack_users_by_email() {
    let extra = "[[people]]\nid = \"erin\"\nemail = \"erin@example.com\"\n[[people]]\nid = \"zoe\"\nemail = \"zoe@example.com\"\n";
    let s = SlackApp::start_with(Backend::Sqlite, extra, |slack| {
        slack.user("erin@example.com", "U_ERIN")
    })
    .await;
    let looked_up: Vec<_> = s
        .slack
        .calls_to("users.lookupByEmail")
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        looked_up,
        vec!["erin@example.com", "zoe@example.com"],
        "only people without a Slack handle are looked up"
    );
    s.command("U_ALICE", "C_GENERAL", "declare availability 2 Search slow")
        .await;
    s.deliver().await;
    let ch = s.slack.channel_id("sev-1-search-slow").unwrap();
    let r = s.command("U_BOB", &ch, "role tloc <@U_ERIN|erin>").await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("<@U_BOB> made <@U_ERIN> TLOC (was <@U_BOB>)"),
        "{r}"
    );
    s.deliver().await;
    let card = s.slack.calls_to("chat.update").into_iter().last().unwrap();
    assert!(
        card["blocks"].to_string().contains("*TLOC* <@U_ERIN>"),
        "{card}"
    );
    // Zoe is unknown to Slack: she cannot be named by a Slack mention.
    let r = s.command("U_ALICE", &ch, "role tloc <@U_ZOE>").await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .starts_with("I don't know @U_ZOE"),
        "{r}"
    );
}

async fn wait_ack(s: &SlackApp, envelope: &str) -> Value {
    for _ in 0..250 {
        if let Some(a) = s.slack.acks_for(envelope).into_iter().next() {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no ack for envelope {envelope}");
}

#[tokio::test]
async fn socket_mode_commands_events_and_a_reconnect() {
    let s = SlackApp::start(Backend::Sqlite).await;
    let listener = s
        .app
        .start_socket_mode()
        .await
        .unwrap()
        .expect("socket mode starts with an app token");
    s.wait_for_calls("apps.connections.open", 1).await;

    s.slack
        .push(slash_envelope(
            "env-1",
            "U_ALICE",
            "C_GENERAL",
            "declare availability 1 Checkout failing",
        ))
        .await;
    let ack = wait_ack(&s, "env-1").await;
    assert_eq!(ack["payload"]["response_type"], "in_channel", "{ack}");
    assert!(
        ack["payload"]["text"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1 declared"),
        "{ack}"
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM sevs").await, 1);
    s.deliver().await;
    let ch = s.slack.channel_id("sev-1-checkout-failing").unwrap();

    // Events are de-duplicated across redeliveries.
    for (env, attempt) in [("env-2", 0), ("env-3", 1)] {
        s.slack.push(json!({ "envelope_id": env, "type": "events_api", "accepts_response_payload": false, "retry_attempt": attempt, "retry_reason": if attempt > 0 { "timeout" } else { "" },
            "payload": { "token": "x", "team_id": "T0001", "api_app_id": "A123", "type": "event_callback", "event_id": "Ev0SOCKET", "event_time": 1700000000,
                "event": { "type": "member_joined_channel", "user": "U_BOB", "channel": ch, "channel_type": "C", "team": "T0001", "event_ts": "1700000000.000100" } } })).await;
        wait_ack(&s, env).await;
    }
    assert_eq!(
        s.count("SELECT COUNT(*) FROM inbound_seen WHERE key LIKE 'slack:event:%'")
            .await,
        1
    );

    // A button press over the socket acts like one over HTTP.
    s.slack.push(json!({ "envelope_id": "env-4", "type": "interactive", "accepts_response_payload": false,
        "payload": { "type": "block_actions", "team": { "id": "T0001", "domain": "example" }, "user": { "id": "U_BOB", "team_id": "T0001" },
            "api_app_id": "A123", "token": "x", "trigger_id": "9.9.9", "channel": { "id": ch, "name": "sev-1-checkout-failing" },
            "container": { "type": "message", "message_ts": "1700000000.000001", "channel_id": ch, "is_ephemeral": false },
            "actions": [ { "type": "button", "action_id": "sev_mitigated", "block_id": "sev_card_actions", "value": "SEV-1", "action_ts": "1700000001.000200", "text": { "type": "plain_text", "text": "Mitigated" } } ] } })).await;
    wait_ack(&s, "env-4").await;
    let status = s.command("U_BOB", &ch, "status").await;
    assert!(
        status["text"].as_str().unwrap().contains("mitigated"),
        "{status}"
    );

    // Slack drops the connection; slack-morphism reconnects and commands keep working.
    s.slack.disconnect();
    for _ in 0..250 {
        if s.slack.socket_connects() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(s.slack.socket_connects() >= 2, "reconnected");
    let env5 = slash_envelope("env-5", "U_ALICE", &ch, "update after reconnect");
    s.slack.push(env5.clone()).await;
    let ack = wait_ack(&s, "env-5").await;
    assert!(
        ack["payload"]["text"]
            .as_str()
            .unwrap()
            .contains("posted an update: after reconnect"),
        "{ack}"
    );
    // Slack redelivers the same command in a new envelope: acked, not run twice.
    let mut again = env5;
    again["envelope_id"] = json!("env-6");
    again["retry_attempt"] = json!(1);
    s.slack.push(again).await;
    wait_ack(&s, "env-6").await;
    let tl = s.command("U_BOB", &ch, "timeline").await;
    assert_eq!(
        tl["text"]
            .as_str()
            .unwrap()
            .matches("after reconnect")
            .count(),
        1,
        "{tl}"
    );
    listener.shutdown().await;
}

#[tokio::test]
async fn replies_use_slack_mentions_and_channel_links() {
    let s = SlackApp::start(Backend::Sqlite).await;
    let r = s.command("U_BOB", "C_RANDOM", "status").await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .starts_with("<#C_RANDOM> is not a SEV channel"),
        "{r}"
    );
    let r = s.command("U_CAROL", "C_FEED", "subscribe").await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .starts_with("Subscribed <#C_FEED> to SEVs"),
        "{r}"
    );
    let r = s
        .command(
            "U_ALICE",
            "C_GENERAL",
            "declare availability 1 Checkout failing",
        )
        .await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("IMOC <@U_ALICE>, TLOC <@U_BOB>, BMOC <@U_CAROL>"),
        "{r}"
    );
}

#[tokio::test]
async fn a_channel_that_cannot_be_created_is_explained_where_the_sev_was_declared() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.slack
        .inject("conversations.create", Fault::Error("restricted_action"));
    s.command("U_ALICE", "C_GENERAL", "declare security 1 Token leaked")
        .await;
    s.deliver().await;
    let said: Vec<String> = s
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|p| p["channel"] == "C_GENERAL")
        .map(|p| p["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("SEV-1 is declared, but its private channel could not be created: conversations.create: restricted_action (a workspace admin restricts this action)"),
        "{}",
        said[0]
    );
    assert!(
        said[0].contains("keep its details out of this channel") && !said[0].contains("Token"),
        "a restricted SEV's trouble is told without its details: {}",
        said[0]
    );
    assert_eq!(
        s.slack.calls_to("conversations.create")[0]["is_private"],
        json!(true),
        "security SEVs get private channels"
    );
}

#[test]
fn the_manifest_asks_for_least_privilege_and_points_at_real_routes() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/slack-app-manifest.yml"
    ))
    .unwrap();
    let bot = text.split("    bot:\n").nth(1).expect("bot scopes");
    let scopes: Vec<&str> = bot
        .lines()
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim_start().trim_start_matches("- "))
        .collect();
    assert_eq!(
        scopes,
        [
            "commands",
            "chat:write",
            "channels:manage",
            "groups:write",
            "users:read",
            "users:read.email",
            "pins:write",
            "channels:read",
            "groups:read",
            "channels:history",
            "groups:history",
            "im:history",
            "im:write",
            "files:write"
        ]
    );
    for route in ["/slack/commands", "/slack/interactions"] {
        assert!(
            text.contains(&format!("https://sevbot.example.com{route}")),
            "{route}"
        );
    }
    // sevbot acts on no events: subscribing to one would make operators expose an
    // events URL (and grant scopes) for nothing.
    assert!(!text.contains("bot_events"), "no event subscriptions");
}

#[tokio::test]
async fn a_command_delivered_twice_runs_once() {
    let s = SlackApp::start(Backend::Sqlite).await;
    let form = serde_urlencoded::to_string([
        ("channel_id", "C_GENERAL"),
        ("user_id", "U_ALICE"),
        ("command", "/sev"),
        ("text", "declare availability 1 Checkout failing"),
        ("trigger_id", "777.888.999"),
    ])
    .unwrap();
    let first = s.post_form("/slack/commands", form.clone()).await;
    assert!(first.text().await.unwrap().contains("SEV-1 declared"));
    let second = s.post_form("/slack/commands", form).await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.text().await.unwrap(), "");
    assert_eq!(s.count("SELECT COUNT(*) FROM sevs").await, 1);
}

#[tokio::test]
async fn a_slack_call_that_hangs_is_retried_later() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.slack.inject("conversations.create", Fault::Hang);
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s.deliver().await;
    let err: String = sqlx::query_scalar(
        "SELECT last_error FROM outbox WHERE status = 'pending' ORDER BY id LIMIT 1",
    )
    .fetch_one(&s.app.engine.store.pool)
    .await
    .unwrap();
    assert_eq!(err, "conversations.create: timed out");
    s.clock.advance(Duration::from_secs(5));
    s.deliver().await;
    assert!(s.slack.channel_id("sev-1-checkout-failing").is_some());
    assert_eq!(
        s.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
            .await,
        0
    );
}

#[tokio::test]
async fn the_bmoc_edits_the_customer_draft_in_a_modal() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s.deliver().await;
    let r = s.command("U_CAROL", "C_GENERAL", "SEV-1 draft").await;
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("Customer update draft for SEV-1"),
        "{r}"
    );
    // `draft edit` without text opens the form with the current draft in it.
    let form = serde_urlencoded::to_string([
        ("channel_id", "C_GENERAL"),
        ("user_id", "U_CAROL"),
        ("command", "/sev"),
        ("text", "SEV-1 draft edit"),
        ("trigger_id", "12345.98765.draft"),
    ])
    .unwrap();
    let r = s.post_form("/slack/commands", form).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        "",
        "acknowledged empty: the form opens"
    );
    let opened = s.wait_for_calls("views.open", 1).await;
    let view: Value = match &opened[0]["view"] {
        Value::String(v) => serde_json::from_str(v).unwrap(),
        v => v.clone(),
    };
    assert_eq!(view["callback_id"], "sev_draft");
    assert!(
        view["blocks"][0]["element"]["initial_value"]
            .as_str()
            .unwrap()
            .starts_with("Investigating:"),
        "{view}"
    );
    let sub = view_submission(
        "U_CAROL",
        "sev_draft",
        view["private_metadata"].as_str().unwrap(),
        json!({ "text": { "v": { "type": "plain_text_input", "value": "Payments are failing for some customers; we are on it." } } }),
    );
    assert_eq!(s.interaction(sub).await.status(), 200);
    s.deliver().await;
    let body: String = sqlx::query_scalar("SELECT body FROM drafts ORDER BY id DESC LIMIT 1")
        .fetch_one(&s.app.engine.store.pool)
        .await
        .unwrap();
    assert_eq!(
        body,
        "Payments are failing for some customers; we are on it."
    );
}

/// User text is data: a title and an update full of Slack broadcasts, user mentions and
/// links reach Slack escaped everywhere — answers, fallback text, blocks, topic — while
/// sevbot's own mentions stay mentions.
#[tokio::test]
async fn typed_broadcasts_and_links_never_reach_slack_raw() {
    let s = SlackApp::start(Backend::Sqlite).await;
    let title = "Leak <!channel> <!here> <!subteam^S1|ops> <@U999>";
    let r = s
        .command(
            "U_DAVE",
            "C_GENERAL",
            &format!("declare availability 1 {title}"),
        )
        .await;
    s.deliver().await;
    let ch = s
        .slack
        .channel_id("sev-1-leak-channel-here-subteam-s1-ops-u999")
        .unwrap();
    let r2 = s
        .command(
            "U_ALICE",
            &ch,
            "update <!everyone> see <https://evil.example/login|re-login> now",
        )
        .await;
    let status = s.command("U_ALICE", &ch, "status").await;
    s.deliver().await;
    let raw = [
        "<!channel>",
        "<!here>",
        "<!subteam",
        "<@U999>",
        "<!everyone>",
        "<https://evil",
    ];
    let mut seen = vec![r.to_string(), r2.to_string(), status.to_string()];
    for c in s.slack.calls() {
        let mut body = c.body.clone();
        // A plain_text header shows its text as it is: nothing in it is acted on.
        if let Some(blocks) = body["blocks"].as_array_mut() {
            blocks.retain(|b| b["type"] != "header");
        }
        seen.push(format!("{} {body}", c.method));
    }
    for text in &seen {
        for r in raw {
            assert!(!text.contains(r), "{r} reached Slack raw in: {text}");
        }
    }
    let all = seen.join("\n");
    assert!(all.contains("&lt;!channel&gt;"), "shown, escaped");
    assert!(
        all.contains("<@U_ALICE>"),
        "sevbot's own mentions are real mentions"
    );
    assert!(!all.contains("&lt;@U_ALICE&gt;"), "and are not escaped");
}

/// A security SEV declared in a public channel: the answer is the declarer's alone, a
/// subscribed channel sees one redacted line, and its members still see it in full.
#[tokio::test]
async fn a_security_sev_reaches_slack_only_where_it_may() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.command("U_CAROL", "C_FEED", "subscribe").await;
    let r = s
        .command("U_ALICE", "C_GENERAL", "declare security 1 Token leaked")
        .await;
    assert_eq!(r["response_type"], "ephemeral", "{r}");
    assert!(r["text"].as_str().unwrap().contains("Token leaked"), "{r}");
    s.deliver().await;
    let feed: Vec<Value> = s
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|p| p["channel"] == "C_FEED")
        .collect();
    assert_eq!(feed.len(), 1, "{feed:?}");
    let said = feed[0].to_string();
    assert!(!said.contains("Token"), "{said}");
    assert!(
        feed[0]["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1 · security · restricted — details in its private channel"),
        "{said}"
    );
    let nobody = s.command("U_NOBODY", "C_GENERAL", "SEV-1 status").await;
    assert_eq!(nobody["response_type"], "ephemeral");
    assert!(
        nobody["text"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1 is restricted"),
        "{nobody}"
    );
    let list = s.command("U_NOBODY", "C_GENERAL", "list").await.to_string();
    assert!(!list.contains("Token"), "{list}");
    let ch = s.slack.channel_id("sev-1-security").unwrap();
    let inside = s.command("U_NOBODY", &ch, "status").await.to_string();
    assert!(inside.contains("Token leaked"), "in its channel: {inside}");
}

/// A refused hand-over answers with a button; pressing it mentions the holder and the IMOC
/// in the SEV's channel as real Slack mentions.
#[tokio::test]
async fn a_refused_hand_over_offers_a_button_to_ask_for_the_role() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s.deliver().await;
    let r = s
        .command("U_HANK", "C_GENERAL", "SEV-1 role tloc <@U_HANK>")
        .await;
    assert_eq!(r["response_type"], "ephemeral");
    assert!(
        r["text"].as_str().unwrap().contains("bob holds TLOC"),
        "{r}"
    );
    let button = &r["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], "sev_ask_tloc", "{r}");
    assert_eq!(button["value"], "SEV-1");
    assert_eq!(button["text"]["text"], "Ask for TLOC");

    let press = block_action("U_HANK", "C_GENERAL", "sev_ask_tloc", "SEV-1");
    assert_eq!(s.interaction(press).await.status(), 200);
    s.deliver().await;
    let ch = s.slack.channel_id("sev-1-checkout-failing").unwrap();
    let asked: Vec<String> = s
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|p| p["channel"] == ch)
        .filter_map(|p| p["text"].as_str().map(String::from))
        .filter(|t| t.contains("asks for TLOC"))
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].contains("<@U_BOB> or <@U_ALICE>"), "{}", asked[0]);
}

/// Text from forms is taken as typed: a title with flag-like words and quotes stays the
/// title, a description is the first note (in the declare's own transaction), and
/// multi-line updates and customer drafts keep their line breaks in the channel, the feed
/// and the published customer update.
#[tokio::test]
async fn forms_keep_text_as_typed() {
    let customers =
        "[availability]\ncustomer_updates = { platform = \"slack\", channel = \"C_CUSTOMERS\" }\n";
    let s = SlackApp::start_with(Backend::Sqlite, customers, |_| {}).await;
    s.command("U_CAROL", "C_FEED", "subscribe").await;
    let title = "Backups \"eu\" --new --customer-impact -- lagging";
    let declare = view_submission(
        "U_ALICE",
        "sev_declare",
        "C_GENERAL",
        json!({
            "type": { "v": { "type": "static_select", "selected_option": { "value": "availability" } } },
            "level": { "v": { "type": "static_select", "selected_option": { "value": "1" } } },
            "title": { "v": { "type": "plain_text_input", "value": title } },
            "description": { "v": { "type": "plain_text_input", "value": "last good backup 6 h ago\nrestore tested: no" } },
            "impact": { "v": { "type": "checkboxes", "selected_options": [] } }
        }),
    );
    assert_eq!(s.interaction(declare).await.status(), 200);
    let (stored, impact): (String, i64) =
        sqlx::query_as("SELECT title, customer_impact FROM sevs WHERE id = 1")
            .fetch_one(&s.app.engine.store.pool)
            .await
            .unwrap();
    assert_eq!(stored, title);
    assert_eq!(impact, 0, "a flag in the title flips nothing");
    let events: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, at FROM incident_events WHERE sev_id = 1 ORDER BY id LIMIT 2")
            .fetch_all(&s.app.engine.store.pool)
            .await
            .unwrap();
    assert_eq!(events[0].0, "declared");
    assert_eq!(
        events[1],
        ("note".to_string(), events[0].1),
        "one transaction"
    );
    s.deliver().await;
    let ch = s
        .slack
        .channel_id("sev-1-backups-eu-new-customer-impact-lagging")
        .unwrap();
    let posted = |needle: &str| -> Vec<String> {
        s.slack
            .calls_to("chat.postMessage")
            .into_iter()
            .chain(s.slack.calls_to("chat.update"))
            .filter(|p| p["text"].as_str().unwrap_or_default().contains(needle))
            .map(|p| format!("{} {}", p["channel"], p["text"]))
            .collect()
    };
    assert!(
        posted("noted: last good backup 6 h ago\nrestore tested: no")
            .iter()
            .any(|p| p.contains(&ch)),
        "{:?}",
        posted("noted")
    );

    let update = "replica caught up\n\nnext: failover at 10:30";
    let submit = view_submission(
        "U_BOB",
        "sev_update",
        &format!("SEV-1|{ch}"),
        json!({ "text": { "v": { "type": "plain_text_input", "value": update } } }),
    );
    assert_eq!(s.interaction(submit).await.status(), 200);
    s.deliver().await;
    let seen = posted(update);
    assert!(
        seen.iter().any(|p| p.contains(&ch)),
        "in the channel: {seen:?}"
    );
    assert!(
        seen.iter().any(|p| p.contains("C_FEED")),
        "on the feed: {seen:?}"
    );

    let draft = "Backups are delayed.\n\nNo data was lost.";
    let submit = view_submission(
        "U_CAROL",
        "sev_draft",
        &format!("SEV-1|{ch}"),
        json!({ "text": { "v": { "type": "plain_text_input", "value": draft } } }),
    );
    assert_eq!(s.interaction(submit).await.status(), 200);
    let body: String = sqlx::query_scalar("SELECT body FROM drafts ORDER BY id DESC LIMIT 1")
        .fetch_one(&s.app.engine.store.pool)
        .await
        .unwrap();
    assert_eq!(body, draft);
    let r = s.command("U_CAROL", &ch, "draft approve").await;
    assert!(r["text"].as_str().unwrap().contains("published"), "{r}");
    s.deliver().await;
    let published = posted(draft);
    assert!(
        published.iter().any(|p| p.contains("C_CUSTOMERS")),
        "the customer update keeps its lines: {published:?}"
    );
}

/// The declare form can say "a separate incident" as `--new` does: a second declare of the
/// same type within minutes is asked "the same incident?" unless the box is ticked.
#[tokio::test]
async fn the_declare_form_can_declare_a_separate_incident() {
    let s = SlackApp::start_with(Backend::Sqlite, "", |_| {}).await;
    let form = |title: &str, separate: bool| {
        view_submission(
            "U_ALICE",
            "sev_declare",
            "C_GENERAL",
            json!({
                "type": { "v": { "type": "static_select", "selected_option": { "value": "availability" } } },
                "level": { "v": { "type": "static_select", "selected_option": { "value": "2" } } },
                "title": { "v": { "type": "plain_text_input", "value": title } },
                "new": { "v": { "type": "checkboxes", "selected_options":
                    if separate { json!([{ "value": "yes" }]) } else { json!([]) } } }
            }),
        )
    };
    let sevs = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sevs")
            .fetch_one(&s.app.engine.store.pool)
            .await
            .unwrap()
    };
    assert_eq!(
        s.interaction(form("Search slow", false)).await.status(),
        200
    );
    assert_eq!(
        s.interaction(form("Images slow", false)).await.status(),
        200
    );
    assert_eq!(sevs().await, 1, "asked whether it is the same incident");
    s.deliver().await;
    let told = s
        .slack
        .calls_to("chat.postEphemeral")
        .into_iter()
        .chain(s.slack.calls_to("chat.postMessage"))
        .any(|c| {
            c["text"]
                .as_str()
                .is_some_and(|t| t.contains("tick \"Separate incident\""))
        });
    assert!(told, "the refusal says how to declare it from the form");
    assert_eq!(s.interaction(form("Images slow", true)).await.status(), 200);
    assert_eq!(sevs().await, 2, "a separate incident, as asked");
}

/// `/sev postmortem` in Slack: the whole document as a Markdown file in a direct message
/// (Slack's upload flow: an upload URL, the bytes, the file completed into the DM).
#[tokio::test]
async fn the_postmortem_arrives_as_a_file_in_a_direct_message() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s.deliver().await;
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "SEV-1 update <!channel> rolled back",
    )
    .await;
    let r = s.command("U_BOB", "C_GENERAL", "SEV-1 postmortem").await;
    assert_eq!(r["response_type"], "ephemeral");
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .ends_with("is on its way to you in a direct message, as postmortem-SEV-1.md."),
        "{r}"
    );
    s.deliver().await;
    let done = s.slack.calls_to("files.completeUploadExternal");
    assert_eq!(done.len(), 1);
    let dm = done[0]["channel_id"].as_str().unwrap().to_string();
    let opened = s.slack.calls_to("conversations.open");
    assert!(
        opened
            .iter()
            .any(|o| o["users"].to_string().contains("U_BOB")),
        "the DM is with the asker: {opened:?}"
    );
    let msgs = s.slack.messages(&dm);
    let file = &msgs.last().unwrap()["files"][0];
    assert_eq!(file["name"], "postmortem-SEV-1.md");
    let content = file["content"].as_str().unwrap();
    assert!(content.contains("Checkout failing"), "{content}");
    // A file is the document as written: whole, and nothing in it pings anyone.
    assert!(content.contains("rolled back"), "{content}");
    assert!(
        content.len() > 1_000,
        "the whole document: {} bytes",
        content.len()
    );
    assert!(
        msgs.last().unwrap()["text"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1's postmortem as of")
    );
}

/// A channel sevbot is not in cannot be subscribed: it would answer "Subscribed" and
/// every announcement would then fail with `not_in_channel`. The refusal says how to fix
/// it; once fixed, the subscription goes through.
#[tokio::test]
async fn subscribing_where_sevbot_cannot_post_is_refused_with_the_fix() {
    let s = SlackApp::start_with(Backend::Sqlite, "", |slack| {
        slack.keep_out("C_PUBLIC", false);
        slack.keep_out("G_PRIVATE", true);
    })
    .await;
    let subscriptions = "SELECT COUNT(*) FROM subscriptions";
    let r = s.command("U_CAROL", "C_PUBLIC", "subscribe").await;
    let text = r["text"].as_str().unwrap();
    assert_eq!(r["response_type"], "ephemeral", "{r}");
    assert!(
        text.starts_with("Not subscribed: sevbot cannot post in <#C_PUBLIC>")
            && text.contains("Invite it with `/invite @sevbot`, or give the Slack app the chat:write.public scope"),
        "{text}"
    );
    let r = s.command("U_CAROL", "G_PRIVATE", "subscribe").await;
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("Invite it with `/invite @sevbot`.") && !text.contains("chat:write.public"),
        "a private channel is only reached by invitation: {text}"
    );
    assert_eq!(s.count(subscriptions).await, 0);
    // Where sevbot is a member, as before.
    let r = s.command("U_CAROL", "C_FEED", "subscribe").await;
    assert!(r["text"].as_str().unwrap().starts_with("Subscribed"), "{r}");
    // With chat:write.public, a public channel takes its posts without an invitation.
    let s2 = SlackApp::start_with(Backend::Sqlite, "", |slack| {
        slack.keep_out("C_PUBLIC", false);
        slack.grant_scope("chat:write.public");
    })
    .await;
    let r = s2.command("U_CAROL", "C_PUBLIC", "subscribe").await;
    assert!(r["text"].as_str().unwrap().starts_with("Subscribed"), "{r}");
    s2.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s2.deliver().await;
    assert_eq!(
        s2.slack
            .calls_to("chat.postMessage")
            .iter()
            .filter(|c| c["channel"] == "C_PUBLIC")
            .count(),
        1,
        "the feed post went out"
    );
    assert_eq!(
        s2.count("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
            .await,
        0
    );
}
