//! One ALEO miner's session, owned by one task, on the same structure as the
//! SHA-256 and RandomX sessions. Passthrough: the miner's subscribe opens its
//! own upstream connection to the route's pool and is answered with the
//! subscribe result that pool gave that connection. The miner's dialect is
//! what its subscribe announces (AleoStratum/3.x, or an IceRiver agent); a
//! subscribe that announces neither follows the pool's dialect; a miner whose
//! announced dialect the pool does not speak is refused with the reason. Its
//! authorize gives the connection its worker name (the pool username and the
//! miner's worker) and is answered once the pool accepted it and sent a job.
//! Jobs are relayed at once, with the seed's difficulty buffer applied where
//! the pool sends a difficulty (`set_target` / `set_difficulty` relayed in
//! their own form, an IceRiver notify's target raised to the miner's
//! difficulty). Shares: duplicates by (job_id, counter, nonce) as written and
//! stale jobs are refused here, every other one goes, params as the miner
//! wrote them, to the upstream its job came from, and the pool's verdict
//! comes back as the pool wrote it.
//!
//! On a route change the miner gets a new dedicated connection to the new
//! pool and its first job at once (clean); jobs of the old connection stay
//! valid for the grace period and their shares go there; the old connection
//! closes when grace ends and its pending submits are answered. A miner
//! whose nonce space the new connection does not allow (another server
//! nonce or extranonce1: ALEO has no `set_extranonce`) is disconnected
//! instead, so that it subscribes again and gets the new one.
//!
//! Miner job ids are `"{upstream:x}.{pool job id}"` ([`AleoJob::miner_job_id`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use switchyard_stratum::aleo::{ClientMethod, Dialect, ShareKey, reject_response};
use switchyard_stratum::{Message, Response, codes};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::AleoJob;
use crate::difficulty::Controller;
use crate::dupcache::DuplicateCache;
use crate::net::{LineError, LineReader};
use crate::router::Route;
use crate::session::SessionCtx;
use crate::upstream::{PoolAnswer, UpstreamHandle, UpstreamState};

mod handshake;
mod shares;

/// Duplicate key of ALEO: the job's connection and (job_id, counter, nonce).
type DupKey = (u64, ShareKey);

/// A job as this miner got it.
struct JobEntry {
    job: Arc<AleoJob>,
    /// The id the miner got it with ([`AleoJob::miner_job_id`]).
    miner_job_id: Arc<str>,
    /// The difficulty the miner was asked for with it (0 when unknown).
    difficulty: f64,
    /// Set when the miner moved to another upstream: valid until then (grace).
    valid_until: Option<Instant>,
}

struct Attached {
    handle: Arc<UpstreamHandle>,
    state: watch::Receiver<Arc<UpstreamState>>,
    relay: tokio::sync::broadcast::Receiver<bytes::Bytes>,
    /// The connection's pool username, once the miner authorized.
    credentials: watch::Sender<Option<String>>,
    /// Its subscribe result was checked against the miner's nonce space.
    nonce_checked: bool,
}

pub struct AleoSession {
    ctx: Arc<SessionCtx>,
    peer: SocketAddr,
    writer: OwnedWriteHalf,
    out: Vec<u8>,
    inbox_tx: mpsc::Sender<Box<PoolAnswer>>,
    kill: CancellationToken,
    route: watch::Receiver<Arc<Route>>,
    /// The miner's dialect: what its subscribe announced, else its pool's
    /// (configured or learned, IceRiver-style until the pool answers).
    dialect: Option<Dialect>,
    /// The dialect the miner's subscribe announced (`None`: it follows
    /// the pool's, see [`Subscribe::announced`]).
    ///
    /// [`Subscribe::announced`]: switchyard_stratum::aleo::Subscribe::announced
    announced: Option<Dialect>,
    /// A subscribe waiting for the pool's result: its id and deadline.
    pending_subscribe: Option<(Value, Instant)>,
    subscribed: bool,
    /// The worker the miner authorized first (as it named it).
    worker: Option<String>,
    /// An authorize waiting for the pool.
    pending_authorize: Option<Value>,
    authorized: bool,
    upstream: Option<Attached>,
    /// The seed's difficulty buffer on the current pool.
    difficulty: Option<Controller>,
    /// The pool's latest difficulty (its set_target / set_difficulty or
    /// the latest job's target).
    pool_difficulty: Option<f64>,
    /// What the pool last sent besides its jobs, in its form.
    pool_set: Option<super::PoolDifficulty>,
    sent_difficulty: Option<f64>,
    jobs: VecDeque<JobEntry>,
    last_job: Option<Arc<AleoJob>>,
    /// AleoStratum3: the pool address the miner proves for.
    address: Option<String>,
    /// What the pool fixed of the miner's nonces when it subscribed.
    nonce_space: Option<super::job::NonceSpace>,
    dups: DuplicateCache<DupKey>,
    closing: bool,
}

impl AleoSession {
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
        let mut s = AleoSession {
            dups: DuplicateCache::new(v.share_cache_size, ctx.timing.share_cache_ttl),
            route: ctx.router.route.clone(),
            ctx: ctx.clone(),
            peer,
            writer: w,
            out: Vec::new(),
            inbox_tx,
            kill: shutdown.child_token(),
            dialect: None,
            announced: None,
            pending_subscribe: None,
            subscribed: false,
            worker: None,
            pending_authorize: None,
            authorized: false,
            upstream: None,
            difficulty: None,
            pool_difficulty: None,
            pool_set: None,
            sent_difficulty: None,
            jobs: VecDeque::new(),
            last_job: None,
            address: None,
            nonce_space: None,
            closing: false,
        };
        let reason = s.serve(&mut reader, &mut inbox_rx).await;
        tracing::debug!(miner = %peer, %reason, "aleo miner disconnected");
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
            let idle_limit = if self.authorized {
                last_read + self.ctx.timing.miner_idle
            } else {
                started + self.ctx.timing.handshake
            };
            let timer = [
                Some(idle_limit),
                self.pending_subscribe.as_ref().map(|(_, at)| *at),
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
                            self.error(Value::Null, codes::OTHER, &format!("Line longer than {max} bytes"));
                            self.closing = true;
                        }
                        Err(LineError::Io(e)) => return format!("read error: {e}"),
                    }
                }
                Ok(()) = self.route.changed() => self.follow_route(),
                Ok(()) = async { match up_state { Some(rx) => rx.changed().await, None => std::future::pending().await } } => {
                    self.on_upstream_state();
                }
                Ok(line) = async { match up_relay { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    if self.subscribed {
                        self.out.extend_from_slice(&line);
                    }
                }
                _ = tokio::time::sleep_until(timer.into()) => {
                    let now = Instant::now();
                    if now >= idle_limit {
                        return if self.authorized { "idle timeout".into() } else { "handshake timeout".into() };
                    }
                    if let Some((id, at)) = self.pending_subscribe.take() {
                        if now >= at {
                            self.error(id, codes::OTHER, "No pool is available right now; try again later");
                            self.closing = true;
                        } else {
                            self.pending_subscribe = Some((id, at));
                        }
                    }
                }
            }
            self.poll_difficulty();
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

    fn reply(&mut self, r: Response) {
        self.out.extend_from_slice(&r.to_line());
    }

    /// An error answer in the miner's dialect: AleoStratum3's JSON-RPC 2.0
    /// `{"code":..,"message":..}`, Stratum V1's `[code, message, null]`
    /// otherwise (also before a subscribe said which).
    fn error(&mut self, id: Value, code: i64, message: &str) {
        let r = match self.dialect {
            Some(Dialect::AleoStratum3) => {
                reject_response(Dialect::AleoStratum3, id, code, message)
            }
            _ => Response::error(id, code, message),
        };
        self.reply(r);
    }

    async fn on_line(&mut self, line: &[u8]) {
        let req = match Message::parse(line) {
            Ok(Message::Request(req)) => req,
            Ok(Message::Response(_)) => return,
            Err(e) => {
                self.error(Value::Null, codes::OTHER, &format!("Invalid message: {e}"));
                return;
            }
        };
        // A submit's params stay as the miner wrote them (relayed verbatim).
        let method = match ClientMethod::from_line(&req, line, self.dialect) {
            Ok(m) => m,
            Err(e) => {
                self.error(req.id, codes::OTHER, &e.to_string());
                return;
            }
        };
        match method {
            ClientMethod::Subscribe(s) => self.on_subscribe(req.id, s),
            ClientMethod::Authorize { user, .. } => self.on_authorize(req.id, user),
            ClientMethod::Submit(s) => self.on_submit(req.id, s).await,
            ClientMethod::Unknown { method, .. } => {
                // Never relayed: an ALEO pool speaks nothing else.
                let shown: String = method.chars().take(40).collect();
                self.error(
                    req.id,
                    codes::OTHER,
                    &format!(
                        "Unsupported method {shown:?}: ALEO stratum has mining.subscribe, mining.authorize and mining.submit"
                    ),
                );
            }
        }
    }

    /// The pool's difficulty changed: the buffer follows it.
    fn on_pool_difficulty(&mut self, d: f64) {
        self.pool_difficulty = Some(d);
        if let Some(c) = &mut self.difficulty {
            c.on_pool_difficulty(d, Instant::now());
        }
        self.poll_difficulty();
    }

    /// Sends the buffer's new difficulty, in the form the pool used:
    /// `set_target` or `set_difficulty`; a pool whose difficulty comes only
    /// in its IceRiver notifies gets it in the next notify's target.
    fn poll_difficulty(&mut self) {
        if !self.authorized {
            return;
        }
        let Some(c) = &mut self.difficulty else {
            return;
        };
        let Some(d) = c.poll(Instant::now()) else {
            return;
        };
        if self.sent_difficulty == Some(d) {
            return;
        }
        self.sent_difficulty = Some(d);
        let dialect = self.dialect.unwrap_or(Dialect::IceRiver);
        let m = match self.pool_set {
            Some(super::PoolDifficulty::Target(_)) => {
                switchyard_stratum::aleo::ServerMethod::SetTarget(whole(d))
            }
            Some(super::PoolDifficulty::Difficulty(_)) => {
                switchyard_stratum::aleo::ServerMethod::SetDifficulty(whole(d) as f64)
            }
            None => return,
        };
        self.out
            .extend_from_slice(&m.to_notification(dialect).to_line());
    }

    /// A new job for the miner, unless it has it already.
    fn send_job(&mut self, job: Arc<AleoJob>) {
        if self.last_job.as_ref().is_some_and(|j| Arc::ptr_eq(j, &job)) {
            return;
        }
        let switched = self
            .last_job
            .as_ref()
            .is_some_and(|j| j.upstream_id != job.upstream_id);
        if let Some(d) = job.target_difficulty() {
            self.on_pool_difficulty(d);
        }
        let raised = match job.dialect() {
            Dialect::IceRiver => self.sent_difficulty.map(whole),
            Dialect::AleoStratum3 => None,
        };
        let fill = job
            .address
            .as_deref()
            .filter(|a| self.address.as_deref() != Some(*a));
        let line = job.miner_line(raised, switched, fill);
        let miner_job_id: Arc<str> = job.miner_job_id().into();
        if job.address.is_some() {
            self.address = job.address.clone();
        }
        if switched || job.notify.clean_jobs() {
            let up = job.upstream_id;
            self.jobs
                .retain(|e| e.job.upstream_id != up || e.valid_until.is_some());
        }
        let cap = self.ctx.config.validation.job_cache_size;
        while self.jobs.len() >= cap * 2
            || self.jobs.iter().filter(|e| e.valid_until.is_none()).count() >= cap
        {
            self.jobs.pop_front();
        }
        let difficulty = self
            .sent_difficulty
            .or(job.target_difficulty())
            .or(self.pool_difficulty)
            .unwrap_or(0.0);
        self.jobs.push_back(JobEntry {
            job: job.clone(),
            miner_job_id,
            difficulty,
            valid_until: None,
        });
        self.out.extend_from_slice(&line);
        self.last_job = Some(job);
    }

    /// Gives the upstream back: it closes after the grace period (its
    /// jobs' shares) once its pending submits are answered.
    fn detach(&mut self) {
        if let Some(a) = self.upstream.take() {
            a.handle.shutdown(self.ctx.timing.grace());
        }
    }
}

/// A difficulty as the whole number sent to miners: rounded up, except
/// that float noise (1050.0000000002) does not add one.
fn whole(d: f64) -> u64 {
    let r = d.round();
    if (d - r).abs() < 1e-6 {
        r as u64
    } else {
        d.ceil() as u64
    }
}

/// Everything a session holds is given back here, however it ended (even
/// if its task panicked or was aborted): its upstream connection.
impl Drop for AleoSession {
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
