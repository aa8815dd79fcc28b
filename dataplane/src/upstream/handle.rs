//! What the rest of the data plane sees of upstream connections: the pool
//! they serve ([`PoolInfo`]), the commands sessions send them, the state
//! they publish (status, latest job per dialect, difficulty, extranonce),
//! the events the router hears, and the handle sessions attach to.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use switchyard_stratum::v1::Submit;
use tokio::sync::{mpsc, watch};

use super::ReplyTo;
use crate::config::{PoolAddr, PoolMode, Timing};
use crate::events::EventSink;
use crate::sha256::job::Job;
use crate::stats::PoolStats;

/// A configured pool, shared by everything that talks to it.
#[derive(Debug)]
pub struct PoolInfo {
    pub name: Arc<str>,
    pub index: usize,
    pub addr: PoolAddr,
    pub username: String,
    pub password: switchyard_proto::Secret,
    pub mode: PoolMode,
    pub config: crate::config::Pool,
    pub stats: PoolStats,
    /// ALEO: the dialect a connection found the pool speaking.
    pub learned_dialect: crate::aleo::LearnedDialect,
}

/// A miner's share on its way to the pool, in its dialect. The upstream's
/// protocol turns it into the pool's request.
#[derive(Debug)]
pub enum PoolShare {
    /// Already rewritten to the pool's view (job id, extranonce2).
    Sha256(Submit),
    /// The upstream puts in the pool's session id.
    Randomx(switchyard_stratum::randomx::Submit),
    /// Forwarded as the miner sent it (an AleoStratum3 one with the
    /// connection's authorized worker).
    Aleo(switchyard_stratum::aleo::Submit),
}

/// What a session asks of an upstream.
#[derive(Debug)]
pub enum UpstreamCmd {
    Submit {
        share: PoolShare,
        reply: ReplyTo,
    },
    /// A miner request the proxy does not handle itself, relayed as is.
    Relay {
        method: String,
        params: Value,
        reply: ReplyTo,
    },
    /// Close after answering what is pending (or after `drain`).
    Shutdown {
        drain: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Ready,
    Down,
}

/// Latest state of an upstream, read by sessions without locks.
#[derive(Debug, Clone)]
pub struct UpstreamState {
    pub status: Status,
    pub job: Option<Arc<Job>>,
    /// The latest job of a RandomX pool.
    pub rx_job: Option<Arc<crate::randomx::RxJob>>,
    /// ALEO: the pool's subscribe result on this connection.
    pub aleo_sub: Option<Arc<crate::aleo::AleoSubscribed>>,
    /// ALEO: the pool's latest job.
    pub aleo_job: Option<Arc<crate::aleo::AleoJob>>,
    /// ALEO: the difficulty the pool last sent besides its jobs, if ever.
    pub aleo_difficulty: Option<crate::aleo::PoolDifficulty>,
    /// While down: why the last attempt failed or the connection ended.
    pub error: Option<Arc<str>>,
    pub difficulty: f64,
    pub extranonce2_size: usize,
    pub version_mask: u32,
}

impl UpstreamState {
    pub fn new() -> UpstreamState {
        UpstreamState {
            status: Status::Connecting,
            job: None,
            rx_job: None,
            aleo_sub: None,
            aleo_job: None,
            aleo_difficulty: None,
            error: None,
            difficulty: 1.0,
            extranonce2_size: 0,
            version_mask: 0,
        }
    }

    /// Which jobs the state holds (their addresses; 0 for none), to tell a
    /// new job from any other change.
    pub fn job_ids(&self) -> (usize, usize, usize) {
        fn id<T>(j: &Option<Arc<T>>) -> usize {
            j.as_ref().map_or(0, |j| Arc::as_ptr(j) as usize)
        }
        (id(&self.job), id(&self.rx_job), id(&self.aleo_job))
    }

    /// Forgets the last connection's work (a new connection is starting).
    pub fn clear_work(&mut self) {
        self.job = None;
        self.rx_job = None;
        self.aleo_sub = None;
        self.aleo_job = None;
        self.aleo_difficulty = None;
    }
}

impl Default for UpstreamState {
    fn default() -> Self {
        UpstreamState::new()
    }
}

/// What the router hears from an upstream.
#[derive(Debug, Clone)]
pub enum UpstreamEvent {
    Ready {
        upstream: u64,
        pool: usize,
    },
    Failed {
        upstream: u64,
        pool: usize,
        error: String,
    },
    Down {
        upstream: u64,
        pool: usize,
        error: String,
    },
}

/// The shared face of an upstream task.
#[derive(Debug)]
pub struct UpstreamHandle {
    pub id: u64,
    pub pool: Arc<PoolInfo>,
    pub cmd_tx: mpsc::Sender<UpstreamCmd>,
    pub state: watch::Receiver<Arc<UpstreamState>>,
    /// The pool username this connection authorized as (the submit's worker).
    pub username: String,
    /// Pool notifications the proxy does not understand, relayed to every attached miner.
    pub relay: tokio::sync::broadcast::Sender<bytes::Bytes>,
    /// RandomX: the NiceHash nonce slots of this connection's miners.
    pub slots: crate::randomx::slots::NonceSlots,
    pub(super) attached: AtomicUsize,
    pub(super) capacity: usize,
}

impl UpstreamHandle {
    /// Reserves a miner slot; false when full.
    pub fn try_attach(&self) -> bool {
        let prev = self.attached.fetch_add(1, Ordering::AcqRel);
        if prev >= self.capacity {
            self.attached.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub fn detach(&self) {
        let _ = self
            .attached
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    pub fn attached(&self) -> usize {
        self.attached.load(Ordering::Acquire)
    }

    pub fn status(&self) -> Status {
        self.state.borrow().status
    }

    pub fn shutdown(&self, drain: Duration) {
        let _ = self.cmd_tx.try_send(UpstreamCmd::Shutdown { drain });
    }
}

/// Everything an upstream task needs besides its pool.
#[derive(Debug, Clone)]
pub struct UpstreamParams {
    pub timing: Arc<Timing>,
    pub version_mask: u32,
    pub username: String,
    pub capacity: usize,
    pub events: Option<mpsc::Sender<UpstreamEvent>>,
    pub agent: String,
    /// ALEO: the dialect to try and a dedicated connection's credentials.
    pub aleo: crate::aleo::AleoParams,
    /// Where the events of shares whose miner is gone are recorded.
    pub share_events: EventSink,
    /// TLS for `stratum+ssl://` pools.
    pub tls: crate::tls::PoolTls,
}
