//! The control plane's own series: data planes connected per site, share
//! events ingested per site and the ingest batch time, the database's
//! size, and the breakers as a state set. Counters are kept as events
//! happen; the gauges that need the database (breakers, site names) are
//! refreshed by the `/metrics` handler before it encodes.

use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use switchyard_dataplane::telemetry::tally::Tally;

use crate::grpc::Ctx;

/// Breaker states, each a series of the state set.
const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];

/// The control plane's counters and its scrape-time snapshot.
#[derive(Debug)]
pub struct CpMetrics {
    /// Share events stored, by site.
    pub ingested: Tally<String>,
    /// Seconds to store one batch.
    pub ingest_seconds: Histogram,
    /// gRPC requests by (service, method, code).
    grpc: Tally<(&'static str, String, &'static str)>,
    /// gRPC request time, by service.
    grpc_seconds: Mutex<std::collections::BTreeMap<&'static str, Histogram>>,
    snapshot: Mutex<Snapshot>,
}

#[derive(Debug, Default)]
struct Snapshot {
    dataplanes: Vec<(String, u64)>,
    breakers: Vec<(String, String, String)>,
    transitions: Vec<((String, String, &'static str), u64)>,
    recomputes: Vec<(&'static str, u64)>,
    db_bytes: u64,
}

impl Default for CpMetrics {
    fn default() -> Self {
        CpMetrics {
            ingested: Tally::default(),
            ingest_seconds: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 14),
            ),
            grpc: Tally::default(),
            grpc_seconds: Mutex::default(),
            snapshot: Mutex::default(),
        }
    }
}

/// A status code as its label (`OK`, `INVALID_ARGUMENT`, ...).
fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

impl CpMetrics {
    /// One gRPC request answered.
    pub fn grpc_request(
        &self,
        service: &'static str,
        method: String,
        code: tonic::Code,
        seconds: f64,
    ) {
        self.grpc.add((service, method, code_label(code)));
        self.grpc_seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(service)
            .or_insert_with(|| {
                Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                    0.0005, 4.0, 10,
                ))
            })
            .observe(seconds);
    }

    /// Brings the gauges up to date (before a scrape).
    pub async fn refresh(&self, ctx: &Ctx) {
        let sites = ctx.store.sites().await.unwrap_or_default();
        let mut dataplanes: Vec<(String, u64)> =
            sites.iter().map(|s| (s.name.clone(), 0)).collect();
        for l in ctx.live().values().filter(|l| l.streams > 0) {
            if let Some(name) = sites.iter().find(|s| s.id == l.site_id).map(|s| &s.name)
                && let Some(e) = dataplanes.iter_mut().find(|(n, _)| n == name)
            {
                e.1 += 1;
            }
        }
        let breakers = ctx
            .breakers
            .list(None)
            .await
            .into_iter()
            .map(|b| (b.site, b.pool, b.state.replace('-', "_")))
            .collect();
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Snapshot {
            dataplanes,
            breakers,
            transitions: ctx.breakers.transitions.snapshot(),
            recomputes: ctx.planner.recomputes.snapshot(),
            db_bytes: ctx.store.size_bytes(),
        };
    }
}

impl Collector for CpMetrics {
    fn encode(&self, mut d: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        let mut m = d.encode_descriptor(
            "switchyard_cp_dataplanes_connected",
            "Data planes connected now, per site.",
            None,
            MetricType::Gauge,
        )?;
        for (site, n) in &s.dataplanes {
            ConstGauge::new(*n as i64).encode(m.encode_family(&[("site", site.as_str())])?)?;
        }
        let mut m = d.encode_descriptor(
            "switchyard_cp_share_events_ingested",
            "Share events stored (a replayed event counts once).",
            None,
            MetricType::Counter,
        )?;
        for (site, n) in self.ingested.snapshot() {
            ConstCounter::new(n).encode(m.encode_family(&[("site", site.as_str())])?)?;
        }
        self.ingest_seconds.encode(d.encode_descriptor(
            "switchyard_cp_ingest_batch_seconds",
            "Time to store one batch of share events.",
            None,
            MetricType::Histogram,
        )?)?;
        ConstGauge::new(s.db_bytes as i64).encode(d.encode_descriptor(
            "switchyard_cp_db_size_bytes",
            "The database file and its write-ahead log.",
            None,
            MetricType::Gauge,
        )?)?;
        let mut m = d.encode_descriptor(
            "switchyard_breaker_state",
            "Circuit breakers as a state set: 1 for the state each is in.",
            None,
            MetricType::Gauge,
        )?;
        for (site, pool, state) in &s.breakers {
            for st in BREAKER_STATES {
                let v = i64::from(st == state);
                ConstGauge::new(v).encode(m.encode_family(&[
                    ("site", site.as_str()),
                    ("pool", pool.as_str()),
                    ("state", st),
                ])?)?;
            }
        }
        let mut m = d.encode_descriptor(
            "switchyard_cp_plan_recomputes",
            "Recomputations of the routing plans, by cause: start, timer, admin, breaker.",
            None,
            MetricType::Counter,
        )?;
        for (cause, n) in &s.recomputes {
            ConstCounter::new(*n).encode(m.encode_family(&[("cause", *cause)])?)?;
        }
        let mut m = d.encode_descriptor(
            "switchyard_cp_grpc_requests",
            "gRPC requests answered, by service, method and status code.",
            None,
            MetricType::Counter,
        )?;
        for ((service, method, code), n) in self.grpc.snapshot() {
            ConstCounter::new(n).encode(m.encode_family(&[
                ("service", service),
                ("method", method.as_str()),
                ("code", code),
            ])?)?;
        }
        let hists: Vec<(&'static str, Histogram)> = self
            .grpc_seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(s, h)| (*s, h.clone()))
            .collect();
        let mut m = d.encode_descriptor(
            "switchyard_cp_grpc_request_seconds",
            "Time to answer a gRPC request (to its first response for a stream).",
            None,
            MetricType::Histogram,
        )?;
        for (service, h) in &hists {
            h.encode(m.encode_family(&[("service", *service)])?)?;
        }
        let mut m = d.encode_descriptor(
            "switchyard_breaker_transitions",
            "Circuit breaker state changes since the control plane started, by the state entered.",
            None,
            MetricType::Counter,
        )?;
        for ((site, pool, to), n) in &s.transitions {
            ConstCounter::new(*n).encode(m.encode_family(&[
                ("site", site.as_str()),
                ("pool", pool.as_str()),
                ("to", *to),
            ])?)?;
        }
        Ok(())
    }
}
