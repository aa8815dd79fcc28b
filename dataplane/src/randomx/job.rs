//! A pool's RandomX job as sessions see it: the job itself, which upstream
//! connection and pool it came from (shares for it go back there, also in
//! the grace period after a switch), and the difficulty its target asks for.

use std::sync::Arc;

use switchyard_stratum::randomx;
use tokio::sync::mpsc;

use crate::upstream::{PoolInfo, UpstreamCmd};

#[derive(Debug)]
pub struct RxJob {
    pub upstream_id: u64,
    pub pool: Arc<PoolInfo>,
    /// The upstream connection that gave the job (its shares go there).
    pub cmd_tx: mpsc::Sender<UpstreamCmd>,
    pub job: randomx::Job,
}

impl RxJob {
    /// The pool's difficulty for this job (from its target).
    pub fn pool_difficulty(&self) -> u64 {
        self.job.difficulty()
    }

    /// The job id a miner sees: unique across upstream connections, so a
    /// share in the grace period finds the job (and pool) it belongs to.
    pub fn miner_job_id(&self) -> String {
        format!("{:x}.{}", self.upstream_id, self.job.job_id)
    }

    /// Splits a miner's job id back into (upstream id, pool job id).
    pub fn split_job_id(id: &str) -> Option<(u64, &str)> {
        let (up, job) = id.split_once('.')?;
        Some((u64::from_str_radix(up, 16).ok()?, job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn miner_job_ids_round_trip_and_bad_ones_are_refused() {
        assert_eq!(RxJob::split_job_id("1f.q7PL.x"), Some((0x1f, "q7PL.x")));
        assert_eq!(RxJob::split_job_id("q7PL"), None);
        assert_eq!(RxJob::split_job_id("zz.q7PL"), None);
    }
}
