//! The twin of `slack_ack` for Discord: signed HTTP interactions (Ed25519, verified as
//! Discord specifies) against the real endpoint, open loop at fixed rates, each answered
//! only after its durable write is committed: `help` (read-only), a timeline note (one
//! durable write) and a declare, at 200, 1,000 and 5,000 requests/s.
//! `cargo bench --bench discord_ack`. Same targets as `slack_ack`.

mod support;

use ed25519_dalek::SigningKey;
use serde_json::json;
use sevbot::config;
use support::discord_command;

const USER: &str = "80351110224678912";
const CHANNEL: &str = "1000000000000000100";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let key = SigningKey::from_bytes(&[42u8; 32]);
    if let Some(url) = support::load_url() {
        return load(url, key).await;
    }
    let dir = tempfile::tempdir().unwrap();
    // Nothing is delivered during the run: the outbox worker is not started.
    let (app, url, _stop) = support::discord_app(
        config::load_raw(None).unwrap(),
        dir.path(),
        &key,
        "http://127.0.0.1:9/api/v10".into(),
    )
    .await;
    support::fsync_floor("discord_ack", dir.path());
    if support::load_in_process() {
        load(url, key).await;
    } else {
        support::load_from_child(&url).await;
    }
    support::report_stored("discord_ack", &app).await;
}

/// The load generator's process.
async fn load(url: String, key: SigningKey) {
    let load = support::Load::signed(url, support::Signer::Discord(key));
    // The SEV the notes go to.
    let first = load.run(1, 1, |_| declare(0)).await;
    assert_eq!(first.refused, 0, "the first declare was not answered 200");
    let kinds: [support::Kind; 3] = [
        ("help (read-only)", |i| {
            discord_command(i, USER, CHANNEL, "help", json!([]))
        }),
        ("timeline note (durable)", |i| {
            discord_command(
                i,
                USER,
                CHANNEL,
                "note",
                json!([{ "name": "text", "type": 3, "value": format!("step {i}") },
                       { "name": "sev", "type": 3, "value": "SEV-1" }]),
            )
        }),
        ("declare (durable)", declare),
    ];
    support::matrix("discord_ack", &load, &kinds).await;
}

/// A declare; each is a new SEV (`new`), so none is refused as a repeat.
fn declare(i: u64) -> String {
    discord_command(
        1_000_000 + i,
        USER,
        CHANNEL,
        "declare",
        json!([
            { "name": "type", "type": 3, "value": "availability" },
            { "name": "level", "type": 4, "value": 2 },
            { "name": "title", "type": 3, "value": format!("Bench {i}") },
            { "name": "new", "type": 5, "value": true }
        ]),
    )
}
