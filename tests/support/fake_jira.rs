//! A fake Jira Cloud (REST API v3) that holds sevbot to Jira's documented contract: Basic
//! auth with an account e-mail and API token; `POST /issue` with `fields.project.key`,
//! `fields.issuetype.name`, a one-line `summary` of at most 255 characters and an
//! Atlassian Document Format `description`; comments with an ADF `body`; attachments only
//! with `X-Atlassian-Token: no-check`. It answers the errors Jira documents (400 with
//! `errors` by field, 401, 429 with `Retry-After`), can hold an answer after doing the work
//! (a lost answer), and counts every call.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};

pub const PROJECT: &str = "OPS";
pub const EMAIL: &str = "sevbot@example.com";
pub const TOKEN: &str = "jira-api-token";

/// What the next matching call gets instead of the normal answer.
#[derive(Debug, Clone)]
pub enum Trouble {
    TooMany {
        retry_after: u64,
    },
    ServerError,
    Unauthorized,
    /// Does the work, then answers only after this long (the client has given up).
    LoseAnswer(Duration),
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub key: String,
    pub fields: Value,
    pub comments: Vec<Value>,
    pub attachments: Vec<(String, String)>,
}

#[derive(Default)]
pub struct Jira {
    pub issues: Mutex<Vec<Issue>>,
    /// (method, path) of every call, in order.
    pub calls: Mutex<Vec<(String, String)>>,
    trouble: Mutex<VecDeque<(&'static str, Trouble)>>,
    issue_types: Vec<String>,
}

impl Jira {
    pub fn new() -> Arc<Jira> {
        Arc::new(Jira {
            issue_types: vec!["Incident".into(), "Task".into()],
            ..Default::default()
        })
    }

    /// The next call whose path contains `kind` ("issue", "comment", "attachments") gets
    /// `t`.
    pub fn trouble(&self, kind: &'static str, t: Trouble) {
        self.trouble.lock().unwrap().push_back((kind, t));
    }

    pub fn count(&self, method: &str, part: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p)| m == method && p.ends_with(part))
            .count()
    }

    pub fn issues(&self) -> Vec<Issue> {
        self.issues.lock().unwrap().clone()
    }

    fn take_trouble(&self, path: &str) -> Option<Trouble> {
        let mut q = self.trouble.lock().unwrap();
        let i = q.iter().position(|(k, _)| path_kind(path) == *k)?;
        q.remove(i).map(|(_, t)| t)
    }
}

fn path_kind(path: &str) -> &'static str {
    if path.ends_with("/comment") {
        "comment"
    } else if path.ends_with("/attachments") {
        "attachments"
    } else if path.contains("search") {
        "search"
    } else {
        "issue"
    }
}

pub fn router(j: Arc<Jira>) -> Router {
    Router::new()
        .route("/rest/api/3/issue", post(create))
        .route("/rest/api/3/search/jql", get(search))
        .route("/rest/api/3/issue/{key}", get(read_issue))
        .route(
            "/rest/api/3/issue/{key}/comment",
            post(comment).get(comments),
        )
        .route("/rest/api/3/issue/{key}/attachments", post(attach))
        .with_state(j)
}

fn errors(status: StatusCode, field: &str, msg: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errorMessages": [], "errors": { field: msg } })),
    )
        .into_response()
}

/// Checks auth and scripted trouble; `Err` is the answer to give instead.
#[allow(clippy::result_large_err)]
fn gate(j: &Jira, method: &str, path: &str, h: &HeaderMap) -> Result<Option<Duration>, Response> {
    j.calls
        .lock()
        .unwrap()
        .push((method.to_string(), path.to_string()));
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{TOKEN}"))
    );
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        )
            .into_response());
    }
    match j.take_trouble(path) {
        Some(Trouble::TooMany { retry_after }) => Err((
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after.to_string())],
            axum::Json(json!({ "errorMessages": ["Rate limit exceeded."] })),
        )
            .into_response()),
        Some(Trouble::ServerError) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Some(Trouble::Unauthorized) => Err((StatusCode::UNAUTHORIZED, "").into_response()),
        Some(Trouble::LoseAnswer(d)) => Ok(Some(d)),
        None => Ok(None),
    }
}

async fn hold(d: Option<Duration>) {
    if let Some(d) = d {
        tokio::time::sleep(d).await;
    }
}

/// An ADF document as Jira accepts it: `doc`, version 1, paragraphs of non-empty text.
fn valid_adf(v: &Value) -> Result<(), String> {
    if v["type"] != "doc" || v["version"] != 1 {
        return Err("Operation value must be an Atlassian Document (type doc, version 1).".into());
    }
    let blocks = v["content"].as_array().ok_or("doc has no content")?;
    for b in blocks {
        if b["type"] != "paragraph" {
            return Err(format!("unsupported node {}", b["type"]));
        }
        for t in b["content"].as_array().ok_or("paragraph without content")? {
            match (t["type"].as_str(), t["text"].as_str()) {
                (Some("text"), Some(s)) if !s.is_empty() => {}
                _ => return Err("text nodes must have non-empty text".into()),
            }
        }
    }
    Ok(())
}

async fn create(State(j): State<Arc<Jira>>, h: HeaderMap, body: Bytes) -> Response {
    let held = match gate(&j, "POST", "/rest/api/3/issue", &h) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return errors(StatusCode::BAD_REQUEST, "body", "Unexpected character");
    };
    let f = &v["fields"];
    if f["project"]["key"] != PROJECT {
        return errors(
            StatusCode::BAD_REQUEST,
            "project",
            "valid project is required",
        );
    }
    if !f["issuetype"]["name"]
        .as_str()
        .is_some_and(|n| j.issue_types.iter().any(|t| t == n))
    {
        return errors(
            StatusCode::BAD_REQUEST,
            "issuetype",
            "Specify a valid issue type",
        );
    }
    match f["summary"].as_str() {
        None | Some("") => {
            return errors(
                StatusCode::BAD_REQUEST,
                "summary",
                "You must specify a summary of the issue.",
            );
        }
        Some(s) if s.chars().count() > 255 => {
            return errors(
                StatusCode::BAD_REQUEST,
                "summary",
                "Summary must be less than 255 characters.",
            );
        }
        Some(s) if s.contains(['\n', '\r']) => {
            return errors(
                StatusCode::BAD_REQUEST,
                "summary",
                "The summary is invalid because it contains newline characters.",
            );
        }
        _ => {}
    }
    if let Err(e) = valid_adf(&f["description"]) {
        return errors(StatusCode::BAD_REQUEST, "description", &e);
    }
    if f["labels"].as_array().is_some_and(|ls| {
        ls.iter()
            .any(|l| l.as_str().is_none_or(|s| s.contains(' ')))
    }) {
        return errors(
            StatusCode::BAD_REQUEST,
            "labels",
            "The label must not contain spaces.",
        );
    }
    let (id, key) = {
        let mut issues = j.issues.lock().unwrap();
        let n = issues.len() + 1;
        let key = format!("{PROJECT}-{n}");
        issues.push(Issue {
            key: key.clone(),
            fields: f.clone(),
            comments: vec![],
            attachments: vec![],
        });
        (10_000 + n, key)
    };
    hold(held).await;
    (
        StatusCode::CREATED,
        axum::Json(
            json!({ "id": id.to_string(), "key": key, "self": format!("/rest/api/3/issue/{id}") }),
        ),
    )
        .into_response()
}

async fn search(
    State(j): State<Arc<Jira>>,
    h: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&j, "GET", "/rest/api/3/search/jql", &h) {
        return r;
    }
    let jql = q.get("jql").cloned().unwrap_or_default();
    let Some(label) = jql
        .strip_prefix("labels = \"")
        .and_then(|r| r.strip_suffix('"'))
    else {
        return errors(StatusCode::BAD_REQUEST, "jql", "Error in the JQL Query");
    };
    let found: Vec<Value> = j
        .issues
        .lock()
        .unwrap()
        .iter()
        .filter(|i| {
            i.fields["labels"]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x == label))
        })
        .map(|i| json!({ "key": i.key }))
        .collect();
    axum::Json(json!({ "issues": found, "isLast": true })).into_response()
}

fn with_issue<R>(j: &Jira, key: &str, f: impl FnOnce(&mut Issue) -> R) -> Option<R> {
    j.issues
        .lock()
        .unwrap()
        .iter_mut()
        .find(|i| i.key == key)
        .map(f)
}

fn no_issue() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {} })),
    )
        .into_response()
}

async fn read_issue(State(j): State<Arc<Jira>>, h: HeaderMap, Path(key): Path<String>) -> Response {
    if let Err(r) = gate(&j, "GET", &format!("/rest/api/3/issue/{key}"), &h) {
        return r;
    }
    match with_issue(&j, &key, |i| {
        i.attachments
            .iter()
            .map(|(f, _)| json!({ "filename": f }))
            .collect::<Vec<_>>()
    }) {
        Some(a) => axum::Json(json!({ "key": key, "fields": { "attachment": a } })).into_response(),
        None => no_issue(),
    }
}

async fn comment(
    State(j): State<Arc<Jira>>,
    h: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let held = match gate(&j, "POST", &format!("/rest/api/3/issue/{key}/comment"), &h) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return errors(StatusCode::BAD_REQUEST, "body", "Unexpected character");
    };
    if let Err(e) = valid_adf(&v["body"]) {
        return errors(StatusCode::BAD_REQUEST, "comment", &e);
    }
    let Some(n) = with_issue(&j, &key, |i| {
        i.comments.push(v.clone());
        i.comments.len()
    }) else {
        return no_issue();
    };
    hold(held).await;
    (
        StatusCode::CREATED,
        axum::Json(json!({ "id": n.to_string(), "body": v["body"] })),
    )
        .into_response()
}

async fn comments(State(j): State<Arc<Jira>>, h: HeaderMap, Path(key): Path<String>) -> Response {
    if let Err(r) = gate(&j, "GET", &format!("/rest/api/3/issue/{key}/comment"), &h) {
        return r;
    }
    match with_issue(&j, &key, |i| i.comments.clone()) {
        Some(c) => axum::Json(json!({ "comments": c, "total": c.len() })).into_response(),
        None => no_issue(),
    }
}

async fn attach(
    State(j): State<Arc<Jira>>,
    h: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let held = match gate(
        &j,
        "POST",
        &format!("/rest/api/3/issue/{key}/attachments"),
        &h,
    ) {
        Ok(d) => d,
        Err(r) => return r,
    };
    if h.get("x-atlassian-token").and_then(|v| v.to_str().ok()) != Some("no-check") {
        return (StatusCode::FORBIDDEN, "XSRF check failed").into_response();
    }
    // One part named `file`: its file name and content.
    let text = String::from_utf8_lossy(&body).to_string();
    let Some(name) = text
        .split("filename=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
    else {
        return errors(StatusCode::BAD_REQUEST, "file", "no file part");
    };
    let content = text
        .split_once("\r\n\r\n")
        .map(|(_, r)| r.rsplit_once("\r\n--").map_or(r, |(c, _)| c))
        .unwrap_or_default()
        .to_string();
    if with_issue(&j, &key, |i| {
        i.attachments.push((name.to_string(), content))
    })
    .is_none()
    {
        return no_issue();
    }
    hold(held).await;
    axum::Json(json!([{ "filename": name }])).into_response()
}
