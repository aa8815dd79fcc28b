//! One SHA-256 (Stratum V1) miner's session, run by the one miner loop
//! ([`crate::miner::run`]): answers subscribe/authorize/configure itself,
//! validates shares, forwards the ones that meet the pool's target to the
//! upstream its job came from, and follows the route (new pool's job at
//! once, old jobs kept for grace).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use switchyard_stratum::v1::{ClientMethod, ServerMethod};
use switchyard_stratum::{Message, Response, codes};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::PoolMode;
use crate::difficulty::Controller;
use crate::dupcache::DuplicateCache;
use crate::miner::{
    Awaiting, MinerIo, MinerProtocol, SessionCtx, Then, Watches, pool_username, worker_name,
};
use crate::route::PoolRuntime;
use crate::sha256::job::Job;
use crate::sha256::validate::{self, MinerView, Verdict};
use crate::telemetry::miners::MinerHandle;
use crate::upstream::{
    PoolAnswer, PoolInfo, PoolShare, ReplyTo, Status, UpstreamCmd, UpstreamHandle, UpstreamState,
};

mod handshake;
mod shares;

pub(crate) use shares::bounded;

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
    /// This connection in the telemetry's registry.
    miner: MinerHandle,
    io: MinerIo,
    inbox_tx: crate::upstream::Inbox,
    kill: CancellationToken,
    /// A subscribe answered once a pool is ready.
    subscribe: Awaiting,
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
    /// Unknown methods this miner may still have relayed to the shared
    /// pool connection.
    relays: shares::RelayBudget,
    closing: bool,
}

impl MinerProtocol for Session {
    const NAME: &'static str = "sha256";

    fn new(
        ctx: Arc<SessionCtx>,
        miner: MinerHandle,
        io: MinerIo,
        inbox_tx: crate::upstream::Inbox,
        kill: CancellationToken,
    ) -> Self {
        let v = &ctx.config.validation;
        Session {
            dups: DuplicateCache::new(v.share_cache_size, ctx.timing.share_cache_ttl),
            m: ctx.config.aggregation.miner_extranonce2_size,
            ctx,
            miner,
            io,
            inbox_tx,
            kill,
            subscribe: Awaiting::default(),
            subscribed: false,
            authorized: None,
            prefix: None,
            extranonce_subscribed: false,
            miner_mask: 0,
            told_mask: 0,
            floor: None,
            difficulty: None,
            sent_difficulty: None,
            upstream: None,
            jobs: VecDeque::new(),
            last_job: None,
            relays: shares::RelayBudget::new(Instant::now()),
            closing: false,
        }
    }

    fn io(&mut self) -> &mut MinerIo {
        &mut self.io
    }

    fn on_line(&mut self, line: &[u8]) -> Then<'_> {
        self.line(line)
    }

    fn on_unsent(&mut self, miner_id: Value) {
        let refusal = Response::error(miner_id, codes::OTHER, "Not connected to the pool");
        self.reply(refusal);
    }

    fn on_line_too_long(&mut self, max: usize) {
        let message = format!("Line longer than {max} bytes");
        self.reply(Response::error(Value::Null, codes::OTHER, &message));
        self.closing = true;
    }

    async fn on_route(&mut self) {
        self.route_changed().await;
    }

    fn on_pool_answer(&mut self, answer: PoolAnswer) {
        self.pool_answer(answer);
    }

    fn on_upstream_state(&mut self) {
        self.upstream_state();
    }

    fn on_relay(&mut self, line: &[u8]) {
        self.io.push(line);
    }

    fn watches(&mut self) -> Option<Watches<'_>> {
        self.upstream.as_mut().map(|a| (&mut a.state, &mut a.relay))
    }

    fn handshake_done(&self) -> bool {
        self.subscribed && self.authorized.is_some()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.difficulty.as_ref().and_then(Controller::next_deadline)
    }

    fn duplicates(&mut self) -> &mut dyn crate::dupcache::Expiring {
        &mut self.dups
    }

    fn awaiting(&mut self) -> &mut Awaiting {
        &mut self.subscribe
    }

    fn refuse_unavailable(&mut self, id: Value) {
        let message = "No pool is available right now; try again later";
        self.reply(Response::error(id, codes::OTHER, message));
        self.closing = true;
    }

    fn after_event(&mut self) {
        self.poll_difficulty();
    }

    fn closing(&self) -> bool {
        self.closing
    }
}

impl Session {
    fn detach(&mut self) {
        if let Some(a) = self.upstream.take() {
            if a.owned {
                a.handle.shutdown(self.ctx.timing.grace());
            } else {
                a.handle.detach();
            }
        }
    }

    fn reply(&mut self, r: Response) {
        r.write_line(self.io.out());
    }

    fn send(&mut self, m: ServerMethod) {
        self.io.push(&m.to_notification().to_line());
    }

    fn line(&mut self, line: &[u8]) -> Then<'_> {
        let req = match Message::parse(line) {
            Ok(Message::Request(req)) => req,
            Ok(Message::Response(_)) => return Then::Done, // e.g. an answer to client.get_version
            Err(e) => {
                self.io.protocol_error();
                self.reply(Response::error(
                    Value::Null,
                    codes::OTHER,
                    &format!("Invalid message: {e}"),
                ));
                return Then::Done;
            }
        };
        let method = match ClientMethod::from_request(&req) {
            Ok(m) => m,
            Err(e) => {
                self.io.protocol_error();
                self.reply(Response::error(req.id, codes::OTHER, &e.to_string()));
                return Then::Done;
            }
        };
        match method {
            // Once per connection, and they may attach to a pool: boxed.
            ClientMethod::Subscribe { .. } => Then::Later(Box::pin(self.on_subscribe(req.id))),
            ClientMethod::Authorize { user, .. } => {
                Then::Later(Box::pin(self.on_authorize(req.id, user)))
            }
            ClientMethod::Configure(c) => {
                self.on_configure(req.id, &c);
                Then::Done
            }
            ClientMethod::ExtranonceSubscribe => {
                self.extranonce_subscribed = true;
                self.reply(Response::ok(req.id, json!(true)));
                Then::Done
            }
            ClientMethod::SuggestDifficulty(d) => {
                self.set_floor(d);
                self.reply(Response::ok(req.id, json!(true)));
                Then::Done
            }
            ClientMethod::Submit(s) => self.on_submit(req.id, s),
            ClientMethod::Unknown { method, params } => self.relay(req.id, method, params),
        }
    }

    async fn route_changed(&mut self) {
        if self.subscribe.is_waiting() {
            if self.ready_pool().is_none() {
                return;
            }
            if let Some(id) = self.subscribe.take() {
                self.complete_subscribe(id);
            }
        }
        self.follow_route().await;
    }

    /// Follows the current route: attach to its pool if not already there.
    async fn follow_route(&mut self) {
        if !self.subscribed || self.authorized.is_none() {
            return;
        }
        // Under a weighted window, the split's choice for this miner.
        let pool = self.ctx.router.route.borrow().pool_for(self.miner.id());
        let Some(pool) = pool else {
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
            // Boxed: every session's future would otherwise keep room for
            // a connect it makes once.
            PoolMode::Aggregate => Box::pin(self.ctx.router.attach(&pool))
                .await
                .map(|h| (h, false)),
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
            &self.ctx.vardiff,
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
        self.upstream_state();
    }

    fn upstream_state(&mut self) {
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
                tracing::info!(miner = %self.miner.peer(), "pool's extranonce space no longer fits this miner: reconnecting it");
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
        self.io.push(&line);
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
            self.miner.set_difficulty(d);
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
    }
}
