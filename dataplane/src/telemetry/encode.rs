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

type Labels<'a> = Vec<(&'static str, &'a str)>;
type Fmt = Result<(), std::fmt::Error>;

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
fn by_algo<'a>(
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

fn counter(d: &mut DescriptorEncoder, name: &str, help: &str, rows: &[(Labels<'_>, f64)]) -> Fmt {
    family(d, name, help, MetricType::Counter, rows, |v, e| {
        ConstCounter::new(v).encode(e)
    })
}

fn gauge(d: &mut DescriptorEncoder, name: &str, help: &str, rows: &[(Labels<'_>, f64)]) -> Fmt {
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
            Ok(())
        })
    }

    fn encode_upstreams(&self, d: &mut DescriptorEncoder) -> Fmt {
        let site = self.telemetry.site();
        let site = &*site;
        let mut up = Vec::new();
        let mut conns = Vec::new();
        let mut attempts = Vec::new();
        let mut last_job = Vec::new();
        let mut jobs = Vec::new();
        let mut diff = Vec::new();
        let mut used = Vec::new();
        let mut cap = Vec::new();
        let mut route = Vec::new();
        let pools: Vec<_> = self.planes.iter().map(|p| (p, p.pools())).collect();
        for (p, list) in &pools {
            let algo = p.algorithm.as_str();
            let r = p.router.route.borrow().clone();
            for pool in list {
                let name = &*pool.info.name;
                let live = p.live(pool);
                let l = vec![("site", site), ("algo", algo), ("pool", name)];
                up.push((l.clone(), f64::from(u8::from(live.up))));
                for (state, n) in [
                    ("connecting", live.connecting),
                    ("up", live.ready),
                    ("down", live.down),
                ] {
                    let mut s = l.clone();
                    s.push(("state", state));
                    conns.push((s, n as f64));
                }
                for (result, n) in pool.info.stats.connect_results.snapshot() {
                    let mut s = l.clone();
                    s.push(("result", result));
                    attempts.push((s, n as f64));
                }
                let lj = pool.info.stats.last_job_ms.load(Relaxed);
                if lj > 0 {
                    last_job.push((l.clone(), lj as f64 / 1000.0));
                }
                jobs.push((l.clone(), pool.info.stats.jobs.load(Relaxed) as f64));
                if let Some(x) = live.difficulty {
                    diff.push((l.clone(), x));
                }
                used.push((l.clone(), live.attached as f64));
                cap.push((l.clone(), live.capacity as f64));
                if r.pool
                    .as_ref()
                    .is_some_and(|rp| rp.info.name == pool.info.name)
                {
                    let mut s = l.clone();
                    s.push(("reason", r.reason));
                    route.push((s, 1.0));
                }
            }
        }
        gauge(
            d,
            "switchyard_upstream_up",
            "1 when the pool has a ready connection (every pool known, used or not).",
            &up,
        )?;
        gauge(
            d,
            "switchyard_upstream_connections",
            "Upstream connections by state.",
            &conns,
        )?;
        counter(
            d,
            "switchyard_upstream_connect_attempts",
            "Connect attempts by result: ok, refused, timeout, tls_error, auth_rejected, handshake_error.",
            &attempts,
        )?;
        gauge(
            d,
            "switchyard_upstream_last_job_timestamp_seconds",
            "When the pool's last new job came.",
            &last_job,
        )?;
        counter(
            d,
            "switchyard_upstream_jobs",
            "New jobs from the pool.",
            &jobs,
        )?;
        gauge(
            d,
            "switchyard_upstream_difficulty",
            "The pool's difficulty on its ready connection.",
            &diff,
        )?;
        gauge(
            d,
            "switchyard_aggregation_prefixes_used",
            "Miners on the pool's shared connections (extranonce prefixes or nonce slots in use).",
            &used,
        )?;
        gauge(
            d,
            "switchyard_aggregation_prefixes_capacity",
            "Room for miners on the pool's shared connections.",
            &cap,
        )?;
        gauge(
            d,
            "switchyard_route_info",
            "The pool that has the hashrate now (1), and why: initial, schedule, override, failover.",
            &route,
        )?;
        for p in &self.planes {
            for r in ["schedule", "override", "failover", "initial"] {
                self.telemetry.switches.touch((p.algorithm, r));
            }
        }
        let sw = by_algo(site, "reason", &self.telemetry.switches);
        counter(
            d,
            "switchyard_pool_switches",
            "Route changes from one pool to another, by reason.",
            &sw,
        )?;
        let mut bytes = Vec::new();
        for (p, list) in &pools {
            let algo = p.algorithm.as_str();
            let up = |f: fn(&crate::stats::PoolStats) -> u64| {
                list.iter().map(|x| f(&x.info.stats)).sum::<u64>()
            };
            for (dir, n) in [
                ("downstream_rx", p.stats.rx_bytes.load(Relaxed)),
                ("downstream_tx", p.stats.tx_bytes.load(Relaxed)),
                ("upstream_rx", up(|s| s.rx_bytes.load(Relaxed))),
                ("upstream_tx", up(|s| s.tx_bytes.load(Relaxed))),
            ] {
                bytes.push((
                    vec![("site", site), ("algo", algo), ("direction", dir)],
                    n as f64,
                ));
            }
        }
        counter(
            d,
            "switchyard_network_bytes",
            "Stratum bytes by direction: from and to miners (downstream), from and to pools (upstream).",
            &bytes,
        )
    }

    fn encode_site(&self, d: &mut DescriptorEncoder) -> Fmt {
        let site = self.telemetry.site();
        let l = || vec![("site", &*site)];
        let (mut bans, mut banned) = (0u64, 0usize);
        let now = std::time::Instant::now();
        for p in &self.planes {
            let lim = p.limiter.lock().unwrap_or_else(|e| e.into_inner());
            bans += lim.bans_total();
            banned += lim.banned(now);
        }
        counter(
            d,
            "switchyard_ip_bans",
            "Miner IPs banned for their connection rate.",
            &[(l(), bans as f64)],
        )?;
        gauge(
            d,
            "switchyard_banned_ips",
            "Miner IPs banned now.",
            &[(l(), banned as f64)],
        )?;
        if let Some(link) = &self.link {
            let plan = link.plans().borrow().as_ref().map_or(0, |p| p.version);
            let acked = link.acked().map_or(0, |a| a.0);
            gauge(
                d,
                "switchyard_plan_version",
                "The newest routing plan this data plane holds.",
                &[(l(), plan as f64)],
            )?;
            gauge(
                d,
                "switchyard_plan_acked_version",
                "The routing plan version this data plane applied.",
                &[(l(), acked as f64)],
            )?;
            let up = f64::from(u8::from(*link.connected().borrow()));
            gauge(
                d,
                "switchyard_controlplane_connected",
                "1 while connected to the control plane.",
                &[(l(), up)],
            )?;
        }
        if let Some(e) = &self.events {
            gauge(
                d,
                "switchyard_spool_bytes",
                "Share-event spool on disk.",
                &[(l(), e.spool_bytes.load(Relaxed) as f64)],
            )?;
            gauge(
                d,
                "switchyard_spool_events",
                "Share events waiting for the control plane.",
                &[(l(), e.spool_events.load(Relaxed) as f64)],
            )?;
            let lost = [
                ("spool_full", e.dropped_full.load(Relaxed)),
                ("busy", e.dropped_busy.load(Relaxed)),
                ("closed", e.dropped_closed.load(Relaxed)),
                ("disk_error", e.dropped_io.load(Relaxed)),
                ("refused", e.dropped_invalid.load(Relaxed)),
            ];
            let rows: Vec<_> = lost
                .iter()
                .map(|(c, n)| (vec![("site", &*site), ("cause", *c)], *n as f64))
                .collect();
            counter(
                d,
                "switchyard_share_events_lost",
                "Share events lost before the control plane stored them, by cause.",
                &rows,
            )?;
        }
        Ok(())
    }
}
