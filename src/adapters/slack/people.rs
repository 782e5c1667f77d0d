//! Slack users for the people in the config.
//!
//! People with an email but no `handles.slack` are looked up by email at start-up, and
//! again in the background until Slack has answered for each of them, so a Slack outage
//! at start-up does not leave them unmapped. Pages and invites also look up on demand
//! (`SlackPlatform::resolve_user`).

use std::time::Duration;

use super::{PLATFORM, SlackPlatform};
use crate::config::Config;
use crate::effects::DeliveryError;

/// How long the background mapping waits between rounds while Slack does not answer.
const RETRY_EVERY: Duration = Duration::from_secs(30);

/// Looks up everyone not mapped yet; returns how many are still waiting for an answer
/// from Slack (people Slack does not know are reported and not asked again).
pub async fn map_people_by_email(platform: &SlackPlatform, cfg: &Config) -> usize {
    let mut waiting = 0;
    for person in &cfg.people {
        if cfg.handle(&person.id, PLATFORM).is_some() || person.email.is_none() {
            continue;
        }
        match platform.resolve_user(&person.id).await {
            Ok(_) => {}
            Err(DeliveryError::Permanent(why)) => {
                tracing::warn!(person = person.id, why, "Slack user not found")
            }
            Err(e) => {
                waiting += 1;
                tracing::warn!(person = person.id, error = %e, "could not look up the Slack user by email; will try again");
            }
        }
    }
    waiting
}

/// Keeps asking until Slack has answered for everyone (or `stop` fires).
pub async fn keep_mapping(
    platform: std::sync::Arc<SlackPlatform>,
    cfg: std::sync::Arc<Config>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if map_people_by_email(&platform, &cfg).await == 0 {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}
