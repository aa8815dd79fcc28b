//! One miner's session, owned by one task: reads the miner's lines,
//! answers subscribe/authorize/configure itself, validates shares, forwards
//! the ones that meet the pool's target to the upstream its job came from,
//! and follows the route (new pool's job at once, old jobs kept for grace).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};
use switchyard_stratum::v1::{ClientMethod, Configure, ServerMethod, Submit, SubscribeResult};
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

/// What every session of a listener shares.
pub struct SessionCtx {
    pub config: Arc<Config>,
    pub timing: Arc<Timing>,
    pub router: RouterHandle,
    pub prefixes: Mutex<PrefixAllocator>,
    pub version_mask: u32,
    pub stats: Arc<ListenerStats>,
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
fn worker_name(user: &str) -> &str {
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
    /// Set when the miner moved to another upstream: valid until then (grace).
    valid_until: Option<Instant>,
}

struct Attached {
    handle: Arc<UpstreamHandle>,
    state: watch::Receiver<Arc<UpstreamState>>,
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
    relay_seq: u64,
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
        let (inbox_tx, inbox_rx) = mpsc::channel(ctx.config.limits.outbound_queue);
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
            relay_seq: 0,
            closing: false,
        };
        let reason = s.serve(&mut reader, inbox_rx).await;
        tracing::debug!(miner = %peer, %reason, "miner disconnected");
        s.finish().await;
    }

    async fn serve(
        &mut self,
        reader: &mut LineReader<tokio::net::tcp::OwnedReadHalf>,
        mut inbox: mpsc::Receiver<Box<PoolAnswer>>,
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
            let up_state = self.upstream.as_mut().map(|a| &mut a.state);
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
        self.detach();
        if let Some(p) = self.prefix.take()
            && let Ok(mut a) = self.ctx.prefixes.lock()
        {
            a.release(&p);
        }
    }

    fn detach(&mut self) {
        if let Some(a) = self.upstream.take() {
            if a.owned {
                a.handle.shutdown(self.ctx.timing.grace);
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

    fn on_configure(&mut self, id: Value, c: &Configure) {
        let mut result = serde_json::Map::new();
        if let Some(mask) = c.version_rolling_mask() {
            let granted = mask & self.ctx.version_mask;
            let ok = granted != 0 && granted.count_ones() >= c.version_rolling_min_bit_count();
            self.miner_mask = if ok { granted } else { 0 };
            self.told_mask = self.miner_mask;
            result.insert("version-rolling".into(), json!(ok));
            if ok {
                result.insert(
                    "version-rolling.mask".into(),
                    json!(format!("{granted:08x}")),
                );
            }
        }
        if c.has("minimum-difficulty") {
            if let Some(d) = c.minimum_difficulty() {
                self.set_floor(d);
            }
            result.insert(
                "minimum-difficulty".into(),
                json!(c.minimum_difficulty().is_some()),
            );
        }
        if c.has("subscribe-extranonce") {
            self.extranonce_subscribed = true;
            result.insert("subscribe-extranonce".into(), json!(true));
        }
        if c.has("info") {
            result.insert("info".into(), json!(true));
        }
        self.reply(Response::ok(id, Value::Object(result)));
    }

    fn set_floor(&mut self, d: f64) {
        self.floor = Some(d);
        if let Some(c) = &mut self.difficulty {
            c.set_floor_hint(d);
        }
    }

    /// The extranonce2 size the current route lets us promise, if a pool is ready.
    fn ready_pool(&self) -> Option<(Arc<PoolRuntime>, usize)> {
        let route = self.route.borrow().clone();
        let pool = route.pool.clone()?;
        let n = pool.ready_upstream()?.state.borrow().extranonce2_size;
        Some((pool, n))
    }

    async fn on_subscribe(&mut self, id: Value) {
        if self.subscribed {
            let sub = self.subscribe_result();
            self.reply(Response::ok(id, sub.to_result()));
            return;
        }
        if self.ready_pool().is_none() {
            // Answer once a pool is ready, within a bounded wait.
            self.subscribe_id = Some((id, Instant::now() + self.ctx.timing.subscribe_wait));
            return;
        }
        self.complete_subscribe(id);
        self.follow_route().await;
    }

    fn complete_subscribe(&mut self, id: Value) {
        let Some((_, n)) = self.ready_pool() else {
            return;
        };
        let k = self.ctx.config.aggregation.extranonce_prefix_size;
        if n < k + 1 {
            self.reply(Response::error(
                id,
                codes::OTHER,
                "Pool extranonce space too small for this proxy",
            ));
            self.closing = true;
            return;
        }
        let prefix = self.ctx.prefixes.lock().ok().and_then(|mut a| a.allocate());
        let Some(prefix) = prefix else {
            self.reply(Response::error(
                id,
                codes::OTHER,
                "Proxy is full: no extranonce prefix left",
            ));
            self.closing = true;
            return;
        };
        self.m = self
            .ctx
            .config
            .aggregation
            .miner_extranonce2_size
            .min(n - k);
        self.prefix = Some(prefix);
        self.subscribed = true;
        let sub = self.subscribe_result();
        self.reply(Response::ok(id, sub.to_result()));
    }

    fn subscribe_result(&self) -> SubscribeResult {
        let prefix = self.prefix.clone().unwrap_or_default();
        SubscribeResult {
            subscription_id: Some(hex::encode(&prefix)),
            extranonce1: prefix,
            extranonce2_size: self.m,
        }
    }

    async fn on_authorize(&mut self, id: Value, user: String) {
        let first = self.authorized.is_none();
        self.authorized = Some(user);
        self.reply(Response::ok(id, json!(true)));
        if first && self.subscribed {
            self.follow_route().await;
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
        let grace_end = Instant::now() + self.ctx.timing.grace;
        for e in &mut self.jobs {
            e.valid_until.get_or_insert(grace_end);
        }
        self.detach();
        let state = handle.state.clone();
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
        if let Some((seq, line)) = &state.relay
            && *seq != self.relay_seq
        {
            self.relay_seq = *seq;
            self.out.extend_from_slice(line);
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
                self.m = self
                    .ctx
                    .config
                    .aggregation
                    .miner_extranonce2_size
                    .min(n - k);
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
            valid_until: None,
        });
        self.out.extend_from_slice(&line);
        self.last_job = Some(job);
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

    fn on_pool_answer(&mut self, a: PoolAnswer) {
        if a.is_submit
            && !a.response.is_ok()
            && let Some((code, text)) = a.response.error_parts()
            && crate::reason::normalise(code, &text) == "low difficulty share"
            && let Some(c) = &mut self.difficulty
        {
            c.on_low_difficulty_rejection(
                crate::reason::low_difficulty_value(&text),
                Instant::now(),
            );
        }
        let mut r = a.response;
        if r.result.is_null() && r.error.is_null() && a.is_submit {
            r.result = json!(true);
        }
        self.reply(r);
    }

    async fn relay(&mut self, id: Value, method: String, params: Value) {
        let Some(a) = &self.upstream else {
            self.reply(Response::error(
                id,
                codes::OTHER,
                &format!("Method {method:?} not supported before authorize"),
            ));
            return;
        };
        let reply = ReplyTo {
            inbox: self.inbox_tx.clone(),
            miner_id: id.clone(),
            kill: self.kill.clone(),
        };
        if a.handle
            .cmd_tx
            .send(UpstreamCmd::Relay {
                method,
                params,
                reply,
            })
            .await
            .is_err()
        {
            self.reply(Response::error(
                id,
                codes::OTHER,
                "Not connected to the pool",
            ));
        }
    }

    async fn on_submit(&mut self, id: Value, s: Submit) {
        let now = Instant::now();
        let Some(prefix) = self.prefix.clone().filter(|_| self.authorized.is_some()) else {
            let (code, msg) = if self.subscribed {
                (codes::UNAUTHORIZED, "Unauthorized worker")
            } else {
                (codes::NOT_SUBSCRIBED, "Not subscribed")
            };
            self.reply(Response::error(id, code, msg));
            return;
        };
        let entry = self
            .jobs
            .iter()
            .rev()
            .find(|e| *e.job.proxy_id == *s.job_id && e.valid_until.is_none_or(|t| now < t));
        let Some(entry) = entry else {
            let pool = self.upstream.as_ref().map(|a| a.handle.pool.clone());
            self.local(
                pool,
                id,
                false,
                Response::error(Value::Null, codes::JOB_NOT_FOUND, "Job not found (stale)"),
                "stale job",
            );
            return;
        };
        let job = entry.job.clone();
        let current = self.sent_difficulty.unwrap_or(entry.miner_difficulty);
        let miner_difficulty = entry.miner_difficulty.min(current);
        let pool_difficulty = match &self.upstream {
            Some(a) if a.handle.id == job.upstream_id => {
                job.pool_difficulty.min(a.state.borrow().difficulty)
            }
            _ => job.pool_difficulty,
        };
        let key = DupKey {
            job: job.proxy_id.clone(),
            extranonce2: s.extranonce2.clone(),
            ntime: s.ntime,
            nonce: s.nonce,
            version_bits: s.version_bits,
        };
        let view = MinerView {
            prefix: &prefix,
            extranonce2_size: self.m,
            version_mask: self.miner_mask,
            difficulty: miner_difficulty,
            ntime_max_future: self.ctx.config.validation.ntime_max_future,
        };
        let verdict = validate::check(&job, view, &s, pool_difficulty);
        if !matches!(verdict, Verdict::Reject { .. })
            && self.ctx.config.validation.reject_duplicates
            && !self.dups.insert(key, now)
        {
            self.local(
                Some(job.pool.clone()),
                id,
                false,
                Response::error(Value::Null, codes::DUPLICATE, "Duplicate share"),
                "duplicate share",
            );
            return;
        }
        if let Some(c) = &mut self.difficulty {
            c.on_share(now);
        }
        match verdict {
            Verdict::Reject {
                code,
                message,
                reason,
            } => {
                self.local(
                    Some(job.pool.clone()),
                    id,
                    false,
                    Response::error(Value::Null, code, message),
                    reason,
                );
            }
            Verdict::Accept { .. } => self.local(
                Some(job.pool.clone()),
                id,
                true,
                Response::ok(Value::Null, json!(true)),
                "",
            ),
            Verdict::Forward {
                extranonce2,
                version_bits,
                ..
            } => {
                let username = match &self.upstream {
                    Some(a) if a.handle.id == job.upstream_id => a.handle.username.clone(),
                    _ => job.pool.username.clone(),
                };
                let submit = Submit {
                    worker: username,
                    job_id: job.notify.job_id.clone(),
                    extranonce2,
                    ntime: s.ntime,
                    nonce: s.nonce,
                    version_bits,
                };
                let reply = ReplyTo {
                    inbox: self.inbox_tx.clone(),
                    miner_id: id.clone(),
                    kill: self.kill.clone(),
                };
                job.pool.stats.forwarded();
                if job
                    .to_upstream
                    .send(UpstreamCmd::Submit { submit, reply })
                    .await
                    .is_err()
                {
                    job.pool.stats.pool_verdict(false, "not connected");
                    self.reply(Response::error(
                        id,
                        codes::OTHER,
                        "Not connected to the pool",
                    ));
                }
            }
        }
    }

    /// Answers a share by itself and counts it for the pool whose job it was.
    fn local(
        &mut self,
        pool: Option<Arc<PoolInfo>>,
        id: Value,
        accepted: bool,
        mut r: Response,
        reason: &str,
    ) {
        if let Some(p) = pool {
            p.stats.local_verdict(accepted, reason);
        }
        r.id = id;
        self.reply(r);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
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
