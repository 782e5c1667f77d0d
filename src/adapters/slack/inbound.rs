//! What Slack sends: slash commands and Events API callbacks, each verified before anything
//! is read, persisted by the engine, and answered within Slack's 3 s with no Web API call
//! before the answer (sevbot's own messages go through the outbox).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::verify::{self, VerifyError};
use super::views::{self, Intent};
use super::{PLATFORM, SlackPlatform};
use crate::engine::{Engine, Invocation};

/// Slack's own payloads are a few KiB; anything far larger is not Slack.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Clone)]
struct Inbound {
    engine: Engine,
    secret: Arc<[u8]>,
    slack: Arc<SlackPlatform>,
}

pub fn routes(engine: Engine, signing_secret: &str, slack: Arc<SlackPlatform>) -> Router {
    let state = Inbound {
        engine,
        secret: signing_secret.as_bytes().into(),
        slack,
    };
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

impl Inbound {
    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), (StatusCode, &'static str)> {
        let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
        let now = self.engine.clock.now_ms() / 1000;
        verify::verify(
            &self.secret,
            h("x-slack-request-timestamp"),
            h("x-slack-signature"),
            body,
            now,
        )
        .map_err(|e| {
            tracing::warn!(reason = %e, "refused an unsigned or badly signed Slack request");
            let msg = match e {
                VerifyError::Missing => "missing Slack signature headers",
                VerifyError::Stale => "request timestamp outside the 300 s window",
                VerifyError::Mismatch => "invalid Slack signature",
            };
            (StatusCode::UNAUTHORIZED, msg)
        })
    }
}

/// The fields of a slash command sevbot uses (Slack sends more; they are ignored).
#[derive(Debug, Deserialize)]
struct SlashCommand {
    #[serde(default)]
    text: String,
    user_id: String,
    channel_id: String,
    #[serde(default)]
    trigger_id: String,
}

/// Opens a modal after the request that carried its trigger was answered; the trigger
/// expires in 3 s, so a failure is reported to the user rather than retried.
fn open_view_soon(s: &Inbound, trigger_id: String, view: serde_json::Value, inv: Invocation) {
    let s = s.clone();
    tokio::spawn(async move {
        if let Err(e) = s.slack.open_view(&trigger_id, view).await {
            tracing::warn!(error = %e, "could not open a Slack modal");
            let text = format!(
                "sevbot could not open the form ({e}). Type the command instead, e.g. `/sev declare availability 1 Checkout failing`."
            );
            let reply = crate::engine::Reply {
                text,
                ephemeral: true,
                declared: None,
            };
            if let Err(e) = s.engine.send_reply(&inv, &reply).await {
                tracing::error!(error = format!("{e:#}"), "could not queue a reply");
            }
        }
    });
}

async fn commands(State(s): State<Inbound>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = s.check(&headers, &body) {
        return r.into_response();
    }
    let cmd: SlashCommand = match serde_urlencoded::from_bytes(&body) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not a slash command form: {e}"),
            )
                .into_response();
        }
    };
    let inv = Invocation {
        platform: PLATFORM.into(),
        user: cmd.user_id,
        channel: cmd.channel_id,
    };
    if cmd.text.trim().is_empty() && !cmd.trigger_id.is_empty() {
        let view = views::declare_modal(&s.engine.cfg.raw.definitions, &inv.channel);
        open_view_soon(&s, cmd.trigger_id, view, inv);
        return StatusCode::OK.into_response();
    }
    let reply = s.engine.handle(&inv, &cmd.text).await;
    let response_type = if reply.ephemeral {
        "ephemeral"
    } else {
        "in_channel"
    };
    Json(json!({ "response_type": response_type, "text": reply.text })).into_response()
}

async fn events(State(s): State<Inbound>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = s.check(&headers, &body) {
        return r.into_response();
    }
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not JSON: {e}")).into_response(),
    };
    match v["type"].as_str() {
        Some("url_verification") => Json(json!({ "challenge": v["challenge"] })).into_response(),
        Some("event_callback") => {
            let Some(id) = v["event_id"].as_str() else {
                return (StatusCode::BAD_REQUEST, "event_callback without event_id")
                    .into_response();
            };
            let now = s.engine.clock.now_ms();
            let fresh = async {
                let mut conn = s.engine.store.pool.acquire().await?;
                s.engine
                    .store
                    .first_delivery(&mut conn, &format!("slack:event:{id}"), now)
                    .await
            };
            match fresh.await {
                Ok(true) => {
                    tracing::debug!(
                        event_id = id,
                        kind = v["event"]["type"].as_str(),
                        "Slack event recorded"
                    );
                    StatusCode::OK.into_response()
                }
                Ok(false) => {
                    let retry = headers
                        .get("x-slack-retry-num")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("-");
                    tracing::info!(event_id = id, retry, "duplicate Slack event ignored");
                    StatusCode::OK.into_response()
                }
                // A 5xx makes Slack retry later, so nothing is lost.
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "could not record a Slack event");
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                }
            }
        }
        _ => (StatusCode::BAD_REQUEST, "unknown Slack event envelope").into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn interactions(State(s): State<Inbound>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = s.check(&headers, &body) {
        return r.into_response();
    }
    let payload: serde_json::Value = match serde_urlencoded::from_bytes::<InteractionForm>(&body)
        .map_err(|e| e.to_string())
        .and_then(|f| serde_json::from_str(&f.payload).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not an interaction payload: {e}"),
            )
                .into_response();
        }
    };
    match views::interpret(&payload) {
        Ok(Intent::Command {
            user,
            channel,
            text,
            note,
        }) => {
            let inv = Invocation {
                platform: PLATFORM.into(),
                user,
                channel,
            };
            // The reply travels through the outbox with the change it reports.
            let reply = s.engine.handle_deferred(&inv, &text).await;
            if let (Some(id), Some(note)) = (reply.declared, note) {
                s.engine
                    .handle_deferred(&inv, &format!("{id} timeline note {note}"))
                    .await;
            }
            StatusCode::OK.into_response()
        }
        Ok(Intent::OpenUpdateModal {
            trigger_id,
            sev,
            channel,
        }) => {
            let user = payload["user"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let inv = Invocation {
                platform: PLATFORM.into(),
                user,
                channel: channel.clone(),
            };
            open_view_soon(&s, trigger_id, views::update_modal(sev, &channel), inv);
            StatusCode::OK.into_response()
        }
        Ok(Intent::Nothing) => StatusCode::OK.into_response(),
        Err(why) => {
            // For a modal, Slack shows this under the form instead of closing it.
            if payload["type"] == "view_submission" {
                Json(json!({ "response_action": "errors", "errors": { "title": why } }))
                    .into_response()
            } else {
                (StatusCode::BAD_REQUEST, why).into_response()
            }
        }
    }
}
