//! Feeds subscribed in the config: a channel that hears of new SEVs matching a filter.

use serde::{Deserialize, Serialize};

use super::Problem;
use crate::domain::{FeedFilter, Level, SevType};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub platform: String,
    pub channel: String,
    #[serde(default)]
    pub types: Vec<SevType>,
    #[serde(default)]
    pub max_level: Option<Level>,
    /// A private channel of people cleared to see restricted SEVs: they show here in full.
    #[serde(default)]
    pub private: bool,
}

/// A channel subscribed from the config.
#[derive(Debug, Clone)]
pub struct Feed {
    pub platform: String,
    pub channel: String,
    pub filter: FeedFilter,
    /// Restricted SEVs show here in full; elsewhere they are one redacted line.
    pub private: bool,
}

pub(super) fn feeds(raw: &[RawFeed], problems: &mut Vec<Problem>) -> Vec<Feed> {
    let mut err =
        |location: String, message: String| problems.push(Problem::error(location, message));
    let mut feeds = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        if f.channel.trim().is_empty() {
            err(format!("feeds[{i}].channel"), "empty channel".into());
        }
        feeds.push(Feed {
            platform: f.platform.clone(),
            channel: f.channel.trim_start_matches('#').to_string(),
            filter: FeedFilter {
                types: f.types.clone(),
                max_level: f.max_level,
            },
            private: f.private,
        });
    }
    feeds
}
