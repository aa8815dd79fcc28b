//! The RandomX dialect of an upstream connection (protocols.md §2): `login`
//! with the pool's credentials (ready once the pool gave a job), `job`
//! notifications published to sessions, submits carrying the pool's session
//! id, and `keepalived` sent upstream on the pool's schedule.

use std::sync::Arc;

use serde_json::Value;
use switchyard_stratum::randomx::{self, LoginResult, ServerMethod};
use switchyard_stratum::{Message, Request, Response};
use tokio::io::AsyncWriteExt;

use super::*;
use crate::rx::RxJob;

/// How often `keepalived` goes upstream (xmrig's own interval).
pub(super) const KEEPALIVE: Duration = Duration::from_secs(60);

/// The algorithms asked for at login.
const ALGOS: [&str; 1] = [randomx::DEFAULT_ALGO];

impl Task {
    pub(super) async fn rx_handshake(&mut self, conn: &mut Conn) -> Result<(), String> {
        conn.jsonrpc = true;
        let login = randomx::Login {
            login: self.params.username.clone(),
            pass: Some(self.pool.password.expose().to_owned()),
            agent: Some(self.params.agent.clone()),
            algo: ALGOS.iter().map(|a| a.to_string()).collect(),
            rigid: None,
            extra: Default::default(),
        };
        conn.writer
            .write_all(&login.to_request(1).to_line())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut logged_in = false;
        loop {
            if logged_in && self.state_tx.borrow().rx_job.is_some() {
                return Ok(());
            }
            let line = match conn.reader.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) => return Err("pool closed the connection during the login".into()),
                Err(e) => return Err(format!("read: {e}")),
            };
            match Message::parse(&line).map_err(|e| format!("pool sent an invalid line: {e}"))? {
                Message::Response(r) if r.id == 1 => {
                    if !r.is_ok() {
                        return Err(format!(
                            "pool refused login for {:?}: {}",
                            self.params.username,
                            r.error_parts().map(|(_, t)| t).unwrap_or_default()
                        ));
                    }
                    let result = LoginResult::from_result(&r.result)
                        .map_err(|e| format!("login answer: {e}"))?;
                    conn.login_id = result.id;
                    if let Some(job) = result.job {
                        self.publish_rx_job(conn, job);
                    }
                    logged_in = true;
                }
                Message::Response(_) => {}
                Message::Request(req) => {
                    if let Some(End::Lost(e)) = self.on_rx_request(conn, req).await {
                        return Err(e);
                    }
                }
            }
        }
    }

    fn publish_rx_job(&self, conn: &mut Conn, job: randomx::Job) {
        let d = job.difficulty() as f64;
        conn.difficulty = d;
        let job = Arc::new(RxJob {
            upstream_id: self.id,
            pool: self.pool.clone(),
            cmd_tx: self.cmd_tx.clone(),
            job,
        });
        self.publish(|s| {
            s.rx_job = Some(job);
            s.difficulty = d;
        });
    }

    /// A RandomX pool's notification or request; `Some` ends the connection.
    pub(super) async fn on_rx_request(&mut self, conn: &mut Conn, req: Request) -> Option<End> {
        match ServerMethod::from_request(&req) {
            Ok(ServerMethod::Job(job)) => self.publish_rx_job(conn, job),
            Ok(ServerMethod::Unknown { method, .. }) if !req.id.is_null() => {
                tracing::debug!(pool = %self.pool.name, %method, "pool request not supported");
                let mut answer = Response::error(req.id.clone(), -1, "Method not supported");
                answer.jsonrpc = true;
                if let Err(e) = conn.writer.write_all(&answer.to_line()).await {
                    return Some(End::Lost(format!("write: {e}")));
                }
            }
            Ok(ServerMethod::Unknown { .. }) => {
                // Every attached miner gets it unchanged.
                let _ = self.relay_tx.send(bytes::Bytes::from(req.to_line()));
            }
            Err(e) => {
                tracing::warn!(pool = %self.pool.name, error = %e, "ignoring malformed pool message");
            }
        }
        None
    }

    /// `keepalived` upstream; its answer needs no one.
    pub(super) async fn rx_keepalive(&mut self, conn: &mut Conn) -> Result<(), String> {
        let id = conn.next_id;
        conn.next_id += 1;
        let mut req = Request::new(id, "keepalived", serde_json::json!({ "id": conn.login_id }));
        req.jsonrpc = true;
        conn.writer
            .write_all(&req.to_line())
            .await
            .map_err(|e| format!("write: {e}"))
    }
}

/// A miner's share as the pool expects it: with the pool's session id.
pub(super) fn submit_params(submit: &randomx::Submit, login_id: &str) -> Value {
    let mut s = submit.clone();
    s.id = login_id.to_string();
    s.to_params()
}
