//! `POST /discord/interactions`: Discord's HTTP interactions, verified with Ed25519 before
//! anything is read, answered within Discord's 3 s. The command itself is stored by the
//! engine in the same transaction that records the interaction id, so a repeated delivery
//! changes nothing.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};

use super::PLATFORM;
use super::commands;
use super::verify::{self, VerifyError};
use crate::adapters::text::clip;
use crate::engine::{Engine, Invocation, Reply};

pub const MAX_BODY: usize = 64 * 1024;
/// Discord refuses message content over 2000 characters.
pub const MAX_CONTENT: usize = 2000;

const PING: u64 = 1;
const APPLICATION_COMMAND: u64 = 2;
const PONG: u64 = 1;
const CHANNEL_MESSAGE_WITH_SOURCE: u64 = 4;
const EPHEMERAL: u64 = 1 << 6;

#[derive(Clone)]
struct Inbound {
    engine: Engine,
    key: Arc<VerifyingKey>,
}

pub fn routes(engine: Engine, key: VerifyingKey) -> Router {
    Router::new()
        .route("/discord/interactions", post(interactions))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Inbound {
            engine,
            key: Arc::new(key),
        })
}

/// The response body for a reply (also the body of a follow-up message).
pub fn message(reply: &Reply) -> Value {
    let mut data = json!({
        "content": clip(&reply.text, MAX_CONTENT),
        // Replies name people; they must not ping them.
        "allowed_mentions": { "parse": [] },
    });
    if reply.ephemeral {
        data["flags"] = json!(EPHEMERAL);
    }
    json!({ "type": CHANNEL_MESSAGE_WITH_SOURCE, "data": data })
}

async fn interactions(State(s): State<Inbound>, headers: HeaderMap, body: Bytes) -> Response {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let now = s.engine.clock.now_ms() / 1000;
    if let Err(e) = verify::verify(
        &s.key,
        h("x-signature-ed25519"),
        h("x-signature-timestamp"),
        &body,
        now,
    ) {
        tracing::warn!(reason = %e, "refused an unsigned or badly signed Discord interaction");
        let msg = match e {
            VerifyError::Missing => "missing Discord signature headers",
            VerifyError::Stale => "request timestamp outside the 300 s window",
            VerifyError::Mismatch => "invalid request signature",
        };
        return (StatusCode::UNAUTHORIZED, msg).into_response();
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not JSON: {e}")).into_response(),
    };
    match v["type"].as_u64() {
        Some(PING) => Json(json!({ "type": PONG })).into_response(),
        Some(APPLICATION_COMMAND) => command(&s, &v).await,
        Some(other) => (
            StatusCode::BAD_REQUEST,
            format!("interaction type {other} is not handled by sevbot"),
        )
            .into_response(),
        None => (StatusCode::BAD_REQUEST, "interaction without a type").into_response(),
    }
}

async fn command(s: &Inbound, v: &Value) -> Response {
    // In a guild the invoker is `member.user`; in a DM it is `user`.
    let user = v["member"]["user"]["id"]
        .as_str()
        .or(v["user"]["id"].as_str());
    let (Some(user), Some(channel), Some(id)) = (user, v["channel_id"].as_str(), v["id"].as_str())
    else {
        return (
            StatusCode::BAD_REQUEST,
            "interaction without user, channel_id or id",
        )
            .into_response();
    };
    let inv = Invocation {
        platform: PLATFORM.into(),
        user: user.into(),
        channel: channel.into(),
    };
    let reply = match commands::to_text(&v["data"]) {
        Ok(text) => {
            s.engine
                .handle_once(&inv, &text, &format!("discord:interaction:{id}"), false)
                .await
        }
        Err(why) => Some(Reply {
            text: format!("sevbot did not understand that command: {why}."),
            ephemeral: true,
            declared: None,
        }),
    };
    let reply = reply.unwrap_or_else(|| Reply {
        text: "Already handled.".into(),
        ephemeral: true,
        declared: None,
    });
    Json(message(&reply)).into_response()
}
