//! Follow-ups: added with an owner and a due date (also after the SEV ended), listed,
//! marked done; open ones in `/sev status` once it is over, all of them in the postmortem.

mod support;

use sevbot::domain::Refusal;
use support::{Backend, T0, TestApp};

const CH: &str = "sev-1-search-slow";

/// SEV-1 "Search slow", declared by dave at T0, its channel open.
async fn declared() -> TestApp {
    let app = TestApp::new(Backend::Sqlite).await;
    app.clock.set(T0);
    app.cmd("U_DAVE", "general", "declare availability 2 Search slow")
        .await;
    app.deliver().await;
    app
}

#[tokio::test]
async fn follow_ups_outlive_the_sev() {
    let app = declared().await;
    let ch = CH;
    let r = app
        .cmd(
            "U_ALICE",
            ch,
            "followup add Alert on index shard size @bob due 2026-03-10",
        )
        .await;
    assert_eq!(
        r.text,
        "SEV-1: @alice added follow-up #1: Alert on index shard size (@bob, due 2026-03-10)."
    );
    app.deliver().await;
    assert!(
        app.posts_in(ch)
            .iter()
            .any(|p| p.contains("added follow-up #1: Alert on index shard size")),
        "told in the channel: {:?}",
        app.posts_in(ch)
    );
    // Mistakes are told precisely.
    let r = app.cmd("U_ALICE", ch, "followup add Fix it @zed").await;
    assert!(
        matches!(&r.refusal, Some(Refusal::UnknownOwner { user, .. }) if user == "zed"),
        "{}",
        r.text
    );
    let r = app
        .cmd("U_ALICE", ch, "followup add Fix it due tomorrow")
        .await;
    assert!(
        r.text
            .starts_with("\"tomorrow\" is not a date like 2026-03-10."),
        "{}",
        r.text
    );
    let r = app.cmd("U_ALICE", ch, "followup done 7").await;
    assert_eq!(
        r.refusal,
        Some(Refusal::NoSuchFollowup {
            id: sevbot::domain::SevId(1),
            number: 7
        })
    );

    for cmd in ["mitigated", "resolved", "close"] {
        app.cmd("U_ALICE", ch, cmd).await;
    }
    app.deliver().await;
    // After the end: added and closed, told to the person, not posted to the archived channel.
    let before = app.fake.calls().len();
    let r = app
        .cmd(
            "U_CAROL",
            "general",
            "SEV-1 followup add Runbook for shard rebalancing",
        )
        .await;
    assert!(r.refusal.is_none(), "{}", r.text);
    app.cmd("U_BOB", "general", "SEV-1 followup done 1").await;
    app.deliver().await;
    assert_eq!(app.fake.calls().len(), before, "nothing posted");
    let list = app
        .cmd("U_BOB", "general", "SEV-1 followup list")
        .await
        .text;
    assert_eq!(
        list,
        "Follow-ups of SEV-1:\n#1 [done] Alert on index shard size — @bob, due 2026-03-10\n#2 [open] Runbook for shard rebalancing"
    );
    let status = app.cmd("U_BOB", "general", "SEV-1 status").await.text;
    assert!(
        status.ends_with("Open follow-ups:\n#2 [open] Runbook for shard rebalancing"),
        "{status}"
    );
    let pm = app.cmd("U_BOB", "general", "SEV-1 postmortem").await.text;
    assert!(
        pm.contains("## Action items\n\n- #1 [done] Alert on index shard size — bob, due 2026-03-10\n- #2 [open] Runbook for shard rebalancing\n"),
        "{pm}"
    );
}

/// On the due date (09:00 where the owner is) the owner gets a direct message, once, unless
/// the follow-up is done by then.
#[tokio::test]
async fn owners_are_reminded_on_the_due_date() {
    let app = declared().await;
    let ch = CH;
    app.cmd(
        "U_ALICE",
        ch,
        "followup add Alert on shard size @bob due 2026-03-05",
    )
    .await;
    app.cmd(
        "U_ALICE",
        ch,
        "followup add Rebalance runbook @carol due 2026-03-05",
    )
    .await;
    app.cmd("U_CAROL", ch, "followup done 2").await;
    app.deliver().await;
    let reminders = || -> Vec<(String, String)> {
        app.fake
            .pages()
            .into_iter()
            .filter(|(_, text)| text.starts_with("Follow-up #"))
            .collect()
    };
    async fn at(app: &TestApp, ms: i64) {
        app.clock.set(ms);
        app.tick().await;
        app.deliver().await;
    }
    let nine = 1_772_701_200_000; // 2026-03-05 09:00 UTC
    at(&app, nine - 60_000).await;
    assert!(reminders().is_empty(), "not before 09:00");
    at(&app, nine).await;
    assert_eq!(
        reminders(),
        vec![(
            "bob".to_string(),
            "Follow-up #1 of SEV-1 is due 2026-03-05: Alert on shard size\nMark it done with `/sev SEV-1 followup done 1`.".to_string()
        )],
        "bob once; carol's is done"
    );
    at(&app, nine + 3_600_000).await;
    assert_eq!(reminders().len(), 1, "once");
}
