//! `AleoPool`: a scripted ALEO pool on 127.0.0.1 speaking one dialect, chosen
//! by config: AleoStratum/3.0.0 (subscribe result `[session, server_nonce,
//! address]`, `mining.set_target`, 4-param notify, submit `[worker, job_id,
//! counter]`) or IceRiver-style (V1-shaped subscribe result, notify with
//! height / target / roots, submit `[job_id, counter, proof, nonce]`,
//! rejections as `"result":false` + `reject-reason`).
//!
//! Proofs cannot be checked cheaply, so the pool accepts every share except
//! duplicates (job_id, counter, nonce) across the pool, jobs never sent to
//! that connection, jobs dropped by a clean notify, unauthorized ones, and
//! nonces outside the connection's nonce space (an IceRiver nonce must
//! begin with the connection's extranonce1, an AleoStratum3 counter with the
//! server nonce when one is configured).
//! Everything is recorded, and whatever an ALEO pool does not speak
//! (`mining.configure`, other V1 extensions, a subscribe in the other
//! dialect) is answered with an error and recorded as a protocol violation.

mod state;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use switchyard_stratum::aleo::{Dialect, Notify};
use switchyard_stratum::{Request, Response, codes};
use tokio::sync::mpsc;

pub use state::{AleoConnection, AleoPoolState, AleoShare, AleoVerdict};

use crate::scripted_io::state::{ScriptedState, books, records};
use crate::scripted_io::{ConnCmd, Pool, Reply};

/// Where a bundled job goes relative to a rejection answer (same write).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RejectBundle {
    /// Answer rejections alone.
    #[default]
    None,
    /// The answer, then a new job notify, in one write.
    JobAfter,
    /// A new job notify, then the answer, in one write.
    JobBefore,
}

/// How the pool behaves.
#[derive(Debug, Clone)]
pub struct AleoPoolConfig {
    pub dialect: Dialect,
    /// AleoStratum3 sends it as `mining.set_target [difficulty]`; IceRiver
    /// puts `u64::MAX / difficulty` in every notify.
    pub difficulty: u64,
    /// Send `mining.set_target` (AleoStratum3) or `mining.set_difficulty`
    /// (IceRiver) after authorize and on `set_difficulty`. False: never
    /// (some pools don't); jobs still follow authorize.
    pub send_difficulty: bool,
    /// Bundle a new (not clean) job with every rejection answer.
    pub bundle_job_with_reject: RejectBundle,
    /// Close the connection after answering `mining.configure`.
    pub close_on_configure: bool,
    /// Refuse shares of workers (AleoStratum3) or connections (IceRiver)
    /// that did not authorize.
    pub require_authorized: bool,
    /// The address in AleoStratum3 subscribe results and notifies.
    pub pool_address: String,
    /// AleoStratum3 subscribe result's server nonce (hex) or null.
    pub server_nonce: Option<String>,
    /// IceRiver subscribe result's extranonce2_size.
    pub extranonce2_size: u64,
    /// IceRiver: connection `n` gets extranonce1 `base + n` (4 bytes).
    pub extranonce1_base: u32,
    /// Height of the first job (IceRiver notifies carry it).
    pub height: u64,
    /// Prefix of every job id (job ids are `<prefix><seq>`).
    pub job_id_prefix: String,
    /// Push a new (not clean) job this often.
    pub job_interval: Option<Duration>,
}

impl AleoPoolConfig {
    pub fn new(dialect: Dialect) -> Self {
        AleoPoolConfig {
            dialect,
            difficulty: 1000,
            send_difficulty: true,
            bundle_job_with_reject: RejectBundle::None,
            close_on_configure: false,
            require_authorized: true,
            pool_address: "aleo1switchyardscriptedpool0000000000000000000000000000000000".into(),
            server_nonce: None,
            extranonce2_size: 4,
            extranonce1_base: 0xa1e0_0000,
            height: 1_000_000,
            job_id_prefix: String::new(),
            job_interval: None,
        }
    }

    pub fn aleo_stratum3() -> Self {
        Self::new(Dialect::AleoStratum3)
    }

    pub fn iceriver() -> Self {
        Self::new(Dialect::IceRiver)
    }
}

impl Default for AleoPoolConfig {
    fn default() -> Self {
        Self::aleo_stratum3()
    }
}

/// The running pool. Dropping it stops it.
///
/// Faults ([`Fault`](crate::Fault), shared with the other pools):
/// `RefuseConnections` accept then close; `CloseAfterSubscribe` answer
/// subscribe, then close; `Stall` write nothing; `SlowAnswers(d)` hold every
/// answer `d`; `RejectAll(reason)` refuse every share with `reason`;
/// `Unauthorized` refuse every authorize.
pub type AleoPool = Pool<AleoPoolState>;

impl Pool<AleoPoolState> {
    pub fn dialect(&self) -> Dialect {
        self.state().config.dialect
    }

    /// What the peer sent that an ALEO pool does not speak, with the
    /// connection id (`mining.configure`, unknown methods, a subscribe in
    /// the other dialect). A correct proxy leaves this empty.
    pub fn violations(&self) -> Vec<(usize, String)> {
        self.state().violations.clone()
    }

    /// Makes a new job, sends it to every authorized connection and returns
    /// its id. A clean job makes every earlier job stale.
    pub fn new_job(&self, clean: bool) -> String {
        self.modify(|s| s.push_job(clean, None).0.job_id().to_owned())
    }

    /// Sets the difficulty for jobs from now on; sends `mining.set_target` /
    /// `mining.set_difficulty` when `send_difficulty`, and in IceRiver a new
    /// (not clean) job carrying the new target.
    pub fn set_difficulty(&self, difficulty: u64) {
        self.modify(|s| s.set_difficulty(difficulty));
    }
}

records!(AleoConnection, AleoShare, users: |c| c.authorized.clone());

impl ScriptedState for AleoPoolState {
    type Config = AleoPoolConfig;
    type Connection = AleoConnection;
    type Share = AleoShare;
    type Job = Notify;
    const KIND: &'static str = "aleo pool";

    books!();

    fn new(config: AleoPoolConfig) -> anyhow::Result<Self> {
        Ok(AleoPoolState::new(config))
    }

    fn push_timed_job(&mut self) {
        self.push_job(false, None);
    }

    fn new_connection(
        &self,
        id: usize,
        peer: SocketAddr,
        refused: bool,
        tx: mpsc::UnboundedSender<ConnCmd>,
    ) -> AleoConnection {
        AleoConnection {
            id,
            peer,
            open: !refused,
            refused,
            subscribe: None,
            subscribed: false,
            session_id: format!("{:08x}", 0x5e55_0000u32 + id as u32),
            extranonce1: (self.config.extranonce1_base.wrapping_add(id as u32))
                .to_be_bytes()
                .to_vec(),
            authorized: Vec::new(),
            job_ids: Vec::new(),
            valid: HashSet::new(),
            tx,
        }
    }

    fn on_request(&mut self, conn: usize, req: Request, line: &[u8], reply: &mut Reply) {
        self.handle_request(conn, req, line, reply);
    }

    fn parse_error(&self) -> Option<Response> {
        Some(self.error(&Value::Null, codes::OTHER, "Parse error"))
    }
}
