//! What Discord sends — slash commands, button presses, modal submissions — over
//! `POST /discord/interactions` (verified with Ed25519 before anything is read) or the
//! gateway (`gateway`), answered the same way. The command is stored by the engine in the
//! same transaction that records the interaction id, so a repeated delivery changes
//! nothing. Discord waits 3 s for an answer: if the engine has not answered in 2 s the
//! interaction is deferred and the answer follows through the interaction's webhook.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use serenity::all::{
    ApplicationId, CreateActionRow, CreateAllowedMentions, CreateInteractionResponse,
    CreateInteractionResponseMessage, EditInteractionResponse, LightMethod, Route,
};

use super::render;
use super::rest::Rest;
use super::verify::{self, VerifyError};
use super::views::{self, Intent};
use super::{APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT, PING, PLATFORM, commands};
use crate::adapters::text::clip;
use crate::domain::grammar::{Command, DraftAction};
use crate::engine::{Engine, Invocation, Reply};

pub const MAX_BODY: usize = 64 * 1024;
/// Discord refuses message content over 2000 characters.
pub const MAX_CONTENT: usize = 2000;

/// Discord waits 3 s, counted at its end, so the way back over the network comes out of
/// it too: what is not ready by 2 s is deferred.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(2000);

/// The Discord side of the engine, shared by the HTTP endpoint and the gateway.
#[derive(Clone)]
pub struct Interactions {
    pub engine: Engine,
    /// For follow-ups after a deferred answer: the REST client and the application id.
    pub followup: Option<(Arc<Rest>, u64)>,
}

/// A message answer; ephemeral answers are seen by the invoker only. Answers name
/// people without pinging them.
pub fn message(reply: &Reply) -> CreateInteractionResponse {
    let mut m = CreateInteractionResponseMessage::new()
        .content(clip(&reply.text, MAX_CONTENT))
        .ephemeral(reply.ephemeral)
        .allowed_mentions(CreateAllowedMentions::new().empty_users().empty_roles());
    if let Some(offer) = &reply.offer {
        m = m.components(vec![CreateActionRow::Buttons(vec![render::button(
            offer.action,
            offer.sev,
        )])]);
    }
    CreateInteractionResponse::Message(m)
}

fn private(text: String) -> CreateInteractionResponse {
    message(&Reply::private(text))
}

/// What a bad interaction gets: a 400 over HTTP, a log line on the gateway.
#[derive(Debug)]
pub struct BadInteraction(pub String);

impl Interactions {
    /// The response to one interaction: the HTTP body, or the body of the gateway's
    /// callback.
    pub async fn answer(&self, v: &Value) -> Result<Value, BadInteraction> {
        let kind = v["type"]
            .as_u64()
            .ok_or_else(|| BadInteraction("interaction without a type".into()))?;
        if kind == PING {
            return Ok(json!({ "type": 1 }));
        }
        if ![APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT].contains(&kind) {
            return Err(BadInteraction(format!(
                "interaction type {kind} is not handled by sevbot"
            )));
        }
        // In a guild the invoker is `member.user`; in a DM it is `user`.
        let user = v["member"]["user"]["id"]
            .as_str()
            .or(v["user"]["id"].as_str());
        let channel = v["channel_id"].as_str().or(v["channel"]["id"].as_str());
        let (Some(user), Some(channel), Some(id)) = (user, channel, v["id"].as_str()) else {
            return Err(BadInteraction(
                "interaction without user, channel_id or id".into(),
            ));
        };
        let mut inv = Invocation::new(PLATFORM, user, channel);
        inv.may_post = v["app_permissions"]
            .as_str()
            .and_then(|p| p.parse::<u64>().ok())
            .map(may_post);
        let data = &v["data"];
        let intent = match kind {
            APPLICATION_COMMAND if data["options"][0]["name"] == "new" => {
                let modal = views::declare_modal(&self.engine.cfg().definitions);
                return Ok(body(CreateInteractionResponse::Modal(modal)));
            }
            APPLICATION_COMMAND => match commands::to_command(data) {
                // `draft` with action edit and no text: the form, with the current draft.
                Ok(Command::Draft {
                    sev,
                    action: DraftAction::Form,
                }) if let Some((sev, draft)) = self.engine.draft_for_editing(&inv, sev).await => {
                    let modal = views::draft_modal(sev, &draft);
                    return Ok(body(CreateInteractionResponse::Modal(modal)));
                }
                other => other.map(Intent::Command),
            },
            _ => views::interpret(kind, data, user),
        };
        let response = match intent {
            Ok(Intent::Command(command)) => {
                let key = format!("discord:interaction:{id}");
                let token = v["token"].as_str().unwrap_or_default().to_string();
                self.run(inv, command, key, token).await
            }
            Ok(Intent::UpdateModal(sev)) => {
                CreateInteractionResponse::Modal(views::update_modal(sev))
            }
            // A press on something sevbot does not know: acknowledge, change nothing.
            Ok(Intent::Nothing) => CreateInteractionResponse::Acknowledge,
            Err(why) => private(format!(
                "sevbot did not understand that: {why}. Try `/sev help`, or type the command, e.g. `/sev declare`."
            )),
        };
        Ok(body(response))
    }

    /// Runs the command, answering within Discord's window: if the engine is slower
    /// (a database under strain) the answer is deferred and follows via the webhook.
    async fn run(
        &self,
        inv: Invocation,
        command: Command,
        key: String,
        token: String,
    ) -> CreateInteractionResponse {
        let engine = self.engine.clone();
        let work = tokio::spawn(async move {
            let reply = engine.execute(&inv, command, Some(&key), false).await;
            reply.unwrap_or_else(|| Reply::private("Already handled."))
        });
        let Some((rest, app)) = self.followup.clone().filter(|_| !token.is_empty()) else {
            return match work.await {
                Ok(reply) => message(&reply),
                Err(e) => private(format!(
                    "sevbot failed while handling that ({e}); nothing was changed, try again."
                )),
            };
        };
        let mut work = work;
        match tokio::time::timeout(ANSWER_WITHIN, &mut work).await {
            Ok(Ok(reply)) => message(&reply),
            Ok(Err(e)) => private(format!(
                "sevbot failed while handling that ({e}); try again."
            )),
            Err(_) => {
                tokio::spawn(async move {
                    let reply = match work.await {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::error!(error = %e, "a deferred Discord command failed");
                            return;
                        }
                    };
                    let edit = EditInteractionResponse::new()
                        .content(clip(&reply.text, MAX_CONTENT))
                        .allowed_mentions(CreateAllowedMentions::new().empty_users().empty_roles());
                    let route = Route::WebhookOriginalInteractionResponse {
                        application_id: ApplicationId::new(app),
                        token: &token,
                    };
                    if let Err(e) = rest
                        .call("follow up", LightMethod::Patch, route, Some(&edit))
                        .await
                    {
                        tracing::warn!(error = %e, "could not follow up a deferred Discord answer");
                    }
                });
                CreateInteractionResponse::Defer(
                    CreateInteractionResponseMessage::new().ephemeral(true),
                )
            }
        }
    }
}

fn body(r: CreateInteractionResponse) -> Value {
    serde_json::to_value(r).unwrap_or_else(|e| {
        tracing::error!(error = %e, "unserialisable interaction response");
        json!({ "type": 6 })
    })
}

#[derive(Clone)]
struct Http {
    inner: Interactions,
    key: Arc<VerifyingKey>,
}

pub fn routes(inner: Interactions, key: VerifyingKey) -> Router {
    Router::new()
        .route("/discord/interactions", post(interactions))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Http {
            inner,
            key: Arc::new(key),
        })
}

async fn interactions(State(s): State<Http>, headers: HeaderMap, body: Bytes) -> Response {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let now = s.inner.engine.clock.now_ms() / 1000;
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
    match s.inner.answer(&v).await {
        Ok(answer) => Json(answer).into_response(),
        Err(BadInteraction(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
    }
}

/// Whether the bot's permissions in a channel (an interaction's `app_permissions`) let it
/// post there: Administrator, or View Channel and Send Messages.
fn may_post(permissions: u64) -> bool {
    const ADMINISTRATOR: u64 = 1 << 3;
    const POST: u64 = (1 << 10) | (1 << 11);
    permissions & ADMINISTRATOR != 0 || permissions & POST == POST
}
