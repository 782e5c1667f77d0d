//! A fake Slack Web API on a local port: the methods sevbot calls, with JSON or form bodies
//! and `Authorization: Bearer`, answers shaped like Slack's own (from the recorded samples in
//! ../shared/fixtures/slack/web-api/), documented error codes, and injected 429s and 5xx.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const TOKEN: &str = "xoxb-test-token";
pub const APP_TOKEN: &str = "xapp-1-test-token";

fn shared(rel: &str) -> String {
    let path = format!(
        "{}/../shared/fixtures/slack/{rel}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("missing fixture {path}: {e} (the tests need ../shared beside the repo)")
    })
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// `{"ok": false, "error": code}`; the code must be one Slack documents for the method.
    Error(&'static str),
    Http429 {
        retry_after_secs: u64,
    },
    Http500,
    /// Answers only after 30 s, as a stuck Slack would.
    Hang,
    /// Does what was asked, then answers only after this long (the caller may have
    /// given up or died by then: the outcome it did not see).
    Slow(std::time::Duration),
    /// Answers 200 with a body that is not JSON (the call did nothing).
    Garbage,
}

/// The bot's own user id: the one auth.test answers with (Slack's sample).
pub const BOT_USER: &str = "U00000000";

#[derive(Debug, Clone)]
pub struct SlackCall {
    pub method: String,
    pub body: Value,
    /// When the call arrived.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct Inner {
    calls: Vec<SlackCall>,
    /// (method or "*", a channel prefix the call's `channel` must start with, fault).
    faults: VecDeque<(String, Option<String>, Fault)>,
    channels: HashMap<String, String>,
    /// Channel id → (name, creator, created in Unix seconds).
    channel_info: HashMap<String, (String, String, i64)>,
    /// Messages posted, per channel id (DMs under "D" + the user id), as Slack keeps them.
    messages: HashMap<String, Vec<Value>>,
    /// Archived channel ids: they take no messages, topics or pins until unarchived.
    archived: HashSet<String>,
    /// Files by id: (name, the length promised, the bytes uploaded once they are).
    files: HashMap<String, (String, usize, Option<Vec<u8>>)>,
    users: HashMap<String, String>,
    /// Channels the bot is not in, and whether each is private (where it cannot see them).
    outside: HashMap<String, bool>,
    /// The token's scopes (sent as `X-OAuth-Scopes`): the manifest's, plus any granted.
    scopes: Vec<String>,
    next: u64,
    addr: String,
    /// Frames to push to the connected Socket Mode client, and the acks it sent back.
    socket: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    acks: Vec<Value>,
    socket_connects: usize,
    /// Socket Mode connections open now, and the most ever open at once.
    socket_live: usize,
    socket_most: usize,
}

#[derive(Clone, Default)]
pub struct FakeSlack {
    inner: Arc<Mutex<Inner>>,
    documented: Arc<HashMap<String, HashSet<String>>>,
}

impl FakeSlack {
    pub async fn start() -> (FakeSlack, SocketAddr) {
        let codes: Value = serde_json::from_str(&shared("web-api-error-codes.json")).unwrap();
        let documented = codes["errors"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(m, list)| {
                (
                    m.clone(),
                    list.as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap().to_string())
                        .collect(),
                )
            })
            .collect();
        let fake = FakeSlack {
            inner: Arc::default(),
            documented: Arc::new(documented),
        };
        fake.inner.lock().unwrap().scopes = manifest_scopes();
        let app = Router::new()
            .route("/api/{method}", post(handle).get(handle_get))
            .route("/link", axum::routing::get(socket))
            .route("/upload/{file}", post(upload))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        fake.inner.lock().unwrap().addr = addr.to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, addr)
    }

    /// A channel the bot has not been invited to: Slack refuses its posts there
    /// (`not_in_channel`; a private one it cannot even see: `channel_not_found`).
    pub fn keep_out(&self, channel: &str, private: bool) {
        self.inner
            .lock()
            .unwrap()
            .outside
            .insert(channel.into(), private);
    }

    /// Adds a scope to the bot's token, as reinstalling the app with it would.
    pub fn grant_scope(&self, scope: &str) {
        self.inner.lock().unwrap().scopes.push(scope.into());
    }

    /// The next call to `method` ("*" for any) gets this fault.
    pub fn inject(&self, method: &str, fault: Fault) {
        if let Fault::Error(code) = &fault
            && method != "*"
        {
            assert!(
                self.documented
                    .get(method)
                    .is_some_and(|c| c.contains(*code)),
                "{code} is not a documented error of {method}"
            );
        }
        self.inner
            .lock()
            .unwrap()
            .faults
            .push_back((method.into(), None, fault));
    }

    /// The next call to `method` whose `channel` starts with `prefix` gets this fault
    /// (`"U"`: a direct message, that is a page).
    pub fn inject_for(&self, method: &str, prefix: &str, fault: Fault) {
        self.inner
            .lock()
            .unwrap()
            .faults
            .push_back((method.into(), Some(prefix.into()), fault));
    }

    pub fn calls(&self) -> Vec<SlackCall> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .map(|c| c.body)
            .collect()
    }

    /// A channel that already exists in the workspace, made by someone else.
    pub fn existing_channel(&self, name: &str) {
        let mut i = self.inner.lock().unwrap();
        i.next += 1;
        let id = format!("CEXIST{}", i.next);
        i.channels.insert(name.into(), id.clone());
        i.channel_info
            .insert(id, (name.into(), "UOTHER".into(), now_secs() - 86_400));
    }

    /// The messages in a channel (by id; a DM is "D" + the user id), oldest first.
    pub fn messages(&self, channel: &str) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .messages
            .get(channel)
            .cloned()
            .unwrap_or_default()
    }

    /// The text of each message in `channel`, oldest first.
    pub fn texts(&self, channel: &str) -> Vec<String> {
        self.messages(channel)
            .iter()
            .filter_map(|m| m["text"].as_str().map(String::from))
            .collect()
    }

    /// Every channel created, by name.
    pub fn channel_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .inner
            .lock()
            .unwrap()
            .channels
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// A workspace member with this email.
    pub fn user(&self, email: &str, id: &str) {
        self.inner
            .lock()
            .unwrap()
            .users
            .insert(email.into(), id.into());
    }

    /// Pushes a Socket Mode envelope to the connected client (waits for the connection).
    pub async fn push(&self, envelope: Value) {
        for _ in 0..250 {
            let tx = self.inner.lock().unwrap().socket.clone();
            if let Some(tx) = tx {
                tx.send(envelope.to_string()).unwrap();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no Socket Mode client connected");
    }

    /// The acks received so far for this envelope id.
    pub fn acks_for(&self, envelope_id: &str) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .acks
            .iter()
            .filter(|a| a["envelope_id"] == envelope_id)
            .cloned()
            .collect()
    }

    /// Drops the Socket Mode connection, as Slack does when it rotates its servers.
    pub fn disconnect(&self) {
        self.inner.lock().unwrap().socket = None;
    }

    pub fn socket_connects(&self) -> usize {
        self.inner.lock().unwrap().socket_connects
    }

    /// Socket Mode connections open now, and the most that were ever open at once.
    pub fn socket_live(&self) -> (usize, usize) {
        let i = self.inner.lock().unwrap();
        (i.socket_live, i.socket_most)
    }

    pub fn channel_id(&self, name: &str) -> Option<String> {
        self.inner.lock().unwrap().channels.get(name).cloned()
    }
}

/// The bytes of a file, sent to the URL files.getUploadURLExternal gave (Slack answers
/// in plain text).
async fn upload(State(f): State<FakeSlack>, Path(file): Path<String>, body: Bytes) -> Response {
    let mut i = f.inner.lock().unwrap();
    i.calls.push(SlackCall {
        method: "upload".into(),
        body: json!({ "file": file, "length": body.len() }),
        at: std::time::Instant::now(),
    });
    match i.files.get_mut(&file) {
        Some(entry) => {
            entry.2 = Some(body.to_vec());
            (StatusCode::OK, format!("OK - {}", body.len())).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such upload").into_response(),
    }
}

/// Some Web API methods are read with GET and a query string; same answers.
async fn handle_get(
    state: State<FakeSlack>,
    method: Path<String>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let mut headers = headers;
    headers.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    handle(
        state,
        method,
        headers,
        Bytes::from(query.unwrap_or_default()),
    )
    .await
}

/// The bot scopes the shipped manifest asks for: what an installed sevbot's token has.
fn manifest_scopes() -> Vec<String> {
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/slack-app-manifest.yml"
    ))
    .unwrap();
    let after = manifest.split("    bot:\n").nth(1).unwrap();
    after
        .lines()
        .map_while(|l| l.trim().strip_prefix("- "))
        .map(str::to_string)
        .collect()
}

fn sample(method: &str) -> Value {
    let mut v: Value = serde_json::from_str(&shared(&format!("web-api/{method}.json"))).unwrap();
    v["ok"] = json!(true);
    v.as_object_mut().unwrap().remove("error");
    v
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn ok_error(code: &str) -> Response {
    axum::Json(json!({ "ok": false, "error": code })).into_response()
}

async fn handle(
    State(f): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let wanted = if method == "apps.connections.open" {
        APP_TOKEN
    } else {
        TOKEN
    };
    if auth != format!("Bearer {wanted}") {
        return ok_error("not_authed");
    }
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body: Value = if ctype.starts_with("application/json") {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return ok_error("invalid_json"),
        }
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    };
    let fault = {
        let mut i = f.inner.lock().unwrap();
        i.calls.push(SlackCall {
            method: method.clone(),
            body: body.clone(),
            at: std::time::Instant::now(),
        });
        let channel = body["channel"].as_str().unwrap_or_default();
        let pos = i.faults.iter().position(|(m, prefix, _)| {
            (m == "*" || *m == method) && prefix.as_ref().is_none_or(|p| channel.starts_with(p))
        });
        pos.map(|p| i.faults.remove(p).unwrap().2)
    };
    let mut slow = None;
    if let Some(fault) = fault {
        return match fault {
            Fault::Slow(d) => {
                slow = Some(d);
                let resp = answer(&f, &method, &body);
                tokio::time::sleep(slow.take().unwrap_or_default()).await;
                resp
            }
            Fault::Garbage => (
                StatusCode::OK,
                [("content-type", "application/json")],
                "<html>gateway</html>",
            )
                .into_response(),
            Fault::Error(code) => ok_error(code),
            Fault::Http429 { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after_secs.to_string())],
                "",
            )
                .into_response(),
            Fault::Http500 => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
            Fault::Hang => {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                (StatusCode::INTERNAL_SERVER_ERROR, "too late").into_response()
            }
        };
    }
    let _ = slow;
    answer(&f, &method, &body)
}

/// What Slack does and answers for one call.
fn answer(f: &FakeSlack, method: &str, body: &Value) -> Response {
    let mut i = f.inner.lock().unwrap();
    i.next += 1;
    let n = i.next;
    // Slack keeps an archived channel read-only (each method with its documented code).
    let channel = body["channel"].as_str().unwrap_or_default();
    if i.archived.contains(channel) {
        match method {
            "chat.postMessage" | "conversations.setTopic" => return ok_error("is_archived"),
            "chat.update" => return ok_error("cant_update_message"),
            "pins.add" => return ok_error("channel_not_found"),
            _ => {}
        }
    }
    if let Some(&private) = i.outside.get(channel) {
        let public_posts = !private && i.scopes.iter().any(|s| s == "chat:write.public");
        match method {
            "chat.postMessage" if private => return ok_error("channel_not_found"),
            "chat.postMessage" if !public_posts => return ok_error("not_in_channel"),
            "conversations.info" if private => return ok_error("channel_not_found"),
            _ => {}
        }
    }
    let resp = match method {
        "conversations.info" => {
            let mut v = sample("conversations.info");
            v["channel"]["id"] = json!(channel);
            v["channel"]["is_member"] = json!(!i.outside.contains_key(channel));
            v["channel"]["is_private"] = json!(i.outside.get(channel) == Some(&true));
            v["channel"]["is_im"] = json!(channel.starts_with('D'));
            v["channel"]["is_channel"] = json!(channel.starts_with('C'));
            v
        }
        "conversations.create" => {
            let name = body["name"].as_str().unwrap_or_default().to_string();
            if name.is_empty() {
                return ok_error("invalid_name_required");
            }
            if i.channels.contains_key(&name) {
                return ok_error("name_taken");
            }
            let id = format!("C{n:08}");
            i.channels.insert(name.clone(), id.clone());
            i.channel_info
                .insert(id.clone(), (name.clone(), BOT_USER.into(), now_secs()));
            let mut v = sample("conversations.create");
            v["channel"]["id"] = json!(id);
            v["channel"]["name"] = json!(name);
            v["channel"]["creator"] = json!(BOT_USER);
            v["channel"]["created"] = json!(now_secs());
            v["channel"]["is_private"] = body["is_private"].clone();
            v
        }
        "chat.postMessage" | "chat.update" => {
            let ts = if method == "chat.update" {
                body["ts"].clone()
            } else {
                json!(format!("{}.{n:06}", now_secs()))
            };
            // A message to a user id lands in the DM with them.
            let channel = body["channel"].as_str().unwrap_or_default().to_string();
            let channel = match channel.strip_prefix('U') {
                Some(_) => format!("D{channel}"),
                None => channel,
            };
            let message = json!({ "type": "message", "text": body["text"], "ts": ts, "metadata": body["metadata"] });
            if method == "chat.postMessage" {
                i.messages
                    .entry(channel.clone())
                    .or_default()
                    .push(message.clone());
            }
            json!({ "ok": true, "channel": channel, "ts": ts, "message": message })
        }
        "conversations.history" => {
            let channel = body["channel"].as_str().unwrap_or_default();
            let oldest: f64 = body["oldest"]
                .as_str()
                .and_then(|o| o.parse().ok())
                .unwrap_or(0.0);
            let all = body["include_all_metadata"].as_str() == Some("true");
            let mut msgs: Vec<Value> = i
                .messages
                .get(channel)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|m| {
                    m["ts"]
                        .as_str()
                        .and_then(|t| t.parse::<f64>().ok())
                        .unwrap_or(0.0)
                        >= oldest
                })
                .map(|mut m| {
                    if !all {
                        m.as_object_mut().unwrap().remove("metadata");
                    }
                    m
                })
                .collect();
            // Newest first, as Slack answers.
            msgs.reverse();
            json!({ "ok": true, "messages": msgs, "has_more": false, "pin_count": 0, "response_metadata": { "next_cursor": "" } })
        }
        "conversations.list" => {
            let channels: Vec<Value> = i
                .channel_info
                .iter()
                .map(|(id, (name, creator, created))| {
                    let mut c = sample("conversations.create")["channel"].clone();
                    c["id"] = json!(id);
                    c["name"] = json!(name);
                    c["creator"] = json!(creator);
                    c["created"] = json!(created);
                    c
                })
                .collect();
            json!({ "ok": true, "channels": channels, "response_metadata": { "next_cursor": "" } })
        }
        "conversations.open" => {
            let user = match &body["users"] {
                Value::Array(a) => a
                    .first()
                    .and_then(|u| u.as_str())
                    .unwrap_or_default()
                    .to_string(),
                v => v
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            };
            json!({ "ok": true, "channel": { "id": format!("D{user}") } })
        }
        "auth.test" => sample("auth.test"),
        "conversations.invite" => {
            let mut v = sample("conversations.invite");
            v["channel"]["id"] = body["channel"].clone();
            v
        }
        "views.open" => {
            if body["trigger_id"].as_str().is_none_or(|t| t.is_empty()) {
                return ok_error("invalid_trigger_id");
            }
            let mut v: Value = match &body["view"] {
                Value::String(v) => serde_json::from_str(v).unwrap_or(Value::Null),
                v => v.clone(),
            };
            for (k, val) in [
                ("id", json!(format!("V{n}"))),
                ("team_id", json!("T0001")),
                ("hash", json!("1.abc")),
                ("state", json!({"values": {}})),
            ] {
                v[k] = val;
            }
            json!({ "ok": true, "view": v })
        }
        "chat.postEphemeral" => json!({ "ok": true, "message_ts": format!("1700000000.{n:06}") }),
        "apps.connections.open" => {
            let mut v = sample("apps.connections.open");
            v["url"] = json!(format!("ws://{}/link", i.addr));
            v
        }
        "users.lookupByEmail" => {
            let email = body["email"].as_str().unwrap_or_default();
            match i.users.get(email) {
                Some(id) => {
                    let mut v = sample("users.lookupByEmail");
                    v["user"]["id"] = json!(id);
                    v["user"]["profile"]["email"] = json!(email);
                    v
                }
                None => return ok_error("users_not_found"),
            }
        }
        "conversations.archive" => {
            let ch = body["channel"].as_str().unwrap_or_default().to_string();
            if !i.archived.insert(ch) {
                return ok_error("already_archived");
            }
            sample(method)
        }
        // Slack documents `{"ok": true}`, and `not_archived` for a channel that is not.
        "conversations.unarchive" => {
            if !i
                .archived
                .remove(body["channel"].as_str().unwrap_or_default())
            {
                return ok_error("not_archived");
            }
            json!({ "ok": true })
        }
        // The upload flow: a URL for the bytes, the bytes, then the file completed into a
        // channel (it lands there as a message carrying the file).
        "files.getUploadURLExternal" => {
            let name = body["filename"].as_str().unwrap_or_default().to_string();
            let Some(length) = body["length"].as_str().and_then(|l| l.parse().ok()) else {
                return ok_error("invalid_arguments");
            };
            if name.is_empty() {
                return ok_error("invalid_arguments");
            }
            let id = format!("F{n:08}");
            i.files.insert(id.clone(), (name, length, None));
            json!({ "ok": true, "upload_url": format!("http://{}/upload/{id}", i.addr), "file_id": id })
        }
        "files.completeUploadExternal" => {
            let files: Vec<Value> = match &body["files"] {
                Value::String(t) => serde_json::from_str(t).unwrap_or_default(),
                Value::Array(a) => a.clone(),
                _ => vec![],
            };
            let channel = body["channel_id"].as_str().unwrap_or_default().to_string();
            let mut shared = vec![];
            for f in &files {
                let id = f["id"].as_str().unwrap_or_default();
                match i.files.get(id) {
                    Some((name, len, Some(bytes))) if bytes.len() == *len => shared.push(json!({
                        "id": id, "name": name, "title": f["title"],
                        "content": String::from_utf8_lossy(bytes),
                    })),
                    // Not uploaded, or not the length promised.
                    _ => return ok_error("file_uploads_except_images_disabled"),
                }
            }
            let message =
                json!({ "type": "message", "text": body["initial_comment"], "files": shared });
            i.messages.entry(channel).or_default().push(message);
            json!({ "ok": true, "files": files })
        }
        "conversations.setTopic" | "pins.add" => sample(method),
        _ => return ok_error("unknown_method"),
    };
    // Slack names the token's scopes on every answer.
    let scopes = i.scopes.join(",");
    ([("x-oauth-scopes", scopes)], axum::Json(resp)).into_response()
}

async fn socket(State(f): State<FakeSlack>, ws: axum::extract::ws::WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |sock| async move {
        {
            let mut i = f.inner.lock().unwrap();
            i.socket_live += 1;
            i.socket_most = i.socket_most.max(i.socket_live);
        }
        socket_session(f.clone(), sock).await;
        let mut i = f.inner.lock().unwrap();
        i.socket_live -= 1;
        if i.socket.as_ref().is_some_and(|tx| tx.is_closed()) {
            i.socket = None;
        }
    })
}

/// One Socket Mode connection, until either side closes it.
async fn socket_session(f: FakeSlack, mut sock: axum::extract::ws::WebSocket) {
    use axum::extract::ws::Message;
    {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        {
            let mut i = f.inner.lock().unwrap();
            i.socket = Some(tx);
            i.socket_connects += 1;
        }
        let hello = json!({ "type": "hello", "num_connections": 1,
            "debug_info": { "host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060 },
            "connection_info": { "app_id": "A123" } });
        if sock
            .send(Message::Text(hello.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(frame) => if sock.send(Message::Text(frame.into())).await.is_err() { return },
                    // The test dropped the connection.
                    None => { let _ = sock.send(Message::Close(None)).await; return; }
                },
                msg = sock.recv() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(v) = serde_json::from_str::<Value>(&t) {
                            f.inner.lock().unwrap().acks.push(v);
                        }
                    }
                    Some(Ok(Message::Ping(p))) => { let _ = sock.send(Message::Pong(p)).await; }
                    Some(Ok(_)) => {}
                    _ => return,
                },
            }
        }
    }
}
