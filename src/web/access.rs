//! Who may read the web view, decided per request: a person a trusted fronting proxy
//! signed in (its user header, believed only on connections from the proxy's addresses),
//! else the web token — as a Bearer header, as the cookie a visit with `?token=` set, or
//! that `?token=` itself, which sets the cookie and sends the browser on without it.
//! Nothing else gets in: the view is off unless a token or a proxy header is configured.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, Uri};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::adapters::monitoring::{authorized, same};
use crate::config::{Config, WebConfig};
use crate::engine::views::Reader;

pub const COOKIE: &str = "sevbot_web";

/// The web view's credentials; `None` from `new` when none is configured (the view is off).
#[derive(Clone)]
pub struct Access {
    token: Option<Vec<u8>>,
    /// The cookie's value: an HMAC of the token, so the cookie never carries the token
    /// itself and stops working when the token changes.
    cookie: Option<String>,
    user_header: Option<HeaderName>,
    proxies: Vec<IpAddr>,
    secure: bool,
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Read(Reader),
    /// The right `?token=`: set the cookie and go to `location` (the same page without it).
    SetCookie {
        location: String,
    },
    /// No credentials, or wrong ones.
    Refused,
}

impl Access {
    pub fn new(web: &WebConfig, token: Option<String>) -> Option<Access> {
        let token = token
            .filter(|t| !t.trim().is_empty())
            .map(String::into_bytes);
        let user_header = web
            .user_header
            .as_deref()
            .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok());
        if token.is_none() && user_header.is_none() {
            return None;
        }
        let cookie = token.as_deref().map(|t| {
            let mut mac = Hmac::<Sha256>::new_from_slice(t).expect("HMAC takes any key length");
            mac.update(b"sevbot web view session");
            hex::encode(mac.finalize().into_bytes())
        });
        Some(Access {
            token,
            cookie,
            user_header,
            proxies: web.proxy_addresses.clone(),
            secure: web
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
        })
    }

    /// Decides for a request from `peer` (the connection's own address).
    pub fn decide(
        &self,
        cfg: &Config,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Decision {
        if let Some(h) = &self.user_header
            && peer.is_some_and(|p| self.proxies.contains(&p))
            && let Some(who) = headers.get(h).and_then(|v| v.to_str().ok())
            && !who.trim().is_empty()
        {
            return Decision::Read(person(cfg, who.trim()));
        }
        let Some(token) = &self.token else {
            return Decision::Refused;
        };
        if authorized(headers, token) || self.cookie_matches(headers) {
            return Decision::Read(Reader::Anyone);
        }
        let (given, rest) = split_token(uri);
        match given {
            Some(t) if same(t.as_bytes(), token) => Decision::SetCookie {
                location: format!("{}{rest}", uri.path()),
            },
            _ => Decision::Refused,
        }
    }

    fn cookie_matches(&self, headers: &HeaderMap) -> bool {
        let Some(want) = &self.cookie else {
            return false;
        };
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(k, v)| k == COOKIE && same(v.as_bytes(), want.as_bytes()))
    }

    /// The `Set-Cookie` value after a right `?token=`: the browser's only, never sent to
    /// another site, for 30 days.
    pub fn set_cookie(&self) -> String {
        format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000{}",
            self.cookie.as_deref().unwrap_or_default(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// Whether a proxy may sign people in (for the refusal's wording).
    pub fn has_proxy(&self) -> bool {
        self.user_header.is_some()
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }
}

/// The config's person whose e-mail or id the proxy named; someone the config does not
/// know reads as anyone with the token would.
fn person(cfg: &Config, who: &str) -> Reader {
    cfg.people
        .iter()
        .find(|p| {
            p.id.eq_ignore_ascii_case(who)
                || p.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(who))
        })
        .map(|p| Reader::Person(p.id.clone()))
        .unwrap_or(Reader::Anyone)
}

/// The `token` query parameter, and the query without it (`?a=b` or empty).
fn split_token(uri: &Uri) -> (Option<String>, String) {
    let Some(q) = uri.query() else {
        return (None, String::new());
    };
    let mut token = None;
    let mut rest = vec![];
    for (k, v) in form_urlencoded_pairs(q) {
        if k == "token" {
            token = Some(v);
        } else {
            rest.push((k, v));
        }
    }
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!(
            "?{}",
            serde_urlencoded::to_string(&rest).unwrap_or_default()
        )
    };
    (token, rest)
}

fn form_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        crate::config::from_toml(
            r#"
            [[people]]
            id = "ian"
            name = "Ian"
            email = "ian@example.com"
            "#,
        )
    }

    fn web(header: Option<&str>) -> WebConfig {
        WebConfig {
            user_header: header.map(str::to_string),
            ..WebConfig::default()
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const LOCAL: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    const FAR: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9)));

    #[test]
    fn off_without_a_token_or_a_proxy_header() {
        assert!(Access::new(&web(None), None).is_none());
        assert!(Access::new(&web(None), Some("  ".into())).is_none());
        assert!(Access::new(&web(None), Some("t".into())).is_some());
        assert!(Access::new(&web(Some("x-auth-request-email")), None).is_some());
    }

    /// Each way in, and each near miss, cell by cell.
    #[test]
    fn who_gets_in() {
        let cfg = cfg();
        let a = Access::new(&web(Some("x-auth-request-email")), Some("s3cret".into())).unwrap();
        let root: Uri = "/".parse().unwrap();
        let read = Decision::Read(Reader::Anyone);
        let ian = Decision::Read(Reader::Person("ian".into()));
        let cookie = format!("{COOKIE}={}", a.cookie.clone().unwrap());
        let among = format!("a=b; {cookie}");
        type Case<'a> = (
            &'a str,
            Option<IpAddr>,
            Vec<(&'a str, &'a str)>,
            &'a str,
            Decision,
        );
        let cases: Vec<Case> = vec![
            ("nothing", LOCAL, vec![], "/", Decision::Refused),
            (
                "bearer",
                FAR,
                vec![("authorization", "Bearer s3cret")],
                "/",
                read,
            ),
            (
                "wrong bearer",
                FAR,
                vec![("authorization", "Bearer s3cre")],
                "/",
                Decision::Refused,
            ),
            (
                "cookie",
                FAR,
                vec![("cookie", &cookie)],
                "/",
                Decision::Read(Reader::Anyone),
            ),
            (
                "cookie among others",
                FAR,
                vec![("cookie", &among)],
                "/",
                Decision::Read(Reader::Anyone),
            ),
            (
                "the token as a cookie",
                FAR,
                vec![("cookie", "sevbot_web=s3cret")],
                "/",
                Decision::Refused,
            ),
            (
                "proxy user by e-mail",
                LOCAL,
                vec![("x-auth-request-email", "IAN@example.com")],
                "/",
                ian,
            ),
            (
                "proxy user by id",
                LOCAL,
                vec![("x-auth-request-email", "ian")],
                "/",
                Decision::Read(Reader::Person("ian".into())),
            ),
            (
                "proxy user unknown",
                LOCAL,
                vec![("x-auth-request-email", "zed@example.com")],
                "/",
                Decision::Read(Reader::Anyone),
            ),
            (
                "forged header from afar",
                FAR,
                vec![("x-auth-request-email", "ian@example.com")],
                "/",
                Decision::Refused,
            ),
            (
                "query token",
                FAR,
                vec![],
                "/sevs/3?token=s3cret&x=1",
                Decision::SetCookie {
                    location: "/sevs/3?x=1".into(),
                },
            ),
            (
                "wrong query token",
                FAR,
                vec![],
                "/?token=nope",
                Decision::Refused,
            ),
        ];
        for (what, peer, h, uri, want) in cases {
            let uri: Uri = uri.parse().unwrap();
            assert_eq!(a.decide(&cfg, peer, &headers(&h), &uri), want, "{what}");
        }
        // Proxy only: no token means no way in but the proxy.
        let p = Access::new(&web(Some("x-auth-request-email")), None).unwrap();
        assert_eq!(
            p.decide(&cfg, FAR, &headers(&[("authorization", "Bearer ")]), &root),
            Decision::Refused
        );
        assert_eq!(
            p.decide(&cfg, LOCAL, &headers(&[]), &"/?token=".parse().unwrap()),
            Decision::Refused
        );
    }

    #[test]
    fn the_cookie_is_not_the_token_and_is_secure_behind_https() {
        let mut w = web(None);
        let a = Access::new(&w, Some("s3cret".into())).unwrap();
        assert!(!a.set_cookie().contains("s3cret"));
        assert!(a.set_cookie().contains("HttpOnly; SameSite=Strict"));
        assert!(!a.set_cookie().contains("Secure"));
        w.public_url = Some("https://sevbot.example.com".into());
        assert!(
            Access::new(&w, Some("s3cret".into()))
                .unwrap()
                .set_cookie()
                .ends_with("; Secure")
        );
    }
}
