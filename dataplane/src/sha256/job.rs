//! A pool job as miners see it: the pool's notify plus the upstream state it
//! was issued under, with the miner-side notify lines serialised once per
//! (miner extranonce2 size, clean flag) and shared by every miner.
//!
//! Miners get extranonce1 = their prefix P and a fixed extranonce2 size m.
//! The upstream's extranonce1 is folded into coinb1 and unused upstream
//! extranonce2 bytes into the front of coinb2 as zeros (design.md decision 4),
//! so the coinbase the pool rebuilds is byte-identical to the miner's.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use switchyard_stratum::v1::{Notify, ServerMethod};
use tokio::sync::mpsc;

use crate::upstream::{PoolInfo, UpstreamCmd};

/// Largest miner extranonce2 size served (config allows up to 16).
const MAX_M: usize = 16;

pub struct Job {
    /// The id miners see: unique across every upstream of this process.
    pub proxy_id: Arc<str>,
    pub upstream_id: u64,
    pub pool: Arc<PoolInfo>,
    pub to_upstream: mpsc::Sender<UpstreamCmd>,
    pub notify: Notify,
    /// The upstream's extranonce1 and extranonce2 size when the job came.
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
    /// The pool's difficulty for this job.
    pub pool_difficulty: f64,
    /// The version mask the pool granted (0: no version rolling).
    pub version_mask: u32,
    lines: [OnceLock<Bytes>; 2 * (MAX_M + 1)],
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("proxy_id", &self.proxy_id)
            .field("pool_job_id", &self.notify.job_id)
            .field("upstream_id", &self.upstream_id)
            .finish_non_exhaustive()
    }
}

static NEXT_JOB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Job {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        upstream_id: u64,
        pool: Arc<PoolInfo>,
        to_upstream: mpsc::Sender<UpstreamCmd>,
        notify: Notify,
        extranonce1: Vec<u8>,
        extranonce2_size: usize,
        pool_difficulty: f64,
        version_mask: u32,
    ) -> Job {
        let n = NEXT_JOB.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Job {
            proxy_id: format!("{n:x}").into(),
            upstream_id,
            pool,
            to_upstream,
            notify,
            extranonce1,
            extranonce2_size,
            pool_difficulty,
            version_mask,
            lines: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// Whether a miner with a `prefix_len`-byte prefix and `m`-byte
    /// extranonce2 fits this job's upstream extranonce2 space.
    pub fn fits(&self, prefix_len: usize, m: usize) -> bool {
        m <= MAX_M && prefix_len + m <= self.extranonce2_size
    }

    /// The `mining.notify` line for miners of extranonce2 size `m`;
    /// `None` when they do not fit. Serialised once, shared by all.
    pub fn miner_line(&self, prefix_len: usize, m: usize, force_clean: bool) -> Option<Bytes> {
        if !self.fits(prefix_len, m) {
            return None;
        }
        let slot = &self.lines[m * 2 + usize::from(force_clean)];
        Some(
            slot.get_or_init(|| {
                let pad = self.extranonce2_size - prefix_len - m;
                let mut n = self.notify.clone();
                n.job_id = self.proxy_id.to_string();
                n.coinb1.extend_from_slice(&self.extranonce1);
                let mut coinb2 = vec![0u8; pad];
                coinb2.extend_from_slice(&self.notify.coinb2);
                n.coinb2 = coinb2;
                n.clean_jobs = n.clean_jobs || force_clean;
                Bytes::from(ServerMethod::Notify(n).to_notification().to_line())
            })
            .clone(),
        )
    }

    /// The extranonce2 sent upstream for a miner's share: P + e2 + zeros.
    pub fn upstream_extranonce2(&self, prefix: &[u8], miner_e2: &[u8]) -> Vec<u8> {
        let mut e2 = Vec::with_capacity(self.extranonce2_size);
        e2.extend_from_slice(prefix);
        e2.extend_from_slice(miner_e2);
        e2.resize(self.extranonce2_size.max(e2.len()), 0);
        e2
    }
}
