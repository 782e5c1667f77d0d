//! Any other tracker: each ticket action as a JSON POST to `TRACKER_WEBHOOK_URL`, with the
//! outbox row as `Idempotency-Key` so a receiver can drop the repeat that follows a
//! timeout. A receiver that answers an `open` with `{"key": …, "url": …}` gets its ticket
//! linked in the SEV's channel and sent back as `ticket` on later actions.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::http;
use crate::config::TrackerWebhookConfig;
use crate::effects::{
    Capability, DeliveryError, Effect, Outgoing, Sent, Sink, TicketAction, TicketRef,
};

pub const NAME: &str = "tracker_webhook";

pub struct TrackerWebhook {
    client: reqwest::Client,
    url: String,
}

impl TrackerWebhook {
    pub fn from_config(cfg: &TrackerWebhookConfig) -> anyhow::Result<Option<TrackerWebhook>> {
        match std::env::var(&cfg.url_env)
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            Some(url) => TrackerWebhook::new(&url).map(Some),
            None => Ok(None),
        }
    }

    pub fn new(url: &str) -> anyhow::Result<TrackerWebhook> {
        Ok(TrackerWebhook {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            url: url.to_string(),
        })
    }
}

/// The body of one action; field names are part of the documented interface.
pub fn payload(sev: &str, action: &TicketAction, ticket: Option<&str>) -> Value {
    let mut v = match action {
        TicketAction::Open {
            summary,
            description,
            level,
            sev_type,
            label,
        } => json!({
            "event": "open", "summary": summary, "description": description,
            "level": level.get(), "type": sev_type.as_str(), "label": label,
        }),
        TicketAction::Comment { text } => json!({ "event": "comment", "text": text }),
        TicketAction::Attach { filename, content } => {
            json!({ "event": "attach", "filename": filename, "content": content })
        }
    };
    v["sev"] = json!(sev);
    v["ticket"] = json!(ticket);
    v["source"] = json!("sevbot");
    v
}

#[async_trait]
impl Sink for TrackerWebhook {
    fn name(&self) -> &str {
        NAME
    }

    fn title(&self) -> &str {
        "the tracker webhook"
    }

    fn capabilities(&self) -> &[Capability] {
        &[Capability::Tickets]
    }

    async fn send(&self, effect: &Effect, out: Outgoing<'_>) -> Result<Sent, DeliveryError> {
        let Effect::Ticket { sev, action } = effect else {
            return Err(DeliveryError::Permanent(format!(
                "the tracker webhook cannot deliver {}",
                effect.label()
            )));
        };
        let resp = self
            .client
            .post(&self.url)
            .header("idempotency-key", out.key)
            .json(&payload(&sev.to_string(), action, out.ticket))
            .send()
            .await
            .map_err(|e| http::no_answer("tracker webhook", e))?;
        let status = resp.status().as_u16();
        let after = http::retry_after(resp.headers());
        let text = resp.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(http::refused(
                "tracker webhook",
                status,
                after,
                &text,
                "check TRACKER_WEBHOOK_URL and the receiver",
            ));
        }
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let ticket = match (action, answer["key"].as_str(), answer["url"].as_str()) {
            (TicketAction::Open { .. }, Some(k), Some(u)) => Some(TicketRef {
                key: k.to_string(),
                url: u.to_string(),
            }),
            _ => None,
        };
        Ok(Sent { ticket })
    }
}
