//! Discord HTTP interactions end to end: Ed25519-signed requests in, the real engine.

mod support;

use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use sevbot::adapters::console;
use sevbot::adapters::discord::DiscordSettings;
use sevbot::app::App;
use sevbot::clock::{Clock, ManualClock};
use support::T0;

struct DiscordApp {
    app: App,
    clock: Arc<ManualClock>,
    key: SigningKey,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl DiscordApp {
    async fn start() -> DiscordApp {
        let dir = tempfile::tempdir().unwrap();
        let extra = "[[people]]\nid = \"dana\"\nhandles = { discord = \"80351110224678912\" }\n";
        let mut cfg = (*support::test_config(extra)).clone();
        cfg.raw.database.url = format!("sqlite://{}", dir.path().join("d.db").display());
        let key = SigningKey::from_bytes(&[42u8; 32]);
        let settings = DiscordSettings {
            bot_token: None,
            application_id: Some("1100000000000000000".into()),
            public_key: Some(hex::encode(key.verifying_key().to_bytes())),
            api_url: "http://127.0.0.1:9".into(),
        };
        let clock = Arc::new(ManualClock::new(T0));
        let out: console::Output = Arc::new(std::sync::Mutex::new(Box::new(std::io::sink())));
        let app = App::build(Arc::new(cfg), clock.clone(), out, None, Some(settings))
            .await
            .unwrap();
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        std::mem::forget(stop_tx);
        let (addr, _) = sevbot::http::serve(app.router(), "127.0.0.1:0", stop)
            .await
            .unwrap();
        DiscordApp {
            app,
            clock,
            key,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn send(&self, body: &Value, sign_with: &SigningKey, ts: i64) -> reqwest::Response {
        let body = body.to_string();
        let sig = sign_with.sign(format!("{ts}{body}").as_bytes());
        self.http
            .post(format!("{}/discord/interactions", self.base))
            .header("content-type", "application/json")
            .header("x-signature-ed25519", hex::encode(sig.to_bytes()))
            .header("x-signature-timestamp", ts.to_string())
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn signed(&self, body: &Value) -> reqwest::Response {
        self.send(body, &self.key, self.clock.now_ms() / 1000).await
    }
}

/// An APPLICATION_COMMAND interaction with every field Discord sends.
fn interaction(id: &str, user: &str, channel: &str, sub: &str, options: Value) -> Value {
    json!({
        "id": id, "application_id": "1100000000000000000", "type": 2, "version": 1,
        "token": "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTp0b2tlbg", "locale": "en-US", "guild_locale": "en-US",
        "guild_id": "1000000000000000001", "channel_id": channel,
        "channel": { "id": channel, "type": 0, "guild_id": "1000000000000000001", "name": "general", "flags": 0 },
        "guild": { "id": "1000000000000000001", "locale": "en-US", "features": [] },
        "member": { "user": { "id": user, "username": "dana", "global_name": "Dana", "discriminator": "0", "avatar": null, "public_flags": 0 },
                    "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0, "permissions": "2248473465835073", "nick": null, "avatar": null, "pending": false },
        "app_permissions": "2248473465835073", "entitlements": [], "authorizing_integration_owners": { "0": "1000000000000000001" }, "context": 0,
        "attachment_size_limit": 10485760,
        "data": { "id": "1200000000000000000", "name": "sev", "type": 1, "guild_id": "1000000000000000001",
                  "options": [ { "name": sub, "type": 1, "options": options } ] }
    })
}

#[tokio::test]
async fn ping_pong_and_signatures() {
    let d = DiscordApp::start().await;
    let ping = json!({ "id": "1", "application_id": "1100000000000000000", "type": 1, "token": "t", "version": 1 });
    let r = d.signed(&ping).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "type": 1 }));
    // Signed by someone else, unsigned, or replayed: 401 and nothing processed.
    let stranger = SigningKey::from_bytes(&[1u8; 32]);
    assert_eq!(
        d.send(&ping, &stranger, d.clock.now_ms() / 1000)
            .await
            .status(),
        401
    );
    assert_eq!(
        d.send(&ping, &d.key, d.clock.now_ms() / 1000 - 600)
            .await
            .status(),
        401
    );
    let r = d
        .http
        .post(format!("{}/discord/interactions", d.base))
        .body(ping.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn slash_commands_run_through_the_engine_once() {
    let d = DiscordApp::start().await;
    let declare = interaction(
        "1300000000000000001",
        "80351110224678912",
        "1400000000000000001",
        "declare",
        json!([
            { "name": "type", "type": 3, "value": "availability" },
            { "name": "level", "type": 4, "value": 1 },
            { "name": "title", "type": 3, "value": "Checkout failing" }
        ]),
    );
    let r: Value = d.signed(&declare).await.json().await.unwrap();
    assert_eq!(r["type"], 4);
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("SEV-1 declared: SEV1 availability"),
        "{r}"
    );
    assert!(
        r["data"].get("flags").is_none(),
        "a declare is announced to the channel"
    );
    assert_eq!(r["data"]["allowed_mentions"], json!({ "parse": [] }));
    let sevs: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sevs WHERE platform = 'discord' AND declared_by = 'dana'",
    )
    .fetch_one(&d.app.engine.store.pool)
    .await
    .unwrap();
    assert_eq!(sevs, 1);
    // The same interaction again changes nothing.
    let r: Value = d.signed(&declare).await.json().await.unwrap();
    assert_eq!(r["data"]["content"], "Already handled.");
    // Mistakes are answered to the invoker only.
    let bad = interaction(
        "1300000000000000002",
        "80351110224678912",
        "1400000000000000001",
        "status",
        json!([]),
    );
    let r: Value = d.signed(&bad).await.json().await.unwrap();
    assert_eq!(r["data"]["flags"], 64);
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("#1400000000000000001 is not a SEV channel"),
        "{r}"
    );
    let role = interaction(
        "1300000000000000003",
        "80351110224678912",
        "1400000000000000001",
        "role",
        json!([
            { "name": "role", "type": 3, "value": "imoc" },
            { "name": "user", "type": 6, "value": "80351110224678912" },
            { "name": "sev", "type": 3, "value": "SEV-1" }
        ]),
    );
    let r: Value = d.signed(&role).await.json().await.unwrap();
    assert!(
        r["data"]["content"]
            .as_str()
            .unwrap()
            .contains("made @dana IMOC (was @alice)"),
        "{r}"
    );
    let unknown =
        json!({ "id": "9", "application_id": "1", "type": 3, "token": "t", "version": 1 });
    assert_eq!(d.signed(&unknown).await.status(), 400);
}
