//! `RxPool`: a scripted Monero-style pool on 127.0.0.1 speaking the xmrig
//! dialect (`login`, `submit`, `keepalived`, `getjob`, `job` notifications),
//! with runtime controls and injectable faults for end-to-end tests.
//!
//! Shares are verified without RandomX: the harness's stand-in hash is
//! [`test_hash`]`(blob) = SHA-256(blob)`, computed over the job's blob with
//! the submitted nonce written at offset 39. A share is accepted when its
//! claimed `result` equals that hash, the hash meets the job's target (last 8
//! bytes little-endian below the target's threshold, as xmrig compares), the
//! job is known and current, and (job_id, nonce) was not accepted before on
//! that connection.

mod job;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use switchyard_stratum::Request;
use switchyard_stratum::randomx::{DEFAULT_ALGO, Job, NONCE_OFFSET};

pub use job::JobChange;
pub use state::{RxConnection, RxPoolState, RxShare, RxVerdict};

use crate::pool::Fault;
use crate::scripted_io::server::{ConnCmd, Server};

/// The harness's stand-in for RandomX: SHA-256 of the hashing blob.
pub fn test_hash(blob: &[u8]) -> [u8; 32] {
    Sha256::digest(blob).into()
}

/// [`test_hash`] of `blob` with `nonce` written at [`NONCE_OFFSET`] (39):
/// what a share's `result` must be. `blob` must be at least 43 bytes.
pub fn share_result(blob: &[u8], nonce: [u8; 4]) -> [u8; 32] {
    let mut blob = blob.to_vec();
    blob[NONCE_OFFSET..NONCE_OFFSET + 4].copy_from_slice(&nonce);
    test_hash(&blob)
}

/// How the pool behaves.
#[derive(Debug, Clone)]
pub struct RxPoolConfig {
    /// Share difficulty: a share takes about this many hashes (SHA-256 is
    /// fast, 1,000 to 100,000 are all quick).
    pub difficulty: u64,
    /// Send targets in the 8-byte form (16 hex digits) instead of 4 bytes.
    pub full_target: bool,
    /// The algorithm of the jobs (and the one login `algo` lists must name).
    pub algo: String,
    /// Put `algo` in each job (some pools leave it out).
    pub algo_in_job: bool,
    /// Refuse a login whose non-empty `algo` list lacks `algo`
    /// ("Unsupported algorithm"); a login without a list is always accepted.
    pub require_algo: bool,
    /// Height of the first job.
    pub height: u64,
    /// Blob length in bytes (at least 76).
    pub blob_len: usize,
    /// `extensions` of the login result.
    pub extensions: Vec<String>,
    /// Prefix of every job id (job ids are `<prefix><seq>`).
    pub job_id_prefix: String,
    /// Refuse ("Unauthenticated") a submit whose `id` is not the
    /// connection's session id.
    pub check_session_id: bool,
    /// Push a new job (same height, old jobs stay valid) this often.
    pub job_interval: Option<Duration>,
}

impl Default for RxPoolConfig {
    fn default() -> Self {
        RxPoolConfig {
            difficulty: 1000,
            full_target: false,
            algo: DEFAULT_ALGO.to_owned(),
            algo_in_job: true,
            require_algo: true,
            height: 3_000_000,
            blob_len: 76,
            extensions: vec!["algo".into(), "nicehash".into(), "keepalive".into()],
            job_id_prefix: String::new(),
            check_session_id: true,
            job_interval: None,
        }
    }
}

/// The running pool. Dropping it stops it.
///
/// Faults ([`Fault`], shared with the SHA-256 pool) mean here:
/// `RefuseConnections` accept then close; `CloseAfterSubscribe` answer
/// `login`, then close; `Stall` write nothing; `SlowAnswers(d)` hold every
/// answer `d`; `RejectAll(reason)` refuse every submit with `reason`;
/// `Unauthorized` refuse every login ("Unauthorized").
pub struct RxPool {
    server: Arc<Server<RxPoolState>>,
}

impl RxPool {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(config: RxPoolConfig) -> anyhow::Result<RxPool> {
        Self::start_on("127.0.0.1:0".parse()?, config).await
    }

    /// Binds `addr` (for example that of a pool stopped earlier).
    pub async fn start_on(addr: SocketAddr, config: RxPoolConfig) -> anyhow::Result<RxPool> {
        anyhow::ensure!(config.blob_len >= 76, "blob_len must be at least 76");
        let every = config.job_interval;
        let server = Server::start(addr, RxPoolState::new(config), "rx pool").await?;
        if let Some(every) = every {
            server.every(every, |s| {
                s.state.send_modify(|st| {
                    st.push_job(JobChange::Refresh);
                })
            });
        }
        Ok(RxPool { server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Reads the whole state (do not hold the guard across an await).
    pub fn state(&self) -> tokio::sync::watch::Ref<'_, RxPoolState> {
        self.server.state.borrow()
    }

    pub fn config(&self) -> RxPoolConfig {
        self.state().config.clone()
    }

    pub fn accepted(&self) -> usize {
        self.state().accepted
    }

    pub fn rejected(&self) -> usize {
        self.state().rejected
    }

    pub fn shares(&self) -> Vec<RxShare> {
        self.state().shares.clone()
    }

    /// Shares (accepted or not) that came on connection `conn`.
    pub fn shares_on(&self, conn: usize) -> Vec<RxShare> {
        self.state()
            .shares
            .iter()
            .filter(|s| s.conn == conn)
            .cloned()
            .collect()
    }

    /// Connections accepted so far (including refused and closed ones).
    pub fn connections(&self) -> usize {
        self.state().connections.len()
    }

    pub fn open_connections(&self) -> usize {
        self.state().open_connections()
    }

    pub fn connection(&self, id: usize) -> Option<RxConnection> {
        self.state().connections.get(id).cloned()
    }

    pub fn connection_infos(&self) -> Vec<RxConnection> {
        self.state().connections.clone()
    }

    /// The `login` field of every successful login, in order.
    pub fn logins(&self) -> Vec<String> {
        self.state().logins()
    }

    /// Every request received, with its connection id.
    pub fn requests(&self) -> Vec<(usize, Request)> {
        self.state().requests.clone()
    }

    /// Lines that were not JSON-RPC, with their connection id.
    pub fn bad_lines(&self) -> Vec<(usize, String)> {
        self.state().bad_lines.clone()
    }

    /// The current job as a template (connections get it personalised: the
    /// blob's bytes 43..47 differ per connection, like a reserved nonce).
    pub fn current_job(&self) -> Job {
        self.state().current_job.clone()
    }

    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl FnMut(&RxPoolState) -> bool,
    ) -> anyhow::Result<()> {
        self.server.wait_until(what, timeout, cond).await
    }

    pub async fn wait_for_accepted(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        self.wait_until(&format!("{n} accepted shares"), timeout, |s| {
            s.accepted >= n
        })
        .await
    }

    /// Waits until `n` shares (accepted or not) were submitted.
    pub async fn wait_for_shares(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        self.wait_until(&format!("{n} submitted shares"), timeout, |s| {
            s.shares.len() >= n
        })
        .await
    }

    pub async fn wait_for_connections(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        self.wait_until(&format!("{n} connections"), timeout, |s| {
            s.connections.len() >= n
        })
        .await
    }

    pub async fn wait_for_open_connections(
        &self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        self.wait_until(&format!("exactly {n} open connections"), timeout, |s| {
            s.open_connections() == n
        })
        .await
    }

    /// Waits until `n` logins succeeded in total.
    pub async fn wait_for_logins(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        self.wait_until(&format!("{n} logins"), timeout, |s| s.logins().len() >= n)
            .await
    }

    /// Pushes a job of the next height (same seed) to every logged-in
    /// connection; jobs of lower heights become stale. Returns its id.
    pub fn new_job(&self) -> String {
        self.push(JobChange::NewHeight)
    }

    /// Like `new_job` with a new `seed_hash` too.
    pub fn new_seed(&self) -> String {
        self.push(JobChange::NewSeed)
    }

    /// Pushes a job of the same height; earlier jobs stay valid.
    pub fn refresh_job(&self) -> String {
        self.push(JobChange::Refresh)
    }

    /// Sets the difficulty and pushes a job (same height) with the new
    /// target; earlier jobs stay valid at their own target.
    pub fn set_difficulty(&self, difficulty: u64) -> String {
        self.server.state.send_modify(|s| s.difficulty = difficulty);
        self.push(JobChange::Refresh)
    }

    fn push(&self, change: JobChange) -> String {
        let mut id = String::new();
        self.server
            .state
            .send_modify(|s| id = s.push_job(change).job_id);
        id
    }

    /// Writes `line` (a `\n` is added when missing) to connection `conn`.
    pub fn send_raw(&self, conn: usize, line: &[u8]) {
        if let Some(c) = self.state().connections.get(conn) {
            let _ = c.tx.send(ConnCmd::Line(line.to_vec()));
        }
    }

    pub fn send_raw_to_all(&self, line: &[u8]) {
        for c in self.state().connections.iter().filter(|c| c.open) {
            let _ = c.tx.send(ConnCmd::Line(line.to_vec()));
        }
    }

    pub fn close(&self, conn: usize) {
        if let Some(c) = self.state().connections.get(conn) {
            let _ = c.tx.send(ConnCmd::Close);
        }
    }

    /// Closes every open connection; the pool keeps listening.
    pub fn close_all(&self) {
        for c in self.state().connections.iter().filter(|c| c.open) {
            let _ = c.tx.send(ConnCmd::Close);
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        self.server.state.send_modify(|s| s.fault = fault);
    }

    /// Stops listening and closes every connection; returns once the port is
    /// free and every connection is closed.
    pub async fn stop(&self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

impl Drop for RxPool {
    fn drop(&mut self) {
        self.server.shutdown.send_replace(true);
    }
}
