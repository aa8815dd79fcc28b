//! One RandomX (xmrig) miner's session, run by the one miner loop
//! ([`crate::miner::run`]): it follows the router's route, attaches
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
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use switchyard_stratum::Message;
use switchyard_stratum::randomx::{
    self, ClientMethod, GENERIC_ERROR_CODE, Job, Login, Target, error_response,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::RxJob;
use crate::config::PoolMode;
use crate::difficulty::Controller;
use crate::dupcache::DuplicateCache;
use crate::miner::{Awaiting, MinerIo, MinerProtocol, Then, Watches};
use crate::miner::{SessionCtx, pool_username};
use crate::telemetry::miners::MinerHandle;
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
    /// This connection in the telemetry's registry.
    miner: MinerHandle,
    io: MinerIo,
    inbox_tx: crate::upstream::Inbox,
    kill: CancellationToken,
    /// This miner's session id (the `id` of the login result and submits).
    session_id: String,
    login: Option<Login>,
    /// A login waiting for a pool's job: its request id and deadline.
    pending_login: Awaiting,
    logged_in: bool,
    upstream: Option<Attached>,
    difficulty: Option<Controller>,
    jobs: VecDeque<JobEntry>,
    /// The job last sent, as the miner got it (what `getjob` answers).
    last_sent: Option<(Arc<RxJob>, Job)>,
    dups: DuplicateCache<DupKey>,
    closing: bool,
}

impl MinerProtocol for RxSession {
    const NAME: &'static str = "randomx";

    fn new(
        ctx: Arc<SessionCtx>,
        miner: MinerHandle,
        io: MinerIo,
        inbox_tx: crate::upstream::Inbox,
        kill: CancellationToken,
    ) -> Self {
        let v = &ctx.config.validation;
        RxSession {
            dups: DuplicateCache::new(v.share_cache_size, ctx.timing.share_cache_ttl),
            ctx,
            miner,
            io,
            inbox_tx,
            kill,
            session_id: format!("{:016x}", rand::random::<u64>()),
            login: None,
            pending_login: Awaiting::default(),
            logged_in: false,
            upstream: None,
            difficulty: None,
            jobs: VecDeque::new(),
            last_sent: None,
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
        self.error(miner_id, "Not connected to the pool");
    }

    fn on_line_too_long(&mut self, max: usize) {
        self.error(Value::Null, &format!("Line longer than {max} bytes"));
        self.closing = true;
    }

    async fn on_route(&mut self) {
        self.follow_route().await;
    }

    fn on_pool_answer(&mut self, answer: PoolAnswer) {
        self.pool_answer(answer);
    }

    fn on_upstream_state(&mut self) {
        self.upstream_state();
    }

    fn on_relay(&mut self, line: &[u8]) {
        if self.logged_in {
            self.io.push(line);
        }
    }

    fn watches(&mut self) -> Option<Watches<'_>> {
        self.upstream.as_mut().map(|a| (&mut a.state, &mut a.relay))
    }

    fn handshake_done(&self) -> bool {
        self.logged_in
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.difficulty.as_ref().and_then(Controller::next_deadline)
    }

    fn duplicates(&mut self) -> &mut dyn crate::dupcache::Expiring {
        &mut self.dups
    }

    fn awaiting(&mut self) -> &mut Awaiting {
        &mut self.pending_login
    }

    fn refuse_unavailable(&mut self, id: Value) {
        self.error(id, "No pool is available right now; try again later");
        self.closing = true;
    }

    fn after_event(&mut self) {
        if let Some(c) = &mut self.difficulty {
            // Advances VarDiff's clock; the value applies from the next job.
            let _ = c.poll(Instant::now());
        }
    }

    fn closing(&self) -> bool {
        self.closing
    }
}

impl RxSession {
    fn reply(&mut self, r: switchyard_stratum::Response) {
        r.write_line(self.io.out());
    }

    /// An xmrig error answer: `{"code":-1,"message":..}`.
    fn error(&mut self, id: Value, message: &str) {
        self.reply(error_response(id, GENERIC_ERROR_CODE, message));
    }

    fn line(&mut self, line: &[u8]) -> Then<'_> {
        let req = match Message::parse(line) {
            Ok(Message::Request(req)) => req,
            Ok(Message::Response(_)) => return Then::Done,
            Err(e) => {
                self.io.protocol_error();
                self.error(Value::Null, &format!("Invalid message: {e}"));
                return Then::Done;
            }
        };
        let method = match ClientMethod::from_request(&req) {
            Ok(m) => m,
            Err(e) => {
                self.io.protocol_error();
                self.error(req.id, &e.to_string());
                return Then::Done;
            }
        };
        match method {
            // Once per connection, and it may attach to a pool: boxed.
            ClientMethod::Login(login) => Then::Later(Box::pin(self.on_login(req.id, login))),
            ClientMethod::Submit(s) => self.on_submit(req.id, s),
            ClientMethod::Keepalived { .. } => {
                self.reply(randomx::keepalived_response(req.id));
                Then::Done
            }
            ClientMethod::GetJob { .. } => {
                self.on_getjob(req.id);
                Then::Done
            }
            ClientMethod::Unknown { method, .. } => {
                self.io.protocol_error();
                let shown: String = method.chars().take(40).collect();
                self.error(req.id, &format!("Unsupported method {shown:?}"));
                Then::Done
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
        let (handle, owned, slot) = match pool.info.mode {
            PoolMode::Aggregate => {
                // Boxed: every session's future would otherwise keep room
                // for a connect it makes once.
                let Some(handle) = Box::pin(self.ctx.router.attach(&pool)).await else {
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
        self.difficulty = (pool.info.mode == PoolMode::Aggregate).then(|| {
            Controller::new(
                &self.ctx.config,
                &self.ctx.vardiff,
                &pool.info,
                None,
                Instant::now(),
            )
        });
        self.upstream = Some(Attached {
            state: handle.state.clone(),
            relay: handle.relay.subscribe(),
            handle,
            owned,
            slot,
        });
        self.upstream_state();
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

    fn upstream_state(&mut self) {
        let Some(a) = &mut self.upstream else { return };
        let state = a.state.borrow_and_update().clone();
        if state.status != Status::Ready {
            return;
        }
        let Some(job) = state.rx_job.clone() else {
            return;
        };
        if self.pending_login.is_waiting() {
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
        self.io.push(&copy.to_notification().to_line());
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
    }
}
