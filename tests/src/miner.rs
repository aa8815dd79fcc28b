//! `ScriptedMiner`: a Stratum V1 miner driven step by step by a test. It
//! tracks what the server tells it (jobs, difficulty, extranonce, version
//! mask) while it waits for answers, and mines real shares on the CPU. Its
//! socket, ids and queues are the shared scripted client's ([`LineClient`]),
//! as for the RandomX and ALEO miners.

pub mod mine;
mod shares;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use switchyard_stratum::v1::{Notify, ServerMethod, SubscribeResult};
use switchyard_stratum::{Message, Request, Response};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::scripted_io::client::{LineClient, Read};

/// A job as the miner received it, with the terms in effect at that moment.
#[derive(Debug, Clone)]
pub struct MinerJob {
    pub notify: Notify,
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
    /// The difficulty in effect when the notify arrived.
    pub difficulty: Option<f64>,
}

/// The agent string the miner answers `client.get_version` with.
pub const AGENT: &str = "switchyard-scripted-miner/0.1";

pub struct ScriptedMiner {
    io: LineClient,
    worker: Option<String>,
    counter: u64,
    roll_version: bool,
    /// What the server told the miner.
    pub subscription_id: Option<String>,
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
    pub difficulty: Option<f64>,
    pub version_mask: Option<u32>,
    pub jobs: HashMap<String, MinerJob>,
    pub latest_job: Option<String>,
}

impl ScriptedMiner {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        Self::connect_with(addr, None).await
    }

    /// Plain TCP, or TLS through `tls`.
    pub async fn connect_with(
        addr: SocketAddr,
        tls: Option<&TlsConnector>,
    ) -> anyhow::Result<Self> {
        Ok(ScriptedMiner {
            io: LineClient::connect_with(addr, false, tls).await?,
            worker: None,
            counter: 0,
            roll_version: true,
            subscription_id: None,
            extranonce1: Vec::new(),
            extranonce2_size: 0,
            difficulty: None,
            version_mask: None,
            jobs: HashMap::new(),
            latest_job: None,
        })
    }

    /// Connects, subscribes with `agent`, authorizes `user` (password "x")
    /// and waits for the first job: the usual start of a test.
    pub async fn ready(addr: SocketAddr, agent: &str, user: &str) -> anyhow::Result<Self> {
        Self::ready_with(addr, None, agent, user).await
    }

    /// [`ScriptedMiner::ready`], over TLS through `tls` when given.
    pub async fn ready_with(
        addr: SocketAddr,
        tls: Option<&TlsConnector>,
        agent: &str,
        user: &str,
    ) -> anyhow::Result<Self> {
        let mut miner = Self::connect_with(addr, tls).await?;
        miner.subscribe(agent).await?;
        if !miner.authorize(user, "x").await? {
            bail!("miner: {user:?} was not authorized by {addr}");
        }
        miner.wait_for_job().await?;
        Ok(miner)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.io.local_addr
    }

    /// How long each wait lasts (default `DEFAULT_TIMEOUT`).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.io.timeout = timeout;
    }

    /// Every server request received, in order.
    pub fn notifications(&self) -> &[Request] {
        &self.io.notifications
    }

    /// Lines that were not stratum, and notifications with unusable params.
    pub fn errors(&self) -> &[String] {
        &self.io.errors
    }

    /// Whether `find_share` rolls version bits once a mask is known (default on).
    pub fn set_roll_version(&mut self, roll: bool) {
        self.roll_version = roll;
    }

    /// Sets the worker name `find_share` uses (authorize sets it too).
    pub fn set_worker(&mut self, worker: &str) {
        self.worker = Some(worker.to_owned());
    }

    pub fn worker(&self) -> Option<&str> {
        self.worker.as_deref()
    }

    pub fn current_job(&self) -> Option<&MinerJob> {
        self.jobs.get(self.latest_job.as_ref()?)
    }

    // ---- raw I/O ----

    /// Writes bytes as one line (a `\n` is added when missing).
    pub async fn send_raw(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.io.send_raw(line).await
    }

    /// Sends a request with the next id and returns that id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.io.send_request(method, params).await
    }

    pub async fn send_request_with_id(
        &mut self,
        id: Value,
        method: &str,
        params: Value,
    ) -> anyhow::Result<()> {
        self.send_raw(&Request::new(id, method, params).to_line())
            .await
    }

    /// The next id this miner would send.
    pub(crate) fn next_id(&mut self) -> Value {
        self.io.next_id()
    }

    /// Sends a request and waits for the answer with its id.
    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Response> {
        let id = self.send_request(method, params).await?;
        self.wait_response(&id).await
    }

    /// Reads one line and files it: answers are queued, server requests are
    /// applied to the tracked state and queued.
    async fn pump(&mut self, deadline: Instant, what: &str) -> anyhow::Result<()> {
        match self.io.read(deadline, what).await? {
            Read::Request(req) => {
                self.apply(&req).await?;
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

    /// Updates the tracked state from a server request.
    async fn apply(&mut self, req: &Request) -> anyhow::Result<()> {
        let method = match ServerMethod::from_request(req) {
            Ok(m) => m,
            Err(e) => {
                self.io.errors.push(e.to_string());
                return Ok(());
            }
        };
        match method {
            ServerMethod::Notify(n) => {
                if n.clean_jobs {
                    self.jobs.clear();
                }
                self.latest_job = Some(n.job_id.clone());
                let job = MinerJob {
                    notify: n,
                    extranonce1: self.extranonce1.clone(),
                    extranonce2_size: self.extranonce2_size,
                    difficulty: self.difficulty,
                };
                self.jobs.insert(job.notify.job_id.clone(), job);
            }
            ServerMethod::SetDifficulty(d) => self.difficulty = Some(d),
            ServerMethod::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => {
                self.extranonce1 = extranonce1;
                self.extranonce2_size = extranonce2_size;
            }
            ServerMethod::SetVersionMask(m) => self.version_mask = Some(m),
            ServerMethod::GetVersion if !req.id.is_null() => {
                let answer = Response::ok(req.id.clone(), json!(AGENT));
                self.send_raw(&answer.to_line()).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The next raw line from the socket (skipping the queues). Server
    /// requests in it still update the tracked state.
    pub async fn recv_line_timeout(&mut self, timeout: Duration) -> anyhow::Result<Vec<u8>> {
        let line = self
            .io
            .read_line(Instant::now() + timeout, "a line")
            .await?;
        if let Ok(Message::Request(req)) = Message::parse(&line) {
            self.io.notifications.push(req.clone());
            self.apply(&req).await?;
        }
        Ok(line)
    }

    /// Waits until the peer closes the connection; lines read meanwhile are
    /// filed as usual.
    pub async fn expect_closed(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.io.read(deadline, "the connection to close").await {
                Ok(Read::Closed) => return Ok(()),
                Ok(Read::Request(req)) => {
                    self.apply(&req).await?;
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

    /// Closes the write side (the peer reads EOF).
    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        self.io.shutdown().await
    }

    // ---- waiting ----

    /// Takes the first queued answer with this id, reading until it comes.
    pub async fn wait_response(&mut self, id: &Value) -> anyhow::Result<Response> {
        let deadline = self.io.deadline();
        loop {
            if let Some(r) = self.io.take_response(id) {
                return Ok(r);
            }
            if let Err(e) = self.pump(deadline, &format!("the answer to id {id}")).await {
                return Err(e.context(self.io.unclaimed_ids()));
            }
        }
    }

    /// Takes the first queued server request with this method, reading until
    /// one comes.
    pub async fn wait_for_notification(&mut self, method: &str) -> anyhow::Result<Request> {
        let deadline = self.io.deadline();
        loop {
            if let Some(r) = self.io.take_notification(method) {
                return Ok(r);
            }
            self.pump(deadline, method).await?;
        }
    }

    /// Reads until `cond` holds for the miner's tracked state.
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

    /// The latest job, reading until there is one.
    pub async fn wait_for_job(&mut self) -> anyhow::Result<Notify> {
        self.wait_until("a job (mining.notify)", |m| m.current_job().is_some())
            .await?;
        Ok(self.current_job().expect("checked").notify.clone())
    }

    /// Reads until the latest job is not `after_job_id`.
    pub async fn wait_for_new_job(&mut self, after_job_id: &str) -> anyhow::Result<Notify> {
        self.wait_until(&format!("a job other than {after_job_id:?}"), |m| {
            m.latest_job.as_deref().is_some_and(|j| j != after_job_id)
        })
        .await?;
        Ok(self.current_job().expect("checked").notify.clone())
    }

    // ---- stratum methods ----

    fn answer_or_error(r: Response, what: &str) -> anyhow::Result<Response> {
        match r.error_parts() {
            Some((code, text)) if !r.error.is_null() => {
                bail!("{what} refused: code {code:?}, {text:?}")
            }
            _ => Ok(r),
        }
    }

    pub async fn subscribe(&mut self, agent: &str) -> anyhow::Result<SubscribeResult> {
        self.subscribe_with(json!([agent])).await
    }

    pub async fn subscribe_resume(
        &mut self,
        agent: &str,
        session: &str,
    ) -> anyhow::Result<SubscribeResult> {
        self.subscribe_with(json!([agent, session])).await
    }

    async fn subscribe_with(&mut self, params: Value) -> anyhow::Result<SubscribeResult> {
        let r = self.request("mining.subscribe", params).await?;
        let r = Self::answer_or_error(r, "mining.subscribe")?;
        let s = SubscribeResult::from_result(&r.result)?;
        self.subscription_id = s.subscription_id.clone();
        self.extranonce1 = s.extranonce1.clone();
        self.extranonce2_size = s.extranonce2_size;
        Ok(s)
    }

    /// True when the server said yes; the user becomes the worker for shares.
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

    /// `mining.configure`; a granted `version-rolling` sets the version mask.
    pub async fn configure(
        &mut self,
        extensions: &[&str],
        params: Value,
    ) -> anyhow::Result<Response> {
        let r = self
            .request("mining.configure", json!([extensions, params]))
            .await?;
        if r.result.get("version-rolling") == Some(&Value::Bool(true)) {
            let mask = r
                .result
                .get("version-rolling.mask")
                .and_then(Value::as_str)
                .and_then(|m| u32::from_str_radix(m, 16).ok());
            self.version_mask = Some(mask.context("version-rolling granted without a mask")?);
        }
        Ok(r)
    }

    pub async fn extranonce_subscribe(&mut self) -> anyhow::Result<Response> {
        self.request("mining.extranonce.subscribe", json!([])).await
    }

    /// Sends `mining.suggest_difficulty` without waiting (some servers never
    /// answer it); returns the id to pass to `wait_response` if you want one.
    pub async fn suggest_difficulty(&mut self, difficulty: Value) -> anyhow::Result<Value> {
        self.send_request("mining.suggest_difficulty", json!([difficulty]))
            .await
    }
}
