//! The per-(site, pool) circuit breaker: settings and the pure state machine
//! (CLOSED -> OPEN -> HALF-OPEN -> CLOSED). One failure is ONE failed
//! connect/handshake attempt (the seed counted one per 15-minute window).
//! The control plane feeds it the data planes' connect results, persists each
//! [`Transition`] and reflects open breakers in the next routing plan.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use crate::plan::BreakerView;

/// The seed's `proxy.circuit_breaker` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSettings {
    pub enabled: bool,
    /// Consecutive failures that open a closed breaker (seed: 5).
    pub failure_threshold: u32,
    /// How long an open breaker stays open before half-opening (seed: 60 s).
    pub recovery_timeout_s: u32,
    /// Successes in half-open that close it again (seed: 2).
    pub success_threshold: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            enabled: true,
            failure_threshold: 5,
            recovery_timeout_s: 60,
            success_threshold: 2,
        }
    }
}

/// A breaker's state. Names: `closed`, `open`, `half-open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an unknown breaker state name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown breaker state {0:?} (known: closed, open, half-open)")]
pub struct UnknownBreakerState(pub String);

impl FromStr for BreakerState {
    type Err = UnknownBreakerState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "closed" => Ok(BreakerState::Closed),
            "open" => Ok(BreakerState::Open),
            "half-open" | "halfopen" => Ok(BreakerState::HalfOpen),
            _ => Err(UnknownBreakerState(s.to_string())),
        }
    }
}

/// One state change, to persist and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// The breaker of one (site, pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    pub state: BreakerState,
    /// Failed attempts in a row (reset by a success or a close).
    pub consecutive_failures: u32,
    /// Successes since entering half-open.
    pub successes: u32,
    pub changed_at: DateTime<Utc>,
    /// When an open breaker half-opens; `None` unless open.
    pub retry_at: Option<DateTime<Utc>>,
    pub last_error: String,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(now: DateTime<Utc>) -> Self {
        Breaker {
            state: BreakerState::Closed,
            consecutive_failures: 0,
            successes: 0,
            changed_at: now,
            retry_at: None,
            last_error: String::new(),
        }
    }

    /// Records one connect/handshake attempt (`ok`), after applying
    /// [`Breaker::tick`]; returns every transition made (at most two: a
    /// half-open on time, then a reopen).
    ///
    /// - Closed: a failure counts; `failure_threshold` in a row open it
    ///   (unless disabled); a success resets the count.
    /// - Open: results are ignored (they are late reports of attempts made
    ///   before the data plane had the plan that excludes this pool).
    /// - HalfOpen: `success_threshold` successes close it; any failure
    ///   reopens it for another `recovery_timeout_s`.
    /// - Disabled settings: a breaker never opens, and one that is not closed
    ///   closes on the next result.
    pub fn record(
        &mut self,
        ok: bool,
        error: &str,
        now: DateTime<Utc>,
        s: &BreakerSettings,
    ) -> Vec<Transition> {
        let mut out: Vec<Transition> = self.tick(now, s).into_iter().collect();
        if s.enabled && self.state == BreakerState::Open {
            return out;
        }
        if !ok {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.last_error = error.to_string();
        }
        if !s.enabled {
            if ok {
                self.consecutive_failures = 0;
            }
            if self.state != BreakerState::Closed {
                out.push(self.go(
                    BreakerState::Closed,
                    now,
                    s,
                    "circuit breaker disabled".to_string(),
                ));
            }
            return out;
        }
        match (self.state, ok) {
            (BreakerState::Open, _) => {} // handled above
            (BreakerState::Closed, true) => self.consecutive_failures = 0,
            (BreakerState::Closed, false) => {
                let n = self.consecutive_failures;
                if n >= s.failure_threshold.max(1) {
                    let what = if n == 1 {
                        "1 failure".to_string()
                    } else {
                        format!("{n} consecutive failures")
                    };
                    out.push(self.go(BreakerState::Open, now, s, format!("{what}, last: {error}")));
                }
            }
            (BreakerState::HalfOpen, true) => {
                self.successes = self.successes.saturating_add(1);
                let n = self.successes;
                if n >= s.success_threshold.max(1) {
                    let what = if n == 1 {
                        "1 success".to_string()
                    } else {
                        format!("{n} successes")
                    };
                    out.push(self.go(BreakerState::Closed, now, s, format!("{what} in half-open")));
                }
            }
            (BreakerState::HalfOpen, false) => {
                out.push(self.go(
                    BreakerState::Open,
                    now,
                    s,
                    format!("failure in half-open: {error}"),
                ));
            }
        }
        out
    }

    /// Open -> HalfOpen once `retry_at <= now`; the transition is dated at
    /// `retry_at` (when it became due), not when it was noticed.
    pub fn tick(&mut self, now: DateTime<Utc>, s: &BreakerSettings) -> Option<Transition> {
        if self.state != BreakerState::Open {
            return None;
        }
        let due = self.retry_at.unwrap_or(now);
        (due <= now).then(|| {
            self.go(
                BreakerState::HalfOpen,
                due,
                s,
                "recovery timeout elapsed".to_string(),
            )
        })
    }

    /// The operator opens the breaker (`ctl breaker open`), for
    /// `recovery_timeout_s` like any open. `None` if it is already open.
    pub fn force_open(
        &mut self,
        now: DateTime<Utc>,
        s: &BreakerSettings,
        reason: &str,
    ) -> Option<Transition> {
        if self.state == BreakerState::Open {
            return None;
        }
        let reason = reason.trim();
        let text = if reason.is_empty() {
            "opened by operator".to_string()
        } else {
            format!("opened by operator: {reason}")
        };
        Some(self.go(BreakerState::Open, now, s, text))
    }

    /// The operator closes the breaker and clears its counters. `None` if it
    /// was already closed (the counters are cleared all the same).
    pub fn reset(&mut self, now: DateTime<Utc>) -> Option<Transition> {
        let was = self.state;
        self.consecutive_failures = 0;
        self.successes = 0;
        if was == BreakerState::Closed {
            return None;
        }
        self.state = BreakerState::Closed;
        self.retry_at = None;
        self.changed_at = now;
        Some(Transition {
            from: was,
            to: BreakerState::Closed,
            at: now,
            reason: "reset by operator".to_string(),
        })
    }

    /// When this breaker changes on its own: `retry_at` while open.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        match self.state {
            BreakerState::Open => self.retry_at,
            _ => None,
        }
    }

    /// How routing plans see this breaker; `None` when closed.
    pub fn view(&self) -> Option<BreakerView> {
        match self.state {
            BreakerState::Closed => None,
            BreakerState::Open => Some(BreakerView::Open {
                until: self.retry_at.unwrap_or(self.changed_at),
            }),
            BreakerState::HalfOpen => Some(BreakerView::HalfOpen),
        }
    }

    fn go(
        &mut self,
        to: BreakerState,
        at: DateTime<Utc>,
        s: &BreakerSettings,
        reason: String,
    ) -> Transition {
        let from = self.state;
        self.state = to;
        self.changed_at = at;
        self.successes = 0;
        self.retry_at = None;
        match to {
            BreakerState::Open => {
                let timeout = Duration::seconds(i64::from(s.recovery_timeout_s));
                self.retry_at = Some(at.checked_add_signed(timeout).unwrap_or(at));
            }
            BreakerState::Closed => self.consecutive_failures = 0,
            BreakerState::HalfOpen => {}
        }
        Transition {
            from,
            to,
            at,
            reason,
        }
    }
}
