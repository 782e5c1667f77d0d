//! The duties a replica performs only while it leads them.

use std::sync::Arc;

use async_trait::async_trait;
use slack_morphism::prelude::{SlackClientHyperHttpsConnector, SlackClientSocketModeListener};
use tokio::sync::watch;

use crate::adapters::discord::{gateway, inbound::Interactions, rest::Rest};
use crate::adapters::slack::{self, SlackPlatform, SlackSettings};
use crate::engine::Engine;
use crate::leadership::{Duty, Running};

/// The Discord gateway WebSocket: Discord sends each interaction to every open session
/// of the bot, so only one replica may hold one.
pub struct DiscordGateway {
    pub interactions: Interactions,
    pub rest: Arc<Rest>,
    pub token: String,
    pub application_id: u64,
}

#[async_trait]
impl Duty for DiscordGateway {
    fn name(&self) -> &'static str {
        "discord-gateway"
    }

    async fn start(&self) -> Option<Box<dyn Running>> {
        Some(Box::new(self.open().await?))
    }
}

impl DiscordGateway {
    /// Connects; a failure is logged with what still works.
    pub async fn open(&self) -> Option<gateway::Gateway> {
        gateway::start(
            self.interactions.clone(),
            self.rest.clone(),
            &self.token,
            self.application_id,
        )
        .await
        .map_err(|e| {
            tracing::error!(
                error = format!("{e:#}"),
                "the Discord gateway is off; HTTP interactions still work"
            )
        })
        .ok()
    }
}

#[async_trait]
impl Running for gateway::Gateway {
    async fn stop(self: Box<Self>) {
        (*self).stop().await;
    }
}

/// Slack Socket Mode: Slack spreads envelopes over a connection set, and each one opened
/// would take its share, so one replica holds it.
pub struct SlackSocketMode {
    pub inbound: slack::inbound::Inbound,
    pub platform: Arc<SlackPlatform>,
    pub settings: SlackSettings,
}

struct Socket(SlackClientSocketModeListener<SlackClientHyperHttpsConnector>);

#[async_trait]
impl Duty for SlackSocketMode {
    fn name(&self) -> &'static str {
        "slack-socket-mode"
    }

    async fn start(&self) -> Option<Box<dyn Running>> {
        match self.connect().await {
            Ok(l) => Some(Box::new(Socket(l))),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "Slack Socket Mode is off");
                None
            }
        }
    }
}

impl SlackSocketMode {
    pub async fn connect(
        &self,
    ) -> anyhow::Result<SlackClientSocketModeListener<SlackClientHyperHttpsConnector>> {
        slack::socket::start(self.inbound.clone(), self.platform.client(), &self.settings).await
    }
}

#[async_trait]
impl Running for Socket {
    async fn stop(self: Box<Self>) {
        self.0.shutdown().await;
    }
}

/// Polling Prometheus for route availability: one poller, so samples are not counted
/// once per replica.
pub struct PrometheusPoll {
    pub engine: Engine,
    pub url: String,
}

struct Poller {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

#[async_trait]
impl Duty for PrometheusPoll {
    fn name(&self) -> &'static str {
        "prometheus-poll"
    }

    async fn start(&self) -> Option<Box<dyn Running>> {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(crate::adapters::monitoring::poll_prometheus(
            self.engine.clone(),
            self.url.clone(),
            stopped,
        ));
        Some(Box::new(Poller { stop, task }))
    }
}

#[async_trait]
impl Running for Poller {
    async fn stop(self: Box<Self>) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
