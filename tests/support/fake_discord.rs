//! A fake Discord on a local port: the REST endpoints sevbot uses (every JSON body checked
//! against ../shared/specs/discord-openapi.json with a JSON Schema validator; a mismatch
//! is recorded and fails the test), a gateway WebSocket (HELLO, IDENTIFY → READY +
//! GUILD_CREATE, heartbeats, INTERACTION_CREATE, RECONNECT and RESUME with replay), the
//! 500-channel limit, and injected 429s (with `retry_after` and `X-RateLimit-*`) and 5xx.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message as Ws, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

pub const TOKEN: &str = "fake-discord-bot-token";
pub const APP_ID: &str = "1100000000000000000";
pub const BOT_ID: &str = "1100000000000000000";
pub const GUILD: &str = "1000000000000000001";
pub const CATEGORY: &str = "1000000000000000050";
pub const ARCHIVE: &str = "1000000000000000060";
/// Where people type commands.
pub const GENERAL: &str = "1000000000000000100";

fn spec_path() -> String {
    format!(
        "{}/../shared/specs/discord-openapi.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A compiled request-body schema; `None` in the cache: the operation takes no JSON body.
type Validator = Arc<jsonschema::Validator>;

/// Request-body validators from Discord's OpenAPI document, by method and path template.
struct Spec {
    doc: Value,
    templates: Vec<(String, Vec<String>)>,
    cache: Mutex<HashMap<(String, String), Option<Validator>>>,
}

impl Spec {
    fn load() -> Spec {
        let text = std::fs::read_to_string(spec_path()).unwrap_or_else(|e| {
            panic!(
                "missing {}: {e} (the tests need ../shared beside the repo)",
                spec_path()
            )
        });
        let doc: Value = serde_json::from_str(&text).unwrap();
        let templates = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(|t| (t.clone(), t.split('/').map(str::to_string).collect()))
            .collect();
        Spec {
            doc,
            templates,
            cache: Mutex::default(),
        }
    }

    /// The spec's template for a concrete path (literal segments beat parameters).
    fn template(&self, path: &str) -> Option<String> {
        let segs: Vec<&str> = path.split('/').collect();
        self.templates
            .iter()
            .filter(|(_, t)| {
                t.len() == segs.len()
                    && t.iter()
                        .zip(&segs)
                        .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
            })
            .max_by_key(|(_, t)| t.iter().filter(|s| !s.starts_with('{')).count())
            .map(|(name, _)| name.clone())
    }

    /// Errors of `body` against the operation's JSON request body schema.
    fn check(&self, method: &str, template: &str, body: &Value) -> Result<(), String> {
        let key = (method.to_string(), template.to_string());
        let validator = {
            let mut cache = self.cache.lock().unwrap();
            cache
                .entry(key)
                .or_insert_with(|| {
                    let op = &self.doc["paths"][template][method];
                    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                    if schema.is_null() {
                        return None;
                    }
                    // The whole document is the root, so `#/components/...` resolves.
                    let mut root = self.doc.clone();
                    root["x-request-body"] = schema.clone();
                    root["$ref"] = json!("#/x-request-body");
                    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
                    Some(Arc::new(
                        jsonschema::options()
                            .with_draft(jsonschema::Draft::Draft202012)
                            .build(&root)
                            .unwrap_or_else(|e| panic!("schema for {method} {template}: {e}")),
                    ))
                })
                .clone()
        };
        let Some(v) = validator else {
            return match body {
                Value::Null => Ok(()),
                _ => Err(format!(
                    "{method} {template} takes no JSON body but got {body}"
                )),
            };
        };
        let errors: Vec<String> = v
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .take(5)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{method} {template}: {}\nbody: {body}",
                errors.join("; ")
            ))
        }
    }
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 with `retry_after` (seconds) in the body and the rate-limit headers.
    Http429 {
        retry_after: f64,
        global: bool,
    },
    Http500,
    /// Does what was asked, then answers only after this long (the caller may have given
    /// up by then: an outcome it did not see).
    Slow(std::time::Duration),
}

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// Path without `/api/v10`.
    pub path: String,
    /// The spec's template (`/channels/{channel_id}/messages`).
    pub route: String,
    pub body: Value,
    pub status: u16,
    pub at: Instant,
}

#[derive(Debug, Clone, Default)]
pub struct Channel {
    pub name: String,
    pub parent_id: Option<String>,
    pub topic: Option<String>,
    pub overwrites: Vec<Value>,
    pub messages: BTreeMap<String, Value>,
    pub pins: Vec<String>,
}

struct Inner {
    calls: Vec<Call>,
    violations: Vec<String>,
    faults: VecDeque<(String, Fault)>,
    channels: BTreeMap<String, Channel>,
    commands: Vec<(String, Value)>,
    callbacks: Vec<(String, Value)>,
    max_channels: usize,
    next: u64,
    addr: String,
    gateway: Gateway,
}

/// The gateway session as the fake sees it.
#[derive(Default)]
struct Gateway {
    tx: Option<tokio::sync::mpsc::UnboundedSender<Option<String>>>,
    /// Dispatches with their sequence numbers, for replay on RESUME.
    log: Vec<(u64, Value)>,
    seq: u64,
    session: Option<String>,
    pub identifies: usize,
    pub resumes: usize,
    pub heartbeats: usize,
    pub connects: usize,
    /// Connections open now, and the most ever open at once.
    live: usize,
    most: usize,
    /// The heartbeat interval HELLO announces; Discord's own unless a test shortens it.
    heartbeat_ms: Option<u64>,
}

#[derive(Clone)]
pub struct FakeDiscord {
    inner: Arc<Mutex<Inner>>,
    spec: Arc<Spec>,
}

impl FakeDiscord {
    pub async fn start() -> (FakeDiscord, SocketAddr) {
        let mut channels = BTreeMap::new();
        channels.insert(
            GENERAL.to_string(),
            Channel {
                name: "general".into(),
                ..Channel::default()
            },
        );
        let fake = FakeDiscord {
            inner: Arc::new(Mutex::new(Inner {
                calls: vec![],
                violations: vec![],
                faults: VecDeque::new(),
                channels,
                commands: vec![],
                callbacks: vec![],
                max_channels: 500,
                next: 1_500_000_000_000_000_000,
                addr: String::new(),
                gateway: Gateway::default(),
            })),
            spec: Arc::new(Spec::load()),
        };
        let app = Router::new().fallback(route).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        fake.inner.lock().unwrap().addr = addr.to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, addr)
    }

    /// The next call whose `METHOD /path` contains `pattern` ("" for any; a trailing `$`
    /// means "ends with") gets this fault.
    pub fn inject(&self, path_part: &str, fault: Fault) {
        self.inner
            .lock()
            .unwrap()
            .faults
            .push_back((path_part.into(), fault));
    }

    pub fn set_max_channels(&self, n: usize) {
        self.inner.lock().unwrap().max_channels = n;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// Successful calls to a spec route, e.g. `POST /channels/{channel_id}/messages`.
    pub fn calls_to(&self, method: &str, route: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.route == route && c.status < 300)
            .collect()
    }

    /// Bodies that did not match Discord's OpenAPI schema (must stay empty).
    pub fn violations(&self) -> Vec<String> {
        self.inner.lock().unwrap().violations.clone()
    }

    /// Checks an HTTP interaction response against the callback's schema, as if it had
    /// been posted to `/interactions/{id}/{token}/callback`.
    pub fn check_response(&self, body: &Value) {
        let t = "/interactions/{interaction_id}/{interaction_token}/callback";
        if let Err(e) = self.spec.check("post", t, body) {
            self.inner.lock().unwrap().violations.push(e);
        }
    }

    pub fn assert_valid(&self) {
        let v = self.violations();
        assert!(
            v.is_empty(),
            "requests not matching discord-openapi.json:\n{}",
            v.join("\n")
        );
    }

    pub fn channels(&self) -> BTreeMap<String, Channel> {
        self.inner.lock().unwrap().channels.clone()
    }

    pub fn channel_named(&self, prefix: &str) -> Option<(String, Channel)> {
        self.channels()
            .into_iter()
            .find(|(_, c)| c.name.starts_with(prefix))
    }

    pub fn commands(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().commands.clone()
    }

    /// Interaction callbacks received (interaction id, body).
    pub fn callbacks(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().callbacks.clone()
    }

    pub fn gateway_stats(&self) -> (usize, usize, usize, usize) {
        let i = self.inner.lock().unwrap();
        let g = &i.gateway;
        (g.connects, g.identifies, g.resumes, g.heartbeats)
    }

    /// Sends a dispatch to the connected client, or keeps it for the RESUME replay.
    pub fn dispatch(&self, t: &str, d: Value) {
        let mut i = self.inner.lock().unwrap();
        let g = &mut i.gateway;
        g.seq += 1;
        let frame = json!({ "op": 0, "t": t, "s": g.seq, "d": d });
        g.log.push((g.seq, frame.clone()));
        if let Some(tx) = &g.tx {
            let _ = tx.send(Some(frame.to_string()));
        }
    }

    /// Asks the client to reconnect (op 7) and drops the connection, as Discord does
    /// when it moves a session; dispatches sent meanwhile wait for the RESUME.
    pub fn force_reconnect(&self) {
        let mut i = self.inner.lock().unwrap();
        if let Some(tx) = i.gateway.tx.take() {
            let _ = tx.send(Some(json!({ "op": 7, "d": null }).to_string()));
            let _ = tx.send(None);
        }
    }

    /// Announces a heartbeat interval of `ms` to the connections opened from now on.
    pub fn heartbeat_every(&self, ms: u64) {
        self.inner.lock().unwrap().gateway.heartbeat_ms = Some(ms);
    }

    /// Gateway connections open now, and the most that were ever open at once.
    pub fn gateway_live(&self) -> (usize, usize) {
        let g = &self.inner.lock().unwrap().gateway;
        (g.live, g.most)
    }

    pub fn connected(&self) -> bool {
        self.inner.lock().unwrap().gateway.tx.is_some()
    }

    fn next_id(&self) -> String {
        let mut i = self.inner.lock().unwrap();
        i.next += 1;
        i.next.to_string()
    }
}

fn rate_headers(h: &mut HeaderMap, remaining: u32, reset_after: f64) {
    h.insert("x-ratelimit-limit", "5".parse().unwrap());
    h.insert(
        "x-ratelimit-remaining",
        remaining.to_string().parse().unwrap(),
    );
    h.insert(
        "x-ratelimit-reset-after",
        format!("{reset_after:.3}").parse().unwrap(),
    );
    h.insert("x-ratelimit-bucket", "abcd1234".parse().unwrap());
}

fn error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "code": code, "message": message }).to_string(),
    )
        .into_response()
}

fn user(id: &str, name: &str, bot: bool) -> Value {
    json!({ "id": id, "username": name, "global_name": name, "discriminator": "0", "avatar": null,
            "public_flags": 0, "flags": 0, "bot": bot, "banner": null, "accent_color": null,
            "avatar_decoration_data": null, "collectibles": null, "clan": null, "primary_guild": null })
}

fn channel_json(id: &str, c: &Channel) -> Value {
    json!({ "id": id, "type": 0, "guild_id": GUILD, "name": c.name, "parent_id": c.parent_id,
            "topic": c.topic, "position": 0, "permission_overwrites": c.overwrites, "nsfw": false,
            "rate_limit_per_user": 0, "last_message_id": null, "flags": 0 })
}

fn message_json(id: &str, channel: &str, body: &Value) -> Value {
    json!({ "id": id, "channel_id": channel, "type": 0, "content": body["content"].as_str().unwrap_or(""),
            "nonce": body["nonce"],
            "embeds": body["embeds"].as_array().cloned().unwrap_or_default(),
            "components": body["components"].as_array().cloned().unwrap_or_default(),
            "author": user(BOT_ID, "sevbot", true), "attachments": [], "mentions": [], "mention_roles": [],
            "mention_everyone": false, "pinned": false, "tts": false, "flags": 0,
            "timestamp": "2026-03-02T10:00:00.000000+00:00", "edited_timestamp": null })
}

/// Every request: WebSocket upgrades to the gateway, everything else to `rest`.
async fn route(State(fake): State<FakeDiscord>, req: axum::extract::Request) -> Response {
    let (mut parts, body) = req.into_parts();
    if parts.uri.path() == "/gateway" {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => ws.on_upgrade(move |s| gateway(fake, s)),
            Err(e) => e.into_response(),
        };
    }
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    rest(fake, parts.method, parts.uri, parts.headers, body).await
}

/// A `multipart/form-data` body: its `payload_json`, and each file part as (file name,
/// content).
fn multipart(body: &[u8], boundary: &str) -> (Option<String>, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(body).to_string();
    let mut payload = None;
    let mut files = vec![];
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, content)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let content = content.strip_suffix("\r\n").unwrap_or(content).to_string();
        let attr = |k: &str| {
            head.split(&format!("{k}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_string)
        };
        match (attr("name").as_deref(), attr("filename")) {
            (Some("payload_json"), _) => payload = Some(content),
            (Some(_), Some(file)) => files.push((file, content)),
            _ => {}
        }
    }
    (payload, files)
}

async fn rest(
    fake: FakeDiscord,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .strip_prefix("/api/v10")
        .unwrap_or(uri.path())
        .to_string();
    let m = method.as_str().to_ascii_lowercase();
    // A message with files: `payload_json` is the body, `files[n]` are kept beside it.
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (body, files) = match ctype.split_once("boundary=") {
        Some((kind, boundary)) if kind.starts_with("multipart/form-data") => {
            let (payload, files) = multipart(&body, boundary.trim_matches('"'));
            (Bytes::from(payload.unwrap_or_default()), files)
        }
        _ => (body, vec![]),
    };
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                fake.inner
                    .lock()
                    .unwrap()
                    .violations
                    .push(format!("{m} {path}: body is not JSON: {e}"));
                return error(
                    StatusCode::BAD_REQUEST,
                    50109,
                    "The request body contains invalid JSON.",
                );
            }
        }
    };
    let template = fake.spec.template(&path);
    let record = |status: u16| {
        fake.inner.lock().unwrap().calls.push(Call {
            method: m.to_uppercase(),
            path: path.clone(),
            route: template.clone().unwrap_or_default(),
            body: body.clone(),
            status,
            at: Instant::now(),
        });
    };
    let Some(template) = template.clone() else {
        fake.inner
            .lock()
            .unwrap()
            .violations
            .push(format!("{m} {path}: no such endpoint in Discord's API"));
        record(404);
        return error(StatusCode::NOT_FOUND, 0, "404: Not Found");
    };
    if fake.spec.doc["paths"][&template][&m].is_null() {
        fake.inner
            .lock()
            .unwrap()
            .violations
            .push(format!("{m} {path}: method not allowed by Discord's API"));
        record(405);
        return error(StatusCode::METHOD_NOT_ALLOWED, 0, "405: Method Not Allowed");
    }
    if let Err(e) = fake.spec.check(&m, &template, &body) {
        eprintln!("fake Discord: {e}");
        fake.inner.lock().unwrap().violations.push(e);
        record(400);
        return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body");
    }
    let token_route = template.starts_with("/interactions/") || template.starts_with("/webhooks/");
    if !token_route
        && headers.get("authorization").and_then(|v| v.to_str().ok())
            != Some(&format!("Bot {TOKEN}"))
    {
        record(401);
        return error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
    }
    let fault = {
        let mut i = fake.inner.lock().unwrap();
        let key = format!("{} {path}", m.to_uppercase());
        let hit = |p: &str| match p.strip_suffix('$') {
            Some(exact) => key.ends_with(exact),
            None => key.contains(p),
        };
        match i.faults.iter().position(|(p, _)| hit(p)) {
            Some(n) => i.faults.remove(n).map(|(_, f)| f),
            None => None,
        }
    };
    match &fault {
        Some(Fault::Http429 {
            retry_after,
            global,
        }) => {
            record(429);
            let (retry_after, global) = (*retry_after, *global);
            let mut h = HeaderMap::new();
            rate_headers(&mut h, 0, retry_after);
            h.insert(
                "retry-after",
                format!("{}", retry_after.ceil() as u64).parse().unwrap(),
            );
            h.insert("content-type", "application/json".parse().unwrap());
            if global {
                h.insert("x-ratelimit-global", "true".parse().unwrap());
            }
            h.insert(
                "x-ratelimit-scope",
                if global { "global" } else { "user" }.parse().unwrap(),
            );
            let body = json!({ "message": "You are being rate limited.", "retry_after": retry_after, "global": global });
            return (StatusCode::TOO_MANY_REQUESTS, h, body.to_string()).into_response();
        }
        Some(Fault::Http500) => {
            record(500);
            return (StatusCode::INTERNAL_SERVER_ERROR, "upstream connect error").into_response();
        }
        Some(Fault::Slow(_)) | None => {}
    }
    let seg: Vec<&str> = path.split('/').collect();
    let (status, answer) = answer(&fake, &m, &template, &seg, &body, &files);
    record(status.as_u16());
    if let Some(Fault::Slow(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let mut h = HeaderMap::new();
    rate_headers(&mut h, 4, 1.0);
    h.insert("content-type", "application/json".parse().unwrap());
    match answer {
        Some(v) => (status, h, v.to_string()).into_response(),
        None => (StatusCode::NO_CONTENT, h).into_response(),
    }
}

/// The endpoint's effect on the fake guild and its answer.
fn answer(
    fake: &FakeDiscord,
    m: &str,
    template: &str,
    seg: &[&str],
    body: &Value,
    files: &[(String, String)],
) -> (StatusCode, Option<Value>) {
    let ok = StatusCode::OK;
    let addr = fake.inner.lock().unwrap().addr.clone();
    match (m, template) {
        ("get", "/gateway/bot") => (
            ok,
            Some(json!({ "url": format!("ws://{addr}/gateway"), "shards": 1,
            "session_start_limit": { "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1 } })),
        ),
        ("get", "/gateway") => (ok, Some(json!({ "url": format!("ws://{addr}/gateway") }))),
        ("get", "/users/@me") => (ok, Some(user(BOT_ID, "sevbot", true))),
        ("put", "/applications/{application_id}/commands")
        | ("put", "/applications/{application_id}/guilds/{guild_id}/commands") => {
            let scope = if seg.len() > 4 { seg[4] } else { "global" }.to_string();
            let mut i = fake.inner.lock().unwrap();
            i.commands.push((scope, body.clone()));
            let out: Vec<Value> = body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut c| {
                    c["id"] = json!("1200000000000000000");
                    c["application_id"] = json!(APP_ID);
                    c["version"] = json!("1");
                    c
                })
                .collect();
            (ok, Some(json!(out)))
        }
        ("get", "/guilds/{guild_id}/channels") => {
            let i = fake.inner.lock().unwrap();
            let list: Vec<Value> = i
                .channels
                .iter()
                .filter(|(_, c)| !c.name.starts_with("dm-"))
                .map(|(id, c)| channel_json(id, c))
                .collect();
            (ok, Some(json!(list)))
        }
        ("post", "/guilds/{guild_id}/channels") => {
            if seg[2] != GUILD {
                return (
                    StatusCode::NOT_FOUND,
                    Some(json!({ "code": 10004, "message": "Unknown Guild" })),
                );
            }
            let full = {
                let i = fake.inner.lock().unwrap();
                i.channels.len() >= i.max_channels
            };
            if full {
                return (
                    StatusCode::BAD_REQUEST,
                    Some(
                        json!({ "code": 30013, "message": "Maximum number of guild channels reached (500)" }),
                    ),
                );
            }
            let id = fake.next_id();
            let c = Channel {
                name: body["name"].as_str().unwrap_or_default().to_string(),
                parent_id: body["parent_id"].as_str().map(str::to_string),
                topic: body["topic"].as_str().map(str::to_string),
                overwrites: body["permission_overwrites"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                ..Channel::default()
            };
            let out = channel_json(&id, &c);
            fake.inner.lock().unwrap().channels.insert(id, c);
            (StatusCode::CREATED, Some(out))
        }
        ("post", "/users/@me/channels") => {
            // One DM channel per recipient, reused like Discord does.
            let recipient = body["recipient_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let name = format!("dm-{recipient}");
            let existing = fake.channel_named(&name).map(|(id, _)| id);
            let id = existing.unwrap_or_else(|| {
                let id = fake.next_id();
                fake.inner.lock().unwrap().channels.insert(
                    id.clone(),
                    Channel {
                        name: name.clone(),
                        ..Channel::default()
                    },
                );
                id
            });
            (
                ok,
                Some(
                    json!({ "id": id, "type": 1, "last_message_id": null, "flags": 0,
                              "recipients": [user(&recipient, "someone", false)] }),
                ),
            )
        }
        (_, t) if t.starts_with("/channels/{channel_id}") => {
            channel_op(fake, m, t, seg, body, files)
        }
        ("post", "/interactions/{interaction_id}/{interaction_token}/callback") => {
            fake.inner
                .lock()
                .unwrap()
                .callbacks
                .push((seg[2].to_string(), body.clone()));
            (StatusCode::NO_CONTENT, None)
        }
        ("patch", "/webhooks/{webhook_id}/{webhook_token}/messages/@original") => {
            let id = fake.next_id();
            fake.inner
                .lock()
                .unwrap()
                .callbacks
                .push((format!("followup:{}", seg[3]), body.clone()));
            (ok, Some(message_json(&id, GENERAL, body)))
        }
        _ => {
            fake.inner
                .lock()
                .unwrap()
                .violations
                .push(format!("{m} {template}: not expected from sevbot"));
            (
                StatusCode::NOT_FOUND,
                Some(json!({ "code": 0, "message": "404: Not Found" })),
            )
        }
    }
}

fn channel_op(
    fake: &FakeDiscord,
    m: &str,
    t: &str,
    seg: &[&str],
    body: &Value,
    files: &[(String, String)],
) -> (StatusCode, Option<Value>) {
    let ch = seg[2].to_string();
    let mut i = fake.inner.lock().unwrap();
    let next = {
        i.next += 1;
        i.next.to_string()
    };
    let Some(c) = i.channels.get_mut(&ch) else {
        return (
            StatusCode::NOT_FOUND,
            Some(json!({ "code": 10003, "message": "Unknown Channel" })),
        );
    };
    match (m, t) {
        ("patch", "/channels/{channel_id}") => {
            if let Some(topic) = body.get("topic") {
                c.topic = topic.as_str().map(str::to_string);
            }
            if let Some(p) = body.get("parent_id") {
                c.parent_id = p.as_str().map(str::to_string);
            }
            let out = channel_json(&ch, c);
            (StatusCode::OK, Some(out))
        }
        ("delete", "/channels/{channel_id}") => {
            let c = i.channels.remove(&ch).unwrap();
            (StatusCode::OK, Some(channel_json(&ch, &c)))
        }
        ("put", "/channels/{channel_id}/permissions/{overwrite_id}") => {
            let mut o = body.clone();
            o["id"] = json!(seg[4]);
            c.overwrites.push(o);
            (StatusCode::NO_CONTENT, None)
        }
        ("post", "/channels/{channel_id}/messages") => {
            // enforce_nonce: the same author's same nonce within minutes returns the first
            // message instead of posting again.
            if body["enforce_nonce"] == json!(true)
                && !body["nonce"].is_null()
                && let Some(first) = c.messages.values().find(|m| m["nonce"] == body["nonce"])
            {
                return (StatusCode::OK, Some(first.clone()));
            }
            let mut msg = message_json(&next, &ch, body);
            if !files.is_empty() {
                msg["attachments"] = json!(
                    files
                        .iter()
                        .map(|(name, content)| json!({ "filename": name, "content": content }))
                        .collect::<Vec<_>>()
                );
            }
            c.messages.insert(next, msg.clone());
            (StatusCode::OK, Some(msg))
        }
        ("patch", "/channels/{channel_id}/messages/{message_id}") => {
            let Some(existing) = c.messages.get_mut(seg[4]) else {
                return (
                    StatusCode::NOT_FOUND,
                    Some(json!({ "code": 10008, "message": "Unknown Message" })),
                );
            };
            for k in ["content", "embeds", "components"] {
                if let Some(v) = body.get(k) {
                    existing[k] = v.clone();
                }
            }
            existing["edited_timestamp"] = json!("2026-03-02T10:01:00.000000+00:00");
            (StatusCode::OK, Some(existing.clone()))
        }
        ("put", "/channels/{channel_id}/pins/{message_id}")
        | ("put", "/channels/{channel_id}/messages/pins/{message_id}") => {
            let mid = seg.last().unwrap().to_string();
            if !c.messages.contains_key(&mid) {
                return (
                    StatusCode::NOT_FOUND,
                    Some(json!({ "code": 10008, "message": "Unknown Message" })),
                );
            }
            if !c.pins.contains(&mid) {
                c.pins.push(mid);
            }
            (StatusCode::NO_CONTENT, None)
        }
        _ => {
            i.violations
                .push(format!("{m} {t}: not expected from sevbot"));
            (
                StatusCode::NOT_FOUND,
                Some(json!({ "code": 0, "message": "404: Not Found" })),
            )
        }
    }
}

/// The gateway: one session, resumable after a forced reconnect.
async fn gateway(fake: FakeDiscord, socket: WebSocket) {
    {
        let g = &mut fake.inner.lock().unwrap().gateway;
        g.live += 1;
        g.most = g.most.max(g.live);
    }
    gateway_session(fake.clone(), socket).await;
    fake.inner.lock().unwrap().gateway.live -= 1;
}

/// One gateway connection, until either side closes it.
async fn gateway_session(fake: FakeDiscord, mut socket: WebSocket) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<String>>();
    fake.inner.lock().unwrap().gateway.connects += 1;
    // Discord's own interval by default. A short one makes serenity restart the shard (a
    // fresh IDENTIFY, so dispatches in flight are lost) whenever a busy machine delays an
    // ACK past it, so only the test of heartbeats themselves asks for one.
    let interval = fake
        .inner
        .lock()
        .unwrap()
        .gateway
        .heartbeat_ms
        .unwrap_or(41_250);
    let hello = json!({ "op": 10, "d": { "heartbeat_interval": interval } });
    if socket
        .send(Ws::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Some(frame)) => {
                    if socket.send(Ws::Text(frame.into())).await.is_err() { break; }
                }
                // A forced reconnect: close as Discord does.
                _ => {
                    let _ = socket.send(Ws::Close(Some(axum::extract::ws::CloseFrame { code: 4000, reason: "reconnect".into() }))).await;
                    break;
                }
            },
            incoming = socket.recv() => {
                let Some(Ok(msg)) = incoming else { break };
                let text = match msg {
                    Ws::Text(t) => t.to_string(),
                    Ws::Close(_) => break,
                    _ => continue,
                };
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match v["op"].as_u64() {
                    Some(1) => {
                        fake.inner.lock().unwrap().gateway.heartbeats += 1;
                        let _ = socket.send(Ws::Text(json!({ "op": 11 }).to_string().into())).await;
                    }
                    Some(2) => {
                        assert_eq!(v["d"]["token"].as_str().map(|t| t.trim_start_matches("Bot ")), Some(TOKEN), "IDENTIFY with the bot token");
                        let addr = {
                            let mut i = fake.inner.lock().unwrap();
                            i.gateway.identifies += 1;
                            i.gateway.session = Some("fake-session-1".into());
                            // A new session counts its dispatches from 1 and replays
                            // nothing from an earlier one.
                            i.gateway.seq = 0;
                            i.gateway.log.clear();
                            i.gateway.tx = Some(tx.clone());
                            i.addr.clone()
                        };
                        fake.dispatch("READY", json!({
                            "v": 10, "user": { "id": BOT_ID, "username": "sevbot", "discriminator": "0", "global_name": null,
                                "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0, "email": null },
                            "guilds": [ { "id": GUILD, "unavailable": true } ],
                            "session_id": "fake-session-1", "session_type": "normal",
                            "resume_gateway_url": format!("ws://{addr}/gateway"),
                            "shard": [0, 1], "application": { "id": APP_ID, "flags": 0 },
                            "private_channels": [], "presences": [], "relationships": [], "guild_join_requests": [],
                            "user_settings": {}, "auth_session_id_hash": "x", "geo_ordered_rtc_regions": ["us-east"]
                        }));
                        fake.dispatch("GUILD_CREATE", guild_create());
                    }
                    Some(6) => {
                        let session = v["d"]["session_id"].as_str().unwrap_or_default().to_string();
                        let seq = v["d"]["seq"].as_u64().unwrap_or(0);
                        let replay: Vec<Value> = {
                            let mut i = fake.inner.lock().unwrap();
                            assert_eq!(i.gateway.session.as_deref(), Some(session.as_str()), "RESUME with the READY session");
                            i.gateway.resumes += 1;
                            i.gateway.tx = Some(tx.clone());
                            i.gateway.log.iter().filter(|(s, _)| *s > seq).map(|(_, f)| f.clone()).collect()
                        };
                        for f in replay {
                            let _ = socket.send(Ws::Text(f.to_string().into())).await;
                        }
                        fake.dispatch("RESUMED", json!(null));
                    }
                    _ => {}
                }
            }
        }
    }
    let mut i = fake.inner.lock().unwrap();
    if i.gateway.tx.as_ref().is_some_and(|t| t.same_channel(&tx)) {
        i.gateway.tx = None;
    }
}

fn guild_create() -> Value {
    // A GUILD_CREATE as Discord sends it (a plain string: too large for `json!`).
    let text = r#"{
        "id": "GUILD", "name": "Example Inc", "icon": null, "icon_hash": null, "splash": null, "discovery_splash": null,
        "owner_id": "1000000000000000009", "region": null, "afk_channel_id": null, "afk_timeout": 300,
        "widget_enabled": false, "widget_channel_id": null, "verification_level": 1, "default_message_notifications": 1,
        "explicit_content_filter": 2, "roles": [ { "id": "GUILD", "name": "@everyone", "color": 0, "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
            "hoist": false, "icon": null, "unicode_emoji": null, "position": 0, "permissions": "2248473465835073", "managed": false, "mentionable": false, "flags": 0 } ],
        "emojis": [], "features": [], "mfa_level": 0, "application_id": null, "system_channel_id": "GENERAL",
        "system_channel_flags": 0, "rules_channel_id": null, "max_presences": null, "max_members": 500000,
        "vanity_url_code": null, "description": null, "banner": null, "premium_tier": 0, "premium_subscription_count": 0,
        "preferred_locale": "en-US", "public_updates_channel_id": null, "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50, "nsfw_level": 0, "stickers": [], "premium_progress_bar_enabled": false,
        "safety_alerts_channel_id": null, "incidents_data": null, "joined_at": "2026-01-01T00:00:00.000000+00:00",
        "large": false, "unavailable": false, "member_count": 7, "voice_states": [], "members": [],
        "channels": [ { "id": "GENERAL", "type": 0, "guild_id": "GUILD", "name": "general", "position": 0, "permission_overwrites": [],
            "nsfw": false, "topic": null, "last_message_id": null, "parent_id": null, "rate_limit_per_user": 0, "flags": 0 } ],
        "threads": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        "embedded_activities": [], "lazy": true, "hub_type": null, "latest_onboarding_question_id": null,
        "home_header": null, "version": 1
    }"#;
    serde_json::from_str(
        &text
            .replace("\"GUILD\"", &format!("\"{GUILD}\""))
            .replace("\"GENERAL\"", &format!("\"{GENERAL}\"")),
    )
    .unwrap()
}

/// An interaction with every field Discord sends (guild context).
pub fn interaction(id: &str, kind: u64, user_id: &str, channel: &str, data: Value) -> Value {
    json!({
        "id": id, "application_id": APP_ID, "type": kind, "version": 1,
        "token": format!("aW50ZXJhY3Rpb246{id}"), "locale": "en-US", "guild_locale": "en-US",
        "guild_id": GUILD, "channel_id": channel,
        "channel": { "id": channel, "type": 0, "guild_id": GUILD, "name": "general", "flags": 0, "position": 0,
                     "parent_id": null, "permissions": "2248473465835073", "topic": null, "nsfw": false,
                     "last_message_id": null, "rate_limit_per_user": 0 },
        "guild": { "id": GUILD, "locale": "en-US", "features": [] },
        "member": { "user": { "id": user_id, "username": "dana", "global_name": "Dana", "discriminator": "0", "avatar": null,
                              "public_flags": 0, "primary_guild": null, "clan": null, "collectibles": null, "avatar_decoration_data": null },
                    "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null, "deaf": false, "mute": false,
                    "flags": 0, "permissions": "2248473465835073", "nick": null, "avatar": null, "banner": null, "pending": false,
                    "communication_disabled_until": null, "unusual_dm_activity_until": null },
        "app_permissions": "2248473465835073", "entitlements": [], "entitlement_sku_ids": [],
        "authorizing_integration_owners": { "0": GUILD }, "context": 0,
        "attachment_size_limit": 10485760,
        "data": data,
    })
}

/// `/sev <sub>` with options, inside its subcommand group when the command set puts it in
/// one (`/sev review postmortem`), as Discord sends it.
pub fn command(id: &str, user_id: &str, channel: &str, sub: &str, options: Value) -> Value {
    let mut top = json!({ "name": sub, "type": 1, "options": options });
    if let Some((group, _)) = sevbot::domain::command_set::SET
        .iter()
        .find(|s| s.name == sub)
        .and_then(|s| s.group)
    {
        top = json!({ "name": group, "type": 2, "options": [top] });
    }
    interaction(
        id,
        2,
        user_id,
        channel,
        json!({
        "id": "1200000000000000000", "name": "sev", "type": 1, "guild_id": GUILD,
        "options": [ top ] }),
    )
}

/// A button press on a message sevbot posted.
pub fn button(id: &str, user_id: &str, channel: &str, message: Value, custom_id: &str) -> Value {
    let mut v = interaction(
        id,
        3,
        user_id,
        channel,
        json!({ "custom_id": custom_id, "component_type": 2 }),
    );
    v["message"] = message;
    v
}

/// A modal submission: text inputs by custom_id.
pub fn modal_submit(
    id: &str,
    user_id: &str,
    channel: &str,
    custom_id: &str,
    values: &[(&str, &str)],
) -> Value {
    let rows: Vec<Value> = values
        .iter()
        .map(|(k, v)| json!({ "type": 1, "id": 1, "components": [ { "type": 4, "id": 2, "custom_id": k, "value": v } ] }))
        .collect();
    interaction(
        id,
        5,
        user_id,
        channel,
        json!({ "custom_id": custom_id, "components": rows }),
    )
}

/// Signs like Discord: Ed25519 over timestamp + body.
pub fn sign(key: &SigningKey, ts: i64, body: &str) -> String {
    hex::encode(key.sign(format!("{ts}{body}").as_bytes()).to_bytes())
}

pub async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..500 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}
