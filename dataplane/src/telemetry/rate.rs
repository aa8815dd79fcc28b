//! [`RateWindow`]: accepted work (share difficulty) per minute over the
//! last 15 minutes, for hashrate estimates that follow a rig's speed and
//! forget it once it stops.

/// Minutes kept.
pub const MINUTES: usize = 15;
const MINUTE_MS: i64 = 60_000;

/// Work per wall-clock minute, in a ring of [`MINUTES`] buckets (minute
/// since the epoch and its work, 8 bytes each: one per miner connection).
#[derive(Debug, Clone)]
pub struct RateWindow {
    /// When counting began (a connection's start): before 15 minutes have
    /// passed the rate is over the time since then.
    start_ms: i64,
    buckets: [(u32, f32); MINUTES],
}

impl RateWindow {
    pub fn new(start_ms: i64) -> RateWindow {
        RateWindow {
            start_ms,
            buckets: [(0, 0.0); MINUTES],
        }
    }

    /// Adds `work` done at `now_ms`.
    pub fn add(&mut self, now_ms: i64, work: f64) {
        if !work.is_finite() || work <= 0.0 {
            return;
        }
        let minute = now_ms.div_euclid(MINUTE_MS);
        let b = &mut self.buckets[minute.rem_euclid(MINUTES as i64) as usize];
        let m = minute as u32;
        if b.0 != m {
            *b = (m, 0.0);
        }
        b.1 += work as f32;
    }

    /// Work per second at `now_ms`: the work of the current and the last 14
    /// minutes over the time they cover (from the start when it is later;
    /// at least one second, so that a first share does not read as a burst).
    pub fn per_second(&self, now_ms: i64) -> f64 {
        let minute = now_ms.div_euclid(MINUTE_MS);
        let oldest = minute - (MINUTES as i64 - 1);
        let work: f64 = self
            .buckets
            .iter()
            .filter(|(m, _)| (oldest..=minute).contains(&i64::from(*m)))
            .map(|(_, w)| f64::from(*w))
            .sum();
        let window_ms = now_ms - oldest * MINUTE_MS;
        let span_ms = (now_ms - self.start_ms).min(window_ms).max(1_000);
        work * 1000.0 / span_ms as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_rate_reads_back() {
        let start = 1_000_000_000;
        let mut w = RateWindow::new(start);
        // 2 difficulty a second for 30 minutes.
        for s in 1..=1800 {
            w.add(start + s * 1000, 2.0);
        }
        let r = w.per_second(start + 1800 * 1000);
        assert!((r - 2.0).abs() < 0.01, "{r}");
    }

    #[test]
    fn early_on_the_rate_is_over_the_time_since_the_start() {
        let mut w = RateWindow::new(0);
        for s in 1..=10 {
            w.add(s * 1000, 5.0);
        }
        assert!((w.per_second(10_000) - 5.0).abs() < 1e-9);
        // A first share alone is not a burst: at least a second is assumed.
        let mut w = RateWindow::new(0);
        w.add(10, 3.0);
        assert_eq!(w.per_second(10), 3.0);
    }

    #[test]
    fn a_stopped_rig_fades_to_zero_after_the_window() {
        let mut w = RateWindow::new(0);
        for s in 1..=60 {
            w.add(s * 1000, 1.0);
        }
        assert!(w.per_second(61_000) > 0.9);
        assert_eq!(w.per_second(60_000 + 16 * MINUTE_MS), 0.0);
    }

    #[test]
    fn bad_work_is_ignored() {
        let mut w = RateWindow::new(0);
        w.add(1000, f64::NAN);
        w.add(1000, -1.0);
        assert_eq!(w.per_second(2000), 0.0);
    }
}
