//! `RxMiner`: a scripted xmrig-like miner driven step by step by a test. It
//! logs in, tracks the jobs the pool (or proxy) sends while it waits for
//! answers, and finds shares with the harness's stand-in hash
//! ([`crate::rx_pool::test_hash`]), keeping blob byte 42 fixed when the login
//! result lists the `nicehash` extension.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::{Map, Value};
use switchyard_stratum::randomx::{
    Job, Login, LoginResult, NICEHASH_OFFSET, RpcError, Submit, reply_status,
};
use switchyard_stratum::{Request, Response};
use tokio::time::Instant;

use crate::rx_pool::share_result;
use crate::scripted_io::client::{LineClient, Read};

/// The agent `rx_login` puts in a login.
pub const RX_AGENT: &str = "XMRig/6.21.0";

/// A typical xmrig login: pass "x", agent [`RX_AGENT`], algo `["rx/0"]`, no
/// rig id. Change fields (`algo: vec![]` omits the list) before `login`.
pub fn rx_login(wallet: &str) -> Login {
    Login {
        login: wallet.to_owned(),
        pass: Some("x".into()),
        agent: Some(RX_AGENT.into()),
        algo: vec!["rx/0".into()],
        rigid: None,
        extra: Map::new(),
    }
}

/// Searches nonces from `start` on `job` until the stand-in hash meets its
/// target; `None` after `max_hashes`. With `nicehash` the nonce's top byte is
/// the blob's byte 42 and only the lower 3 bytes vary (wrapping). Returns the
/// share and the counter to resume from.
pub fn mine(
    job: &Job,
    session_id: &str,
    nicehash: bool,
    start: u32,
    max_hashes: u64,
) -> Option<(Submit, u32)> {
    let top = u32::from(job.blob[NICEHASH_OFFSET]) << 24;
    let mut counter = start;
    for _ in 0..max_hashes {
        let n = if nicehash {
            top | (counter & 0x00ff_ffff)
        } else {
            counter
        };
        counter = counter.wrapping_add(1);
        let nonce = n.to_le_bytes();
        let result = share_result(&job.blob, nonce);
        if job.target.is_met_by(&result) {
            let submit = Submit {
                id: session_id.to_owned(),
                job_id: job.job_id.clone(),
                nonce,
                result,
                algo: job.algo.clone(),
                extra: Map::new(),
            };
            return Some((submit, counter));
        }
    }
    None
}

pub struct RxMiner {
    io: LineClient,
    nonce_counter: u32,
    /// From the login result.
    pub session_id: Option<String>,
    pub extensions: Vec<String>,
    pub login_result: Option<LoginResult>,
    /// Every job received (login result, `job` notifications, `getjob`).
    pub jobs: HashMap<String, Job>,
    pub latest_job: Option<String>,
}

impl RxMiner {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        Self::connect_with(addr, None).await
    }

    /// Plain TCP, or TLS through `tls`.
    pub async fn connect_with(
        addr: SocketAddr,
        tls: Option<&tokio_rustls::TlsConnector>,
    ) -> anyhow::Result<Self> {
        Ok(RxMiner {
            io: LineClient::connect_with(addr, true, tls).await?,
            nonce_counter: rand::random(),
            session_id: None,
            extensions: Vec::new(),
            login_result: None,
            jobs: HashMap::new(),
            latest_job: None,
        })
    }

    /// Connects and logs in with `rx_login(wallet)`: the usual start.
    pub async fn ready(addr: SocketAddr, wallet: &str) -> anyhow::Result<Self> {
        let mut miner = Self::connect(addr).await?;
        miner.login(&rx_login(wallet)).await?;
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

    /// Where the next nonce search starts (random at connect).
    pub fn set_nonce_start(&mut self, start: u32) {
        self.nonce_counter = start;
    }

    /// Whether the login result listed the `nicehash` extension.
    pub fn nicehash(&self) -> bool {
        self.extensions
            .iter()
            .any(|e| e.eq_ignore_ascii_case("nicehash"))
    }

    pub fn current_job(&self) -> Option<&Job> {
        self.jobs.get(self.latest_job.as_ref()?)
    }

    /// Every server request received, in order.
    pub fn notifications(&self) -> &[Request] {
        &self.io.notifications
    }

    /// Lines that were not stratum and jobs that could not be read.
    pub fn errors(&self) -> &[String] {
        &self.io.errors
    }

    // ---- raw I/O ----

    /// Writes bytes as one line (a `\n` is added when missing).
    pub async fn send_raw(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.io.send_raw(line).await
    }

    /// Sends a request (`"jsonrpc":"2.0"`) with the next id; returns the id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.io.send_request(method, params).await
    }

    /// Sends a request and waits for its answer.
    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Response> {
        let id = self.send_request(method, params).await?;
        self.wait_response(&id).await
    }

    fn apply(&mut self, req: &Request) {
        if req.method != "job" {
            return;
        }
        match Job::from_value(&req.params) {
            Ok(job) => self.add_job(job),
            Err(e) => self.io.errors.push(format!("bad job: {e}")),
        }
    }

    fn add_job(&mut self, job: Job) {
        self.latest_job = Some(job.job_id.clone());
        self.jobs.insert(job.job_id.clone(), job);
    }

    /// Reads one line and files it; a close is an error naming `what`.
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

    /// The next raw line from the socket (skipping the queues); a `job` in
    /// it still updates the tracked jobs.
    pub async fn recv_line_timeout(&mut self, timeout: Duration) -> anyhow::Result<Vec<u8>> {
        let line = self
            .io
            .read_line(Instant::now() + timeout, "a line")
            .await?;
        if let Ok(switchyard_stratum::Message::Request(req)) =
            switchyard_stratum::Message::parse(&line)
        {
            self.apply(&req);
        }
        Ok(line)
    }

    /// Waits until the peer closes the connection.
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
            let what = format!("the answer to id {id}");
            if let Err(e) = self.pump(deadline, &what).await {
                return Err(e.context(self.io.unclaimed_ids()));
            }
        }
    }

    /// Takes the first queued server request with this method (`"job"`),
    /// reading until one comes.
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
    pub async fn wait_for_job(&mut self) -> anyhow::Result<Job> {
        self.wait_until("a job", |m| m.current_job().is_some())
            .await?;
        Ok(self.current_job().expect("checked").clone())
    }

    /// Reads until the latest job is not `after_job_id`.
    pub async fn wait_for_new_job(&mut self, after_job_id: &str) -> anyhow::Result<Job> {
        self.wait_until(&format!("a job other than {after_job_id:?}"), |m| {
            m.latest_job.as_deref().is_some_and(|j| j != after_job_id)
        })
        .await?;
        Ok(self.current_job().expect("checked").clone())
    }

    // ---- xmrig methods ----

    /// Sends `login` and returns the raw answer; a successful one is applied
    /// (session id, extensions, job).
    pub async fn login_response(&mut self, login: &Login) -> anyhow::Result<Response> {
        let id = self.io.next_id();
        self.send_raw(&login.to_request(id.clone()).to_line())
            .await?;
        let r = self.wait_response(&id).await?;
        if r.error.is_null() {
            let result = LoginResult::from_result(&r.result)?;
            self.session_id = Some(result.id.clone());
            self.extensions = result.extensions.clone();
            if let Some(job) = result.job.clone() {
                self.add_job(job);
            }
            self.login_result = Some(result);
        }
        Ok(r)
    }

    /// Logs in; a refusal is an error carrying the pool's message.
    pub async fn login(&mut self, login: &Login) -> anyhow::Result<LoginResult> {
        let r = self.login_response(login).await?;
        if let Some(e) = RpcError::from_response(&r) {
            bail!("login refused: {e}");
        }
        self.login_result
            .clone()
            .ok_or_else(|| anyhow!("login answer without a result"))
    }

    fn session_params(&self) -> Value {
        let mut map = Map::new();
        if let Some(s) = &self.session_id {
            map.insert("id".into(), s.clone().into());
        }
        Value::Object(map)
    }

    /// `keepalived`; returns the status (`"KEEPALIVED"`) or the error.
    pub async fn keepalived(&mut self) -> anyhow::Result<Result<Option<String>, RpcError>> {
        let params = self.session_params();
        let r = self.request("keepalived", params).await?;
        Ok(reply_status(&r))
    }

    /// `getjob`; a job in the answer becomes the latest job.
    pub async fn getjob(&mut self) -> anyhow::Result<Response> {
        let params = self.session_params();
        let r = self.request("getjob", params).await?;
        if r.error.is_null() {
            let job = Job::from_value(&r.result).context("getjob result")?;
            self.add_job(job);
        }
        Ok(r)
    }

    /// Finds a share on the latest job (waiting for one if needed).
    pub async fn find_share(&mut self) -> anyhow::Result<Submit> {
        let job_id = self.wait_for_job().await?.job_id;
        self.find_share_for(&job_id).await
    }

    /// Finds a share on job `job_id` as this miner holds it.
    pub async fn find_share_for(&mut self, job_id: &str) -> anyhow::Result<Submit> {
        let job = self
            .jobs
            .get(job_id)
            .with_context(|| format!("miner: no job {job_id:?}"))?
            .clone();
        let session = self.session_id.clone().context("miner: login first")?;
        let nicehash = self.nicehash();
        let difficulty = job.difficulty();
        let mut budget = difficulty.saturating_mul(50).max(1_000_000);
        if nicehash {
            budget = budget.min(1 << 24);
        }
        let start = self.nonce_counter;
        let (share, next) =
            tokio::task::spawn_blocking(move || mine(&job, &session, nicehash, start, budget))
                .await?
                .with_context(|| {
                    format!("miner: no share at difficulty {difficulty} in {budget} hashes")
                })?;
        self.nonce_counter = next;
        Ok(share)
    }

    /// Submits and waits for the answer.
    pub async fn submit(&mut self, share: &Submit) -> anyhow::Result<Response> {
        let id = self.io.next_id();
        self.send_raw(&share.to_request(id.clone()).to_line())
            .await?;
        self.wait_response(&id).await
    }

    /// Sends every share in one write (distinct ids), then collects the
    /// answers in the order of `shares`.
    pub async fn submit_pipelined(&mut self, shares: &[Submit]) -> anyhow::Result<Vec<Response>> {
        let mut ids = Vec::new();
        let mut buf = Vec::new();
        for share in shares {
            let id = self.io.next_id();
            buf.extend(share.to_request(id.clone()).to_line());
            ids.push(id);
        }
        self.send_raw(&buf).await?;
        let mut answers = Vec::new();
        for id in &ids {
            answers.push(self.wait_response(id).await?);
        }
        Ok(answers)
    }
}
