//! Slow and abusive clients: silent, stalled and trickling connections are closed on time,
//! connection caps answer at once instead of queueing, and an address that keeps failing
//! authentication is answered 429 without reaching a handler — while everyone else is
//! served throughout.

mod support;

use std::time::{Duration, Instant};

use sevbot::http::Limits;
use support::{Backend, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "monitoring-secret";

async fn start(limits: Limits) -> (std::net::SocketAddr, TestApp) {
    let app = TestApp::new(Backend::Sqlite).await;
    let router =
        sevbot::http::router(app.engine.store.clone(), "test".into(), Default::default()).merge(
            sevbot::adapters::monitoring::routes(app.engine.clone(), TOKEN, None),
        );
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    std::mem::forget(stop_tx);
    let (addr, _) = sevbot::http::serve_with(router, "127.0.0.1:0", stop, limits)
        .await
        .unwrap();
    (addr, app)
}

fn quick() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    }
}

/// Everything the server says until it closes the connection, and how long that took.
async fn until_closed(s: &mut TcpStream) -> (String, Duration) {
    let start = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the connection is still open after 5 s");
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

async fn get(addr: std::net::SocketAddr, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap()
}

async fn post(addr: std::net::SocketAddr, token: &str, forwarded: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/availability"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(5))
        .body("{}");
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_stalled_and_trickling_clients_are_cut_off() {
    let (addr, _app) = start(quick()).await;

    // Connects and says nothing.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // Stops in the middle of its headers.
    let mut mid_headers = TcpStream::connect(addr).await.unwrap();
    mid_headers
        .write_all(b"POST /api/v1/availability HTTP/1.1\r\nHost: x\r\nContent-Len")
        .await
        .unwrap();
    // Sends its headers, then 10 of the 100 bytes it announced.
    let mut mid_body = TcpStream::connect(addr).await.unwrap();
    mid_body
        .write_all(
            format!(
                "POST /api/v1/availability HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n0123456789"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // Trickles its headers a byte at a time, each well inside the timeout.
    let trickle = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        until_closed(&mut s).await
    });

    let (said, took) = until_closed(&mut silent).await;
    assert!(
        took < Duration::from_secs(2),
        "silent: closed after {took:?}"
    );
    assert!(!said.contains("200"), "{said}");
    let (_, took) = until_closed(&mut mid_headers).await;
    assert!(took < Duration::from_secs(2), "mid-headers: {took:?}");
    let (said, took) = until_closed(&mut mid_body).await;
    assert!(said.starts_with("HTTP/1.1 408"), "mid-body: {said}");
    assert!(took < Duration::from_secs(2), "mid-body: {took:?}");
    let (said, _) = trickle.await.unwrap();
    assert!(
        !said.starts_with("HTTP/1.1 200"),
        "a trickle never completes a request: {said}"
    );
    assert_eq!(get(addr, "/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_connections_cannot_lock_everyone_out() {
    let (addr, _app) = start(Limits {
        max_connections: 50,
        max_connections_per_source: 0,
        header_timeout: Duration::from_millis(500),
        ..Limits::default()
    })
    .await;
    // Far more idle connections than the cap, as an attacker would hold.
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // Those past the cap are answered at once, not left hanging.
    let mut busy = 0;
    for s in held.iter_mut().skip(50) {
        let (said, took) = until_closed(s).await;
        assert!(took < Duration::from_millis(400), "{took:?}");
        busy += usize::from(said.starts_with("HTTP/1.1 503"));
    }
    assert_eq!(busy, 250);
    // The admitted ones time out, and the server is free again.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(get(addr, "/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_only_its_share_of_connections() {
    let (addr, _app) = start(Limits {
        max_connections_per_source: 5,
        ..Limits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut sixth = TcpStream::connect(addr).await.unwrap();
    let (said, _) = until_closed(&mut sixth).await;
    assert!(said.starts_with("HTTP/1.1 429"), "{said}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(get(addr, "/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_authentication_spends_an_addresss_budget_only() {
    let (addr, _app) = start(Limits {
        failures_per_window: 3,
        failure_window: Duration::from_millis(1500),
        client_ip_header: Some("x-forwarded-for".parse().unwrap()),
        ..Limits::default()
    })
    .await;
    let attacker = Some("203.0.113.9");
    for _ in 0..3 {
        assert_eq!(post(addr, "guess", attacker).await, 401);
    }
    // Spent: even the right token is not looked at until the window is over.
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/availability"))
        .bearer_auth(TOKEN)
        .header("x-forwarded-for", "198.51.100.1, 203.0.113.9")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // Anyone else is unaffected, and wrong credentials still get their 401.
    assert_ne!(post(addr, TOKEN, Some("198.51.100.7")).await, 429);
    assert_eq!(post(addr, "guess", Some("198.51.100.7")).await, 401);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let after = post(addr, TOKEN, attacker).await;
    assert!(after != 429 && after != 401, "{after}");
}
