//! The per-(site, pool) circuit breaker (helper "plan-breaker" is writing the
//! state machine).

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
        BreakerSettings { enabled: true, failure_threshold: 5, recovery_timeout_s: 60, success_threshold: 2 }
    }
}
