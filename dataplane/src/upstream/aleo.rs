//! The ALEO dialects of an upstream connection (protocols.md §3): subscribe
//! in the pool's dialect (its config, else what an earlier connection found,
//! else the miner's, else AleoStratum/3.0.0 with one retry in the V1 shape
//! if the pool refuses it; the answer decides), authorize with the pool's
//! credentials (a dedicated connection waits for its miner's worker name
//! first), ready once authorized with a job. Never `mining.configure`, never
//! a wait for a difficulty. Jobs and `set_target` / `set_difficulty` are
//! published to sessions the moment they arrive, also when they come in the
//! same write as an answer; submits go out as the miner sent them.

use std::sync::Arc;

use serde_json::Value;
use switchyard_stratum::aleo::{
    self, ClientMethod, Dialect, Notify, ServerMethod, Subscribe, SubscribeResult,
};
use switchyard_stratum::{Message, RawJson, Request};
use tokio::io::AsyncWriteExt;

use super::*;
use crate::aleo::{AleoJob, AleoSubscribed, PoolDifficulty};

const SUBSCRIBE_ID: u64 = 1;
const RETRY_ID: u64 = 2;
const AUTHORIZE_ID: u64 = 3;

/// What an ALEO connection knows of its pool.
#[derive(Debug, Default)]
pub(super) struct AleoConn {
    pub dialect: Option<Dialect>,
    /// The worker this connection authorized (AleoStratum3 submits name it).
    pub worker: String,
    /// AleoStratum3: the pool address jobs prove for.
    pub address: Option<String>,
}

fn other(d: Dialect) -> Dialect {
    match d {
        Dialect::AleoStratum3 => Dialect::IceRiver,
        Dialect::IceRiver => Dialect::AleoStratum3,
    }
}

impl Task {
    /// Whether the pool speaks an ALEO dialect.
    pub(super) fn is_aleo(&self) -> bool {
        self.pool.config.algorithm == crate::config::Algorithm::Zksnark
    }

    /// The dialect to subscribe in, and whether the config fixes it.
    fn first_dialect(&self) -> (Dialect, bool) {
        if let Some(d) = self.pool.config.dialect {
            return (d, true);
        }
        let d = self
            .pool
            .learned_dialect
            .get()
            .or(self.params.aleo.dialect)
            .unwrap_or(Dialect::AleoStratum3);
        (d, false)
    }

    async fn write(&self, conn: &mut Conn, line: &[u8]) -> Result<(), String> {
        conn.writer
            .write_all(line)
            .await
            .map_err(|e| format!("write: {e}"))
    }

    async fn subscribe(&self, conn: &mut Conn, id: u64, dialect: Dialect) -> Result<(), String> {
        let sub = ClientMethod::Subscribe(Subscribe::new(dialect, self.params.agent.clone()));
        self.write(conn, &sub.to_request(id, dialect).to_line())
            .await
    }

    pub(super) async fn aleo_handshake(&mut self, conn: &mut Conn) -> Result<(), String> {
        let step = self.params.timing.upstream_handshake;
        let (mut dialect, configured) = self.first_dialect();
        let mut retried = configured;
        self.subscribe(conn, SUBSCRIBE_ID, dialect).await?;
        let mut deadline = tokio::time::Instant::now() + step;
        let mut credentials = self.params.aleo.credentials.clone();
        let mut worker = credentials.is_none().then(|| self.params.username.clone());
        let (mut subscribed, mut asked, mut authorized) = (false, false, false);
        loop {
            if authorized && self.state_tx.borrow().aleo_job.is_some() {
                return Ok(());
            }
            if subscribed && !asked {
                if let Some(rx) = &mut credentials {
                    worker = rx.borrow_and_update().clone();
                }
                if let Some(w) = worker.clone() {
                    let auth = ClientMethod::Authorize {
                        user: w.clone(),
                        password: Some(self.pool.password.expose().to_owned()),
                        extra: Vec::new(),
                    };
                    self.write(conn, &auth.to_request(AUTHORIZE_ID, dialect).to_line())
                        .await?;
                    conn.aleo.worker = w;
                    asked = true;
                    deadline = tokio::time::Instant::now() + step;
                }
            }
            // Waiting for the miner's worker name is not the pool's delay.
            let for_miner = subscribed && !asked;
            let line = tokio::select! {
                line = conn.reader.next_line() => line,
                changed = async {
                    match credentials.as_mut() {
                        Some(rx) => rx.changed().await,
                        None => std::future::pending().await,
                    }
                }, if for_miner => {
                    if changed.is_err() {
                        return Err("the miner left before it authorized".into());
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(deadline), if !for_miner => {
                    return Err(format!("handshake timed out after {step:?}"));
                }
            };
            let line = match line {
                Ok(Some(line)) => line,
                Ok(None) => return Err("pool closed the connection during the handshake".into()),
                Err(e) => return Err(format!("read: {e}")),
            };
            let msg =
                Message::parse(&line).map_err(|e| format!("pool sent an invalid line: {e}"))?;
            match msg {
                Message::Response(r) if r.id == SUBSCRIBE_ID || r.id == RETRY_ID => {
                    if !r.is_ok() {
                        let text = r.error_parts().map(|(_, t)| t).unwrap_or_default();
                        if retried {
                            return Err(format!("pool refused subscribe: {text}"));
                        }
                        // The other dialect's subscribe, once.
                        tracing::info!(pool = %self.pool.name, refused = %dialect, %text, "pool refused the subscribe; trying the other ALEO dialect");
                        retried = true;
                        dialect = other(dialect);
                        self.subscribe(conn, RETRY_ID, dialect).await?;
                        continue;
                    }
                    dialect = self.on_subscribed(conn, &r.result, dialect, configured)?;
                    subscribed = true;
                }
                Message::Response(r) if r.id == AUTHORIZE_ID => {
                    if !r.is_ok() {
                        return Err(format!(
                            "pool refused authorize for {:?}: {}",
                            conn.aleo.worker,
                            r.error_parts().map(|(_, t)| t).unwrap_or_default()
                        ));
                    }
                    authorized = true;
                }
                Message::Response(_) => {}
                Message::Request(req) => {
                    if let Some(end) = self.on_aleo_request(conn, req).await {
                        return Err(match end {
                            End::Lost(e) => e,
                            _ => "pool redirected during the handshake".into(),
                        });
                    }
                }
            }
        }
    }

    /// Reads the subscribe result (the dialect its shape says, unless the
    /// config fixes one) and publishes it; returns the connection's dialect.
    fn on_subscribed(
        &self,
        conn: &mut Conn,
        result: &Value,
        sent: Dialect,
        configured: bool,
    ) -> Result<Dialect, String> {
        let dialect = if configured {
            sent
        } else {
            Dialect::detect(Some(result), None).unwrap_or(sent)
        };
        let parsed = SubscribeResult::from_result(result, Some(dialect))
            .map_err(|e| format!("subscribe answer is not {dialect}: {e}"))?;
        if let SubscribeResult::AleoStratum3 { pool_address, .. } = &parsed {
            conn.aleo.address = Some(pool_address.clone());
        }
        if dialect != sent {
            tracing::info!(pool = %self.pool.name, %dialect, "pool answered in the other ALEO dialect");
        }
        conn.aleo.dialect = Some(dialect);
        conn.jsonrpc = dialect.jsonrpc();
        self.pool.learned_dialect.set(dialect);
        let sub = Arc::new(AleoSubscribed {
            dialect,
            result: result.clone(),
        });
        self.publish(|s| s.aleo_sub = Some(sub));
        Ok(dialect)
    }

    /// An ALEO pool's notification or request, handled at once; `Some`
    /// ends the connection.
    pub(super) async fn on_aleo_request(&mut self, conn: &mut Conn, req: Request) -> Option<End> {
        if matches!(
            req.method.as_str(),
            "client.reconnect" | "client.show_message" | "client.get_version"
        ) {
            return self.on_pool_request(conn, req).await;
        }
        let method = ServerMethod::from_request(&req, conn.aleo.dialect).or_else(|e| {
            // A notify in the other dialect's shape: its shape decides.
            match req.method.as_str() {
                "mining.notify" => ServerMethod::from_request(&req, None),
                _ => Err(e),
            }
        });
        match method {
            Ok(ServerMethod::Notify(notify)) => self.publish_aleo_job(conn, notify, &req),
            Ok(ServerMethod::SetTarget(t)) => {
                self.publish(|s| s.aleo_difficulty = Some(PoolDifficulty::Target(t)));
            }
            Ok(ServerMethod::SetDifficulty(d)) => {
                self.publish(|s| s.aleo_difficulty = Some(PoolDifficulty::Difficulty(d)));
            }
            Ok(ServerMethod::Unknown { method, .. }) if !req.id.is_null() => {
                tracing::debug!(pool = %self.pool.name, %method, "pool request not supported");
                let dialect = conn.aleo.dialect.unwrap_or(Dialect::IceRiver);
                let answer =
                    aleo::reject_response(dialect, req.id.clone(), 20, "Method not supported");
                if let Err(e) = self.write(conn, &answer.to_line()).await {
                    return Some(End::Lost(e));
                }
            }
            Ok(ServerMethod::Unknown { .. }) => {
                // The attached miner gets it unchanged.
                let _ = self.relay_tx.send(bytes::Bytes::from(req.to_line()));
            }
            Err(e) => {
                tracing::warn!(pool = %self.pool.name, error = %e, "ignoring malformed pool message");
            }
        }
        None
    }

    fn publish_aleo_job(&self, conn: &mut Conn, notify: Notify, req: &Request) {
        let dialect = notify.dialect();
        if conn.aleo.dialect.is_some_and(|d| d != dialect) {
            tracing::warn!(pool = %self.pool.name, %dialect, "pool's jobs are in the other ALEO dialect; following them");
        }
        conn.aleo.dialect = Some(dialect);
        if let Notify::AleoStratum3(n) = &notify
            && let Some(a) = &n.address
        {
            conn.aleo.address = Some(a.clone());
        }
        let job = Arc::new(AleoJob {
            upstream_id: self.id,
            pool: self.pool.clone(),
            cmd_tx: self.cmd_tx.clone(),
            params: req.params_list().to_vec(),
            address: conn.aleo.address.clone(),
            notify,
        });
        self.publish(|s| s.aleo_job = Some(job));
    }
}

/// A miner's share as the pool gets it: every param as the miner wrote it,
/// the pool's own job id, and an AleoStratum3 one under the worker this
/// connection authorized (passthrough login).
pub(super) fn submit_params(mut submit: aleo::Submit, worker: &str) -> Vec<RawJson> {
    if let aleo::Submit::AleoStratum3(s) = &mut submit {
        s.worker = RawJson::string(worker);
    }
    submit.to_params()
}
