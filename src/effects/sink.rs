//! Webhook-style destinations (PagerDuty, status pages): registered beside the chat
//! platforms under their own name, chosen by the engine for what they can do, and
//! delivered by the outbox with the same retries, leases and failure reporting.

use async_trait::async_trait;

use super::{DeliveryError, Effect};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Pages people (`Effect::ExternalPage`): trigger, acknowledge, resolve.
    Paging,
    /// Publishes approved customer updates (`Effect::StatusPage`).
    StatusUpdates,
}

#[async_trait]
pub trait Sink: Send + Sync {
    fn name(&self) -> &str;
    /// The service as people call it ("PagerDuty"), in messages about it.
    fn title(&self) -> &str {
        self.name()
    }
    fn capabilities(&self) -> &[Capability];
    /// Sends one effect; `key` identifies the outbox row, for receivers that de-duplicate.
    async fn send(&self, effect: &Effect, key: &str) -> Result<(), DeliveryError>;
}
