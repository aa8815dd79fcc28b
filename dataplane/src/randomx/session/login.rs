//! The RandomX session's own answers: `login` (a bounded wait for a pool
//! that has a job, then the login result with the miner's copy of it) and
//! `getjob`.

use std::sync::Arc;

use serde_json::Value;
use switchyard_stratum::Response;
use switchyard_stratum::randomx::{DEFAULT_ALGO, Login, LoginResult, negotiate_algo};

use super::RxSession;
use crate::randomx::RxJob;

impl RxSession {
    pub(super) async fn on_login(&mut self, id: Value, login: Login) {
        if self.login.is_some() {
            self.error(id, "Already logged in on this connection");
            return;
        }
        if login.login.trim().is_empty() {
            self.error(id, "Missing login");
            return;
        }
        let rigid = login.rigid.as_deref().unwrap_or_default();
        if let Err(why) = crate::miner::check_username(&login.login)
            .and_then(|()| crate::miner::check_username(rigid))
        {
            self.io.protocol_error();
            self.error(id, &why);
            return;
        }
        self.login = Some(login);
        let worker = crate::sha256::session::bounded(self.worker());
        self.miner.set_worker(&worker, crate::clock::now_ms());
        // Answered once the route's pool has a job for this miner, within a
        // bounded wait (the serve loop's timer).
        self.pending_login.start(id, self.ctx.timing.subscribe_wait);
        self.follow_route().await;
    }

    /// Answers the pending login with the miner's copy of `job`.
    pub(super) fn complete_login(&mut self, job: Arc<RxJob>) {
        let Some(id) = self.pending_login.take() else {
            return;
        };
        let algo = job.job.algo.as_deref().unwrap_or(DEFAULT_ALGO);
        let offered = self
            .login
            .as_ref()
            .map(|l| l.algo.clone())
            .unwrap_or_default();
        if negotiate_algo([offered.as_slice()], Some(algo)).is_none() {
            let offered: Vec<String> = offered.iter().take(8).cloned().collect();
            self.error(
                id,
                &format!(
                    "Unsupported algorithm: the pool mines {algo}, this miner offers {}",
                    offered.join(", ")
                ),
            );
            self.closing = true;
            return;
        }
        self.logged_in = true;
        tracing::debug!(miner = %self.miner.peer(), worker = %self.worker(), pool = %job.pool.name, "randomx miner logged in");
        let nicehash = self.upstream.as_ref().is_some_and(|a| a.slot.is_some());
        let copy = self.issue(job);
        let mut extensions = vec!["algo".to_string(), "keepalive".to_string()];
        if nicehash {
            extensions.push("nicehash".into());
        }
        let result = LoginResult::new(self.session_id.clone(), copy, extensions);
        self.reply(result.to_response(id));
    }

    pub(super) fn on_getjob(&mut self, id: Value) {
        if !self.logged_in {
            self.error(id, "Unauthenticated: log in first");
            return;
        }
        let Some((_, copy)) = &self.last_sent else {
            self.error(id, "No job yet");
            return;
        };
        let mut r = Response::ok(id, copy.to_value());
        r.jsonrpc = true;
        self.reply(r);
    }
}
