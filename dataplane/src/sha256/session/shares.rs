//! The miner session's shares and relays: local validation, duplicates,
//! forwarding to the upstream the job came from, the pool's answers.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use switchyard_stratum::v1::Submit;
use switchyard_stratum::{Response, codes};

use super::*;
use crate::miner::{self, Forwarded, Then};
use crate::outcome::{self, Reason};

impl Session {
    pub(super) fn pool_answer(&mut self, a: PoolAnswer) {
        if a.is_submit
            && let outcome::Verdict::Rejected(Reason::LowDifficulty(d)) = &a.verdict
            && let Some(c) = &mut self.difficulty
        {
            c.on_low_difficulty_rejection(*d, Instant::now());
        }
        let mut r = a.response;
        if r.result.is_null() && r.error.is_null() && a.is_submit {
            r.result = json!(true);
        }
        if let Some(mut ev) = a.event {
            outcome::complete(&mut ev, &a.verdict, a.latency);
            self.ctx.events.record(*ev);
        }
        self.reply(r);
    }

    /// The event of a share being judged: who, which job, at which difficulty.
    fn share_event(
        &self,
        pool: Option<&PoolInfo>,
        job_id: &str,
        miner_difficulty: f64,
    ) -> crate::events::ShareEvent {
        crate::events::ShareEvent {
            algorithm: "sha256",
            pool: pool.map_or_else(|| "(none)".to_string(), |p| p.name.to_string()),
            worker: bounded(self.authorized.as_deref().unwrap_or_default()),
            job_id: bounded(job_id),
            miner_difficulty,
            conn: self.miner.id(),
            ..crate::events::new_event()
        }
    }

    pub(super) fn relay(&mut self, id: Value, method: String, params: Value) -> Then<'static> {
        let Some(a) = &self.upstream else {
            self.reply(Response::error(
                id,
                codes::OTHER,
                &format!("Method {method:?} not supported before authorize"),
            ));
            return Then::Done;
        };
        if !self.relays.take(Instant::now()) {
            let msg = format!(
                "Too many requests for the pool: at most {RELAY_BURST} unknown methods at once and {RELAY_PER_MINUTE} a minute per miner (the pool connection is shared)"
            );
            self.reply(Response::error(id, codes::OTHER, &msg));
            return Then::Done;
        }
        let reply = ReplyTo {
            inbox: self.inbox_tx.clone(),
            miner_id: id,
            event: None,
            kill: self.kill.clone(),
        };
        let relay = UpstreamCmd::Relay {
            method,
            params,
            reply,
        };
        Then::Forwarded(Forwarded::new(&a.handle.cmd_tx, relay, &a.handle.pool))
    }

    pub(super) fn on_submit(&mut self, id: Value, s: Submit) -> Then<'static> {
        let now = Instant::now();
        if self.prefix.is_none() || self.authorized.is_none() {
            let (code, msg) = if self.subscribed {
                (codes::UNAUTHORIZED, "Unauthorized worker")
            } else {
                (codes::NOT_SUBSCRIBED, "Not subscribed")
            };
            self.reply(Response::error(id, code, msg));
            return Then::Done;
        }
        let entry = self
            .jobs
            .iter()
            .rev()
            .find(|e| *e.job.proxy_id == *s.job_id && e.valid_until.is_none_or(|t| now < t));
        let Some(entry) = entry else {
            let pool = self.upstream.as_ref().map(|a| a.handle.pool.clone());
            let ev = self.share_event(
                pool.as_deref(),
                &s.job_id,
                self.sent_difficulty.unwrap_or(0.0),
            );
            self.local(
                pool,
                id,
                outcome::Verdict::Rejected(Reason::Stale),
                Response::error(Value::Null, codes::JOB_NOT_FOUND, "Job not found (stale)"),
                ev,
            );
            return Then::Done;
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
            prefix: self.prefix.as_deref().unwrap_or_default(),
            extranonce2_size: entry.extranonce2_size,
            version_mask: self.miner_mask,
            difficulty: miner_difficulty,
            ntime_max_future: self.ctx.config.validation.ntime_max_future,
        };
        let verdict = validate::check(&job, view, &s, pool_difficulty);
        let mut ev = self.share_event(Some(&job.pool), &s.job_id, miner_difficulty);
        if let Verdict::Accept { difficulty } | Verdict::Forward { difficulty, .. } = &verdict {
            ev.share_difficulty = *difficulty;
        }
        if !matches!(verdict, Verdict::Reject { .. })
            && self.ctx.config.validation.reject_duplicates
            && !self.dups.insert(key, now)
        {
            self.local(
                Some(job.pool.clone()),
                id,
                outcome::Verdict::Rejected(Reason::Duplicate),
                Response::error(Value::Null, codes::DUPLICATE, "Duplicate share"),
                ev,
            );
            return Then::Done;
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
                    outcome::Verdict::Rejected(reason),
                    Response::error(Value::Null, code, message),
                    ev,
                );
                Then::Done
            }
            Verdict::Accept { .. } => {
                self.local(
                    Some(job.pool.clone()),
                    id,
                    outcome::Verdict::Accepted,
                    Response::ok(Value::Null, json!(true)),
                    ev,
                );
                Then::Done
            }
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
                    miner_id: id,
                    event: None,
                    kill: self.kill.clone(),
                };
                let share = PoolShare::Sha256(submit);
                let cmd = miner::submission(&job.pool, share, reply, ev);
                Then::Forwarded(Forwarded::new(&job.to_upstream, cmd, &job.pool))
            }
        }
    }

    /// Answers a share by itself and counts it for the pool whose job it was.
    pub(super) fn local(
        &mut self,
        pool: Option<Arc<PoolInfo>>,
        id: Value,
        verdict: outcome::Verdict,
        mut r: Response,
        ev: crate::events::ShareEvent,
    ) {
        outcome::record_local(&self.ctx.events, pool.as_deref(), &verdict, ev);
        r.id = id;
        self.reply(r);
    }
}

/// Miner-chosen text in an event, cut to what the control plane stores,
/// control characters replaced (U+FFFD): the ledger, logs and labels never
/// get a raw newline or escape sequence from a miner.
pub(crate) fn bounded(s: &str) -> String {
    let mut end = s.len().min(200);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = &s[..end];
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_text_is_cut_and_has_no_control_characters() {
        assert_eq!(super::bounded("rig1"), "rig1");
        assert_eq!(super::bounded("rig\n1\u{1b}"), "rig\u{fffd}1\u{fffd}");
        assert_eq!(super::bounded(&"é".repeat(150)).len(), 200);
    }
}

/// Unknown methods a miner may have relayed at once, and then a minute: the
/// pool connection is shared, so one miner must not make the pool see
/// abuse from the proxy (SECURITY.md F8).
pub(crate) const RELAY_BURST: u32 = 10;
pub(crate) const RELAY_PER_MINUTE: u32 = 10;

/// A token bucket of relays: [`RELAY_BURST`] deep, refilled at
/// [`RELAY_PER_MINUTE`].
#[derive(Debug)]
pub(crate) struct RelayBudget {
    tokens: f64,
    at: Instant,
}

impl RelayBudget {
    pub(crate) fn new(now: Instant) -> Self {
        RelayBudget {
            tokens: f64::from(RELAY_BURST),
            at: now,
        }
    }

    /// Takes one relay if there is one left at `now`.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64()
            * f64::from(RELAY_PER_MINUTE)
            / 60.0;
        self.tokens = (self.tokens + refill).min(f64::from(RELAY_BURST));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod relay_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_miner_relays_a_burst_then_ten_a_minute() {
        let t0 = Instant::now();
        let mut b = RelayBudget::new(t0);
        assert!((0..RELAY_BURST).all(|_| b.take(t0)));
        assert!(!b.take(t0), "the burst is spent");
        assert!(!b.take(t0 + Duration::from_secs(5)), "not yet");
        assert!(b.take(t0 + Duration::from_secs(6)), "one every 6 s");
        assert!(!b.take(t0 + Duration::from_secs(6)));
        // A long quiet refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        assert!((0..RELAY_BURST).all(|_| b.take(later)));
        assert!(!b.take(later));
    }
}
