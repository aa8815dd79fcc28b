//! The ALEO session's shares: the job by id (old-upstream jobs inside the
//! grace period included), duplicates by (job_id, counter, nonce), stale
//! and unknown jobs refused with the dialect's own rejection, everything
//! else forwarded as it is to the job's upstream (the proxy cannot verify a
//! proof), and the pool's verdict relayed as the pool wrote it, each share
//! becoming one share event (algorithm `zksnark`) as for SHA-256.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use switchyard_stratum::aleo::{Dialect, Submit, reject_response};
use switchyard_stratum::{Response, codes};

use super::AleoSession;
use crate::events::ShareEvent;
use crate::miner::{self, Forwarded, Then};
use crate::outcome::{self, Reason, Verdict};
use crate::sha256::session::bounded;
use crate::upstream::{PoolAnswer, PoolInfo, PoolShare, ReplyTo};

impl AleoSession {
    pub(super) fn pool_answer(&mut self, a: PoolAnswer) {
        if a.is_submit
            && let Verdict::Rejected(Reason::LowDifficulty(d)) = &a.verdict
            && let Some(c) = &mut self.difficulty
        {
            c.on_low_difficulty_rejection(*d, Instant::now());
        }
        if let Some(mut ev) = a.event {
            outcome::complete(&mut ev, &a.verdict, a.latency);
            self.ctx.events.record(*ev);
        }
        let answer = self.for_miner(a.response);
        self.reply(answer);
    }

    /// A pool's answer for the miner: as the pool wrote it (its result,
    /// its error, IceRiver's `reject-reason`); for an AleoStratum3 miner
    /// with `"jsonrpc":"2.0"` and the proxy's own V1-shaped errors (pool
    /// unreachable, no answer in time) in the JSON-RPC 2.0 error shape.
    fn for_miner(&self, mut r: Response) -> Response {
        if self.dialect != Some(Dialect::AleoStratum3) {
            return r;
        }
        r.jsonrpc = true;
        if r.error.is_array() || r.error.is_string() {
            let (code, text) = r.error_parts().unwrap_or_default();
            return reject_response(
                Dialect::AleoStratum3,
                r.id,
                code.unwrap_or(codes::OTHER),
                &text,
            );
        }
        r
    }

    /// The event of a share being judged: who, which job, at which difficulty.
    fn share_event(&self, pool: Option<&PoolInfo>, s: &Submit, difficulty: f64) -> ShareEvent {
        let worker = match s {
            Submit::AleoStratum3(a) => a.worker_name().unwrap_or_else(|| a.worker.to_string()),
            Submit::IceRiver(_) => self.worker.clone().unwrap_or_default(),
        };
        ShareEvent {
            algorithm: "zksnark",
            pool: pool.map_or_else(|| "(none)".to_string(), |p| p.name.to_string()),
            worker: bounded(&worker),
            job_id: bounded(s.job_id()),
            miner_difficulty: difficulty,
            conn: self.miner.id(),
            ..crate::events::new_event()
        }
    }

    pub(super) fn on_submit(&mut self, id: Value, s: Submit) -> Then<'static> {
        let now = Instant::now();
        if !self.authorized {
            let (code, message) = if self.subscribed {
                (codes::UNAUTHORIZED, "Unauthorized worker: authorize first")
            } else {
                (
                    codes::NOT_SUBSCRIBED,
                    "Not subscribed: send mining.subscribe first",
                )
            };
            self.refuse(id, code, message);
            return Then::Done;
        }
        let entry = self
            .jobs
            .iter()
            .rev()
            .find(|e| *e.miner_job_id == *s.job_id() && e.valid_until.is_none_or(|t| now < t));
        let Some(entry) = entry else {
            let pool = self.upstream.as_ref().map(|a| a.handle.pool.clone());
            let difficulty = self.jobs.back().map_or(0.0, |e| e.difficulty);
            let ev = self.share_event(pool.as_deref(), &s, difficulty);
            let message = format!(
                "Job not found (stale): {:?} is not one of this miner's current jobs",
                s.job_id().chars().take(64).collect::<String>()
            );
            let stale = Verdict::Rejected(Reason::Stale);
            self.local(pool, id, stale, codes::JOB_NOT_FOUND, &message, ev);
            return Then::Done;
        };
        let job = entry.job.clone();
        let ev = self.share_event(Some(&job.pool), &s, entry.difficulty);
        if self.ctx.config.validation.reject_duplicates
            && !self.dups.insert((job.upstream_id, s.share_key()), now)
        {
            let duplicate = Verdict::Rejected(Reason::Duplicate);
            let message = "Duplicate share";
            self.local(
                Some(job.pool.clone()),
                id,
                duplicate,
                codes::DUPLICATE,
                message,
                ev,
            );
            return Then::Done;
        }
        if let Some(c) = &mut self.difficulty {
            c.on_share(now);
        }
        let mut s = s;
        s.set_job_id(job.job_id());
        self.forward(id, &job, s, ev)
    }

    /// Sends a share to the upstream its job came from (the old pool's in
    /// the grace period); the answer comes back through the inbox.
    fn forward(
        &mut self,
        id: Value,
        job: &Arc<super::AleoJob>,
        s: Submit,
        ev: ShareEvent,
    ) -> Then<'static> {
        let reply = ReplyTo {
            inbox: self.inbox_tx.clone(),
            miner_id: id,
            event: None,
            kill: self.kill.clone(),
        };
        let share = PoolShare::Aleo(s);
        let cmd = miner::submission(&job.pool, share, reply, ev);
        Then::Forwarded(Forwarded::new(&job.cmd_tx, cmd, &job.pool))
    }

    /// A share refused in the miner's dialect: AleoStratum3's error object,
    /// IceRiver's `"result":false` with a `reject-reason`.
    pub(super) fn refuse(&mut self, id: Value, code: i64, message: &str) {
        let dialect = self.dialect.unwrap_or(Dialect::IceRiver);
        self.reply(reject_response(dialect, id, code, message));
    }

    /// Refuses a share by itself and counts it for the pool whose job it was.
    fn local(
        &mut self,
        pool: Option<Arc<PoolInfo>>,
        id: Value,
        verdict: Verdict,
        code: i64,
        message: &str,
        ev: ShareEvent,
    ) {
        outcome::record_local(&self.ctx.events, pool.as_deref(), &verdict, ev);
        self.refuse(id, code, message);
    }
}
