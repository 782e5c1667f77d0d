//! Sinks: PagerDuty's Events API, the status page webhook, e-mail over SMTP, Jira and a
//! generic tracker webhook. Each
//! implements `effects::Sink` and is registered by name beside the chat platforms.

pub mod email;
mod http;
pub mod jira;
pub mod pagerduty;
pub mod statuspage;
pub mod webhook;

use std::sync::Arc;

use crate::config::Config;
use crate::effects::Sink;

/// The sinks this configuration and environment switch on.
pub fn configured(cfg: &Config) -> anyhow::Result<Vec<Arc<dyn Sink>>> {
    let mut sinks: Vec<Arc<dyn Sink>> = vec![Arc::new(statuspage::StatusPage::new()?)];
    if let Some(pd) = pagerduty::PagerDuty::from_config(&cfg.pagerduty)? {
        sinks.push(Arc::new(pd));
    }
    if let Some(mail) = email::Email::from_config(&cfg.email)? {
        sinks.push(Arc::new(mail));
    }
    if let Some(jira) = jira::Jira::from_config(&cfg.jira)? {
        sinks.push(Arc::new(jira));
    }
    if let Some(hook) = webhook::TrackerWebhook::from_config(&cfg.tracker_webhook)? {
        sinks.push(Arc::new(hook));
    }
    Ok(sinks)
}
