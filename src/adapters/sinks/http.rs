//! How the HTTP sinks read an answer: what is worth retrying (and when), what an operator
//! must fix, and what may have happened without sevbot seeing it.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::effects::DeliveryError;

/// A request that got no answer: a timeout may have done the work; anything else did not.
pub fn no_answer(service: &str, e: reqwest::Error) -> DeliveryError {
    if e.is_timeout() {
        DeliveryError::Uncertain(format!("{service}: timed out"))
    } else {
        DeliveryError::Retry {
            reason: format!("{service}: {}", e.without_url()),
            after: None,
        }
    }
}

/// The `Retry-After` a 429 or 503 carries, in seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// A non-success status: rate limits and server errors are retried (after the service's
/// own wait), the rest fail with what the service said and what to check.
pub fn refused(
    service: &str,
    status: u16,
    after: Option<Duration>,
    said: &str,
    check: &str,
) -> DeliveryError {
    match status {
        408 | 429 | 500..=599 => DeliveryError::Retry {
            reason: format!("{service}: HTTP {status}"),
            after,
        },
        _ => {
            let said = crate::adapters::text::clip(said.trim(), 300);
            let said = if said.is_empty() {
                String::new()
            } else {
                format!(" {said}")
            };
            DeliveryError::Permanent(format!("{service}: HTTP {status}{said} ({check})"))
        }
    }
}
