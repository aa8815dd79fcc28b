//! The scripted pool's bookkeeping and its answers: subscribe, authorize,
//! configure and a submit check that really hashes the share. No I/O here:
//! each request turns into lines to write, decided under the state lock.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use serde_json::{Map, Value, json};
use switchyard_stratum::codes;
use switchyard_stratum::share::{hash_difficulty, rolled_version, share_hash};
use switchyard_stratum::v1::{
    ClientMethod, Configure, Notify, ServerMethod, Submit, SubscribeResult,
};
use switchyard_stratum::{Request, Response};
use tokio::sync::mpsc;

use super::job::build_job;
use super::{Fault, PoolConfig};
use crate::scripted_io::{ConnCmd, Reply, ScriptedState};

/// One connection the pool accepted, as the pool sees it.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// Index in accept order, from 0.
    pub id: usize,
    pub peer: SocketAddr,
    pub open: bool,
    /// Accepted and closed at once by `Fault::RefuseConnections`.
    pub refused: bool,
    pub subscribed: bool,
    pub agent: Option<String>,
    /// The session id the peer asked to resume in `mining.subscribe`.
    pub session_requested: Option<String>,
    /// The pool honoured that session id (same extranonce1 as before).
    pub resumed: bool,
    /// Applies to jobs sent from now on (jobs keep the one they were sent with).
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
    pub authorized: Vec<String>,
    /// Negotiated with `mining.configure` (server mask AND miner mask).
    pub version_mask: Option<u32>,
    pub extranonce_subscribed: bool,
    pub suggested_difficulty: Option<f64>,
    pub difficulty: f64,
    pub(crate) jobs: HashMap<String, SentJob>,
    pub(crate) tx: mpsc::UnboundedSender<ConnCmd>,
}

/// A job as sent to one connection, with the terms it was sent under.
#[derive(Debug, Clone)]
pub(crate) struct SentJob {
    pub notify: Notify,
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
    pub difficulty: f64,
}

/// One `mining.submit` and the pool's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareRecord {
    pub conn: usize,
    pub worker: String,
    pub job_id: String,
    pub extranonce2: Vec<u8>,
    pub ntime: u32,
    pub nonce: u32,
    pub version_bits: Option<u32>,
    /// The share's real difficulty (0 when it was rejected before hashing).
    pub difficulty: f64,
    pub accepted: bool,
    /// Stratum error code of a rejection.
    pub code: Option<i64>,
    pub reason: Option<String>,
}

/// Everything the pool knows; tests read it through the handle.
#[derive(Debug)]
pub struct PoolState {
    pub config: PoolConfig,
    pub connections: Vec<ConnectionInfo>,
    pub shares: Vec<ShareRecord>,
    pub accepted: usize,
    pub rejected: usize,
    /// Every request received, with the connection it came on.
    pub requests: Vec<(usize, Request)>,
    /// Lines that were not stratum, with the connection they came on.
    pub bad_lines: Vec<(usize, String)>,
    pub difficulty: f64,
    pub fault: Fault,
    pub listening: bool,
    /// The job sent to connections that authorize from now on.
    pub current_job: Notify,
    pub(crate) job_seq: u64,
    pub(crate) extranonce1_prefix: u16,
    pub(crate) seen: HashSet<ShareKey>,
}

/// What makes two shares the same: extranonce1, job, extranonce2, ntime,
/// nonce and block version.
pub(crate) type ShareKey = (Vec<u8>, String, Vec<u8>, u32, u32, u32);

impl PoolState {
    pub(super) fn new(config: PoolConfig) -> Self {
        PoolState {
            connections: Vec::new(),
            shares: Vec::new(),
            accepted: 0,
            rejected: 0,
            requests: Vec::new(),
            bad_lines: Vec::new(),
            difficulty: config.difficulty,
            fault: Fault::None,
            listening: true,
            current_job: build_job(1, 4 + config.extranonce2_size, true),
            job_seq: 1,
            extranonce1_prefix: rand::random(),
            seen: Default::default(),
            config,
        }
    }

    pub fn authorized_users(&self) -> Vec<String> {
        self.authorized()
    }

    pub fn open_connections(&self) -> usize {
        self.open_count()
    }

    pub(super) fn next_extranonce1(&self, id: usize) -> Vec<u8> {
        let mut e1 = self.extranonce1_prefix.to_be_bytes().to_vec();
        e1.extend_from_slice(&((id as u16).wrapping_add(1)).to_be_bytes());
        e1
    }

    /// Sends `job` to one connection and remembers the terms it was sent under.
    pub(crate) fn send_job(&mut self, conn: usize, job: &Notify) {
        let c = &mut self.connections[conn];
        if job.clean_jobs {
            c.jobs.clear();
        }
        c.jobs.insert(
            job.job_id.clone(),
            SentJob {
                notify: job.clone(),
                extranonce1: c.extranonce1.clone(),
                extranonce2_size: c.extranonce2_size,
                difficulty: c.difficulty,
            },
        );
        let line = ServerMethod::Notify(job.clone())
            .to_notification()
            .to_line();
        let _ = c.tx.send(ConnCmd::Line(line));
    }

    /// Makes a new job, sends it to every open, authorized connection and
    /// returns its id.
    pub(crate) fn push_job(&mut self, clean: bool) -> String {
        self.job_seq += 1;
        let job = build_job(self.job_seq, 4 + self.config.extranonce2_size, clean);
        self.current_job = job.clone();
        let targets: Vec<usize> = self
            .connections
            .iter()
            .filter(|c| c.open && !c.authorized.is_empty())
            .map(|c| c.id)
            .collect();
        for conn in targets {
            self.send_job(conn, &job);
        }
        job.job_id
    }

    pub(super) fn handle_request(&mut self, conn: usize, req: Request, reply: &mut Reply) {
        self.requests.push((conn, req.clone()));
        let id = req.id.clone();
        let method = match ClientMethod::from_request(&req) {
            Ok(m) => m,
            Err(e) => {
                let answer = Response::error(id.clone(), codes::OTHER, &e.to_string());
                return reply.answer(&id, answer.to_line());
            }
        };
        let answer = match method {
            ClientMethod::Subscribe { agent, session } => {
                self.subscribe(conn, agent, session, &id, reply);
                if self.fault == Fault::CloseAfterSubscribe {
                    reply.close = true;
                }
                return;
            }
            ClientMethod::Authorize { user, .. } => return self.authorize(conn, user, &id, reply),
            ClientMethod::Submit(s) => self.submit(conn, s, &id),
            ClientMethod::Configure(c) => {
                let result = self.configure(conn, &c);
                Response::ok(id.clone(), result)
            }
            ClientMethod::ExtranonceSubscribe => {
                self.connections[conn].extranonce_subscribed = true;
                Response::ok(id.clone(), Value::Bool(true))
            }
            ClientMethod::SuggestDifficulty(d) => {
                self.connections[conn].suggested_difficulty = Some(d);
                Response::ok(id.clone(), Value::Bool(true))
            }
            ClientMethod::Unknown { .. } => {
                Response::error(id.clone(), codes::OTHER, "Unknown method")
            }
        };
        reply.answer(&id, answer.to_line());
    }

    fn subscribe(
        &mut self,
        conn: usize,
        agent: Option<String>,
        session: Option<String>,
        id: &Value,
        reply: &mut Reply,
    ) {
        // A session id is the hex extranonce1; resume it when nobody holds it.
        let resumable = session.as_deref().and_then(|s| {
            let e1 = hex::decode(s).ok()?;
            let known = self.connections.iter().any(|c| c.extranonce1 == e1);
            let held = self
                .connections
                .iter()
                .any(|c| c.open && c.id != conn && c.extranonce1 == e1);
            (known && !held).then_some(e1)
        });
        let c = &mut self.connections[conn];
        c.subscribed = true;
        c.agent = agent;
        c.session_requested = session;
        if let Some(e1) = resumable {
            c.extranonce1 = e1;
            c.resumed = true;
        }
        let result = SubscribeResult {
            subscription_id: Some(hex::encode(&c.extranonce1)),
            extranonce1: c.extranonce1.clone(),
            extranonce2_size: c.extranonce2_size,
        };
        reply.answer(id, Response::ok(id.clone(), result.to_result()).to_line());
    }

    fn authorize(&mut self, conn: usize, user: String, id: &Value, reply: &mut Reply) {
        if self.fault == Fault::Unauthorized {
            let mut answer =
                Response::error(id.clone(), codes::UNAUTHORIZED, "Unauthorized worker");
            answer.result = Value::Bool(false);
            return reply.answer(id, answer.to_line());
        }
        let first = self.connections[conn].authorized.is_empty();
        self.connections[conn].authorized.push(user);
        let answer = Response::ok(id.clone(), Value::Bool(true)).to_line();
        if !first {
            return reply.answer(id, answer);
        }
        let answer_last = self.config.send_difficulty_before_authorize_answer;
        if !answer_last {
            reply.answer(id, answer.clone());
        }
        let c = &mut self.connections[conn];
        c.difficulty = self.difficulty;
        let mut job = self.current_job.clone();
        job.clean_jobs = true;
        c.jobs.clear();
        c.jobs.insert(
            job.job_id.clone(),
            SentJob {
                notify: job.clone(),
                extranonce1: c.extranonce1.clone(),
                extranonce2_size: c.extranonce2_size,
                difficulty: c.difficulty,
            },
        );
        reply.lines.push(
            ServerMethod::SetDifficulty(c.difficulty)
                .to_notification()
                .to_line(),
        );
        reply
            .lines
            .push(ServerMethod::Notify(job).to_notification().to_line());
        if answer_last {
            reply.answer(id, answer);
        }
    }

    fn configure(&mut self, conn: usize, c: &Configure) -> Value {
        let mut result = Map::new();
        for ext in &c.extensions {
            match ext.as_str() {
                "version-rolling" => match (self.config.version_mask, c.version_rolling_mask()) {
                    (Some(server), Some(miner)) => {
                        let mask = server & miner;
                        self.connections[conn].version_mask = Some(mask);
                        result.insert(ext.clone(), json!(true));
                        result.insert("version-rolling.mask".into(), json!(format!("{mask:08x}")));
                    }
                    _ => {
                        result.insert(ext.clone(), json!(false));
                    }
                },
                "subscribe-extranonce" => {
                    self.connections[conn].extranonce_subscribed = true;
                    result.insert(ext.clone(), json!(true));
                }
                _ => {
                    result.insert(ext.clone(), json!(false));
                }
            }
        }
        Value::Object(result)
    }

    fn submit(&mut self, conn: usize, s: Submit, id: &Value) -> Response {
        let verdict = self.check_share(conn, &s);
        let (accepted, code, reason, difficulty) = match &verdict {
            Ok(d) => (true, None, None, *d),
            Err((code, reason, d)) => (false, Some(*code), Some(reason.clone()), *d),
        };
        if accepted {
            self.accepted += 1;
        } else {
            self.rejected += 1;
        }
        self.shares.push(ShareRecord {
            conn,
            worker: s.worker,
            job_id: s.job_id,
            extranonce2: s.extranonce2,
            ntime: s.ntime,
            nonce: s.nonce,
            version_bits: s.version_bits,
            difficulty,
            accepted,
            code,
            reason: reason.clone(),
        });
        match (code, reason) {
            (Some(code), Some(reason)) => Response::error(id.clone(), code, &reason),
            _ => Response::ok(id.clone(), Value::Bool(true)),
        }
    }

    /// The share's difficulty, or (code, reason, difficulty) of a rejection.
    fn check_share(&mut self, conn: usize, s: &Submit) -> Result<f64, (i64, String, f64)> {
        let reject = |code: i64, reason: &str| Err((code, reason.to_owned(), 0.0));
        if let Fault::RejectAll(reason) = &self.fault {
            return reject(codes::OTHER, reason);
        }
        let c = &self.connections[conn];
        if !c.subscribed {
            return reject(codes::NOT_SUBSCRIBED, "Not subscribed");
        }
        if self.config.require_authorized_worker && !c.authorized.contains(&s.worker) {
            return reject(codes::UNAUTHORIZED, "Unauthorized worker");
        }
        let Some(job) = c.jobs.get(&s.job_id) else {
            return reject(codes::JOB_NOT_FOUND, "Job not found");
        };
        if s.extranonce2.len() != job.extranonce2_size {
            return reject(codes::OTHER, "Invalid extranonce2 size");
        }
        let mask = c.version_mask.unwrap_or(0);
        if s.version_bits.is_some_and(|bits| bits & !mask != 0) {
            return reject(codes::OTHER, "Invalid version bits");
        }
        let version = rolled_version(job.notify.version, s.version_bits, mask);
        let hash = share_hash(
            &job.notify,
            &job.extranonce1,
            &s.extranonce2,
            s.ntime,
            s.nonce,
            version,
        );
        let difficulty = hash_difficulty(&hash);
        if difficulty < job.difficulty.min(c.difficulty) {
            return Err((
                codes::LOW_DIFFICULTY,
                "Low difficulty share".into(),
                difficulty,
            ));
        }
        let key = (
            job.extranonce1.clone(),
            s.job_id.clone(),
            s.extranonce2.clone(),
            s.ntime,
            s.nonce,
            version,
        );
        if !self.seen.insert(key) {
            return Err((codes::DUPLICATE, "Duplicate share".into(), difficulty));
        }
        Ok(difficulty)
    }
}
