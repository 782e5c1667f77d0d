//! How many SQL statements each durable command costs, counted from what the database
//! driver reports (sqlx's `sqlx::query` events): every statement in the write path is time
//! the single writer holds the database, so a command touches as few rows as it must, and a
//! new statement in a hot path fails here until its budget is raised on purpose.

mod support;

use std::sync::Mutex;

use sevbot::engine::{Alert, AlertBatch};
use support::{Backend, TestApp};
use tracing_subscriber::layer::SubscriberExt;

/// The statements executed since the last `take`, by their first words.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Count;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Count {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        struct Summary(String);
        impl tracing::field::Visit for Summary {
            fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
                if f.name() == "summary" {
                    self.0 = v.to_string();
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let mut s = Summary(String::new());
        event.record(&mut s);
        SEEN.lock().unwrap().push(s.0);
    }
}

fn take() -> Vec<String> {
    std::mem::take(&mut *SEEN.lock().unwrap())
}

/// Runs `text` and returns the statements it cost (the group commit's BEGIN and COMMIT
/// included: here each command is alone in its batch).
async fn cost(app: &TestApp, user: &str, channel: &str, text: &str) -> Vec<String> {
    take();
    let r = app.cmd(user, channel, text).await;
    assert!(r.refusal.is_none(), "{text}: {}", r.text);
    take()
}

/// Budgets, each what the command costs today on SQLite (its savepoint included: opened
/// in one round trip with the release of the one before, never released itself when it
/// is the batch's last), so the test says when one grows: (command, channel, most
/// statements).
/// PostgreSQL adds one advisory-lock probe per outbox queue a command writes to.
const BUDGETS: &[(&str, &str, usize)] = &[
    // The SEV, its timeline (one insert for all entries, which moves the head), roles (one
    // upsert; the row itself not rewritten for them), ladder, the escalation timer, two
    // pages, the reminder (nothing to cancel yet), and every effect in one outbox insert.
    ("declare availability 1 Checkout failing", "general", 15),
    // The SEV with its roles (one read), the timeline count and entry, one outbox row:
    // card and feeds unchanged.
    ("SEV-1 timeline note rolled back the deploy", "general", 5),
    (
        "SEV-1 update Error rate falling after the rollback",
        "general",
        12,
    ),
    ("SEV-1 ack", "general", 11),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_durable_command_costs_few_statements() {
    let subscriber = tracing_subscriber::registry().with(Count).with(
        tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::query", tracing::Level::DEBUG),
    );
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let app = TestApp::new(Backend::Sqlite).await;
    let mut over = vec![];
    for (text, channel, most) in BUDGETS {
        let user = if text.ends_with("ack") {
            "U_ALICE"
        } else {
            "U_BOB"
        };
        let seen = cost(&app, user, channel, text).await;
        println!("{text}: {} statements\n  {}", seen.len(), seen.join("\n  "));
        if seen.len() > *most {
            over.push(format!("{text}: {} statements, budget {most}", seen.len()));
        }
    }
    assert!(over.is_empty(), "{over:#?}");
    // In the same test: the statement counter is one for the whole binary.
    alert_storms_cost_a_statement_per_alert(&app).await;
}

/// An Alertmanager notification into an open SEV costs one statement per alert (its
/// de-duplication) and a fixed few for all of them: the timeline, the outbox and each
/// route's state are written once per notification, not once per alert.
async fn alert_storms_cost_a_statement_per_alert(app: &TestApp) {
    let webhook = |from: usize, n: usize| AlertBatch {
        version: "4".into(),
        group_key: "storm".into(),
        alerts: (from..from + n)
            .map(|i| Alert {
                status: "firing".into(),
                labels: [
                    ("alertname".to_string(), "HighErrorRate".to_string()),
                    ("route".to_string(), format!("route-{}", i % 2)),
                    ("severity".to_string(), "warning".to_string()),
                ]
                .into(),
                annotations: Default::default(),
                starts_at: "2026-03-02T10:00:00Z".into(),
                fingerprint: format!("f{i}"),
                measured: None,
            })
            .collect(),
    };
    // The first alert declares the SEV the others attach to.
    app.engine.alerts(&webhook(0, 1)).await.unwrap();
    take();
    assert_eq!(app.engine.alerts(&webhook(1, 1)).await.unwrap(), 1);
    let one = take();
    assert_eq!(app.engine.alerts(&webhook(2, 40)).await.unwrap(), 40);
    let forty = take();
    println!(
        "an alert into an open SEV: {} statements\n  {}\nforty: {} statements",
        one.len(),
        one.join("\n  "),
        forty.len()
    );
    // Forty alerts: forty de-duplications, the second route's state, nothing else more.
    assert!(
        forty.len() <= one.len() + 39 + 1,
        "forty alerts cost {} statements, one cost {}:\n  {}",
        forty.len(),
        one.len(),
        forty.join("\n  ")
    );
}
