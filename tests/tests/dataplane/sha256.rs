//! SHA-256 (Stratum V1) miners through the data plane.

mod bad_input;
mod breaker_recovery;
mod failover;
mod hostile;
mod miner_timeouts;
mod miner_tls;
mod monitoring;
mod orphan_answers;
mod regressions;
mod regressions_shares;
mod relay;
mod tls_pool;
