//! Shares per algorithm and pool, by verdict and who gave it, the work
//! (difficulty) they carried, the pool's verdict latency and the pool's
//! accepted work rate: what `switchyard_shares_total` and its companions
//! export and `/status` shows per pool. Fed from every recorded share event.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::histogram::Histogram;

use super::rate::RateWindow;
use crate::config::Algorithm;
use crate::events::ShareEvent;
use crate::outcome::{Reason, Verdict};

/// Who gave a share its verdict.
pub const SOURCES: [&str; 2] = ["local", "pool"];
pub const VERDICTS: [&str; 2] = ["accepted", "rejected"];
/// `downstream`: what miners submitted; `upstream`: what went to the pool.
pub const DIRECTIONS: [&str; 2] = ["downstream", "upstream"];

/// Latency buckets, 5 ms to about 10 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.005, 2.0, 12,
    ))
}

/// The metric label of a rejection reason (snake case, bounded set).
pub fn reason_label(r: &Reason) -> &'static str {
    match r {
        Reason::Duplicate => "duplicate",
        Reason::Stale => "stale",
        Reason::LowDifficulty(_) => "low_difficulty",
        Reason::JobNotFound => "job_not_found",
        Reason::Unauthorized => "unauthorized",
        Reason::Timeout => "timeout",
        Reason::NotConnected => "not_connected",
        Reason::Invalid => "invalid",
        Reason::InvalidNonce => "invalid_nonce",
        Reason::Pool(_) => "other",
    }
}

/// One pool's share counters.
#[derive(Debug)]
pub struct PoolShares {
    /// `[source][verdict]`, indices into [`SOURCES`] and [`VERDICTS`].
    pub shares: [[u64; 2]; 2],
    /// Rejections by (source, reason label).
    pub rejected: BTreeMap<(&'static str, &'static str), u64>,
    /// `[direction][verdict]` difficulty sums.
    pub work: [[f64; 2]; 2],
    pub forwarded: u64,
    pub latency: Histogram,
    /// Accepted downstream work, for the pool's hashrate now.
    pub rate: RateWindow,
}

impl PoolShares {
    fn new(now_ms: i64) -> PoolShares {
        PoolShares {
            shares: [[0; 2]; 2],
            rejected: BTreeMap::new(),
            work: [[0.0; 2]; 2],
            forwarded: 0,
            latency: latency_histogram(),
            rate: RateWindow::new(now_ms),
        }
    }
}

type ByPool = HashMap<Algorithm, crate::fasthash::FastMap<Arc<str>, PoolShares>>;

/// Every pool's counters.
#[derive(Debug, Default)]
pub struct ShareCounters(Mutex<ByPool>);

impl ShareCounters {
    /// Counts one share event; returns whether its final verdict is accepted.
    pub fn on_share(&self, algorithm: Algorithm, ev: &ShareEvent, now_ms: i64) -> bool {
        let (verdict, source) = match (&ev.pool_verdict, &ev.local_verdict) {
            (Some(v), _) => (v, 1),
            (None, Some(v)) => (v, 0),
            (None, None) => return false,
        };
        let accepted = verdict.is_accepted();
        let vi = usize::from(!accepted);
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let pools = map.entry(algorithm).or_default();
        let p = match pools.get_mut(ev.pool.as_str()) {
            Some(p) => p,
            None => pools
                .entry(Arc::from(ev.pool.as_str()))
                .or_insert_with(|| PoolShares::new(now_ms)),
        };
        p.shares[source][vi] += 1;
        if let Verdict::Rejected(r) = verdict {
            *p.rejected
                .entry((SOURCES[source], reason_label(r)))
                .or_default() += 1;
        }
        let work = if ev.miner_difficulty.is_finite() {
            ev.miner_difficulty.max(0.0)
        } else {
            0.0
        };
        p.work[0][vi] += work;
        if accepted {
            p.rate.add(now_ms, work);
        }
        if ev.forwarded {
            p.forwarded += 1;
            if let Some(pv) = &ev.pool_verdict {
                p.work[1][usize::from(!pv.is_accepted())] += work;
                p.latency.observe(ev.pool_latency_us as f64 / 1e6);
            }
        }
        accepted
    }

    /// Reads every pool's counters under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&ByPool) -> R) -> R {
        f(&self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(pool: Option<Verdict>, local: Option<Verdict>, forwarded: bool) -> ShareEvent {
        ShareEvent {
            pool: "btc".into(),
            miner_difficulty: 4.0,
            local_verdict: local,
            forwarded,
            pool_verdict: pool,
            pool_latency_us: 20_000,
            ..ShareEvent::default()
        }
    }

    #[test]
    fn each_share_counts_once_with_its_final_verdict_and_source() {
        let c = ShareCounters::default();
        let a = Algorithm::Sha256;
        assert!(c.on_share(
            a,
            &ev(Some(Verdict::Accepted), Some(Verdict::Accepted), true),
            0
        ));
        let stale = Verdict::Rejected(Reason::Stale);
        assert!(!c.on_share(a, &ev(Some(stale), Some(Verdict::Accepted), true), 0));
        let dup = Verdict::Rejected(Reason::Duplicate);
        assert!(!c.on_share(a, &ev(None, Some(dup), false), 0));
        c.with(|m| {
            let p = &m[&a]["btc"];
            assert_eq!(p.shares, [[0, 1], [1, 1]]);
            assert_eq!(p.rejected[&("pool", "stale")], 1);
            assert_eq!(p.rejected[&("local", "duplicate")], 1);
            assert_eq!(p.work, [[4.0, 8.0], [4.0, 4.0]]);
            assert_eq!(p.forwarded, 2);
        });
    }

    #[test]
    fn an_event_without_a_verdict_counts_nothing() {
        let c = ShareCounters::default();
        assert!(!c.on_share(Algorithm::Sha256, &ev(None, None, false), 0));
        c.with(|m| assert!(m.is_empty()));
    }
}
