//! Slack users for the people in the config.

use super::{PLATFORM, SlackPlatform};
use crate::config::Config;

/// Gives every person in the config who has an email but no Slack handle the Slack user id
/// Slack knows them by, so rotations and roles work with real Slack users. Done at start-up,
/// before any command can arrive; a person Slack does not know is reported and skipped.
pub async fn map_people_by_email(platform: &SlackPlatform, cfg: &mut Config) {
    for person in cfg.people.iter_mut() {
        if person.handles.contains_key(PLATFORM) {
            continue;
        }
        let Some(email) = person.email.clone() else {
            continue;
        };
        match platform.user_by_email(&email).await {
            Ok(Some(id)) => {
                tracing::info!(person = person.id, slack_user = id, "mapped by email");
                person.handles.insert(PLATFORM.into(), id);
            }
            Ok(None) => tracing::warn!(
                person = person.id,
                "no Slack user has this person's email; add handles.slack in the config"
            ),
            Err(e) => {
                tracing::warn!(person = person.id, error = %e, "could not look up the Slack user by email; add handles.slack in the config")
            }
        }
    }
}
