//! ALEO (zkSNARK) on the shared data-plane structure: what differs from the
//! other algorithms and nothing else. The pool side of a connection in
//! either dialect of protocols.md §3 ([`pool`]), what sessions see of a
//! pool's ALEO work ([`job`]) and the miner session ([`session`]). ALEO shares cannot be checked cheaply, so every
//! miner gets its own upstream connection (passthrough) and every share that
//! is not a duplicate or for a stale job goes to the pool as it is.

pub mod job;
pub(crate) mod pool;
pub mod session;

use std::sync::atomic::{AtomicU8, Ordering};

use switchyard_stratum::aleo::Dialect;
use tokio::sync::watch;

pub use job::{AleoJob, AleoSubscribed, PoolDifficulty};

/// What an ALEO upstream connection needs beyond the shared parameters.
#[derive(Debug, Clone, Default)]
pub struct AleoParams {
    /// The dialect to subscribe in when neither the pool's config nor an
    /// earlier connection to the pool decided it (the miner's own).
    pub dialect: Option<Dialect>,
    /// A dedicated connection's pool username, known once its miner
    /// authorizes: the connection subscribes at once (the miner's subscribe
    /// is answered with the pool's result) and authorizes when this is set.
    pub credentials: Option<watch::Receiver<Option<String>>>,
}

/// The dialect a pool was found to speak, shared by its connections.
#[derive(Debug, Default)]
pub struct LearnedDialect(AtomicU8);

impl LearnedDialect {
    pub fn get(&self) -> Option<Dialect> {
        match self.0.load(Ordering::Relaxed) {
            1 => Some(Dialect::AleoStratum3),
            2 => Some(Dialect::IceRiver),
            _ => None,
        }
    }

    pub fn set(&self, dialect: Dialect) {
        let v = match dialect {
            Dialect::AleoStratum3 => 1,
            Dialect::IceRiver => 2,
        };
        self.0.store(v, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_learned_dialect_is_remembered() {
        let l = LearnedDialect::default();
        assert_eq!(l.get(), None);
        l.set(Dialect::IceRiver);
        assert_eq!(l.get(), Some(Dialect::IceRiver));
        l.set(Dialect::AleoStratum3);
        assert_eq!(l.get(), Some(Dialect::AleoStratum3));
    }
}
