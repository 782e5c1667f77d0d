//! JSON log lines that collectors can index: one flat object per event, with the fields of
//! the spans it happened in (`sev`, `platform`, `command`, `row`, …) beside the event's
//! own, instead of tracing-subscriber's nesting under `span` and `spans`.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format for `--log-json`; pair it with `JsonFields`, so each span's fields are
/// kept as a JSON object to merge.
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        // Outer spans first, so an inner span's field (and then the event's) wins.
        if let Some(scope) = ctx.event_scope() {
            let mut names = vec![];
            for span in scope.from_root() {
                names.push(span.name());
                let ext = span.extensions();
                let fields = ext.get::<FormattedFields<N>>().map(|f| f.fields.as_str());
                if let Some(Ok(Value::Object(o))) = fields.map(serde_json::from_str::<Value>) {
                    line.extend(o);
                }
            }
            if !names.is_empty() {
                line.insert("span".into(), names.join(":").into());
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::format::JsonFields;

    use super::FlatJson;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn span_fields_are_top_level_beside_the_event() {
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("command", platform = "slack", sev = 12);
            let _o = outer.enter();
            let inner = tracing::info_span!("deliver", row = 7, platform = "discord");
            let _i = inner.enter();
            tracing::warn!(error = "timed out", "page not delivered");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["message"], "page not delivered");
        assert_eq!(v["error"], "timed out");
        assert_eq!(v["sev"], 12);
        assert_eq!(v["row"], 7);
        assert_eq!(v["platform"], "discord", "the inner span wins");
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["span"], "command:deliver");
        assert!(v.get("fields").is_none() && v.get("spans").is_none(), "{v}");
    }
}
