//! RandomX (Monero's xmrig stratum) on the shared data-plane structure: the
//! upstream speaks the dialect through `upstream::rx`; this module owns what
//! sessions see of a pool's RandomX work.

pub mod job;

pub use job::RxJob;
