//! The gateway: serenity's client keeps the WebSocket (HELLO, IDENTIFY, heartbeats,
//! RESUME after a disconnect); every INTERACTION_CREATE goes through the same handler as
//! `POST /discord/interactions`, and the answer is sent to the interaction's callback.
//! The WebSocket URL comes from `GET /gateway/bot` on the configured API, never from a
//! silent fallback to Discord's own gateway.

use std::sync::Arc;

use serenity::all::{
    ApplicationId, Context, EventHandler, GatewayIntents, HttpBuilder, Interaction, InteractionId,
    LightMethod, Ready, ResumedEvent, Route, ShardManager,
};
use serenity::async_trait;

use super::inbound::Interactions;
use super::rest::Rest;

struct Handler {
    inner: Interactions,
    rest: Arc<Rest>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        metrics::gauge!("sevbot_discord_gateway_connected").set(1.0);
        tracing::info!(
            user = %ready.user.name,
            guilds = ready.guilds.len(),
            "Discord gateway connected"
        );
    }

    async fn resume(&self, _ctx: Context, _: ResumedEvent) {
        metrics::gauge!("sevbot_discord_gateway_connected").set(1.0);
        tracing::info!("Discord gateway session resumed");
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let v = match serde_json::to_value(&interaction) {
            // serenity keeps the type in the enum variant, not in the serialised body.
            Ok(mut v) => {
                v["type"] = serde_json::json!(u8::from(interaction.kind()));
                v
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read a gateway interaction");
                return;
            }
        };
        let (Some(id), Some(token)) = (
            v["id"].as_str().and_then(|s| s.parse::<u64>().ok()),
            v["token"].as_str(),
        ) else {
            tracing::warn!("gateway interaction without id or token");
            return;
        };
        let answer = match self.inner.answer(&v).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(reason = e.0, "gateway interaction not handled");
                return;
            }
        };
        let route = Route::InteractionResponse {
            interaction_id: InteractionId::new(id),
            token,
        };
        if let Err(e) = self
            .rest
            .call(
                "answer interaction",
                LightMethod::Post,
                route,
                Some(&answer),
            )
            .await
        {
            // The interaction token expires: there is no later to retry in.
            tracing::warn!(error = %e, "could not answer a Discord interaction");
        }
    }
}

/// A running gateway connection; `stop` closes it.
pub struct Gateway {
    manager: Arc<ShardManager>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    pub async fn stop(self) {
        self.manager.shutdown_all().await;
        let _ = self.task.await;
    }
}

/// Connects the gateway. Fails (rather than falling back) when `GET /gateway/bot` does.
pub async fn start(
    inner: Interactions,
    rest: Arc<Rest>,
    token: &str,
    application_id: u64,
) -> anyhow::Result<Gateway> {
    let info = rest
        .call(
            "gateway url",
            LightMethod::Get,
            Route::GatewayBot,
            None::<&()>,
        )
        .await
        .map_err(|e| anyhow::anyhow!("GET /gateway/bot: {e}"))?;
    let url = info["url"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("GET /gateway/bot answered without a url"))?
        .to_string();
    let mut http = HttpBuilder::new(token).application_id(ApplicationId::new(application_id));
    if let Some(origin) = rest.origin() {
        // serenity only honours a proxy with its own rate limiter off; the outbox and
        // `Rest` own the limits.
        http = http.proxy(origin).ratelimiter_disabled(true);
    }
    let handler = Handler {
        inner,
        rest: rest.clone(),
    };
    let mut client =
        serenity::all::ClientBuilder::new_with_http(http.build(), GatewayIntents::GUILDS)
            .event_handler(handler)
            .await?;
    // serenity looked up `GET /gateway` itself and falls back to Discord's gateway when
    // that fails; the URL from `/gateway/bot` is the one to use.
    *client.ws_url.lock().await = url;
    let manager = client.shard_manager.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = client.start().await {
            metrics::gauge!("sevbot_discord_gateway_connected").set(0.0);
            tracing::error!(error = %e, "the Discord gateway stopped; HTTP interactions still work");
        }
    });
    Ok(Gateway { manager, task })
}
