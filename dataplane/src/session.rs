//! One miner's session, owned by one task: reads the miner's lines,
//! answers subscribe/authorize/configure itself, validates shares, forwards
//! the ones that meet the pool's target to the upstream its job came from,
//! and follows the route (new pool's job at once, old jobs kept for grace).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use switchyard_stratum::v1::{ClientMethod, ServerMethod};
use switchyard_stratum::{Message, Response, codes};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, PoolMode, Timing};
use crate::difficulty::Controller;
use crate::dupcache::DuplicateCache;
use crate::job::Job;
use crate::net::{LineError, LineReader};
use crate::prefix::PrefixAllocator;
use crate::router::{PoolRuntime, Route, RouterHandle};
use crate::stats::ListenerStats;
use crate::upstream::{
    PoolAnswer, PoolInfo, ReplyTo, Status, UpstreamCmd, UpstreamHandle, UpstreamState,
};
use crate::validate::{self, MinerView, Verdict};

mod handshake;
mod shares;

pub(crate) use shares::bounded;

/// What every session of a listener shares.
pub struct SessionCtx {
    /// The miners' dialect: which session type the listener runs.
    pub algorithm: crate::config::Algorithm,
    pub config: Arc<Config>,
    pub timing: Arc<Timing>,
    pub router: RouterHandle,
    pub prefixes: Mutex<PrefixAllocator>,
    pub version_mask: u32,
    pub stats: Arc<ListenerStats>,
    /// Where share events go (disabled in standalone mode).
    pub events: crate::events::EventSink,
}

/// A pool username for a passthrough miner: `{worker}` filled in, or the
/// worker appended after a dot.
pub fn pool_username(template: &str, worker: &str) -> String {
    if template.contains("{worker}") {
        template.replace("{worker}", worker)
    } else {
        format!("{template}.{worker}")
    }
}

/// The worker part of a miner's username ("wallet.rig1" -> "rig1").
pub(crate) fn worker_name(user: &str) -> &str {
    user.split_once('.').map_or(user, |(_, w)| w).trim()
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DupKey {
    job: Arc<str>,
    extranonce2: Vec<u8>,
    ntime: u32,
    nonce: u32,
    version_bits: Option<u32>,
}

struct JobEntry {
    job: Arc<Job>,
    miner_difficulty: f64,
    /// The miner's extranonce2 size when it got this job (a later
    /// `mining.set_extranonce` applies to later jobs only).
    extranonce2_size: usize,
    /// Set when the miner moved to another upstream: valid until then (grace).
    valid_until: Option<Instant>,
}

struct Attached {
    handle: Arc<UpstreamHandle>,
    state: watch::Receiver<Arc<UpstreamState>>,
    relay: tokio::sync::broadcast::Receiver<bytes::Bytes>,
    /// Passthrough: this session owns the connection.
    owned: bool,
}

pub struct Session {
    ctx: Arc<SessionCtx>,
    peer: SocketAddr,
    writer: OwnedWriteHalf,
    out: Vec<u8>,
    inbox_tx: mpsc::Sender<Box<PoolAnswer>>,
    kill: CancellationToken,
    route: watch::Receiver<Arc<Route>>,
    subscribe_id: Option<(Value, Instant)>,
    subscribed: bool,
    authorized: Option<String>,
    prefix: Option<Vec<u8>>,
    m: usize,
    extranonce_subscribed: bool,
    miner_mask: u32,
    /// The mask the miner was last told (configure answer or set_version_mask).
    told_mask: u32,
    floor: Option<f64>,
    difficulty: Option<Controller>,
    sent_difficulty: Option<f64>,
    upstream: Option<Attached>,
    jobs: VecDeque<JobEntry>,
    last_job: Option<Arc<Job>>,
    dups: DuplicateCache<DupKey>,
    closing: bool,
}

impl Session {
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
        let mut s = Session {
            dups: DuplicateCache::new(v.share_cache_size, ctx.timing.share_cache_ttl),
            route: ctx.router.route.clone(),
            ctx: ctx.clone(),
            peer,
            writer: w,
            out: Vec::new(),
            inbox_tx,
            kill: shutdown.child_token(),
            subscribe_id: None,
            subscribed: false,
            authorized: None,
            prefix: None,
            m: ctx.config.aggregation.miner_extranonce2_size,
            extranonce_subscribed: false,
            miner_mask: 0,
            told_mask: 0,
            floor: None,
            difficulty: None,
            sent_difficulty: None,
            upstream: None,
            jobs: VecDeque::new(),
            last_job: None,
            closing: false,
        };
        let reason = s.serve(&mut reader, &mut inbox_rx).await;
        tracing::debug!(miner = %peer, %reason, "miner disconnected");
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
        reader: &mut LineReader<tokio::net::tcp::OwnedReadHalf>,
        inbox: &mut mpsc::Receiver<Box<PoolAnswer>>,
    ) -> String {
        let started = Instant::now();
        let mut last_read = Instant::now();
        loop {
            let now = Instant::now();
            let idle_limit = if self.subscribed && self.authorized.is_some() {
                last_read + self.ctx.timing.miner_idle
            } else {
                started + self.ctx.timing.handshake
            };
            let timer = [
                Some(idle_limit),
                self.subscribe_id.as_ref().map(|(_, at)| *at),
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
                            self.reply(Response::error(Value::Null, codes::OTHER, &format!("Line longer than {max} bytes")));
                            self.closing = true;
                        }
                        Err(LineError::Io(e)) => return format!("read error: {e}"),
                    }
                }
                Ok(()) = self.route.changed() => self.on_route().await,
                Ok(()) = async { match up_state { Some(rx) => rx.changed().await, None => std::future::pending().await } } => {
                    self.on_upstream_state();
                }
                Ok(line) = async { match up_relay { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    self.out.extend_from_slice(&line);
                }
                _ = tokio::time::sleep_until(timer.into()) => {
                    let now = Instant::now();
                    if now >= idle_limit {
                        return if self.subscribed { "idle timeout".into() } else { "handshake timeout".into() };
                    }
                    if let Some((id, at)) = self.subscribe_id.take() {
                        if now >= at {
                            self.reply(Response::error(id, codes::OTHER, "No pool is available right now; try again later"));
                            self.closing = true;
                        } else {
                            self.subscribe_id = Some((id, at));
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

    fn detach(&mut self) {
        if let Some(a) = self.upstream.take() {
            if a.owned {
                a.handle.shutdown(self.ctx.timing.grace());
            } else {
                a.handle.detach();
            }
        }
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

    fn send(&mut self, m: ServerMethod) {
        self.out.extend_from_slice(&m.to_notification().to_line());
    }

    async fn on_line(&mut self, line: &[u8]) {
        let req = match Message::parse(line) {
            Ok(Message::Request(req)) => req,
            Ok(Message::Response(_)) => return, // e.g. an answer to client.get_version
            Err(e) => {
                self.reply(Response::error(
                    Value::Null,
                    codes::OTHER,
                    &format!("Invalid message: {e}"),
                ));
                return;
            }
        };
        let method = match ClientMethod::from_request(&req) {
            Ok(m) => m,
            Err(e) => {
                self.reply(Response::error(req.id, codes::OTHER, &e.to_string()));
                return;
            }
        };
        match method {
            ClientMethod::Subscribe { .. } => self.on_subscribe(req.id).await,
            ClientMethod::Authorize { user, .. } => self.on_authorize(req.id, user).await,
            ClientMethod::Configure(c) => self.on_configure(req.id, &c),
            ClientMethod::ExtranonceSubscribe => {
                self.extranonce_subscribed = true;
                self.reply(Response::ok(req.id, json!(true)));
            }
            ClientMethod::SuggestDifficulty(d) => {
                self.set_floor(d);
                self.reply(Response::ok(req.id, json!(true)));
            }
            ClientMethod::Submit(s) => self.on_submit(req.id, s).await,
            ClientMethod::Unknown { method, params } => self.relay(req.id, method, params).await,
        }
    }

    async fn on_route(&mut self) {
        if let Some((id, at)) = self.subscribe_id.take() {
            if self.ready_pool().is_none() {
                self.subscribe_id = Some((id, at));
                return;
            }
            self.complete_subscribe(id);
        }
        self.follow_route().await;
    }

    /// Follows the current route: attach to its pool if not already there.
    async fn follow_route(&mut self) {
        if !self.subscribed || self.authorized.is_none() {
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
        let attached = match pool.info.mode {
            PoolMode::Aggregate => self.ctx.router.attach(&pool).await.map(|h| (h, false)),
            PoolMode::Passthrough => {
                let worker = worker_name(self.authorized.as_deref().unwrap_or_default()).to_owned();
                Some((
                    self.ctx
                        .router
                        .dedicated(&pool, pool_username(&pool.info.username, &worker)),
                    true,
                ))
            }
        };
        let Some((handle, owned)) = attached else {
            return;
        };
        // Jobs of the old upstream stay valid for the grace period.
        let grace_end = Instant::now() + self.ctx.timing.grace();
        for e in &mut self.jobs {
            e.valid_until.get_or_insert(grace_end);
        }
        self.detach();
        let state = handle.state.clone();
        // Relayed pool notifications from before this miner arrived are not replayed.
        let relay = handle.relay.subscribe();
        self.difficulty = Some(Controller::new(
            &self.ctx.config,
            &pool.info,
            self.floor,
            Instant::now(),
        ));
        self.sent_difficulty = None;
        self.upstream = Some(Attached {
            handle,
            state,
            relay,
            owned,
        });
        self.last_job = None;
        self.on_upstream_state();
    }

    fn on_upstream_state(&mut self) {
        let Some(a) = &mut self.upstream else { return };
        let state = a.state.borrow_and_update().clone();
        if state.status != Status::Ready {
            return;
        }
        if let Some(c) = &mut self.difficulty {
            c.on_pool_difficulty(state.difficulty, Instant::now());
        }
        let Some(job) = state.job.clone() else { return };
        if self.last_job.as_ref().is_some_and(|j| Arc::ptr_eq(j, &job)) {
            return;
        }
        self.send_job(job);
    }

    fn send_job(&mut self, job: Arc<Job>) {
        let k = self.prefix.as_ref().map_or(0, Vec::len);
        let switched = self
            .last_job
            .as_ref()
            .is_none_or(|j| j.upstream_id != job.upstream_id);
        if !job.fits(k, self.m) {
            let n = job.extranonce2_size;
            if self.extranonce_subscribed && n > k {
                self.m = self.miner_extranonce2_size(n, k);
                let e1 = self.prefix.clone().unwrap_or_default();
                self.send(ServerMethod::SetExtranonce {
                    extranonce1: e1,
                    extranonce2_size: self.m,
                });
            } else {
                tracing::info!(miner = %self.peer, "pool's extranonce space no longer fits this miner: reconnecting it");
                self.send(ServerMethod::Reconnect {
                    host: None,
                    port: None,
                    wait_seconds: 0,
                });
                self.closing = true;
                return;
            }
        }
        // A pool that grants a narrower version mask: tell the miner (BIP 310).
        if self.miner_mask != 0 && self.miner_mask & job.version_mask != self.told_mask {
            self.told_mask = self.miner_mask & job.version_mask;
            self.send(ServerMethod::SetVersionMask(self.told_mask));
        }
        self.poll_difficulty();
        let Some(line) = job.miner_line(k, self.m, switched) else {
            return;
        };
        if job.notify.clean_jobs {
            let up = job.upstream_id;
            self.jobs.retain(|e| e.job.upstream_id != up);
        }
        let cap = self.ctx.config.validation.job_cache_size;
        while self.jobs.len() >= cap * 2
            || self.jobs.iter().filter(|e| e.valid_until.is_none()).count() >= cap
        {
            self.jobs.pop_front();
        }
        let miner_difficulty = self.sent_difficulty.unwrap_or(job.pool_difficulty);
        self.jobs.push_back(JobEntry {
            job: job.clone(),
            miner_difficulty,
            extranonce2_size: self.m,
            valid_until: None,
        });
        self.out.extend_from_slice(&line);
        self.last_job = Some(job);
    }

    /// The extranonce2 size a miner gets when the pool gives `n` bytes and
    /// the prefix takes `k`: the configured size, or what is left.
    fn miner_extranonce2_size(&self, n: usize, k: usize) -> usize {
        self.ctx
            .config
            .aggregation
            .miner_extranonce2_size
            .min(n - k)
    }

    fn poll_difficulty(&mut self) {
        let Some(c) = &mut self.difficulty else {
            return;
        };
        let now = Instant::now();
        if let Some(d) = c
            .poll(now)
            .or_else(|| c.current().filter(|_| self.sent_difficulty.is_none()))
            && self.sent_difficulty != Some(d)
        {
            self.sent_difficulty = Some(d);
            self.send(ServerMethod::SetDifficulty(d));
        }
    }
}

/// Everything a session holds is given back here, however it ended (even
/// if its task panicked or was aborted): its pool slot and its prefix.
impl Drop for Session {
    fn drop(&mut self) {
        self.detach();
        if let Some(p) = self.prefix.take()
            && let Ok(mut a) = self.ctx.prefixes.lock()
        {
            a.release(&p);
        }
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
