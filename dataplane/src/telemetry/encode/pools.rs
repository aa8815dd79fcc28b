//! The pools' and the site's part of `/metrics`: upstream connections
//! (up, states, connect results, jobs, difficulty, prefix use), the route
//! and its switches, traffic, bans, the plan and the share-event spool.

use std::sync::atomic::Ordering::Relaxed;

use super::{Fmt, by_algo, counter, gauge};
use crate::telemetry::view::View;
use prometheus_client::encoding::DescriptorEncoder;

impl View {
    pub(super) fn encode_upstreams(&self, d: &mut DescriptorEncoder) -> Fmt {
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

    pub(super) fn encode_site(&self, d: &mut DescriptorEncoder) -> Fmt {
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
