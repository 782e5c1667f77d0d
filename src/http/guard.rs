//! Slow and abusive clients. Every connection counts against a global cap and a cap per
//! source; headers and bodies must arrive within their timeouts; a source whose requests
//! keep failing authentication (401) is answered 429 for the rest of its window without
//! reaching a handler. Platforms that sign their requests correctly never fail, so they
//! never spend the budget an attacker exhausts for their own address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::ServerConfig;

/// Past this many remembered sources, expired ones are forgotten first; past the hard cap,
/// new sources are not tracked (memory stays bounded whatever an attacker does).
const SOURCES_SOFT_CAP: usize = 4096;
const SOURCES_HARD_CAP: usize = 65_536;

#[derive(Debug, Clone)]
pub struct Limits {
    /// From the first byte a request's head is awaited (on a kept-alive connection too)
    /// until its headers are complete.
    pub header_timeout: Duration,
    /// From complete headers until the whole body has arrived.
    pub body_timeout: Duration,
    /// The largest body any route takes (routes cap lower for themselves).
    pub max_body: usize,
    pub max_connections: usize,
    /// 0: no cap per source (behind a proxy every connection comes from the proxy).
    pub max_connections_per_source: usize,
    /// Requests refused for authentication a source may make per window before it is
    /// answered 429 until the window ends.
    pub failures_per_window: u32,
    pub failure_window: Duration,
    /// A header a trusted proxy sets to the client's address (its last entry is used).
    pub client_ip_header: Option<HeaderName>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_config(&ServerConfig::default())
    }
}

impl Limits {
    pub fn from_config(c: &ServerConfig) -> Limits {
        Limits {
            header_timeout: Duration::from_millis(c.header_timeout_ms),
            body_timeout: Duration::from_millis(c.body_timeout_ms),
            max_body: 256 * 1024,
            max_connections: c.max_connections,
            max_connections_per_source: c.max_connections_per_source,
            failures_per_window: c.auth_failures_per_minute,
            failure_window: Duration::from_secs(60),
            client_ip_header: c
                .client_ip_header
                .as_deref()
                .and_then(|h| HeaderName::try_from(h).ok()),
        }
    }
}

/// Where requests come from: an IPv4 address, or an IPv6 /64 (one host's usual share).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    pub fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(_) => Source(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Source(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }
}

/// The peer of the connection a request arrived on (set by the server for each request).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub IpAddr);

/// Why a connection was turned away before a request was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Busy,
    SourceBusy,
}

impl Refusal {
    /// A complete answer written straight to the socket, then the connection is closed.
    pub fn response(self) -> &'static [u8] {
        match self {
            Refusal::Busy => b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 45\r\nconnection: close\r\n\r\nsevbot has too many connections; retry soon.\n",
            Refusal::SourceBusy => b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 50\r\nconnection: close\r\n\r\ntoo many connections from your address; retry soon\n",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Refusal::Busy => "connections",
            Refusal::SourceBusy => "source_connections",
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    connections: usize,
    window_start: Option<Instant>,
    failures: u32,
}

#[derive(Debug, Default)]
struct Sources {
    connections: usize,
    tallies: HashMap<Source, Tally>,
    /// Idle sources are forgotten when the map grows past this; it then doubles from what
    /// remains, so forgetting costs O(1) per new source however many an attacker uses.
    prune_at: usize,
    pruned: Option<Instant>,
}

#[derive(Debug)]
pub struct Guard {
    pub limits: Limits,
    state: Mutex<Sources>,
}

/// A connection's place under the caps, given back when it is dropped.
pub struct Ticket {
    guard: Arc<Guard>,
    source: Source,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut st = self.guard.state.lock().unwrap_or_else(|e| e.into_inner());
        st.connections = st.connections.saturating_sub(1);
        if let Some(t) = st.tallies.get_mut(&self.source) {
            t.connections = t.connections.saturating_sub(1);
        }
    }
}

impl Guard {
    pub fn new(limits: Limits) -> Arc<Guard> {
        Arc::new(Guard {
            limits,
            state: Mutex::new(Sources {
                prune_at: SOURCES_SOFT_CAP,
                ..Sources::default()
            }),
        })
    }

    /// A new connection from `peer`: admitted with a ticket, or refused.
    pub fn admit(self: &Arc<Guard>, peer: IpAddr) -> Result<Ticket, Refusal> {
        let source = Source::of(peer);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let refusal = if st.connections >= self.limits.max_connections {
            Some(Refusal::Busy)
        } else if self.limits.max_connections_per_source > 0
            && st
                .tallies
                .get(&source)
                .is_some_and(|t| t.connections >= self.limits.max_connections_per_source)
        {
            Some(Refusal::SourceBusy)
        } else {
            None
        };
        if let Some(r) = refusal {
            metrics::counter!("sevbot_http_refused_total", "reason" => r.label()).increment(1);
            return Err(r);
        }
        st.connections += 1;
        if let Some(t) = st.tally(source, self.limits.failure_window) {
            t.connections += 1;
        }
        Ok(Ticket {
            guard: self.clone(),
            source,
        })
    }

    pub fn connections(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .connections
    }

    /// Whether `source` has spent its authentication failures for the current window.
    fn exhausted(&self, source: Source, now: Instant) -> Option<Duration> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let t = st.tallies.get(&source)?;
        let start = t.window_start?;
        let left = (start + self.limits.failure_window).checked_duration_since(now)?;
        (t.failures >= self.limits.failures_per_window).then_some(left)
    }

    fn failed(&self, source: Source, now: Instant) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let window = self.limits.failure_window;
        if let Some(t) = st.tally(source, window) {
            match t.window_start {
                Some(start) if now.duration_since(start) < window => t.failures += 1,
                _ => {
                    t.window_start = Some(now);
                    t.failures = 1;
                }
            }
        }
    }

    fn source_of(&self, req: &Request) -> Option<Source> {
        let forwarded = self.limits.client_ip_header.as_ref().and_then(|h| {
            let v = req.headers().get_all(h).iter().next_back()?.to_str().ok()?;
            v.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        });
        forwarded
            .or_else(|| req.extensions().get::<Peer>().map(|p| p.0))
            .map(Source::of)
    }
}

impl Sources {
    /// The source's tally, created if there is room (forgetting idle sources first).
    fn tally(&mut self, source: Source, window: Duration) -> Option<&mut Tally> {
        if !self.tallies.contains_key(&source) && self.tallies.len() >= self.prune_at {
            let now = Instant::now();
            // Below the hard cap the threshold doubles, so pruning is O(1) per source on
            // average; at the cap it runs at most once a second.
            let full = self.tallies.len() >= SOURCES_HARD_CAP;
            if !full
                || self
                    .pruned
                    .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
            {
                self.tallies.retain(|_, t| {
                    t.connections > 0
                        || t.window_start
                            .is_some_and(|s| now.duration_since(s) < window)
                });
                self.pruned = Some(now);
                self.prune_at = (self.tallies.len() * 2).clamp(SOURCES_SOFT_CAP, SOURCES_HARD_CAP);
            }
            if self.tallies.len() >= SOURCES_HARD_CAP {
                return None;
            }
        }
        Some(self.tallies.entry(source).or_default())
    }
}

fn plain(status: StatusCode, text: &str, retry_after: Option<Duration>) -> Response {
    let mut r = (status, format!("{text}\n")).into_response();
    if let Some(d) = retry_after
        && let Ok(v) = HeaderValue::from_str(&d.as_secs().max(1).to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Before any handler: a source out of authentication budget gets 429; the body must
/// arrive whole within the body timeout (408) and within the size cap (413). After: a
/// 401 spends the source's budget.
pub async fn screen(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let source = guard.source_of(&req);
    let now = Instant::now();
    if let Some(s) = source
        && let Some(left) = guard.exhausted(s, now)
    {
        metrics::counter!("sevbot_http_refused_total", "reason" => "auth_failures").increment(1);
        return plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests from your address failed authentication; retry later",
            Some(left),
        );
    }
    let (parts, body) = req.into_parts();
    let limits = &guard.limits;
    let bytes = match tokio::time::timeout(
        limits.body_timeout,
        axum::body::to_bytes(body, limits.max_body),
    )
    .await
    {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is over {} bytes, or broke off", limits.max_body),
                None,
            );
        }
        Err(_) => {
            metrics::counter!("sevbot_http_refused_total", "reason" => "body_timeout").increment(1);
            let mut r = plain(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the body did not arrive within {} ms",
                    limits.body_timeout.as_millis()
                ),
                None,
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if response.status() == StatusCode::UNAUTHORIZED
        && let Some(s) = source
    {
        guard.failed(s, Instant::now());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_connections: 3,
            max_connections_per_source: 2,
            failures_per_window: 2,
            ..Limits::default()
        }
    }

    #[test]
    fn caps_count_connections_and_give_them_back() {
        let g = Guard::new(limits());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t1 = g.admit(a).unwrap();
        let _t2 = g.admit(a).unwrap();
        assert_eq!(g.admit(a).err(), Some(Refusal::SourceBusy));
        let _t3 = g.admit(b).unwrap();
        assert_eq!(g.admit(b).err(), Some(Refusal::Busy));
        drop(t1);
        assert_eq!(g.connections(), 2);
        assert!(g.admit(a).is_ok());
    }

    #[test]
    fn an_ipv6_host_is_its_slash_64() {
        let x = Source::of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let y = Source::of("2001:db8:1:2:bbbb::9".parse().unwrap());
        let z = Source::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_eq!(
            Source::of("::ffff:10.0.0.1".parse().unwrap()),
            Source::of("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn failures_spend_a_budget_that_comes_back_with_the_window() {
        let g = Guard::new(limits());
        let s = Source::of("10.0.0.1".parse().unwrap());
        let other = Source::of("10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        g.failed(s, t0);
        assert!(g.exhausted(s, t0).is_none());
        g.failed(s, t0);
        assert!(g.exhausted(s, t0).is_some());
        assert!(g.exhausted(other, t0).is_none(), "only that source");
        assert!(g.exhausted(s, t0 + Duration::from_secs(61)).is_none());
    }

    #[test]
    fn sources_stay_bounded() {
        let g = Guard::new(limits());
        let t0 = Instant::now();
        for i in 0..(SOURCES_HARD_CAP as u32 + 10) {
            g.failed(Source::of(IpAddr::V4(i.into())), t0);
        }
        assert!(g.state.lock().unwrap().tallies.len() <= SOURCES_HARD_CAP);
    }
}
