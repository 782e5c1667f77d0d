//! Slack: the Web API through slack-morphism for everything sevbot sends (channels,
//! invites, topics, cards edited in place, pins), and signed HTTP endpoints for what Slack
//! sends (`inbound`).

pub mod blocks;
pub mod inbound;
pub mod people;
pub mod socket;
pub mod verify;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::config::{Config, Live};
use crate::domain::grammar;
use crate::effects::{DeliveryError, Message, NewChannel, Platform, Reach};
use crate::engine::SYSTEM_ACTOR;

/// The metadata event type sevbot's messages carry; its payload's `key` names the outbox
/// row, so "did row 123 land?" is one look at the channel's recent history.
pub const METADATA_EVENT: &str = "sevbot_outbox";
/// How far back (before the row was queued) a history look-up reaches, for clock skew.
const LOOKBACK_SECS: i64 = 300;
/// Pages of history (200 messages each) or of the channel list read in one look-up.
const LOOKUP_PAGES: usize = 10;

pub const PLATFORM: &str = "slack";
pub const DEFAULT_API_URL: &str = "https://slack.com/api";
/// A Slack call that takes longer than this is retried later rather than holding the worker.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Credentials and endpoints, from the environment only (secrets never come from the file).
#[derive(Clone)]
pub struct SlackSettings {
    pub bot_token: String,
    pub signing_secret: Option<String>,
    pub app_token: Option<String>,
    pub api_url: String,
    /// How long one Web API call may take before it is retried later.
    pub call_timeout: Duration,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl SlackSettings {
    /// `SLACK_BOT_TOKEN` (required), `SLACK_SIGNING_SECRET`, `SLACK_APP_TOKEN`, `SLACK_API_URL`.
    pub fn from_env() -> Option<SlackSettings> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Some(SlackSettings {
            bot_token: var("SLACK_BOT_TOKEN")?,
            signing_secret: var("SLACK_SIGNING_SECRET"),
            app_token: var("SLACK_APP_TOKEN"),
            api_url: var("SLACK_API_URL").unwrap_or_else(|| DEFAULT_API_URL.into()),
            call_timeout: CALL_TIMEOUT,
        })
    }
}

pub struct SlackPlatform {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    cfg: Live,
    call_timeout: Duration,
    /// The bot's own user id (auth.test), to recognise channels it created.
    bot_user: tokio::sync::OnceCell<String>,
    /// The token's scopes (auth.test's `X-OAuth-Scopes`), asked once.
    scopes: tokio::sync::OnceCell<Vec<String>>,
    api_url: String,
    bot_token: String,
}

impl SlackPlatform {
    /// The configuration in force now (people's handles follow a reload).
    fn cfg(&self) -> Arc<Config> {
        self.cfg.get()
    }

    pub fn new(settings: &SlackSettings, cfg: impl Into<Live>) -> anyhow::Result<SlackPlatform> {
        // slack-morphism's default connector is https-only; tests and proxies use http.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .build();
        // slack-morphism joins the base and the method with a '/'.
        let url = settings.api_url.trim_end_matches('/');
        let connector = SlackClientHyperConnector::from(https).with_slack_api_url(url);
        Ok(SlackPlatform {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(settings.bot_token.clone().into()),
            call_timeout: settings.call_timeout,
            cfg: cfg.into(),
            bot_user: tokio::sync::OnceCell::new(),
            scopes: tokio::sync::OnceCell::new(),
            api_url: url.to_string(),
            bot_token: settings.bot_token.clone(),
        })
    }

    pub fn client(&self) -> Arc<SlackHyperClient> {
        self.client.clone()
    }

    /// Slack user id for a person id or `@U123` handle, as far as known now.
    fn user_id(&self, who: &str) -> Option<String> {
        match who.strip_prefix('@') {
            Some(h) => Some(h.to_string()),
            None => self.cfg().handle(who, PLATFORM),
        }
    }

    /// Slack user id for a person, looked up by e-mail when not known yet (Slack may have
    /// been unreachable at start-up); what is found is kept for mentions and commands.
    pub async fn resolve_user(&self, who: &str) -> Result<String, DeliveryError> {
        if let Some(id) = self.user_id(who) {
            return Ok(id);
        }
        let Some(email) = self.cfg().person(who).and_then(|p| p.email.clone()) else {
            return Err(DeliveryError::Permanent(format!(
                "{who} has no handles.slack and no email in the config; set handles.slack"
            )));
        };
        // A look-up that did not get an answer is not a page that may have gone out.
        let found = self.user_by_email(&email).await.map_err(|e| match e {
            DeliveryError::Uncertain(r) | DeliveryError::Unreadable(r) => DeliveryError::Retry {
                reason: r,
                after: None,
            },
            e => e,
        })?;
        match found {
            Some(id) => {
                tracing::info!(person = who, slack_user = id, "mapped by email");
                self.cfg().learned.set(PLATFORM, who, &id);
                Ok(id)
            }
            None => Err(DeliveryError::Permanent(format!(
                "no Slack user has the email {email}; set handles.slack for {who} in the config"
            ))),
        }
    }

    async fn call<T, F>(&self, what: &'static str, fut: F) -> Result<T, DeliveryError>
    where
        F: std::future::Future<Output = ClientResult<T>>,
    {
        match tokio::time::timeout(self.call_timeout, fut).await {
            Err(_) => Err(DeliveryError::Uncertain(format!("{what}: timed out"))),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(classify(what, e)),
        }
    }

    /// The bot's own user id, asked once.
    async fn bot_user(&self) -> Result<&str, DeliveryError> {
        self.bot_user
            .get_or_try_init(|| async {
                let session = self.client.open_session(&self.token);
                let r = self.call("auth.test", session.auth_test()).await?;
                Ok::<_, DeliveryError>(r.user_id.to_string())
            })
            .await
            .map(String::as_str)
    }

    /// The token's scopes, from the `X-OAuth-Scopes` header Slack sends with every Web API
    /// answer (slack-morphism does not expose headers, so auth.test is asked directly).
    async fn scopes(&self) -> Result<&[String], DeliveryError> {
        let ask = || async {
            let call = reqwest::Client::new()
                .post(format!("{}/auth.test", self.api_url))
                .bearer_auth(&self.bot_token)
                .timeout(self.call_timeout)
                .send();
            let r = call
                .await
                .map_err(|e| DeliveryError::Uncertain(format!("auth.test: {e}")))?;
            let header = r.headers().get("x-oauth-scopes");
            let scopes = header.and_then(|h| h.to_str().ok()).unwrap_or_default();
            Ok::<_, DeliveryError>(scopes.split(',').map(|s| s.trim().to_string()).collect())
        };
        self.scopes.get_or_try_init(ask).await.map(Vec::as_slice)
    }

    /// A message's content with the metadata that names its outbox row.
    fn tagged(content: SlackMessageContent, key: &str) -> SlackMessageContent {
        content.with_metadata(SlackMessageMetadata {
            event_type: METADATA_EVENT.into(),
            event_payload: Some([("key".to_string(), key.to_string())].into()),
        })
    }

    /// The DM channel with a user (conversations.open is idempotent).
    async fn dm_channel(&self, user: &str) -> Result<String, DeliveryError> {
        let session = self.client.open_session(&self.token);
        let req =
            SlackApiConversationsOpenRequest::new().with_users(vec![SlackUserId::new(user.into())]);
        let r = self
            .call("conversations.open", session.conversations_open(&req))
            .await?;
        Ok(r.channel.id.to_string())
    }

    /// Opens a modal. Called right after an interaction is acknowledged: its trigger_id
    /// lives 3 s, so there is nothing to retry later.
    pub async fn open_view(
        &self,
        trigger_id: &str,
        view: serde_json::Value,
    ) -> Result<(), DeliveryError> {
        let view: SlackView = serde_json::from_value(view)
            .map_err(|e| DeliveryError::Permanent(format!("bad view: {e}")))?;
        let session = self.client.open_session(&self.token);
        let req = SlackApiViewsOpenRequest::new(SlackTriggerId::new(trigger_id.into()), view);
        self.call("views.open", session.views_open(&req))
            .await
            .map(|_| ())
    }

    /// The Slack user id for an email address (users.lookupByEmail).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<String>, DeliveryError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiUsersLookupByEmailRequest::new(EmailAddress(email.to_string()));
        match self
            .call("users.lookupByEmail", session.users_lookup_by_email(&req))
            .await
        {
            Ok(r) => Ok(Some(r.user.id.to_string())),
            Err(DeliveryError::Permanent(e)) if e.contains("users_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn content(&self, msg: Message<'_>) -> Result<SlackMessageContent, DeliveryError> {
        let mention = |w: &str| self.mention(w);
        let m = crate::domain::Markup {
            mention: &mention,
            text: &blocks::escape,
        };
        let link = msg.shown_sev().and_then(|id| self.cfg().web.sev_url(id));
        let (text, blocks) = blocks::render(msg, &m, link.as_deref());
        let blocks: Vec<SlackBlock> = serde_json::from_value(serde_json::Value::Array(blocks))
            .map_err(|e| DeliveryError::Permanent(format!("bad Block Kit: {e}")))?;
        Ok(SlackMessageContent::new()
            .with_text(text)
            .with_blocks(blocks))
    }
}

/// Sorts Slack's answers into retry-later and needs-a-human.
pub fn classify(what: &str, e: SlackClientError) -> DeliveryError {
    match e {
        SlackClientError::RateLimitError(r) => DeliveryError::Retry {
            reason: format!("{what}: rate limited"),
            after: r.retry_after,
        },
        SlackClientError::ApiError(a) => match a.code.as_str() {
            "name_taken" => DeliveryError::NameTaken,
            "already_pinned" | "already_in_channel" | "cant_invite_self" | "already_archived"
            | "not_archived" => DeliveryError::Retry {
                reason: "benign".into(),
                after: Some(Duration::ZERO),
            },
            "ratelimited"
            | "rate_limited"
            | "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout"
            | "team_added_to_org" => DeliveryError::Retry {
                reason: format!("{what}: {}", a.code),
                after: None,
            },
            code => DeliveryError::Permanent(format!("{what}: {code}{}", hint(code))),
        },
        SlackClientError::HttpError(h)
            if h.status_code.as_u16() == 429 || h.status_code.is_server_error() =>
        {
            DeliveryError::Retry {
                reason: format!("{what}: HTTP {}", h.status_code),
                after: None,
            }
        }
        SlackClientError::HttpError(h) => {
            DeliveryError::Permanent(format!("{what}: HTTP {}", h.status_code))
        }
        // Slack answered, but not in a shape sevbot can read: the call may have worked.
        SlackClientError::ProtocolError(p) => {
            DeliveryError::Unreadable(format!("{what}: {}", p.json_error))
        }
        // The connection broke mid-call: the request may have reached Slack.
        SlackClientError::HttpProtocolError(h) => DeliveryError::Uncertain(format!("{what}: {h}")),
        other => DeliveryError::Retry {
            reason: format!("{what}: {other}"),
            after: None,
        },
    }
}

/// What the operator should do about a permanent Slack error.
fn hint(code: &str) -> &'static str {
    match code {
        "missing_scope" => {
            " (add the scope to the Slack app, see config/slack-app-manifest.yml, and reinstall it)"
        }
        "not_authed" | "invalid_auth" | "token_revoked" | "account_inactive" => {
            " (check SLACK_BOT_TOKEN)"
        }
        "channel_not_found" => " (the channel was deleted, or the bot is not in it)",
        "is_archived" => " (the channel is archived; unarchive it or start a new SEV channel)",
        "not_in_channel" => " (invite the bot to the channel)",
        "restricted_action" => " (a workspace admin restricts this action)",
        _ => "",
    }
}

/// Treats the benign answers (already pinned, already a member) as success.
fn benign(r: Result<(), DeliveryError>) -> Result<(), DeliveryError> {
    match r {
        Err(DeliveryError::Retry { reason, .. }) if reason == "benign" => Ok(()),
        other => other,
    }
}

#[async_trait]
impl Platform for SlackPlatform {
    fn name(&self) -> &str {
        PLATFORM
    }

    fn title(&self) -> &str {
        "Slack"
    }

    /// `<@U123>` or `<@U123|alice>` as Slack sends a mention in a slash command's text.
    fn user_in(&self, word: &str) -> Option<String> {
        match word.strip_prefix("<@").and_then(|w| w.strip_suffix('>')) {
            Some(m) => grammar::plain_user(m.split('|').next().unwrap_or(m)),
            None => grammar::plain_user(word),
        }
    }

    fn escape(&self, text: &str) -> String {
        blocks::escape(text)
    }

    fn channel_ref(&self, channel: &str) -> String {
        format!("<#{channel}>")
    }

    fn min_interval(&self) -> Duration {
        // Slack allows about one message per second per channel.
        Duration::from_secs(1)
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

    /// A member posts; a public channel takes posts from a bot with `chat:write.public`;
    /// a private channel sevbot is not in is invisible to it (`channel_not_found`).
    async fn reach(&self, channel: &str, _said: Option<bool>) -> Reach {
        const INVITE: &str = "Invite it with `/invite @sevbot`";
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsInfoRequest::new(channel.into());
        match self
            .call("conversations.info", session.conversations_info(&req))
            .await
        {
            Ok(r) => {
                let flags = &r.channel.flags;
                if flags.is_member == Some(true) || flags.is_im == Some(true) {
                    return Reach::Posts;
                }
                if flags.is_private == Some(true) {
                    return Reach::Blocked {
                        fix: format!("{INVITE}."),
                    };
                }
                match self.scopes().await {
                    Ok(s) if s.iter().any(|s| s == "chat:write.public") => Reach::Posts,
                    Ok(_) => Reach::Blocked {
                        fix: format!(
                            "{INVITE}, or give the Slack app the chat:write.public scope (to post in public channels it has not joined)."
                        ),
                    },
                    Err(_) => Reach::Unknown,
                }
            }
            Err(DeliveryError::Permanent(m)) if m.contains("channel_not_found") => Reach::Blocked {
                fix: format!("{INVITE}."),
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not ask Slack whether sevbot is in a channel");
                Reach::Unknown
            }
        }
    }

    async fn create_channel(&self, ch: &NewChannel<'_>) -> Result<String, DeliveryError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsCreateRequest::new(ch.name.to_string())
            .with_is_private(ch.private);
        let r = self
            .call("conversations.create", session.conversations_create(&req))
            .await?;
        Ok(r.channel.id.to_string())
    }

    /// A channel of that exact name, created by the bot, no earlier than the SEV (with a
    /// few minutes' allowance for clocks), found in the channels the bot can see.
    async fn find_channel(&self, ch: &NewChannel<'_>) -> Result<Option<String>, DeliveryError> {
        let bot = self.bot_user().await?.to_string();
        let session = self.client.open_session(&self.token);
        let mut req = SlackApiConversationsListRequest::new()
            .with_limit(1000)
            .with_exclude_archived(true)
            .with_types(vec![
                SlackConversationType::Public,
                SlackConversationType::Private,
            ]);
        for _ in 0..LOOKUP_PAGES {
            let r = self
                .call("conversations.list", session.conversations_list(&req))
                .await?;
            let ours = r.channels.iter().find(|c| {
                c.name.as_deref() == Some(ch.name)
                    && c.creator.as_ref().is_some_and(|u| u.0 == bot)
                    && c.created.0.as_second() >= ch.not_before / 1000 - LOOKBACK_SECS
            });
            if let Some(c) = ours {
                return Ok(Some(c.id.to_string()));
            }
            match r.response_metadata.and_then(|m| m.next_cursor) {
                Some(c) if !c.0.is_empty() => req = req.with_cursor(c),
                _ => break,
            }
        }
        Ok(None)
    }

    /// Reads the channel's history since the row was queued for a message whose metadata
    /// carries the row's key.
    async fn find_post(
        &self,
        channel: &str,
        key: &str,
        since: i64,
    ) -> Result<Option<String>, DeliveryError> {
        let session = self.client.open_session(&self.token);
        let oldest = since / 1000 - LOOKBACK_SECS;
        let mut req = SlackApiConversationsHistoryRequest::new()
            .with_channel(SlackChannelId::new(channel.into()))
            .with_oldest(SlackTs::new(format!("{oldest}.000000")))
            .with_include_all_metadata(true)
            .with_limit(200);
        for _ in 0..LOOKUP_PAGES {
            let r = self
                .call("conversations.history", session.conversations_history(&req))
                .await?;
            let found = r.messages.iter().find(|m| {
                m.content.metadata.as_ref().is_some_and(|md| {
                    md.event_type == METADATA_EVENT
                        && md
                            .event_payload
                            .as_ref()
                            .and_then(|p| p.get("key"))
                            .is_some_and(|k| k == key)
                })
            });
            if let Some(m) = found {
                return Ok(Some(m.origin.ts.to_string()));
            }
            match r.response_metadata.and_then(|m| m.next_cursor) {
                Some(c) if !c.0.is_empty() && r.has_more == Some(true) => req = req.with_cursor(c),
                _ => break,
            }
        }
        Ok(None)
    }

    async fn find_page(&self, person: &str, key: &str, since: i64) -> Result<bool, DeliveryError> {
        let user = self.resolve_user(person).await?;
        let dm = self.dm_channel(&user).await?;
        Ok(self.find_post(&dm, key, since).await?.is_some())
    }

    async fn invite(&self, channel: &str, people: &[String]) -> Result<(), DeliveryError> {
        let mut users: Vec<SlackUserId> = vec![];
        for p in people {
            match self.resolve_user(p).await {
                Ok(u) => users.push(SlackUserId::new(u)),
                // Someone Slack does not know is said on their page; the others come in.
                Err(DeliveryError::Permanent(why)) => {
                    tracing::warn!(person = p, why, "not invited to the SEV channel")
                }
                Err(e) => return Err(e),
            }
        }
        if users.is_empty() {
            return Ok(());
        }
        let session = self.client.open_session(&self.token);
        let req =
            SlackApiConversationsInviteRequest::new(SlackChannelId::new(channel.into()), users);
        benign(
            self.call("conversations.invite", session.conversations_invite(&req))
                .await
                .map(|_| ()),
        )
    }

    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), DeliveryError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsSetTopicRequest::new(
            SlackChannelId::new(channel.into()),
            blocks::clip(topic, blocks::MAX_TOPIC),
        );
        self.call(
            "conversations.setTopic",
            session.conversations_set_topic(&req),
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
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.into()),
            Self::tagged(self.content(msg)?, key),
        );
        let r = self
            .call("chat.postMessage", session.chat_post_message(&req))
            .await?;
        Ok(r.ts.to_string())
    }

    async fn edit(
        &self,
        channel: &str,
        message_id: &str,
        msg: Message<'_>,
    ) -> Result<(), DeliveryError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatUpdateRequest::new(
            SlackChannelId::new(channel.into()),
            self.content(msg)?,
            SlackTs::new(message_id.into()),
        );
        self.call("chat.update", session.chat_update(&req))
            .await
            .map(|_| ())
    }

    async fn reply(
        &self,
        channel: &str,
        user: Option<&str>,
        text: &str,
        key: &str,
    ) -> Result<(), DeliveryError> {
        let session = self.client.open_session(&self.token);
        let content = SlackMessageContent::new().with_text(blocks::clip(text, blocks::MAX_SECTION));
        let channel = SlackChannelId::new(channel.into());
        match user {
            Some(u) => {
                let req = SlackApiChatPostEphemeralRequest::new(
                    channel,
                    SlackUserId::new(u.into()),
                    content,
                );
                self.call("chat.postEphemeral", session.chat_post_ephemeral(&req))
                    .await
                    .map(|_| ())
            }
            None => {
                let req = SlackApiChatPostMessageRequest::new(channel, Self::tagged(content, key));
                self.call("chat.postMessage", session.chat_post_message(&req))
                    .await
                    .map(|_| ())
            }
        }
    }

    /// A message from the app to the person's own user id lands in their DM with it.
    async fn page(&self, person: &str, msg: Message<'_>, key: &str) -> Result<(), DeliveryError> {
        let user = self.resolve_user(person).await?;
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(user),
            Self::tagged(self.content(msg)?, key),
        );
        self.call("chat.postMessage", session.chat_post_message(&req))
            .await
            .map(|_| ())
    }

    async fn archive(&self, channel: &str) -> Result<(), DeliveryError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsArchiveRequest::new(SlackChannelId::new(channel.into()));
        benign(
            self.call("conversations.archive", session.conversations_archive(&req))
                .await
                .map(|_| ()),
        )
    }

    async fn unarchive(&self, channel: &str) -> Result<(), DeliveryError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsUnarchiveRequest::new(SlackChannelId::new(channel.into()));
        // slack-morphism 2.31's `conversations_unarchive` posts to conversations.setTopic
        // (caught by the fake Slack, which saw no unarchive): name the method ourselves.
        let call = session
            .http_session_api
            .http_post::<_, SlackApiConversationsUnarchiveResponse>(
                "conversations.unarchive",
                &req,
                None,
            );
        benign(self.call("conversations.unarchive", call).await.map(|_| ()))
    }

    fn sends_files(&self) -> bool {
        true
    }

    /// Slack's upload flow: an upload URL, the bytes to it, then the file completed into
    /// the DM with the text as its comment.
    async fn send_file(
        &self,
        user: &str,
        filename: &str,
        content: &str,
        text: &str,
    ) -> Result<(), DeliveryError> {
        let dm = self.dm_channel(user).await?;
        let session = self.client.open_session(&self.token);
        let req = SlackApiFilesGetUploadUrlExternalRequest::new(filename.into(), content.len());
        let url = self
            .call(
                "files.getUploadURLExternal",
                session.get_upload_url_external(&req),
            )
            .await?;
        let upload = SlackApiFilesUploadViaUrlRequest::new(
            url.upload_url,
            content.as_bytes().to_vec(),
            "text/markdown".into(),
        );
        self.call("file upload", session.files_upload_via_url(&upload))
            .await?;
        let done = SlackApiFilesCompleteUploadExternalRequest::new(vec![
            SlackApiFilesComplete::new(url.file_id).with_title(filename.into()),
        ])
        .with_channel_id(SlackChannelId::new(dm))
        .with_initial_comment(text.into());
        self.call(
            "files.completeUploadExternal",
            session.files_complete_upload_external(&done),
        )
        .await
        .map(|_| ())
    }

    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), DeliveryError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiPinsAddRequest::new(
            SlackChannelId::new(channel.into()),
            SlackTs::new(message_id.into()),
        );
        benign(
            self.call("pins.add", session.pins_add(&req))
                .await
                .map(|_| ()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slack_morphism::errors::{SlackClientApiError, SlackRateLimitError};

    fn api(code: &str) -> SlackClientError {
        SlackClientError::ApiError(SlackClientApiError {
            code: code.into(),
            errors: None,
            warnings: None,
            http_response_body: None,
        })
    }

    #[test]
    fn slack_errors_are_sorted_into_retry_and_fix() {
        assert_eq!(
            classify("conversations.create", api("name_taken")),
            DeliveryError::NameTaken
        );
        assert!(matches!(
            classify("x", api("ratelimited")),
            DeliveryError::Retry { .. }
        ));
        assert!(matches!(
            classify("x", api("internal_error")),
            DeliveryError::Retry { .. }
        ));
        let rl = SlackClientError::RateLimitError(SlackRateLimitError {
            retry_after: Some(Duration::from_secs(7)),
            code: None,
            warnings: None,
            http_response_body: None,
        });
        assert_eq!(
            classify("chat.postMessage", rl),
            DeliveryError::Retry {
                reason: "chat.postMessage: rate limited".into(),
                after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            classify("pins.add", api("missing_scope")),
            DeliveryError::Permanent(
                "pins.add: missing_scope (add the scope to the Slack app, see config/slack-app-manifest.yml, and reinstall it)".into()
            )
        );
        assert_eq!(
            classify("chat.postMessage", api("channel_not_found")),
            DeliveryError::Permanent("chat.postMessage: channel_not_found (the channel was deleted, or the bot is not in it)".into())
        );
        assert_eq!(
            benign(Err(classify("pins.add", api("already_pinned")))),
            Ok(())
        );
    }
}
