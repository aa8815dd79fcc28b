//! The monitoring endpoints' HTTP server (axum), shared by the data plane
//! and the control plane: `/healthz` and `/readyz` for everyone,
//! `/status` and `/metrics` behind an optional bearer token, a plain 404
//! for anything else, 400 for an oversized query, and a graceful stop.
//! [`dataplane_routes`] serves a data plane's [`View`].

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::telemetry::status::StatusQuery;
use crate::telemetry::view::View;

/// Longest query string accepted.
pub const MAX_QUERY: usize = 1024;
/// The exposition's content type (OpenMetrics text, what the encoder writes).
pub const METRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The token in `path` (surrounding whitespace removed; it must not be empty).
pub fn read_token(path: &Path) -> Result<String, String> {
    let t = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let t = t.trim();
    if t.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(t.to_owned())
}

/// `/metrics` text of `registry`.
pub fn metrics_text(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(out)
}

/// A response with the metrics of `registry`.
pub fn metrics_response(registry: &Registry) -> Response {
    match metrics_text(registry) {
        Ok(text) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(METRICS_TYPE))],
            text,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics could not be encoded\n",
        )
            .into_response(),
    }
}

/// Constant-time comparison of two tokens.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses a request without `Authorization: Bearer <token>` (401).
pub async fn require_token(State(token): State<Arc<str>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if same(t.as_bytes(), token.as_bytes()) => next.run(req).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required (http.token_file)\n",
        )
            .into_response(),
    }
}

/// Refuses an oversized query (400) before any handler parses it.
async fn bounded_query(req: Request, next: Next) -> Response {
    if req.uri().query().is_some_and(|q| q.len() > MAX_QUERY) {
        return (
            StatusCode::BAD_REQUEST,
            format!("query longer than {MAX_QUERY} bytes\n"),
        )
            .into_response();
    }
    next.run(req).await
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "not found: try /healthz, /readyz, /status or /metrics\n",
    )
        .into_response()
}

/// `ok` while the process runs.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 `ready`, or 503 with the reasons.
pub fn readiness(r: Result<(), String>) -> Response {
    match r {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

/// Wraps `open` (health, readiness) and `guarded` (status, metrics: the
/// token when there is one) with the 404 and the query bound.
pub fn app(open: Router, guarded: Router, token: Option<String>) -> Router {
    let guarded = match token {
        Some(t) => guarded.layer(middleware::from_fn_with_state(
            Arc::<str>::from(t),
            require_token,
        )),
        None => guarded,
    };
    open.merge(guarded)
        .fallback(not_found)
        .layer(middleware::from_fn(bounded_query))
}

/// Serves `app` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let addr = listener.local_addr().ok();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::error!(address = ?addr, error = %e, "the HTTP endpoints stopped");
    }
}

#[derive(Clone)]
struct Dp {
    view: Arc<View>,
    registry: Arc<Registry>,
}

/// A data plane's endpoints over its `view`; `registry` holds its metrics.
pub fn dataplane_routes(view: Arc<View>, registry: Arc<Registry>, token: Option<String>) -> Router {
    let st = Dp { view, registry };
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/readyz",
            get(|State(s): State<Dp>| async move { readiness(s.view.ready()) }),
        )
        .with_state(st.clone());
    let guarded = Router::new()
        .route("/status", get(status))
        .route(
            "/metrics",
            get(|State(s): State<Dp>| async move { metrics_response(&s.registry) }),
        )
        .with_state(st);
    app(open, guarded, token)
}

async fn status(
    State(s): State<Dp>,
    q: Result<Query<StatusQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match q {
        Ok(Query(q)) => axum::Json(s.view.status(&q, crate::clock::now_ms())).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("{}: use worker, offset and limit\n", e.body_text()),
        )
            .into_response(),
    }
}

/// A registry holding `view`'s metrics (the data plane's own process).
pub fn registry_of(view: Arc<View>) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(view));
    r
}
