//! RandomX (Monero's xmrig stratum) on the shared data-plane structure:
//! what differs from the other algorithms and nothing else. The pool side
//! of a connection ([`pool`]), what sessions see of a pool's RandomX work
//! ([`job`]), the NiceHash nonce slots
//! of a shared connection ([`slots`]), the proxy's own verdict on a share
//! ([`validate`]) and the miner session ([`session`]).

pub mod job;
pub(crate) mod pool;
pub mod session;
pub mod slots;
pub mod validate;

pub use job::RxJob;
