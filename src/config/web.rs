//! `[web]`: the read-only web view. It is off unless the web token is set (the variable
//! `token_env` names, `SEVBOT_WEB_TOKEN` by default) or `user_header` names the header a
//! fronting proxy (oauth2-proxy) signs people in with.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Problem;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// The environment variable holding the web token (a shared credential: it shows
    /// every SEV but the details of restricted ones).
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// The header a fronting proxy puts the signed-in person's e-mail or config id in
    /// (`X-Auth-Request-Email` for oauth2-proxy with `--set-xauthrequest`); trusted only on
    /// connections from `proxy_addresses`.
    #[serde(default)]
    pub user_header: Option<String>,
    /// The addresses the proxy connects from: loopback unless set (a sidecar).
    #[serde(default = "default_proxies")]
    pub proxy_addresses: Vec<IpAddr>,
    /// Where people reach the web view (`https://sevbot.example.com`): cookies are marked
    /// Secure when it is https.
    #[serde(default)]
    pub public_url: Option<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            token_env: default_token_env(),
            user_header: None,
            proxy_addresses: default_proxies(),
            public_url: None,
        }
    }
}

impl WebConfig {
    /// The SEV's page in the web view, when a public address is configured.
    pub fn sev_url(&self, id: crate::domain::SevId) -> Option<String> {
        self.page_url(&format!("sevs/{}", id.0))
    }

    /// A page of the web view (`path` without the leading slash), when a public address is
    /// configured.
    pub fn page_url(&self, path: &str) -> Option<String> {
        let base = self.public_url.as_deref()?.trim_end_matches('/');
        Some(format!("{base}/{path}"))
    }
}

fn default_token_env() -> String {
    "SEVBOT_WEB_TOKEN".into()
}

fn default_proxies() -> Vec<IpAddr> {
    vec![
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
    ]
}

pub(super) fn check(web: &WebConfig, problems: &mut Vec<Problem>) {
    if let Some(h) = &web.user_header
        && axum::http::HeaderName::from_bytes(h.as_bytes()).is_err()
    {
        problems.push(Problem::error(
            "web.user_header".into(),
            format!("\"{h}\" is not an HTTP header name"),
        ));
    }
    if let Some(u) = &web.public_url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        problems.push(Problem::error(
            "web.public_url".into(),
            format!("\"{u}\" is not an http(s) URL; write it as https://sevbot.example.com"),
        ));
    }
    if web.user_header.is_some() && web.proxy_addresses.is_empty() {
        problems.push(Problem::error(
            "web.proxy_addresses".into(),
            "empty: nobody could sign in through web.user_header; list the proxy's addresses"
                .into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SevId;

    #[test]
    fn a_sev_url_needs_the_public_address() {
        let mut w = WebConfig::default();
        assert_eq!(w.sev_url(SevId(12)), None);
        w.public_url = Some("https://sevbot.example.com/".into());
        assert_eq!(
            w.sev_url(SevId(12)).as_deref(),
            Some("https://sevbot.example.com/sevs/12")
        );
    }
}
