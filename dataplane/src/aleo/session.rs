//! One ALEO miner's session, run by the one miner loop
//! ([`crate::miner::run`]). Passthrough: the miner's subscribe opens its
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
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use switchyard_stratum::aleo::{ClientMethod, Dialect, ShareKey, reject_response};
use switchyard_stratum::{Message, Response, codes};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::AleoJob;
use crate::difficulty::Controller;
use crate::dupcache::DuplicateCache;
use crate::miner::SessionCtx;
use crate::miner::{Awaiting, MinerIo, MinerProtocol, Then, Watches};
use crate::telemetry::miners::MinerHandle;
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
    /// This connection in the telemetry's registry.
    miner: MinerHandle,
    io: MinerIo,
    inbox_tx: crate::upstream::Inbox,
    kill: CancellationToken,
    /// The miner's dialect: what its subscribe announced, else its pool's
    /// (configured or learned, IceRiver-style until the pool answers).
    dialect: Option<Dialect>,
    /// The dialect the miner's subscribe announced (`None`: it follows
    /// the pool's, see [`Subscribe::announced`]).
    ///
    /// [`Subscribe::announced`]: switchyard_stratum::aleo::Subscribe::announced
    announced: Option<Dialect>,
    /// A subscribe waiting for the pool's result: its id and deadline.
    pending_subscribe: Awaiting,
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

impl MinerProtocol for AleoSession {
    const NAME: &'static str = "zksnark";

    fn new(
        ctx: Arc<SessionCtx>,
        miner: MinerHandle,
        io: MinerIo,
        inbox_tx: crate::upstream::Inbox,
        kill: CancellationToken,
    ) -> Self {
        let v = &ctx.config.validation;
        AleoSession {
            dups: DuplicateCache::new(v.share_cache_size, ctx.timing.share_cache_ttl),
            ctx,
            miner,
            io,
            inbox_tx,
            kill,
            dialect: None,
            announced: None,
            pending_subscribe: Awaiting::default(),
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
        }
    }

    fn io(&mut self) -> &mut MinerIo {
        &mut self.io
    }

    fn on_line(&mut self, line: &[u8]) -> Then<'_> {
        self.line(line)
    }

    fn on_unsent(&mut self, miner_id: Value) {
        self.refuse(miner_id, codes::OTHER, "Not connected to the pool");
    }

    fn on_line_too_long(&mut self, max: usize) {
        self.error(
            Value::Null,
            codes::OTHER,
            &format!("Line longer than {max} bytes"),
        );
        self.closing = true;
    }

    async fn on_route(&mut self) {
        self.follow_route();
    }

    fn on_pool_answer(&mut self, answer: PoolAnswer) {
        self.pool_answer(answer);
    }

    fn on_upstream_state(&mut self) {
        self.upstream_state();
    }

    fn on_relay(&mut self, line: &[u8]) {
        if self.subscribed {
            self.io.push(line);
        }
    }

    fn watches(&mut self) -> Option<Watches<'_>> {
        self.upstream.as_mut().map(|a| (&mut a.state, &mut a.relay))
    }

    fn handshake_done(&self) -> bool {
        self.authorized
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.difficulty.as_ref().and_then(Controller::next_deadline)
    }

    fn duplicates(&mut self) -> &mut dyn crate::dupcache::Expiring {
        &mut self.dups
    }

    fn awaiting(&mut self) -> &mut Awaiting {
        &mut self.pending_subscribe
    }

    fn refuse_unavailable(&mut self, id: Value) {
        let message = "No pool is available right now; try again later";
        self.error(id, codes::OTHER, message);
        self.closing = true;
    }

    fn after_event(&mut self) {
        self.poll_difficulty();
    }

    fn closing(&self) -> bool {
        self.closing
    }
}

impl AleoSession {
    fn reply(&mut self, r: Response) {
        r.write_line(self.io.out());
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

    fn line(&mut self, line: &[u8]) -> Then<'static> {
        let req = match Message::parse(line) {
            Ok(Message::Request(req)) => req,
            Ok(Message::Response(_)) => return Then::Done,
            Err(e) => {
                self.io.protocol_error();
                self.error(Value::Null, codes::OTHER, &format!("Invalid message: {e}"));
                return Then::Done;
            }
        };
        // A submit's params stay as the miner wrote them (relayed verbatim).
        let method = match ClientMethod::from_line(&req, line, self.dialect) {
            Ok(m) => m,
            Err(e) => {
                self.io.protocol_error();
                self.error(req.id, codes::OTHER, &e.to_string());
                return Then::Done;
            }
        };
        match method {
            ClientMethod::Subscribe(s) => {
                self.on_subscribe(req.id, s);
                Then::Done
            }
            ClientMethod::Authorize { user, .. } => {
                self.on_authorize(req.id, user);
                Then::Done
            }
            ClientMethod::Submit(s) => self.on_submit(req.id, s),
            ClientMethod::Unknown { method, .. } => {
                // Never relayed: an ALEO pool speaks nothing else.
                self.io.protocol_error();
                let shown: String = method.chars().take(40).collect();
                self.error(
                    req.id,
                    codes::OTHER,
                    &format!(
                        "Unsupported method {shown:?}: ALEO stratum has mining.subscribe, mining.authorize and mining.submit"
                    ),
                );
                Then::Done
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
        self.miner.set_difficulty(d);
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
        self.io.push(&m.to_notification(dialect).to_line());
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
        self.io.push(&line);
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
    }
}
