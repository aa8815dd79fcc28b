//! The SHA-256 Stratum V1 dialect of an upstream connection (protocols.md
//! §1): configure (version rolling) and subscribe pipelined, then authorize;
//! ready once authorized with a job. Then the pool's jobs, difficulty,
//! extranonce and version mask, published to sessions; `client.*` requests;
//! unknown notifications relayed to miners.

use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_stratum::v1::{ServerMethod, SubscribeResult};
use switchyard_stratum::{Message, Request, Response};

use crate::sha256::job::Job;
use crate::upstream::PoolShare;
use crate::upstream::client;
use crate::upstream::protocol::{End, Link, Lost, Params, PoolIo, PoolProtocol};

const CONFIGURE_ID: u64 = 1;
const SUBSCRIBE_ID: u64 = 2;
const AUTHORIZE_ID: u64 = 3;

/// What a SHA-256 connection knows of its pool.
pub(crate) struct Sha256Pool {
    extranonce1: Vec<u8>,
    extranonce2_size: usize,
    difficulty: f64,
    version_mask: u32,
}

impl PoolProtocol for Sha256Pool {
    fn new(_: &Link) -> Self {
        Sha256Pool {
            extranonce1: Vec::new(),
            extranonce2_size: 0,
            difficulty: 1.0,
            version_mask: 0,
        }
    }

    async fn handshake(&mut self, link: &Link, io: &mut PoolIo) -> Result<(), Lost> {
        let t = link.params.timing.upstream_handshake;
        let peer = io.peer.clone();
        tokio::time::timeout(t, self.exchange(link, io))
            .await
            .map_err(|_| Lost::Pool(format!("handshake with {peer} timed out")))??;
        let (d, e2, mask) = (self.difficulty, self.extranonce2_size, self.version_mask);
        link.publish(|s| {
            s.difficulty = d;
            s.extranonce2_size = e2;
            s.version_mask = mask;
        });
        Ok(())
    }

    async fn on_request(&mut self, link: &Link, io: &mut PoolIo, req: Request) -> Option<End> {
        let method = match ServerMethod::from_request(&req) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(pool = %link.pool.name, error = %e, "ignoring malformed pool message");
                return None;
            }
        };
        match method {
            ServerMethod::Notify(notify) => {
                let job = Arc::new(Job::new(
                    link.id,
                    link.pool.clone(),
                    link.cmd_tx.clone(),
                    notify,
                    self.extranonce1.clone(),
                    self.extranonce2_size,
                    self.difficulty,
                    self.version_mask,
                ));
                link.publish(|s| s.job = Some(job));
            }
            ServerMethod::SetDifficulty(d) => {
                self.difficulty = d;
                link.publish(|s| s.difficulty = d);
            }
            ServerMethod::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => {
                tracing::info!(pool = %link.pool.name, extranonce2_size, "pool changed extranonce");
                self.extranonce1 = extranonce1;
                self.extranonce2_size = extranonce2_size;
                link.publish(|s| s.extranonce2_size = extranonce2_size);
            }
            ServerMethod::SetVersionMask(mask) => {
                self.version_mask = mask & link.params.version_mask;
                let m = self.version_mask;
                link.publish(|s| s.version_mask = m);
            }
            ServerMethod::Unknown { .. } if !req.id.is_null() => {
                let answer = Response::error(req.id.clone(), 20, "Method not supported").to_line();
                return io.write(&answer).await.err().map(End::Lost);
            }
            ServerMethod::Unknown { .. } => link.relay(&req),
            other => return client::answer(link, io, &req, other).await,
        }
        None
    }

    fn submit(&self, share: PoolShare) -> Result<(&'static str, Params), Lost> {
        match share {
            PoolShare::Sha256(s) => {
                let mut params = Vec::with_capacity(128);
                s.write_params(&mut params);
                Ok(("mining.submit", Params::Json(params)))
            }
            other => Err(Lost::Internal(format!("not a SHA-256 share: {other:?}"))),
        }
    }
}

impl Sha256Pool {
    async fn exchange(&mut self, link: &Link, io: &mut PoolIo) -> Result<(), Lost> {
        let mask = link.params.version_mask;
        let mut lines = Vec::new();
        if mask != 0 {
            let params = json!([["version-rolling"], {"version-rolling.mask": format!("{mask:08x}"), "version-rolling.min-bit-count": 2}]);
            lines.extend(Request::new(CONFIGURE_ID, "mining.configure", params).to_line());
        }
        let subscribe = json!([link.params.agent]);
        lines.extend(Request::new(SUBSCRIBE_ID, "mining.subscribe", subscribe).to_line());
        io.write(&lines).await?;
        let mut subscribed = false;
        let mut authorized = false;
        loop {
            if authorized && link.state_tx.borrow().job.is_some() {
                return Ok(());
            }
            let line = io.read_line("handshake").await?;
            let msg = Message::parse(&line)
                .map_err(|e| Lost::Pool(format!("pool sent an invalid line: {e}")))?;
            match msg {
                Message::Response(r) if r.id == json!(CONFIGURE_ID) => {
                    self.version_mask = granted_mask(&r, mask);
                }
                Message::Response(r) if r.id == json!(SUBSCRIBE_ID) => {
                    if !r.is_ok() {
                        let refusal = r.error_parts();
                        return Err(Lost::Pool(format!("pool refused subscribe: {refusal:?}")));
                    }
                    let sub = SubscribeResult::from_result(&r.result)
                        .map_err(|e| Lost::Pool(format!("subscribe answer: {e}")))?;
                    self.extranonce1 = sub.extranonce1;
                    self.extranonce2_size = sub.extranonce2_size;
                    subscribed = true;
                    let auth = json!([link.params.username, link.pool.password.expose()]);
                    io.write(&Request::new(AUTHORIZE_ID, "mining.authorize", auth).to_line())
                        .await?;
                }
                Message::Response(r) if r.id == json!(AUTHORIZE_ID) => {
                    if !r.is_ok() {
                        return Err(Lost::Pool(format!(
                            "pool refused authorize for {:?}: {}",
                            link.params.username,
                            r.error_parts().map(|(_, t)| t).unwrap_or_default()
                        )));
                    }
                    authorized = true;
                }
                Message::Response(_) => {}
                Message::Request(req) => {
                    if !subscribed && req.method == "mining.notify" {
                        continue;
                    }
                    if let Some(end) = self.on_request(link, io, req).await {
                        return Err(end.in_handshake());
                    }
                }
            }
        }
    }
}

fn granted_mask(r: &Response, asked: u32) -> u32 {
    if !r.is_ok() || r.result.get("version-rolling").and_then(Value::as_bool) != Some(true) {
        return 0;
    }
    r.result
        .get("version-rolling.mask")
        .and_then(Value::as_str)
        .and_then(|s| switchyard_stratum::hexutil::parse_hex_u32(s).ok())
        .map_or(0, |m| m & asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_granted_mask_within_what_we_asked_is_used() {
        let granted = |result: Value| granted_mask(&Response::ok(json!(1), result), 0x1fffe000);
        let yes = json!({"version-rolling": true, "version-rolling.mask": "ffffffff"});
        assert_eq!(granted(yes), 0x1fffe000);
        let narrower = json!({"version-rolling": true, "version-rolling.mask": "00ffe000"});
        assert_eq!(granted(narrower), 0x00ffe000);
        let no = json!({"version-rolling": false, "version-rolling.mask": "ffffffff"});
        assert_eq!(granted(no), 0);
        let refused = Response::error(json!(1), 20, "not supported");
        assert_eq!(granted_mask(&refused, 0x1fffe000), 0);
    }

    #[test]
    fn a_share_goes_up_as_mining_submit() {
        let pool = Sha256Pool {
            extranonce1: vec![],
            extranonce2_size: 4,
            difficulty: 1.0,
            version_mask: 0,
        };
        let share = switchyard_stratum::v1::Submit {
            worker: "pool.user".into(),
            job_id: "j".into(),
            extranonce2: vec![0, 0, 0, 1],
            ntime: 0x5f5e1000,
            nonce: 2,
            version_bits: None,
        };
        let (method, p) = pool.submit(PoolShare::Sha256(share)).unwrap();
        assert_eq!(method, "mining.submit");
        let Params::Json(p) = p else {
            panic!("written as JSON text")
        };
        let want = json!(["pool.user", "j", "00000001", "5f5e1000", "00000002"]);
        assert_eq!(String::from_utf8(p).unwrap(), want.to_string());
    }
}
