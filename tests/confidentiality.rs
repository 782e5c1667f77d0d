//! Restricted SEVs (every security SEV, and any declared with `--private`): their title,
//! people and updates reach only their private channel, their members, the pages sent for
//! them and feeds the operator marked private. Everywhere else they are one redacted line.

mod support;

use support::{Backend, Call, TestApp};

const CONFIG: &str = r#"
[[people]]
id = "frank"
handles = { test = "U_FRANK" }
[[feeds]]
platform = "test"
channel = "sev-feed"
[[feeds]]
platform = "test"
channel = "sec-team"
private = true
[[schedules]]
name = "digest"
cron = "*/10 * * * *"
timezone = "UTC"
platform = "test"
channel = "sev-feed"
"#;

const TITLE: &str = "Leaked API key in public repo";
const REDACTED: &str = "SEV-1 · security · restricted — details in its private channel";
const CHANNEL: &str = "sev-1-security";

/// Every text sevbot sent to a channel, with the channel (pages are direct messages to the
/// people paged, who may see the SEV).
fn said(app: &TestApp) -> Vec<(String, String)> {
    app.fake
        .channel_calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Reply { channel, text, .. }
            | Call::Post { channel, text, .. }
            | Call::Edit { channel, text, .. }
            | Call::Topic {
                channel,
                topic: text,
            } => Some((channel, text)),
            Call::Create { name, .. } => Some((name.clone(), name)),
            _ => None,
        })
        .collect()
}

/// The channels created: (name, private).
fn created(app: &TestApp) -> Vec<(String, bool)> {
    app.fake
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Create { name, private } => Some((name, private)),
            _ => None,
        })
        .collect()
}

/// Nothing but the SEV's channel and the private feed ever heard of `secret`.
fn assert_kept(app: &TestApp, secret: &str, channel: &str) {
    for (ch, text) in said(app) {
        if ch != channel && ch != "sec-team" {
            assert!(!text.contains(secret), "#{ch} was told {secret:?}: {text}");
        }
    }
}

both_backends!(
    a_security_sev_says_nothing_outside_its_channel,
    |b| async move {
        let app = TestApp::with_config(b, CONFIG).await;
        app.engine.ensure_schedules().await.unwrap();
        // Every type, so security SEVs included: they show redacted.
        app.cmd("U_NOBODY", "ops", "subscribe").await;
        let d = app
            .cmd("U_CAROL", "general", &format!("declare security 1 {TITLE}"))
            .await;
        assert!(d.ephemeral, "only the declarer sees the answer: {}", d.text);
        assert!(
            d.text.contains(TITLE) && d.text.contains("Restricted"),
            "{}",
            d.text
        );
        app.deliver().await;
        assert_eq!(created(&app), [(CHANNEL.to_string(), true)]);
        for feed in ["sev-feed", "ops"] {
            let posts = app.posts_in(feed);
            assert_eq!(posts.len(), 1, "{feed}: {posts:?}");
            assert!(posts[0].contains(REDACTED), "{feed}: {}", posts[0]);
        }
        assert!(
            app.posts_in("sec-team")[0].contains(TITLE),
            "a private feed shows it in full"
        );

        // Anyone else, in the config or not, from anywhere but its channel: told it is
        // restricted and nothing more, and nothing changes.
        for who in ["U_FRANK", "U_NOBODY"] {
            for cmd in [
                "status",
                "timeline",
                "update phish <https://evil.example|re-login>",
                "timeline note x",
                "level 0",
                "role tloc @U_FRANK",
                "mitigated",
                "ack",
                "impact",
                "draft",
                "draft edit hello",
            ] {
                let r = app.cmd(who, "general", &format!("SEV-1 {cmd}")).await;
                assert!(r.ephemeral, "{who} {cmd}: {}", r.text);
                assert!(
                    r.text.starts_with("SEV-1 is restricted") && !r.text.contains(TITLE),
                    "{who} {cmd}: {}",
                    r.text
                );
            }
            let list = app.cmd(who, "general", "list").await.text;
            assert!(list.contains(REDACTED) && !list.contains(TITLE), "{list}");
        }
        let timeline = app.cmd("U_CAROL", "general", "SEV-1 timeline").await.text;
        assert!(
            !timeline.contains("phish"),
            "no outsider's update: {timeline}"
        );
        // Members and admins see it from anywhere; anyone does in its channel.
        for (who, channel) in [
            ("U_CAROL", "general"),
            ("U_IAN", "general"),
            ("U_DAVE", "general"),
            ("U_FRANK", CHANNEL),
        ] {
            let s = app.cmd(who, channel, "SEV-1 status").await.text;
            assert!(s.contains(TITLE), "{who} in {channel}: {s}");
        }
        assert!(
            app.cmd("U_IAN", "general", "list")
                .await
                .text
                .contains(TITLE)
        );
        let u = app.cmd("U_FRANK", CHANNEL, "update rotated the key").await;
        assert!(u.text.contains("rotated the key"), "{}", u.text);

        // Ian does not answer: the ladder pages jo, who may then act on it from anywhere.
        app.advance_minutes(6);
        app.tick().await;
        app.deliver().await;
        assert!(
            app.fake.page_to("jo").contains(TITLE),
            "a page says what it is about"
        );
        let ack = app.cmd("U_JO", "D_JO", "SEV-1 ack").await;
        assert!(ack.text.contains("acknowledged"), "{}", ack.text);

        // The scheduled digest and the status pushes to feeds stay redacted too.
        app.advance_minutes(31);
        while app.tick().await > 0 {}
        app.deliver().await;
        let digest: Vec<String> = said(&app)
            .into_iter()
            .filter(|(c, t)| c == "sev-feed" && t.starts_with("SEV digest"))
            .map(|(_, t)| t)
            .collect();
        assert!(!digest.is_empty(), "the digest ran");
        assert!(digest.iter().all(|d| d.contains(REDACTED)), "{digest:?}");
        let pushed = app
            .fake
            .calls()
            .into_iter()
            .filter(|c| matches!(c, Call::Edit { channel, .. } if channel == "sev-feed"))
            .count();
        assert!(pushed > 0, "the status push edited the feed");
        assert_kept(&app, TITLE, CHANNEL);
        assert_kept(&app, "rotated the key", CHANNEL);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_private_feed_subscribes_to_security_sevs() {
    let app = TestApp::with_config(Backend::Sqlite, CONFIG).await;
    let r = app.cmd("U_FRANK", "ops", "subscribe type=security").await;
    assert!(r.ephemeral, "{}", r.text);
    assert!(
        r.text.contains("cannot subscribe") && r.text.contains("private = true"),
        "{}",
        r.text
    );
    let r = app
        .cmd("U_FRANK", "ops", "subscribe type=availability,security")
        .await;
    assert!(r.text.contains("cannot subscribe"), "{}", r.text);
    let r = app
        .cmd("U_FRANK", "sec-team", "subscribe type=security")
        .await;
    assert!(r.text.starts_with("Subscribed"), "{}", r.text);
}

both_backends!(any_sev_can_be_declared_private, |b| async move {
    let app = TestApp::with_config(b, CONFIG).await;
    let d = app
        .cmd(
            "U_ALICE",
            "general",
            "declare durability 2 Payroll export lost --private",
        )
        .await;
    assert!(d.ephemeral, "{}", d.text);
    app.deliver().await;
    assert_eq!(created(&app), [("sev-1-durability".to_string(), true)]);
    assert!(
        app.posts_in("sev-feed")[0]
            .contains("SEV-1 · durability · restricted — details in its private channel")
    );
    // Restricted is stored with the SEV: a restart does not open it up.
    let app = app.restart("replica-b").await;
    let r = app.cmd("U_FRANK", "general", "SEV-1 status").await;
    assert!(r.text.starts_with("SEV-1 is restricted"), "{}", r.text);
    let r = app.cmd("U_ALICE", "general", "SEV-1 status").await;
    assert!(r.text.contains("Payroll export lost"), "{}", r.text);
    assert_kept(&app, "Payroll", "sev-1-durability");
});
