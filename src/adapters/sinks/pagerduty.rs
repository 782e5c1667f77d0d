//! PagerDuty Events API v2: a `trigger` per page (with a stable `dedup_key`, so a repeat
//! after a timeout changes nothing), then `acknowledge` and `resolve` as the SEV is
//! acknowledged and resolved. Sent by the outbox on a queue of its own, so PagerDuty being
//! down never delays a chat page.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use crate::config::PagerDutyConfig;
use crate::effects::{Capability, DeliveryError, Effect, PageAction, Sink};

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
            .map_err(|e| match e.is_timeout() {
                // PagerDuty de-duplicates by dedup_key: sending again is harmless.
                true => DeliveryError::Uncertain("PagerDuty: timed out".into()),
                false => DeliveryError::Retry {
                    reason: format!("PagerDuty: {}", e.without_url()),
                    after: None,
                },
            })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().await.unwrap_or_default();
        match status {
            200..=299 => Ok(()),
            429 | 500..=599 => Err(DeliveryError::Retry {
                reason: format!("PagerDuty: HTTP {status}"),
                after: retry_after,
            }),
            _ => Err(DeliveryError::Permanent(format!(
                "PagerDuty: HTTP {status} {} (check [pagerduty] events_url and the routing key)",
                crate::adapters::text::clip(&text, 300)
            ))),
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

    async fn send(&self, effect: &Effect, _key: &str) -> Result<(), DeliveryError> {
        match effect {
            Effect::ExternalPage {
                action,
                dedup_key,
                summary,
                severity,
                ..
            } => self.event(*action, dedup_key, summary, severity).await,
            other => Err(DeliveryError::Permanent(format!(
                "PagerDuty cannot deliver {}",
                other.label()
            ))),
        }
    }
}
