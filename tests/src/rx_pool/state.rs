//! The RandomX scripted pool's bookkeeping and answers: login (recorded per
//! connection), submit (checked against the stand-in hash), keepalived,
//! getjob, and job pushes. No I/O: each line turns into lines to write,
//! decided under the state lock.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use serde_json::Value;
use switchyard_stratum::randomx::{
    ClientMethod, GENERIC_ERROR_CODE, Job, Login, LoginResult, Submit, error_response,
    keepalived_response, normalize_algo, ok_response,
};
use switchyard_stratum::{Request, Response};
use tokio::sync::mpsc;

use super::job::{JobChange, build_job, personalise};
use super::{RxPoolConfig, share_result};
use crate::scripted_io::{ConnCmd, Fault, Reply, ScriptedState};

/// One connection the pool accepted, as the pool sees it.
#[derive(Debug, Clone)]
pub struct RxConnection {
    /// Index in accept order, from 0.
    pub id: usize,
    pub peer: SocketAddr,
    pub open: bool,
    /// Accepted and closed at once by `Fault::RefuseConnections`.
    pub refused: bool,
    /// The session id its login result carries (`rx-session-<id>`).
    pub session_id: String,
    /// Every `login` received (login, pass, agent, algo, rigid), in order,
    /// refused ones included.
    pub logins: Vec<Login>,
    /// A login was answered with status OK.
    pub logged_in: bool,
    pub keepalives: usize,
    pub getjobs: usize,
    /// Ids of the jobs sent to it, in order.
    pub job_ids: Vec<String>,
    pub(crate) jobs: HashMap<String, Job>,
    pub(crate) tx: mpsc::UnboundedSender<ConnCmd>,
}

impl RxConnection {
    /// The latest login received.
    pub fn login(&self) -> Option<&Login> {
        self.logins.last()
    }

    /// The job `job_id` as sent to this connection (personalised blob).
    pub fn job(&self, job_id: &str) -> Option<&Job> {
        self.jobs.get(job_id)
    }
}

/// The pool's verdict on a share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RxVerdict {
    Accepted,
    /// The hash does not meet the job's target.
    LowDifficulty,
    /// (job_id, nonce) was accepted before on this connection.
    Duplicate,
    /// The job was never sent to this connection.
    InvalidJob,
    /// The job's height is below the current one.
    StaleJob,
    /// `result` is not the stand-in hash of the blob with that nonce.
    InvalidResult,
    /// Not logged in, or the submit's `id` is not the session id.
    Unauthenticated,
    /// `Fault::RejectAll`.
    Rejected(String),
}

impl RxVerdict {
    pub fn is_accepted(&self) -> bool {
        *self == RxVerdict::Accepted
    }

    /// The error message the pool answers with ("OK" when accepted).
    pub fn message(&self) -> &str {
        match self {
            RxVerdict::Accepted => "OK",
            RxVerdict::LowDifficulty => "Low difficulty share",
            RxVerdict::Duplicate => "Duplicate share",
            RxVerdict::InvalidJob => "Invalid job id",
            RxVerdict::StaleJob => "Block expired",
            RxVerdict::InvalidResult => "Invalid result",
            RxVerdict::Unauthenticated => "Unauthenticated",
            RxVerdict::Rejected(reason) => reason,
        }
    }
}

/// One `submit` and the pool's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxShare {
    pub conn: usize,
    /// The connection's `login` and `rigid` at the time.
    pub login: Option<String>,
    pub rigid: Option<String>,
    /// The `id` the submit named.
    pub session_id: String,
    pub job_id: String,
    pub nonce: [u8; 4],
    pub result: [u8; 32],
    pub algo: Option<String>,
    /// Difficulty of the claimed result (2^64 / its last 8 bytes LE).
    pub difficulty: u64,
    pub verdict: RxVerdict,
}

impl RxShare {
    pub fn accepted(&self) -> bool {
        self.verdict.is_accepted()
    }

    /// The nonce's top byte (blob byte 42): the NiceHash slot.
    pub fn slot(&self) -> u8 {
        self.nonce[3]
    }
}

/// Everything the pool knows; tests read it through the handle.
#[derive(Debug)]
pub struct RxPoolState {
    pub config: RxPoolConfig,
    pub connections: Vec<RxConnection>,
    pub shares: Vec<RxShare>,
    pub accepted: usize,
    pub rejected: usize,
    /// Every request received, with its connection id.
    pub requests: Vec<(usize, Request)>,
    /// Lines that were not JSON-RPC, with their connection id.
    pub bad_lines: Vec<(usize, String)>,
    pub fault: Fault,
    pub listening: bool,
    pub difficulty: u64,
    /// The template of the job sent from now on.
    pub current_job: Job,
    pub seed_hash: [u8; 32],
    pub(crate) seq: u64,
    pub(crate) seen: HashSet<(usize, String, [u8; 4])>,
}

impl RxPoolState {
    pub(super) fn new(config: RxPoolConfig) -> Self {
        let seed_hash = rand::random();
        let current_job = build_job(&config, 1, config.height, seed_hash, config.difficulty);
        RxPoolState {
            difficulty: config.difficulty,
            config,
            connections: Vec::new(),
            shares: Vec::new(),
            accepted: 0,
            rejected: 0,
            requests: Vec::new(),
            bad_lines: Vec::new(),
            fault: Fault::None,
            listening: true,
            current_job,
            seed_hash,
            seq: 1,
            seen: HashSet::new(),
        }
    }

    pub fn open_connections(&self) -> usize {
        self.open_count()
    }

    /// The `login` of every connection that logged in, in connection order.
    pub fn logins(&self) -> Vec<String> {
        self.authorized()
    }

    fn height(&self) -> u64 {
        self.current_job.height.unwrap_or(0)
    }

    /// Makes the next job and sends it to every open, logged-in connection.
    pub(crate) fn push_job(&mut self, change: JobChange) -> Job {
        self.seq += 1;
        let height = match change {
            JobChange::Refresh => self.height(),
            JobChange::NewHeight | JobChange::NewSeed => self.height() + 1,
        };
        if change == JobChange::NewSeed {
            self.seed_hash = rand::random();
        }
        let job = build_job(
            &self.config,
            self.seq,
            height,
            self.seed_hash,
            self.difficulty,
        );
        self.current_job = job.clone();
        for conn in 0..self.connections.len() {
            let c = &self.connections[conn];
            if c.open && c.logged_in {
                let line = self.give_job(conn).to_notification().to_line();
                let _ = self.connections[conn].tx.send(ConnCmd::Line(line));
            }
        }
        job
    }

    /// The current job personalised for `conn`, remembered as sent.
    fn give_job(&mut self, conn: usize) -> Job {
        let job = personalise(&self.current_job, conn);
        let c = &mut self.connections[conn];
        if c.jobs.insert(job.job_id.clone(), job.clone()).is_none() {
            c.job_ids.push(job.job_id.clone());
        }
        job
    }

    pub(super) fn handle_request(&mut self, conn: usize, req: Request, reply: &mut Reply) {
        self.requests.push((conn, req.clone()));
        let id = req.id.clone();
        let method = match ClientMethod::from_request(&req) {
            Ok(m) => m,
            Err(e) => {
                let answer = error_response(id.clone(), GENERIC_ERROR_CODE, &e.to_string());
                return reply.answer(&id, answer.to_line());
            }
        };
        let answer = match method {
            ClientMethod::Login(login) => self.login(conn, login, &id, reply),
            ClientMethod::Submit(s) => self.submit(conn, s, &id),
            ClientMethod::Keepalived { .. } => {
                self.connections[conn].keepalives += 1;
                keepalived_response(id.clone())
            }
            ClientMethod::GetJob { .. } => {
                self.connections[conn].getjobs += 1;
                if self.connections[conn].logged_in {
                    let job = self.give_job(conn);
                    let mut r = Response::ok(id.clone(), job.to_value());
                    r.jsonrpc = true;
                    r
                } else {
                    error_response(id.clone(), GENERIC_ERROR_CODE, "Unauthenticated")
                }
            }
            ClientMethod::Unknown { method, .. } => error_response(
                id.clone(),
                GENERIC_ERROR_CODE,
                &format!("Unsupported method {method}"),
            ),
        };
        reply.answer(&id, answer.to_line());
    }

    fn login(&mut self, conn: usize, login: Login, id: &Value, reply: &mut Reply) -> Response {
        let refuse = |msg: &str| error_response(id.clone(), GENERIC_ERROR_CODE, msg);
        self.connections[conn].logins.push(login.clone());
        if self.fault == Fault::Unauthorized {
            return refuse("Unauthorized");
        }
        let want = normalize_algo(&self.config.algo);
        if self.config.require_algo
            && !login.algo.is_empty()
            && !login.algo.iter().any(|a| normalize_algo(a) == want)
        {
            return refuse("Unsupported algorithm");
        }
        self.connections[conn].logged_in = true;
        let job = self.give_job(conn);
        if self.fault == Fault::CloseAfterSubscribe {
            reply.close = true;
        }
        let session = self.connections[conn].session_id.clone();
        LoginResult::new(session, job, self.config.extensions.clone()).to_response(id.clone())
    }

    fn submit(&mut self, conn: usize, s: Submit, id: &Value) -> Response {
        let verdict = self.check(conn, &s);
        if verdict.is_accepted() {
            self.accepted += 1;
        } else {
            self.rejected += 1;
        }
        let c = &self.connections[conn];
        let answer = match &verdict {
            RxVerdict::Accepted => ok_response(id.clone()),
            v => error_response(id.clone(), GENERIC_ERROR_CODE, v.message()),
        };
        self.shares.push(RxShare {
            conn,
            login: c.login().map(|l| l.login.clone()),
            rigid: c.login().and_then(|l| l.rigid.clone()),
            difficulty: s.difficulty(),
            session_id: s.id,
            job_id: s.job_id,
            nonce: s.nonce,
            result: s.result,
            algo: s.algo,
            verdict,
        });
        answer
    }

    fn check(&mut self, conn: usize, s: &Submit) -> RxVerdict {
        if let Fault::RejectAll(reason) = &self.fault {
            return RxVerdict::Rejected(reason.clone());
        }
        let c = &self.connections[conn];
        if !c.logged_in || (self.config.check_session_id && s.id != c.session_id) {
            return RxVerdict::Unauthenticated;
        }
        let Some(job) = c.jobs.get(&s.job_id) else {
            return RxVerdict::InvalidJob;
        };
        if job.height.unwrap_or(0) < self.height() {
            return RxVerdict::StaleJob;
        }
        let hash = share_result(&job.blob, s.nonce);
        if hash != s.result {
            return RxVerdict::InvalidResult;
        }
        if !job.target.is_met_by(&hash) {
            return RxVerdict::LowDifficulty;
        }
        if !self.seen.insert((conn, s.job_id.clone(), s.nonce)) {
            return RxVerdict::Duplicate;
        }
        RxVerdict::Accepted
    }
}
