//! Every metric sevbot exports, described once: its kind and its HELP text. Histograms
//! have buckets (so replicas' figures add up in Prometheus), unlabelled series exist from
//! start-up at zero, and `sevbot_build_info` says which release is running.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// (kind, name, HELP, labelled). Unlabelled series are created at start-up at zero.
pub const CATALOGUE: &[(Kind, &str, &str, bool)] = &[
    (
        Kind::Histogram,
        "sevbot_group_commit_size",
        "commands and other writes committed together in one transaction (group commit)",
        false,
    ),
    (
        Kind::Histogram,
        "sevbot_write_seconds",
        "how long one command or monitoring batch held the single database writer (its statements and work inside the transaction; writes queue behind it)",
        false,
    ),
    (
        Kind::Counter,
        "sevbot_config_reloads_total",
        "configuration reloads (SIGHUP, sevbot reload), by result: applied or refused (the one in force kept)",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_commands_total",
        "/sev commands received, by subcommand",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_refusals_total",
        "commands refused, by reason (domain::Refusal)",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_command_failures_total",
        "commands that failed inside sevbot, by kind (database, template, internal)",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_sevs_declared_total",
        "SEVs declared, by type and level",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_sevs_auto_declared_total",
        "availability SEVs declared by sevbot from monitoring",
        false,
    ),
    (
        Kind::Counter,
        "sevbot_availability_samples_total",
        "route availability samples stored, by source",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_http_refused_total",
        "HTTP connections or requests refused by the guard, by reason",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_outbox_deliveries_total",
        "outbox delivery attempts, by platform, effect and result (ok, retry, uncertain, failed)",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_outbox_folded_total",
        "machine lines folded into another message",
        false,
    ),
    (
        Kind::Counter,
        "sevbot_pages_total",
        "pages queued, by escalation step",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_pages_sent_total",
        "pages delivered, by route",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_pins_failed_total",
        "incident cards posted but not pinned (a missing permission), by platform",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_jobs_fired_total",
        "jobs fired, by kind",
        true,
    ),
    (
        Kind::Counter,
        "sevbot_jobs_failed_total",
        "jobs that failed and will be retried, by kind",
        true,
    ),
    (
        Kind::Gauge,
        "sevbot_outbox_pending",
        "outbox rows not yet delivered",
        false,
    ),
    (
        Kind::Gauge,
        "sevbot_outbox_rows",
        "outbox rows by state (pending, in_flight, failed)",
        true,
    ),
    (
        Kind::Gauge,
        "sevbot_outbox_oldest_ready_seconds",
        "how long the oldest row ready to go has waited",
        false,
    ),
    (
        Kind::Gauge,
        "sevbot_jobs_pending",
        "jobs waiting to fire",
        false,
    ),
    (
        Kind::Gauge,
        "sevbot_jobs_oldest_overdue_seconds",
        "how overdue the oldest pending job is",
        false,
    ),
    (
        Kind::Gauge,
        "sevbot_discord_gateway_connected",
        "1 while the Discord gateway is connected",
        false,
    ),
    (
        Kind::Gauge,
        "sevbot_leading",
        "1 while this replica leads the duty (discord-gateway, slack-socket-mode, prometheus-poll)",
        true,
    ),
    (
        Kind::Gauge,
        "sevbot_build_info",
        "1, labelled with the running release's version",
        true,
    ),
    (
        Kind::Histogram,
        "sevbot_job_lateness_seconds",
        "how late jobs fired after their due time, by kind",
        true,
    ),
    (
        Kind::Histogram,
        "sevbot_time_to_ack_seconds",
        "from the first page to the acknowledgement",
        false,
    ),
];

/// Job lateness: the target is within 0.1 s; minutes late means something is wrong.
const LATENESS_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0,
];
/// Time to acknowledge: seconds to the better part of an hour.
const ACK_BUCKETS: &[f64] = &[15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0];

/// Group commit: how many writes shared one transaction.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Time one piece of work holds the writer: a note takes well under a millisecond; tens of
/// milliseconds means writes are queueing behind it.
const WRITE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
];

/// Each histogram with its buckets, so it is exported as a histogram (summaries cannot be
/// added up across replicas).
const BUCKETS: &[(&str, &[f64])] = &[
    ("sevbot_job_lateness_seconds", LATENESS_BUCKETS),
    ("sevbot_time_to_ack_seconds", ACK_BUCKETS),
    ("sevbot_group_commit_size", BATCH_BUCKETS),
    ("sevbot_write_seconds", WRITE_BUCKETS),
];

/// The exporter, with buckets for the histograms.
pub fn builder() -> PrometheusBuilder {
    BUCKETS
        .iter()
        .fold(PrometheusBuilder::new(), |b, (name, buckets)| {
            // Refused only for an empty list of buckets, and these are constants.
            b.set_buckets_for_metric(Matcher::Full((*name).into()), buckets)
                .expect("histogram buckets are not empty")
        })
}

/// HELP for every metric, unlabelled series (and labelled ones whose labels are few and
/// known) at zero, and the build info.
pub fn describe() {
    for (kind, name, help, labelled) in CATALOGUE {
        let name = *name;
        match kind {
            Kind::Counter => {
                metrics::describe_counter!(name, *help);
                if !labelled {
                    metrics::counter!(name).absolute(0);
                }
            }
            Kind::Gauge => {
                metrics::describe_gauge!(name, *help);
                if !labelled {
                    metrics::gauge!(name).set(0.0);
                }
            }
            Kind::Histogram => metrics::describe_histogram!(name, *help),
        }
    }
    for result in ["applied", "refused"] {
        metrics::counter!("sevbot_config_reloads_total", "result" => result).absolute(0);
    }
    crate::engine::seed_metrics();
    metrics::gauge!("sevbot_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_have_buckets_and_every_metric_has_help() {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            metrics::histogram!("sevbot_time_to_ack_seconds").record(42.0);
            metrics::histogram!("sevbot_job_lateness_seconds", "kind" => "escalate").record(0.02);
            metrics::counter!("sevbot_commands_total", "command" => "declare").increment(1);
        });
        let text = handle.render();
        assert!(
            text.contains("# TYPE sevbot_time_to_ack_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("sevbot_time_to_ack_seconds_bucket{le=\"60\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("sevbot_job_lateness_seconds_bucket{kind=\"escalate\",le=\"0.025\"} 1"),
            "{text}"
        );
        assert!(text.contains("sevbot_build_info{version=\""), "{text}");
        // Present before anything happened.
        assert!(text.contains("sevbot_outbox_pending 0"), "{text}");
        assert!(text.contains("sevbot_outbox_folded_total 0"), "{text}");
        assert!(
            text.contains("sevbot_commands_total{command=\"ack\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("sevbot_command_failures_total{kind=\"database\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("sevbot_config_reloads_total{result=\"refused\"} 0"),
            "{text}"
        );
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let name = line.split_whitespace().nth(2).unwrap();
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no HELP for {name}"
            );
        }
    }

    /// A metric recorded anywhere in the source is in the catalogue (so it has HELP).
    #[test]
    fn every_histogram_has_buckets() {
        for (kind, name, _, _) in CATALOGUE {
            if matches!(kind, Kind::Histogram) {
                assert!(
                    BUCKETS.iter().any(|(n, _)| n == name),
                    "{name} would be exported as a summary"
                );
            }
        }
    }

    #[test]
    fn every_recorded_metric_is_described() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(std::fs::read_to_string(p).unwrap());
                }
            }
        }
        let mut files = vec![];
        walk(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
            &mut files,
        );
        let mut used = std::collections::BTreeSet::new();
        for f in &files {
            for macro_ in ["counter!(", "gauge!(", "histogram!("] {
                for part in f.split(macro_).skip(1) {
                    let part = part.trim_start();
                    if let Some(name) = part
                        .strip_prefix('"')
                        .and_then(|r| r.split('"').next())
                        .filter(|n| n.starts_with("sevbot_"))
                    {
                        used.insert(name.to_string());
                    }
                }
            }
        }
        assert!(used.len() > 15, "{used:?}");
        for name in used {
            assert!(
                CATALOGUE.iter().any(|(_, n, _, _)| *n == name),
                "{name} is recorded but not in telemetry::CATALOGUE"
            );
        }
    }
}
