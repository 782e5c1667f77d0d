//! Socket Mode (when `SLACK_APP_TOKEN` is set): Slack pushes the same slash commands,
//! interactions and events over a WebSocket instead of HTTP, so sevbot needs no public
//! address. slack-morphism acks each envelope when its callback returns, so the callbacks
//! only persist (through the engine) and answer; everything slow goes through the outbox.

use std::sync::Arc;

use slack_morphism::prelude::*;

use super::inbound::Inbound;
use super::{PLATFORM, SlackSettings};

type Client = Arc<SlackHyperClient>;
type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn inbound(states: &SlackClientEventsUserState) -> Result<Inbound> {
    let guard = states.read().await;
    guard
        .get_user_state::<Inbound>()
        .cloned()
        .ok_or_else(|| "socket mode state missing".into())
}

async fn on_command(
    ev: SlackCommandEvent,
    _client: Client,
    states: SlackClientEventsUserState,
) -> Result<SlackCommandEventResponse> {
    let s = inbound(&states).await?;
    let text = ev.text.unwrap_or_default();
    let reply = s
        .command(
            ev.user_id.to_string(),
            ev.channel_id.to_string(),
            &text,
            ev.trigger_id.as_ref(),
        )
        .await;
    Ok(match reply {
        Some(r) => {
            let kind = if r.ephemeral {
                SlackMessageResponseType::Ephemeral
            } else {
                SlackMessageResponseType::InChannel
            };
            SlackCommandEventResponse::new(SlackMessageContent::new().with_text(r.text))
                .with_response_type(kind)
        }
        None => SlackCommandEventResponse::new(SlackMessageContent::new()),
    })
}

async fn on_interaction(
    ev: SlackInteractionEvent,
    _client: Client,
    states: SlackClientEventsUserState,
) -> Result<SlackInteractionResponse> {
    let s = inbound(&states).await?;
    let payload = serde_json::to_value(&ev)?;
    match s.interaction(&payload).await {
        Ok(Some(body)) => Ok(SlackInteractionResponse::ViewSubmission(
            serde_json::from_value(body)?,
        )),
        Ok(None) => Ok(SlackInteractionResponse::Empty),
        Err(why) => {
            tracing::warn!(why, "unusable Slack interaction");
            Ok(SlackInteractionResponse::Empty)
        }
    }
}

async fn on_event(
    ev: SlackPushEventCallback,
    _client: Client,
    states: SlackClientEventsUserState,
) -> Result<()> {
    let s = inbound(&states).await?;
    // An error makes slack-morphism leave the envelope unacked, so Slack redelivers it.
    if !s
        .event(ev.event_id.as_ref())
        .await
        .map_err(|e| e.to_string())?
    {
        tracing::info!(event_id = %ev.event_id, "duplicate Slack event ignored");
    }
    Ok(())
}

/// Connects and keeps the Socket Mode connection (slack-morphism reconnects on its own).
pub async fn start(
    inbound: Inbound,
    client: Client,
    settings: &SlackSettings,
) -> anyhow::Result<SlackClientSocketModeListener<SlackClientHyperHttpsConnector>> {
    let app_token = settings
        .app_token
        .clone()
        .ok_or_else(|| anyhow::anyhow!("SLACK_APP_TOKEN is not set"))?;
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction)
        .with_push_events(on_event);
    let env = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(|err, _, _| {
                tracing::error!(error = %err, "Slack Socket Mode error");
                axum::http::StatusCode::OK
            })
            .with_user_state(inbound),
    );
    // One connection (slack-morphism opens two by default): the replica that leads Socket
    // Mode is then the one place envelopes arrive, and an envelope sent while Slack
    // rotates the connection is redelivered, unacknowledged.
    let config = SlackClientSocketModeConfig::new().with_max_connections_count(1);
    let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
    listener
        .listen_for(&SlackApiToken::new(app_token.into()))
        .await
        .map_err(|e| anyhow::anyhow!("Slack Socket Mode: {e} (check SLACK_APP_TOKEN, an xapp- token with connections:write)"))?;
    listener.start().await;
    tracing::info!(platform = PLATFORM, "Socket Mode connected");
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_interactions_round_trip_to_what_interpret_reads() {
        let raw = json!({ "type": "block_actions", "team": { "id": "T0001", "domain": "example" }, "user": { "id": "U_BOB", "team_id": "T0001" },
            "api_app_id": "A123", "token": "x", "trigger_id": "9.9.9", "channel": { "id": "C1", "name": "sev-1-x" },
            "container": { "type": "message", "message_ts": "1700000000.000001", "channel_id": "C1", "is_ephemeral": false },
            "actions": [ { "type": "button", "action_id": "sev_mitigated", "block_id": "sev_card_actions", "value": "SEV-1", "action_ts": "1700000001.000200", "text": { "type": "plain_text", "text": "Mitigated" } } ] });
        let ev: SlackInteractionEvent = serde_json::from_value(raw).unwrap();
        let back = serde_json::to_value(&ev).unwrap();
        assert_eq!(
            super::super::views::interpret(&back).unwrap(),
            super::super::views::Intent::Command {
                user: "U_BOB".into(),
                channel: "C1".into(),
                command: crate::domain::Command::Mitigated {
                    sev: Some(crate::domain::SevId(1))
                },
            }
        );
    }
}
