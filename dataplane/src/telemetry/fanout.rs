//! How long a switch takes to reach every miner
//! (`switchyard_switch_fanout_seconds`): from the route change to the last
//! connected miner's session having followed it (its new pool's job
//! written, or the pool asked for). The miners counted are those connected
//! at the change; one that leaves first no longer holds it up; a second
//! change before the first completes abandons the first (not observed).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;

use crate::config::Algorithm;

#[derive(Debug)]
struct Pending {
    generation: u64,
    started: Instant,
    remaining: usize,
}

/// The switches in progress and their fan-out times, per algorithm.
#[derive(Debug, Default)]
pub struct Fanout {
    pending: Mutex<HashMap<Algorithm, Pending>>,
    seconds: Mutex<HashMap<Algorithm, Histogram>>,
}

impl Fanout {
    /// The route of `algorithm` changed to `generation` with `miners` connected.
    pub fn begin(&self, algorithm: Algorithm, generation: u64, miners: usize) {
        let p = Pending {
            generation,
            started: Instant::now(),
            remaining: miners,
        };
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if miners == 0 {
            pending.remove(&algorithm);
            self.observe(algorithm, 0.0);
        } else {
            pending.insert(algorithm, p);
        }
    }

    /// A session followed `generation` (it was on an older route before),
    /// or left while still on an older one (`left`).
    pub fn followed(&self, algorithm: Algorithm, generation: u64, left: bool) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some(p) = pending.get_mut(&algorithm) else {
            return;
        };
        let counts = if left {
            generation < p.generation
        } else {
            generation == p.generation
        };
        if !counts {
            return;
        }
        p.remaining = p.remaining.saturating_sub(1);
        if p.remaining == 0 {
            let secs = p.started.elapsed().as_secs_f64();
            pending.remove(&algorithm);
            drop(pending);
            self.observe(algorithm, secs);
        }
    }

    fn observe(&self, algorithm: Algorithm, secs: f64) {
        self.seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(algorithm)
            .or_insert_with(new_histogram)
            .observe(secs);
    }

    /// The histograms, for encoding.
    pub fn histograms(&self) -> Vec<(Algorithm, Histogram)> {
        self.seconds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(a, h)| (*a, h.clone()))
            .collect()
    }
}

/// 1 ms to about 16 s.
fn new_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(f: &Fanout) -> u64 {
        let mut out = String::new();
        let mut r = prometheus_client::registry::Registry::default();
        for (_, h) in f.histograms() {
            r.register("x", "x", h);
        }
        prometheus_client::encoding::text::encode(&mut out, &r).unwrap();
        out.lines()
            .filter_map(|l| l.strip_prefix("x_count "))
            .map(|v| v.parse::<u64>().unwrap())
            .sum()
    }

    #[test]
    fn observed_once_every_miner_connected_at_the_switch_followed_or_left() {
        let f = Fanout::default();
        let a = Algorithm::Sha256;
        f.begin(a, 5, 3);
        f.followed(a, 5, false);
        f.followed(a, 4, true); // left on the old route
        f.followed(a, 5, true); // left after following: already counted
        assert_eq!(count(&f), 0);
        f.followed(a, 5, false);
        assert_eq!(count(&f), 1);
        f.followed(a, 5, false);
        assert_eq!(count(&f), 1, "nothing pending any more");
    }

    #[test]
    fn a_newer_switch_abandons_the_older_one() {
        let f = Fanout::default();
        let a = Algorithm::Randomx;
        f.begin(a, 1, 2);
        f.begin(a, 2, 2);
        f.followed(a, 1, false);
        f.followed(a, 1, false);
        assert_eq!(count(&f), 0);
        f.followed(a, 2, false);
        f.followed(a, 2, false);
        assert_eq!(count(&f), 1);
    }
}
