//! RandomX (Monero's xmrig stratum) on the shared data-plane structure: the
//! upstream speaks the dialect through `upstream::rx`; this module owns what
//! sessions see of a pool's RandomX work ([`job`]), the NiceHash nonce slots
//! of a shared connection ([`slots`]), the proxy's own verdict on a share
//! ([`validate`]) and the miner session ([`session`]).

pub mod job;
pub mod session;
pub mod slots;
pub mod validate;

pub use job::RxJob;
