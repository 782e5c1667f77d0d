//! `/sev oncall` and `/sev simulate` on the injected clock (Monday 2026-03-02 10:00 UTC):
//! who holds each role now and at a later time, read in the rotation's timezone, and the
//! whole ladder a SEV would climb — named, never mentioned.

mod support;

use support::{Backend, TestApp};

/// Durability SEVs' TLOC is a rotation in Tokyo.
const TOKYO: &str = r#"
[[rotations]]
name = "storage-tloc"
role = "tloc"
types = ["durability"]
members = ["dave"]
timezone = "Asia/Tokyo"
start_date = "2026-01-05"
"#;

async fn ask(app: &TestApp, text: &str) -> String {
    let r = app.cmd("U_BOB", "general", text).await;
    assert!(r.ephemeral, "only the asker sees it: {}", r.text);
    r.text
}

fn line<'a>(text: &'a str, starts: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(starts))
        .unwrap_or_else(|| panic!("no line starting {starts:?} in:\n{text}"))
}

#[tokio::test]
async fn who_is_on_call_now_and_later() {
    let app = TestApp::with_config(Backend::Sqlite, TOKYO).await;
    let now = ask(&app, "oncall").await;
    assert!(now.starts_with("On call now:"), "{now}");
    assert!(
        line(&now, "IMOC for availability").contains("alice (rotation imoc)"),
        "{now}"
    );
    assert!(
        line(&now, "IMOC for security").contains("ian (rotation security-imoc)"),
        "{now}"
    );
    assert!(
        line(&now, "TLOC for durability").contains("dave (rotation storage-tloc)"),
        "{now}"
    );
    assert!(
        line(
            &now,
            "BMOC for availability, durability, security, feature-degradation SEVs"
        )
        .contains("carol"),
        "the same answer for every type is one line: {now}"
    );
    assert!(
        !now.contains('@') && !now.contains("<@"),
        "named, not mentioned: {now}"
    );

    // The security rotation hands over weekly (Monday 09:00): ian this week, jo the next.
    let sat = ask(&app, "oncall imoc at sat 03:00").await;
    assert!(sat.starts_with("On call then:"), "{sat}");
    assert!(!sat.contains("TLOC"), "one role asked: {sat}");
    let l = line(&sat, "IMOC for security");
    assert!(
        l.contains("ian") && l.contains("Sat 2026-03-07 03:00"),
        "{l}"
    );
    let next = ask(&app, "oncall imoc at 2026-03-09 10:00").await;
    assert!(
        line(&next, "IMOC for security").contains("jo (rotation security-imoc)"),
        "{next}"
    );

    // A time without an offset is the rotation's own: Saturday 03:00 in Tokyo is Friday
    // 18:00 UTC.
    let tokyo = ask(&app, "oncall tloc at sat 03:00").await;
    let l = line(&tokyo, "TLOC for durability");
    assert!(
        l.contains("Sat 2026-03-07 03:00 Asia/Tokyo (18:00 UTC)"),
        "{l}"
    );
    let l = line(&tokyo, "TLOC for availability");
    assert!(l.contains("Sat 2026-03-07 03:00 UTC"), "{l}");
}

#[tokio::test]
async fn a_simulated_sev_shows_its_whole_ladder() {
    let app = TestApp::with_config(Backend::Sqlite, TOKYO).await;
    let s = ask(&app, "simulate 1 security").await;
    assert!(
        s.starts_with("A SEV1 security SEV declared Mon 2026-03-02 10:00 UTC would page:"),
        "{s}"
    );
    assert!(line(&s, "IMOC:").contains("ian at once"), "{s}");
    assert!(line(&s, "TLOC:").contains("bob at once"), "{s}");
    assert!(line(&s, "BMOC:").contains("carol at once"), "{s}");
    // The default ladder: 5 min the secondary, 15 the IMOC's manager, 30 the execs.
    assert!(line(&s, "after 5 min").contains("jo"), "{s}");
    assert!(
        line(&s, "after 15 min").contains("mia"),
        "ian's manager: {s}"
    );
    assert!(line(&s, "after 30 min").contains("hank"), "{s}");
    assert!(!s.contains('@'), "{s}");

    // Next week jo is the IMOC, ian the secondary, and jo has no manager to page.
    let later = ask(&app, "simulate 1 security at 2026-03-09 10:00").await;
    assert!(line(&later, "IMOC:").contains("jo at once"), "{later}");
    assert!(line(&later, "after 5 min").contains("ian"), "{later}");
    assert!(line(&later, "after 15 min").contains("nobody"), "{later}");

    // SEV2 needs no BMOC; the type defaults to availability.
    let low = ask(&app, "simulate 2").await;
    assert!(low.starts_with("A SEV2 availability SEV"), "{low}");
    assert!(line(&low, "IMOC:").contains("alice"), "{low}");
    assert!(line(&low, "BMOC:").contains("not filled"), "{low}");
}

#[tokio::test]
async fn what_is_not_a_time_role_or_level_is_said() {
    let app = TestApp::with_config(Backend::Sqlite, TOKYO).await;
    for (text, says) in [
        ("oncall at soon", "\"soon\" is not a time"),
        ("oncall at sat 3pm", "sat 03:00"),
        ("oncall boss", "Unknown role \"boss\""),
        ("oncall imoc tloc", "at most one role"),
        ("simulate", "Say the level"),
        ("simulate 7", "Level 7 does not exist"),
        ("simulate 1 outage", "Unknown SEV type \"outage\""),
    ] {
        let r = app.cmd("U_BOB", "general", text).await;
        assert!(r.text.contains(says), "{text}: {}", r.text);
    }
}
