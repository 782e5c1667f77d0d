//! The read API for tools and people outside chat: `GET /api/v1/sevs/{id}/postmortem`
//! (Markdown). Authenticated with its own token (`API_TOKEN`, or the variable
//! `server.api_token_env` names); off while the token is unset.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::monitoring::authorized;
use crate::domain::SevId;
use crate::engine::Engine;

#[derive(Clone)]
struct Api {
    engine: Engine,
    token: Arc<[u8]>,
}

pub fn routes(engine: Engine, token: &str) -> Router {
    Router::new()
        .route("/api/v1/sevs/{id}/postmortem", get(postmortem))
        .with_state(Api {
            engine,
            token: token.as_bytes().into(),
        })
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, body.into()).into_response()
}

async fn postmortem(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&headers, &api.token) {
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "missing or wrong credentials: send Authorization: Bearer <the API token>\n",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer".parse().expect("static header"),
        );
        return r;
    }
    let Some(id) = SevId::parse(&id) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("\"{id}\" is not a SEV id; write it as SEV-12\n"),
        );
    };
    match api.engine.postmortem_of(id).await {
        Ok(Some(doc)) => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            doc,
        )
            .into_response(),
        Ok(None) => text(StatusCode::NOT_FOUND, format!("there is no {id}\n")),
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                sev = id.0,
                "could not write a postmortem"
            );
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "sevbot could not write the postmortem; its log says why\n",
            )
        }
    }
}
