//! The timeline is tamper-evident: every entry is chained to the one before, and
//! `audit::verify` (the `sevbot audit verify` command) names the first entry that was changed,
//! removed or added beside sevbot.

mod support;

use sevbot::audit;
use sevbot::domain::SevId;
use support::{Backend, TestApp};

async fn sql(app: &TestApp, q: &str) {
    sqlx::query(sqlx::AssertSqlSafe(q.to_string()))
        .execute(&app.engine.store.pool)
        .await
        .unwrap_or_else(|e| panic!("{q}: {e}"));
}

/// What someone with write access to the database does first: the append-only triggers off.
async fn disable_guards(app: &TestApp, b: Backend) {
    match b {
        Backend::Sqlite => {
            sql(app, "DROP TRIGGER incident_events_no_update").await;
            sql(app, "DROP TRIGGER incident_events_no_delete").await;
        }
        Backend::Postgres => sql(app, "ALTER TABLE incident_events DISABLE TRIGGER USER").await,
    }
}

/// The database id of a SEV's `n`th entry (1-based).
async fn row(app: &TestApp, sev: i64, n: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT id FROM incident_events WHERE sev_id = $1 ORDER BY id LIMIT 1 OFFSET $2",
    )
    .bind(sev)
    .bind(n - 1)
    .fetch_one(&app.engine.store.pool)
    .await
    .unwrap()
}

async fn report(app: &TestApp, only: Option<i64>) -> audit::Report {
    audit::verify(&app.engine.store, only.map(SevId))
        .await
        .unwrap()
}

/// SEV-`n`, with a few entries of different kinds.
async fn busy_sev(app: &TestApp, n: i64, title: &str) {
    let d = app
        .cmd(
            "U_CAROL",
            "general",
            &format!("declare availability 2 --new {title}"),
        )
        .await;
    let sev = format!("SEV-{n}");
    assert!(d.text.contains(&sev), "{}", d.text);
    for cmd in [
        "update Rolled back the deploy",
        "timeline note checked the dashboards",
        "mitigated",
    ] {
        let r = app.cmd("U_CAROL", "general", &format!("{sev} {cmd}")).await;
        assert!(
            r.text.starts_with(&format!("{sev}: @carol")),
            "{sev} {cmd}: {}",
            r.text
        );
    }
    app.deliver().await;
}

both_backends!(
    each_change_beside_sevbot_is_named_by_its_entry,
    |b| async move {
        let app = TestApp::new(b).await;
        busy_sev(&app, 1, "Checkout errors").await;
        busy_sev(&app, 2, "Search slow").await;
        busy_sev(&app, 3, "Login loop").await;
        let r = report(&app, None).await;
        assert!(r.intact, "{}", r.text);
        for sev in ["SEV-1: intact", "SEV-2: intact", "SEV-3: intact"] {
            assert!(r.text.contains(sev), "{}", r.text);
        }
        assert!(
            r.text.ends_with("3 SEV(s) checked: 3 intact, 0 broken."),
            "{}",
            r.text
        );

        disable_guards(&app, b).await;
        // An edited note in SEV-1: its own entry breaks.
        let forged: i64 =
            sqlx::query_scalar("SELECT id FROM incident_events WHERE sev_id = 1 AND kind = 'note'")
                .fetch_one(&app.engine.store.pool)
                .await
                .unwrap();
        let position: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_events WHERE sev_id = 1 AND id <= $1",
        )
        .bind(forged)
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap();
        sql(
            &app,
            &format!("UPDATE incident_events SET detail = replace(detail, 'dashboards', 'nothing') WHERE id = {forged}"),
        )
        .await;
        // A removed entry in the middle of SEV-2: the one after it breaks.
        let removed = row(&app, 2, 2).await;
        let next = row(&app, 2, 3).await;
        sql(
            &app,
            &format!("DELETE FROM incident_events WHERE id = {removed}"),
        )
        .await;
        let r = report(&app, None).await;
        assert!(!r.intact);
        assert!(
            r.text.contains(&format!(
                "SEV-1: BROKEN at entry {position} (row {forged}, "
            )),
            "{}",
            r.text
        );
        assert!(
            r.text
                .contains(&format!("SEV-2: BROKEN at entry 2 (row {next}, ")),
            "{}",
            r.text
        );
        assert!(r.text.contains("SEV-3: intact"), "{}", r.text);
        assert!(
            r.text.contains("3 SEV(s) checked: 1 intact, 2 broken."),
            "{}",
            r.text
        );

        // The last entries removed from SEV-3: the SEV's count says so.
        let last = row(&app, 3, 5).await;
        sql(
            &app,
            &format!("DELETE FROM incident_events WHERE sev_id = 3 AND id >= {last}"),
        )
        .await;
        let r = report(&app, Some(3)).await;
        assert!(
            r.text
                .starts_with("SEV-3: BROKEN at entry 5: it is missing"),
            "{}",
            r.text
        );
        assert!(
            audit::verify(&app.engine.store, Some(SevId(99)))
                .await
                .is_err()
        );
    }
);

both_backends!(entries_from_before_the_chain_stay_covered, |b| async move {
    let app = TestApp::new(b).await;
    busy_sev(&app, 1, "Checkout errors").await;
    // As release 0007's migration leaves a SEV declared earlier: entries without hashes.
    disable_guards(&app, b).await;
    sql(&app, "UPDATE incident_events SET hash = NULL").await;
    sql(&app, "UPDATE sevs SET timeline_head = NULL").await;
    let r = report(&app, Some(1)).await;
    assert!(
        r.intact && r.text.contains("recorded before the chain existed"),
        "{}",
        r.text
    );
    // The next entry links over them, so editing one of them afterwards is noticed.
    app.cmd(
        "U_CAROL",
        "general",
        "SEV-1 timeline note after the upgrade",
    )
    .await;
    let r = report(&app, Some(1)).await;
    assert!(r.intact, "{}", r.text);
    let first_hashed: i64 = sqlx::query_scalar(
        "SELECT MIN(id) FROM incident_events WHERE sev_id = 1 AND hash IS NOT NULL",
    )
    .fetch_one(&app.engine.store.pool)
    .await
    .unwrap();
    let old = row(&app, 1, 1).await;
    sql(
        &app,
        &format!("UPDATE incident_events SET actor = 'mallory' WHERE id = {old}"),
    )
    .await;
    let r = report(&app, Some(1)).await;
    assert!(
        r.text.contains(&format!("(row {first_hashed}, ")) && !r.intact,
        "{}",
        r.text
    );
});

both_backends!(
    concurrent_commands_on_one_sev_keep_one_chain,
    |b| async move {
        let app = std::sync::Arc::new(TestApp::new(b).await);
        app.cmd(
            "U_CAROL",
            "general",
            "declare availability 2 Checkout errors",
        )
        .await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                app.cmd("U_CAROL", "general", &format!("SEV-1 timeline note {i}"))
                    .await
            }));
        }
        for t in tasks {
            let r = t.await.unwrap();
            assert!(r.text.starts_with("SEV-1: @carol noted"), "{}", r.text);
        }
        let r = report(&app, Some(1)).await;
        assert!(r.intact, "{}", r.text);
        let notes: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_events WHERE sev_id = 1 AND kind = 'note'",
        )
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap();
        assert_eq!(notes, 16);
    }
);
