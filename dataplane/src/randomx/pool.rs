//! The RandomX dialect of an upstream connection (protocols.md §2): `login`
//! with the pool's credentials (ready once the pool gave a job), `job`
//! notifications published to sessions, submits carrying the pool's session
//! id, and `keepalived` sent upstream on xmrig's schedule.

use std::sync::Arc;
use std::time::Duration;

use switchyard_stratum::randomx::{self, LoginResult, ServerMethod};
use switchyard_stratum::{Message, Request, Response};

use crate::outcome::Verdict;
use crate::randomx::RxJob;
use crate::upstream::PoolShare;
use crate::upstream::protocol::{End, Link, Lost, Params, PoolIo, PoolProtocol};

/// The algorithms asked for at login.
const ALGOS: [&str; 1] = [randomx::DEFAULT_ALGO];

const LOGIN_ID: u64 = 1;

/// What a RandomX connection knows of its pool.
pub(crate) struct RxPool {
    /// The pool's session id (the login result's `id`).
    login_id: String,
}

impl PoolProtocol for RxPool {
    /// xmrig's own interval.
    const KEEPALIVE: Option<Duration> = Some(Duration::from_secs(60));

    fn new(_: &Link) -> Self {
        RxPool {
            login_id: String::new(),
        }
    }

    async fn handshake(&mut self, link: &Link, io: &mut PoolIo) -> Result<(), Lost> {
        io.jsonrpc = true;
        let t = link.params.timing.upstream_handshake;
        let peer = io.peer.clone();
        tokio::time::timeout(t, self.login(link, io))
            .await
            .map_err(|_| Lost::Pool(format!("handshake with {peer} timed out")))?
    }

    async fn on_request(&mut self, link: &Link, io: &mut PoolIo, req: Request) -> Option<End> {
        match ServerMethod::from_request(&req) {
            Ok(ServerMethod::Job(job)) => publish_job(link, job),
            Ok(ServerMethod::Unknown { method, .. }) if !req.id.is_null() => {
                tracing::debug!(pool = %link.pool.name, %method, "pool request not supported");
                let mut answer = Response::error(req.id.clone(), -1, "Method not supported");
                answer.jsonrpc = true;
                return io.write(&answer.to_line()).await.err().map(End::Lost);
            }
            Ok(ServerMethod::Unknown { .. }) => link.relay(&req),
            Err(e) => {
                tracing::warn!(pool = %link.pool.name, error = %e, "ignoring malformed pool message");
            }
        }
        None
    }

    /// A miner's share as the pool expects it: with the pool's session id.
    fn submit(&self, share: PoolShare) -> Result<(&'static str, Params), Lost> {
        match share {
            PoolShare::Randomx(mut s) => {
                s.id.clone_from(&self.login_id);
                Ok(("submit", Params::Parsed(s.to_params())))
            }
            other => Err(Lost::Internal(format!("not a RandomX share: {other:?}"))),
        }
    }

    fn verdict(r: &Response) -> Verdict {
        let refusal = randomx::submit_result(r).err();
        Verdict::from_refusal(refusal.map(|e| (Some(e.code), e.message)))
    }

    /// `keepalived` upstream; its answer needs no one.
    fn keepalive(&self, id: u64) -> Option<Request> {
        let mut req = Request::new(id, "keepalived", serde_json::json!({ "id": self.login_id }));
        req.jsonrpc = true;
        Some(req)
    }
}

impl RxPool {
    async fn login(&mut self, link: &Link, io: &mut PoolIo) -> Result<(), Lost> {
        let login = randomx::Login {
            login: link.params.username.clone(),
            pass: Some(link.pool.password.expose().to_owned()),
            agent: Some(link.params.agent.clone()),
            algo: ALGOS.iter().map(|a| a.to_string()).collect(),
            rigid: None,
            extra: Default::default(),
        };
        io.write(&login.to_request(LOGIN_ID).to_line()).await?;
        let mut logged_in = false;
        loop {
            if logged_in && link.state_tx.borrow().rx_job.is_some() {
                return Ok(());
            }
            let line = io.read_line("login").await?;
            let msg = Message::parse(&line)
                .map_err(|e| Lost::Pool(format!("pool sent an invalid line: {e}")))?;
            match msg {
                Message::Response(r) if r.id == LOGIN_ID => {
                    if !r.is_ok() {
                        return Err(Lost::Pool(format!(
                            "pool refused login for {:?}: {}",
                            link.params.username,
                            r.error_parts().map(|(_, t)| t).unwrap_or_default()
                        )));
                    }
                    let result = LoginResult::from_result(&r.result)
                        .map_err(|e| Lost::Pool(format!("login answer: {e}")))?;
                    self.login_id = result.id;
                    if let Some(job) = result.job {
                        publish_job(link, job);
                    }
                    logged_in = true;
                }
                Message::Response(_) => {}
                Message::Request(req) => {
                    if let Some(End::Lost(e)) = self.on_request(link, io, req).await {
                        return Err(e);
                    }
                }
            }
        }
    }
}

fn publish_job(link: &Link, job: randomx::Job) {
    let d = job.difficulty() as f64;
    let job = Arc::new(RxJob {
        upstream_id: link.id,
        pool: link.pool.clone(),
        cmd_tx: link.cmd_tx.clone(),
        job,
    });
    link.publish(|s| {
        s.rx_job = Some(job);
        s.difficulty = d;
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn share() -> randomx::Submit {
        randomx::Submit {
            id: "the-miners-own-session".into(),
            job_id: "j1".into(),
            nonce: [0xd0, 3, 0, 0x40],
            result: [7; 32],
            algo: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn a_share_goes_up_under_the_pools_session_id() {
        let pool = RxPool {
            login_id: "pool-session-9".into(),
        };
        let (method, params) = pool.submit(PoolShare::Randomx(share())).unwrap();
        assert_eq!(method, "submit");
        let Params::Parsed(p) = params else {
            panic!("RandomX params are parsed")
        };
        assert_eq!(p["id"], "pool-session-9");
        assert_eq!(p["job_id"], "j1");
        assert_eq!(p["nonce"], "d0030040");
    }

    #[test]
    fn a_share_of_another_dialect_is_our_fault_not_the_pools() {
        let pool = RxPool {
            login_id: String::new(),
        };
        let v1 = switchyard_stratum::v1::Submit {
            worker: "w".into(),
            job_id: "j".into(),
            extranonce2: vec![0; 4],
            ntime: 0x5f5e1000,
            nonce: 1,
            version_bits: None,
        };
        let err = pool.submit(PoolShare::Sha256(v1)).err().unwrap();
        assert_eq!(err.side(), "internal");
        assert!(err.to_string().contains("not a RandomX share"), "{err}");
    }

    #[test]
    fn the_pools_answer_is_read_in_its_dialect() {
        let ok = Response::ok(json!(1), json!({"status": "OK"}));
        assert_eq!(RxPool::verdict(&ok), Verdict::Accepted);
        let low = Response::error(json!(1), -1, "Low difficulty share");
        assert!(!RxPool::verdict(&low).is_accepted());
        let keepalive = RxPool {
            login_id: "s".into(),
        }
        .keepalive(12)
        .unwrap();
        assert_eq!(keepalive.method, "keepalived");
        assert_eq!(keepalive.params["id"], "s");
    }
}
