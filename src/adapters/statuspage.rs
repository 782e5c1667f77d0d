//! Approved customer updates to a status page webhook: a JSON POST, retried like any
//! outbound message.

use std::time::Duration;

use serde_json::json;

use crate::domain::SevId;
use crate::effects::DeliveryError;

pub const PLATFORM: &str = "statuspage";

pub async fn send(
    client: &reqwest::Client,
    url: &str,
    sev: SevId,
    body: &str,
) -> Result<(), DeliveryError> {
    let payload = json!({ "incident": sev.to_string(), "body": body, "source": "sevbot" });
    let resp = client
        .post(url)
        .timeout(Duration::from_secs(10))
        .json(&payload)
        .send()
        .await
        .map_err(|e| DeliveryError::Retry {
            reason: format!("status page: {}", e.without_url()),
            after: None,
        })?;
    let status = resp.status().as_u16();
    match status {
        200..=299 => Ok(()),
        429 | 500..=599 => Err(DeliveryError::Retry {
            reason: format!("status page: HTTP {status}"),
            after: None,
        }),
        _ => Err(DeliveryError::Permanent(format!(
            "status page: HTTP {status} (check availability.status_page_url)"
        ))),
    }
}
