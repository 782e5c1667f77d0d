//! `[email]`: the SEV's e-mail thread. The sender and the lists are configuration; the
//! SMTP server, which carries a password, comes from the environment (`SMTP_URL`).

use serde::{Deserialize, Serialize};

use super::Problem;
use crate::domain::address::valid_address;
use crate::domain::{FeedFilter, Level, SevType};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The sender, `sevbot@example.com` or `sevbot <sevbot@example.com>`; e-mail is off
    /// without it.
    #[serde(default)]
    pub from: Option<String>,
    /// Lists that get every matching SEV's thread.
    #[serde(default)]
    pub lists: Vec<RawList>,
    /// The environment variable holding `smtp://user:pass@host:port` or `smtps://…`.
    #[serde(default = "default_smtp_url_env")]
    pub smtp_url_env: String,
}

fn default_smtp_url_env() -> String {
    "SMTP_URL".into()
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            from: None,
            lists: vec![],
            smtp_url_env: default_smtp_url_env(),
        }
    }
}

/// A list: an address, or a table with the same filters as a feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawList {
    Address(String),
    Filtered(FilteredList),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilteredList {
    pub address: String,
    #[serde(default)]
    pub types: Vec<SevType>,
    #[serde(default)]
    pub max_level: Option<Level>,
    /// People cleared for restricted SEVs: their threads are in full.
    #[serde(default)]
    pub private: bool,
}

/// A checked list.
#[derive(Debug, Clone)]
pub struct MailList {
    pub address: String,
    pub filter: FeedFilter,
    pub private: bool,
}

impl EmailConfig {
    pub fn lists(&self) -> Vec<MailList> {
        self.lists
            .iter()
            .map(|l| match l {
                RawList::Address(a) => MailList {
                    address: a.trim().to_string(),
                    filter: FeedFilter::default(),
                    private: false,
                },
                RawList::Filtered(f) => MailList {
                    address: f.address.trim().to_string(),
                    filter: FeedFilter {
                        types: f.types.clone(),
                        max_level: f.max_level,
                    },
                    private: f.private,
                },
            })
            .collect()
    }

    /// Whether restricted SEVs reach this address in full.
    pub fn is_private(&self, address: &str) -> bool {
        self.lists()
            .iter()
            .any(|l| l.private && l.address.eq_ignore_ascii_case(address))
    }
}

pub(super) fn check(cfg: &EmailConfig, problems: &mut Vec<Problem>) {
    let mut err =
        |location: String, message: String| problems.push(Problem::error(location, message));
    match &cfg.from {
        Some(from) => {
            let addr = from
                .rsplit_once('<')
                .map(|(_, a)| a.trim_end_matches('>').trim())
                .unwrap_or(from.trim());
            if !valid_address(addr) || from.contains(['\r', '\n']) {
                err(
                    "email.from".into(),
                    format!(
                        "\"{from}\" is not an address (sevbot@example.com or \"sevbot <sevbot@example.com>\")"
                    ),
                );
            }
        }
        None if !cfg.lists.is_empty() => err(
            "email.from".into(),
            "lists are set but not the sender: add from = \"sevbot@your-domain\"".into(),
        ),
        None => {}
    }
    for (i, l) in cfg.lists().iter().enumerate() {
        if !valid_address(&l.address) {
            err(
                format!("email.lists[{i}]"),
                format!("\"{}\" is not an e-mail address", l.address),
            );
        }
    }
}
