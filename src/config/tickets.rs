//! `[jira]` and `[tracker_webhook]`: the SEV's ticket. Where the tracker is and who sevbot
//! is there come from the environment (they carry secrets); what a ticket looks like is
//! configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Problem;

/// Jira Cloud (REST API v3). Off unless `project` is set and the three environment
/// variables are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraConfig {
    /// The project key new tickets go to ("OPS").
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    /// Priority names by level, SEV0 first (`["Highest", "High", "Medium", "Low"]`); empty:
    /// the project's default priority.
    #[serde(default)]
    pub priorities: Vec<String>,
    /// Labels on every ticket, beside the one sevbot finds it by.
    #[serde(default)]
    pub labels: Vec<String>,
    /// More fields, by Jira field id, sent as given; in strings `{sev}`, `{level}` and
    /// `{type}` become the SEV's (`customfield_10042 = "{type}"`).
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    #[serde(default = "default_url_env")]
    pub url_env: String,
    #[serde(default = "default_email_env")]
    pub email_env: String,
    #[serde(default = "default_token_env")]
    pub token_env: String,
}

fn default_issue_type() -> String {
    "Task".into()
}
fn default_url_env() -> String {
    "JIRA_URL".into()
}
fn default_email_env() -> String {
    "JIRA_EMAIL".into()
}
fn default_token_env() -> String {
    "JIRA_API_TOKEN".into()
}

impl Default for JiraConfig {
    fn default() -> Self {
        JiraConfig {
            project: None,
            issue_type: default_issue_type(),
            priorities: vec![],
            labels: vec![],
            fields: BTreeMap::new(),
            url_env: default_url_env(),
            email_env: default_email_env(),
            token_env: default_token_env(),
        }
    }
}

/// Any other tracker: a JSON POST per ticket action to the URL in the environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerWebhookConfig {
    #[serde(default = "default_webhook_env")]
    pub url_env: String,
}

fn default_webhook_env() -> String {
    "TRACKER_WEBHOOK_URL".into()
}

impl Default for TrackerWebhookConfig {
    fn default() -> Self {
        TrackerWebhookConfig {
            url_env: default_webhook_env(),
        }
    }
}

pub(super) fn check(jira: &JiraConfig, problems: &mut Vec<Problem>) {
    let mut err = |location: &str, message: String| {
        problems.push(Problem::error(location.to_string(), message))
    };
    if let Some(p) = &jira.project
        && (p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        err(
            "jira.project",
            format!("\"{p}\" is not a Jira project key (like OPS)"),
        );
    }
    if jira.issue_type.trim().is_empty() {
        err("jira.issue_type", "empty issue type".into());
    }
    if !jira.priorities.is_empty() && jira.priorities.len() != 4 {
        err(
            "jira.priorities",
            format!(
                "{} names given: one per level, SEV0 to SEV3, or none",
                jira.priorities.len()
            ),
        );
    }
    for l in &jira.labels {
        if l.is_empty() || l.contains(char::is_whitespace) {
            err(
                "jira.labels",
                format!("\"{l}\": Jira labels have no spaces"),
            );
        }
    }
}
