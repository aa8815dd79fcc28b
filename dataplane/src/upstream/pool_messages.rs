//! What a pool sends unprompted: jobs, difficulty, extranonce, version mask,
//! reconnect, messages, and unknown notifications relayed to miners.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchyard_stratum::v1::ServerMethod;
use switchyard_stratum::{Request, Response};
use tokio::io::AsyncWriteExt;

use super::*;

impl Task {
    /// Handles a pool notification or request; `Some` ends the connection.
    pub(super) async fn on_pool_request(&mut self, conn: &mut Conn, req: Request) -> Option<End> {
        let method = match ServerMethod::from_request(&req) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(pool = %self.pool.name, error = %e, "ignoring malformed pool message");
                return None;
            }
        };
        match method {
            ServerMethod::Notify(notify) => {
                let job = Arc::new(Job::new(
                    self.id,
                    self.pool.clone(),
                    self.cmd_tx.clone(),
                    notify,
                    conn.extranonce1.clone(),
                    conn.extranonce2_size,
                    conn.difficulty,
                    conn.version_mask,
                ));
                self.publish(|s| s.job = Some(job));
            }
            ServerMethod::SetDifficulty(d) => {
                conn.difficulty = d;
                self.publish(|s| s.difficulty = d);
            }
            ServerMethod::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => {
                tracing::info!(pool = %self.pool.name, extranonce2_size, "pool changed extranonce");
                conn.extranonce1 = extranonce1;
                conn.extranonce2_size = extranonce2_size;
                self.publish(|s| s.extranonce2_size = extranonce2_size);
            }
            ServerMethod::SetVersionMask(mask) => {
                conn.version_mask = mask & self.params.version_mask;
                let m = conn.version_mask;
                self.publish(|s| s.version_mask = m);
            }
            ServerMethod::Reconnect {
                host,
                port,
                wait_seconds,
            } => {
                let addr = PoolAddr {
                    host: host.unwrap_or_else(|| self.pool.addr.host.clone()),
                    port: port.filter(|p| *p != 0).unwrap_or(self.pool.addr.port),
                    tls: self.pool.addr.tls,
                };
                return Some(End::Redirect {
                    addr,
                    wait: Duration::from_secs(wait_seconds.min(600)),
                });
            }
            ServerMethod::ShowMessage(text) => {
                tracing::info!(pool = %self.pool.name, text = %text.chars().take(500).collect::<String>(), "message from pool");
            }
            ServerMethod::GetVersion => {
                let answer = Response::ok(req.id.clone(), json!(self.params.agent)).to_line();
                if let Err(e) = conn.writer.write_all(&answer).await {
                    return Some(End::Lost(format!("write: {e}")));
                }
            }
            ServerMethod::Unknown { .. } => {
                if !req.id.is_null() {
                    let answer =
                        Response::error(req.id.clone(), 20, "Method not supported").to_line();
                    if let Err(e) = conn.writer.write_all(&answer).await {
                        return Some(End::Lost(format!("write: {e}")));
                    }
                } else {
                    // Every attached miner gets it; none is merged or skipped.
                    let _ = self.relay_tx.send(bytes::Bytes::from(req.to_line()));
                }
            }
        }
        None
    }
}
