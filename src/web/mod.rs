//! The read-only web view for people outside the chat (managers, reviewers): the open
//! SEVs, kept current by a short poll, and one SEV's page. HTML is rendered on the server
//! from the minijinja templates in `templates/`, which escape everything they show: a
//! title is text, never markup. Every page passes `access` first; the view is off (no
//! route at all) unless a web token or a proxy's user header is configured.

pub mod access;
mod report;
mod sla;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::{Environment, context};

pub use access::Access;
use access::Decision;

use crate::domain::SevId;
use crate::domain::report::{PERIODS, Period, Spread};
use crate::domain::words::{fmt_age, fmt_duration};
use crate::engine::Engine;
use crate::engine::views::Reader;
use crate::http::Peer;

/// How many recently ended SEVs the open page lists under the open ones.
const RECENTLY_ENDED: i64 = 10;

#[derive(Clone)]
struct Web {
    engine: Engine,
    access: Arc<Access>,
    pages: Arc<Environment<'static>>,
}

/// The templates, compiled once; names ending in `.html` escape as HTML.
fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, text) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("open.html", include_str!("templates/open.html")),
        ("open_rows.html", include_str!("templates/open_rows.html")),
        ("sev.html", include_str!("templates/sev.html")),
        ("refused.html", include_str!("templates/refused.html")),
        ("not_found.html", include_str!("templates/not_found.html")),
        ("sla.html", include_str!("templates/sla.html")),
        ("reports.html", include_str!("templates/reports.html")),
    ] {
        env.add_template(name, text)
            .unwrap_or_else(|e| panic!("template {name}: {e:#}"));
    }
    env.add_filter("age", |seconds: i64| fmt_age(seconds));
    // RFC 3339 as people read it: "2026-12-02 19:45:08 UTC" (the datetime attribute keeps
    // the machine form).
    env.add_filter("when", |t: String| {
        t.replacen('T', " ", 1).replace('Z', " UTC")
    });
    env
}

pub fn routes(engine: Engine, access: Access) -> Router {
    let web = Web {
        engine,
        access: Arc::new(access),
        pages: Arc::new(templates()),
    };
    let pages = Router::new()
        .route("/", get(open_page))
        .route("/fragments/open", get(open_rows))
        .route("/sevs/{id}", get(sev_page))
        .route("/sla", get(sla_page))
        .route("/reports", get(reports_page))
        .route_layer(middleware::from_fn_with_state(web.clone(), gate))
        .with_state(web);
    Router::new()
        .route("/assets/style.css", get(style))
        .route("/assets/live.js", get(script))
        .merge(pages)
        .layer(middleware::from_fn(hardened))
}

/// What every web response carries: nothing from elsewhere runs or loads, the page is not
/// framed, and neither a token in the address nor the page is kept or passed on.
async fn hardened(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

/// Lets a request in as its reader, sets the cookie after a right `?token=`, or refuses.
async fn gate(State(web): State<Web>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<Peer>().map(|p| p.0);
    let cfg = web.engine.cfg();
    match web.access.decide(&cfg, peer, req.headers(), req.uri()) {
        Decision::Read(reader) => {
            req.extensions_mut().insert(reader);
            next.run(req).await
        }
        Decision::SetCookie { location } => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&location) {
                h.insert(header::LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&web.access.set_cookie()) {
                h.insert(header::SET_COOKIE, v);
            }
            r
        }
        Decision::Refused => {
            let body = web.render(
                "refused.html",
                context! { token => web.access.has_token(), proxy => web.access.has_proxy() },
            );
            let mut r = (StatusCode::UNAUTHORIZED, body).into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

impl Web {
    fn render(&self, name: &str, ctx: minijinja::Value) -> Response {
        match self.pages.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    page = name,
                    "could not render a page"
                );
                failed()
            }
        }
    }

    /// The page `page` makes of the SEVs `reader` may see (and the last `ended` ended).
    async fn open_sevs(
        &self,
        reader: &Reader,
        ended: i64,
        page: impl FnOnce(crate::engine::views::SevList) -> (&'static str, minijinja::Value),
    ) -> Response {
        match self.engine.sev_list(reader, ended).await {
            Ok(list) => {
                let (name, ctx) = page(list);
                self.render(name, ctx)
            }
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "could not read the open SEVs");
                failed()
            }
        }
    }

    /// "Signed in as Ian" for a person; nothing for the shared token.
    fn reader_name(&self, reader: &Reader) -> Option<String> {
        match reader {
            Reader::Anyone => None,
            Reader::Person(id) => Some(self.engine.cfg().display_name(id)),
        }
    }
}

fn failed() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "sevbot could not show this page; its log says why\n",
    )
        .into_response()
}

async fn open_page(
    State(web): State<Web>,
    axum::Extension(reader): axum::Extension<Reader>,
) -> Response {
    let name = web.reader_name(&reader);
    web.open_sevs(&reader, RECENTLY_ENDED, |list| {
        ("open.html", context! { list, reader => name })
    })
    .await
}

/// The open SEVs' table rows alone, for the page's poll.
async fn open_rows(
    State(web): State<Web>,
    axum::Extension(reader): axum::Extension<Reader>,
) -> Response {
    web.open_sevs(&reader, 0, |list| ("open_rows.html", context! { list }))
        .await
}

async fn sev_page(
    State(web): State<Web>,
    axum::Extension(reader): axum::Extension<Reader>,
    Path(id): Path<String>,
) -> Response {
    let parsed = id
        .parse::<i64>()
        .ok()
        .map(SevId)
        .or_else(|| SevId::parse(&id));
    let Some(sev_id) = parsed else {
        let page = web.render(
            "not_found.html",
            context! { message => format!("\"{id}\" is not a SEV id: the address ends in its number, as /sevs/12.") },
        );
        return (StatusCode::NOT_FOUND, page).into_response();
    };
    match web.engine.sev_detail(sev_id, &reader).await {
        Ok(Some(sev)) => web.render(
            "sev.html",
            context! { sev, reader => web.reader_name(&reader) },
        ),
        Ok(None) => {
            let page = web.render(
                "not_found.html",
                context! { message => format!("There is no {sev_id}.") },
            );
            (StatusCode::NOT_FOUND, page).into_response()
        }
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                sev = sev_id.0,
                "could not read a SEV"
            );
            failed()
        }
    }
}

/// The month's downtime against both budgets, with its burn-down chart. Every reader sees
/// it: SEVs appear by id and minutes only.
async fn sla_page(
    State(web): State<Web>,
    axum::Extension(reader): axum::Extension<Reader>,
) -> Response {
    match web.engine.sla_month(web.engine.clock.now_ms()).await {
        Ok(m) => web.render(
            "sla.html",
            context! { sla => sla::view(&m), reader => web.reader_name(&reader) },
        ),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "could not read the SLA month");
            failed()
        }
    }
}

#[derive(serde::Deserialize)]
struct ReportQuery {
    period: Option<String>,
}

/// A month's or a quarter's report (`?period=month|quarter|2026-11|2026-Q4`), with charts.
/// Counts include restricted SEVs; their follow-ups' text only for people who may see them.
async fn reports_page(
    State(web): State<Web>,
    axum::Extension(reader): axum::Extension<Reader>,
    Query(q): Query<ReportQuery>,
) -> Response {
    let now = web.engine.clock.now_ms();
    let Some(period) = Period::parse(q.period.as_deref(), now) else {
        let page = web.render(
            "not_found.html",
            context! { message => format!(
                "\"{}\" is not a period: write {}.",
                q.period.unwrap_or_default(),
                PERIODS.replace('`', "")
            ) },
        );
        return (StatusCode::BAD_REQUEST, page).into_response();
    };
    match web.engine.report(period, &reader).await {
        Ok(r) => {
            let spread = |s: &Spread| {
                let f = |v: Option<i64>| v.map(fmt_duration).unwrap_or_else(|| "—".into());
                context! { median => f(s.median_seconds), p90 => f(s.p90_seconds), count => s.count }
            };
            let t = &r.times;
            let times = vec![
                ("Acknowledge", spread(&t.to_acknowledge)),
                ("Detection", spread(&t.detection)),
                ("Diagnosis", spread(&t.diagnosis)),
                ("Recovery", spread(&t.recovery)),
            ];
            let budgets = vec![
                ("Contract", &r.downtime.contract),
                ("Internal", &r.downtime.internal),
            ];
            let previous = period.previous();
            web.render(
                "reports.html",
                context! {
                    charts => report::charts(&r),
                    times,
                    budgets,
                    previous => context! { key => previous.key(), label => previous.label() },
                    this_month => Period::month_of(now).key(),
                    this_quarter => Period::quarter_of(now).key(),
                    r,
                    reader => web.reader_name(&reader),
                },
            )
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "could not read the report");
            failed()
        }
    }
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/style.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/live.js"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    /// The templates are part of the binary: a broken one must fail here, not at start-up.
    #[test]
    fn every_template_compiles() {
        let env = super::templates();
        assert!(env.templates().count() >= 8);
        for (name, t) in env.templates() {
            assert!(t.name() == name, "{name}");
        }
    }
}
