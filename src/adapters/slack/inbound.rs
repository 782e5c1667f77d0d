//! What Slack sends — slash commands, interactions (buttons, modals) and Events API
//! callbacks — over signed HTTP endpoints or Socket Mode (`socket`). Every request is
//! verified before anything is read, persisted by the engine and answered within Slack's
//! 3 s; no Web API call happens before the answer (sevbot's messages go through the outbox).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use super::blocks::{self, MAX_SECTION, clip};
use super::verify::{self, VerifyError};
use super::views::{self, Intent};
use super::{PLATFORM, SlackPlatform};
use crate::domain::grammar::{self, Command, DraftAction};
use crate::engine::{Engine, Invocation, Reply};

/// Slack's own payloads are a few KiB; anything far larger is not Slack.
pub const MAX_BODY: usize = 64 * 1024;

/// The Slack side of the engine, shared by the HTTP endpoints and Socket Mode.
#[derive(Clone)]
pub struct Inbound {
    pub engine: Engine,
    pub slack: Arc<SlackPlatform>,
}

/// The answer to an interaction: nothing, or a body (modal validation errors).
pub type InteractionAnswer = Result<Option<Value>, String>;

impl Inbound {
    /// A slash command. `None` means there is nothing to say in the ack: a modal was opened,
    /// or this was a redelivery of a command already handled.
    pub async fn command(
        &self,
        user: String,
        channel: String,
        text: &str,
        trigger_id: &str,
    ) -> Option<Reply> {
        let inv = Invocation::new(PLATFORM, &user, &channel);
        if text.trim().is_empty() && !trigger_id.is_empty() {
            let view = views::declare_modal(&self.engine.cfg().definitions, &inv.channel);
            self.open_view_soon(trigger_id.to_string(), view, inv);
            return None;
        }
        if !trigger_id.is_empty()
            && let Ok(Command::Draft {
                sev,
                action: DraftAction::Form,
            }) = grammar::parse(text)
            && let Some((sev, draft)) = self.engine.draft_for_editing(&inv, sev).await
        {
            let view = views::draft_modal(sev, &inv.channel, &draft);
            self.open_view_soon(trigger_id.to_string(), view, inv);
            return None;
        }
        if trigger_id.is_empty() {
            return Some(self.engine.handle(&inv, text).await);
        }
        let reply = self
            .engine
            .handle_once(&inv, text, &delivery_key(trigger_id), false)
            .await;
        duplicate_noted(reply, trigger_id)
    }

    /// A command built by a button or form; its answer travels through the outbox with the
    /// change it reports.
    async fn execute(&self, inv: &Invocation, command: Command, trigger_id: &str) -> Option<Reply> {
        let key = (!trigger_id.is_empty()).then(|| delivery_key(trigger_id));
        let reply = self
            .engine
            .execute(inv, command, key.as_deref(), true)
            .await;
        duplicate_noted(reply, trigger_id)
    }

    /// A button press or modal submission.
    pub async fn interaction(&self, payload: &Value) -> InteractionAnswer {
        match views::interpret(payload) {
            Ok(Intent::Command {
                user,
                channel,
                command,
            }) => {
                let inv = Invocation::new(PLATFORM, &user, &channel);
                let trigger_id = payload["trigger_id"].as_str().unwrap_or_default();
                self.execute(&inv, command, trigger_id).await;
                Ok(None)
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
                let view = views::update_modal(sev, &channel);
                self.open_view_soon(trigger_id, view, Invocation::new(PLATFORM, &user, &channel));
                Ok(None)
            }
            Ok(Intent::Nothing) => Ok(None),
            // For a modal, Slack shows this under the form instead of closing it.
            Err(why) if payload["type"] == "view_submission" => Ok(Some(
                json!({ "response_action": "errors", "errors": { "title": why } }),
            )),
            Err(why) => Err(why),
        }
    }

    /// Records an Events API delivery; false when it is a retry or redelivery of one seen.
    pub async fn event(&self, event_id: &str) -> anyhow::Result<bool> {
        let now = self.engine.clock.now_ms();
        let mut conn = self.engine.store.pool.acquire().await?;
        self.engine
            .store
            .first_delivery(&mut conn, &format!("slack:event:{event_id}"), now)
            .await
    }

    /// Opens a modal after the request that carried its trigger was answered; the trigger
    /// expires in 3 s, so a failure is reported to the user rather than retried.
    fn open_view_soon(&self, trigger_id: String, view: Value, inv: Invocation) {
        let s = self.clone();
        tokio::spawn(async move {
            if let Err(e) = s.slack.open_view(&trigger_id, view).await {
                tracing::warn!(error = %e, "could not open a Slack modal");
                let text = format!(
                    "sevbot could not open the form ({e}). Type the command instead, e.g. `/sev declare availability 1 Checkout failing`."
                );
                let reply = Reply::private(text);
                if let Err(e) = s.engine.send_reply(&inv, &reply).await {
                    tracing::error!(error = format!("{e:#}"), "could not queue a reply");
                }
            }
        });
    }
}

/// Every command and interaction carries a fresh trigger_id, so a second delivery with the
/// same one (Socket Mode redelivers what it thinks was not acked) is recognised in the
/// engine's own transaction and changes nothing.
fn delivery_key(trigger_id: &str) -> String {
    format!("slack:trigger:{trigger_id}")
}

fn duplicate_noted(reply: Option<Reply>, trigger_id: &str) -> Option<Reply> {
    if reply.is_none() {
        tracing::info!(trigger_id, "duplicate Slack delivery ignored");
    }
    reply
}

#[derive(Clone)]
struct Http {
    inbound: Inbound,
    secret: Arc<[u8]>,
}

pub fn routes(engine: Engine, signing_secret: &str, slack: Arc<SlackPlatform>) -> Router {
    let state = Http {
        inbound: Inbound { engine, slack },
        secret: signing_secret.as_bytes().into(),
    };
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

impl Http {
    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), (StatusCode, &'static str)> {
        let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
        let now = self.inbound.engine.clock.now_ms();
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

fn bad_request(what: String) -> Response {
    (StatusCode::BAD_REQUEST, what).into_response()
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

pub fn command_response(reply: &Reply) -> Value {
    let response_type = if reply.ephemeral {
        "ephemeral"
    } else {
        "in_channel"
    };
    let mut out = json!({ "response_type": response_type, "text": reply.text });
    if let Some(offer) = &reply.offer {
        out["blocks"] = json!([
            { "type": "section", "text": { "type": "mrkdwn", "text": clip(&reply.text, MAX_SECTION) } },
            { "type": "actions", "elements": [
                blocks::button(offer.action, offer.sev)
            ] }
        ]);
    }
    out
}

async fn commands(State(s): State<Http>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = s.check(&headers, &body) {
        return r.into_response();
    }
    let cmd: SlashCommand = match serde_urlencoded::from_bytes(&body) {
        Ok(c) => c,
        Err(e) => return bad_request(format!("not a slash command form: {e}")),
    };
    match s
        .inbound
        .command(cmd.user_id, cmd.channel_id, &cmd.text, &cmd.trigger_id)
        .await
    {
        Some(reply) => Json(command_response(&reply)).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn interactions(State(s): State<Http>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = s.check(&headers, &body) {
        return r.into_response();
    }
    let payload: Value = match serde_urlencoded::from_bytes::<InteractionForm>(&body)
        .map_err(|e| e.to_string())
        .and_then(|f| serde_json::from_str(&f.payload).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => return bad_request(format!("not an interaction payload: {e}")),
    };
    match s.inbound.interaction(&payload).await {
        Ok(Some(body)) => Json(body).into_response(),
        Ok(None) => StatusCode::OK.into_response(),
        Err(why) => bad_request(why),
    }
}

async fn events(State(s): State<Http>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = s.check(&headers, &body) {
        return r.into_response();
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("not JSON: {e}")),
    };
    match v["type"].as_str() {
        Some("url_verification") => Json(json!({ "challenge": v["challenge"] })).into_response(),
        Some("event_callback") => {
            let Some(id) = v["event_id"].as_str() else {
                return bad_request("event_callback without event_id".into());
            };
            match s.inbound.event(id).await {
                Ok(true) => StatusCode::OK.into_response(),
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
        _ => bad_request("unknown Slack event envelope".into()),
    }
}
