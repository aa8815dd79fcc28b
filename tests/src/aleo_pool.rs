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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchyard_stratum::Request;
use switchyard_stratum::aleo::{Dialect, Notify};

pub use state::{AleoConnection, AleoPoolState, AleoShare, AleoVerdict};

use crate::pool::Fault;
use crate::scripted_io::server::{ConnCmd, Server};

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
/// Faults ([`Fault`], shared with the SHA-256 pool): `RefuseConnections`
/// accept then close; `CloseAfterSubscribe` answer subscribe, then close;
/// `Stall` write nothing; `SlowAnswers(d)` hold every answer `d`;
/// `RejectAll(reason)` refuse every share with `reason`; `Unauthorized`
/// refuse every authorize.
pub struct AleoPool {
    server: Arc<Server<AleoPoolState>>,
}

impl AleoPool {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(config: AleoPoolConfig) -> anyhow::Result<AleoPool> {
        Self::start_on("127.0.0.1:0".parse()?, config).await
    }

    /// Binds `addr` (for example that of a pool stopped earlier).
    pub async fn start_on(addr: SocketAddr, config: AleoPoolConfig) -> anyhow::Result<AleoPool> {
        let every = config.job_interval;
        let server = Server::start(addr, AleoPoolState::new(config), "aleo pool").await?;
        if let Some(every) = every {
            server.every(every, |s| {
                s.state.send_modify(|st| {
                    st.push_job(false, None);
                })
            });
        }
        Ok(AleoPool { server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub fn dialect(&self) -> Dialect {
        self.state().config.dialect
    }

    /// Reads the whole state (do not hold the guard across an await).
    pub fn state(&self) -> tokio::sync::watch::Ref<'_, AleoPoolState> {
        self.server.state.borrow()
    }

    pub fn config(&self) -> AleoPoolConfig {
        self.state().config.clone()
    }

    pub fn accepted(&self) -> usize {
        self.state().accepted
    }

    pub fn rejected(&self) -> usize {
        self.state().rejected
    }

    pub fn shares(&self) -> Vec<AleoShare> {
        self.state().shares.clone()
    }

    /// Shares (accepted or not) that came on connection `conn`.
    pub fn shares_on(&self, conn: usize) -> Vec<AleoShare> {
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

    pub fn connection(&self, id: usize) -> Option<AleoConnection> {
        self.state().connections.get(id).cloned()
    }

    pub fn connection_infos(&self) -> Vec<AleoConnection> {
        self.state().connections.clone()
    }

    /// Workers from every successful `mining.authorize`, in order.
    pub fn authorized_users(&self) -> Vec<String> {
        self.state().authorized_users()
    }

    /// Every request received, with its connection id.
    pub fn requests(&self) -> Vec<(usize, Request)> {
        self.state().requests.clone()
    }

    /// Lines that were not JSON-RPC, with their connection id.
    pub fn bad_lines(&self) -> Vec<(usize, String)> {
        self.state().bad_lines.clone()
    }

    /// What the peer sent that an ALEO pool does not speak, with the
    /// connection id (`mining.configure`, unknown methods, a subscribe in
    /// the other dialect). A correct proxy leaves this empty.
    pub fn violations(&self) -> Vec<(usize, String)> {
        self.state().violations.clone()
    }

    pub fn current_job(&self) -> Notify {
        self.state().current_job.clone()
    }

    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl FnMut(&AleoPoolState) -> bool,
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

    pub async fn wait_for_authorized(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        self.wait_until(&format!("{n} authorized users"), timeout, |s| {
            s.authorized_users().len() >= n
        })
        .await
    }

    /// Makes a new job, sends it to every authorized connection and returns
    /// its id. A clean job makes every earlier job stale.
    pub fn new_job(&self, clean: bool) -> String {
        let mut id = String::new();
        self.server.state.send_modify(|s| {
            id = s.push_job(clean, None).0.job_id().to_owned();
        });
        id
    }

    /// Sets the difficulty for jobs from now on; sends `mining.set_target` /
    /// `mining.set_difficulty` when `send_difficulty`, and in IceRiver a new
    /// (not clean) job carrying the new target.
    pub fn set_difficulty(&self, difficulty: u64) {
        self.server
            .state
            .send_modify(|s| s.set_difficulty(difficulty));
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

impl Drop for AleoPool {
    fn drop(&mut self) {
        self.server.shutdown.send_replace(true);
    }
}
