//! The engine, store, outbox and scheduler together, on real SQLite and real PostgreSQL.

mod support;

use sevbot::clock::Clock;
use sevbot::effects::DeliveryError;
use support::{Backend, Call, TestApp};

const CH: &str = "sev-1-checkout-failing";

async fn declare(app: &TestApp) {
    let r = app
        .cmd(
            "U_ALICE",
            "general",
            "declare availability 1 Checkout failing",
        )
        .await;
    assert!(r.text.starts_with("SEV-1 declared: SEV1 availability \"Checkout failing\". Channel #sev-1-checkout-failing."), "{}", r.text);
    assert!(
        r.text.contains("IMOC @alice, TLOC @bob, BMOC @carol"),
        "{}",
        r.text
    );
    assert!(r.text.contains("SEV1 means: Major"), "{}", r.text);
    assert!(!r.ephemeral);
    app.deliver().await;
}

both_backends!(full_lifecycle_in_the_channel, |b| async move {
    let app = TestApp::new(b).await;
    declare(&app).await;
    let calls = app.fake.channel_calls();
    assert_eq!(
        calls[0],
        Call::Create {
            name: CH.into(),
            private: false
        }
    );
    assert!(calls.contains(&Call::Invite {
        channel: CH.into(),
        people: vec!["alice".into(), "bob".into(), "carol".into()]
    }));
    let card_id = calls
        .iter()
        .find_map(|c| match c {
            Call::Post { id, text, .. } if text.starts_with("card:") => Some(id.clone()),
            _ => None,
        })
        .expect("card posted");
    assert!(calls.contains(&Call::Pin {
        channel: CH.into(),
        id: card_id.clone()
    }));
    assert!(
        app.posts_in(CH)
            .iter()
            .any(|p| p == "<alice> declared a SEV1 availability SEV \"Checkout failing\"")
    );
    assert!(
        app.posts_in(CH)
            .iter()
            .any(|p| p == "<sevbot> made <alice> IMOC")
    );

    // Inside the channel, commands need no id.
    let r = app.cmd("U_BOB", CH, "update rolled back deploy 42").await;
    assert!(
        r.text.contains("moved it declared → investigating"),
        "{}",
        r.text
    );
    let r = app.cmd("U_ALICE", CH, "level 0 spreading to EU").await;
    assert_eq!(
        r.text,
        "SEV-1: @alice changed the level SEV1 → SEV0: spreading to EU."
    );
    assert!(
        app.cmd("U_BOB", CH, "mitigated")
            .await
            .text
            .contains("investigating → mitigated")
    );
    assert!(
        app.cmd("U_BOB", CH, "resolved")
            .await
            .text
            .contains("mitigated → resolved")
    );
    let r = app.cmd("U_BOB", CH, "close").await;
    assert!(
        r.text
            .starts_with("Only SEV-1's IMOC (alice) or an admin may close it; ask them."),
        "{}",
        r.text
    );
    // Anywhere, with the id.
    assert!(
        app.cmd("U_ALICE", "general", "close SEV-1")
            .await
            .text
            .contains("resolved → closed")
    );
    app.deliver().await;

    // The card was edited in place, never posted twice.
    let calls = app.fake.calls();
    let card_posts = calls
        .iter()
        .filter(|c| matches!(c, Call::Post { text, .. } if text.starts_with("card:")))
        .count();
    assert_eq!(card_posts, 1);
    let last_edit = calls.iter().rev().find_map(|c| match c {
        Call::Edit { id, text, .. } if *id == card_id => Some(text.clone()),
        _ => None,
    });
    assert!(
        last_edit
            .unwrap()
            .starts_with("card: SEV-1 · SEV0 availability · closed")
    );
    let topics: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Topic { topic, .. } => Some(topic.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        topics.last().unwrap(),
        "SEV-1 SEV0 availability | closed | IMOC <alice> | Checkout failing"
    );

    let tl = app.cmd("U_BOB", "general", "timeline SEV-1").await.text;
    for expected in [
        "@alice declared a SEV1 availability SEV",
        "sevbot made @bob TLOC",
        "channel #sev-1-checkout-failing opened",
        "@bob posted an update: rolled back deploy 42",
        "@alice changed the level SEV1 → SEV0",
        "@alice moved it resolved → closed",
    ] {
        assert!(tl.contains(expected), "{expected} missing from {tl}");
    }

    // A restart keeps everything.
    let again = app.restart("replica-b").await;
    let list = again.cmd("U_CAROL", "general", "list").await.text;
    assert!(list.contains("No open SEVs."), "{list}");
    assert!(
        list.contains("SEV-1 SEV0 availability · closed · Checkout failing · IMOC @alice"),
        "{list}"
    );
    assert_eq!(again.pending_outbox().await, 0);
});

both_backends!(
    illegal_transitions_are_refused_with_reasons,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await;
        let r = app.cmd("U_ALICE", CH, "close").await;
        assert_eq!(
            r.text,
            "Can't mark SEV-1 closed: it is declared; only a resolved SEV can be closed (mark it resolved first)."
        );
        assert!(r.ephemeral);
        app.cmd("U_ALICE", CH, "mitigated").await;
        let r = app.cmd("U_ALICE", CH, "cancel false alarm").await;
        assert!(
            r.text
                .contains("mark it resolved (`/sev resolved`) instead of cancelling"),
            "{}",
            r.text
        );
        let r = app.cmd("U_ALICE", CH, "mitigated").await;
        assert!(r.text.contains("it is already mitigated"), "{}", r.text);
        app.cmd("U_ALICE", CH, "resolved").await;
        // The advice follows the stage: a resolved SEV is closed, not resolved again.
        let r = app.cmd("U_ALICE", CH, "cancel false alarm").await;
        assert_eq!(
            r.text,
            "Can't cancel SEV-1: it is resolved, so it was real; close it (`/sev close`) once its follow-ups are written down."
        );
        let r = app.cmd("U_ALICE", CH, "level 0").await;
        assert!(r.text.contains("can no longer change"), "{}", r.text);
        app.cmd("U_DAVE", CH, "close").await; // an admin may close
        for cmd in [
            "update more",
            "mitigated",
            "resolved",
            "close",
            "cancel x",
            "role imoc @bob",
        ] {
            let r = app.cmd("U_ALICE", CH, cmd).await;
            assert!(
                r.text.contains("SEV-1 is closed; nothing more can change"),
                "{cmd}: {}",
                r.text
            );
        }
        // Notes are still welcome: the postmortem is written from the timeline. The
        // channel is archived, so nothing is posted.
        app.deliver().await;
        let before = app.fake.calls().len();
        let r = app.cmd("U_ALICE", CH, "timeline note late").await;
        assert!(r.refusal.is_none(), "{}", r.text);
        app.deliver().await;
        assert_eq!(
            app.fake.calls().len(),
            before,
            "{:?}",
            &app.fake.calls()[before..]
        );
        let r = app.cmd("U_ALICE", CH, "timeline").await;
        assert!(r.text.contains("noted: late"), "{}", r.text);
        let r = app.cmd("U_ALICE", "general", "status").await;
        assert!(
            r.text.starts_with("#general is not a SEV channel"),
            "{}",
            r.text
        );
        let r = app.cmd("U_ALICE", "general", "status SEV-9").await;
        assert_eq!(r.text, "There is no SEV-9; `/sev list` shows the SEVs.");
        let r = app.cmd("U_ALICE", CH, "role imoc @zed").await;
        assert!(r.text.starts_with("I don't know @zed"), "{}", r.text);
        let r = app.cmd("U_ALICE", CH, "role imoc @alicee").await;
        assert!(r.text.contains("Did you mean @alice?"), "{}", r.text);
    }
);

both_backends!(cancel_needs_the_imoc_and_stops_reminders, |b| async move {
    let app = TestApp::new(b).await;
    declare(&app).await;
    let r = app.cmd("U_BOB", CH, "cancel duplicate of SEV-0").await;
    assert!(
        r.text.starts_with("Only SEV-1's IMOC (alice)"),
        "{}",
        r.text
    );
    let r = app.cmd("U_ALICE", CH, "cancel duplicate").await;
    assert!(
        r.text.contains("declared → cancelled: duplicate"),
        "{}",
        r.text
    );
    app.advance_minutes(120);
    assert_eq!(app.tick().await, 0, "a cancelled SEV is not reminded");
});

both_backends!(
    feeds_announce_matching_sevs_and_edit_in_place,
    |b| async move {
        let app = TestApp::new(b).await;
        let r = app.cmd("U_CAROL", "exec-feed", "subscribe level<=1").await;
        assert!(r.text.contains("SEV1 and more critical"), "{}", r.text);
        app.cmd("U_CAROL", "security-feed", "subscribe type=security")
            .await;
        let r = app
            .cmd("U_ALICE", "general", "declare availability 2 Search slow")
            .await;
        assert!(r.text.starts_with("SEV-1 declared"));
        app.deliver().await;
        assert!(
            app.posts_in("exec-feed").is_empty(),
            "SEV2 is below the exec filter"
        );
        assert!(app.posts_in("security-feed").is_empty());

        // Raised to SEV1, it now matches: announced once, then edited.
        app.cmd("U_ALICE", "sev-1-search-slow", "level 1").await;
        app.deliver().await;
        let posts = app.posts_in("exec-feed");
        assert_eq!(posts.len(), 1);
        assert!(
            posts[0].starts_with("feed: SEV-1 · SEV1 availability · declared · Search slow"),
            "{}",
            posts[0]
        );
        app.cmd("U_BOB", "sev-1-search-slow", "update index rebuilt")
            .await;
        app.deliver().await;
        let calls = app.fake.calls();
        let feed_id = calls
            .iter()
            .find_map(|c| match c {
                Call::Post { channel, id, .. } if channel == "exec-feed" => Some(id.clone()),
                _ => None,
            })
            .unwrap();
        let edits: Vec<_> = calls
            .iter()
            .filter_map(|c| match c {
                Call::Edit { channel, id, text } if channel == "exec-feed" => {
                    Some((id.clone(), text.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].0, feed_id);
        assert!(edits[0].1.contains("Latest update: index rebuilt"));
        assert!(edits[0].1.contains("investigating"));
        assert_eq!(app.posts_in("exec-feed").len(), 1, "edited, not reposted");

        let r = app.cmd("U_CAROL", "exec-feed", "unsubscribe").await;
        assert!(r.text.contains("no longer"));
        let r = app.cmd("U_CAROL", "exec-feed", "unsubscribe").await;
        assert!(r.text.contains("is not subscribed"));
        app.cmd(
            "U_ALICE",
            "general",
            "declare availability 0 Everything down --new",
        )
        .await;
        app.deliver().await;
        assert_eq!(
            app.posts_in("exec-feed").len(),
            1,
            "unsubscribed channels get no new SEVs"
        );
    }
);

both_backends!(security_sevs_get_private_channels, |b| async move {
    let app = TestApp::new(b).await;
    app.cmd(
        "U_ALICE",
        "general",
        "declare security 2 Leaked token --customer-impact",
    )
    .await;
    app.deliver().await;
    assert_eq!(
        app.fake.channel_calls()[0],
        Call::Create {
            name: "sev-1-security".into(),
            private: true
        }
    );
    let status = app.cmd("U_ALICE", "sev-1-security", "status").await.text;
    assert!(status.contains("customer impact"), "{status}");
    assert!(
        status.contains("BMOC @carol"),
        "customer impact needs a BMOC: {status}"
    );
});

both_backends!(name_taken_gets_a_suffix, |b| async move {
    let app = TestApp::new(b).await;
    app.fake.taken.lock().unwrap().insert(CH.into());
    app.fake.taken.lock().unwrap().insert(format!("{CH}-2"));
    app.cmd(
        "U_ALICE",
        "general",
        "declare availability 1 Checkout failing",
    )
    .await;
    app.deliver().await;
    let calls = app.fake.channel_calls();
    assert_eq!(
        calls[0],
        Call::Create {
            name: format!("{CH}-3"),
            private: false
        }
    );
    assert!(
        calls
            .iter()
            .skip(1)
            .all(|c| c.channel() == format!("{CH}-3")),
        "{calls:?}"
    );
    let r = app.cmd("U_ALICE", &format!("{CH}-3"), "status").await;
    assert!(r.text.contains(&format!("Channel: #{CH}-3")), "{}", r.text);
});

both_backends!(
    outage_then_everything_arrives_in_order_once,
    |b| async move {
        let app = TestApp::new(b).await;
        app.fake
            .down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        app.cmd(
            "U_ALICE",
            "general",
            "declare availability 1 Checkout failing",
        )
        .await;
        for i in 0..5 {
            app.cmd("U_ALICE", "general", &format!("SEV-1 update step {i}"))
                .await;
        }
        app.deliver().await;
        assert!(app.fake.calls().is_empty());
        let pending = app.pending_outbox().await;
        assert!(pending > 10, "{pending}");

        // The process dies; the platform recovers; a new process picks everything up.
        let again = app.restart("replica-b").await;
        again
            .fake
            .down
            .store(false, std::sync::atomic::Ordering::SeqCst);
        again.advance_minutes(10); // past every backoff
        again.deliver().await;
        assert_eq!(again.pending_outbox().await, 0);
        let posts = again.posts_in(CH);
        let updates: Vec<_> = posts
            .iter()
            .filter(|p| p.contains("posted an update"))
            .collect();
        assert_eq!(updates.len(), 5, "{posts:?}");
        for (i, u) in updates.iter().enumerate() {
            assert!(
                u.ends_with(&format!("step {i}")),
                "out of order: {updates:?}"
            );
        }
        assert_eq!(
            again.fake.channel_calls()[0],
            Call::Create {
                name: CH.into(),
                private: false
            }
        );
        // Extra cycles send nothing more.
        again.advance_minutes(10);
        let before = again.fake.calls().len();
        again.deliver().await;
        app.deliver().await;
        assert_eq!(again.fake.calls().len(), before);
    }
);

both_backends!(rate_limits_are_waited_out, |b| async move {
    let app = TestApp::new(b).await;
    app.fake.fail_next_of(
        "create",
        DeliveryError::Retry {
            reason: "429".into(),
            after: Some(std::time::Duration::from_secs(30)),
        },
    );
    app.cmd(
        "U_ALICE",
        "general",
        "declare availability 1 Checkout failing",
    )
    .await;
    app.deliver().await;
    assert!(
        app.fake.channel_calls().is_empty(),
        "nothing goes out before Retry-After"
    );
    assert_eq!(
        app.fake.pages().len(),
        2,
        "pages (TLOC and BMOC; the IMOC declared it) do not wait behind the incident channel"
    );
    app.clock.advance(std::time::Duration::from_secs(29));
    app.deliver().await;
    assert!(app.fake.channel_calls().is_empty());
    app.clock.advance(std::time::Duration::from_secs(2));
    app.deliver().await;
    assert_eq!(
        app.fake.channel_calls()[0],
        Call::Create {
            name: CH.into(),
            private: false
        }
    );
});

both_backends!(
    permanent_failures_are_kept_and_do_not_block_the_queue,
    |b| async move {
        let app = TestApp::new(b).await;
        app.cmd(
            "U_ALICE",
            "general",
            "declare availability 1 Checkout failing",
        )
        .await;
        app.deliver().await;
        app.fake
            .fail_next_of("post", DeliveryError::Permanent("is_archived".into()));
        app.cmd("U_ALICE", CH, "update one").await;
        app.cmd("U_ALICE", CH, "update two").await;
        app.deliver().await;
        let posts = app.posts_in(CH);
        assert!(!posts.iter().any(|p| p.ends_with("update: one")));
        assert!(posts.iter().any(|p| p.ends_with("update: two")));
        let (err,): (String,) =
            sqlx::query_as("SELECT last_error FROM outbox WHERE status = 'failed'")
                .fetch_one(&app.engine.store.pool)
                .await
                .unwrap();
        assert_eq!(err, "is_archived");
    }
);

both_backends!(
    reminders_fire_once_reset_on_update_and_survive_restarts,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await; // SEV1: every 30 minutes
        app.advance_minutes(20);
        assert_eq!(app.tick().await, 0);
        app.cmd("U_ALICE", CH, "update still digging").await; // resets the clock
        app.advance_minutes(20); // 40 min after declare, 20 after the update
        assert_eq!(app.tick().await, 0, "the update reset the reminder");

        // A process claims the due reminder and dies before firing it; the process
        // started after it takes the reminder over at once (the dead one's session is
        // gone), not after the lease.
        app.advance_minutes(11);
        let now = app.clock.now_ms();
        let claimed = sevbot::store::jobs::claim_due(&app.engine.store, "crashed", now, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let survivor = app.restart("replica-b").await;
        survivor.clock.advance(std::time::Duration::from_secs(1));
        assert_eq!(survivor.tick().await, 1, "taken over at start-up");
        assert_eq!(survivor.tick().await, 0);
        survivor.deliver().await;
        let reminders: Vec<_> = survivor
            .posts_in(CH)
            .into_iter()
            .filter(|p| p.contains("no update for"))
            .collect();
        assert_eq!(
            reminders,
            vec!["no update for 31 min: <alice>, please post one (`/sev update …`)".to_string()]
        );
        // The dead replica's late completion changes nothing.
        assert!(
            !sevbot::store::jobs::complete(
                &mut app.engine.store.pool.acquire().await.unwrap(),
                claimed[0].id,
                "crashed",
                now
            )
            .await
            .unwrap()
        );

        // Due 30 min after the update; fired 1 min later plus the second of the restart.
        assert_eq!(lateness_of_last_reminder(&survivor).await, 61_000);
        // Resolved SEVs are not reminded; extra cycles send nothing.
        survivor.cmd("U_ALICE", CH, "resolved").await;
        survivor.advance_minutes(600);
        assert_eq!(survivor.tick().await, 0);
        let before = survivor.fake.calls().len();
        survivor.deliver().await;
        let after: Vec<_> = survivor.fake.calls()[before..].to_vec();
        assert!(
            after
                .iter()
                .all(|c| !matches!(c, Call::Post { text, .. } if text.contains("reminded"))),
            "{after:?}"
        );
    }
);

async fn lateness_of_last_reminder(app: &TestApp) -> i64 {
    let (due, done): (i64, i64) = sqlx::query_as("SELECT due_at, done_at FROM jobs WHERE cancelled = 0 AND done_at IS NOT NULL ORDER BY id DESC LIMIT 1")
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap();
    done - due
}

both_backends!(two_replicas_fire_each_job_exactly_once, |b| async move {
    let a = TestApp::new(b).await;
    let b2 = a.restart("replica-b").await;
    for i in 0..20 {
        a.cmd(
            "U_ALICE",
            "general",
            &format!("declare availability 0 Outage {i} --new"),
        )
        .await;
    }
    a.advance_minutes(16); // SEV0 reminders are due at 15 minutes
    let (x, y) = tokio::join!(a.tick(), b2.tick());
    assert_eq!(x + y, 20, "a={x} b={y}");
    let (x, y) = tokio::join!(a.tick(), b2.tick());
    assert_eq!(x + y, 0);
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM incident_events WHERE kind = 'update_reminder'")
            .fetch_one(&a.engine.store.pool)
            .await
            .unwrap();
    assert_eq!(n, 20);
});

both_backends!(the_timeline_is_append_only, |b| async move {
    let app = TestApp::new(b).await;
    declare(&app).await;
    let upd = sqlx::query("UPDATE incident_events SET actor = 'mallory'")
        .execute(&app.engine.store.pool)
        .await;
    assert!(upd.is_err(), "timeline rows must not change");
    let del = sqlx::query("DELETE FROM incident_events")
        .execute(&app.engine.store.pool)
        .await;
    assert!(del.is_err(), "timeline rows must not be deleted");
});

both_backends!(readiness_checks_migrations, |b| async move {
    let app = TestApp::new(b).await;
    app.engine.store.ready().await.expect("ready");
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&app.engine.store.pool)
        .await
        .unwrap();
    let e = app.engine.store.ready().await.unwrap_err();
    let expected = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert!(
        e.to_string()
            .contains(&format!("migrations applied: 0 of {expected}")),
        "{e}"
    );
});

both_backends!(
    roles_fill_when_a_sev_gains_customer_impact,
    |b| async move {
        let app = TestApp::new(b).await;
        app.cmd("U_ALICE", "general", "declare durability 3 Backups lagging")
            .await;
        let s = app
            .cmd("U_ALICE", "sev-1-backups-lagging", "status SEV-1")
            .await
            .text;
        assert!(!s.contains("BMOC"), "{s}");
        let r = app
            .cmd("U_BOB", "general", "SEV-1 level 1 restores failing")
            .await;
        assert!(r.text.contains("sevbot made @carol BMOC"), "{}", r.text);
        let r = app.cmd("U_BOB", "general", "SEV-1 role imoc @U_DAVE").await;
        assert_eq!(
            r.text,
            "alice holds IMOC on SEV-1. Only they or an admin can hand it over; ask them with `/sev SEV-1 ask imoc`."
        );
        let r = app
            .cmd("U_ALICE", "general", "SEV-1 role imoc @U_DAVE")
            .await;
        assert!(
            r.text.contains("@alice made @dave IMOC (was @alice)"),
            "{}",
            r.text
        );
    }
);

both_backends!(a_failed_pin_does_not_duplicate_the_card, |b| async move {
    let app = TestApp::new(b).await;
    app.fake.fail_next_of(
        "pin",
        DeliveryError::Retry {
            reason: "500".into(),
            after: None,
        },
    );
    app.cmd(
        "U_ALICE",
        "general",
        "declare availability 1 Checkout failing",
    )
    .await;
    app.deliver().await;
    app.advance_minutes(1);
    app.deliver().await;
    assert_eq!(app.pending_outbox().await, 0);
    let cards = app
        .posts_in(CH)
        .into_iter()
        .filter(|p| p.starts_with("card:"))
        .count();
    assert_eq!(cards, 1, "{:?}", app.fake.calls());
});

// Discord's Pin Messages missing (50013): the card is the card, unpinned; nothing fails
// and later edits land on it.
both_backends!(
    a_pin_refused_for_good_leaves_the_card_unpinned,
    |b| async move {
        let app = TestApp::new(b).await;
        app.fake.fail_next_of(
            "pin",
            DeliveryError::Permanent(
                "Missing Permissions (give the bot's role Pin Messages)".into(),
            ),
        );
        app.cmd(
            "U_ALICE",
            "general",
            "declare availability 1 Checkout failing",
        )
        .await;
        app.deliver().await;
        app.cmd("U_ALICE", CH, "update rolled back").await;
        app.deliver().await;
        let failed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
            .fetch_one(&app.engine.store.pool)
            .await
            .unwrap();
        assert_eq!(failed, 0);
        assert!(
            !app.fake
                .calls()
                .iter()
                .any(|c| matches!(c, support::fake::Call::Pin { .. }))
        );
        let edited = app.fake.calls().iter().any(
            |c| matches!(c, support::fake::Call::Edit { text, .. } if text.contains("rolled back")),
        );
        assert!(edited, "the card is still edited in place");
    }
);

both_backends!(a_held_job_is_not_polled_in_a_tight_loop, |b| async move {
    let app = TestApp::new(b).await;
    declare(&app).await; // reminder due 30 min after declare
    let store = &app.engine.store;
    let due = sevbot::store::jobs::next_due(store).await.unwrap().unwrap();
    assert_eq!(due, support::T0 + 30 * 60_000);
    app.advance_minutes(31);
    let now = app.clock.now_ms();
    assert_eq!(
        sevbot::store::jobs::claim_due(store, "other", now, 30_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // The job another replica holds is not "due now": the scheduler sleeps until its
    // poll interval instead of spinning on it.
    let next = sevbot::store::jobs::next_due(store).await.unwrap();
    assert!(next.is_none_or(|n| n > now), "{next:?}");
});

both_backends!(
    a_retyped_declare_asks_instead_of_duplicating,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await;
        app.clock.advance(std::time::Duration::from_secs(40));
        let r = app
            .cmd(
                "U_ALICE",
                "general",
                "declare availability 1 checkout broken",
            )
            .await;
        assert!(r.ephemeral);
        assert!(
        r.text.starts_with("You declared SEV-1 \"Checkout failing\" 40 s ago (#sev-1-checkout-failing). Is this the same incident?"),
        "{}",
        r.text
    );
        // Someone else, or another type, is not a retype.
        assert!(
            app.cmd("U_BOB", "general", "declare availability 1 checkout broken")
                .await
                .text
                .starts_with("SEV-2 declared")
        );
        assert!(
            app.cmd("U_ALICE", "general", "declare security 2 odd logins")
                .await
                .text
                .starts_with("SEV-3 declared")
        );
        // --new says it is separate; after the window nobody asks.
        assert!(
            app.cmd(
                "U_ALICE",
                "general",
                "declare availability 2 search slow --new"
            )
            .await
            .text
            .starts_with("SEV-4 declared")
        );
        app.advance_minutes(3);
        assert!(
            app.cmd("U_ALICE", "general", "declare availability 2 images slow")
                .await
                .text
                .starts_with("SEV-5 declared")
        );
    }
);

both_backends!(a_redelivered_command_changes_nothing, |b| async move {
    let app = TestApp::new(b).await;
    let inv = sevbot::engine::Invocation::new(support::PLATFORM, "U_ALICE", "general");
    let first = app
        .engine
        .handle_once(
            &inv,
            "declare availability 1 Checkout failing",
            "t:1",
            false,
        )
        .await;
    assert!(first.unwrap().text.starts_with("SEV-1 declared"));
    assert!(
        app.engine
            .handle_once(
                &inv,
                "declare availability 1 Checkout failing",
                "t:1",
                false
            )
            .await
            .is_none()
    );
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sevs")
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Deferred: the reply is queued once.
    let inv2 = sevbot::engine::Invocation {
        channel: CH.into(),
        ..inv
    };
    app.deliver().await;
    for _ in 0..2 {
        app.engine
            .handle_once(&inv2, "update hello", "t:2", true)
            .await;
    }
    app.deliver().await;
    let replies = app
        .fake
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Reply { .. }))
        .count();
    assert_eq!(replies, 1);
    assert_eq!(
        app.posts_in(CH)
            .iter()
            .filter(|p| p.ends_with("update: hello"))
            .count(),
        1
    );
});

both_backends!(
    old_delivery_keys_are_pruned_by_a_recurring_job,
    |b| async move {
        let app = TestApp::new(b).await;
        app.engine.ensure_housekeeping().await.unwrap();
        app.engine.ensure_housekeeping().await.unwrap();
        let inv = sevbot::engine::Invocation::new(support::PLATFORM, "U_ALICE", "general");
        app.engine
            .handle_once(&inv, "list", "old-key", false)
            .await
            .unwrap();
        app.advance_minutes(25 * 60);
        app.engine
            .handle_once(&inv, "list", "fresh-key", false)
            .await
            .unwrap();
        assert_eq!(app.tick().await, 1, "one housekeeping job, fired once");
        let keys: Vec<(String,)> = sqlx::query_as("SELECT key FROM inbound_seen ORDER BY key")
            .fetch_all(&app.engine.store.pool)
            .await
            .unwrap();
        assert_eq!(keys, vec![("fresh-key".to_string(),)]);
        // It keeps itself scheduled.
        app.advance_minutes(61);
        assert_eq!(app.tick().await, 1);
    }
);

// Everyone is invited to a new SEV's channel once, however the declarer and the role
// holders overlap.
both_backends!(each_person_is_invited_once, |b| async move {
    let app = TestApp::new(b).await;
    // Carol declares and is also the BMOC: declarer, IMOC, TLOC, BMOC.
    app.cmd(
        "U_CAROL",
        "general",
        "declare availability 1 --customer-impact Checkout failing",
    )
    .await;
    app.deliver().await;
    let invited: Vec<Vec<String>> = app
        .fake
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Invite { people, .. } => Some(people),
            _ => None,
        })
        .collect();
    assert_eq!(invited, [["carol", "alice", "bob"]]);
});

/// A job whose transaction keeps failing is retried with a growing delay (10 s, 20 s, …)
/// and given up after half an hour with its reason kept, instead of every 10 s forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_failing_backs_off_and_is_given_up() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.cmd(
        "U_ALICE",
        "general",
        "declare availability 1 Checkout failing",
    )
    .await;
    app.deliver().await;
    let pool = &app.engine.store.pool;
    // Anything that would send a message now fails: the update reminder cannot commit.
    sqlx::query("CREATE TRIGGER no_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'outbox refused'); END")
        .execute(pool)
        .await
        .unwrap();
    let row = || async {
        sqlx::query_as::<_, (i64, i64, Option<i64>, i64, Option<String>)>(
            "SELECT attempts, due_at, done_at, failed, last_error FROM jobs \
             WHERE kind = 'update_reminder' ORDER BY id LIMIT 1",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let first_due = row().await.1;
    app.clock.set(first_due);
    let mut delays = vec![];
    for _ in 0..sevbot::scheduler::MAX_JOB_ATTEMPTS {
        let before = app.clock.now_ms();
        app.tick().await;
        let (_, due, done, _, error) = row().await;
        assert!(error.unwrap_or_default().contains("outbox refused"));
        if done.is_some() {
            break;
        }
        delays.push((due - before) / 1000);
        app.clock.set(due);
    }
    assert_eq!(delays, [10, 20, 40, 80, 160, 320, 600, 600]);
    let (attempts, _, done, failed, _) = row().await;
    assert_eq!((attempts, done.is_some(), failed), (9, true, 1));
    // Given up: nothing is due any more, however long the scheduler runs.
    app.clock.set(first_due + 86_400_000);
    app.tick().await;
    assert_eq!(row().await.0, 9);
}

/// A command that fails inside sevbot is answered by what failed (here the database),
/// changes nothing, and its log line carries the command, the platform and the SEV.
#[tokio::test]
async fn a_failed_command_is_told_by_kind_and_logged_with_its_sev() {
    let logs = support::Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::new(Backend::Sqlite).await;
    app.cmd("U_ALICE", "general", "declare availability 2 Search slow")
        .await;
    app.deliver().await;
    sqlx::query("CREATE TRIGGER no_events BEFORE INSERT ON incident_events BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        .execute(&app.engine.store.pool)
        .await
        .unwrap();
    let r = app
        .cmd("U_BOB", "sev-1-search-slow", "update failing over")
        .await;
    assert!(r.ephemeral, "{}", r.text);
    assert!(
        r.text.starts_with(
            "sevbot could not save that because its database is failing; nothing was changed."
        ),
        "{}",
        r.text
    );
    let logged = logs.text();
    let line = logged
        .lines()
        .find(|l| l.contains("command failed"))
        .unwrap_or_else(|| panic!("no failure logged:\n{logged}"));
    assert!(
        line.contains("command{command=\"update\" platform=test channel=sev-1-search-slow sev=1}")
            && line.contains("failure=\"database\"")
            && line.contains("disk full"),
        "{line}"
    );
}

/// Refusals are data: each comes back as its variant (what tests and metrics go by), worded
/// in one place.
#[tokio::test]
async fn refusals_come_back_as_their_variant() {
    use sevbot::domain::{Refusal, SevId, Stage};
    let app = TestApp::new(Backend::Sqlite).await;
    app.cmd("U_ALICE", "general", "declare availability 2 Search slow")
        .await;
    app.deliver().await;
    let refusal = |r: sevbot::engine::Reply| {
        let why = r
            .refusal
            .unwrap_or_else(|| panic!("not refused: {}", r.text));
        assert_eq!(r.text, why.to_string());
        assert!(r.ephemeral);
        why
    };
    let sev1 = SevId(1);
    let r = app.cmd("U_BOB", "general", "SEV-9 status").await;
    assert_eq!(refusal(r), Refusal::NoSuchSev { id: SevId(9) });
    let r = app.cmd("U_BOB", "general", "status").await;
    assert!(matches!(
        refusal(r),
        Refusal::NotASevChannel {
            command: "status",
            ..
        }
    ));
    let r = app.cmd("U_BOB", "general", "unsubscribe").await;
    assert!(matches!(refusal(r), Refusal::NotSubscribed { .. }));
    let r = app
        .cmd("U_ALICE", "general", "declare availability 2 Search slow")
        .await;
    assert!(matches!(refusal(r), Refusal::JustDeclared { id, .. } if id == sev1));
    let r = app.cmd("U_BOB", "general", "SEV-1 role tloc @zed").await;
    assert!(matches!(refusal(r), Refusal::UnknownPerson { user, .. } if user == "zed"));
    let r = app.cmd("U_BOB", "general", "SEV-1 level 2").await;
    assert!(matches!(refusal(r), Refusal::SameLevel { id, .. } if id == sev1));
    let r = app.cmd("U_BOB", "general", "SEV-1 close").await;
    assert_eq!(
        refusal(r),
        Refusal::CannotMove {
            id: sev1,
            from: Stage::Declared,
            to: Stage::Closed
        }
    );
    // An answer that is not a refusal carries none.
    let r = app.cmd("U_BOB", "general", "SEV-1 status").await;
    assert!(r.refusal.is_none(), "{}", r.text);
}

/// A better title reaches the card, the topic and the feeds; the channel keeps its name;
/// only the declarer, the IMOC or an admin may give it.
#[tokio::test]
async fn retitle_changes_the_headline_everywhere_but_the_channel_name() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.cmd("U_CAROL", "feed", "subscribe").await;
    app.cmd("U_DAVE", "general", "declare availability 2 Search slow")
        .await;
    app.deliver().await;
    let before = app.fake.calls().len();
    let r = app.cmd("U_BOB", "general", "SEV-1 retitle Nope").await;
    assert!(
        matches!(
            r.refusal,
            Some(sevbot::domain::Refusal::NotTitleOwner { .. })
        ),
        "the TLOC may not: {}",
        r.text
    );
    let r = app
        .cmd(
            "U_DAVE",
            "general",
            "SEV-1 retitle Search index empty in EU",
        )
        .await;
    assert!(r.refusal.is_none(), "{}", r.text);
    app.deliver().await;
    let calls = app.fake.calls()[before..].to_vec();
    let has = |f: &dyn Fn(&Call) -> bool| calls.iter().any(f);
    assert!(
        has(
            &|c| matches!(c, Call::Topic { topic, .. } if topic.contains("Search index empty in EU"))
        ),
        "{calls:?}"
    );
    assert!(
        has(
            &|c| matches!(c, Call::Edit { channel, text, .. } if channel == "sev-1-search-slow" && text.contains("Search index empty in EU"))
        ),
        "the card: {calls:?}"
    );
    assert!(
        has(
            &|c| matches!(c, Call::Edit { channel, text, .. } if channel == "feed" && text.contains("Search index empty in EU"))
        ),
        "the feed: {calls:?}"
    );
    assert!(
        has(
            &|c| matches!(c, Call::Post { text, .. } if text.contains("retitled it \"Search slow\" → \"Search index empty in EU\""))
        ),
        "{calls:?}"
    );
    assert!(
        !has(&|c| matches!(c, Call::Create { .. })),
        "no new channel"
    );
    let r = app.cmd("U_DAVE", "general", "SEV-1 status").await;
    assert!(r.text.contains("#sev-1-search-slow"), "{}", r.text);
}
