//! `ScriptedPool`: a Stratum V1 pool on 127.0.0.1 that really verifies every
//! share, with runtime controls and injectable faults for end-to-end tests.

mod conn;
mod job;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchyard_stratum::Request;
use switchyard_stratum::v1::{Notify, ServerMethod};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use conn::{ConnCmd, run_connection};
pub use job::{NBITS, VERSION, build_job};
pub use state::{ConnectionInfo, PoolState, ShareRecord};

use crate::lines::{DEFAULT_TIMEOUT, wait_watch};

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

/// Misbehaviour to inject; read at the moment each event happens.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Accept, then close at once.
    RefuseConnections,
    /// Answer `mining.subscribe`, then close.
    CloseAfterSubscribe,
    /// Keep reading, never write anything (answers, jobs, anything).
    Stall,
    /// Hold every answer (with what comes along with it) this long.
    SlowAnswers(Duration),
    /// Answer every submit `[20, reason, null]`.
    RejectAll(String),
    /// Answer every authorize `false` with `[24, "Unauthorized worker", null]`.
    Unauthorized,
}

struct Shared {
    config: PoolConfig,
    state: watch::Sender<PoolState>,
    shutdown: watch::Sender<bool>,
}

/// The running pool. Dropping it stops it.
pub struct ScriptedPool {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl ScriptedPool {
    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(config: PoolConfig) -> anyhow::Result<ScriptedPool> {
        Self::start_on("127.0.0.1:0".parse()?, config).await
    }

    /// Binds `addr` (for example the address of a pool stopped earlier, to
    /// bring it "back up") and starts serving.
    pub async fn start_on(addr: SocketAddr, config: PoolConfig) -> anyhow::Result<ScriptedPool> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("scripted pool: binding {addr}"))?;
        let addr = listener.local_addr()?;
        let state = PoolState {
            connections: Vec::new(),
            shares: Vec::new(),
            accepted: 0,
            rejected: 0,
            requests: Vec::new(),
            bad_lines: Vec::new(),
            difficulty: config.difficulty,
            fault: Fault::None,
            listening: true,
            current_job: build_job(1, 4 + config.extranonce2_size, true),
            job_seq: 1,
            extranonce1_prefix: rand::random(),
            seen: Default::default(),
        };
        let shared = Arc::new(Shared {
            config,
            state: watch::Sender::new(state),
            shutdown: watch::Sender::new(false),
        });
        tokio::spawn(accept_loop(listener, shared.clone()));
        if let Some(every) = shared.config.job_interval {
            tokio::spawn(push_jobs(shared.clone(), every));
        }
        Ok(ScriptedPool { addr, shared })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &PoolConfig {
        &self.shared.config
    }

    /// Reads the whole state (do not hold the guard across an await).
    pub fn state(&self) -> watch::Ref<'_, PoolState> {
        self.shared.state.borrow()
    }

    pub fn accepted(&self) -> usize {
        self.state().accepted
    }

    pub fn rejected(&self) -> usize {
        self.state().rejected
    }

    pub fn shares(&self) -> Vec<ShareRecord> {
        self.state().shares.clone()
    }

    /// Connections accepted so far (including refused and closed ones).
    pub fn connections(&self) -> usize {
        self.state().connections.len()
    }

    pub fn open_connections(&self) -> usize {
        self.state().open_connections()
    }

    pub fn connection(&self, id: usize) -> Option<ConnectionInfo> {
        self.state().connections.get(id).cloned()
    }

    pub fn connection_infos(&self) -> Vec<ConnectionInfo> {
        self.state().connections.clone()
    }

    /// Usernames from every successful `mining.authorize`, in order.
    pub fn authorized_users(&self) -> Vec<String> {
        self.state().authorized_users()
    }

    /// Every request received, with its connection id.
    pub fn requests(&self) -> Vec<(usize, Request)> {
        self.state().requests.clone()
    }

    pub fn current_job(&self) -> Notify {
        self.state().current_job.clone()
    }

    /// Waits until `cond` holds; the error names `what`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl FnMut(&PoolState) -> bool,
    ) -> anyhow::Result<()> {
        let mut rx = self.shared.state.subscribe();
        wait_watch(
            &mut rx,
            &format!("pool {}: {what}", self.addr),
            timeout,
            cond,
        )
        .await
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

    /// Waits until `n` connections were accepted in total.
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

    /// Makes a new job, sends it to every authorized connection and returns its id.
    pub fn new_job(&self, clean: bool) -> String {
        self.shared.new_job(clean)
    }

    /// Sets the difficulty for everyone and sends `mining.set_difficulty`.
    /// Shares on jobs sent before are checked against the lower of the two.
    pub fn set_difficulty(&self, difficulty: f64) {
        let line = ServerMethod::SetDifficulty(difficulty)
            .to_notification()
            .to_line();
        self.shared.state.send_modify(|s| {
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
        self.shared.state.send_modify(|s| {
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

    /// Writes `line` (a `\n` is added when missing) to every open connection.
    pub fn send_raw_to_all(&self, line: &[u8]) {
        for c in self.state().connections.iter().filter(|c| c.open) {
            let _ = c.tx.send(ConnCmd::Line(line.to_vec()));
        }
    }

    pub fn send_raw(&self, conn: usize, line: &[u8]) {
        if let Some(c) = self.state().connections.get(conn) {
            let _ = c.tx.send(ConnCmd::Line(line.to_vec()));
        }
    }

    /// Closes connection `conn`.
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
        self.shared.state.send_modify(|s| s.fault = fault);
    }

    /// Stops listening and closes every connection; returns once the port is
    /// free and every connection is closed.
    pub async fn stop(&self) -> anyhow::Result<()> {
        self.shared.shutdown.send_replace(true);
        self.wait_until(
            "stop (listener closed, no open connections)",
            DEFAULT_TIMEOUT,
            |s| !s.listening && s.open_connections() == 0,
        )
        .await
    }
}

impl Drop for ScriptedPool {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

impl Shared {
    fn new_job(&self, clean: bool) -> String {
        let mut job_id = String::new();
        self.state.send_modify(|s| {
            s.job_seq += 1;
            let job = build_job(s.job_seq, 4 + self.config.extranonce2_size, clean);
            job_id = job.job_id.clone();
            s.current_job = job.clone();
            let targets: Vec<usize> = s
                .connections
                .iter()
                .filter(|c| c.open && !c.authorized.is_empty())
                .map(|c| c.id)
                .collect();
            for conn in targets {
                s.send_job(conn, &job);
            }
        });
        job_id
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped(&mut shutdown) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "scripted pool: accept failed");
                continue;
            }
        };
        // Like a real pool: no Nagle delay on small stratum lines.
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::unbounded_channel();
        let mut id = 0;
        let mut refused = false;
        shared.state.send_modify(|s| {
            id = s.connections.len();
            refused = s.fault == Fault::RefuseConnections;
            let extranonce1 = s.next_extranonce1(id);
            s.connections.push(ConnectionInfo {
                id,
                peer,
                open: !refused,
                refused,
                subscribed: false,
                agent: None,
                session_requested: None,
                resumed: false,
                extranonce1,
                extranonce2_size: shared.config.extranonce2_size,
                authorized: Vec::new(),
                version_mask: None,
                extranonce_subscribed: false,
                suggested_difficulty: None,
                difficulty: s.difficulty,
                jobs: Default::default(),
                tx,
            });
        });
        if refused {
            drop(stream);
            continue;
        }
        tokio::spawn(run_connection(shared.clone(), id, stream, rx));
    }
    drop(listener);
    shared.state.send_modify(|s| s.listening = false);
}

/// Resolves once the pool is told to stop (or its handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn push_jobs(shared: Arc<Shared>, every: Duration) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = ticks.tick() => { shared.new_job(false); }
            _ = stopped(&mut shutdown) => break,
        }
    }
}
