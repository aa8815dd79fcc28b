//! `ScriptedPool`: a Stratum V1 pool on 127.0.0.1 that really verifies every
//! share, with runtime controls and injectable faults for end-to-end tests.
//! The accessors, waiters and faults are every scripted pool's
//! ([`Pool`]); Stratum V1's own controls are here.

mod job;
mod state;

use std::net::SocketAddr;
use std::time::Duration;

use switchyard_stratum::v1::{Notify, ServerMethod};
use switchyard_stratum::{Request, Response};
use tokio::sync::mpsc;

pub use job::{NBITS, VERSION, build_job};
pub use state::{ConnectionInfo, PoolState, ShareRecord};

pub use crate::scripted_io::state::Fault;
use crate::scripted_io::state::{ScriptedState, books, records};
use crate::scripted_io::{ConnCmd, Pool, Reply};

/// How the pool behaves.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Share difficulty. A debug build hashes about 1e5 headers a second and
    /// a share takes about 2^32 * difficulty hashes: keep it tiny (1e-6 is
    /// about 4,300 hashes, 1e-5 about 43,000).
    pub difficulty: f64,
    pub extranonce2_size: usize,
    /// Answer `version-rolling` in `mining.configure` with this mask (AND the
    /// miner's) when set; refuse it when `None`.
    pub version_mask: Option<u32>,
    /// Push a new (not clean) job this often.
    pub job_interval: Option<Duration>,
    /// ckpool quirk: send set_difficulty and notify before the authorize answer.
    pub send_difficulty_before_authorize_answer: bool,
    /// Reject (24) a submit whose worker was not authorized on its connection.
    pub require_authorized_worker: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            difficulty: 1e-6,
            extranonce2_size: 8,
            version_mask: None,
            job_interval: None,
            send_difficulty_before_authorize_answer: false,
            require_authorized_worker: true,
        }
    }
}

/// The running pool. Dropping it stops it.
///
/// Faults ([`Fault`]): `RefuseConnections` accept then close;
/// `CloseAfterSubscribe` answer `mining.subscribe`, then close; `Stall`
/// write nothing; `SlowAnswers(d)` hold every answer `d`; `RejectAll(reason)`
/// answer every submit `[20, reason, null]`; `Unauthorized` answer every
/// authorize `false` with `[24, "Unauthorized worker", null]`.
pub type ScriptedPool = Pool<PoolState>;

impl Pool<PoolState> {
    /// Makes a new job, sends it to every authorized connection and returns its id.
    pub fn new_job(&self, clean: bool) -> String {
        self.modify(|s| s.push_job(clean))
    }

    /// Sets the difficulty for everyone and sends `mining.set_difficulty`.
    /// Shares on jobs sent before are checked against the lower of the two.
    pub fn set_difficulty(&self, difficulty: f64) {
        let line = ServerMethod::SetDifficulty(difficulty)
            .to_notification()
            .to_line();
        self.modify(|s| {
            s.difficulty = difficulty;
            for c in s.connections.iter_mut().filter(|c| c.open) {
                c.difficulty = difficulty;
                if !c.authorized.is_empty() {
                    let _ = c.tx.send(ConnCmd::Line(line.clone()));
                }
            }
        });
    }

    /// Sends `mining.set_extranonce` to connection `conn`; it applies to jobs
    /// sent after it (push one with `new_job`).
    pub fn send_set_extranonce(&self, conn: usize, extranonce1: &[u8], extranonce2_size: usize) {
        let line = ServerMethod::SetExtranonce {
            extranonce1: extranonce1.to_vec(),
            extranonce2_size,
        }
        .to_notification()
        .to_line();
        self.modify(|s| {
            if let Some(c) = s.connections.get_mut(conn) {
                c.extranonce1 = extranonce1.to_vec();
                c.extranonce2_size = extranonce2_size;
                let _ = c.tx.send(ConnCmd::Line(line));
            }
        });
    }

    /// Sends `client.reconnect` to every open connection.
    pub fn send_reconnect(&self, host: &str, port: u16) {
        let line = ServerMethod::Reconnect {
            host: Some(host.to_owned()),
            port: Some(port),
            wait_seconds: 0,
        }
        .to_notification()
        .to_line();
        self.send_raw_to_all(&line);
    }
}

records!(ConnectionInfo, ShareRecord, users: |c| c.authorized.clone());

impl ScriptedState for PoolState {
    type Config = PoolConfig;
    type Connection = ConnectionInfo;
    type Share = ShareRecord;
    type Job = Notify;
    const KIND: &'static str = "scripted pool";

    books!();

    fn new(config: PoolConfig) -> anyhow::Result<Self> {
        Ok(PoolState::new(config))
    }

    fn push_timed_job(&mut self) {
        self.push_job(false);
    }

    fn new_connection(
        &self,
        id: usize,
        peer: SocketAddr,
        refused: bool,
        tx: mpsc::UnboundedSender<ConnCmd>,
    ) -> ConnectionInfo {
        ConnectionInfo {
            id,
            peer,
            open: !refused,
            refused,
            subscribed: false,
            agent: None,
            session_requested: None,
            resumed: false,
            extranonce1: self.next_extranonce1(id),
            extranonce2_size: self.config.extranonce2_size,
            authorized: Vec::new(),
            version_mask: None,
            extranonce_subscribed: false,
            suggested_difficulty: None,
            difficulty: self.difficulty,
            jobs: Default::default(),
            tx,
        }
    }

    fn on_request(&mut self, conn: usize, req: Request, _line: &[u8], reply: &mut Reply) {
        self.handle_request(conn, req, reply);
    }

    /// A Stratum V1 pool answers nothing to a line that is not JSON-RPC.
    fn parse_error(&self) -> Option<Response> {
        None
    }
}
