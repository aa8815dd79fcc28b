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
use switchyard_stratum::{Message, Request};

use crate::aleo::{AleoJob, AleoSubscribed, PoolDifficulty};
use crate::upstream::PoolShare;
use crate::upstream::client;
use crate::upstream::protocol::{End, Link, Lost, Params, PoolIo, PoolProtocol};

const SUBSCRIBE_ID: u64 = 1;
const RETRY_ID: u64 = 2;
const AUTHORIZE_ID: u64 = 3;

/// What an ALEO connection knows of its pool.
#[derive(Debug, Default)]
pub(crate) struct AleoPool {
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

impl PoolProtocol for AleoPool {
    fn new(_: &Link) -> Self {
        AleoPool::default()
    }

    /// Its own deadlines: a dedicated connection waits for its miner to
    /// authorize between subscribe and authorize.
    async fn handshake(&mut self, link: &Link, io: &mut PoolIo) -> Result<(), Lost> {
        self.exchange(link, io).await
    }

    /// An ALEO pool's notification or request, handled at once.
    async fn on_request(&mut self, link: &Link, io: &mut PoolIo, req: Request) -> Option<End> {
        if client::is_client_method(&req.method) {
            return match switchyard_stratum::v1::ServerMethod::from_request(&req) {
                Ok(m) => client::answer(link, io, &req, m).await,
                Err(e) => {
                    tracing::warn!(pool = %link.pool.name, error = %e, "ignoring malformed pool message");
                    None
                }
            };
        }
        let method = ServerMethod::from_request(&req, self.dialect).or_else(|e| {
            // A notify in the other dialect's shape: its shape decides.
            match req.method.as_str() {
                "mining.notify" => ServerMethod::from_request(&req, None),
                _ => Err(e),
            }
        });
        match method {
            Ok(ServerMethod::Notify(notify)) => self.publish_job(link, notify, &req),
            Ok(ServerMethod::SetTarget(t)) => {
                link.publish(|s| s.aleo_difficulty = Some(PoolDifficulty::Target(t)));
            }
            Ok(ServerMethod::SetDifficulty(d)) => {
                link.publish(|s| s.aleo_difficulty = Some(PoolDifficulty::Difficulty(d)));
            }
            Ok(ServerMethod::Unknown { method, .. }) if !req.id.is_null() => {
                tracing::debug!(pool = %link.pool.name, %method, "pool request not supported");
                let dialect = self.dialect.unwrap_or(Dialect::IceRiver);
                let answer =
                    aleo::reject_response(dialect, req.id.clone(), 20, "Method not supported");
                return io.write(&answer.to_line()).await.err().map(End::Lost);
            }
            Ok(ServerMethod::Unknown { .. }) => link.relay(&req),
            Err(e) => {
                tracing::warn!(pool = %link.pool.name, error = %e, "ignoring malformed pool message");
            }
        }
        None
    }

    /// A miner's share as the pool gets it: every param as the miner wrote
    /// it, the pool's own job id, and an AleoStratum3 one under the worker
    /// this connection authorized (passthrough login).
    fn submit(&self, share: PoolShare) -> Result<(&'static str, Params), Lost> {
        match share {
            PoolShare::Aleo(mut submit) => {
                if let aleo::Submit::AleoStratum3(s) = &mut submit {
                    s.worker = switchyard_stratum::RawJson::string(&self.worker);
                }
                Ok(("mining.submit", Params::Verbatim(submit.to_params())))
            }
            other => Err(Lost::Internal(format!("not an ALEO share: {other:?}"))),
        }
    }
}

impl AleoPool {
    /// The dialect to subscribe in, and whether the config fixes it.
    fn first_dialect(link: &Link) -> (Dialect, bool) {
        if let Some(d) = link.pool.config.dialect {
            return (d, true);
        }
        let d = link
            .pool
            .learned_dialect
            .get()
            .or(link.params.aleo.dialect)
            .unwrap_or(Dialect::AleoStratum3);
        (d, false)
    }

    async fn subscribe(
        link: &Link,
        io: &mut PoolIo,
        id: u64,
        dialect: Dialect,
    ) -> Result<(), Lost> {
        let sub = ClientMethod::Subscribe(Subscribe::new(dialect, link.params.agent.clone()));
        io.write(&sub.to_request(id, dialect).to_line()).await
    }

    async fn exchange(&mut self, link: &Link, io: &mut PoolIo) -> Result<(), Lost> {
        let step = link.params.timing.upstream_handshake;
        let (mut dialect, configured) = Self::first_dialect(link);
        let mut retried = configured;
        Self::subscribe(link, io, SUBSCRIBE_ID, dialect).await?;
        let mut deadline = tokio::time::Instant::now() + step;
        let mut credentials = link.params.aleo.credentials.clone();
        let mut worker = credentials.is_none().then(|| link.params.username.clone());
        let (mut subscribed, mut asked, mut authorized) = (false, false, false);
        loop {
            if authorized && link.state_tx.borrow().aleo_job.is_some() {
                return Ok(());
            }
            if subscribed && !asked {
                if let Some(rx) = &mut credentials {
                    worker = rx.borrow_and_update().clone();
                }
                if let Some(w) = worker.clone() {
                    let auth = ClientMethod::Authorize {
                        user: w.clone(),
                        password: Some(link.pool.password.expose().to_owned()),
                        extra: Vec::new(),
                    };
                    io.write(&auth.to_request(AUTHORIZE_ID, dialect).to_line())
                        .await?;
                    self.worker = w;
                    asked = true;
                    deadline = tokio::time::Instant::now() + step;
                }
            }
            // Waiting for the miner's worker name is not the pool's delay.
            let for_miner = subscribed && !asked;
            let line = tokio::select! {
                line = io.reader.next_line() => line,
                changed = async {
                    match credentials.as_mut() {
                        Some(rx) => rx.changed().await,
                        None => std::future::pending().await,
                    }
                }, if for_miner => {
                    if changed.is_err() {
                        return Err(Lost::Miner("the miner left before it authorized".into()));
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(deadline), if !for_miner => {
                    return Err(Lost::Pool(format!("handshake timed out after {step:?}")));
                }
            };
            let line = match line {
                Ok(Some(line)) => line,
                Ok(None) => {
                    return Err(Lost::Pool(
                        "pool closed the connection during the handshake".into(),
                    ));
                }
                Err(e) => return Err(Lost::Network(format!("read: {e}"))),
            };
            let msg = Message::parse(&line)
                .map_err(|e| Lost::Pool(format!("pool sent an invalid line: {e}")))?;
            match msg {
                Message::Response(r) if r.id == SUBSCRIBE_ID || r.id == RETRY_ID => {
                    if !r.is_ok() {
                        let text = r.error_parts().map(|(_, t)| t).unwrap_or_default();
                        if retried {
                            return Err(Lost::Pool(format!("pool refused subscribe: {text}")));
                        }
                        // The other dialect's subscribe, once.
                        tracing::info!(pool = %link.pool.name, refused = %dialect, %text, "pool refused the subscribe; trying the other ALEO dialect");
                        retried = true;
                        dialect = other(dialect);
                        Self::subscribe(link, io, RETRY_ID, dialect).await?;
                        continue;
                    }
                    dialect = self.on_subscribed(link, io, &r.result, dialect, configured)?;
                    subscribed = true;
                }
                Message::Response(r) if r.id == AUTHORIZE_ID => {
                    if !r.is_ok() {
                        return Err(Lost::Pool(format!(
                            "pool refused authorize for {:?}: {}",
                            self.worker,
                            r.error_parts().map(|(_, t)| t).unwrap_or_default()
                        )));
                    }
                    authorized = true;
                }
                Message::Response(_) => {}
                Message::Request(req) => {
                    if let Some(end) = self.on_request(link, io, req).await {
                        return Err(end.in_handshake());
                    }
                }
            }
        }
    }

    /// Reads the subscribe result (the dialect its shape says, unless the
    /// config fixes one) and publishes it; returns the connection's dialect.
    fn on_subscribed(
        &mut self,
        link: &Link,
        io: &mut PoolIo,
        result: &Value,
        sent: Dialect,
        configured: bool,
    ) -> Result<Dialect, Lost> {
        let dialect = if configured {
            sent
        } else {
            Dialect::detect(Some(result), None).unwrap_or(sent)
        };
        let parsed = SubscribeResult::from_result(result, Some(dialect))
            .map_err(|e| Lost::Pool(format!("subscribe answer is not {dialect}: {e}")))?;
        if let SubscribeResult::AleoStratum3 { pool_address, .. } = &parsed {
            self.address = Some(pool_address.clone());
        }
        if dialect != sent {
            tracing::info!(pool = %link.pool.name, %dialect, "pool answered in the other ALEO dialect");
        }
        self.dialect = Some(dialect);
        io.jsonrpc = dialect.jsonrpc();
        link.pool.learned_dialect.set(dialect);
        let sub = Arc::new(AleoSubscribed {
            dialect,
            result: result.clone(),
        });
        link.publish(|s| s.aleo_sub = Some(sub));
        Ok(dialect)
    }

    fn publish_job(&mut self, link: &Link, notify: Notify, req: &Request) {
        let dialect = notify.dialect();
        if self.dialect.is_some_and(|d| d != dialect) {
            tracing::warn!(pool = %link.pool.name, %dialect, "pool's jobs are in the other ALEO dialect; following them");
        }
        self.dialect = Some(dialect);
        if let Notify::AleoStratum3(n) = &notify
            && let Some(a) = &n.address
        {
            self.address = Some(a.clone());
        }
        let job = Arc::new(AleoJob {
            upstream_id: link.id,
            pool: link.pool.clone(),
            cmd_tx: link.cmd_tx.clone(),
            params: req.params_list().to_vec(),
            address: self.address.clone(),
            notify,
        });
        link.publish(|s| s.aleo_job = Some(job));
    }
}

#[cfg(test)]
mod tests {
    use switchyard_stratum::RawJson;

    use super::*;

    fn texts(params: Params) -> Vec<String> {
        match params {
            Params::Verbatim(p) => p.iter().map(|r| r.text().to_owned()).collect(),
            Params::Parsed(_) | Params::Json(_) => panic!("ALEO shares go up verbatim"),
        }
    }

    #[test]
    fn an_aleostratum3_share_goes_up_under_the_connections_worker() {
        let pool = AleoPool {
            worker: "pool.worker".into(),
            ..Default::default()
        };
        let raw = [
            RawJson::string("miner.rig1"),
            RawJson::string("job-1"),
            RawJson::parse("1.50e3").unwrap(),
        ];
        let share = aleo::Submit::from_raw(&raw, Some(Dialect::AleoStratum3)).unwrap();
        let (method, params) = pool.submit(PoolShare::Aleo(share)).unwrap();
        assert_eq!(method, "mining.submit");
        assert_eq!(texts(params), ["\"pool.worker\"", "\"job-1\"", "1.50e3"]);
    }

    #[test]
    fn an_iceriver_share_goes_up_byte_for_byte() {
        let pool = AleoPool::default();
        let raw = [
            RawJson::string("job-1"),
            RawJson::string("00ff"),
            RawJson::string("proof"),
            RawJson::string("nonce"),
        ];
        let share = aleo::Submit::from_raw(&raw, Some(Dialect::IceRiver)).unwrap();
        let (_, params) = pool.submit(PoolShare::Aleo(share)).unwrap();
        let want: Vec<String> = raw.iter().map(|r| r.text().to_owned()).collect();
        assert_eq!(texts(params), want);
        let not_aleo = switchyard_stratum::v1::Submit {
            worker: "w".into(),
            job_id: "j".into(),
            extranonce2: vec![0; 4],
            ntime: 0x5f5e1000,
            nonce: 1,
            version_bits: None,
        };
        let err = pool.submit(PoolShare::Sha256(not_aleo)).err().unwrap();
        assert_eq!(err.side(), "internal");
    }
}
