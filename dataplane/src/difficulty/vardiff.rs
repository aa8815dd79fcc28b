//! Per-miner VarDiff for aggregation mode: aims each miner at a target share interval, never above the pool's difficulty. Pure: every method takes `now`.
//!
//! The controller hands out one difficulty per miner. It is always within
//! `[min_difficulty, max_difficulty]` (raised by a miner's floor hint) and then
//! capped at the pool's difficulty: when they conflict the pool cap wins, so a
//! miner never works above what the pool credits.
//!
//! Driving it: call [`VarDiff::poll`] after every input (share, pool
//! difficulty, floor hint) and whenever [`VarDiff::next_deadline`] passes; send
//! the miner the value `poll` returns. Re-read `next_deadline` after every
//! call. A deadline at or before the latest `now` given means "poll now".
//!
//! Retargeting: every `retarget_every` (but never within `cooldown` of the last
//! change) the share interval is estimated from the shares since the last
//! change. It needs [`MIN_SHARES`] shares or [`MIN_SHARES`] target intervals of
//! elapsed time; an estimate within the tolerance (the larger of `variance` and
//! one standard deviation of the share count, `1/sqrt(n)`) changes nothing.
//! Otherwise the difficulty moves proportionally, at most [`MAX_STEP`] times up
//! or down per change. A miner with no share for a retarget period (and at
//! least [`SILENT_TARGETS`] target intervals) is halved, down to the floor.
//! A change the cooldown blocks is not dropped: it is evaluated again, with the
//! shares seen meanwhile, at the first poll after the cooldown ends.
//!
//! Bound violations (the pool difficulty dropped below the miner's, or a floor
//! hint rose above it) are corrected at the next poll regardless of cooldown.

use std::time::{Duration, Instant};

/// Largest factor one change may raise the difficulty by (and lower it by).
pub const MAX_STEP: f64 = 4.0;
/// Shares (or target intervals of elapsed time) needed before retargeting.
pub const MIN_SHARES: f64 = 4.0;
/// A silent miner is halved only after at least this many target intervals.
pub const SILENT_TARGETS: u32 = 3;
/// After this many retarget periods without a change, the share window's
/// weight is halved so the estimate follows hashrate changes.
pub const WINDOW_PERIODS: u32 = 8;
/// Largest tolerated relative deviation, whatever `variance` says.
const MAX_TOLERANCE: f64 = 0.9;
/// Longest duration setting honoured; longer ones are clamped to it.
const MAX_SETTING: Duration = Duration::from_secs(365 * 24 * 3600);

/// Settings of the per-miner VarDiff.
#[derive(Debug, Clone, PartialEq)]
pub struct VarDiffConfig {
    /// Share interval the controller aims each miner at (default 10 s).
    pub target_interval: Duration,
    /// How often the share interval is evaluated (default 30 s).
    pub retarget_every: Duration,
    /// Minimum time between two changes, except bound corrections (default 30 s).
    pub cooldown: Duration,
    /// Lowest difficulty handed out (default 1.0, difficulty-1 shares), unless
    /// the pool's difficulty is lower: the pool cap wins.
    pub min_difficulty: f64,
    /// Highest difficulty handed out (default `f64::MAX`: only the pool caps it).
    pub max_difficulty: f64,
    /// Starting difficulty; `None` starts at the pool's difficulty.
    pub initial_difficulty: Option<f64>,
    /// Tolerated relative deviation of the share interval (default 0.3).
    pub variance: f64,
}

impl Default for VarDiffConfig {
    fn default() -> Self {
        Self {
            target_interval: Duration::from_secs(10),
            retarget_every: Duration::from_secs(30),
            cooldown: Duration::from_secs(30),
            min_difficulty: 1.0,
            max_difficulty: f64::MAX,
            initial_difficulty: None,
            variance: 0.3,
        }
    }
}

/// A usable difficulty: finite and above zero.
fn valid(d: f64) -> bool {
    d.is_finite() && d > 0.0
}

impl VarDiffConfig {
    /// Replaces unusable values: zero intervals and invalid minimums take the
    /// default, an invalid maximum means "no maximum", a maximum below the
    /// minimum is raised to it, durations are clamped to a year.
    fn sanitized(self) -> Self {
        let defaults = Self::default();
        let nonzero = |d: Duration, default: Duration| {
            if d.is_zero() {
                default
            } else {
                d.min(MAX_SETTING)
            }
        };
        let min = if valid(self.min_difficulty) {
            self.min_difficulty
        } else {
            defaults.min_difficulty
        };
        let max = if valid(self.max_difficulty) {
            self.max_difficulty.max(min)
        } else {
            f64::MAX
        };
        let variance = if self.variance.is_nan() || self.variance < 0.0 {
            defaults.variance
        } else {
            self.variance.min(MAX_TOLERANCE)
        };
        Self {
            target_interval: nonzero(self.target_interval, defaults.target_interval),
            retarget_every: nonzero(self.retarget_every, defaults.retarget_every),
            cooldown: self.cooldown.min(MAX_SETTING),
            min_difficulty: min,
            max_difficulty: max,
            initial_difficulty: self.initial_difficulty.filter(|d| valid(*d)),
            variance,
        }
    }
}

/// One miner's VarDiff state.
#[derive(Debug, Clone)]
pub struct VarDiff {
    /// Shared by every miner of a listener (one allocation, not one each).
    cfg: std::sync::Arc<VarDiffConfig>,
    /// The pool's difficulty, the ceiling; `None` while unknown.
    pool: Option<f64>,
    /// The miner's own floor (suggest_difficulty / minimum-difficulty).
    floor_hint: Option<f64>,
    /// What the miner was last handed.
    current: f64,
    last_change: Instant,
    last_eval: Instant,
    /// Start of the share window (the last change, or later after ageing).
    window_start: Instant,
    /// Shares in the window (fractional after ageing).
    shares: f64,
    /// Latest `now` seen, for "poll now" deadlines.
    latest: Instant,
}

impl VarDiff {
    /// A controller starting at `initial_difficulty` or, if `None`, at
    /// `pool_difficulty`, within the bounds. An unusable `pool_difficulty`
    /// (NaN, infinite, zero, negative) leaves the pool unknown: no cap until
    /// [`VarDiff::set_pool_difficulty`], and the start falls back to the minimum.
    pub fn new(
        cfg: impl Into<std::sync::Arc<VarDiffConfig>>,
        pool_difficulty: f64,
        now: Instant,
    ) -> Self {
        let cfg: std::sync::Arc<VarDiffConfig> = cfg.into();
        let sane = VarDiffConfig::clone(&cfg).sanitized();
        let cfg = if sane == *cfg {
            cfg
        } else {
            std::sync::Arc::new(sane)
        };
        let pool = Some(pool_difficulty).filter(|d| valid(*d));
        let start = cfg
            .initial_difficulty
            .or(pool)
            .unwrap_or(cfg.min_difficulty);
        let mut vardiff = Self {
            cfg,
            pool,
            floor_hint: None,
            current: start,
            last_change: now,
            last_eval: now,
            window_start: now,
            shares: 0.0,
            latest: now,
        };
        vardiff.current = vardiff.clamp(start);
        vardiff
    }

    /// The difficulty last handed out: what the miner has.
    pub fn current(&self) -> f64 {
        self.current
    }

    /// The pool's difficulty changed: the new ceiling. If it is below the
    /// miner's difficulty, the next poll lowers the miner at once. Unusable
    /// values are ignored.
    pub fn set_pool_difficulty(&mut self, pool: f64, now: Instant) {
        self.touch(now);
        if valid(pool) {
            self.pool = Some(pool);
        }
    }

    /// The miner's suggested or minimum difficulty: a floor (never above
    /// `max_difficulty`, and still capped by the pool). Replaces an earlier
    /// hint; unusable values are ignored.
    pub fn set_floor_hint(&mut self, hint: f64) {
        if valid(hint) {
            self.floor_hint = Some(hint);
        }
    }

    /// A share that met the miner's target.
    pub fn on_share(&mut self, now: Instant) {
        self.touch(now);
        self.shares += 1.0;
    }

    /// `Some(d)` when the miner must be sent difficulty `d` now.
    pub fn poll(&mut self, now: Instant) -> Option<f64> {
        self.touch(now);
        let bounded = self.clamp(self.current);
        if bounded != self.current {
            self.apply(bounded, now);
            return Some(bounded);
        }
        if !self.due(now) {
            return None;
        }
        self.last_eval = now;
        let next = self.evaluate(now).map(|d| self.clamp(d));
        match next {
            Some(next) if next != self.current => {
                self.apply(next, now);
                Some(next)
            }
            _ => {
                self.age_window(now);
                None
            }
        }
    }

    /// When `poll` should next be called if nothing else happens; `None` when
    /// nothing can change without a new input (pinned bounds, or a silent
    /// miner already at its floor).
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.clamp(self.current) != self.current {
            return Some(self.latest);
        }
        let (lo, hi) = self.bounds();
        if hi <= lo || (self.shares <= 0.0 && self.current <= lo) {
            return None;
        }
        let eval = self.last_eval.checked_add(self.cfg.retarget_every)?;
        let cool = self.last_change.checked_add(self.cfg.cooldown)?;
        Some(eval.max(cool))
    }

    /// `(lowest, highest)` difficulty allowed now; the pool cap wins.
    fn bounds(&self) -> (f64, f64) {
        let mut lo = self.cfg.min_difficulty;
        if let Some(hint) = self.floor_hint {
            lo = lo.max(hint.min(self.cfg.max_difficulty));
        }
        let hi = match self.pool {
            Some(pool) => self.cfg.max_difficulty.min(pool),
            None => self.cfg.max_difficulty,
        };
        (lo.min(hi), hi)
    }

    fn clamp(&self, d: f64) -> f64 {
        let (lo, hi) = self.bounds();
        d.max(lo).min(hi)
    }

    fn touch(&mut self, now: Instant) {
        self.latest = self.latest.max(now);
    }

    /// A retarget evaluation is due: a retarget period since the last one and
    /// the cooldown since the last change have both passed.
    fn due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_eval) >= self.cfg.retarget_every
            && now.saturating_duration_since(self.last_change) >= self.cfg.cooldown
    }

    /// The difficulty the share window asks for, if it asks for a change.
    fn evaluate(&self, now: Instant) -> Option<f64> {
        let elapsed = now.saturating_duration_since(self.window_start);
        if self.shares <= 0.0 {
            let silent_after = self
                .cfg
                .retarget_every
                .max(self.cfg.target_interval.saturating_mul(SILENT_TARGETS));
            return (elapsed >= silent_after).then_some(self.current / 2.0);
        }
        let secs = elapsed.as_secs_f64();
        let target = self.cfg.target_interval.as_secs_f64();
        if self.shares < MIN_SHARES && secs < MIN_SHARES * target {
            return None;
        }
        // Observed interval over target interval: above 1 the miner is slow.
        let ratio = secs / (self.shares * target);
        let tolerance = self
            .cfg
            .variance
            .max(1.0 / self.shares.sqrt())
            .min(MAX_TOLERANCE);
        if (ratio - 1.0).abs() <= tolerance {
            return None;
        }
        let factor = if ratio > 0.0 {
            (1.0 / ratio).clamp(1.0 / MAX_STEP, MAX_STEP)
        } else {
            MAX_STEP
        };
        Some(self.current * factor)
    }

    fn apply(&mut self, next: f64, now: Instant) {
        self.current = next;
        self.last_change = now;
        self.last_eval = now;
        self.window_start = now;
        self.shares = 0.0;
    }

    /// Halves the weight of a long window, keeping its rate estimate.
    fn age_window(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed <= self.cfg.retarget_every.saturating_mul(WINDOW_PERIODS) {
            return;
        }
        if let Some(start) = now.checked_sub(elapsed / 2) {
            self.window_start = start;
            self.shares /= 2.0;
        }
    }
}

#[cfg(test)]
#[path = "vardiff_tests.rs"]
mod tests;
