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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_stratum::randomx::{DEFAULT_ALGO, Job, NONCE_OFFSET, error_response};
use switchyard_stratum::{Request, Response};
use tokio::sync::mpsc;

pub use job::JobChange;
pub use state::{RxConnection, RxPoolState, RxShare, RxVerdict};

use crate::scripted_io::state::{ScriptedState, books, records};
use crate::scripted_io::{ConnCmd, Pool, Reply};

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

/// The running pool. Dropping it stops it. Its current job is a template:
/// connections get it personalised (the blob's bytes 43..47 differ per
/// connection, like a reserved nonce).
///
/// Faults ([`Fault`](crate::Fault), shared with the other pools) mean here:
/// `RefuseConnections` accept then close; `CloseAfterSubscribe` answer
/// `login`, then close; `Stall` write nothing; `SlowAnswers(d)` hold every
/// answer `d`; `RejectAll(reason)` refuse every submit with `reason`;
/// `Unauthorized` refuse every login ("Unauthorized").
pub type RxPool = Pool<RxPoolState>;

impl Pool<RxPoolState> {
    /// The `login` field of every successful login, in order.
    pub fn logins(&self) -> Vec<String> {
        self.authorized_users()
    }

    /// Waits until `n` logins succeeded in total.
    pub async fn wait_for_logins(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        self.wait_for_authorized(n, timeout).await
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
        self.modify(|s| s.difficulty = difficulty);
        self.push(JobChange::Refresh)
    }

    fn push(&self, change: JobChange) -> String {
        self.modify(|s| s.push_job(change).job_id)
    }
}

records!(RxConnection, RxShare, users: |c| c.login().filter(|_| c.logged_in).map(|l| vec![l.login.clone()]).unwrap_or_default());

impl ScriptedState for RxPoolState {
    type Config = RxPoolConfig;
    type Connection = RxConnection;
    type Share = RxShare;
    type Job = Job;
    const KIND: &'static str = "rx pool";

    books!();

    fn new(config: RxPoolConfig) -> anyhow::Result<Self> {
        anyhow::ensure!(config.blob_len >= 76, "blob_len must be at least 76");
        Ok(RxPoolState::new(config))
    }

    fn push_timed_job(&mut self) {
        self.push_job(JobChange::Refresh);
    }

    fn new_connection(
        &self,
        id: usize,
        peer: SocketAddr,
        refused: bool,
        tx: mpsc::UnboundedSender<ConnCmd>,
    ) -> RxConnection {
        RxConnection {
            id,
            peer,
            open: !refused,
            refused,
            session_id: format!("rx-session-{id}"),
            logins: Vec::new(),
            logged_in: false,
            keepalives: 0,
            getjobs: 0,
            job_ids: Vec::new(),
            jobs: HashMap::new(),
            tx,
        }
    }

    fn on_request(&mut self, conn: usize, req: Request, _line: &[u8], reply: &mut Reply) {
        self.handle_request(conn, req, reply);
    }

    fn parse_error(&self) -> Option<Response> {
        Some(error_response(Value::Null, -32700, "Parse error"))
    }
}
