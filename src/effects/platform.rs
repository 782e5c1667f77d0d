//! A chat platform as the outbox sees it. Ids are the platform's own.
//!
//! Every call that creates something takes the outbox row's `key`, and each platform uses
//! what it has to make a repeat harmless after an outcome sevbot did not see: Discord's
//! `nonce` with `enforce_nonce`, Slack's message metadata (looked up by `find_post`), the
//! console's own table. `find_*` answer `None` when nothing is found or the platform cannot
//! tell; the outbox then sends again.

use std::time::Duration;

use async_trait::async_trait;

use super::{DeliveryError, Message};
use crate::domain::SevId;

/// The incident channel to open: what the platform needs to create it and, after an
/// uncertain attempt or a name collision, to recognise the one sevbot created.
#[derive(Debug, Clone, Copy)]
pub struct NewChannel<'a> {
    pub sev: SevId,
    pub name: &'a str,
    pub private: bool,
    pub title: &'a str,
    /// When the SEV was declared (ms): a channel created earlier is not this SEV's.
    pub not_before: i64,
}

/// Whether sevbot can post in a channel, as far as the platform tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Posts,
    /// It cannot; `fix` says how to let it, in the platform's terms.
    Blocked {
        fix: String,
    },
    /// The platform could not tell (or did not answer in time).
    Unknown,
}

#[async_trait]
pub trait Platform: Send + Sync {
    fn name(&self) -> &str;
    /// The platform as people call it ("Slack"), in messages about it.
    fn title(&self) -> &str {
        self.name()
    }
    /// How a person (a config person id, or `@handle` for someone not in the config) is
    /// mentioned on this platform.
    fn mention(&self, who: &str) -> String;
    /// Text someone typed (or monitoring sent), made inert for this platform: it is shown,
    /// and never pings anyone or becomes a link. sevbot's own mentions come from `mention`.
    fn escape(&self, text: &str) -> String {
        text.to_string()
    }
    /// The handle a word typed as a person stands for: this platform's mention syntax
    /// (`<@U123|alice>` on Slack) or a plain `@handle`.
    fn user_in(&self, word: &str) -> Option<String> {
        crate::domain::grammar::plain_user(word)
    }
    /// How a channel (by platform id) is referred to in text.
    fn channel_ref(&self, channel: &str) -> String {
        format!("#{channel}")
    }
    /// The least time between two messages to one channel (Slack: about one a second).
    fn min_interval(&self) -> Duration {
        Duration::ZERO
    }
    /// How many calls may be in flight at once for channel work (pages have as many
    /// again of their own, so they never wait behind it).
    fn concurrency(&self) -> usize {
        4
    }
    /// Whether sevbot can post in `channel`, asked before a channel subscribes to the
    /// feed. `said` is what the platform told with the command, where it does (Discord's
    /// `app_permissions`).
    async fn reach(&self, _channel: &str, said: Option<bool>) -> Reach {
        match said {
            Some(true) => Reach::Posts,
            Some(false) => Reach::Blocked {
                fix: format!("Let sevbot post in this channel on {}.", self.title()),
            },
            None => Reach::Unknown,
        }
    }
    /// Creates a channel and returns its id.
    async fn create_channel(&self, ch: &NewChannel<'_>) -> Result<String, DeliveryError>;
    /// The channel sevbot itself created for this SEV under this name (exact name, made
    /// by the bot, not before the SEV), to adopt after an uncertain attempt or a
    /// `name_taken`.
    async fn find_channel(&self, _ch: &NewChannel<'_>) -> Result<Option<String>, DeliveryError> {
        Ok(None)
    }
    /// `people` are platform handles.
    async fn invite(&self, channel: &str, people: &[String]) -> Result<(), DeliveryError>;
    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), DeliveryError>;
    /// Posts and returns the message id; `key` identifies the attempt's outbox row.
    async fn post(
        &self,
        channel: &str,
        msg: Message<'_>,
        key: &str,
    ) -> Result<String, DeliveryError>;
    /// The id of a message posted with `key` in `channel` since `since` (ms).
    async fn find_post(
        &self,
        _channel: &str,
        _key: &str,
        _since: i64,
    ) -> Result<Option<String>, DeliveryError> {
        Ok(None)
    }
    async fn edit(
        &self,
        channel: &str,
        message_id: &str,
        msg: Message<'_>,
    ) -> Result<(), DeliveryError>;
    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), DeliveryError>;
    /// Moves a finished SEV's channel out of the way (Slack: archived; Discord: moved to
    /// the archive category).
    async fn archive(&self, _channel: &str) -> Result<(), DeliveryError> {
        Ok(())
    }
    /// Brings an archived channel back for a reopened SEV.
    async fn unarchive(&self, _channel: &str) -> Result<(), DeliveryError> {
        Ok(())
    }
    /// Whether archived channels must be deleted after a while (Discord's guilds hold 500
    /// channels); see `delete_channel`.
    fn deletes_archived_channels(&self) -> bool {
        false
    }
    /// Deletes a channel whose retention has passed; platforms that keep archived
    /// channels do nothing.
    async fn delete_channel(&self, _channel: &str) -> Result<(), DeliveryError> {
        Ok(())
    }
    /// Pages `person` (a config person id or `@handle`) directly, with an Acknowledge button.
    async fn page(&self, person: &str, msg: Message<'_>, key: &str) -> Result<(), DeliveryError>;
    /// Whether a page sent with `key` since `since` (ms) reached the person.
    async fn find_page(
        &self,
        _person: &str,
        _key: &str,
        _since: i64,
    ) -> Result<bool, DeliveryError> {
        Ok(false)
    }
    /// Whether `send_file` works here (the console prints instead).
    fn sends_files(&self) -> bool {
        false
    }
    /// Sends a text file to `user` (a platform handle) in a direct message with `text`.
    async fn send_file(
        &self,
        _user: &str,
        _filename: &str,
        _content: &str,
        _text: &str,
    ) -> Result<(), DeliveryError> {
        Err(DeliveryError::Permanent(format!(
            "{} cannot send files",
            self.title()
        )))
    }
    /// A plain-text answer; `user` set means only that user (a platform handle) sees it.
    async fn reply(
        &self,
        channel: &str,
        user: Option<&str>,
        text: &str,
        key: &str,
    ) -> Result<(), DeliveryError>;
}
