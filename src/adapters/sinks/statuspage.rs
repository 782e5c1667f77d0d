//! Approved customer updates to a status page webhook: a JSON POST, retried like any
//! outbound message. The `Idempotency-Key` header carries the outbox row, so a receiver
//! can drop the repeat that follows a timeout.

use std::time::Duration;

use super::http;

use async_trait::async_trait;
use serde_json::json;

use crate::effects::{Capability, DeliveryError, Effect, Outgoing, Sent, Sink};

pub const NAME: &str = "statuspage";

pub struct StatusPage {
    client: reqwest::Client,
}

impl StatusPage {
    pub fn new() -> anyhow::Result<StatusPage> {
        Ok(StatusPage {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        })
    }
}

#[async_trait]
impl Sink for StatusPage {
    fn name(&self) -> &str {
        NAME
    }

    fn title(&self) -> &str {
        "the status page"
    }

    fn capabilities(&self) -> &[Capability] {
        &[Capability::StatusUpdates]
    }

    async fn send(&self, effect: &Effect, out: Outgoing<'_>) -> Result<Sent, DeliveryError> {
        let Effect::StatusPage { sev, url, body } = effect else {
            return Err(DeliveryError::Permanent(format!(
                "the status page sink cannot deliver {}",
                effect.label()
            )));
        };
        let payload = json!({ "incident": sev.to_string(), "body": body, "source": "sevbot" });
        let resp = self
            .client
            .post(url)
            .header("idempotency-key", out.key)
            .json(&payload)
            .send()
            .await
            .map_err(|e| http::no_answer("status page", e))?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(Sent::default()),
            _ => Err(http::refused(
                "status page",
                status,
                http::retry_after(resp.headers()),
                "",
                "check availability.status_page_url",
            )),
        }
    }
}
