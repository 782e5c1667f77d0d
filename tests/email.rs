//! The SEV's e-mail thread through a real SMTP server (aiosmtpd, started here): one
//! thread per SEV to the configured lists and to e-mail subscribers, the declaration first,
//! then a reply per update and stage change threaded by `In-Reply-To`/`References`;
//! non-ASCII titles encoded as mail clients expect; restricted SEVs redacted for lists not
//! cleared for them; a temporary SMTP refusal retried.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sevbot::adapters::sinks::email::Email;
use support::{Backend, TestApp};

const CONFIG: &str = r#"
[email]
from = "sevbot <sevbot@example.com>"
lists = [
  "incidents@example.com",
  { address = "security-team@example.com", types = ["security"], private = true },
]
"#;

/// aiosmtpd in a child process; killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut child = Command::new("python3")
            .args(["-W", "ignore"])
            .arg(script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("the SMTP server did not start (is aiosmtpd installed? `pip install aiosmtpd`, as .ci/run does): {line:?}")
        });
        SmtpServer { child, port, dir }
    }

    fn url(&self) -> String {
        format!("smtp://sevbot:s3cret@127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order.
    fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .collect()
    }

    fn to(&self, address: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| m["rcpt_tos"][0] == address)
            .collect()
    }

    fn fail_next(&self) {
        std::fs::write(self.dir.path().join("fail"), "").unwrap();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn app_with_mail(smtp: &SmtpServer) -> TestApp {
    let mut app = TestApp::with_config(Backend::Sqlite, CONFIG).await;
    let from = app.engine.cfg().email.from.clone().unwrap();
    app.add_sink(Arc::new(Email::new(&smtp.url(), &from).unwrap()));
    app
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

#[tokio::test]
async fn a_sev_is_one_thread_per_list() {
    let smtp = SmtpServer::start();
    let app = app_with_mail(&smtp).await;
    app.cmd(
        "U_ALICE",
        "general",
        "declare availability 1 Checkout failing in Zürich",
    )
    .await;
    app.deliver().await;
    let ch = "general";
    app.cmd(
        "U_ALICE",
        ch,
        "SEV-1 update Rolled back deploy 1234; errors falling",
    )
    .await;
    app.cmd(
        "U_ALICE",
        ch,
        "SEV-1 timeline note looked at the dashboards",
    )
    .await;
    app.cmd("U_ALICE", ch, "SEV-1 mitigated").await;
    app.deliver().await;

    let got = smtp.to("incidents@example.com");
    assert_eq!(got.len(), 3, "opening, update, mitigated: {got:#?}");
    let (open, update, mitigated) = (&got[0], &got[1], &got[2]);
    // Sent authenticated, from the configured sender.
    assert_eq!(open["authenticated"], true);
    assert_eq!(open["mail_from"], "sevbot@example.com");
    assert_eq!(s(&open["from"]), "sevbot <sevbot@example.com>");
    // The title's ü travels as an RFC 2047 encoded word and reads back as typed.
    assert_eq!(
        s(&open["subject"]),
        "[SEV-1] SEV1 availability: Checkout failing in Zürich"
    );
    assert!(
        s(&open["raw_subject"]).contains("=?utf-8?"),
        "{}",
        open["raw_subject"]
    );
    assert_eq!(open["content_type"], "text/plain");
    assert_eq!(open["charset"], "utf-8");
    assert!(s(&open["body"]).contains("Checkout failing in Zürich"));
    assert!(s(&open["body"]).contains("IMOC @alice"), "{}", open["body"]);
    assert!(!s(&open["date"]).is_empty());
    // Threaded: the opening has no parent, every reply names it.
    let root = s(&open["message_id"]);
    assert_eq!(root, "<sev-1.1772445600000@example.com>");
    assert!(open["in_reply_to"].is_null());
    for reply in [update, mitigated] {
        assert_eq!(s(&reply["in_reply_to"]), root);
        assert_eq!(s(&reply["references"]), root);
        assert_ne!(s(&reply["message_id"]), root);
        assert!(s(&reply["subject"]).starts_with("Re: [SEV-1]"));
    }
    assert!(
        s(&update["body"])
            .contains("@alice posted an update: Rolled back deploy 1234; errors falling"),
        "{}",
        update["body"]
    );
    assert!(
        s(&mitigated["body"]).contains("→ mitigated"),
        "{}",
        mitigated["body"]
    );
    // The note is the channel's, not the list's; the security list hears of no
    // availability SEV.
    assert!(!got.iter().any(|m| s(&m["body"]).contains("dashboards")));
    assert!(smtp.to("security-team@example.com").is_empty());
}

#[tokio::test]
async fn restricted_sevs_reach_lists_redacted_and_cleared_lists_in_full() {
    let smtp = SmtpServer::start();
    let app = app_with_mail(&smtp).await;
    app.cmd(
        "U_IAN",
        "general",
        "declare security 1 Leaked API key for payments",
    )
    .await;
    app.deliver().await;
    let ch = app
        .fake
        .calls()
        .into_iter()
        .find_map(|c| match c {
            support::fake::Call::Create { name, .. } => Some(name),
            _ => None,
        })
        .expect("the SEV's channel");
    app.cmd("U_IAN", &ch, "update rotating the leaked key")
        .await;
    app.cmd("U_IAN", &ch, "mitigated").await;
    app.deliver().await;

    let public = smtp.to("incidents@example.com");
    assert_eq!(
        public.len(),
        2,
        "opening and the stage change only: {public:#?}"
    );
    for m in &public {
        let all = format!("{} {}", m["subject"], m["body"]);
        assert!(
            !all.contains("Leaked") && !all.contains("rotating"),
            "{all}"
        );
        assert!(all.contains("restricted"), "{all}");
    }
    assert_eq!(s(&public[0]["subject"]), "[SEV-1] security · restricted");
    let cleared = smtp.to("security-team@example.com");
    assert_eq!(cleared.len(), 3, "{cleared:#?}");
    assert!(s(&cleared[0]["subject"]).contains("Leaked API key for payments"));
    assert!(s(&cleared[1]["body"]).contains("rotating the leaked key"));
}

#[tokio::test]
async fn e_mail_subscriptions_use_feed_filters_and_smtp_refusals_are_retried() {
    let smtp = SmtpServer::start();
    let app = app_with_mail(&smtp).await;
    let r = app
        .cmd(
            "U_BOB",
            "general",
            "subscribe email=SRE-Leads@Example.com level<=1",
        )
        .await;
    assert_eq!(
        r.text,
        "Subscribed sre-leads@example.com to SEVs: all types, SEV1 and more critical. Each SEV is one e-mail thread: the declaration, then a reply per status update and stage change."
    );
    let r = app
        .cmd(
            "U_BOB",
            "general",
            "subscribe email=ops@example.com type=security",
        )
        .await;
    assert!(
        r.refusal.is_some(),
        "security needs a cleared list: {}",
        r.text
    );
    let r = app.cmd("U_BOB", "general", "subscribe email=ops").await;
    assert!(r.text.contains("is not an e-mail address"), "{}", r.text);

    app.cmd("U_ALICE", "general", "declare availability 3 Slow avatars")
        .await;
    app.advance_minutes(3);
    // The SMTP server refuses the first message for a while (451): it waits, then goes.
    smtp.fail_next();
    app.cmd("U_ALICE", "general", "declare availability 1 Search down")
        .await;
    app.deliver().await;
    // Lists get both SEVs; the subscriber only the SEV1.
    let subscriber = smtp.to("sre-leads@example.com");
    let list = smtp.to("incidents@example.com");
    assert_eq!(
        list.len() + subscriber.len(),
        2,
        "one was refused: {:#?}",
        smtp.messages()
    );
    app.advance_minutes(10);
    app.deliver().await;
    let subscriber = smtp.to("sre-leads@example.com");
    assert_eq!(subscriber.len(), 1, "{subscriber:#?}");
    assert_eq!(
        s(&subscriber[0]["subject"]),
        "[SEV-2] SEV1 availability: Search down"
    );
    assert_eq!(smtp.to("incidents@example.com").len(), 2);
    assert_eq!(app.pending_outbox().await, 0);

    let r = app
        .cmd(
            "U_BOB",
            "general",
            "unsubscribe email=sre-leads@example.com",
        )
        .await;
    assert_eq!(
        r.text,
        "sre-leads@example.com will no longer get new SEV announcements."
    );
    app.advance_minutes(3);
    app.cmd(
        "U_ALICE",
        "general",
        "declare availability 0 Everything down",
    )
    .await;
    app.deliver().await;
    assert_eq!(smtp.to("sre-leads@example.com").len(), 1);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn without_smtp_e_mail_subscriptions_are_refused_with_the_fix() {
    let app = TestApp::with_config(Backend::Sqlite, CONFIG).await;
    let r = app
        .cmd("U_BOB", "general", "subscribe email=sre@example.com")
        .await;
    assert!(r.text.contains("SMTP_URL"), "{}", r.text);
    app.cmd("U_ALICE", "general", "declare availability 1 Search down")
        .await;
    app.deliver().await;
    assert_eq!(
        app.pending_outbox().await,
        0,
        "nothing queued for a sink that is not there"
    );
}
