//! Splitting one algorithm's hashrate between the pools of a weighted
//! window by measured work (issue 14), decided from inputs alone like
//! [`super::table::RouteTable`]: the caller reports miners joining and
//! leaving, each accepted share (its pool and difficulty), pools going down
//! and up, and calls [`Split::rebalance`] every few seconds; the answer is
//! the miners to move, each to get the other pool's job with `clean_jobs`
//! (the old pool keeps its grace for their in-flight shares).
//!
//! The rule: over a sliding hour, every pool should receive its weight's
//! part of the accepted difficulty. Each accepted share adds its difficulty
//! to its pool's *achieved* work and, split by the weights in force at
//! that moment (a down pool's weight goes to the others, in proportion),
//! to every pool's *expected* work; the difference is each pool's
//! *deficit*. At each rebalance the split picks the assignment of miners
//! (each at its measured rate) that would bring every deficit closest to
//! zero by the next rebalance, keeping miners where they are unless a move
//! gains at least [`Tuning::min_gain`] of the total rate. A few big miners
//! are then time-shared: one miner with 80% of the work spends 7 ticks in
//! 8 on the 70% pool, and the deficits stay within about one tick's work.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Knobs; the defaults are what the data plane uses.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// The sliding window the weights are kept over.
    pub window_ms: i64,
    /// Its resolution.
    pub bucket_ms: i64,
    /// The time between rebalances the caller keeps (the horizon a
    /// rebalance aims the deficits at).
    pub tick_ms: i64,
    /// A move must lower the assignment's error by this part of the total
    /// rate, or by the moved miner's own rate if that is less (half of
    /// what moving it can gain): no churn for noise, and in a farm of many
    /// small miners each can still move.
    pub min_gain: f64,
    /// Deficits up to this part of the work in the window (at most an
    /// hour's at the current rate) are left alone: share luck, not a wrong
    /// assignment.
    pub dead_band: f64,
    /// At most this many moves per rebalance.
    pub max_moves: usize,
    /// A miner's rate is measured over about this long (exponential decay).
    pub rate_tau_ms: i64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            window_ms: 3_600_000,
            bucket_ms: 60_000,
            tick_ms: 15_000,
            min_gain: 0.01,
            dead_band: 0.003,
            max_moves: 64,
            rate_tau_ms: 600_000,
        }
    }
}

/// A miner to move: give it `to`'s job with `clean_jobs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move<K> {
    pub miner: K,
    pub from: usize,
    pub to: usize,
}

#[derive(Debug, Clone)]
struct Bucket {
    /// Which bucket (time / bucket_ms).
    index: i64,
    achieved: Vec<f64>,
    expected: Vec<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Miner {
    pool: usize,
    /// Accepted difficulty, decayed to `last_ms`.
    work: f64,
    last_ms: i64,
    joined_ms: i64,
}

/// The split of one weighted window; `K` names a miner (a session id).
#[derive(Debug, Clone)]
pub struct Split<K> {
    weights: Vec<f64>,
    up: Vec<bool>,
    buckets: VecDeque<Bucket>,
    miners: HashMap<K, Miner>,
    tuning: Tuning,
    /// What joins decide from, kept for a tick so that many miners joining
    /// at once cost one pass over the miners, not one each.
    joins: Option<JoinView>,
}

/// The assignment as of `at_ms` with joins since added at `rate` each,
/// and what each pool is owed beyond its part (the deficits' share of the
/// desired rates then).
#[derive(Debug, Clone)]
struct JoinView {
    at_ms: i64,
    assigned: Vec<f64>,
    owed: Vec<f64>,
    rate: f64,
}

impl<K: Copy + Eq + Hash + Ord> Split<K> {
    /// `weights` are positive (a window of one pool is weight 1).
    pub fn new(weights: &[u32], tuning: Tuning) -> Self {
        Split {
            weights: weights.iter().map(|w| f64::from(*w)).collect(),
            up: vec![true; weights.len()],
            buckets: VecDeque::new(),
            miners: HashMap::new(),
            tuning,
            joins: None,
        }
    }

    pub fn pools(&self) -> usize {
        self.weights.len()
    }

    pub fn is_up(&self, pool: usize) -> bool {
        self.up.get(pool).copied().unwrap_or(false)
    }

    /// A pool is down (its part goes to the others) or up again.
    pub fn set_up(&mut self, pool: usize, up: bool) {
        if let Some(u) = self.up.get_mut(pool) {
            *u = up;
        }
        self.joins = None;
    }

    /// The weights in force now, as parts of 1 (zero for down pools; all
    /// zero when every pool is down).
    pub fn target(&self) -> Vec<f64> {
        let total: f64 = self.weights_up().sum();
        self.weights
            .iter()
            .zip(&self.up)
            .map(|(w, up)| if *up && total > 0.0 { w / total } else { 0.0 })
            .collect()
    }

    fn weights_up(&self) -> impl Iterator<Item = f64> + '_ {
        self.weights
            .iter()
            .zip(&self.up)
            .filter(|(_, up)| **up)
            .map(|(w, _)| *w)
    }

    /// A new miner: the pool it should mine on first.
    pub fn join(&mut self, miner: K, now_ms: i64) -> usize {
        let fresh = |v: &JoinView| now_ms.saturating_sub(v.at_ms) < self.tuning.tick_ms;
        let mut view = match self.joins.take() {
            Some(v) if fresh(&v) => v,
            _ => {
                let rates = self.rates(now_ms);
                let total: f64 = rates.iter().map(|r| r.2).sum();
                let target = self.target();
                let desired = self.desired(&rates, now_ms);
                JoinView {
                    at_ms: now_ms,
                    assigned: self.assigned(&rates),
                    owed: desired
                        .iter()
                        .zip(&target)
                        .map(|(d, t)| d - t * total)
                        .collect(),
                    rate: if rates.is_empty() {
                        1.0
                    } else {
                        total / rates.len() as f64
                    },
                }
            }
        };
        // The parts of the total with this miner in, plus what is owed.
        let total: f64 = view.assigned.iter().sum::<f64>() + view.rate;
        let desired: Vec<f64> = self
            .target()
            .iter()
            .zip(&view.owed)
            .map(|(t, o)| t * total + o)
            .collect();
        let pool = self.most_under(&desired, &view.assigned).unwrap_or(0);
        view.assigned[pool] += view.rate;
        self.joins = Some(view);
        self.miners.insert(
            miner,
            Miner {
                pool,
                work: 0.0,
                last_ms: now_ms,
                joined_ms: now_ms,
            },
        );
        pool
    }

    pub fn leave(&mut self, miner: &K) {
        self.miners.remove(miner);
    }

    /// Each miner's pool.
    pub fn assignments(&self) -> impl Iterator<Item = usize> + '_ {
        self.miners.values().map(|m| m.pool)
    }

    /// Where the split has a miner now.
    pub fn pool_of(&self, miner: &K) -> Option<usize> {
        self.miners.get(miner).map(|m| m.pool)
    }

    /// An accepted share of `difficulty` on `pool` (the pool its job came
    /// from, which during a move's grace may not be the miner's pool now).
    pub fn accepted(&mut self, miner: Option<&K>, pool: usize, difficulty: f64, now_ms: i64) {
        if pool >= self.pools() || !(difficulty.is_finite() && difficulty > 0.0) {
            return;
        }
        let target = self.target();
        let b = self.bucket(now_ms);
        b.achieved[pool] += difficulty;
        for (e, t) in b.expected.iter_mut().zip(target) {
            *e += difficulty * t;
        }
        let tau = self.tuning.rate_tau_ms as f64;
        if let Some(m) = miner.and_then(|k| self.miners.get_mut(k)) {
            let dt = (now_ms - m.last_ms).max(0) as f64;
            m.work = m.work * (-dt / tau).exp() + difficulty;
            m.last_ms = now_ms.max(m.last_ms);
        }
    }

    fn bucket(&mut self, now_ms: i64) -> &mut Bucket {
        let index = now_ms.div_euclid(self.tuning.bucket_ms);
        let keep = self.tuning.window_ms / self.tuning.bucket_ms;
        while self
            .buckets
            .front()
            .is_some_and(|b| b.index <= index - keep)
        {
            self.buckets.pop_front();
        }
        if self.buckets.back().is_none_or(|b| b.index < index) {
            let n = self.pools();
            self.buckets.push_back(Bucket {
                index,
                achieved: vec![0.0; n],
                expected: vec![0.0; n],
            });
        }
        // Shares come in time order; a late one counts in the newest bucket.
        self.buckets.back_mut().expect("a bucket was just ensured")
    }

    /// Accepted difficulty per pool over the window ending at `now_ms`, and
    /// what the weights in force asked of each.
    pub fn window(&self, now_ms: i64) -> (Vec<f64>, Vec<f64>) {
        let keep = self.tuning.window_ms / self.tuning.bucket_ms;
        let index = now_ms.div_euclid(self.tuning.bucket_ms);
        let n = self.pools();
        let (mut achieved, mut expected) = (vec![0.0; n], vec![0.0; n]);
        for b in self.buckets.iter().filter(|b| b.index > index - keep) {
            for i in 0..n {
                achieved[i] += b.achieved[i];
                expected[i] += b.expected[i];
            }
        }
        (achieved, expected)
    }

    /// Each miner's measured rate (difficulty per second); miners without
    /// a measure yet count at the mean of the others (1.0 when none has one).
    fn rates(&self, now_ms: i64) -> Vec<(K, usize, f64)> {
        let tau = self.tuning.rate_tau_ms as f64;
        let measured = |m: &Miner| -> Option<f64> {
            let age = (now_ms - m.joined_ms) as f64;
            if age < self.tuning.tick_ms as f64 || m.work <= 0.0 {
                return None;
            }
            let decayed = m.work * (-((now_ms - m.last_ms).max(0) as f64) / tau).exp();
            Some(decayed / (tau * (1.0 - (-age / tau).exp())) * 1000.0)
        };
        let known: Vec<f64> = self.miners.values().filter_map(measured).collect();
        let mean = if known.is_empty() {
            1.0
        } else {
            known.iter().sum::<f64>() / known.len() as f64
        };
        let mut v: Vec<(K, usize, f64)> = self
            .miners
            .iter()
            .map(|(k, m)| (*k, m.pool, measured(m).unwrap_or(mean)))
            .collect();
        // A stable order, so equal situations decide alike.
        v.sort_by_key(|r| r.0);
        v
    }

    fn assigned(&self, rates: &[(K, usize, f64)]) -> Vec<f64> {
        let mut a = vec![0.0; self.pools()];
        for (_, pool, r) in rates {
            a[*pool] += r;
        }
        a
    }

    /// The rate each pool should get until the next rebalance: its part of
    /// the total, plus what brings its deficit (beyond the dead band) to
    /// zero by then.
    fn desired(&self, rates: &[(K, usize, f64)], now_ms: i64) -> Vec<f64> {
        let total: f64 = rates.iter().map(|r| r.2).sum();
        let target = self.target();
        let (achieved, expected) = self.window(now_ms);
        let dt = self.tuning.tick_ms as f64 / 1000.0;
        // The band is a part of the work the window holds (less than an
        // hour's at the current rate while the window fills: a start-up
        // deficit is owed back, not hidden in a band sized for an hour).
        let held: f64 = achieved.iter().sum();
        let hour = total * self.tuning.window_ms as f64 / 1000.0;
        let band = self.tuning.dead_band * held.min(hour);
        let mut d: Vec<f64> = (0..self.pools())
            .map(|i| {
                let deficit = expected[i] - achieved[i];
                let owed = deficit.signum() * (deficit.abs() - band).max(0.0);
                if self.up[i] {
                    (target[i] * total + owed / dt).max(0.0)
                } else {
                    0.0
                }
            })
            .collect();
        let sum: f64 = d.iter().sum();
        if sum > 0.0 {
            for x in &mut d {
                *x *= total / sum;
            }
        }
        d
    }

    /// The up pool furthest below its desired rate; ties go to the higher
    /// weight, then the first.
    fn most_under(&self, desired: &[f64], assigned: &[f64]) -> Option<usize> {
        let mut best: Option<usize> = None;
        for i in (0..self.pools()).filter(|i| self.up[*i]) {
            let better = best.is_none_or(|b| {
                let (x, y) = (desired[i] - assigned[i], desired[b] - assigned[b]);
                x > y || (x == y && self.weights[i] > self.weights[b])
            });
            if better {
                best = Some(i);
            }
        }
        best
    }

    /// The moves that bring the split closest to its weights by the next
    /// rebalance. Miners on a down pool always move.
    pub fn rebalance(&mut self, now_ms: i64) -> Vec<Move<K>> {
        let mut rates = self.rates(now_ms);
        let total: f64 = rates.iter().map(|r| r.2).sum();
        let desired = self.desired(&rates, now_ms);
        let mut assigned = self.assigned(&rates);
        let mut moves = Vec::new();
        if !self.up.iter().any(|u| *u) {
            return moves;
        }
        let mut moved = vec![false; rates.len()];
        for (i, r) in rates.iter_mut().enumerate() {
            if !self.up[r.1] {
                moved[i] = true;
                let to = self.most_under(&desired, &assigned).expect("a pool is up");
                assigned[r.1] -= r.2;
                assigned[to] += r.2;
                moves.push(Move {
                    miner: r.0,
                    from: r.1,
                    to,
                });
                r.1 = to;
            }
        }
        let threshold = self.tuning.min_gain * total;
        while moves.len() < self.tuning.max_moves {
            let up = (0..self.pools()).filter(|i| self.up[*i]);
            let over = up
                .clone()
                .max_by(|a, b| {
                    (assigned[*a] - desired[*a]).total_cmp(&(assigned[*b] - desired[*b]))
                })
                .expect("a pool is up");
            let under = self.most_under(&desired, &assigned).expect("a pool is up");
            let (gap_o, gap_u) = (
                assigned[over] - desired[over],
                desired[under] - assigned[under],
            );
            if over == under || gap_o <= 0.0 || gap_u <= 0.0 {
                break;
            }
            // Moving rate r changes the two errors from gap_o + gap_u to
            // |gap_o - r| + |gap_u - r|.
            let gain = |r: f64| gap_o + gap_u - (gap_o - r).abs() - (gap_u - r).abs();
            let best = rates
                .iter()
                .enumerate()
                .filter(|(i, r)| r.1 == over && !moved[*i])
                .map(|(i, r)| (i, gain(r.2)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((i, g)) if g > threshold.min(rates[i].2) => {
                    moved[i] = true;
                    let r = &mut rates[i];
                    assigned[over] -= r.2;
                    assigned[under] += r.2;
                    moves.push(Move {
                        miner: r.0,
                        from: over,
                        to: under,
                    });
                    r.1 = under;
                }
                _ => break,
            }
        }
        for m in &moves {
            if let Some(x) = self.miners.get_mut(&m.miner) {
                x.pool = m.to;
            }
        }
        self.joins = None;
        moves
    }
}

#[cfg(test)]
#[path = "split_tests.rs"]
mod tests;
