//! SHA-256 (Stratum V1: BTC, BCH, DGB) on the shared data-plane structure:
//! what differs from the other algorithms and nothing else. The pool side
//! of a connection ([`pool`]), a pool job as miners see it with the
//! coinbase folding of aggregation ([`job`]), the proxy's own check of a
//! share ([`validate`]) and the miner session ([`session`]).

pub mod job;
pub(crate) mod pool;
pub mod session;
pub mod validate;
