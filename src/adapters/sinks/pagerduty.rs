//! PagerDuty Events API v2: a `trigger` per page (with a stable `dedup_key`, so a repeat
//! after a timeout changes nothing), then `acknowledge` and `resolve` as the SEV is
//! acknowledged and resolved. Sent by the outbox on a queue of its own, so PagerDuty being
//! down never delays a chat page.

use std::time::Duration;

use super::http;

use async_trait::async_trait;
use serde_json::json;

use crate::config::PagerDutyConfig;
use crate::effects::{Capability, DeliveryError, Effect, Outgoing, PageAction, Sent, Sink};

pub const NAME: &str = "pagerduty";

pub struct PagerDuty {
    client: reqwest::Client,
    url: String,
    /// The integration key; never logged.
    routing_key: String,
}

impl PagerDuty {
    /// Configured when the environment variable named by `routing_key_env` is set.
    pub fn from_config(cfg: &PagerDutyConfig) -> anyhow::Result<Option<PagerDuty>> {
        let Some(key) = std::env::var(&cfg.routing_key_env)
            .ok()
            .filter(|k| !k.trim().is_empty())
        else {
            return Ok(None);
        };
        Ok(Some(PagerDuty::new(&cfg.events_url, &key)?))
    }

    pub fn new(url: &str, routing_key: &str) -> anyhow::Result<PagerDuty> {
        Ok(PagerDuty {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            url: url.to_string(),
            routing_key: routing_key.to_string(),
        })
    }

    async fn event(
        &self,
        action: PageAction,
        dedup_key: &str,
        summary: &str,
        severity: &str,
    ) -> Result<(), DeliveryError> {
        let mut body = json!({
            "routing_key": self.routing_key,
            "event_action": action.as_str(),
            "dedup_key": dedup_key,
        });
        if action == PageAction::Trigger {
            body["payload"] = json!({
                "summary": crate::adapters::text::clip(summary, 1024),
                "source": "sevbot",
                "severity": severity,
            });
            body["client"] = json!("sevbot");
        }
        let resp = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            // PagerDuty de-duplicates by dedup_key: sending again after a timeout is harmless.
            .map_err(|e| http::no_answer("PagerDuty", e))?;
        let status = resp.status().as_u16();
        let after = http::retry_after(resp.headers());
        let text = resp.text().await.unwrap_or_default();
        match status {
            200..=299 => Ok(()),
            _ => Err(http::refused(
                "PagerDuty",
                status,
                after,
                &text,
                "check [pagerduty] events_url and the routing key",
            )),
        }
    }
}

#[async_trait]
impl Sink for PagerDuty {
    fn name(&self) -> &str {
        NAME
    }

    fn title(&self) -> &str {
        "PagerDuty"
    }

    fn capabilities(&self) -> &[Capability] {
        &[Capability::Paging]
    }

    async fn send(&self, effect: &Effect, _out: Outgoing<'_>) -> Result<Sent, DeliveryError> {
        match effect {
            Effect::ExternalPage {
                action,
                dedup_key,
                summary,
                severity,
                ..
            } => self
                .event(*action, dedup_key, summary, severity)
                .await
                .map(|()| Sent::default()),
            other => Err(DeliveryError::Permanent(format!(
                "PagerDuty cannot deliver {}",
                other.label()
            ))),
        }
    }
}
