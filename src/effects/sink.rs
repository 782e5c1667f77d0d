//! Destinations beside the chat platforms (PagerDuty, status pages, e-mail, trackers):
//! registered under their own name, chosen by the engine for what they can do, and
//! delivered by the outbox with the same retries, leases and failure reporting.

use async_trait::async_trait;

use super::{DeliveryError, Effect};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Pages people (`Effect::ExternalPage`): trigger, acknowledge, resolve.
    Paging,
    /// Publishes approved customer updates (`Effect::StatusPage`).
    StatusUpdates,
    /// Sends the SEV's e-mail thread (`Effect::Email`).
    Mail,
    /// Keeps a ticket per SEV (`Effect::Ticket`).
    Tickets,
}

/// What a sink is given besides the effect.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Identifies the outbox row, for receivers that de-duplicate.
    pub key: &'a str,
    /// An earlier attempt's outcome is unknown: look before doing it again.
    pub doubt: bool,
    /// The ticket this sink opened for the SEV, once it exists.
    pub ticket: Option<&'a str>,
}

/// What a delivery created that later ones need.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sent {
    pub ticket: Option<TicketRef>,
}

/// A tracker's ticket: its key ("OPS-12") and where people open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRef {
    pub key: String,
    pub url: String,
}

#[async_trait]
pub trait Sink: Send + Sync {
    fn name(&self) -> &str;
    /// The service as people call it ("PagerDuty"), in messages about it.
    fn title(&self) -> &str {
        self.name()
    }
    fn capabilities(&self) -> &[Capability];
    async fn send(&self, effect: &Effect, out: Outgoing<'_>) -> Result<Sent, DeliveryError>;
}
