//! Per-miner difficulty: VarDiff below the pool's difficulty in aggregation
//! mode (the proxy checks every hash), the seed's buffer above it in
//! passthrough mode (every share goes to the pool). Pure, time passed in.

pub mod buffer;
pub mod vardiff;

use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, PoolMode};
use crate::upstream::PoolInfo;
use buffer::DifficultyBuffer;
use vardiff::{VarDiff, VarDiffConfig};

/// The difficulty controller of one miner on one pool.
#[derive(Debug)]
pub enum Controller {
    /// Created at the first pool difficulty (VarDiff needs its ceiling).
    Var {
        cfg: Arc<VarDiffConfig>,
        floor: Option<f64>,
        inner: Option<VarDiff>,
    },
    Buffer(DifficultyBuffer),
}

impl Controller {
    /// `vardiff` is the listener's settings (`Config::vardiff`), shared.
    pub fn new(
        config: &Config,
        vardiff: &Arc<VarDiffConfig>,
        pool: &PoolInfo,
        floor: Option<f64>,
        now: Instant,
    ) -> Controller {
        match pool.mode {
            PoolMode::Aggregate => Controller::Var {
                cfg: vardiff.clone(),
                floor,
                inner: None,
            },
            PoolMode::Passthrough => {
                Controller::Buffer(DifficultyBuffer::new(config.buffer(&pool.config), now))
            }
        }
    }

    pub fn on_pool_difficulty(&mut self, pool: f64, now: Instant) {
        match self {
            Controller::Var { cfg, floor, inner } => match inner {
                Some(v) => v.set_pool_difficulty(pool, now),
                None => {
                    let mut v = VarDiff::new(cfg.clone(), pool, now);
                    if let Some(f) = floor {
                        v.set_floor_hint(*f);
                    }
                    *inner = Some(v);
                }
            },
            Controller::Buffer(b) => b.on_pool_difficulty(pool, now),
        }
    }

    /// A floor hint (suggest_difficulty, minimum-difficulty). The buffer
    /// ignores it: passthrough difficulty is already at or above the pool's.
    pub fn set_floor_hint(&mut self, hint: f64) {
        if let Controller::Var { floor, inner, .. } = self {
            *floor = Some(hint);
            if let Some(v) = inner {
                v.set_floor_hint(hint);
            }
        }
    }

    pub fn on_share(&mut self, now: Instant) {
        match self {
            Controller::Var { inner: Some(v), .. } => v.on_share(now),
            Controller::Var { .. } => {}
            Controller::Buffer(b) => b.on_share(now),
        }
    }

    pub fn on_low_difficulty_rejection(&mut self, reported: Option<f64>, now: Instant) {
        if let Controller::Buffer(b) = self {
            b.on_low_difficulty_rejection(reported, now);
        }
    }

    /// A new difficulty to send now, if any.
    pub fn poll(&mut self, now: Instant) -> Option<f64> {
        match self {
            Controller::Var { inner: Some(v), .. } => v.poll(now),
            Controller::Var { .. } => None,
            Controller::Buffer(b) => b.poll(now),
        }
    }

    pub fn current(&self) -> Option<f64> {
        match self {
            Controller::Var { inner, .. } => inner.as_ref().map(VarDiff::current),
            Controller::Buffer(b) => b.current(),
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        match self {
            Controller::Var { inner, .. } => inner.as_ref().and_then(VarDiff::next_deadline),
            Controller::Buffer(b) => b.next_deadline(),
        }
    }
}
