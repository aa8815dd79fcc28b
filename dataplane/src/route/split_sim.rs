//! A simulated farm for [`super::split::Split`] (the clock injected,
//! nothing sleeps): miners of given speeds submit shares at random
//! (exponential gaps of 10 s on average, a fixed seed), the split is
//! rebalanced every tick, and each accepted share is credited to the pool
//! the miner is on. Used by the split's tests and by `splitsim`, the
//! benchmark that records the achieved split over time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::split::{Split, Tuning};

/// One simulated miner: `rate` difficulty a second, shares of `diff`
/// (about one every 10 s, as vardiff would set).
#[derive(Debug, Clone, Copy)]
pub struct SimMiner {
    pub rate: f64,
    pub present: bool,
}

/// Called every simulated minute with the sim.
pub type Recorder = Box<dyn FnMut(&Sim)>;

pub struct Sim {
    pub split: Split<u32>,
    pub miners: Vec<SimMiner>,
    /// Next share time (ms) per miner.
    queue: BinaryHeap<Reverse<(i64, u32)>>,
    rng: StdRng,
    pub now: i64,
    next_tick: i64,
    pub moves: usize,
    /// The worst distance (points) seen since checks began.
    pub worst: f64,
    /// Per pool, the accepted difficulty, for the ledger check.
    pub credited: Vec<f64>,
    /// Called every simulated minute with the sim (a recorder).
    pub on_minute: Option<Recorder>,
}

impl Sim {
    pub fn new(weights: &[u32], rates: &[f64], seed: u64) -> Sim {
        let mut sim = Sim {
            split: Split::new(weights, Tuning::default()),
            miners: Vec::new(),
            queue: BinaryHeap::new(),
            rng: StdRng::seed_from_u64(seed),
            now: 0,
            next_tick: 0,
            moves: 0,
            worst: 0.0,
            credited: vec![0.0; weights.len()],
            on_minute: None,
        };
        for r in rates {
            sim.add(*r);
        }
        sim
    }

    pub fn add(&mut self, rate: f64) -> u32 {
        let id = self.miners.len() as u32;
        self.miners.push(SimMiner {
            rate,
            present: true,
        });
        self.split.join(id, self.now);
        let gap = self.gap();
        self.queue.push(Reverse((self.now + gap, id)));
        id
    }

    pub fn remove(&mut self, id: u32) {
        self.miners[id as usize].present = false;
        self.split.leave(&id);
    }

    /// An exponential gap with a mean of 10 s.
    fn gap(&mut self) -> i64 {
        let u: f64 = self.rng.random_range(f64::MIN_POSITIVE..1.0);
        (-u.ln() * 10_000.0) as i64 + 1
    }

    /// Runs until `until_ms`; from `check_from_ms` on, checks every minute
    /// that each pool's part of the window's work is within `points` of
    /// what the weights asked.
    pub fn run(&mut self, until_ms: i64, check_from_ms: i64, points: f64) {
        let mut next_check = self.now - self.now.rem_euclid(60_000) + 60_000;
        while self.now < until_ms {
            let next_share = self.queue.peek().map_or(i64::MAX, |r| r.0.0);
            let t = next_share.min(self.next_tick).min(next_check).min(until_ms);
            self.now = t;
            if t == next_check {
                if let Some(mut f) = self.on_minute.take() {
                    f(self);
                    self.on_minute = Some(f);
                }
                if t >= check_from_ms {
                    self.check(points);
                }
                next_check += 60_000;
            }
            if t == self.next_tick {
                self.moves += self.split.rebalance(t).len();
                self.next_tick += Tuning::default().tick_ms;
            }
            if t == next_share {
                let Reverse((_, id)) = self.queue.pop().expect("peeked");
                let m = self.miners[id as usize];
                if !m.present {
                    continue;
                }
                let pool = self.split.pool_of(&id).expect("a present miner has a pool");
                let diff = m.rate * 10.0;
                if self.split.is_up(pool) {
                    self.split.accepted(Some(&id), pool, diff, t);
                    self.credited[pool] += diff;
                }
                let gap = self.gap();
                self.queue.push(Reverse((t + gap, id)));
            }
        }
    }

    pub fn distance(&self) -> Vec<f64> {
        let (a, e) = self.split.window(self.now);
        let (sa, se): (f64, f64) = (a.iter().sum(), e.iter().sum());
        a.iter()
            .zip(&e)
            .map(|(a, e)| 100.0 * (a / sa - e / se).abs())
            .collect()
    }

    pub fn report(&self, what: &str) {
        eprintln!(
            "{what}: worst {:.2} points, {} moves, now {:?} off",
            self.worst,
            self.moves,
            self.distance()
        );
    }

    pub fn check(&mut self, points: f64) {
        let d = self.distance();
        let worst = d.iter().copied().fold(0.0, f64::max);
        self.worst = self.worst.max(worst);
        assert!(
            worst <= points,
            "at {} min the split is {:?} off ({:?} of the window's work, weights asked {:?})",
            self.now / 60_000,
            d,
            self.split.window(self.now).0,
            self.split.window(self.now).1
        );
    }
}
