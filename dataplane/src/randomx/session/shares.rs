//! The RandomX session's shares: the job by miner job id (old-upstream jobs
//! inside the grace period included), the nonce slot, duplicates by
//! (job_id, nonce), the claimed hash against the miner's and the pool's
//! targets, forwarding to the job's own upstream, and the pool's answers,
//! each share becoming one share event as for SHA-256.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use switchyard_stratum::randomx::{self, RpcError, Submit, ok_response};

use super::RxSession;
use crate::events::ShareEvent;
use crate::miner::{self, Forwarded, Then};
use crate::outcome::{self, Reason};
use crate::randomx::RxJob;
use crate::randomx::validate::{self, MinerView, Verdict};
use crate::sha256::session::bounded;
use crate::upstream::{PoolAnswer, PoolInfo, PoolShare, ReplyTo};

impl RxSession {
    pub(super) fn pool_answer(&mut self, a: PoolAnswer) {
        let verdict = if a.is_submit {
            randomx::submit_result(&a.response)
        } else {
            RpcError::from_response(&a.response).map_or(Ok(()), Err)
        };
        if let Some(mut ev) = a.event {
            outcome::complete(&mut ev, &a.verdict, a.latency);
            self.ctx.events.record(*ev);
        }
        let answer = match verdict {
            Ok(()) => ok_response(a.miner_id),
            Err(e) => e.to_response(a.miner_id),
        };
        self.reply(answer);
    }

    /// The event of a share being judged: who, which job, at which difficulty.
    fn share_event(&self, pool: Option<&PoolInfo>, job_id: &str, difficulty: f64) -> ShareEvent {
        ShareEvent {
            algorithm: "randomx",
            pool: pool.map_or_else(|| "(none)".to_string(), |p| p.name.to_string()),
            worker: bounded(self.worker()),
            job_id: bounded(job_id),
            miner_difficulty: difficulty,
            conn: self.miner.id(),
            ..crate::events::new_event()
        }
    }

    pub(super) fn on_submit(&mut self, id: Value, s: Submit) -> Then<'static> {
        let now = Instant::now();
        if !self.logged_in {
            self.error(id, "Unauthenticated: log in first");
            return Then::Done;
        }
        if s.id != self.session_id {
            self.error(id, "Unauthenticated: unknown session id");
            return Then::Done;
        }
        let entry = self
            .jobs
            .iter()
            .rev()
            .find(|e| *e.miner_job_id == *s.job_id && e.valid_until.is_none_or(|t| now < t));
        let Some(entry) = entry else {
            let pool = self.upstream.as_ref().map(|a| a.handle.pool.clone());
            let difficulty = self.jobs.back().map_or(0.0, |e| e.difficulty as f64);
            let ev = self.share_event(pool.as_deref(), &s.job_id, difficulty);
            let message = format!(
                "Job not found (stale): {:?} is not one of this miner's current jobs",
                s.job_id.chars().take(64).collect::<String>()
            );
            let stale = outcome::Verdict::Rejected(Reason::Stale);
            self.local(pool, id, stale, &message, ev);
            return Then::Done;
        };
        let job = entry.job.clone();
        let key = (entry.miner_job_id.clone(), s.nonce);
        let miner = MinerView {
            slot: entry.slot,
            target: entry.target,
        };
        let mut ev = self.share_event(Some(&job.pool), &s.job_id, entry.difficulty as f64);
        let verdict = validate::check(job.job.target, miner, &s);
        if let Verdict::Accept { difficulty } | Verdict::Forward { difficulty } = &verdict {
            ev.share_difficulty = *difficulty;
        }
        if !matches!(verdict, Verdict::Reject { .. })
            && self.ctx.config.validation.reject_duplicates
            && !self.dups.insert(key, now)
        {
            let duplicate = outcome::Verdict::Rejected(Reason::Duplicate);
            self.local(Some(job.pool.clone()), id, duplicate, "Duplicate share", ev);
            return Then::Done;
        }
        if let Some(c) = &mut self.difficulty
            && !matches!(verdict, Verdict::Reject { .. })
        {
            c.on_share(now);
        }
        match verdict {
            Verdict::Reject { message, reason } => {
                let refused = outcome::Verdict::Rejected(reason);
                self.local(Some(job.pool.clone()), id, refused, &message, ev);
                Then::Done
            }
            Verdict::Accept { .. } => {
                let accepted = outcome::Verdict::Accepted;
                self.local(Some(job.pool.clone()), id, accepted, "", ev);
                Then::Done
            }
            Verdict::Forward { .. } => self.forward(id, &job, s, ev),
        }
    }

    /// Sends a share to the upstream its job came from (the old pool's in
    /// the grace period); the answer comes back through the inbox.
    fn forward(&mut self, id: Value, job: &Arc<RxJob>, s: Submit, ev: ShareEvent) -> Then<'static> {
        let submit = Submit {
            // The upstream puts in the pool's session id.
            id: String::new(),
            job_id: job.job.job_id.clone(),
            nonce: s.nonce,
            result: s.result,
            algo: s.algo,
            extra: Map::new(),
        };
        let reply = ReplyTo {
            inbox: self.inbox_tx.clone(),
            miner_id: id,
            event: None,
            kill: self.kill.clone(),
        };
        let share = PoolShare::Randomx(submit);
        let cmd = miner::submission(&job.pool, share, reply, ev);
        Then::Forwarded(Forwarded::new(&job.cmd_tx, cmd, &job.pool))
    }

    /// Answers a share by itself and counts it for the pool whose job it was.
    fn local(
        &mut self,
        pool: Option<Arc<PoolInfo>>,
        id: Value,
        verdict: outcome::Verdict,
        message: &str,
        ev: ShareEvent,
    ) {
        outcome::record_local(&self.ctx.events, pool.as_deref(), &verdict, ev);
        if verdict.is_accepted() {
            self.reply(ok_response(id));
        } else {
            self.error(id, message);
        }
    }
}
