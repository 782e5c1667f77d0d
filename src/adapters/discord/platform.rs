//! The outbox's view of Discord: incident channels in a category (private through
//! permission overwrites), topics, summary embeds pinned and edited in place, and the
//! archive category closed SEV channels move to before they are deleted.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use serenity::all::{
    ChannelId, ChannelType, CreateChannel, EditChannel, GuildId, LightMethod, MessageId, Nonce,
    PermissionOverwrite, PermissionOverwriteType, Permissions, RoleId, Route, TargetId, UserId,
};

use super::PLATFORM;
use super::render;
use super::rest::Rest;
use crate::adapters::text::clip;
use crate::config::{Config, Live};
use crate::domain::Markup;
use crate::effects::{DeliveryError, Message, NewChannel, Platform, Reach};
use crate::engine::SYSTEM_ACTOR;

/// Pin Messages (1 << 51): since February 2026 Discord asks for it, not Manage Messages,
/// to pin. serenity 0.12 has no name for it yet.
pub const PIN_MESSAGES: Permissions = Permissions::from_bits_retain(1 << 51);

/// What the bot's role needs in the guild: create, edit, archive and delete incident
/// channels (Manage Channels), let responders into private ones (Manage Roles, for
/// permission overwrites, which may only grant what the bot holds itself), post, embed,
/// pin (Pin Messages) and read.
pub fn required_permissions() -> Permissions {
    responder_permissions()
        | Permissions::MANAGE_CHANNELS
        | Permissions::MANAGE_ROLES
        | PIN_MESSAGES
}

/// The link an operator opens to add the bot to a server, with exactly those permissions.
pub fn invite_url(application_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application_id}&scope=bot+applications.commands&permissions={}",
        required_permissions().bits()
    )
}

/// What a responder needs in an incident channel.
fn responder_permissions() -> Permissions {
    Permissions::VIEW_CHANNEL
        | Permissions::SEND_MESSAGES
        | Permissions::READ_MESSAGE_HISTORY
        | Permissions::EMBED_LINKS
        | Permissions::ATTACH_FILES
}

/// serenity writes permission bits as strings; Discord's API schema for requests has
/// integers (it accepts both), so sevbot sends what the schema says.
fn numeric_permissions(mut body: serde_json::Value) -> serde_json::Value {
    for o in body["permission_overwrites"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        for k in ["allow", "deny"] {
            if let Some(n) = o[k].as_str().and_then(|s| s.parse::<u64>().ok()) {
                o[k] = json!(n);
            }
        }
    }
    body
}

pub struct DiscordPlatform {
    rest: Arc<Rest>,
    cfg: Live,
    /// The bot's own user id, so a private channel stays visible to the bot.
    bot_user: Option<u64>,
}

fn id(what: &str, s: &str) -> Result<u64, DeliveryError> {
    s.parse::<u64>()
        .ok()
        .filter(|v| *v != 0)
        .ok_or_else(|| DeliveryError::Permanent(format!("\"{s}\" is not a Discord {what} id")))
}

impl DiscordPlatform {
    /// The configuration in force now (people's handles follow a reload).
    fn cfg(&self) -> Arc<Config> {
        self.cfg.get()
    }

    pub fn new(rest: Arc<Rest>, cfg: impl Into<Live>, bot_user: Option<u64>) -> DiscordPlatform {
        DiscordPlatform {
            rest,
            cfg: cfg.into(),
            bot_user,
        }
    }

    /// Discord user id for a person id or `@123` handle.
    fn user_id(&self, who: &str) -> Option<u64> {
        let h = match who.strip_prefix('@') {
            Some(h) => h,
            None => return self.cfg().handle(who, PLATFORM)?.parse().ok(),
        };
        h.parse().ok()
    }

    fn guild(&self) -> Result<GuildId, DeliveryError> {
        let cfg = self.cfg();
        let g = cfg.discord.guild_id.as_deref().ok_or_else(|| {
            DeliveryError::Permanent(
                "discord.guild_id is not set in the config, so sevbot does not know which Discord server to create incident channels in".into(),
            )
        })?;
        Ok(GuildId::new(id("guild", g)?))
    }

    /// The SEV's web page for a card or feed announcement, when `[web] public_url` is set.
    fn web_link(&self, msg: &Message<'_>) -> Option<String> {
        msg.shown_sev().and_then(|id| self.cfg().web.sev_url(id))
    }

    /// Renders with Discord's markup, noting whom sevbot mentioned (the only people the
    /// message may notify).
    fn rendered<T>(&self, f: impl FnOnce(&Markup, &dyn Fn() -> Vec<u64>) -> T) -> T {
        let named = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let mention = |w: &str| {
            if let Some(id) = self.user_id(w) {
                named.borrow_mut().insert(id);
            }
            self.mention(w)
        };
        let m = Markup {
            mention: &mention,
            text: &render::escape,
        };
        f(&m, &|| named.borrow().iter().copied().collect())
    }

    /// Posts a body into a channel; `key` becomes the nonce Discord de-duplicates on, so
    /// a repeat after a timeout returns the first message instead of posting again.
    async fn create_message(
        &self,
        what: &str,
        channel: &str,
        body: serenity::all::CreateMessage,
        key: &str,
    ) -> Result<String, DeliveryError> {
        let body = body.nonce(Nonce::String(key.into())).enforce_nonce(true);
        let v = self
            .rest
            .call(
                what,
                LightMethod::Post,
                Route::ChannelMessages {
                    channel_id: ChannelId::new(id("channel", channel)?),
                },
                Some(&body),
            )
            .await?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| DeliveryError::Unreadable(format!("{what}: answer without an id")))
    }

    /// The DM channel with a Discord user (by id).
    async fn open_dm(&self, user: &str) -> Result<String, DeliveryError> {
        let dm = self
            .rest
            .call(
                "open DM",
                LightMethod::Post,
                Route::UserMeDmChannels,
                Some(&json!({ "recipient_id": user })),
            )
            .await?;
        dm["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| DeliveryError::Unreadable("open DM: answer without an id".into()))
    }

    /// Moves a channel into `category` (`None`: out of any category).
    async fn move_to(
        &self,
        channel: &str,
        category: Option<&String>,
        what: &str,
    ) -> Result<(), DeliveryError> {
        let channel = ChannelId::new(id("channel", channel)?);
        let parent = match category {
            Some(c) => Some(ChannelId::new(id("category", c)?)),
            None => None,
        };
        let body = EditChannel::new().category(parent);
        self.rest
            .call(
                what,
                LightMethod::Patch,
                Route::Channel {
                    channel_id: channel,
                },
                Some(&body),
            )
            .await
            .map(|_| ())
    }
}

/// The marker an incident channel's topic starts with from its creation on ("SEV-12 "):
/// with the exact name and a creation time no earlier than the SEV, it tells sevbot's
/// own channel from anyone else's (Discord channels have no creator).
fn topic_marker(sev: crate::domain::SevId) -> String {
    format!("{sev} ")
}

/// When a Discord id (a snowflake) was made, in ms since the epoch.
fn snowflake_ms(id: u64) -> i64 {
    ((id >> 22) + 1_420_070_400_000) as i64
}

#[async_trait]
impl Platform for DiscordPlatform {
    fn name(&self) -> &str {
        PLATFORM
    }

    fn title(&self) -> &str {
        "Discord"
    }

    async fn reach(&self, _channel: &str, said: Option<bool>) -> Reach {
        match said {
            Some(true) => Reach::Posts,
            Some(false) => Reach::Blocked {
                fix: "Give sevbot's role View Channel and Send Messages here (Edit Channel → Permissions)."
                    .into(),
            },
            None => Reach::Unknown,
        }
    }

    /// `<@123>` or `<@!123>` as Discord writes a user mention.
    fn user_in(&self, word: &str) -> Option<String> {
        match word.strip_prefix("<@").and_then(|w| w.strip_suffix('>')) {
            Some(m) => crate::domain::grammar::plain_user(m.trim_start_matches('!')),
            None => crate::domain::grammar::plain_user(word),
        }
    }

    fn escape(&self, text: &str) -> String {
        render::escape(text)
    }

    fn mention(&self, who: &str) -> String {
        if who == SYSTEM_ACTOR {
            return "sevbot".into();
        }
        match self.user_id(who) {
            Some(id) => format!("<@{id}>"),
            None => self.cfg().display_name(who),
        }
    }

    fn channel_ref(&self, channel: &str) -> String {
        format!("<#{channel}>")
    }

    async fn create_channel(&self, ch: &NewChannel<'_>) -> Result<String, DeliveryError> {
        let (name, private) = (ch.name, ch.private);
        let guild = self.guild()?;
        let topic = clip(
            &format!("{}{}", topic_marker(ch.sev), render::escape(ch.title)),
            render::MAX_TOPIC,
        );
        let mut body = CreateChannel::new(name)
            .kind(ChannelType::Text)
            .topic(topic);
        if let Some(c) = &self.cfg().discord.incident_category {
            body = body.category(ChannelId::new(id("category", c)?));
        }
        if private {
            let mut overwrites = vec![
                // @everyone's role has the guild's id.
                PermissionOverwrite {
                    allow: Permissions::empty(),
                    deny: Permissions::VIEW_CHANNEL,
                    kind: PermissionOverwriteType::Role(RoleId::new(guild.get())),
                },
            ];
            if let Some(bot) = self.bot_user {
                overwrites.push(PermissionOverwrite {
                    allow: responder_permissions() | PIN_MESSAGES | Permissions::MANAGE_CHANNELS,
                    deny: Permissions::empty(),
                    kind: PermissionOverwriteType::Member(UserId::new(bot)),
                });
            }
            body = body.permissions(overwrites);
        }
        let body = numeric_permissions(
            serde_json::to_value(&body)
                .map_err(|e| DeliveryError::Permanent(format!("create channel: body: {e}")))?,
        );
        let v = self
            .rest
            .call(
                "create channel",
                LightMethod::Post,
                Route::GuildChannels { guild_id: guild },
                Some(&body),
            )
            .await?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| DeliveryError::Unreadable("create channel: answer without an id".into()))
    }

    /// Discord allows duplicate names, so a retried creation would make a second channel:
    /// the guild's channels are read for one with the exact name, in the incident
    /// category, made no earlier than the SEV, whose topic starts with the SEV's marker.
    async fn find_channel(&self, ch: &NewChannel<'_>) -> Result<Option<String>, DeliveryError> {
        let guild = self.guild()?;
        let v = self
            .rest
            .call(
                "list channels",
                LightMethod::Get,
                Route::GuildChannels { guild_id: guild },
                None::<&()>,
            )
            .await?;
        let cfg = self.cfg();
        let category = cfg.discord.incident_category.as_deref();
        let marker = topic_marker(ch.sev);
        let found = v.as_array().into_iter().flatten().find(|c| {
            let made = c["id"].as_str().and_then(|i| i.parse::<u64>().ok());
            c["name"].as_str() == Some(ch.name)
                && category.is_none_or(|cat| c["parent_id"].as_str() == Some(cat))
                && made.is_some_and(|m| snowflake_ms(m) >= ch.not_before - 300_000)
                && c["topic"].as_str().is_some_and(|t| t.starts_with(&marker))
        });
        Ok(found.and_then(|c| c["id"].as_str()).map(str::to_string))
    }

    /// Discord has no channel membership: people are let in with a member overwrite,
    /// which is what makes a private channel visible to them.
    async fn invite(&self, channel: &str, people: &[String]) -> Result<(), DeliveryError> {
        let channel = ChannelId::new(id("channel", channel)?);
        for user in people.iter().filter_map(|p| self.user_id(p)) {
            let body = json!({
                "type": 1,
                "allow": responder_permissions().bits(),
                "deny": 0,
            });
            self.rest
                .call(
                    "allow a responder in",
                    LightMethod::Put,
                    Route::ChannelPermission {
                        channel_id: channel,
                        target_id: TargetId::new(user),
                    },
                    Some(&body),
                )
                .await?;
        }
        Ok(())
    }

    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), DeliveryError> {
        let body = EditChannel::new().topic(clip(topic, render::MAX_TOPIC));
        self.rest
            .call(
                "set topic",
                LightMethod::Patch,
                Route::Channel {
                    channel_id: ChannelId::new(id("channel", channel)?),
                },
                Some(&body),
            )
            .await
            .map(|_| ())
    }

    async fn post(
        &self,
        channel: &str,
        msg: Message<'_>,
        key: &str,
    ) -> Result<String, DeliveryError> {
        let link = self.web_link(&msg);
        let body = self.rendered(|m, named| render::create(msg, m, named, link.as_deref()));
        self.create_message("post message", channel, body, key)
            .await
    }

    async fn edit(
        &self,
        channel: &str,
        message_id: &str,
        msg: Message<'_>,
    ) -> Result<(), DeliveryError> {
        let link = self.web_link(&msg);
        let body = self.rendered(|m, named| render::edit(msg, m, named, link.as_deref()));
        self.rest
            .call(
                "edit message",
                LightMethod::Patch,
                Route::ChannelMessage {
                    channel_id: ChannelId::new(id("channel", channel)?),
                    message_id: MessageId::new(id("message", message_id)?),
                },
                Some(&body),
            )
            .await
            .map(|_| ())
    }

    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), DeliveryError> {
        self.rest
            .call(
                "pin message",
                LightMethod::Put,
                Route::ChannelPin {
                    channel_id: ChannelId::new(id("channel", channel)?),
                    message_id: MessageId::new(id("message", message_id)?),
                },
                None::<&()>,
            )
            .await
            .map(|_| ())
    }

    /// Outside an interaction Discord has no ephemeral messages: the answer is posted in
    /// the channel, pinging only the person it is for.
    async fn reply(
        &self,
        channel: &str,
        user: Option<&str>,
        text: &str,
        key: &str,
    ) -> Result<(), DeliveryError> {
        let user = user.and_then(|u| u.parse::<u64>().ok());
        let text = match user {
            Some(u) => format!("<@{u}> {text}"),
            None => text.to_string(),
        };
        self.create_message("post answer", channel, render::text(&text, user), key)
            .await
            .map(|_| ())
    }

    /// Opens (or reuses) the DM channel with the person and posts the page there.
    async fn page(&self, person: &str, msg: Message<'_>, key: &str) -> Result<(), DeliveryError> {
        let Some(user) = self.user_id(person) else {
            return Err(DeliveryError::Permanent(format!(
                "{person} has no handles.discord in the config; set it to their Discord user id"
            )));
        };
        let channel = self.open_dm(&user.to_string()).await?;
        self.post(&channel, msg, key).await.map(|_| ())
    }

    fn sends_files(&self) -> bool {
        true
    }

    /// A message in the DM with the file attached (`files[0]`), pinging nobody.
    async fn send_file(
        &self,
        user: &str,
        filename: &str,
        content: &str,
        text: &str,
    ) -> Result<(), DeliveryError> {
        let channel = self.open_dm(user).await?;
        let message = json!({
            "content": render::escape(text),
            "attachments": [{ "id": "0", "filename": filename }],
            "allowed_mentions": { "parse": [] },
        });
        let file = serenity::all::CreateAttachment::bytes(content.as_bytes(), filename);
        self.rest
            .call_with_files(
                "send file",
                Route::ChannelMessages {
                    channel_id: ChannelId::new(id("channel", &channel)?),
                },
                &message,
                vec![file],
            )
            .await
            .map(|_| ())
    }

    async fn archive(&self, channel: &str) -> Result<(), DeliveryError> {
        match &self.cfg().discord.archive_category {
            Some(category) => {
                self.move_to(channel, Some(category), "archive channel")
                    .await
            }
            None => Ok(()),
        }
    }

    /// Back where incident channels live (out of the archive category).
    async fn unarchive(&self, channel: &str) -> Result<(), DeliveryError> {
        if self.cfg().discord.archive_category.is_none() {
            return Ok(());
        }
        let home = self.cfg().discord.incident_category.clone();
        self.move_to(channel, home.as_ref(), "unarchive channel")
            .await
    }

    fn deletes_archived_channels(&self) -> bool {
        true
    }

    async fn delete_channel(&self, channel: &str) -> Result<(), DeliveryError> {
        let r = self
            .rest
            .call(
                "delete channel",
                LightMethod::Delete,
                Route::Channel {
                    channel_id: ChannelId::new(id("channel", channel)?),
                },
                None::<&()>,
            )
            .await;
        match r {
            // Someone deleted it already: the goal is reached.
            Err(DeliveryError::Permanent(m)) if m.contains(" 10003 ") => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_invite_link_asks_for_what_the_bot_uses() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let wanted = format!("permissions={}", required_permissions().bits());
        assert!(readme.contains(&wanted), "README must show {wanted}");
        assert!(invite_url(7).ends_with(&wanted));
        assert!(
            required_permissions().contains(responder_permissions()),
            "overwrites grant only what the bot holds"
        );
    }
}
