//! Discord's REST API: serenity's routes and request builder (paths, auth, user agent,
//! proxy rewriting), executed here rather than through serenity's `Http`, because with a
//! proxy serenity's own rate limiter must be off and its errors then drop `retry_after`
//! and the `X-RateLimit-*` headers. Reading them here lets the outbox own the limits:
//! an exhausted bucket is reported as "retry after N" before anything is sent. On
//! PostgreSQL a 429 is shared with the other replicas, so they hold back from that
//! bucket too rather than each learning it from a 429 of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde::Serialize;
use serde_json::Value;
use serenity::http::{LightMethod, RatelimitingBucket, Request, Route};

use crate::clock::Clock;
use crate::effects::DeliveryError;
use crate::store::{Store, pacing};

pub struct Rest {
    client: reqwest::Client,
    /// `Bot <token>`; never logged.
    auth: String,
    /// Replaces `https://discord.com` in serenity's paths (local servers, proxies).
    origin: Option<String>,
    limits: Mutex<Limits>,
    /// On PostgreSQL: the limits learned here, shared with the other replicas (a 429 one
    /// replica hit holds the others back from that bucket too).
    shared: Option<(Store, Arc<dyn Clock>)>,
}

/// The shared key of Discord's global limit.
const GLOBAL: &str = "discord:global";

#[derive(Default)]
struct Limits {
    buckets: HashMap<RatelimitingBucket, Instant>,
    global: Option<Instant>,
}

/// What Discord answered, sorted for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: u16,
    pub code: Option<i64>,
    pub message: String,
}

impl Rest {
    /// `api_url` is Discord's (`https://discord.com/api/v10`) or another server's base,
    /// with or without the `/api/v10` suffix.
    pub fn new(token: &str, api_url: &str, timeout: Duration) -> anyhow::Result<Rest> {
        let base = api_url.trim_end_matches('/');
        let origin = base
            .strip_suffix("/api/v10")
            .or_else(|| base.strip_suffix("/api"))
            .unwrap_or(base);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Rest {
            client,
            auth: format!("Bot {}", token.trim_start_matches("Bot ")),
            origin: (origin != "https://discord.com").then(|| origin.to_string()),
            limits: Mutex::new(Limits::default()),
            shared: None,
        })
    }

    /// Shares the rate limits this client learns with every replica on `store`.
    pub fn share_limits(&mut self, store: Store, clock: Arc<dyn Clock>) {
        self.shared = Some((store, clock));
    }

    /// How long another replica's 429 holds `bucket` (or everything) back, if at all.
    async fn shared_wait(&self, bucket: RatelimitingBucket) -> Option<Duration> {
        let (store, clock) = self.shared.as_ref()?;
        let now = clock.now_ms();
        match pacing::limited_until(store, &bucket_key(bucket), GLOBAL, now).await {
            Ok(until) => until.map(|t| Duration::from_millis((t - now).max(1) as u64)),
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "shared Discord rate limits unavailable"
                );
                None
            }
        }
    }

    /// Tells the other replicas about a limit learned here.
    async fn share(&self, learned: Option<(bool, Duration)>, bucket: RatelimitingBucket) {
        let (Some((store, clock)), Some((global, after))) = (&self.shared, learned) else {
            return;
        };
        let key = if global {
            GLOBAL.to_string()
        } else {
            bucket_key(bucket)
        };
        let until = clock.now_ms() + after.as_millis() as i64;
        if let Err(e) = pacing::limit(store, &key, until).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "could not share a Discord rate limit"
            );
        }
    }

    /// The origin serenity's gateway client is pointed at (`None`: Discord's own).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// Calls `route` and returns the JSON answer (`Null` for `204 No Content`).
    pub async fn call(
        &self,
        what: &str,
        method: LightMethod,
        route: Route<'_>,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Value, DeliveryError> {
        let body = match body {
            Some(b) => Some(
                serde_json::to_vec(b)
                    .map_err(|e| DeliveryError::Permanent(format!("{what}: body: {e}")))?,
            ),
            None => None,
        };
        let bucket = route.ratelimiting_bucket();
        self.send(what, bucket, Request::new(route, method).body(body))
            .await
    }

    /// Posts a message with files (`multipart/form-data`: the message as `payload_json`,
    /// each file as `files[n]`).
    pub async fn call_with_files(
        &self,
        what: &str,
        route: Route<'_>,
        message: &(impl Serialize + ?Sized),
        files: Vec<serenity::all::CreateAttachment>,
    ) -> Result<Value, DeliveryError> {
        let payload = serde_json::to_string(message)
            .map_err(|e| DeliveryError::Permanent(format!("{what}: body: {e}")))?;
        let multipart = serenity::http::Multipart {
            upload: serenity::http::MultipartUpload::Attachments(files),
            fields: vec![],
            payload_json: Some(payload),
        };
        let bucket = route.ratelimiting_bucket();
        let req = Request::new(route, LightMethod::Post).multipart(Some(multipart));
        self.send(what, bucket, req).await
    }

    /// Sends a request unless its bucket is exhausted, and sorts the answer.
    async fn send(
        &self,
        what: &str,
        bucket: RatelimitingBucket,
        req: Request<'_>,
    ) -> Result<Value, DeliveryError> {
        let wait = match self.wait_for(bucket) {
            Some(w) => Some(w),
            None => self.shared_wait(bucket).await,
        };
        if let Some(wait) = wait {
            return Err(DeliveryError::Retry {
                reason: format!("{what}: Discord rate limit bucket exhausted"),
                after: Some(wait),
            });
        }
        let req = req
            .build(&self.client, &self.auth, self.origin.as_deref())
            .map_err(|e| DeliveryError::Permanent(format!("{what}: request: {e}")))?;
        let resp = match req.send().await {
            Ok(r) => r,
            // Not connected: nothing reached Discord.
            Err(e) if e.is_connect() => {
                return Err(DeliveryError::Retry {
                    reason: format!("{what}: {}", without_url(e)),
                    after: None,
                });
            }
            // A timeout or a broken connection: the request may have been carried out.
            Err(e) => {
                return Err(DeliveryError::Uncertain(format!(
                    "{what}: {}",
                    without_url(e)
                )));
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_default();
        let learned = self.learn(bucket, status, &headers, &bytes);
        self.share(learned, bucket).await;
        if (200..300).contains(&status) {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes)
                .map_err(|e| DeliveryError::Unreadable(format!("{what}: {e}")));
        }
        Err(classify(what, status, &headers, &bytes))
    }

    /// How long to wait before `bucket` (or everything) may be used again.
    fn wait_for(&self, bucket: RatelimitingBucket) -> Option<Duration> {
        let mut l = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        l.buckets.retain(|_, until| *until > now);
        if l.global.is_some_and(|g| g <= now) {
            l.global = None;
        }
        let until = [l.global, l.buckets.get(&bucket).copied()]
            .into_iter()
            .flatten()
            .max()?;
        Some(until - now)
    }

    /// Remembers what the headers say about the next request in this bucket; returns a
    /// 429's wait (and whether it is global), which the other replicas must keep too.
    fn learn(
        &self,
        bucket: RatelimitingBucket,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<(bool, Duration)> {
        let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
        let now = Instant::now();
        let mut l = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        if status == 429 {
            let after = retry_after(headers, body).unwrap_or(Duration::from_secs(1));
            let global = h("x-ratelimit-global").is_some()
                || serde_json::from_slice::<Value>(body)
                    .is_ok_and(|v| v["global"].as_bool() == Some(true));
            if global {
                l.global = Some(now + after);
            } else {
                l.buckets.insert(bucket, now + after);
            }
            return Some((global, after));
        }
        if h("x-ratelimit-remaining") == Some("0")
            && let Some(reset) = h("x-ratelimit-reset-after").and_then(secs)
        {
            l.buckets.insert(bucket, now + reset);
        }
        None
    }
}

/// A bucket's key in the shared table.
fn bucket_key(bucket: RatelimitingBucket) -> String {
    format!("discord:{bucket:?}")
}

fn secs(s: &str) -> Option<Duration> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| Duration::from_secs_f64(v.min(3600.0)))
}

/// A 429's wait: the body's `retry_after` (seconds, fractional), else `Retry-After`.
fn retry_after(headers: &HeaderMap, body: &[u8]) -> Option<Duration> {
    let from_body = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["retry_after"].as_f64())
        .and_then(|v| secs(&v.to_string()));
    from_body.or_else(|| {
        headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(secs)
    })
}

/// Errors from reqwest name the URL; with a token in a webhook path that would leak it.
fn without_url(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect to Discord".into()
    } else {
        e.without_url().to_string()
    }
}

/// Discord's JSON error codes sevbot explains.
pub const UNKNOWN_CHANNEL: i64 = 10003;
pub const UNKNOWN_MESSAGE: i64 = 10008;
pub const MISSING_ACCESS: i64 = 50001;
pub const MISSING_PERMISSIONS: i64 = 50013;
pub const MAX_GUILD_CHANNELS: i64 = 30013;
pub const MAX_PINS: i64 = 30003;

/// Sorts Discord's answers into retry-later and needs-a-human.
pub fn classify(what: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> DeliveryError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = v["code"].as_i64();
    let message = v["message"].as_str().unwrap_or("").to_string();
    if status == 429 || status >= 500 || status == 408 {
        return DeliveryError::Retry {
            reason: format!("{what}: HTTP {status}"),
            after: if status == 429 {
                retry_after(headers, body)
            } else {
                None
            },
        };
    }
    let hint = match (status, code) {
        (401, _) => " (check DISCORD_BOT_TOKEN)".to_string(),
        (_, Some(MAX_GUILD_CHANNELS)) => " (the Discord server holds its maximum of 500 channels: delete old channels or lower discord.archive_retention_days so closed SEV channels are removed sooner)".into(),
        (_, Some(MISSING_PERMISSIONS)) => " (give the bot's role Manage Channels, Send Messages, Embed Links and Pin Messages, also in the incident and archive categories)".into(),
        (_, Some(MISSING_ACCESS)) => " (the bot cannot see that channel or category: check discord.guild_id, the categories and the bot's role)".into(),
        (_, Some(UNKNOWN_CHANNEL)) => " (the channel was deleted)".into(),
        (_, Some(MAX_PINS)) => " (the channel holds 50 pins already)".into(),
        _ => String::new(),
    };
    let code = code.map(|c| format!(" {c}")).unwrap_or_default();
    DeliveryError::Permanent(format!("{what}: HTTP {status}{code} {message}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn answers_are_sorted_into_retry_and_fix() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        let body = br#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#;
        assert_eq!(
            classify("post", 429, &h, body),
            DeliveryError::Retry {
                reason: "post: HTTP 429".into(),
                after: Some(Duration::from_millis(1500))
            },
            "the body's fractional retry_after wins over the header"
        );
        assert_eq!(
            classify("post", 429, &h, b""),
            DeliveryError::Retry {
                reason: "post: HTTP 429".into(),
                after: Some(Duration::from_secs(3))
            }
        );
        assert!(matches!(
            classify("post", 502, &h, b"<html>"),
            DeliveryError::Retry { after: None, .. }
        ));
        let full = br#"{"code":30013,"message":"Maximum number of guild channels reached (500)"}"#;
        match classify("create channel", 400, &HeaderMap::new(), full) {
            DeliveryError::Permanent(m) => {
                assert!(m.contains("30013") && m.contains("500 channels"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        match classify(
            "x",
            403,
            &HeaderMap::new(),
            br#"{"code":50013,"message":"Missing Permissions"}"#,
        ) {
            DeliveryError::Permanent(m) => assert!(m.contains("Manage Channels"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_exhausted_bucket_is_waited_out_without_a_request() {
        let rest = Rest::new("t", "http://127.0.0.1:9/api/v10", Duration::from_secs(1)).unwrap();
        let route = Route::ChannelMessages {
            channel_id: serenity::all::ChannelId::new(5),
        };
        let other = Route::ChannelMessages {
            channel_id: serenity::all::ChannelId::new(6),
        };
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset-after", HeaderValue::from_static("2.5"));
        rest.learn(route.ratelimiting_bucket(), 200, &h, b"{}");
        let wait = rest.wait_for(route.ratelimiting_bucket()).unwrap();
        assert!(wait > Duration::from_secs(2) && wait <= Duration::from_millis(2500));
        assert_eq!(
            rest.wait_for(other.ratelimiting_bucket()),
            None,
            "per channel"
        );
        let body = br#"{"message":"global","retry_after":4,"global":true}"#;
        rest.learn(other.ratelimiting_bucket(), 429, &HeaderMap::new(), body);
        assert!(rest.wait_for(other.ratelimiting_bucket()).unwrap() > Duration::from_secs(3));
        assert_eq!(rest.origin(), Some("http://127.0.0.1:9"));
    }
}
