//! The ALEO session's handshake and route: `mining.subscribe` opens the
//! miner's own connection to the route's pool and is answered with the
//! subscribe result the pool gave it; `mining.authorize` hands that
//! connection its pool username and is answered once the pool accepted it;
//! a route change opens a connection to the new pool (old jobs kept for the
//! grace period); upstream state changes bring answers, difficulty and jobs.

use std::time::Instant;

use serde_json::Value;
use switchyard_stratum::aleo::{Dialect, Subscribe, ok_response};
use switchyard_stratum::codes;
use tokio::sync::watch;

use super::{AleoSession, Attached};
use crate::aleo::AleoParams;
use crate::difficulty::Controller;
use crate::difficulty::buffer::DifficultyBuffer;
use crate::miner::{pool_username, worker_name};
use crate::upstream::{PoolInfo, Status};

impl AleoSession {
    pub(super) fn on_subscribe(&mut self, id: Value, s: Subscribe) {
        if self.dialect.is_some() {
            self.error(id, codes::OTHER, "Already subscribed on this connection");
            return;
        }
        self.announced = s.announced();
        self.dialect = Some(self.announced.unwrap_or_else(|| self.pool_dialect()));
        // Answered with the pool's result within a bounded wait (the serve
        // loop's timer).
        self.pending_subscribe
            .start(id, self.ctx.timing.subscribe_wait);
        self.follow_route();
    }

    pub(super) fn on_authorize(&mut self, id: Value, user: String) {
        if self.dialect.is_none() {
            self.error(
                id,
                codes::NOT_SUBSCRIBED,
                "Not subscribed: send mining.subscribe first",
            );
            return;
        }
        let user = user.trim();
        if user.is_empty() {
            self.error(id, codes::UNAUTHORIZED, "Missing worker name");
            return;
        }
        if let Err(why) = crate::miner::check_username(user) {
            self.io.protocol_error();
            self.error(id, codes::UNAUTHORIZED, &why);
            return;
        }
        if self.worker.is_some() {
            if self.authorized {
                // More workers on one connection: their shares go under the
                // worker this connection's pool account authorized.
                let dialect = self.dialect.unwrap_or(Dialect::IceRiver);
                self.reply(ok_response(dialect, id, Value::Bool(true)));
            } else {
                self.error(id, codes::OTHER, "An authorize is already in progress");
            }
            return;
        }
        self.worker = Some(user.to_owned());
        self.pending_authorize = Some(id);
        if let Some(a) = &self.upstream {
            let username = self.pool_user(&a.handle.pool);
            a.credentials.send_replace(username);
        }
        self.upstream_state();
    }

    /// The dialect of the route's pool as far as it is known before it
    /// answers: its config, else what an earlier connection found, else
    /// IceRiver-style (what a subscribe that does not announce AleoStratum/3
    /// most likely is). The pool's answer decides.
    fn pool_dialect(&self) -> Dialect {
        let route = self.ctx.router.route.borrow();
        let pool = route.pool.as_ref().map(|p| &p.info);
        pool.and_then(|p| p.config.dialect.or_else(|| p.learned_dialect.get()))
            .unwrap_or(Dialect::IceRiver)
    }

    /// The pool username of this miner on `pool`: the pool's account with
    /// the miner's worker name (passthrough), once it authorized.
    fn pool_user(&self, pool: &PoolInfo) -> Option<String> {
        let w = self.worker.as_deref()?;
        Some(pool_username(&pool.username, worker_name(w)))
    }

    /// Follows the current route: a connection of the miner's own to its pool.
    pub(super) fn follow_route(&mut self) {
        if self.dialect.is_none() || self.closing {
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
        let (credentials, rx) = watch::channel(self.pool_user(&pool.info));
        let aleo = AleoParams {
            dialect: self.dialect,
            credentials: Some(rx),
        };
        let handle = self.ctx.router.dedicated_with(&pool, String::new(), aleo);
        // Jobs of the old upstream stay valid for the grace period.
        let now = Instant::now();
        let grace_end = now + self.ctx.timing.grace();
        for e in &mut self.jobs {
            e.valid_until.get_or_insert(grace_end);
        }
        self.detach();
        let buffer = DifficultyBuffer::new(self.ctx.config.buffer(&pool.info.config), now);
        self.difficulty = Some(Controller::Buffer(buffer));
        self.pool_difficulty = None;
        self.pool_set = None;
        self.sent_difficulty = None;
        self.upstream = Some(Attached {
            state: handle.state.clone(),
            relay: handle.relay.subscribe(),
            handle,
            credentials,
            nonce_checked: false,
        });
        self.upstream_state();
    }

    pub(super) fn upstream_state(&mut self) {
        let Some(a) = &mut self.upstream else { return };
        let state = a.state.borrow_and_update().clone();
        let pool = a.handle.pool.clone();
        let asked = a.credentials.borrow().is_some();
        let Some(mut dialect) = self.dialect else {
            return;
        };
        if let Some(sub) = &state.aleo_sub {
            if sub.dialect != dialect && self.announced.is_none() && !self.subscribed {
                // The miner's subscribe did not tell: it speaks its pool's.
                dialect = sub.dialect;
                self.dialect = Some(dialect);
            }
            if sub.dialect != dialect {
                let (verb, then) = if self.subscribed {
                    ("mines", ": reconnect")
                } else {
                    ("subscribed", "")
                };
                let message = format!(
                    "Pool {} speaks the {} ALEO dialect; this miner {verb} in {dialect}{then}",
                    pool.name, sub.dialect
                );
                tracing::warn!(miner = %self.miner.peer(), %message, "aleo miner and pool disagree");
                if let Some(id) = self.pending_subscribe.take() {
                    self.error(id, codes::OTHER, &message);
                }
                self.closing = true;
                return;
            }
            if let Some(id) = self.pending_subscribe.take() {
                self.subscribed = true;
                self.address = sub.pool_address();
                self.nonce_space = Some(sub.nonce_space());
                a.nonce_checked = true;
                self.reply(ok_response(dialect, id, sub.result.clone()));
            } else if !a.nonce_checked {
                let new = sub.nonce_space();
                if self
                    .nonce_space
                    .as_ref()
                    .is_some_and(|old| !old.allows(&new))
                {
                    // The miner would mine with the old pool's prefix, and
                    // the new pool would refuse every share: it subscribes
                    // again instead (it gets the new one).
                    tracing::info!(miner = %self.miner.peer(), pool = %pool.name, ?new, "new pool fixes another nonce space: disconnecting the aleo miner so it subscribes again");
                    self.closing = true;
                    return;
                }
                a.nonce_checked = true;
            }
        }
        if state.status == Status::Down
            && asked
            && let Some(error) = &state.error
            && let Some(id) = self.pending_authorize.take()
        {
            self.error(
                id,
                codes::UNAUTHORIZED,
                &format!("The pool did not take this worker: {error}"),
            );
            self.closing = true;
            return;
        }
        if state.status != Status::Ready || !self.subscribed {
            return;
        }
        if let Some(id) = self.pending_authorize.take() {
            self.authorized = true;
            if let Some(w) = &self.worker {
                self.miner
                    .set_worker(&crate::sha256::session::bounded(w), crate::clock::now_ms());
            }
            tracing::debug!(miner = %self.miner.peer(), worker = ?self.worker, pool = %pool.name, "aleo miner authorized");
            self.reply(ok_response(dialect, id, Value::Bool(true)));
        }
        if !self.authorized {
            return;
        }
        if state.aleo_difficulty != self.pool_set {
            self.pool_set = state.aleo_difficulty;
            if let Some(p) = self.pool_set {
                self.on_pool_difficulty(p.value());
            }
        }
        if let Some(job) = state.aleo_job.clone() {
            self.send_job(job);
        }
    }
}
