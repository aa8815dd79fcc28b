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
/// The exposition's content type: the classic Prometheus text format,
/// which every scraper and `promtool check metrics` read.
pub const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

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

/// `/metrics` text of `registry`, in the classic text format.
pub fn metrics_text(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(classic(&out))
}

/// OpenMetrics text (what prometheus-client writes) as the classic
/// format: a counter family is named as its `_total` samples are, and the
/// `# EOF` and `# UNIT` lines go.
fn classic(open_metrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = open_metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len() + counters.len() * 12);
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((p, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(p);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
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

/// Constant-time comparison of two tokens (the time depends on the
/// lengths only).
pub fn same(a: &[u8], b: &[u8]) -> bool {
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

/// A registry holding `view`'s metrics and the process's (a standalone
/// data plane's one registry).
pub fn registry_of(view: Arc<View>) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(crate::telemetry::process::ProcessCollector {
        components: vec!["dataplane"],
    }));
    r.register_collector(Box::new(view));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_as_their_samples_and_eof_goes() {
        let om = "# HELP a_b Things.\n# TYPE a_b counter\na_b_total{x=\"1\"} 2\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n# EOF\n";
        assert_eq!(
            classic(om),
            "# HELP a_b_total Things.\n# TYPE a_b_total counter\na_b_total{x=\"1\"} 2\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n"
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
    }
}
