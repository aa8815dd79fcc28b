//! `AleoMiner`: a scripted ALEO miner for either dialect, driven step by step
//! by a test: subscribe, authorize, track jobs / target / difficulty while it
//! waits for answers, and make shares with increasing counters (and, in
//! IceRiver, a nonce from its extranonce1 and a made-up proof: pools cannot
//! check proofs cheaply and the scripted pool does not).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchyard_stratum::aleo::{
    Aleo3Submit, Dialect, IceRiverSubmit, Notify, ServerMethod, Submit, Subscribe, SubscribeResult,
};
use switchyard_stratum::{Message, RawJson, Request, Response};
use tokio::time::Instant;

use crate::scripted_io::client::{LineClient, Read};

/// The agent `ready` subscribes with.
pub const ALEO_AGENT: &str = "switchyard-aleo-miner/0.1";

/// Real provers, by the exact subscribe they send (protocols.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prover {
    /// An IceRiver ALEO ASIC: `["IceRiverMiner-v1.1","AleoStratum/2.0.0",null]`
    /// (an "AleoStratum" version string, but the V1-shaped IceRiver dialect).
    IceRiverAsic,
    /// An AleoStratum/3.0.0 prover: `["AGENT","AleoStratum/3.0.0",null]`
    /// (the spec's own example).
    AleoStratum3,
    /// A prover whose subscribe names no protocol: `["aleo-prover/0.9"]`.
    /// It speaks whatever its pool answers in.
    Unannounced,
}

impl Prover {
    pub const ALL: [Prover; 3] = [
        Prover::IceRiverAsic,
        Prover::AleoStratum3,
        Prover::Unannounced,
    ];

    /// The subscribe params, exactly as the prover sends them.
    pub fn subscribe_params(self) -> Value {
        match self {
            Prover::IceRiverAsic => json!(["IceRiverMiner-v1.1", "AleoStratum/2.0.0", null]),
            Prover::AleoStratum3 => json!(["AGENT", "AleoStratum/3.0.0", null]),
            Prover::Unannounced => json!(["aleo-prover/0.9"]),
        }
    }

    /// The dialect the prover speaks, `None` when it follows the pool.
    pub fn dialect(self) -> Option<Dialect> {
        match self {
            Prover::IceRiverAsic => Some(Dialect::IceRiver),
            Prover::AleoStratum3 => Some(Dialect::AleoStratum3),
            Prover::Unannounced => None,
        }
    }
}

pub struct AleoMiner {
    io: LineClient,
    pub dialect: Dialect,
    counter: u64,
    /// The worker `next_share` names (authorize sets it).
    pub worker: Option<String>,
    pub subscribe_result: Option<SubscribeResult>,
    /// AleoStratum3: `mining.set_target` (a difficulty).
    pub target: Option<u64>,
    /// `mining.set_difficulty`, which some IceRiver-style pools send.
    pub difficulty: Option<f64>,
    /// Every job received; a clean one drops the others.
    pub jobs: HashMap<String, Notify>,
    pub latest_job: Option<String>,
}

impl AleoMiner {
    pub async fn connect(addr: SocketAddr, dialect: Dialect) -> anyhow::Result<Self> {
        Self::connect_with(addr, dialect, None).await
    }

    /// Plain TCP, or TLS through `tls`.
    pub async fn connect_with(
        addr: SocketAddr,
        dialect: Dialect,
        tls: Option<&tokio_rustls::TlsConnector>,
    ) -> anyhow::Result<Self> {
        Ok(AleoMiner {
            io: LineClient::connect_with(addr, dialect.jsonrpc(), tls).await?,
            dialect,
            // High bits random: independent miners do not collide.
            counter: u64::from(rand::random::<u32>()) << 32,
            worker: None,
            subscribe_result: None,
            target: None,
            difficulty: None,
            jobs: HashMap::new(),
            latest_job: None,
        })
    }

    /// Connects, subscribes, authorizes `worker` (password "x") and waits
    /// for the first job.
    pub async fn ready(addr: SocketAddr, dialect: Dialect, worker: &str) -> anyhow::Result<Self> {
        let mut miner = Self::connect(addr, dialect).await?;
        miner.subscribe(ALEO_AGENT).await?;
        if !miner.authorize(worker, "x").await? {
            bail!("miner: {worker:?} was not authorized by {addr}");
        }
        miner.wait_for_job().await?;
        Ok(miner)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.io.local_addr
    }

    pub fn set_timeout(&mut self, timeout: Duration) {
        self.io.timeout = timeout;
    }

    /// The counter the next share uses (then it increases by one).
    pub fn set_counter(&mut self, counter: u64) {
        self.counter = counter;
    }

    pub fn current_job(&self) -> Option<&Notify> {
        self.jobs.get(self.latest_job.as_ref()?)
    }

    /// IceRiver: extranonce1 from the subscribe result (empty otherwise).
    pub fn extranonce1(&self) -> Vec<u8> {
        match &self.subscribe_result {
            Some(SubscribeResult::IceRiver { extranonce1, .. }) => extranonce1.clone(),
            _ => Vec::new(),
        }
    }

    /// AleoStratum3: the server nonce of the subscribe result, as the high
    /// hex digits of `counter` (the counter alone without one).
    fn with_server_nonce(&self, counter: u64) -> u64 {
        let Some(SubscribeResult::AleoStratum3 {
            server_nonce: Some(n),
            ..
        }) = &self.subscribe_result
        else {
            return counter;
        };
        let Ok(prefix) = u64::from_str_radix(n, 16) else {
            return counter;
        };
        match 4 * n.len() as u32 {
            0 => counter,
            64.. => prefix,
            bits => (prefix << (64 - bits)) | (counter & (u64::MAX >> bits)),
        }
    }

    /// Every server request received, in order.
    pub fn notifications(&self) -> &[Request] {
        &self.io.notifications
    }

    /// Lines that were not stratum and server requests that could not be read.
    pub fn errors(&self) -> &[String] {
        &self.io.errors
    }

    // ---- raw I/O ----

    pub async fn send_raw(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.io.send_raw(line).await
    }

    /// Sends a request with the next id (`jsonrpc` as the dialect wants).
    pub async fn send_request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.io.send_request(method, params).await
    }

    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Response> {
        let id = self.send_request(method, params).await?;
        self.wait_response(&id).await
    }

    fn apply(&mut self, req: &Request) {
        match ServerMethod::from_request(req, Some(self.dialect)) {
            Ok(ServerMethod::Notify(n)) => {
                if n.clean_jobs() {
                    self.jobs.clear();
                }
                self.latest_job = Some(n.job_id().to_owned());
                self.jobs.insert(n.job_id().to_owned(), n);
            }
            Ok(ServerMethod::SetTarget(t)) => self.target = Some(t),
            Ok(ServerMethod::SetDifficulty(d)) => self.difficulty = Some(d),
            Ok(ServerMethod::Unknown { .. }) => {}
            Err(e) => self.io.errors.push(format!("{}: {e}", req.method)),
        }
    }

    async fn pump(&mut self, deadline: Instant, what: &str) -> anyhow::Result<()> {
        match self.io.read(deadline, what).await? {
            Read::Request(req) => {
                self.apply(&req);
                self.io.keep(req);
                Ok(())
            }
            Read::Other => Ok(()),
            Read::Closed => bail!(
                "miner {}: connection closed while waiting for {what}",
                self.io.local_addr
            ),
        }
    }

    /// The next raw line from the socket (skipping the queues); server
    /// requests in it still update the tracked state.
    pub async fn recv_line_timeout(&mut self, timeout: Duration) -> anyhow::Result<Vec<u8>> {
        let line = self
            .io
            .read_line(Instant::now() + timeout, "a line")
            .await?;
        if let Ok(Message::Request(req)) = Message::parse(&line) {
            self.apply(&req);
        }
        Ok(line)
    }

    pub async fn expect_closed(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.io.read(deadline, "the connection to close").await {
                Ok(Read::Closed) => return Ok(()),
                Ok(Read::Request(req)) => {
                    self.apply(&req);
                    self.io.keep(req);
                }
                Ok(Read::Other) => {}
                Err(_) => bail!(
                    "miner {}: still connected after {timeout:?}",
                    self.io.local_addr
                ),
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.io.is_closed()
    }

    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        self.io.shutdown().await
    }

    // ---- waiting ----

    pub async fn wait_response(&mut self, id: &Value) -> anyhow::Result<Response> {
        let deadline = self.io.deadline();
        loop {
            if let Some(r) = self.io.take_response(id) {
                return Ok(r);
            }
            let what = format!("the answer to id {id}");
            if let Err(e) = self.pump(deadline, &what).await {
                return Err(e.context(self.io.unclaimed_ids()));
            }
        }
    }

    /// Takes the first queued server request with this method, reading
    /// until one comes.
    pub async fn wait_for_notification(&mut self, method: &str) -> anyhow::Result<Request> {
        let deadline = self.io.deadline();
        loop {
            if let Some(r) = self.io.take_notification(method) {
                return Ok(r);
            }
            self.pump(deadline, method).await?;
        }
    }

    pub async fn wait_until(
        &mut self,
        what: &str,
        mut cond: impl FnMut(&Self) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = self.io.deadline();
        while !cond(self) {
            self.pump(deadline, what).await?;
        }
        Ok(())
    }

    pub async fn wait_for_job(&mut self) -> anyhow::Result<Notify> {
        self.wait_until("a job (mining.notify)", |m| m.current_job().is_some())
            .await?;
        Ok(self.current_job().expect("checked").clone())
    }

    pub async fn wait_for_new_job(&mut self, after_job_id: &str) -> anyhow::Result<Notify> {
        self.wait_until(&format!("a job other than {after_job_id:?}"), |m| {
            m.latest_job.as_deref().is_some_and(|j| j != after_job_id)
        })
        .await?;
        Ok(self.current_job().expect("checked").clone())
    }

    // ---- stratum methods ----

    /// Subscribes in the miner's dialect; returns the raw answer.
    pub async fn subscribe_response(&mut self, agent: &str) -> anyhow::Result<Response> {
        let params = Subscribe::new(self.dialect, agent).to_params();
        let r = self.request("mining.subscribe", params).await?;
        if r.is_ok() {
            let result = SubscribeResult::from_result(&r.result, Some(self.dialect))?;
            self.subscribe_result = Some(result);
        }
        Ok(r)
    }

    /// Connects as `prover` (its exact subscribe), authorizes `worker` and
    /// waits for the first job. A prover that announces no dialect takes
    /// the one the answer is in.
    pub async fn ready_as(addr: SocketAddr, prover: Prover, worker: &str) -> anyhow::Result<Self> {
        let guess = prover.dialect().unwrap_or(Dialect::IceRiver);
        let mut miner = Self::connect(addr, guess).await?;
        let r = miner.subscribe_as(prover).await?;
        if let Some((code, text)) = r.error_parts() {
            bail!("{prover:?}: mining.subscribe refused: code {code:?}, {text:?}");
        }
        if !miner.authorize(worker, "x").await? {
            bail!("{prover:?}: {worker:?} was not authorized by {addr}");
        }
        miner.wait_for_job().await?;
        Ok(miner)
    }

    /// Sends `prover`'s exact subscribe; returns the raw answer.
    pub async fn subscribe_as(&mut self, prover: Prover) -> anyhow::Result<Response> {
        let r = self
            .request("mining.subscribe", prover.subscribe_params())
            .await?;
        if r.is_ok() {
            let dialect = match prover.dialect() {
                Some(d) => d,
                None => Dialect::detect(Some(&r.result), None)
                    .context("a subscribe result in neither ALEO dialect")?,
            };
            self.dialect = dialect;
            self.io.jsonrpc = dialect.jsonrpc();
            self.subscribe_result = Some(SubscribeResult::from_result(&r.result, Some(dialect))?);
        }
        Ok(r)
    }

    /// Subscribes; a refusal or a result of the wrong shape is an error.
    pub async fn subscribe(&mut self, agent: &str) -> anyhow::Result<SubscribeResult> {
        let r = self.subscribe_response(agent).await?;
        if let Some((code, text)) = r.error_parts() {
            bail!("mining.subscribe refused: code {code:?}, {text:?}");
        }
        self.subscribe_result
            .clone()
            .context("subscribe answer without a result")
    }

    /// True when the pool said yes; the user becomes the share's worker.
    pub async fn authorize(&mut self, user: &str, password: &str) -> anyhow::Result<bool> {
        let r = self
            .request("mining.authorize", json!([user, password]))
            .await?;
        let ok = r.error.is_null() && r.result == Value::Bool(true);
        if ok {
            self.worker = Some(user.to_owned());
        }
        Ok(ok)
    }

    /// A share on the latest job (see `share_for`).
    pub fn next_share(&mut self) -> anyhow::Result<Submit> {
        let job_id = self.latest_job.clone().context("miner: no job yet")?;
        self.share_for(&job_id)
    }

    /// A share on `job_id` with the next counter. AleoStratum3: `[worker,
    /// job_id, counter]` (the server nonce, when the pool gave one, as the
    /// counter's high hex digits); IceRiver: `[job_id, counter (16 hex), proof,
    /// nonce]` with nonce = hex(extranonce1) (or "00000000") and a proof
    /// made from the job, counter and nonce.
    pub fn share_for(&mut self, job_id: &str) -> anyhow::Result<Submit> {
        let counter = self.counter;
        self.counter = self.counter.wrapping_add(1);
        Ok(match self.dialect {
            Dialect::AleoStratum3 => Submit::AleoStratum3(Aleo3Submit {
                worker: RawJson::string(&self.worker.clone().context("miner: authorize first")?),
                job_id: job_id.to_owned(),
                counter: RawJson::of(&self.with_server_nonce(counter).into()),
                extra: Vec::new(),
            }),
            Dialect::IceRiver => {
                let e1 = self.extranonce1();
                let nonce = if e1.is_empty() {
                    "00000000".to_owned()
                } else {
                    hex::encode(e1)
                };
                let counter = format!("{counter:016x}");
                let proof = Sha256::digest(format!("{job_id}/{counter}/{nonce}"));
                Submit::IceRiver(IceRiverSubmit {
                    job_id: job_id.to_owned(),
                    counter: RawJson::string(&counter),
                    proof: RawJson::string(&format!("ab1{}", hex::encode(proof))),
                    nonce: RawJson::string(&nonce),
                    extra: Vec::new(),
                })
            }
        })
    }

    /// Submits and waits for the answer.
    pub async fn submit(&mut self, share: &Submit) -> anyhow::Result<Response> {
        let id = self.io.next_id();
        self.send_raw(&share.to_line(&id)).await?;
        self.wait_response(&id).await
    }

    /// Sends every share in one write (distinct ids), then collects the
    /// answers in the order of `shares`.
    pub async fn submit_pipelined(&mut self, shares: &[Submit]) -> anyhow::Result<Vec<Response>> {
        let mut ids = Vec::new();
        let mut buf = Vec::new();
        for share in shares {
            let id = self.io.next_id();
            buf.extend(share.to_line(&id));
            ids.push(id);
        }
        self.send_raw(&buf).await?;
        let mut answers = Vec::new();
        for id in &ids {
            answers.push(self.wait_response(id).await?);
        }
        Ok(answers)
    }

    /// Sends `mining.configure` (which no ALEO pool speaks) and returns the answer.
    pub async fn configure(
        &mut self,
        extensions: &[&str],
        params: Value,
    ) -> anyhow::Result<Response> {
        self.request("mining.configure", json!([extensions, params]))
            .await
    }
}

/// The pool's job id in a job id the data plane gave its miner
/// (`"{upstream:x}.{pool job id}"`); an id without the prefix as it is.
pub fn pool_job_id(miner_job_id: &str) -> &str {
    miner_job_id
        .split_once('.')
        .filter(|(up, _)| !up.is_empty() && up.bytes().all(|b| b.is_ascii_hexdigit()))
        .map_or(miner_job_id, |(_, job)| job)
}
