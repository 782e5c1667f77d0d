//! A Discord server for tests: the real app built for Discord (HTTP interactions, engine,
//! outbox), a fake Discord REST API and gateway, and interactions signed with Ed25519.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use sevbot::adapters::console;
use sevbot::adapters::discord::DiscordSettings;
use sevbot::app::App;
use sevbot::clock::{Clock, ManualClock};

use super::T0;
use super::fake_discord::{self as fd, ARCHIVE, CATEGORY, FakeDiscord, GENERAL, GUILD};

/// Dana types the commands; alice, bob and carol are on call (see support::CONFIG).
pub const DANA: &str = "80351110224678912";
pub const ALICE: &str = "100000000000000011";

pub struct DiscordApp {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub key: SigningKey,
    pub base: String,
    pub http: reqwest::Client,
    pub fake: FakeDiscord,
    _dir: tempfile::TempDir,
}

impl DiscordApp {
    pub async fn start() -> DiscordApp {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into()))
            .with_test_writer()
            .try_init();
        Self::with("").await
    }

    pub async fn with(extra: &str) -> DiscordApp {
        Self::with_timeout(extra, Duration::from_secs(5)).await
    }

    /// `call_timeout`: how long sevbot waits for Discord before the outcome is unknown.
    pub async fn with_timeout(extra: &str, call_timeout: Duration) -> DiscordApp {
        let (fake, addr) = FakeDiscord::start().await;
        let dir = tempfile::tempdir().unwrap();
        let cfg_extra = format!(
            "[[people]]\nid = \"dana\"\nhandles = {{ discord = \"{DANA}\" }}\n\
             [discord]\nguild_id = \"{GUILD}\"\nincident_category = \"{CATEGORY}\"\narchive_category = \"{ARCHIVE}\"\n{extra}"
        );
        let mut cfg = (*super::test_config(&cfg_extra)).clone();
        cfg.database.url = format!("sqlite://{}", dir.path().join("d.db").display());
        let key = SigningKey::from_bytes(&[42u8; 32]);
        let settings = DiscordSettings {
            bot_token: Some(fd::TOKEN.into()),
            application_id: Some(fd::APP_ID.into()),
            public_key: Some(hex::encode(key.verifying_key().to_bytes())),
            api_url: format!("http://{addr}/api/v10"),
            call_timeout,
        };
        let clock = Arc::new(ManualClock::new(T0));
        let out: console::Output = Arc::new(std::sync::Mutex::new(Box::new(std::io::sink())));
        let app = App::build(Arc::new(cfg), clock.clone(), out, None, Some(settings))
            .await
            .unwrap();
        let addr = super::serve(app.router()).await;
        DiscordApp {
            app,
            clock,
            key,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            fake,
            _dir: dir,
        }
    }

    pub async fn send(&self, body: &Value, sign_with: &SigningKey, ts: i64) -> reqwest::Response {
        let body = body.to_string();
        self.http
            .post(format!("{}/discord/interactions", self.base))
            .header("content-type", "application/json")
            .header("x-signature-ed25519", fd::sign(sign_with, ts, &body))
            .header("x-signature-timestamp", ts.to_string())
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn signed(&self, body: &Value) -> Value {
        let r = self.send(body, &self.key, self.clock.now_ms() / 1000).await;
        assert_eq!(r.status(), 200);
        let answer: Value = r.json().await.unwrap();
        self.fake.check_response(&answer);
        answer
    }

    pub async fn deliver(&self) {
        self.app
            .delivery
            .drain(Duration::from_secs(10))
            .await
            .unwrap();
    }

    pub async fn declare(&self, id: &str, title: &str) -> Value {
        let r = self
            .signed(&fd::command(
                id,
                DANA,
                GENERAL,
                "declare",
                json!([
                    { "name": "type", "type": 3, "value": "availability" },
                    { "name": "level", "type": 4, "value": 1 },
                    { "name": "title", "type": 3, "value": title }
                ]),
            ))
            .await;
        self.deliver().await;
        r
    }

    pub async fn sub(&self, id: &str, channel: &str, sub: &str, options: Value) -> Value {
        let r = self
            .signed(&fd::command(id, DANA, channel, sub, options))
            .await;
        self.deliver().await;
        r
    }

    pub async fn rows(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&self.app.engine.store.pool)
            .await
            .unwrap()
    }

    pub fn content(r: &Value) -> String {
        r["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}
