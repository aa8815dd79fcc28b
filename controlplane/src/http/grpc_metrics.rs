//! A tower layer on the control plane's gRPC server counting requests by
//! service, method and status code (`switchyard_cp_grpc_requests_total`)
//! and timing them (`switchyard_cp_grpc_request_seconds`). The code is the
//! one in the response headers: an error answered at once, or OK for a
//! call that answered (a stream's final status comes later, in trailers).
//! Labels stay bounded: paths outside the known services, and methods a
//! service does not implement, are counted as `unknown`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http::{Request, Response};

use super::CpMetrics;

/// The services the server runs.
const SERVICES: [&str; 4] = [
    "switchyard.v1.Admin",
    "switchyard.v1.DataPlane",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
];

#[derive(Clone)]
pub struct GrpcMetricsLayer(pub Arc<CpMetrics>);

impl<S> tower_layer::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> GrpcMetrics<S> {
        GrpcMetrics {
            inner,
            metrics: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    metrics: Arc<CpMetrics>,
}

/// (service, method) of a gRPC path, bounded to the known services.
pub fn labels(path: &str) -> (&'static str, String) {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or("");
    let method = parts.next().unwrap_or("");
    match SERVICES.iter().find(|s| **s == service) {
        Some(s) if !method.is_empty() && method.len() <= 64 => (s, method.to_owned()),
        Some(s) => (s, "unknown".into()),
        None => ("unknown", "unknown".into()),
    }
}

impl<S, B, RB> tower_service::Service<Request<B>> for GrpcMetrics<S>
where
    S: tower_service::Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (service, method) = labels(req.uri().path());
        let started = Instant::now();
        // The clone that was polled ready serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let r = inner.call(req).await;
            let code = match &r {
                Ok(resp) => resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .unwrap_or(0),
                Err(_) => 14, // UNAVAILABLE: the transport failed
            };
            let code = tonic::Code::from_i32(code);
            let method = if code == tonic::Code::Unimplemented {
                "unknown".to_owned()
            } else {
                method
            };
            metrics.grpc_request(service, method, code, started.elapsed().as_secs_f64());
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(
            labels("/switchyard.v1.Admin/ListPools"),
            ("switchyard.v1.Admin", "ListPools".into())
        );
        assert_eq!(labels("/evil/x"), ("unknown", "unknown".into()));
        assert_eq!(labels("/"), ("unknown", "unknown".into()));
        let long = format!("/switchyard.v1.Admin/{}", "x".repeat(100));
        assert_eq!(labels(&long).1, "unknown");
    }
}
