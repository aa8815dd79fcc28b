//! `GET /metrics` of a data plane: [`View`] as a prometheus-client
//! [`Collector`], read at scrape time from the live counters (no second
//! set of counters on the share path). Names, types and labels follow
//! operations.md: prefix `switchyard_`, counters end in `_total` (the
//! encoder adds it), base units, labels `site, algo, pool, ...`.

use std::sync::atomic::Ordering::Relaxed;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::miners::WorkerState;
use super::shares::{DIRECTIONS, SOURCES, VERDICTS};
use super::view::View;
use crate::clock;

mod pools;
mod splits;

pub(super) type Labels<'a> = Vec<(&'static str, &'a str)>;
pub(super) type Fmt = Result<(), std::fmt::Error>;

/// One metric family: its rows of (labels, value).
fn family<V: Copy>(
    d: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    ty: MetricType,
    rows: &[(Labels<'_>, V)],
    encode: impl Fn(V, prometheus_client::encoding::MetricEncoder<'_>) -> Fmt,
) -> Fmt {
    let mut m = d.encode_descriptor(name, help, None, ty)?;
    for (labels, v) in rows {
        encode(*v, m.encode_family(labels)?)?;
    }
    Ok(())
}

/// The rows of a tally by (algorithm, label): labels `site`, `algo`, `key`.
pub(super) fn by_algo<'a>(
    site: &'a str,
    key: &'static str,
    t: &super::tally::Tally<(crate::config::Algorithm, &'static str)>,
) -> Vec<(Labels<'a>, f64)> {
    t.snapshot()
        .into_iter()
        .map(|((a, v), n)| {
            (
                vec![("site", site), ("algo", a.as_str()), (key, v)],
                n as f64,
            )
        })
        .collect()
}

pub(super) fn counter(
    d: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Labels<'_>, f64)],
) -> Fmt {
    family(d, name, help, MetricType::Counter, rows, |v, e| {
        ConstCounter::new(v).encode(e)
    })
}

pub(super) fn gauge(
    d: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Labels<'_>, f64)],
) -> Fmt {
    family(d, name, help, MetricType::Gauge, rows, |v, e| {
        ConstGauge::new(v).encode(e)
    })
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("planes", &self.planes.len())
            .finish()
    }
}

impl Collector for View {
    fn encode(&self, mut d: DescriptorEncoder) -> Fmt {
        // States and their change counter agree in one scrape.
        self.telemetry.sweep(clock::now_ms());
        self.encode_miners(&mut d)?;
        self.encode_shares(&mut d)?;
        self.encode_upstreams(&mut d)?;
        self.encode_splits(&mut d)?;
        self.encode_site(&mut d)
    }
}

impl View {
    fn encode_miners(&self, d: &mut DescriptorEncoder) -> Fmt {
        let t = &self.telemetry;
        let site = t.site();
        let site = &*site;
        let rows: Vec<_> = self
            .planes
            .iter()
            .map(|p| {
                let l = vec![("site", site), ("algo", p.algorithm.as_str())];
                (l, p.stats.active.load(Relaxed) as f64)
            })
            .collect();
        gauge(
            d,
            "switchyard_miners_connected",
            "Miner connections open now.",
            &rows,
        )?;
        for p in &self.planes {
            t.connections.touch((p.algorithm, "accepted"));
        }
        let rows = by_algo(site, "result", &t.connections);
        counter(
            d,
            "switchyard_miner_connections",
            "Miner connections by result: accepted, over_limit, banned, tls_error.",
            &rows,
        )?;
        let rows = by_algo(site, "cause", &t.disconnects);
        counter(
            d,
            "switchyard_miner_disconnects",
            "Miner connections ended, by cause.",
            &rows,
        )?;
        let now = clock::now_ms();
        let counts = t.miners.state_counts(now, t.offline_after_ms());
        let mut rows: Vec<_> = Vec::new();
        for p in &self.planes {
            for s in WorkerState::ALL {
                let n = counts.get(&(p.algorithm, s)).copied().unwrap_or(0);
                rows.push((
                    vec![
                        ("site", site),
                        ("algo", p.algorithm.as_str()),
                        ("state", s.as_str()),
                    ],
                    n as f64,
                ));
            }
        }
        gauge(
            d,
            "switchyard_workers",
            "Workers by state: online (a share within offline_after), idle (connected, silent), offline (gone).",
            &rows,
        )?;
        let rows: Vec<_> = self
            .planes
            .iter()
            .map(|p| {
                let n = t.went_offline.get(&p.algorithm);
                (
                    vec![("site", site), ("algo", p.algorithm.as_str())],
                    n as f64,
                )
            })
            .collect();
        counter(
            d,
            "switchyard_worker_offline",
            "Workers that went from online to idle or offline.",
            &rows,
        )?;
        self.encode_worker_series(d, site)
    }

    /// Opt-in per-worker series, at most `worker_metrics` workers.
    fn encode_worker_series(&self, d: &mut DescriptorEncoder, site: &str) -> Fmt {
        let Some(cap) = self.telemetry.worker_metrics else {
            return Ok(());
        };
        let rows: Vec<(String, &'static str, f64, f64)> = self.telemetry.miners.with_workers(|m| {
            let mut v = Vec::new();
            for (a, map) in m {
                for (name, w) in map {
                    if v.len() >= cap {
                        break;
                    }
                    v.push((
                        name.to_string(),
                        a.as_str(),
                        w.work,
                        w.last_share_ms as f64 / 1000.0,
                    ));
                }
            }
            v
        });
        let work: Vec<_> = rows
            .iter()
            .map(|(w, a, work, _)| {
                (
                    vec![("site", site), ("algo", *a), ("worker", w.as_str())],
                    *work,
                )
            })
            .collect();
        counter(
            d,
            "switchyard_worker_share_work",
            "Accepted share difficulty per worker (opt-in, capped).",
            &work,
        )?;
        let last: Vec<_> = rows
            .iter()
            .filter(|r| r.3 > 0.0)
            .map(|(w, a, _, at)| {
                (
                    vec![("site", site), ("algo", *a), ("worker", w.as_str())],
                    *at,
                )
            })
            .collect();
        gauge(
            d,
            "switchyard_worker_last_share_timestamp_seconds",
            "When each worker's last share came (opt-in, capped).",
            &last,
        )
    }

    fn encode_shares(&self, d: &mut DescriptorEncoder) -> Fmt {
        let site = self.telemetry.site();
        let site = &*site;
        self.telemetry.shares.with(|m| {
            let mut shares = Vec::new();
            let mut rejected = Vec::new();
            let mut work = Vec::new();
            let mut forwarded = Vec::new();
            let mut latency = Vec::new();
            for (a, pools) in m {
                for (pool, s) in pools {
                    let base = vec![("site", site), ("algo", a.as_str()), ("pool", &**pool)];
                    for (si, src) in SOURCES.iter().enumerate() {
                        for (vi, verdict) in VERDICTS.iter().enumerate() {
                            let mut l = base.clone();
                            l.extend([("verdict", *verdict), ("source", *src)]);
                            shares.push((l, s.shares[si][vi] as f64));
                        }
                    }
                    for ((src, reason), n) in &s.rejected {
                        let mut l = base.clone();
                        l.extend([("source", *src), ("reason", *reason)]);
                        rejected.push((l, *n as f64));
                    }
                    for (di, dir) in DIRECTIONS.iter().enumerate() {
                        for (vi, verdict) in VERDICTS.iter().enumerate() {
                            let mut l = base.clone();
                            l.extend([("direction", *dir), ("verdict", *verdict)]);
                            work.push((l, s.work[di][vi]));
                        }
                    }
                    forwarded.push((base.clone(), s.forwarded as f64));
                    latency.push((base, s.latency.clone()));
                }
            }
            counter(d, "switchyard_shares", "Shares miners submitted, by final verdict and who gave it (local: the proxy, pool: the pool).", &shares)?;
            counter(d, "switchyard_shares_rejected", "Rejected shares by reason.", &rejected)?;
            counter(
                d,
                "switchyard_share_work",
                "Share difficulty summed (diff-1 units): SHA-256 hashes = x * 2^32, RandomX hashes = x, ALEO proof-target units. downstream: from miners; upstream: to the pool.",
                &work,
            )?;
            counter(d, "switchyard_shares_forwarded", "Shares sent to the pool.", &forwarded)?;
            let mut m = d.encode_descriptor(
                "switchyard_pool_verdict_latency_seconds",
                "Time from a share's submission to the pool's verdict.",
                None,
                MetricType::Histogram,
            )?;
            for (l, h) in &latency {
                h.encode(m.encode_family(l)?)?;
            }
            let mut m = d.encode_descriptor(
                "switchyard_switch_fanout_seconds",
                "From a route change to every miner connected at it having followed it.",
                None,
                MetricType::Histogram,
            )?;
            for (a, h) in self.telemetry.fanout.histograms() {
                h.encode(m.encode_family(&vec![("site", site), ("algo", a.as_str())])?)?;
            }
            Ok(())
        })
    }
}
