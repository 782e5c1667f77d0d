//! The SEV's e-mail thread over SMTP (lettre). Each message carries the Message-ID the
//! engine chose, so a repeat after a timeout is the same message to any mail client or
//! server that de-duplicates; SMTP offers no way to ask whether the first one arrived.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::EmailConfig;
use crate::effects::{Capability, DeliveryError, Effect, Outgoing, Sent, Sink};

pub const NAME: &str = "email";

pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Email {
    /// On when `[email] from` is set and the environment holds the SMTP URL.
    pub fn from_config(cfg: &EmailConfig) -> anyhow::Result<Option<Email>> {
        let Some(from) = &cfg.from else {
            return Ok(None);
        };
        let Some(url) = std::env::var(&cfg.smtp_url_env)
            .ok()
            .filter(|u| !u.trim().is_empty())
        else {
            tracing::info!(
                variable = cfg.smtp_url_env,
                "e-mail is off: [email] is configured but {} is not set",
                cfg.smtp_url_env
            );
            return Ok(None);
        };
        Email::new(&url, from).map(Some)
    }

    /// `url` is `smtp://user:pass@host:port` (STARTTLS when offered with `?tls=required`
    /// to insist) or `smtps://…`; it is never logged.
    pub fn new(url: &str, from: &str) -> anyhow::Result<Email> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| {
                anyhow::anyhow!("the SMTP URL is not smtp://user:pass@host:port or smtps://…")
            })?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("email.from \"{from}\": {e}"))?;
        Ok(Email { transport, from })
    }

    fn message(&self, effect: &Effect) -> Result<Message, DeliveryError> {
        let Effect::Email {
            to,
            subject,
            body,
            message_id,
            thread,
            ..
        } = effect
        else {
            return Err(DeliveryError::Permanent(format!(
                "the e-mail sink cannot deliver {}",
                effect.label()
            )));
        };
        let to: Mailbox = to
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("e-mail to \"{to}\": {e}")))?;
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.clone()))
            .header(ContentType::TEXT_PLAIN);
        if message_id != thread {
            b = b.in_reply_to(thread.clone()).references(thread.clone());
        }
        b.body(body.clone())
            .map_err(|e| DeliveryError::Permanent(format!("e-mail: {e}")))
    }
}

/// SMTP's own verdicts: 4xx is worth another try, 5xx is not; a timeout may have
/// delivered the message.
fn outcome(e: SmtpError) -> DeliveryError {
    let code = e.status().map(|c| format!(" ({c})")).unwrap_or_default();
    if e.is_permanent() {
        DeliveryError::Permanent(format!(
            "SMTP server refused the message{code}: {e} (check email.from, the address and SMTP_URL's account)"
        ))
    } else if e.is_timeout() {
        DeliveryError::Uncertain(format!("SMTP: timed out{code}"))
    } else {
        DeliveryError::Retry {
            reason: format!("SMTP{code}: {e}"),
            after: None,
        }
    }
}

#[async_trait]
impl Sink for Email {
    fn name(&self) -> &str {
        NAME
    }

    fn title(&self) -> &str {
        "e-mail"
    }

    fn capabilities(&self) -> &[Capability] {
        &[Capability::Mail]
    }

    async fn send(&self, effect: &Effect, _out: Outgoing<'_>) -> Result<Sent, DeliveryError> {
        let msg = self.message(effect)?;
        self.transport.send(msg).await.map_err(outcome)?;
        Ok(Sent::default())
    }
}
