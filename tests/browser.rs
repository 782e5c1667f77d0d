//! The web view in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
//! driven over WebDriver), against the real binary: refused without the token, in with
//! `?token=` once, a SEV declared over Slack's HTTP endpoint appears on the open page
//! without a reload, links lead from the list to the SEV and back and to the SLA and reports pages, a security SEV shows
//! nothing but its id to the token, and an accessibility smoke check (language, one h1,
//! headings in order, captioned tables, link text, level colours' contrast) on each page.
//! `UPDATE_DOCS=1` writes the screenshots the README shows (`docs/screenshots/`).

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::bot::Bot;
use support::fake_slack::{FakeSlack, TOKEN as SLACK_TOKEN};
use support::slack_app::{SECRET, signed_post, slash_form};

const WEB_TOKEN: &str = "browser-s3cret";
const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, stopped with the test.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn driver() -> Driver {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(DRIVER).exists(),
        "the browser tests need Debian's chromium and chromium-driver (.ci/run installs them)"
    );
    let port = support::free_port();
    let child = Command::new(DRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    let start = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(&status).await
            && r.json::<Value>()
                .await
                .is_ok_and(|v| v["value"]["ready"] == true)
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver { child, url }
}

/// A headless Chromium that reaches nothing but localhost (no background networking, a
/// fresh profile).
async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session in Chromium")
}

/// Clicks the link that reads `text` and waits for the page at `path`.
async fn follow(c: &Client, text: &str, path: &str) {
    c.find(Locator::LinkText(text))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let script = format!("return location.pathname === {path:?}");
    until_page(c, &format!("{path} after following {text}"), &script).await;
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits (polling the page, never reloading it) until `script` returns true.
async fn until_page(c: &Client, what: &str, script: &str) {
    let start = Instant::now();
    loop {
        if c.execute(script, vec![]).await.unwrap() == json!(true) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: not within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The accessibility smoke check, run in the page: what it finds wrong, and the level
/// badges' text and background colours for the contrast check.
const A11Y: &str = r#"
const problems = [];
if (!document.documentElement.lang) problems.push("no lang on <html>");
if (!document.title.trim()) problems.push("no title");
const h1 = document.querySelectorAll("h1");
if (h1.length !== 1) problems.push(h1.length + " h1 elements");
let last = 0;
for (const h of document.querySelectorAll("h1,h2,h3,h4,h5,h6")) {
  const n = Number(h.tagName[1]);
  if (n > last + 1) problems.push("heading " + h.tagName + " after h" + last + ": " + h.textContent);
  last = n;
}
for (const t of document.querySelectorAll("table")) {
  if (!t.querySelector("caption") && !t.getAttribute("aria-label")) problems.push("a table without a caption");
  if (!t.querySelector("th")) problems.push("a table without headers");
}
for (const a of document.querySelectorAll("a")) {
  if (!a.textContent.trim() && !a.getAttribute("aria-label")) problems.push("a link without text: " + a.href);
}
for (const i of document.querySelectorAll("img")) {
  if (!i.hasAttribute("alt")) problems.push("an image without alt");
}
for (const f of document.querySelectorAll("input,select,textarea")) {
  if (!(f.labels && f.labels.length) && !f.getAttribute("aria-label")) problems.push("a field without a label");
}
const badges = [];
for (const l of [0, 1, 2, 3]) {
  const s = document.createElement("span");
  s.className = "level level-" + l;
  s.textContent = "SEV" + l;
  document.body.appendChild(s);
  const c = getComputedStyle(s);
  badges.push([l, c.color, c.backgroundColor]);
  s.remove();
}
return { problems, badges };
"#;

fn rgb(css: &str) -> [f64; 3] {
    let n: Vec<f64> = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .map(|p| p.trim().parse().unwrap())
        .collect();
    [n[0], n[1], n[2]]
}

/// WCAG 2 contrast ratio.
fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let lum = |c: [f64; 3]| {
        let ch = |v: f64| {
            let v = v / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(c[0]) + 0.7152 * ch(c[1]) + 0.0722 * ch(c[2])
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

async fn accessible(c: &Client, page: &str) {
    let found = c.execute(A11Y, vec![]).await.unwrap();
    let problems = found["problems"].as_array().unwrap();
    assert!(problems.is_empty(), "{page}: {problems:?}");
    for b in found["badges"].as_array().unwrap() {
        let ratio = contrast(rgb(b[1].as_str().unwrap()), rgb(b[2].as_str().unwrap()));
        assert!(
            ratio >= 4.5,
            "{page}: SEV{} badge contrast {ratio:.2} < 4.5",
            b[0]
        );
    }
}

/// Writes a screenshot for the README when asked to (`UPDATE_DOCS=1`); checks it is a PNG.
async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let path = format!("{}/docs/screenshots/{name}.png", env!("CARGO_MANIFEST_DIR"));
        std::fs::write(path, png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_view_in_a_real_browser() {
    let (slack, saddr) = FakeSlack::start().await;
    let env = [
        ("SEVBOT_WEB_TOKEN", WEB_TOKEN.to_string()),
        ("SLACK_BOT_TOKEN", SLACK_TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", SECRET.to_string()),
        ("SLACK_API_URL", format!("http://{saddr}/api")),
    ];
    let mut bot = Bot::new(support::CONFIG, "", &env);
    bot.start();
    bot.ready().await;
    let base = format!("http://127.0.0.1:{}", bot.port);
    let driver = driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // No token: the sign-in page, and nothing of any SEV.
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(text_of(&c, "h1").await, "Sign in to sevbot");
    accessible(&c, "sign-in").await;

    // ?token= once: the cookie, and the address without the token.
    c.goto(&format!("{base}/?token={WEB_TOKEN}")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().as_str(), format!("{base}/"));
    assert_eq!(text_of(&c, "h1").await, "Open SEVs");
    assert!(text_of(&c, "#open-rows").await.contains("No open SEVs."));

    // Declared over Slack's HTTP endpoint while the page is open: it appears without a
    // reload (the marker set in this page survives).
    c.execute("window.stillTheSamePage = true; return true", vec![])
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let now = chrono::Utc::now().timestamp();
    let declare = |text: &'static str, user: &'static str| {
        let http = http.clone();
        let url = format!("{base}/slack/commands");
        async move {
            let r = signed_post(
                &http,
                &url,
                SECRET,
                "application/x-www-form-urlencoded",
                slash_form(user, "C_GENERAL", text),
                now,
            )
            .await;
            assert_eq!(r.status(), 200);
        }
    };
    declare("declare availability 1 Checkout failing in EU", "U_ALICE").await;
    until_page(
        &c,
        "the declared SEV on the open page",
        r#"return !!document.querySelector('tr[data-sev="SEV-1"]')"#,
    )
    .await;
    assert_eq!(
        c.execute("return window.stillTheSamePage === true", vec![])
            .await
            .unwrap(),
        json!(true),
        "the page was not reloaded"
    );
    let row = text_of(&c, r#"tr[data-sev="SEV-1"]"#).await;
    assert!(
        row.contains("Checkout failing in EU") && row.contains("IMOC alice"),
        "{row}"
    );
    accessible(&c, "open SEVs").await;
    screenshot(&c, "web-open").await;

    // From the list to the SEV's page and back, by its links.
    follow(&c, "SEV-1", "/sevs/1").await;
    let h1 = text_of(&c, "h1").await;
    assert!(h1.contains("SEV-1: Checkout failing in EU"), "{h1}");
    let timeline = text_of(&c, "ol.timeline").await;
    assert!(timeline.contains("declared"), "{timeline}");
    accessible(&c, "SEV page").await;
    screenshot(&c, "web-sev").await;
    follow(&c, "All open SEVs", "/").await;

    // The SLA page, from the nav.
    follow(&c, "SLA", "/sla").await;
    assert!(text_of(&c, "h1").await.starts_with("SLA, "));
    assert!(c.find(Locator::Css("svg.burn polyline")).await.is_ok());
    accessible(&c, "SLA").await;
    screenshot(&c, "web-sla").await;
    c.goto(&format!("{base}/")).await.unwrap();

    // A security SEV: the token sees that it exists, never what it is.
    declare("declare security 1 Signing key leaked", "U_CAROL").await;
    until_page(
        &c,
        "the security SEV listed",
        r#"return !!document.querySelector('tr[data-sev="SEV-2"]')"#,
    )
    .await;
    let row = text_of(&c, r#"tr[data-sev="SEV-2"]"#).await;
    assert!(
        row.contains("restricted") && !row.contains("Signing key"),
        "{row}"
    );
    c.goto(&format!("{base}/sevs/2")).await.unwrap();
    let page = c.source().await.unwrap();
    assert!(
        page.contains("is restricted") && !page.contains("Signing key"),
        "{page}"
    );
    accessible(&c, "restricted SEV page").await;

    // The reports page, from the nav: this month's two SEVs, three charts; then the
    // quarter by its link.
    follow(&c, "Reports", "/reports").await;
    let h1 = text_of(&c, "h1").await;
    assert!(
        h1.starts_with("Report, ") && h1.ends_with("to date"),
        "{h1}"
    );
    let main = text_of(&c, "main").await;
    assert!(main.contains("2 SEVs"), "{main}");
    assert!(!main.contains("Signing key"), "{main}");
    assert_eq!(
        c.find_all(Locator::Css("svg.bars rect"))
            .await
            .unwrap()
            .len(),
        4 + 8 + 3,
        "bars for 4 levels, 4 phases × 2, downtime and 2 budgets"
    );
    accessible(&c, "reports").await;
    screenshot(&c, "web-reports").await;
    c.find(Locator::LinkText("This quarter"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(
        &c,
        "the quarter's report",
        r#"return location.search === "?period=quarter" && document.querySelector("h1").textContent.startsWith("Report, Q")"#,
    )
    .await;

    c.close().await.unwrap();
    bot.kill();
    drop(slack);
}
