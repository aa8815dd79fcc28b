//! The control plane's monitoring endpoints (`controlplane.http_listen`):
//! the web view (`/`, `crate::web`); `/healthz`; `/readyz` (the database takes writes and the gRPC server
//! runs); `/status` (data planes, breakers, plans, and the embedded data
//! plane's own status in single-machine mode); `/metrics` (one registry:
//! this process's build and `process_*`, the control plane's series and
//! the embedded data plane's). The server itself is the data plane's
//! (`switchyard_dataplane::http`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use switchyard_dataplane::http as dphttp;
use switchyard_dataplane::telemetry::process::ProcessCollector;
use switchyard_dataplane::telemetry::status::StatusQuery;
use switchyard_dataplane::telemetry::view::View;
use tokio_util::sync::CancellationToken;

use crate::grpc::Ctx;

mod grpc_metrics;
mod metrics;
pub use grpc_metrics::GrpcMetricsLayer;
pub use metrics::CpMetrics;

/// How long readiness waits for the database's write lock.
const WRITABLE_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Cp {
    ctx: Arc<Ctx>,
    grpc_up: Arc<AtomicBool>,
    dp: Option<Arc<View>>,
    registry: Arc<Registry>,
}

/// Binds `listen` and serves until `shutdown`; returns the bound address.
pub async fn start(
    ctx: Arc<Ctx>,
    grpc_up: Arc<AtomicBool>,
    dp: Option<Arc<View>>,
    listen: &str,
    token: Option<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let socket = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("controlplane.http_listen: cannot listen on {listen}: {e}"))?;
    let addr = socket.local_addr()?;
    let mut registry = Registry::default();
    let mut components = vec!["controlplane"];
    if dp.is_some() {
        components.push("dataplane");
    }
    registry.register_collector(Box::new(ProcessCollector { components }));
    registry.register_collector(Box::new(ctx.metrics.clone()));
    if let Some(v) = &dp {
        registry.register_collector(Box::new(v.clone()));
    }
    let st = Cp {
        ctx,
        grpc_up,
        dp,
        registry: Arc::new(registry),
    };
    let open = Router::new()
        .route("/healthz", get(dphttp::healthz))
        .route("/readyz", get(readyz))
        .with_state(st.clone())
        .merge(crate::web::routes(st.ctx.clone()));
    let guarded = Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(st);
    tracing::info!(address = %addr, token = token.is_some(), "HTTP endpoints: / (the web view) /healthz /readyz /status /metrics");
    let app = dphttp::app(open, guarded, token);
    Ok((addr, tokio::spawn(dphttp::serve(socket, app, shutdown))))
}

async fn ready(s: &Cp) -> Result<(), String> {
    let mut why = Vec::new();
    if !s.grpc_up.load(Relaxed) {
        why.push("the gRPC server is not running".to_owned());
    }
    match tokio::time::timeout(WRITABLE_WAIT, s.ctx.store.check_writable()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => why.push(format!("the database does not take writes: {e}")),
        Err(_) => why.push(format!(
            "the database's write lock was not free within {WRITABLE_WAIT:?}"
        )),
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("\n"))
    }
}

async fn readyz(State(s): State<Cp>) -> Response {
    dphttp::readiness(ready(&s).await)
}

async fn metrics(State(s): State<Cp>) -> Response {
    s.ctx.metrics.refresh(&s.ctx).await;
    dphttp::metrics_response(&s.registry)
}

async fn status(
    State(s): State<Cp>,
    q: Result<Query<StatusQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => {
            let msg = format!("{}: use worker, offset and limit\n", e.body_text());
            return (StatusCode::BAD_REQUEST, msg).into_response();
        }
    };
    let started = Instant::now();
    let now = switchyard_dataplane::clock::now_ms();
    let ready = ready(&s).await;
    let sites = s.ctx.store.sites().await.unwrap_or_default();
    let name_of = |id: i64| {
        sites
            .iter()
            .find(|x| x.id == id)
            .map_or_else(|| id.to_string(), |x| x.name.clone())
    };
    let dataplanes: Vec<Value> = {
        let live = s.ctx.live();
        let mut v: Vec<Value> = live
            .iter()
            .map(|(id, l)| {
                json!({
                    "id": id,
                    "site": name_of(l.site_id),
                    "connected": l.streams > 0,
                    "miners": l.miners,
                    "active": l.active,
                    "spool_events": l.spool_events,
                    "events_lost": l.events_dropped,
                })
            })
            .collect();
        v.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        v
    };
    let breakers: Vec<Value> = s
        .ctx
        .breakers
        .list(None)
        .await
        .into_iter()
        .map(|b| json!({"site": b.site, "pool": b.pool, "state": b.state, "since_ms": b.changed_ms, "last_error": b.last_error}))
        .collect();
    let plans: Vec<Value> = sites
        .iter()
        .map(|x| {
            let plan = s.ctx.planner.current(x.id);
            json!({"site": x.name, "timezone": x.timezone, "plan_version": plan.map_or(0, |p| p.version)})
        })
        .collect();
    let body = json!({
        "component": "controlplane",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": (now - s.ctx.started_at_ms).max(0) / 1000,
        "ready": ready.is_ok(),
        "not_ready": ready.err().map(|e| e.lines().map(str::to_owned).collect::<Vec<_>>()).unwrap_or_default(),
        "database": {"path": s.ctx.store.path().display().to_string(), "size_bytes": s.ctx.store.size_bytes()},
        "sites": plans,
        "dataplanes": dataplanes,
        "breakers": breakers,
        "dataplane": s.dp.as_ref().map(|v| v.status(&q, now)),
        "took_ms": started.elapsed().as_millis() as u64,
    });
    axum::Json(body).into_response()
}
