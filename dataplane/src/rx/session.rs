//! One RandomX (xmrig) miner's session, owned by one task, on the same
//! structure as the SHA-256 session: it follows the router's route, attaches
//! to a shared upstream (aggregation, with a NiceHash nonce slot of that
//! connection) or to a dedicated one (passthrough), answers `login`,
//! `keepalived` and `getjob` itself, sends the miner its own copy of every
//! new job (its slot at blob byte 42, its own target), validates shares and
//! forwards those that meet the pool's target to the upstream their job came
//! from (jobs of the old upstream stay valid for the grace period).
//!
//! Miner job ids are `"{upstream:x}.{pool job id}"` ([`RxJob::miner_job_id`]).
//! A job is sent once: a VarDiff change applies from the next pool job, since
//! a resent blob restarts the miner's nonce search on work it already did.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use switchyard_stratum::Message;
use switchyard_stratum::randomx::{
    self, ClientMethod, GENERIC_ERROR_CODE, Job, Login, Target, error_response,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::RxJob;
use crate::config::PoolMode;
use crate::difficulty::Controller;
use crate::dupcache::DuplicateCache;
use crate::net::{LineError, LineReader};
use crate::router::Route;
use crate::session::{SessionCtx, pool_username};
use crate::upstream::{PoolAnswer, Status, UpstreamHandle, UpstreamState};

mod login;
mod shares;

/// Duplicate key of RandomX: (miner job id, nonce).
type DupKey = (Arc<str>, [u8; 4]);

/// A job as this miner got it.
struct JobEntry {
    job: Arc<RxJob>,
    miner_job_id: Arc<str>,
    /// The difficulty of the target the miner got with it.
    difficulty: u64,
    target: Target,
    /// The miner's NiceHash slot on the job's connection (aggregation).
    slot: Option<u8>,
    /// Set when the miner moved to another upstream: valid until then (grace).
    valid_until: Option<Instant>,
}

struct Attached {
    handle: Arc<UpstreamHandle>,
    state: watch::Receiver<Arc<UpstreamState>>,
    relay: tokio::sync::broadcast::Receiver<bytes::Bytes>,
    /// Passthrough: this session owns the connection.
    owned: bool,
    slot: Option<u8>,
}

pub struct RxSession {
    ctx: Arc<SessionCtx>,
    peer: SocketAddr,
    writer: OwnedWriteHalf,
    out: Vec<u8>,
    inbox_tx: mpsc::Sender<Box<PoolAnswer>>,
    kill: CancellationToken,
    route: watch::Receiver<Arc<Route>>,
    /// This miner's session id (the `id` of the login result and submits).
    session_id: String,
    login: Option<Login>,
    /// A login waiting for a pool's job: its request id and deadline.
    pending_login: Option<(Value, Instant)>,
    logged_in: bool,
    upstream: Option<Attached>,
    difficulty: Option<Controller>,
    jobs: VecDeque<JobEntry>,
    /// The job last sent, as the miner got it (what `getjob` answers).
    last_sent: Option<(Arc<RxJob>, Job)>,
    dups: DuplicateCache<DupKey>,
    closing: bool,
}

impl RxSession {
    /// Runs a miner connection to its end.
    pub async fn run(
        ctx: Arc<SessionCtx>,
        stream: TcpStream,
        peer: SocketAddr,
        shutdown: CancellationToken,
    ) {
        let (r, w) = stream.into_split();
        let mut reader = LineReader::new(r, ctx.config.limits.max_line_length);
        let (inbox_tx, mut inbox_rx) = mpsc::channel(ctx.config.limits.outbound_queue);
        let v = &ctx.config.validation;
        let mut s = RxSession {
            dups: DuplicateCache::new(v.share_cache_size, ctx.timing.share_cache_ttl),
            route: ctx.router.route.clone(),
            ctx: ctx.clone(),
            peer,
            writer: w,
            out: Vec::new(),
            inbox_tx,
            kill: shutdown.child_token(),
            session_id: format!("{:016x}", rand::random::<u64>()),
            login: None,
            pending_login: None,
            logged_in: false,
            upstream: None,
            difficulty: None,
            jobs: VecDeque::new(),
            last_sent: None,
            closing: false,
        };
        let reason = s.serve(&mut reader, &mut inbox_rx).await;
        tracing::debug!(miner = %peer, %reason, "randomx miner disconnected");
        // Answers already queued still complete their shares' events
        // (later ones are recorded by the upstream: the inbox is closed).
        inbox_rx.close();
        while let Ok(answer) = inbox_rx.try_recv() {
            s.on_pool_answer(*answer);
        }
        s.finish().await;
    }

    async fn serve(
        &mut self,
        reader: &mut LineReader<OwnedReadHalf>,
        inbox: &mut mpsc::Receiver<Box<PoolAnswer>>,
    ) -> String {
        let started = Instant::now();
        let mut last_read = Instant::now();
        loop {
            let now = Instant::now();
            let idle_limit = if self.logged_in {
                last_read + self.ctx.timing.miner_idle
            } else {
                started + self.ctx.timing.handshake
            };
            let timer = [
                Some(idle_limit),
                self.pending_login.as_ref().map(|(_, at)| *at),
                self.difficulty.as_ref().and_then(Controller::next_deadline),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + self.ctx.timing.miner_idle);
            let (up_state, up_relay) = match self.upstream.as_mut() {
                Some(a) => (Some(&mut a.state), Some(&mut a.relay)),
                None => (None, None),
            };
            tokio::select! {
                biased;
                _ = self.kill.cancelled() => return "stopped (shutdown or outbound queue full)".into(),
                Some(answer) = inbox.recv() => self.on_pool_answer(*answer),
                line = reader.next_line() => {
                    last_read = Instant::now();
                    match line {
                        Ok(Some(line)) => self.on_line(&line).await,
                        Ok(None) => return "miner closed the connection".into(),
                        Err(LineError::TooLong(max)) => {
                            self.error(Value::Null, &format!("Line longer than {max} bytes"));
                            self.closing = true;
                        }
                        Err(LineError::Io(e)) => return format!("read error: {e}"),
                    }
                }
                Ok(()) = self.route.changed() => self.follow_route().await,
                Ok(()) = async { match up_state { Some(rx) => rx.changed().await, None => std::future::pending().await } } => {
                    self.on_upstream_state();
                }
                Ok(line) = async { match up_relay { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    if self.logged_in {
                        self.out.extend_from_slice(&line);
                    }
                }
                _ = tokio::time::sleep_until(timer.into()) => {
                    let now = Instant::now();
                    if now >= idle_limit {
                        return if self.logged_in { "idle timeout".into() } else { "handshake timeout".into() };
                    }
                    if let Some((id, at)) = self.pending_login.take() {
                        if now >= at {
                            self.error(id, "No pool is available right now; try again later");
                            self.closing = true;
                        } else {
                            self.pending_login = Some((id, at));
                        }
                    }
                }
            }
            if let Some(c) = &mut self.difficulty {
                // Advances VarDiff's clock; the value applies from the next job.
                let _ = c.poll(Instant::now());
            }
            if let Err(e) = self.flush().await {
                return e;
            }
            if self.closing {
                return "closed by the proxy".into();
            }
        }
    }

    async fn finish(&mut self) {
        let _ = self.flush().await;
        let _ = self.writer.shutdown().await;
    }

    async fn flush(&mut self) -> Result<(), String> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        match tokio::time::timeout(self.ctx.timing.miner_write, self.writer.write_all(&out)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write error: {e}")),
            Err(_) => Err("write timeout: miner is not reading".into()),
        }
    }

    fn reply(&mut self, r: switchyard_stratum::Response) {
        self.out.extend_from_slice(&r.to_line());
    }

    /// An xmrig error answer: `{"code":-1,"message":..}`.
    fn error(&mut self, id: Value, message: &str) {
        self.reply(error_response(id, GENERIC_ERROR_CODE, message));
    }

    async fn on_line(&mut self, line: &[u8]) {
        let req = match Message::parse(line) {
            Ok(Message::Request(req)) => req,
            Ok(Message::Response(_)) => return,
            Err(e) => {
                self.error(Value::Null, &format!("Invalid message: {e}"));
                return;
            }
        };
        let method = match ClientMethod::from_request(&req) {
            Ok(m) => m,
            Err(e) => {
                self.error(req.id, &e.to_string());
                return;
            }
        };
        match method {
            ClientMethod::Login(login) => self.on_login(req.id, login).await,
            ClientMethod::Submit(s) => self.on_submit(req.id, s).await,
            ClientMethod::Keepalived { .. } => {
                self.reply(randomx::keepalived_response(req.id));
            }
            ClientMethod::GetJob { .. } => self.on_getjob(req.id),
            ClientMethod::Unknown { method, .. } => {
                let shown: String = method.chars().take(40).collect();
                self.error(req.id, &format!("Unsupported method {shown:?}"));
            }
        }
    }

    /// The worker's name: its rig id, else its login.
    fn worker(&self) -> &str {
        let Some(l) = &self.login else { return "" };
        match l.rigid.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => r,
            _ => l.login.trim(),
        }
    }

    /// Follows the current route: attach to its pool if not already there.
    async fn follow_route(&mut self) {
        if self.login.is_none() || self.closing {
            return;
        }
        let Some(pool) = self.route.borrow().pool.clone() else {
            return;
        };
        if self
            .upstream
            .as_ref()
            .is_some_and(|a| a.handle.pool.index == pool.info.index)
        {
            return;
        }
        let (handle, owned, slot) = match pool.info.mode {
            PoolMode::Aggregate => {
                let Some(handle) = self.ctx.router.attach(&pool).await else {
                    return;
                };
                let Some(slot) = handle.slots.take() else {
                    // Only when miners_per_upstream allows more than 256.
                    handle.detach();
                    tracing::warn!(pool = %pool.info.name, "no free nonce slot on the upstream connection");
                    return;
                };
                (handle, false, Some(slot))
            }
            PoolMode::Passthrough => {
                let worker = self
                    .worker()
                    .split_once('.')
                    .map_or(self.worker(), |(_, w)| w);
                let username = pool_username(&pool.info.username, worker);
                (self.ctx.router.dedicated(&pool, username), true, None)
            }
        };
        // Jobs of the old upstream stay valid for the grace period.
        let grace_end = Instant::now() + self.ctx.timing.grace();
        for e in &mut self.jobs {
            e.valid_until.get_or_insert(grace_end);
        }
        self.detach();
        self.difficulty = (pool.info.mode == PoolMode::Aggregate)
            .then(|| Controller::new(&self.ctx.config, &pool.info, None, Instant::now()));
        self.upstream = Some(Attached {
            state: handle.state.clone(),
            relay: handle.relay.subscribe(),
            handle,
            owned,
            slot,
        });
        self.on_upstream_state();
    }

    /// Gives the upstream (and the nonce slot on it) back.
    fn detach(&mut self) {
        if let Some(a) = self.upstream.take() {
            if let Some(slot) = a.slot {
                a.handle.slots.free(slot);
            }
            if a.owned {
                a.handle.shutdown(self.ctx.timing.grace());
            } else {
                a.handle.detach();
            }
        }
    }

    fn on_upstream_state(&mut self) {
        let Some(a) = &mut self.upstream else { return };
        let state = a.state.borrow_and_update().clone();
        if state.status != Status::Ready {
            return;
        }
        let Some(job) = state.rx_job.clone() else {
            return;
        };
        if self.pending_login.is_some() {
            self.complete_login(job);
        } else if self.logged_in {
            self.send_job(job);
        }
    }

    /// The difficulty this miner gets for `job`: VarDiff in aggregation
    /// (never above the pool's, at least 1), the pool's in passthrough.
    fn difficulty_for(&mut self, job: &RxJob) -> u64 {
        let pool = job.pool_difficulty().max(1);
        let Some(c) = &mut self.difficulty else {
            return pool;
        };
        let now = Instant::now();
        c.on_pool_difficulty(pool as f64, now);
        let _ = c.poll(now);
        let d = c.current().unwrap_or(pool as f64);
        if d.is_finite() {
            (d.floor() as u64).clamp(1, pool)
        } else {
            pool
        }
    }

    /// Records `job` as sent to this miner and returns the miner's copy:
    /// its slot in the blob, its miner job id, its target.
    fn issue(&mut self, job: Arc<RxJob>) -> Job {
        let difficulty = self.difficulty_for(&job);
        let slot = self.upstream.as_ref().and_then(|a| a.slot);
        let target = if difficulty >= job.pool_difficulty() {
            job.job.target
        } else {
            Target::from_difficulty(difficulty)
        };
        let mut copy = match slot {
            Some(s) => job.job.with_nicehash_slot(s),
            None => job.job.clone(),
        };
        let miner_job_id: Arc<str> = job.miner_job_id().into();
        copy.job_id = miner_job_id.to_string();
        copy.target = target;
        let cap = self.ctx.config.validation.job_cache_size;
        while self.jobs.len() >= cap * 2
            || self.jobs.iter().filter(|e| e.valid_until.is_none()).count() >= cap
        {
            self.jobs.pop_front();
        }
        self.jobs.push_back(JobEntry {
            job: job.clone(),
            miner_job_id,
            difficulty,
            target,
            slot,
            valid_until: None,
        });
        self.last_sent = Some((job, copy.clone()));
        copy
    }

    /// A new job for the miner, unless it has it already.
    fn send_job(&mut self, job: Arc<RxJob>) {
        if let Some((last, copy)) = &self.last_sent
            && (Arc::ptr_eq(last, &job)
                || (last.upstream_id == job.upstream_id && copy_matches(copy, &job)))
        {
            return;
        }
        let copy = self.issue(job);
        self.out
            .extend_from_slice(&copy.to_notification().to_line());
    }
}

/// Whether the miner's copy `copy` came from a job identical to `job` (an
/// upstream that republished the same work): resending it would restart the
/// miner's search for nothing.
fn copy_matches(copy: &Job, job: &RxJob) -> bool {
    let j = &job.job;
    copy.height == j.height
        && copy.seed_hash == j.seed_hash
        && copy.blob.len() == j.blob.len()
        && copy
            .blob
            .iter()
            .zip(&j.blob)
            .enumerate()
            .all(|(i, (a, b))| i == randomx::NICEHASH_OFFSET || a == b)
        && copy.job_id.split_once('.').map(|(_, id)| id) == Some(j.job_id.as_str())
}

/// Everything a session holds is given back here, however it ended (even
/// if its task panicked or was aborted): its upstream and its nonce slot.
impl Drop for RxSession {
    fn drop(&mut self) {
        self.detach();
        self.ctx
            .stats
            .active
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.ctx
            .stats
            .disconnections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}
