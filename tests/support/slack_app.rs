//! A Slack workspace for tests: the real app (engine, outbox, HTTP endpoints) built for
//! Slack, a fake Slack Web API and Socket Mode server, and requests signed as Slack signs
//! them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sevbot::adapters::console;
use sevbot::adapters::slack::SlackSettings;
use sevbot::adapters::slack::verify::sign;
use sevbot::app::App;
use sevbot::clock::{Clock, ManualClock};

use super::fake_slack::{APP_TOKEN, FakeSlack, TOKEN};
use super::{Backend, T0};

pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// A request signed with `secret` as Slack signs it (v0: HMAC-SHA256 over
/// `v0:{ts}:{body}`).
pub async fn signed_post(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    content_type: &str,
    body: String,
    ts: i64,
) -> reqwest::Response {
    http.post(url)
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", ts.to_string())
        .header(
            "x-slack-signature",
            sign(secret.as_bytes(), ts, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A `/sev` command's body: every field of Slack's own sample, form-encoded as Slack
/// sends it, with a fresh trigger_id.
pub fn slash_form(user: &str, channel: &str, text: &str) -> String {
    let mut p = payload_fixture("SlashCommandPayload");
    for (k, v) in [
        ("team_id", "T0001"),
        ("team_domain", "example"),
        ("channel_id", channel),
        ("channel_name", "whatever"),
        ("user_id", user),
        ("user_name", "someone"),
        ("command", "/sev"),
        ("text", text),
        ("response_url", "https://hooks.slack.com/commands/1234/5678"),
        ("trigger_id", &next_trigger()),
    ] {
        p[k] = json!(v);
    }
    let pairs: Vec<(String, String)> = p
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    serde_urlencoded::to_string(pairs).unwrap()
}

/// Slack gives every command and interaction its own trigger_id.
pub fn next_trigger() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!(
        "13345224609.738474920.{}",
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    )
}

pub struct SlackApp {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub slack: FakeSlack,
    pub base: String,
    pub http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

impl SlackApp {
    pub async fn start(b: Backend) -> SlackApp {
        Self::start_with(b, "", |_| {}).await
    }

    /// `extra` is appended to the test config; `prepare` sets up the workspace before start.
    pub async fn start_with(b: Backend, extra: &str, prepare: impl FnOnce(&FakeSlack)) -> SlackApp {
        Self::start_clocked(
            b,
            extra,
            prepare,
            ManualClock::new(T0),
            Duration::from_millis(500),
        )
        .await
    }

    /// With a clock of the test's choosing (one that follows the wall clock, for tests that
    /// run the real worker loop) and Slack's call timeout.
    pub async fn start_clocked(
        b: Backend,
        extra: &str,
        prepare: impl FnOnce(&FakeSlack),
        clock: ManualClock,
        call_timeout: Duration,
    ) -> SlackApp {
        let (slack, slack_addr) = FakeSlack::start().await;
        prepare(&slack);
        let (url, dir) = match b {
            Backend::Sqlite => {
                let d = tempfile::tempdir().unwrap();
                (
                    format!("sqlite://{}", d.path().join("s.db").display()),
                    Some(d),
                )
            }
            Backend::Postgres => (super::pg::fresh_database().await, None),
        };
        let mut cfg = (*super::test_config(extra)).clone();
        cfg.database.url = url;
        let settings = SlackSettings {
            bot_token: TOKEN.into(),
            signing_secret: Some(SECRET.into()),
            app_token: Some(APP_TOKEN.into()),
            call_timeout,
            api_url: format!("http://{slack_addr}/api"),
        };
        let clock = Arc::new(clock);
        let out: console::Output = Arc::new(std::sync::Mutex::new(Box::new(std::io::sink())));
        let app = App::build(Arc::new(cfg), clock.clone(), out, Some(settings), None)
            .await
            .unwrap();
        let addr = super::serve(app.router()).await;
        SlackApp {
            app,
            clock,
            slack,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub async fn signed(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        ts: i64,
    ) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        signed_post(&self.http, &url, SECRET, content_type, body, ts).await
    }

    pub async fn post_form(&self, path: &str, body: String) -> reqwest::Response {
        self.signed(path, "application/x-www-form-urlencoded", body, self.now())
            .await
    }

    pub async fn post_json(&self, path: &str, body: String) -> reqwest::Response {
        self.signed(path, "application/json", body, self.now())
            .await
    }

    /// A slash command built like Slack's (see fixtures/slack/payloads/SlashCommandPayload.json).
    pub async fn command(&self, user: &str, channel: &str, text: &str) -> Value {
        let r = self
            .post_form("/slack/commands", slash_form(user, channel, text))
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms() / 1000
    }

    /// Delivers everything, letting the clock run through Slack's one-message-a-second
    /// pacing (but not through retry backoffs, which tests step over explicitly).
    pub async fn deliver(&self) {
        for _ in 0..500 {
            self.app
                .delivery
                .drain(Duration::from_secs(20))
                .await
                .unwrap();
            let paced: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(o.next_attempt_at) FROM outbox o WHERE o.status = 'pending' AND o.last_error IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.queue = o.queue AND p.status = 'pending' AND p.id < o.id)",
            )
            .fetch_one(&self.app.engine.store.pool)
            .await
            .unwrap();
            match paced {
                Some(t) if t > self.clock.now_ms() && t <= self.clock.now_ms() + 1000 => {
                    self.clock.set(t)
                }
                _ => return,
            }
        }
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.app.engine.store.pool)
            .await
            .unwrap()
    }

    pub async fn interaction(&self, payload: Value) -> reqwest::Response {
        let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        self.post_form("/slack/interactions", form).await
    }

    pub async fn wait_for_calls(&self, method: &str, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let calls = self.slack.calls_to(method);
            if calls.len() >= n {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {n} {method} calls");
    }
}

pub fn payload_fixture(name: &str) -> Value {
    let path = format!(
        "{}/../shared/fixtures/slack/payloads/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("missing fixture {path}: {e} (the tests need ../shared beside the repo)")
    });
    serde_json::from_str(&text).unwrap()
}

/// A button press, on Slack's own block_actions sample.
pub fn block_action(user: &str, channel: &str, action_id: &str, value: &str) -> Value {
    let mut p = payload_fixture("BlockActionPayload");
    p["type"] = json!("block_actions");
    p["user"]["id"] = json!(user);
    p["channel"]["id"] = json!(channel);
    p["container"]["channel_id"] = json!(channel);
    p["trigger_id"] = json!(next_trigger());
    let mut action = p["actions"][0].clone();
    action["action_id"] = json!(action_id);
    action["value"] = json!(value);
    action["type"] = json!("button");
    p["actions"] = json!([action]);
    p
}

/// A modal submission, on Slack's own view_submission sample.
pub fn view_submission(
    user: &str,
    callback_id: &str,
    private_metadata: &str,
    values: Value,
) -> Value {
    let mut p = payload_fixture("ViewSubmissionPayload");
    p["type"] = json!("view_submission");
    p["user"]["id"] = json!(user);
    p["trigger_id"] = json!(next_trigger());
    p["view"]["callback_id"] = json!(callback_id);
    p["view"]["private_metadata"] = json!(private_metadata);
    p["view"]["state"] = json!({ "values": values });
    p
}

/// A `/sev` slash command as Socket Mode delivers it, in envelope `id`.
pub fn slash_envelope(id: &str, user: &str, channel: &str, text: &str) -> Value {
    json!({ "envelope_id": id, "type": "slash_commands", "accepts_response_payload": true,
        "payload": { "token": "x", "team_id": "T0001", "team_domain": "example", "channel_id": channel, "channel_name": "general",
            "user_id": user, "user_name": "someone", "command": "/sev", "text": text, "api_app_id": "A123",
            "is_enterprise_install": "false", "response_url": "https://hooks.slack.com/commands/1/2", "trigger_id": next_trigger() } })
}
