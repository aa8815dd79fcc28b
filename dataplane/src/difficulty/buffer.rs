//! The seed's difficulty buffer (passthrough mode, ALEO): miner difficulty = pool difficulty x (1 + adaptive buffer), with its defects fixed. Pure: every method takes `now`.
//!
//! With P the pool's difficulty, b the buffer and M the difficulty last sent:
//! - target T = P * (1 + b), clamped by the per-pool min/max; the wanted
//!   difficulty ratchets up to T and never goes down on its own;
//! - floor reset: if P < M * `floor_trigger_ratio`, reset to
//!   M * `floor_reset_ratio` (not below T, never a raise);
//! - decay: every `decay_interval` while above T, lower by `decay_percent`
//!   (not below T); the interval counts from the last change of the wanted
//!   difficulty, or from when it rose above T;
//! - low-difficulty rejection reporting R: raise to R * (1 + b) (b before the
//!   rejection's step; R capped at [`MAX_REPORTED_OVER_POOL`] x P), and to at
//!   least the new T, at once; then b += step (<= `buffer_max`). Without R,
//!   only b grows and the miner is raised to the new T at once;
//! - b -= step after `buffer_decrease_interval` without such rejections
//!   (>= `buffer_min`); the clock starts at construction;
//! - share-rate monitor: tumbling windows of `share_rate_window`; the first
//!   one (after a difficulty was sent) with `share_rate_min_shares` shares is
//!   the baseline; a later window whose count falls below
//!   `share_rate_low_multiplier` x baseline lowers the difficulty in
//!   proportion, at most halving it, never below T;
//! - cooldown: at most one change per `change_cooldown`; a change it blocks is
//!   deferred, never dropped. Exempt: the first difficulty, low-difficulty
//!   rejections, and any raise of a miner who is below P.
//!
//! The miner is never sent less than P: P wins even over a per-pool
//! `max_difficulty` below it (a miner below the pool's difficulty only
//! produces rejected shares). Decay, buffer decrease and the rate monitor are
//! timers: call [`DifficultyBuffer::poll`] after every input and whenever
//! [`DifficultyBuffer::next_deadline`] passes, and re-read the deadline after
//! every call. A deadline at or before the latest `now` given means "poll now".
//! A pool switch starts a new `DifficultyBuffer`.

use std::time::{Duration, Instant};

/// A reported rejection difficulty is believed up to this multiple of P (a
/// larger number in a reason text is more likely garbage than a pool jump).
pub const MAX_REPORTED_OVER_POOL: f64 = 64.0;
/// Longest duration setting honoured; longer ones are clamped to it.
const MAX_SETTING: Duration = Duration::from_secs(365 * 24 * 3600);
/// Shortest interval for the timer settings (zero would spin).
const MIN_TIMER: Duration = Duration::from_secs(1);

/// The seed's `difficulty:` settings plus the per-pool overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferConfig {
    /// Minimum time between changes (rejection raises exempt).
    pub change_cooldown: Duration,
    pub decay_enabled: bool,
    /// Time between decay steps while above T.
    pub decay_interval: Duration,
    /// Fraction lowered per decay step.
    pub decay_percent: f64,
    /// Floor reset when P < M x this.
    pub floor_trigger_ratio: f64,
    /// Floor reset to M x this.
    pub floor_reset_ratio: f64,
    /// Length of one share-rate window.
    pub share_rate_window: Duration,
    /// Shares a window needs to become the baseline.
    pub share_rate_min_shares: u32,
    /// Lower when a window has fewer than this x baseline shares.
    pub share_rate_low_multiplier: f64,
    /// Starting b.
    pub buffer_start: f64,
    pub buffer_min: f64,
    pub buffer_max: f64,
    /// b step up per rejection, and down per quiet interval.
    pub buffer_increase_step: f64,
    /// Time without rejections before b steps down.
    pub buffer_decrease_interval: Duration,
    /// Per-pool `buffer_percent`: a fixed buffer, adaptation off.
    pub buffer_override: Option<f64>,
    /// Per-pool `min_difficulty`.
    pub min_difficulty: Option<f64>,
    /// Per-pool `max_difficulty`; the pool's own difficulty wins over it.
    pub max_difficulty: Option<f64>,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self {
            change_cooldown: Duration::from_secs(30),
            decay_enabled: true,
            decay_interval: Duration::from_secs(300),
            decay_percent: 0.05,
            floor_trigger_ratio: 0.50,
            floor_reset_ratio: 0.75,
            share_rate_window: Duration::from_secs(300),
            share_rate_min_shares: 3,
            share_rate_low_multiplier: 0.5,
            buffer_start: 0.05,
            buffer_min: 0.02,
            buffer_max: 0.20,
            buffer_increase_step: 0.01,
            buffer_decrease_interval: Duration::from_secs(3600),
            buffer_override: None,
            min_difficulty: None,
            max_difficulty: None,
        }
    }
}

/// A usable difficulty: finite and above zero.
fn valid(d: f64) -> bool {
    d.is_finite() && d > 0.0
}

/// `x` if it is a finite fraction >= 0, else `default`.
fn fraction(x: f64, default: f64) -> f64 {
    Some(x)
        .filter(|x| x.is_finite() && *x >= 0.0)
        .unwrap_or(default)
}

/// `x` clamped to [0, 1], `default` if NaN.
fn ratio(x: f64, default: f64) -> f64 {
    Some(x)
        .filter(|x| !x.is_nan())
        .map_or(default, |x| x.clamp(0.0, 1.0))
}

fn timer(d: Duration) -> Duration {
    d.clamp(MIN_TIMER, MAX_SETTING)
}

impl BufferConfig {
    /// Replaces unusable values: NaN ratios take the default, ratios are
    /// clamped to [0, 1], timers to [1 s, 1 year], buffer_max is raised to
    /// buffer_min, buffer_start is clamped between them, an override that is
    /// NaN/infinite is ignored (a negative one is 0), unusable per-pool
    /// min/max are ignored.
    fn sanitized(self) -> Self {
        let d = Self::default();
        let buffer_min = fraction(self.buffer_min, d.buffer_min);
        let buffer_max = fraction(self.buffer_max, d.buffer_max).max(buffer_min);
        Self {
            change_cooldown: self.change_cooldown.min(MAX_SETTING),
            decay_enabled: self.decay_enabled,
            decay_interval: timer(self.decay_interval),
            decay_percent: ratio(self.decay_percent, d.decay_percent),
            floor_trigger_ratio: ratio(self.floor_trigger_ratio, d.floor_trigger_ratio),
            floor_reset_ratio: ratio(self.floor_reset_ratio, d.floor_reset_ratio),
            share_rate_window: timer(self.share_rate_window),
            share_rate_min_shares: self.share_rate_min_shares.max(1),
            share_rate_low_multiplier: ratio(
                self.share_rate_low_multiplier,
                d.share_rate_low_multiplier,
            ),
            buffer_start: fraction(self.buffer_start, d.buffer_start).clamp(buffer_min, buffer_max),
            buffer_min,
            buffer_max,
            buffer_increase_step: fraction(self.buffer_increase_step, d.buffer_increase_step),
            buffer_decrease_interval: timer(self.buffer_decrease_interval),
            buffer_override: self
                .buffer_override
                .filter(|b| b.is_finite())
                .map(|b| b.max(0.0)),
            min_difficulty: self.min_difficulty.filter(|m| valid(*m)),
            max_difficulty: self.max_difficulty.filter(|m| valid(*m)),
        }
    }
}

/// One miner's (one passthrough session's) difficulty buffer.
#[derive(Debug, Clone)]
pub struct DifficultyBuffer {
    cfg: BufferConfig,
    /// P, once the pool has sent one.
    pool: Option<f64>,
    /// b, the buffer fraction.
    buffer: f64,
    /// What the rules want the miner to have.
    want: Option<f64>,
    /// M, what the miner was last sent.
    sent: Option<f64>,
    /// The pending change bypasses the cooldown (low-difficulty rejection).
    urgent: bool,
    last_change: Option<Instant>,
    /// Latest `now` seen, for "poll now" deadlines.
    latest: Instant,
    /// Decay clock: last change of `want`, or when it was last not above T.
    decay_anchor: Instant,
    /// Buffer-decrease clock: the last rejection or decrease (or construction).
    buffer_anchor: Instant,
    window_start: Instant,
    window_shares: u32,
    /// Shares per window learned from the first full window.
    baseline: Option<u32>,
}

impl DifficultyBuffer {
    /// A buffer with no pool difficulty yet; unusable settings are replaced.
    pub fn new(cfg: BufferConfig, now: Instant) -> Self {
        let cfg = cfg.sanitized();
        let buffer = cfg.buffer_override.unwrap_or(cfg.buffer_start);
        Self {
            cfg,
            pool: None,
            buffer,
            want: None,
            sent: None,
            urgent: false,
            last_change: None,
            latest: now,
            decay_anchor: now,
            // Initialised, not "never": the first share must not cut b.
            buffer_anchor: now,
            window_start: now,
            window_shares: 0,
            baseline: None,
        }
    }

    /// The difficulty last sent to the miner; `None` until one was sent.
    pub fn current(&self) -> Option<f64> {
        self.sent
    }

    /// The buffer fraction b now.
    pub fn buffer(&self) -> f64 {
        self.buffer
    }

    /// The pool set its difficulty. Unusable values are ignored.
    pub fn on_pool_difficulty(&mut self, pool: f64, now: Instant) {
        self.touch(now);
        if !valid(pool) {
            return;
        }
        self.refresh_decay_anchor(now);
        self.pool = Some(pool);
        let target = self.clamp(pool * (1.0 + self.buffer), pool);
        let next = match self.want {
            None => target,
            Some(want) => {
                let m = self.sent.unwrap_or(want);
                if pool < m * self.cfg.floor_trigger_ratio {
                    target.max(want.min(m * self.cfg.floor_reset_ratio))
                } else {
                    want.max(target)
                }
            }
        };
        self.set_want(self.clamp(next, pool), now);
    }

    /// A share the miner submitted (feeds the rate monitor).
    pub fn on_share(&mut self, now: Instant) {
        self.touch(now);
        self.refresh_decay_anchor(now);
        self.roll_windows(now);
        self.window_shares = self.window_shares.saturating_add(1);
    }

    /// The pool rejected a share as low difficulty; `reported` is the number
    /// in the reason text, if any (unusable numbers count as none).
    pub fn on_low_difficulty_rejection(&mut self, reported: Option<f64>, now: Instant) {
        self.touch(now);
        self.refresh_decay_anchor(now);
        let used = self.buffer;
        if self.cfg.buffer_override.is_none() {
            self.buffer = (self.buffer + self.cfg.buffer_increase_step).min(self.cfg.buffer_max);
        }
        self.buffer_anchor = now;
        let Some(pool) = self.pool else {
            return;
        };
        // Never below what the miner has: a deferred decrease is cancelled,
        // not rushed through by the rejection's cooldown exemption.
        let mut next = self
            .want
            .unwrap_or(pool)
            .max(self.sent.unwrap_or(pool))
            .max(pool * (1.0 + self.buffer));
        if let Some(r) = reported.filter(|r| valid(*r)) {
            next = next.max(r.min(pool * MAX_REPORTED_OVER_POOL) * (1.0 + used));
        }
        self.set_want(self.clamp(next, pool), now);
        self.urgent = self.want != self.sent;
    }

    /// `Some(d)` when the miner must be sent difficulty `d` now.
    pub fn poll(&mut self, now: Instant) -> Option<f64> {
        self.touch(now);
        self.refresh_decay_anchor(now);
        self.tick_buffer(now);
        self.roll_windows(now);
        self.tick_decay(now);
        let pool = self.pool?;
        let want = self.want?;
        if self.sent == Some(want) {
            self.urgent = false;
            return None;
        }
        if !self.exempt(pool) && !self.cooled(now) {
            return None;
        }
        self.sent = Some(want);
        self.last_change = Some(now);
        self.urgent = false;
        Some(want)
    }

    /// When `poll` should next be called if nothing else happens; `None` when
    /// no timer is running.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut deadlines: [Option<Instant>; 4] = [None; 4];
        if let (Some(pool), Some(want)) = (self.pool, self.want) {
            if self.sent != Some(want) {
                deadlines[0] = match self.last_change {
                    Some(at) if !self.exempt(pool) => at.checked_add(self.cfg.change_cooldown),
                    _ => Some(self.latest),
                };
            }
            if want > self.target(pool) {
                if self.cfg.decay_enabled {
                    deadlines[1] = self.decay_anchor.checked_add(self.cfg.decay_interval);
                }
                // Closing a window can only matter with a baseline, or
                // with enough shares in it to learn one.
                if self.baseline.is_some() || self.window_shares >= self.cfg.share_rate_min_shares {
                    deadlines[2] = self.window_start.checked_add(self.cfg.share_rate_window);
                }
            }
        }
        if self.adaptive() && self.buffer > self.cfg.buffer_min {
            deadlines[3] = self
                .buffer_anchor
                .checked_add(self.cfg.buffer_decrease_interval);
        }
        deadlines.into_iter().flatten().min()
    }

    fn touch(&mut self, now: Instant) {
        self.latest = self.latest.max(now);
    }

    fn adaptive(&self) -> bool {
        self.cfg.buffer_override.is_none()
    }

    /// Per-pool min/max, then P wins over both; never infinite.
    fn clamp(&self, mut d: f64, pool: f64) -> f64 {
        if let Some(min) = self.cfg.min_difficulty {
            d = d.max(min);
        }
        if let Some(max) = self.cfg.max_difficulty {
            d = d.min(max);
        }
        d.min(f64::MAX).max(pool)
    }

    /// T, clamped.
    fn target(&self, pool: f64) -> f64 {
        self.clamp(pool * (1.0 + self.buffer), pool)
    }

    /// The pending change may skip the cooldown.
    fn exempt(&self, pool: f64) -> bool {
        self.urgent || self.sent.is_none_or(|m| m < pool)
    }

    fn cooled(&self, now: Instant) -> bool {
        self.last_change
            .is_none_or(|at| now.saturating_duration_since(at) >= self.cfg.change_cooldown)
    }

    fn set_want(&mut self, next: f64, now: Instant) {
        if self.want != Some(next) {
            self.want = Some(next);
            self.decay_anchor = now;
        }
    }

    /// The decay clock runs only while the wanted difficulty is above T.
    fn refresh_decay_anchor(&mut self, now: Instant) {
        let above = match (self.pool, self.want) {
            (Some(pool), Some(want)) => want > self.target(pool),
            _ => false,
        };
        if !above {
            self.decay_anchor = now;
        }
    }

    fn tick_buffer(&mut self, now: Instant) {
        if self.adaptive()
            && self.buffer > self.cfg.buffer_min
            && now.saturating_duration_since(self.buffer_anchor)
                >= self.cfg.buffer_decrease_interval
        {
            self.buffer = (self.buffer - self.cfg.buffer_increase_step).max(self.cfg.buffer_min);
            self.buffer_anchor = now;
        }
    }

    fn tick_decay(&mut self, now: Instant) {
        let (Some(pool), Some(want)) = (self.pool, self.want) else {
            return;
        };
        let target = self.target(pool);
        if self.cfg.decay_enabled
            && want > target
            && now.saturating_duration_since(self.decay_anchor) >= self.cfg.decay_interval
        {
            let next = (want * (1.0 - self.cfg.decay_percent)).max(target);
            self.set_want(self.clamp(next, pool), now);
            self.decay_anchor = now;
        }
    }

    /// Closes the share-rate windows that ended by `now`: learns the baseline
    /// or compares the last full window with it.
    fn roll_windows(&mut self, now: Instant) {
        let window = self.cfg.share_rate_window;
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < window {
            return;
        }
        let window_nanos = window.as_nanos().max(1);
        let periods = elapsed.as_nanos() / window_nanos;
        let rest = u64::try_from(elapsed.as_nanos() % window_nanos).unwrap_or(0);
        self.window_start = now.checked_sub(Duration::from_nanos(rest)).unwrap_or(now);
        let closed = std::mem::take(&mut self.window_shares);
        // The last full window: the closed one, or an empty one after it.
        let last = if periods > 1 { 0 } else { closed };
        match self.baseline {
            None => {
                if self.sent.is_some() && closed >= self.cfg.share_rate_min_shares {
                    self.baseline = Some(closed);
                    if periods > 1 {
                        self.lower_for_rate(0.0, now);
                    }
                }
            }
            Some(base) => {
                let observed = f64::from(last) / f64::from(base.max(1));
                if observed < self.cfg.share_rate_low_multiplier {
                    self.lower_for_rate(observed, now);
                }
            }
        }
    }

    /// Lowers the wanted difficulty by the observed rate ratio, at most
    /// halving it, never below T.
    fn lower_for_rate(&mut self, observed: f64, now: Instant) {
        let (Some(pool), Some(want)) = (self.pool, self.want) else {
            return;
        };
        let target = self.target(pool);
        if want > target {
            let next = (want * observed.max(0.5)).max(target);
            self.set_want(self.clamp(next, pool), now);
        }
    }
}

#[cfg(test)]
#[path = "buffer_tests.rs"]
mod tests;
