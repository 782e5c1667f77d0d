//! The terminal console: a chat workspace in your terminal, so sevbot can be tried with no
//! accounts. You type `/sev …` as a user in a channel; sevbot's messages, channel creations
//! and in-place edits are printed as they are delivered.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::config::{Config, Live};
use crate::delivery::Delivery;
use crate::effects::{DeliveryError, Message, NewChannel, Platform};
use crate::engine::{Engine, Invocation, SYSTEM_ACTOR};
use crate::store::Store;

pub const PLATFORM: &str = "console";

pub type Output = Arc<Mutex<Box<dyn Write + Send>>>;

pub fn stdout() -> Output {
    Arc::new(Mutex::new(Box::new(std::io::stdout())))
}

fn say(out: &Output, line: &str) {
    let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
    // A closed stdout must not take the bot down; the database still has everything.
    let _ = writeln!(w, "{line}");
    let _ = w.flush();
}

pub struct ConsolePlatform {
    store: Store,
    cfg: Live,
    out: Output,
    next_message: AtomicU64,
}

impl ConsolePlatform {
    /// The configuration in force now (people's handles follow a reload).
    fn cfg(&self) -> Arc<Config> {
        self.cfg.get()
    }

    pub fn new(store: Store, cfg: impl Into<Live>, out: Output) -> ConsolePlatform {
        // Message ids must not repeat across restarts: edits find messages by id.
        let seed = chrono::Utc::now().timestamp_millis() as u64 * 100;
        ConsolePlatform {
            store,
            cfg: cfg.into(),
            out,
            next_message: AtomicU64::new(seed),
        }
    }

    /// Records what was printed under its outbox key, right after printing it: a crash
    /// between the two is the only way a line prints twice.
    async fn printed(&self, key: &str, message_id: Option<&str>) -> Result<(), DeliveryError> {
        sqlx::query(
            "INSERT INTO console_messages (key, message_id, printed_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(message_id)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&self.store.pool)
        .await
        .map(|_| ())
        .map_err(|e| DeliveryError::Uncertain(format!("recording a printed line: {e}")))
    }

    /// What was printed under `key`: Some(message id, empty for lines without one).
    async fn printed_as(&self, key: &str) -> Result<Option<String>, DeliveryError> {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT message_id FROM console_messages WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&self.store.pool)
        .await
        .map(|found| found.map(Option::unwrap_or_default))
        .map_err(|e| DeliveryError::Retry {
            reason: e.to_string(),
            after: None,
        })
    }

    fn render(&self, msg: Message<'_>) -> String {
        let mention = |w: &str| self.mention(w);
        let text = msg.plain_text(&crate::domain::Markup::plain(&mention));
        match msg.kind() {
            Some(kind) => format!("[{kind}] {}", text.replace('\n', "\n    ")),
            None => text,
        }
    }
}

#[async_trait]
impl Platform for ConsolePlatform {
    fn name(&self) -> &str {
        PLATFORM
    }

    fn title(&self) -> &str {
        "the console"
    }

    fn mention(&self, who: &str) -> String {
        match who.strip_prefix('@') {
            Some(handle) => format!("@{handle}"),
            None if who == SYSTEM_ACTOR => who.to_string(),
            None => format!(
                "@{}",
                self.cfg()
                    .handle(who, PLATFORM)
                    .unwrap_or_else(|| who.to_string())
            ),
        }
    }

    async fn create_channel(&self, ch: &NewChannel<'_>) -> Result<String, DeliveryError> {
        let taken = sqlx::query("INSERT INTO console_channels (name, created_at, sev_id) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(ch.name)
            .bind(chrono::Utc::now().timestamp_millis())
            .bind(ch.sev.0)
            .execute(&self.store.pool)
            .await
            .map_err(|e| DeliveryError::Retry { reason: e.to_string(), after: None })?
            .rows_affected()
            == 0;
        if taken {
            return Err(DeliveryError::NameTaken);
        }
        let kind = if ch.private {
            "private channel"
        } else {
            "channel"
        };
        say(&self.out, &format!("+ sevbot created {kind} #{}", ch.name));
        Ok(ch.name.to_string())
    }

    /// The console's workspace remembers which SEV each channel was opened for.
    async fn find_channel(&self, ch: &NewChannel<'_>) -> Result<Option<String>, DeliveryError> {
        sqlx::query_scalar("SELECT name FROM console_channels WHERE name = $1 AND sev_id = $2")
            .bind(ch.name)
            .bind(ch.sev.0)
            .fetch_optional(&self.store.pool)
            .await
            .map_err(|e| DeliveryError::Retry {
                reason: e.to_string(),
                after: None,
            })
    }

    async fn invite(&self, channel: &str, people: &[String]) -> Result<(), DeliveryError> {
        let names: Vec<String> = people.iter().map(|p| self.mention(p)).collect();
        say(
            &self.out,
            &format!("#{channel} | sevbot invited {}", names.join(", ")),
        );
        Ok(())
    }

    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), DeliveryError> {
        say(&self.out, &format!("#{channel} | topic: {topic}"));
        Ok(())
    }

    async fn post(
        &self,
        channel: &str,
        msg: Message<'_>,
        key: &str,
    ) -> Result<String, DeliveryError> {
        let id = self.next_message.fetch_add(1, Ordering::SeqCst).to_string();
        say(
            &self.out,
            &format!("#{channel} | sevbot: {}", self.render(msg)),
        );
        self.printed(key, Some(&id)).await?;
        Ok(id)
    }

    async fn find_post(
        &self,
        _channel: &str,
        key: &str,
        _since: i64,
    ) -> Result<Option<String>, DeliveryError> {
        self.printed_as(key).await
    }

    async fn edit(
        &self,
        channel: &str,
        message_id: &str,
        msg: Message<'_>,
    ) -> Result<(), DeliveryError> {
        say(
            &self.out,
            &format!(
                "#{channel} | sevbot (edited message {message_id}): {}",
                self.render(msg)
            ),
        );
        Ok(())
    }

    async fn reply(
        &self,
        channel: &str,
        user: Option<&str>,
        text: &str,
        key: &str,
    ) -> Result<(), DeliveryError> {
        let to = user
            .map(|u| format!(" → @{u} (only you)"))
            .unwrap_or_default();
        say(
            &self.out,
            &format!("#{channel} | sevbot{to}: {}", text.replace('\n', "\n    ")),
        );
        self.printed(key, None).await
    }

    async fn page(&self, person: &str, msg: Message<'_>, key: &str) -> Result<(), DeliveryError> {
        say(
            &self.out,
            &format!(
                "[page → {}] {}",
                self.mention(person),
                self.render(msg).replace('\n', "\n    ")
            ),
        );
        self.printed(key, None).await
    }

    async fn find_page(
        &self,
        _person: &str,
        key: &str,
        _since: i64,
    ) -> Result<bool, DeliveryError> {
        Ok(self.printed_as(key).await?.is_some())
    }

    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), DeliveryError> {
        say(
            &self.out,
            &format!("#{channel} | sevbot pinned message {message_id}"),
        );
        Ok(())
    }
}

const CONSOLE_HELP: &str = "Type `/sev help` for sevbot's commands. Console commands:\n\
  :as <user>      act as another user (e.g. :as bob)\n\
  :in <#channel>  move to another channel (e.g. :in #sev-1-checkout-failing)\n\
  :channels       list the channels sevbot created\n\
  :quit           leave (also Ctrl-D)";

/// Reads lines until EOF or `:quit`. After each command the ready outbox is delivered, so
/// what sevbot does appears right under what you typed.
pub async fn run<R: AsyncBufRead + Unpin>(
    engine: Engine,
    delivery: Arc<Delivery>,
    out: Output,
    input: R,
    interactive: bool,
) -> anyhow::Result<()> {
    let mut user = engine.cfg().console.user.clone();
    let mut channel = engine
        .cfg()
        .console
        .channel
        .trim_start_matches('#')
        .to_string();
    let mut lines = input.lines();
    if interactive {
        say(
            &out,
            &format!("sevbot console — you are @{user} in #{channel}. {CONSOLE_HELP}"),
        );
    }
    loop {
        if interactive {
            let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = write!(w, "{user}@#{channel}> ");
            let _ = w.flush();
        }
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if !interactive {
            say(&out, &format!("{user}@#{channel}> {line}"));
        }
        let (head, rest) = line
            .split_once(char::is_whitespace)
            .map(|(h, r)| (h, r.trim()))
            .unwrap_or((line, ""));
        match head {
            ":quit" | ":q" | ":exit" => break,
            ":help" => say(&out, CONSOLE_HELP),
            ":as" if !rest.is_empty() => {
                user = rest.trim_start_matches('@').to_string();
                say(&out, &format!("(you are now @{user})"));
            }
            ":in" if !rest.is_empty() => {
                channel = rest.trim_start_matches('#').to_string();
                say(&out, &format!("(you are now in #{channel})"));
            }
            ":channels" => {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM console_channels ORDER BY created_at, name",
                )
                .fetch_all(&engine.store.pool)
                .await?;
                say(
                    &out,
                    &format!(
                        "channels: #{}",
                        if names.is_empty() {
                            "(none yet)".into()
                        } else {
                            names.join(", #")
                        }
                    ),
                );
            }
            h if h.starts_with(':') => say(
                &out,
                &format!("(unknown console command {h})\n{CONSOLE_HELP}"),
            ),
            "/sev" => {
                let inv = Invocation::new(PLATFORM, &user, &channel);
                let reply = engine.handle(&inv, rest).await;
                let to = if reply.ephemeral {
                    format!(" → @{user} (only you)")
                } else {
                    String::new()
                };
                say(
                    &out,
                    &format!(
                        "#{channel} | sevbot{to}: {}",
                        reply.text.replace('\n', "\n    ")
                    ),
                );
                delivery.drain(Duration::from_secs(10)).await?;
            }
            h if h.starts_with('/') => say(
                &out,
                &format!("(no such slash command {h}; sevbot answers /sev)"),
            ),
            _ => {} // an ordinary chat message; sevbot does not react to it
        }
    }
    Ok(())
}
