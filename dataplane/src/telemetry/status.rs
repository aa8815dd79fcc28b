//! `GET /status`: the data plane as JSON, in the spirit of Karoo's: per
//! algorithm its route (pool, why, since, next switch), its pools'
//! upstream connections (state, difficulty, extranonce or slot use, last
//! job age, shares, hashrate), limits; the control-plane link and plan,
//! the spool, worker states, and the connected miners (filtered by
//! `worker`, paged by `offset`/`limit`, at most [`MAX_PAGE`] a page).

use std::sync::atomic::Ordering::Relaxed;

use serde::Deserialize;
use serde_json::{Value, json};

use super::view::{PlaneView, View};
use crate::route::plan::AlgoPlan;
use switchyard_proto::hashrate;

/// Most miners in one answer.
pub const MAX_PAGE: usize = 1000;

/// The query of `/status`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    /// Only miners whose worker name contains this.
    pub worker: Option<String>,
    #[serde(default)]
    pub offset: usize,
    pub limit: Option<usize>,
}

impl View {
    /// The whole status document at `now_ms`.
    pub fn status(&self, q: &StatusQuery, now_ms: i64) -> Value {
        let t = &self.telemetry;
        t.sweep(now_ms);
        let limit = q.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE);
        let (total, miners) = t
            .miners
            .snapshot(q.worker.as_deref(), q.offset, limit, now_ms);
        let counts = t.miners.state_counts(now_ms, t.offline_after_ms());
        let mut workers = json!({"online": 0, "idle": 0, "offline": 0});
        for ((_, state), n) in counts {
            if let Some(v) = workers.get_mut(state.as_str()) {
                *v = json!(v.as_u64().unwrap_or(0) + n);
            }
        }
        let ready = self.ready();
        json!({
            "component": "dataplane",
            "version": env!("CARGO_PKG_VERSION"),
            "site": &*t.site(),
            "uptime_s": (now_ms - self.started_ms).max(0) / 1000,
            "ready": ready.is_ok(),
            "not_ready": ready.err().map(|e| e.lines().map(str::to_owned).collect::<Vec<_>>()).unwrap_or_default(),
            "algorithms": self.planes.iter().map(|p| self.plane_status(p, now_ms)).collect::<Vec<_>>(),
            "controlplane": self.link_status(),
            "spool": self.events.as_ref().map(|e| json!({
                "events": e.spool_events.load(Relaxed),
                "bytes": e.spool_bytes.load(Relaxed),
                "lost": e.dropped(),
            })),
            "workers": workers,
            "offline_after_s": t.offline_after_ms() / 1000,
            "miners": {
                "total": total,
                "offset": q.offset,
                "limit": limit,
                "list": miners,
            },
        })
    }

    fn link_status(&self) -> Value {
        let Some(link) = &self.link else {
            return Value::Null;
        };
        let plan = link.plans().borrow().clone();
        let acked = link.acked();
        json!({
            "connected": *link.connected().borrow(),
            "dataplane_id": link.dataplane_id(),
            "plan_version": plan.as_ref().map_or(0, |p| p.version),
            "acked_version": acked.as_ref().map_or(0, |a| a.0),
            "ack_error": acked.map(|a| a.1).filter(|e| !e.is_empty()),
        })
    }

    fn plane_status(&self, p: &PlaneView, now_ms: i64) -> Value {
        let route = p.router.route.borrow().clone();
        let algo = p.algorithm;
        let next = self.link.as_ref().and_then(|l| {
            let plan = l.plans().borrow().clone()?;
            let a = plan
                .algorithms
                .iter()
                .find(|a| a.algorithm == algo.to_wire() as i32)?;
            let a = AlgoPlan::from_pb(a);
            let s = a.next_switch(now_ms)?;
            Some(json!({"at_ms": s.at_ms, "pool": s.pool, "reason": s.reason, "in_s": (s.at_ms - now_ms) / 1000}))
        });
        let mut total_rate = 0.0;
        let shares = &self.telemetry.shares;
        let pools: Vec<Value> = p
            .pools()
            .iter()
            .map(|pool| {
                let live = p.live(pool);
                let stats = &pool.info.stats;
                let last_job = stats.last_job_ms.load(Relaxed);
                let (accepted, rejected, forwarded, rate) = shares.with(|m| {
                    m.get(&algo)
                        .and_then(|m| m.get(&*pool.info.name))
                        .map_or((0, 0, 0, 0.0), |s| {
                            (
                                s.shares[0][0] + s.shares[1][0],
                                s.shares[0][1] + s.shares[1][1],
                                s.forwarded,
                                s.rate.per_second(now_ms) * hashrate::work_per_difficulty(algo),
                            )
                        })
                });
                total_rate += rate;
                json!({
                    "name": &*pool.info.name,
                    "address": format!("{}:{}", pool.info.addr.host, pool.info.addr.port),
                    "tls": pool.info.addr.tls,
                    "mode": pool.info.mode,
                    "up": live.up,
                    "since_ms": stats.state_since_ms.load(Relaxed),
                    "active": route.pool.as_ref().is_some_and(|r| r.info.name == pool.info.name),
                    "connections": {"connecting": live.connecting, "up": live.ready, "down": live.down},
                    "difficulty": live.difficulty,
                    "prefixes": {"used": live.attached, "capacity": live.capacity},
                    "jobs": stats.jobs.load(Relaxed),
                    "last_job_age_s": (last_job > 0).then(|| (now_ms - last_job).max(0) as f64 / 1000.0),
                    "shares": {"accepted": accepted, "rejected": rejected, "forwarded": forwarded},
                    "hashrate_hs": rate,
                    "hashrate": hashrate::format(algo, rate),
                    "last_error": live.error,
                })
            })
            .collect();
        let limiter = p.limiter.lock().unwrap_or_else(|e| e.into_inner());
        json!({
            "algorithm": algo,
            "listen": p.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "miners": p.stats.active.load(Relaxed),
            "hashrate_hs": total_rate,
            "hashrate": hashrate::format(algo, total_rate),
            "hashrate_unit": hashrate::unit(algo),
            "route": {
                "pool": route.pool.as_ref().map(|r| &*r.info.name),
                "reason": route.pool.as_ref().map(|_| route.reason),
                "since_ms": route.since_ms,
                "next_switch": next,
            },
            "pools": pools,
            "limits": {
                "refused": p.stats.refused.load(Relaxed),
                "tls_failures": p.stats.tls_failures.load(Relaxed),
                "evicted_unfinished_handshakes": p.stats.evicted.load(Relaxed),
                "banned_ips": limiter.banned(std::time::Instant::now()),
                "bans_total": limiter.bans_total(),
            },
        })
    }
}
