//! The read-only web view and the JSON API over real HTTP: who gets in (token, cookie,
//! proxy header — and nobody else), what a restricted SEV shows to whom, user text shown
//! as text, and the open SEVs' rows the page polls for.

mod support;

use std::net::IpAddr;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use sevbot::config::WebConfig;
use sevbot::web::Access;
use support::{Backend, TestApp};

const TOKEN: &str = "web-s3cret";
const SECURITY_TITLE: &str = "Signing key leaked on pastebin";
const HOSTILE_TITLE: &str = "<script>alert(1)</script> <!channel> @everyone";

struct View {
    app: TestApp,
    base: String,
    http: reqwest::Client,
}

/// A SEV anyone may see (with a hostile title) and a security SEV declared by carol (its
/// BMOC), with ian as IMOC and bob as TLOC; the web view served with the token and a proxy header trusted from
/// `proxies`.
async fn view(b: Backend, proxies: Vec<IpAddr>) -> View {
    let app = TestApp::new(b).await;
    app.engine.ensure_schedules().await.unwrap();
    let r = app
        .cmd(
            "U_ALICE",
            "general",
            &format!("declare availability 1 {HOSTILE_TITLE}"),
        )
        .await;
    assert!(r.text.contains("SEV-1"), "{}", r.text);
    let r = app
        .cmd(
            "U_CAROL",
            "general",
            &format!("declare security 1 {SECURITY_TITLE}"),
        )
        .await;
    assert!(r.text.contains("SEV-2"), "{}", r.text);
    app.deliver().await;
    let web = WebConfig {
        user_header: Some("x-auth-request-user".into()),
        proxy_addresses: proxies,
        ..WebConfig::default()
    };
    let access = Access::new(&web, Some(TOKEN.into())).expect("configured");
    let router = sevbot::web::routes(app.engine.clone(), access).merge(
        sevbot::adapters::api::routes(app.engine.clone(), "api-s3cret"),
    );
    let addr = support::serve(router).await;
    View {
        app,
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

fn loopback() -> Vec<IpAddr> {
    vec![IpAddr::from([127, 0, 0, 1])]
}

impl View {
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, HeaderValue::from_str(v).unwrap());
        }
        let r = req.send().await.unwrap();
        let (status, h) = (r.status(), r.headers().clone());
        (status, h, r.text().await.unwrap())
    }

    async fn as_token(&self, path: &str) -> String {
        let auth = format!("Bearer {TOKEN}");
        let (status, _, body) = self.get(path, &[("authorization", &auth)]).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn as_person(&self, who: &str, path: &str) -> (StatusCode, String) {
        let (status, _, body) = self.get(path, &[("x-auth-request-user", who)]).await;
        (status, body)
    }
}

both_backends!(
    only_the_token_its_cookie_or_a_trusted_proxy_gets_in,
    |b| async move {
        let v = view(b, loopback()).await;
        for path in ["/", "/sevs/1", "/fragments/open"] {
            let (status, h, body) = v.get(path, &[]).await;
            assert_eq!(status, 401, "{path}");
            assert_eq!(h["www-authenticate"], "Bearer");
            assert!(body.contains("?token="), "the refusal says how: {body}");
            assert!(!body.contains("SEV-1"), "{body}");
            let (status, _, _) = v.get(path, &[("authorization", "Bearer nope")]).await;
            assert_eq!(status, 401, "{path} with a wrong token");
        }
        // ?token= once: a cookie (not the token) and the same address without it.
        let (status, h, _) = v.get(&format!("/sevs/1?token={TOKEN}"), &[]).await;
        assert_eq!(status, 303);
        assert_eq!(h["location"], "/sevs/1");
        let cookie = h["set-cookie"].to_str().unwrap().to_string();
        assert!(!cookie.contains(TOKEN), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        let pair = cookie.split(';').next().unwrap();
        let (status, _, body) = v.get("/sevs/1", &[("cookie", pair)]).await;
        assert_eq!(status, 200);
        assert!(body.contains("SEV-1"));
        let (status, _, _) = v.get(&format!("/?token={TOKEN}x"), &[]).await;
        assert_eq!(status, 401, "a wrong ?token= sets nothing");
        // Every page: nothing loads from elsewhere, nothing frames it, nothing is kept.
        let (_, h, _) = v
            .get("/", &[("authorization", &format!("Bearer {TOKEN}"))])
            .await;
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
        // A person signed in by the proxy.
        let (status, body) = v.as_person("alice", "/").await;
        assert_eq!(status, 200);
        assert!(body.contains("Signed in as alice"), "{body}");
    }
);

/// The same header from a connection that is not the proxy's is not believed.
#[tokio::test]
async fn a_user_header_from_anywhere_but_the_proxy_is_ignored() {
    let v = view(Backend::Sqlite, vec![IpAddr::from([10, 9, 9, 9])]).await;
    let (status, body) = v.as_person("ian", "/sevs/2").await;
    assert_eq!(status, 401);
    assert!(!body.contains(SECURITY_TITLE));
}

both_backends!(
    a_restricted_sev_is_shown_only_to_its_people,
    |b| async move {
        let v = view(b, loopback()).await;
        // The shared token, and people who are nothing to it: its id, level and stage only.
        let list = v.as_token("/").await;
        assert!(
            list.contains("SEV-2") && list.contains("restricted"),
            "{list}"
        );
        assert!(!list.contains(SECURITY_TITLE), "{list}");
        let pages = [
            v.as_token("/sevs/2").await,
            v.as_person("frank", "/sevs/2").await.1,
            v.as_person("alice", "/sevs/2").await.1,
            v.as_person("jo", "/sevs/2").await.1,
        ];
        for seen in pages {
            assert!(
                seen.contains("SEV-2") && seen.contains("is restricted"),
                "{seen}"
            );
            assert!(!seen.contains(SECURITY_TITLE), "{seen}");
            assert!(
                !seen.contains("ian") && !seen.contains("carol"),
                "no people: {seen}"
            );
        }
        // Its declarer and BMOC, its IMOC (paged for it), its TLOC and an admin: in full.
        for who in ["carol", "ian", "bob", "dave"] {
            let (status, page) = v.as_person(who, "/sevs/2").await;
            assert_eq!(status, 200);
            assert!(page.contains(SECURITY_TITLE), "{who}: {page}");
            assert!(page.contains("Timeline"), "{who}");
            let (_, list) = v.as_person(who, "/").await;
            assert!(list.contains(SECURITY_TITLE), "{who} sees it listed");
        }
        // The API's token is nobody in particular either.
        let api = |path: &'static str| {
            let http = v.http.clone();
            let url = format!("{}{path}", v.base);
            async move {
                http.get(url)
                    .bearer_auth("api-s3cret")
                    .send()
                    .await
                    .unwrap()
            }
        };
        let one: serde_json::Value = api("/api/v1/sevs/SEV-2").await.json().await.unwrap();
        assert_eq!(one["id"], "SEV-2");
        assert_eq!(one["type"], "security");
        assert_eq!(one["redacted"], true);
        assert!(one["title"].is_null() && one["timeline"].as_array().unwrap().is_empty());
        assert!(!one.to_string().contains(SECURITY_TITLE));
        let pm = api("/api/v1/sevs/SEV-2/postmortem").await;
        assert_eq!(pm.status(), 403);
        assert!(!pm.text().await.unwrap().contains(SECURITY_TITLE));
        let list: serde_json::Value = api("/api/v1/sevs").await.json().await.unwrap();
        assert!(!list.to_string().contains(SECURITY_TITLE));
        assert_eq!(list["open"].as_array().unwrap().len(), 2);
    }
);

both_backends!(typed_text_is_shown_as_text, |b| async move {
    let v = view(b, loopback()).await;
    let r = v
        .app
        .cmd(
            "U_ALICE",
            "general",
            "SEV-1 update <img src=x onerror=alert(2)> rolling back",
        )
        .await;
    assert!(!r.ephemeral || r.text.contains("SEV-1"), "{}", r.text);
    for path in ["/", "/sevs/1", "/fragments/open"] {
        let html = v.as_token(path).await;
        assert!(!html.contains("<script>alert"), "{path}: {html}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;"),
            "{path}: {html}"
        );
    }
    let page = v.as_token("/sevs/1").await;
    assert!(
        page.contains("&lt;img src=x onerror=alert(2)&gt; rolling back"),
        "{page}"
    );
});

both_backends!(
    a_sev_page_has_its_card_roles_pages_and_timeline,
    |b| async move {
        let v = view(b, loopback()).await;
        let page = v.as_token("/sevs/1").await;
        for want in [
            "SEV1",
            "availability",
            "declared",
            "Roles",
            "IMOC",
            "alice",
            "Pages",
            "Timeline",
            "Postmortem",
        ] {
            assert!(page.contains(want), "{want} missing: {page}");
        }
        // The API says the same, with its stable names.
        let one: serde_json::Value = v
            .http
            .get(format!("{}/api/v1/sevs/SEV-1", v.base))
            .bearer_auth("api-s3cret")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(one["level"], 1);
        assert_eq!(one["stage"], "declared");
        assert_eq!(one["roles"]["imoc"]["id"], "alice");
        assert_eq!(one["timeline"][0]["kind"], "declared");
        assert!(
            one["pages"].as_array().is_some_and(|p| p
                .iter()
                .any(|p| p["person"]["id"] == "bob" && p["role"] == "tloc")),
            "{}",
            one["pages"]
        );
        assert!(one["postmortem"].as_str().unwrap().contains("SEV-1"));
        // Unknown and malformed ids.
        let auth = format!("Bearer {TOKEN}");
        assert_eq!(v.get("/sevs/99", &[("authorization", &auth)]).await.0, 404);
        assert_eq!(
            v.get("/sevs/nope", &[("authorization", &auth)]).await.0,
            404
        );
        assert_eq!(
            v.get("/sevs/SEV-1", &[("authorization", &auth)]).await.0,
            200
        );
    }
);

/// The rows the open page polls for follow the database: a SEV declared after the page
/// loaded is in the next poll, and one that ends leaves it.
#[tokio::test]
async fn the_polled_rows_follow_what_is_declared_and_ended() {
    let v = view(Backend::Sqlite, loopback()).await;
    let before = v.as_token("/fragments/open").await;
    assert!(!before.contains("SEV-3"));
    v.app
        .cmd("U_BOB", "general", "declare durability 2 Backups stalled")
        .await;
    let after = v.as_token("/fragments/open").await;
    assert!(
        after.contains("SEV-3") && after.contains("Backups stalled"),
        "{after}"
    );
    assert!(!after.contains("<html"), "rows only");
    let r = v
        .app
        .cmd("U_ALICE", "general", "SEV-3 cancel false alarm")
        .await;
    assert!(r.text.contains("cancel"), "{}", r.text);
    let ended = v.as_token("/fragments/open").await;
    assert!(!ended.contains("SEV-3"), "{ended}");
}

/// The binary: the view is off (no page at `/`) without a token, and on with
/// `SEVBOT_WEB_TOKEN` — refusing anyone without it.
#[tokio::test]
async fn the_binary_serves_the_view_only_when_a_token_is_set() {
    use support::bot::Bot;
    let get = |port: u16, auth: Option<&'static str>| async move {
        let mut req = reqwest::Client::new().get(format!("http://127.0.0.1:{port}/"));
        if let Some(t) = auth {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    let mut off = Bot::new(support::CONFIG, "", &[]);
    off.start();
    off.ready().await;
    assert_eq!(get(off.port, Some(TOKEN)).await.0, 404, "off by default");
    let said = std::time::Instant::now();
    while !off.logs().contains("the web view is off") {
        assert!(said.elapsed().as_secs() < 10, "{}", off.logs());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    off.kill();

    let mut on = Bot::new(
        support::CONFIG,
        "",
        &[("SEVBOT_WEB_TOKEN", TOKEN.to_string())],
    );
    on.start();
    on.ready().await;
    assert_eq!(get(on.port, None).await.0, 401);
    assert_eq!(get(on.port, Some("wrong")).await.0, 401);
    let (status, body) = get(on.port, Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert!(body.contains("No open SEVs."), "{body}");
    on.kill();
}

/// With `[web] public_url`, Slack cards link to the SEV's page; without it, none does.
#[tokio::test]
async fn slack_cards_link_to_the_sev_page_when_a_public_address_is_set() {
    use support::slack_app::SlackApp;
    let linked = SlackApp::start_with(
        Backend::Sqlite,
        "[web]\npublic_url = \"https://sevbot.example.com/\"\n",
        |_| {},
    )
    .await;
    linked
        .command(
            "U_ALICE",
            "C_GENERAL",
            "declare availability 1 Checkout failing",
        )
        .await;
    linked.deliver().await;
    let cards: Vec<String> = linked
        .slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.to_string().contains("Checkout failing") && c["blocks"].is_array())
        .map(|c| c["blocks"].to_string())
        .collect();
    assert!(!cards.is_empty());
    assert!(
        cards
            .iter()
            .any(|b| b.contains("<https://sevbot.example.com/sevs/1|Open in the web view>")),
        "{cards:?}"
    );

    let plain = SlackApp::start(Backend::Sqlite).await;
    plain
        .command(
            "U_ALICE",
            "C_GENERAL",
            "declare availability 1 Checkout failing",
        )
        .await;
    plain.deliver().await;
    let calls = serde_json::to_string(&plain.slack.calls_to("chat.postMessage")).unwrap();
    assert!(calls.contains("Checkout failing") && !calls.contains("web view"));
}

/// The SLA page on a scripted month: the same minutes as `/sev sla`, both budgets, the SEV
/// that spent them, and a chart that climbs on the day they were spent.
#[tokio::test]
async fn the_sla_page_adds_up_the_month_like_sev_sla() {
    let v = view(Backend::Sqlite, loopback()).await;
    v.app.advance_minutes(30);
    let r = v.app.cmd("U_ALICE", "general", "SEV-1 mitigated").await;
    assert!(!r.text.contains("not"), "{}", r.text);
    let chat = v.app.cmd("U_ALICE", "general", "sla").await.text;
    // "SLA, March 2026 to date: 30.0 min of downtime (SEV-1 30.0)."
    let total = chat
        .split("to date: ")
        .nth(1)
        .and_then(|t| t.split(" min").next())
        .unwrap_or_else(|| panic!("{chat}"))
        .to_string();
    assert_ne!(total, "0.0", "{chat}");
    let page = v.as_token("/sla").await;
    assert!(page.contains("<h1>SLA, March 2026</h1>"), "{page}");
    assert!(
        page.contains(&format!("{total} minutes of downtime to date")),
        "{page}"
    );
    assert!(
        page.contains("Contract 99.9%") && page.contains("44.6 min"),
        "{page}"
    );
    assert!(page.contains("<a href=\"/sevs/1\">SEV-1</a>"), "{page}");
    let points = page
        .split("points=\"")
        .nth(1)
        .and_then(|p| p.split('"').next())
        .unwrap();
    let ys: Vec<f64> = points
        .split(' ')
        .map(|p| p.split_once(',').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(ys.len(), 3, "the month's start, day 1 and day 2: {points}");
    assert!(ys[2] < ys[1], "it climbs on 2 March: {points}");
    assert!(!page.contains(SECURITY_TITLE) && !page.contains("script>alert"));
    assert_eq!(v.get("/sla", &[]).await.0, 401);
}

/// A SEV's page has its own sections for customer updates and follow-ups (typed text shown
/// as text), and the API carries them under stable names; a restricted SEV's stay hidden.
#[tokio::test]
async fn a_sev_page_shows_its_customer_updates_and_follow_ups() {
    let v = view(Backend::Sqlite, loopback()).await;
    let r = v
        .app
        .cmd(
            "U_ALICE",
            "general",
            "SEV-1 followup add <b>rotate</b> the @here keys @U_BOB due 2026-03-01",
        )
        .await;
    assert!(r.text.contains("#1"), "{}", r.text);
    v.app
        .cmd("U_ALICE", "general", "SEV-1 followup add write the runbook")
        .await;
    v.app
        .cmd("U_ALICE", "general", "SEV-1 followup done 2")
        .await;
    let r = v.app.cmd("U_ALICE", "general", "SEV-1 draft").await;
    assert!(r.text.contains("Customer update draft"), "{}", r.text);
    let r = v.app.cmd("U_ALICE", "general", "SEV-1 draft approve").await;
    assert!(r.text.contains("approved and published"), "{}", r.text);
    v.app
        .cmd(
            "U_CAROL",
            "general",
            "SEV-2 followup add revoke the leaked key",
        )
        .await;

    let page = v.as_token("/sevs/1").await;
    for section in [
        "<h2>Impact</h2>",
        "<h2>Customer updates</h2>",
        "<h2>Follow-ups</h2>",
    ] {
        assert!(page.contains(section), "{section}: {page}");
    }
    assert!(page.contains("Nothing from monitoring."), "{page}");
    assert!(page.contains("<h3>Update #1</h3>"), "{page}");
    assert!(
        page.contains("approved by alice") && page.contains(", published"),
        "{page}"
    );
    assert!(
        page.contains("&lt;b&gt;rotate&lt;&#x2f;b&gt; the @here keys")
            || page.contains("&lt;b&gt;rotate&lt;/b&gt; the @here keys"),
        "typed text is text: {page}"
    );
    assert!(!page.contains("<b>rotate"), "{page}");
    assert!(page.contains("2026-03-01 (overdue)"), "{page}");
    let api = support::get_json(
        &v.http,
        &format!("{}/api/v1/sevs/SEV-1", v.base),
        "api-s3cret",
    )
    .await;
    let f = &api["followups"];
    assert_eq!(f[0]["number"], 1);
    assert_eq!(f[0]["owner"]["id"], "bob");
    assert_eq!(f[0]["due"], "2026-03-01");
    assert_eq!(f[0]["overdue"], true);
    assert_eq!(
        (f[1]["done"].clone(), f[1]["overdue"].clone()),
        (true.into(), false.into())
    );
    let u = &api["customer_updates"][0];
    assert_eq!(u["number"], 1);
    assert_eq!(u["approved_by"]["id"], "alice");
    assert_eq!(u["published"], true);
    assert!(u["text"].as_str().unwrap().len() > 20, "{u}");
    assert_eq!(api["impact"], serde_json::json!([]));
    // The token sees nothing of the security SEV's follow-ups.
    let secret = v.as_token("/sevs/2").await;
    assert!(!secret.contains("revoke the leaked key") && !secret.contains("<h2>Follow-ups</h2>"));
}
