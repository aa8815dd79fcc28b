//! The submit schedule every `*-shares` mode shares: when a miner starts,
//! when the measured period runs, how long answers are awaited, and how
//! many submits are due at a moment (fixed rate, capped in flight; or a
//! window kept full).

use std::time::Duration;

use tokio::time::Instant;

#[derive(Clone, Copy)]
pub struct Plan {
    pub start: Instant,
    pub measure_from: Instant,
    pub end: Instant,
    pub drain_until: Instant,
    /// Per-miner interval between submits (fixed rate), or `None` (window).
    pub interval: Option<Duration>,
    pub offset: Duration,
    pub window: usize,
    pub max_inflight: usize,
    /// Stop after this many submits (prefill).
    pub limit: u64,
}

impl Plan {
    /// The prefill: `limit` submits per miner, `window` in flight, from now.
    pub fn prefill(window: usize, limit: u64) -> Plan {
        let far = Instant::now() + Duration::from_secs(3600);
        Plan {
            start: Instant::now(),
            measure_from: far,
            end: far,
            drain_until: far,
            interval: None,
            offset: Duration::ZERO,
            window,
            max_inflight: window,
            limit,
        }
    }

    /// Whether a miner that has sent `sent` still sends at `now`.
    pub fn sending(&self, now: Instant, sent: u64) -> bool {
        now < self.end && sent < self.limit
    }

    /// How many submits are due at `now` with `in_flight` unanswered and
    /// `sent` sent; advances `next_send` past the fixed-rate slots taken.
    pub fn due(&self, now: Instant, next_send: &mut Instant, in_flight: usize, sent: u64) -> usize {
        if !self.sending(now, sent) {
            return 0;
        }
        let due = match self.interval {
            Some(iv) => {
                let room = self.max_inflight.saturating_sub(in_flight);
                let mut k = 0;
                while *next_send <= now && k < room {
                    *next_send += iv;
                    k += 1;
                }
                k
            }
            None => self.window.saturating_sub(in_flight),
        };
        due.min((self.limit - sent) as usize)
    }
}
