//! Webhook-style sinks: PagerDuty's Events API and the status page webhook. Each
//! implements `effects::Sink` and is registered by name beside the chat platforms.

pub mod pagerduty;
pub mod statuspage;

use std::sync::Arc;

use crate::config::Config;
use crate::effects::Sink;

/// The sinks this configuration and environment switch on.
pub fn configured(cfg: &Config) -> anyhow::Result<Vec<Arc<dyn Sink>>> {
    let mut sinks: Vec<Arc<dyn Sink>> = vec![Arc::new(statuspage::StatusPage::new()?)];
    if let Some(pd) = pagerduty::PagerDuty::from_config(&cfg.pagerduty)? {
        sinks.push(Arc::new(pd));
    }
    Ok(sinks)
}
