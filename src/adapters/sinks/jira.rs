//! Jira Cloud (REST API v3): a ticket per SEV, opened at the declaration with an Atlassian
//! Document Format description, commented on for updates and stage changes, the
//! postmortem attached when it is resolved.
//!
//! An attempt whose answer was lost is looked for before it is repeated: the ticket by the
//! SEV's label (JQL search), a comment by the outbox key stored as its property, an
//! attachment by its file name.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::http;
use crate::config::JiraConfig;
use crate::domain::{Level, SevType};
use crate::effects::{
    Capability, DeliveryError, Effect, Outgoing, Sent, Sink, TicketAction, TicketRef,
};

pub const NAME: &str = "jira";
const SERVICE: &str = "Jira";
/// The comment property that carries the outbox key.
const PROPERTY: &str = "sevbot";

pub struct Jira {
    client: reqwest::Client,
    base: String,
    email: String,
    /// Never logged.
    token: String,
    cfg: JiraConfig,
}

impl Jira {
    /// On when `[jira] project` is set and `JIRA_URL`, `JIRA_EMAIL` and `JIRA_API_TOKEN`
    /// (or the names configured) are in the environment.
    pub fn from_config(cfg: &JiraConfig) -> anyhow::Result<Option<Jira>> {
        if cfg.project.is_none() {
            return Ok(None);
        }
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        match (var(&cfg.url_env), var(&cfg.email_env), var(&cfg.token_env)) {
            (Some(url), Some(email), Some(token)) => {
                Jira::new(cfg, &url, &email, &token, Duration::from_secs(10)).map(Some)
            }
            (None, None, None) => {
                // The example config has [jira]: without its variables, tickets are simply
                // off, as e-mail is without SMTP_URL.
                tracing::info!(
                    "tickets are off: [jira] is configured but {}, {} and {} are not set",
                    cfg.url_env,
                    cfg.email_env,
                    cfg.token_env
                );
                Ok(None)
            }
            (url, email, token) => {
                let missing: Vec<&str> = [
                    (url.is_none(), cfg.url_env.as_str()),
                    (email.is_none(), cfg.email_env.as_str()),
                    (token.is_none(), cfg.token_env.as_str()),
                ]
                .into_iter()
                .filter_map(|(gone, name)| gone.then_some(name))
                .collect();
                tracing::warn!(
                    missing = missing.join(", "),
                    "[jira] is half configured: no tickets are opened until the missing variables are set"
                );
                Ok(None)
            }
        }
    }

    pub fn new(
        cfg: &JiraConfig,
        base: &str,
        email: &str,
        token: &str,
        timeout: Duration,
    ) -> anyhow::Result<Jira> {
        Ok(Jira {
            client: reqwest::Client::builder().timeout(timeout).build()?,
            base: base.trim_end_matches('/').to_string(),
            email: email.to_string(),
            token: token.to_string(),
            cfg: cfg.clone(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/rest/api/3/{path}", self.base)
    }

    fn ticket(&self, key: &str) -> TicketRef {
        TicketRef {
            key: key.to_string(),
            url: format!("{}/browse/{key}", self.base),
        }
    }

    /// Sends and reads a JSON answer, or says what went wrong in Jira's own words.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, DeliveryError> {
        let resp = req
            .basic_auth(&self.email, Some(&self.token))
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| http::no_answer(SERVICE, e))?;
        let status = resp.status().as_u16();
        let after = http::retry_after(resp.headers());
        let text = resp.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        let check = match status {
            401 => {
                "check JIRA_EMAIL and JIRA_API_TOKEN: an Atlassian account e-mail and its API token"
            }
            403 => "the account may not create issues or comment in this project",
            404 => "check JIRA_URL and [jira] project",
            _ => "check [jira] project, issue_type, priorities and fields",
        };
        Err(http::refused(SERVICE, status, after, &said(&text), check))
    }

    async fn open(&self, issue: &TicketAction, doubt: bool) -> Result<TicketRef, DeliveryError> {
        let TicketAction::Open {
            summary,
            description,
            level,
            sev_type,
            label,
        } = issue
        else {
            return Err(DeliveryError::Permanent("not an opening".into()));
        };
        if doubt && let Some(key) = self.find_by_label(label).await? {
            return Ok(self.ticket(&key));
        }
        let project = self.cfg.project.clone().unwrap_or_default();
        let mut labels = vec![label.clone()];
        labels.extend(self.cfg.labels.iter().cloned());
        let mut f = json!({
            "project": { "key": project },
            "issuetype": { "name": self.cfg.issue_type },
            "summary": crate::adapters::text::clip(summary, 255),
            "description": adf(description),
            "labels": labels,
        });
        if let Some(p) = self.cfg.priorities.get(usize::from(level.get())) {
            f["priority"] = json!({ "name": p });
        }
        let sev = summary
            .trim_start_matches('[')
            .split([']', ' '])
            .next()
            .unwrap_or_default();
        for (k, v) in &self.cfg.fields {
            f[k] = fill(v, sev, *level, *sev_type);
        }
        let v = self
            .call(
                self.client
                    .post(self.url("issue"))
                    .json(&json!({ "fields": f })),
            )
            .await?;
        match v["key"].as_str() {
            Some(key) => Ok(self.ticket(key)),
            None => Err(DeliveryError::Unreadable(
                "Jira created an issue without a key in its answer".into(),
            )),
        }
    }

    async fn find_by_label(&self, label: &str) -> Result<Option<String>, DeliveryError> {
        let jql = format!("labels = \"{label}\"");
        let v = self
            .call(
                self.client
                    .get(self.url("search/jql"))
                    .query(&[("jql", jql.as_str()), ("fields", "key")]),
            )
            .await?;
        Ok(v["issues"][0]["key"].as_str().map(str::to_string))
    }

    async fn comment(
        &self,
        key: &str,
        text: &str,
        row: &str,
        doubt: bool,
    ) -> Result<(), DeliveryError> {
        if doubt {
            let path = format!("issue/{key}/comment");
            let v = self
                .call(
                    self.client
                        .get(self.url(&path))
                        .query(&[("expand", "properties"), ("orderBy", "-created")]),
                )
                .await?;
            let seen = v["comments"].as_array().into_iter().flatten().any(|c| {
                c["properties"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["key"] == PROPERTY && p["value"]["row"] == row)
            });
            if seen {
                return Ok(());
            }
        }
        let body = json!({
            "body": adf(text),
            "properties": [{ "key": PROPERTY, "value": { "row": row } }],
        });
        self.call(
            self.client
                .post(self.url(&format!("issue/{key}/comment")))
                .json(&body),
        )
        .await
        .map(drop)
    }

    async fn attach(
        &self,
        key: &str,
        filename: &str,
        content: &str,
        doubt: bool,
    ) -> Result<(), DeliveryError> {
        if doubt {
            let v = self
                .call(
                    self.client
                        .get(self.url(&format!("issue/{key}")))
                        .query(&[("fields", "attachment")]),
                )
                .await?;
            let there = v["fields"]["attachment"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["filename"] == filename);
            if there {
                return Ok(());
            }
        }
        let part = reqwest::multipart::Part::text(content.to_string())
            .file_name(filename.to_string())
            .mime_str("text/markdown")
            .map_err(|e| DeliveryError::Permanent(format!("Jira attachment: {e}")))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        self.call(
            self.client
                .post(self.url(&format!("issue/{key}/attachments")))
                // Jira refuses uploads without it (XSRF protection).
                .header("X-Atlassian-Token", "no-check")
                .multipart(form),
        )
        .await
        .map(drop)
    }
}

/// Jira's error body (`errorMessages` and `errors` by field) in one line.
fn said(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    let mut parts: Vec<String> = v["errorMessages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    if let Some(errors) = v["errors"].as_object() {
        parts.extend(
            errors
                .iter()
                .map(|(k, m)| format!("{k}: {}", m.as_str().unwrap_or_default())),
        );
    }
    parts.join("; ")
}

/// `{sev}`, `{level}` and `{type}` in a configured field's strings.
fn fill(v: &Value, sev: &str, level: Level, sev_type: SevType) -> Value {
    match v {
        Value::String(s) => Value::String(
            s.replace("{sev}", sev)
                .replace("{level}", &level.to_string())
                .replace("{type}", sev_type.as_str()),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, sev, level, sev_type)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), fill(x, sev, level, sev_type)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Plain text as an Atlassian Document Format document: a paragraph per line, an empty
/// paragraph for an empty line (text nodes must not be empty).
pub fn adf(text: &str) -> Value {
    let content: Vec<Value> = text
        .lines()
        .map(|l| match l.is_empty() {
            true => json!({ "type": "paragraph", "content": [] }),
            false => json!({ "type": "paragraph", "content": [{ "type": "text", "text": l }] }),
        })
        .collect();
    json!({ "type": "doc", "version": 1, "content": content })
}

#[async_trait]
impl Sink for Jira {
    fn name(&self) -> &str {
        NAME
    }

    fn title(&self) -> &str {
        SERVICE
    }

    fn capabilities(&self) -> &[Capability] {
        &[Capability::Tickets]
    }

    async fn send(&self, effect: &Effect, out: Outgoing<'_>) -> Result<Sent, DeliveryError> {
        let Effect::Ticket { action, .. } = effect else {
            return Err(DeliveryError::Permanent(format!(
                "Jira cannot deliver {}",
                effect.label()
            )));
        };
        let key = || {
            out.ticket.ok_or_else(|| {
                DeliveryError::Permanent(
                    "the SEV has no Jira ticket (opening it failed: see sevbot outbox list)".into(),
                )
            })
        };
        match action {
            TicketAction::Open { .. } => {
                let t = self.open(action, out.doubt).await?;
                Ok(Sent { ticket: Some(t) })
            }
            TicketAction::Comment { text } => {
                self.comment(key()?, text, out.key, out.doubt).await?;
                Ok(Sent::default())
            }
            TicketAction::Attach { filename, content } => {
                self.attach(key()?, filename, content, out.doubt).await?;
                Ok(Sent::default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adf_paragraphs_never_hold_empty_text() {
        let d = adf("SEV-7 · SEV1\n\nRoles: IMOC @alice");
        assert_eq!(d["type"], "doc");
        assert_eq!(d["version"], 1);
        assert_eq!(d["content"].as_array().unwrap().len(), 3);
        assert_eq!(d["content"][1]["content"], json!([]));
        assert_eq!(d["content"][2]["content"][0]["text"], "Roles: IMOC @alice");
    }

    #[test]
    fn jira_errors_in_one_line() {
        assert_eq!(
            said(
                r#"{"errorMessages":["Oops"],"errors":{"summary":"You must specify a summary of the issue."}}"#
            ),
            "Oops; summary: You must specify a summary of the issue."
        );
    }
}
