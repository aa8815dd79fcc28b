//! The ALEO scripted pool's bookkeeping and answers in the configured
//! dialect: subscribe, authorize, submit (accepted unless duplicate, unknown,
//! stale or unauthorized), difficulty / target and job pushes, and protocol
//! violations. No I/O: each line turns into lines to write, decided under
//! the state lock.

use std::collections::HashSet;
use std::net::SocketAddr;

use serde_json::{Value, json};
use switchyard_stratum::aleo::{
    Aleo3Notify, ClientMethod, Dialect, IceRiverNotify, Notify, ServerMethod, ShareKey, Submit,
    Subscribe, SubscribeResult, difficulty_to_target, ok_response, reject_response,
};
use switchyard_stratum::{Request, Response, codes};
use tokio::sync::mpsc;

use super::{AleoPoolConfig, RejectBundle};
use crate::scripted_io::{ConnCmd, Fault, Reply, ScriptedState};

/// One connection the pool accepted, as the pool sees it.
#[derive(Debug, Clone)]
pub struct AleoConnection {
    /// Index in accept order, from 0.
    pub id: usize,
    pub peer: SocketAddr,
    pub open: bool,
    /// Accepted and closed at once by `Fault::RefuseConnections`.
    pub refused: bool,
    /// The last `mining.subscribe` (agent, protocol, session).
    pub subscribe: Option<Subscribe>,
    pub subscribed: bool,
    /// Session id (AleoStratum3) / subscription id (IceRiver) it was given.
    pub session_id: String,
    /// IceRiver extranonce1 it was given (4 bytes).
    pub extranonce1: Vec<u8>,
    pub authorized: Vec<String>,
    /// Ids of the jobs sent to it, in order.
    pub job_ids: Vec<String>,
    /// Jobs sent and not dropped by a clean notify.
    pub(crate) valid: HashSet<String>,
    pub(crate) tx: mpsc::UnboundedSender<ConnCmd>,
}

/// The pool's verdict on a share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AleoVerdict {
    Accepted,
    /// (job_id, counter, nonce) was submitted before (on any connection).
    Duplicate,
    /// The job was never sent to this connection.
    UnknownJob,
    /// The job was dropped by a clean notify.
    StaleJob,
    /// The nonce is not in the connection's nonce space: an IceRiver nonce
    /// that does not begin with the connection's extranonce1, an
    /// AleoStratum3 counter whose high digits are not the server nonce.
    WrongNonce,
    /// Worker (AleoStratum3) or connection (IceRiver) not authorized.
    Unauthorized,
    /// `Fault::RejectAll`.
    Rejected(String),
}

impl AleoVerdict {
    pub fn is_accepted(&self) -> bool {
        *self == AleoVerdict::Accepted
    }

    /// Stratum code and reason as this dialect's pools word them.
    pub fn code_and_reason(&self, dialect: Dialect) -> (i64, String) {
        let ice = dialect == Dialect::IceRiver;
        let pick = |a: &str, i: &str| if ice { i.to_owned() } else { a.to_owned() };
        match self {
            AleoVerdict::Accepted => (0, "OK".into()),
            AleoVerdict::Duplicate => (codes::DUPLICATE, pick("Duplicate share", "duplicate")),
            AleoVerdict::UnknownJob => {
                (codes::JOB_NOT_FOUND, pick("Job not found", "unknown-work"))
            }
            AleoVerdict::StaleJob => (codes::JOB_NOT_FOUND, pick("Stale job", "stale")),
            AleoVerdict::WrongNonce => (codes::OTHER, pick("Invalid nonce", "invalid-nonce")),
            AleoVerdict::Unauthorized => (
                codes::UNAUTHORIZED,
                pick("Unauthorized worker", "unauthorized"),
            ),
            AleoVerdict::Rejected(r) => (codes::OTHER, r.clone()),
        }
    }
}

/// One `mining.submit` and the pool's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AleoShare {
    pub conn: usize,
    /// AleoStratum3: the submit's worker; IceRiver: the connection's first
    /// authorized worker.
    pub worker: Option<String>,
    pub job_id: String,
    pub key: ShareKey,
    /// The submit as received (every param's text as the pool read it).
    pub submit: Submit,
    /// The line it came in, byte for byte (without the newline).
    pub line: String,
    pub verdict: AleoVerdict,
}

impl AleoShare {
    pub fn accepted(&self) -> bool {
        self.verdict.is_accepted()
    }
}

/// Everything the pool knows; tests read it through the handle.
#[derive(Debug)]
pub struct AleoPoolState {
    pub config: AleoPoolConfig,
    pub connections: Vec<AleoConnection>,
    pub shares: Vec<AleoShare>,
    pub accepted: usize,
    pub rejected: usize,
    /// Every request received, with its connection id.
    pub requests: Vec<(usize, Request)>,
    /// Lines that were not JSON-RPC, with their connection id.
    pub bad_lines: Vec<(usize, String)>,
    /// What an ALEO pool does not speak, with the connection id.
    pub violations: Vec<(usize, String)>,
    pub fault: Fault,
    pub listening: bool,
    pub difficulty: u64,
    /// The job sent to connections that authorize from now on.
    pub current_job: Notify,
    pub(crate) seq: u64,
    pub(crate) height: u64,
    pub(crate) seen: HashSet<ShareKey>,
}

fn random_hex(bytes: usize) -> String {
    hex::encode(
        (0..bytes)
            .map(|_| rand::random::<u8>())
            .collect::<Vec<u8>>(),
    )
}

impl AleoPoolState {
    pub(super) fn new(config: AleoPoolConfig) -> Self {
        let mut state = AleoPoolState {
            difficulty: config.difficulty,
            height: config.height,
            config,
            connections: Vec::new(),
            shares: Vec::new(),
            accepted: 0,
            rejected: 0,
            requests: Vec::new(),
            bad_lines: Vec::new(),
            violations: Vec::new(),
            fault: Fault::None,
            listening: true,
            current_job: Notify::IceRiver(IceRiverNotify {
                job_id: String::new(),
                height: 0,
                target: 1,
                block_header_root: String::new(),
                hashed_beacons_root: String::new(),
                clean: Value::Bool(true),
                extra: Vec::new(),
            }),
            seq: 0,
            seen: HashSet::new(),
        };
        state.current_job = state.build_job(true);
        state
    }

    fn dialect(&self) -> Dialect {
        self.config.dialect
    }

    pub fn open_connections(&self) -> usize {
        self.open_count()
    }

    pub fn authorized_users(&self) -> Vec<String> {
        self.authorized()
    }

    /// The next job in the configured dialect (advances seq and height).
    fn build_job(&mut self, clean: bool) -> Notify {
        self.seq += 1;
        self.height += 1;
        let job_id = format!("{}{}", self.config.job_id_prefix, self.seq);
        match self.dialect() {
            Dialect::AleoStratum3 => Notify::AleoStratum3(Aleo3Notify {
                job_id,
                epoch_hash: random_hex(32),
                address: Some(self.config.pool_address.clone()),
                clean: Value::Bool(clean),
                extra: Vec::new(),
            }),
            Dialect::IceRiver => Notify::IceRiver(IceRiverNotify {
                job_id,
                height: self.height,
                target: difficulty_to_target(self.difficulty),
                block_header_root: format!("ab1{}", random_hex(29)),
                hashed_beacons_root: format!("ab1{}", random_hex(29)),
                clean: Value::Bool(clean),
                extra: Vec::new(),
            }),
        }
    }

    /// Records `job` as sent to `conn` and returns its line.
    fn give_job(&mut self, conn: usize, job: &Notify) -> Vec<u8> {
        let c = &mut self.connections[conn];
        if job.clean_jobs() {
            c.valid.clear();
        }
        c.valid.insert(job.job_id().to_owned());
        c.job_ids.push(job.job_id().to_owned());
        job.to_notification().to_line()
    }

    /// Makes a new job and sends it to every open, authorized connection,
    /// except that `bundled_for`'s line is returned instead of queued.
    pub(crate) fn push_job(
        &mut self,
        clean: bool,
        bundled_for: Option<usize>,
    ) -> (Notify, Option<Vec<u8>>) {
        let job = self.build_job(clean);
        self.current_job = job.clone();
        let mut bundled = None;
        for conn in 0..self.connections.len() {
            let c = &self.connections[conn];
            if !c.open || c.authorized.is_empty() {
                continue;
            }
            let line = self.give_job(conn, &job);
            if bundled_for == Some(conn) {
                bundled = Some(line);
            } else {
                let _ = self.connections[conn].tx.send(ConnCmd::Line(line));
            }
        }
        (job, bundled)
    }

    /// `mining.set_target` / `mining.set_difficulty`, when configured.
    fn difficulty_line(&self) -> Option<Vec<u8>> {
        if !self.config.send_difficulty {
            return None;
        }
        let method = match self.dialect() {
            Dialect::AleoStratum3 => ServerMethod::SetTarget(self.difficulty),
            Dialect::IceRiver => ServerMethod::SetDifficulty(self.difficulty as f64),
        };
        Some(method.to_notification(self.dialect()).to_line())
    }

    pub(crate) fn set_difficulty(&mut self, difficulty: u64) {
        self.difficulty = difficulty;
        if let Some(line) = self.difficulty_line() {
            for c in self.connections.iter().filter(|c| c.open) {
                if !c.authorized.is_empty() {
                    let _ = c.tx.send(ConnCmd::Line(line.clone()));
                }
            }
        }
        if self.dialect() == Dialect::IceRiver {
            self.push_job(false, None);
        }
    }

    /// An error answer to a non-submit request in this dialect's shape.
    pub(super) fn error(&self, id: &Value, code: i64, message: &str) -> Response {
        match self.dialect() {
            Dialect::AleoStratum3 => {
                reject_response(Dialect::AleoStratum3, id.clone(), code, message)
            }
            Dialect::IceRiver => Response::error(id.clone(), code, message),
        }
    }

    fn violation(&mut self, conn: usize, what: String) {
        tracing::warn!(conn, %what, "scripted ALEO pool: protocol violation");
        self.violations.push((conn, what));
    }

    pub(super) fn handle_request(
        &mut self,
        conn: usize,
        req: Request,
        line: &[u8],
        reply: &mut Reply,
    ) {
        self.requests.push((conn, req.clone()));
        let id = req.id.clone();
        let method = match ClientMethod::from_line(&req, line, Some(self.dialect())) {
            Ok(m) => m,
            Err(e) => {
                let answer = self.error(&id, codes::OTHER, &e.to_string());
                return reply.answer(&id, answer.to_line());
            }
        };
        match method {
            ClientMethod::Subscribe(s) => self.subscribe(conn, s, &id, reply),
            ClientMethod::Authorize { user, .. } => self.authorize(conn, user, &id, reply),
            ClientMethod::Submit(s) => {
                let line = String::from_utf8_lossy(line.trim_ascii_end()).into_owned();
                self.submit(conn, s, line, &id, reply)
            }
            ClientMethod::Unknown { method, params } => {
                self.violation(conn, format!("{method} {params}"));
                if method == "mining.configure" && self.config.close_on_configure {
                    reply.close = true;
                }
                let text = format!("Unsupported method {method}");
                let answer = self.error(&id, codes::OTHER, &text);
                reply.answer(&id, answer.to_line());
            }
        }
    }

    fn subscribe(&mut self, conn: usize, s: Subscribe, id: &Value, reply: &mut Reply) {
        // As the pools do: an AleoStratum3 pool takes only a subscribe
        // naming AleoStratum/3.x; an IceRiver-style pool takes any but one
        // announcing AleoStratum/3.x is a mistake (answered all the same).
        let dialect = self.dialect();
        let announced = s.announced();
        let wrong = match dialect {
            Dialect::AleoStratum3 => announced != Some(Dialect::AleoStratum3),
            Dialect::IceRiver => announced == Some(Dialect::AleoStratum3),
        };
        if wrong {
            let sent = announced.unwrap_or(Dialect::IceRiver);
            self.violation(conn, format!("{sent} subscribe to a {dialect} pool"));
            if dialect == Dialect::AleoStratum3 {
                let answer = self.error(id, codes::OTHER, "Unsupported protocol");
                return reply.answer(id, answer.to_line());
            }
        }
        let pool_address = self.config.pool_address.clone();
        let server_nonce = self.config.server_nonce.clone();
        let e2size = self.config.extranonce2_size;
        let c = &mut self.connections[conn];
        c.subscribe = Some(s);
        c.subscribed = true;
        let result = match dialect {
            Dialect::AleoStratum3 => SubscribeResult::AleoStratum3 {
                session_id: Some(c.session_id.clone()),
                server_nonce,
                pool_address,
                extra: Vec::new(),
            },
            Dialect::IceRiver => SubscribeResult::IceRiver {
                subscriptions: json!([["mining.notify", c.session_id]]),
                extranonce1: c.extranonce1.clone(),
                extranonce2_size: e2size,
                extra: Vec::new(),
            },
        };
        reply.answer(id, result.to_response(id.clone()).to_line());
        if self.fault == Fault::CloseAfterSubscribe {
            reply.close = true;
        }
    }

    fn authorize(&mut self, conn: usize, user: String, id: &Value, reply: &mut Reply) {
        if self.fault == Fault::Unauthorized {
            let mut answer = self.error(id, codes::UNAUTHORIZED, "Unauthorized worker");
            answer.result = Value::Bool(false);
            return reply.answer(id, answer.to_line());
        }
        let first = self.connections[conn].authorized.is_empty();
        self.connections[conn].authorized.push(user);
        let answer = ok_response(self.dialect(), id.clone(), Value::Bool(true));
        reply.answer(id, answer.to_line());
        if first {
            reply.lines.extend(self.difficulty_line());
            let mut job = self.current_job.clone();
            set_clean(&mut job);
            let line = self.give_job(conn, &job);
            reply.lines.push(line);
        }
    }

    /// Whether the share's nonce is one this connection may submit.
    fn in_nonce_space(&self, conn: usize, s: &Submit) -> bool {
        match s {
            Submit::IceRiver(i) => {
                let e1 = hex::encode(&self.connections[conn].extranonce1);
                i.nonce
                    .as_str()
                    .is_some_and(|n| n.to_ascii_lowercase().starts_with(&e1))
            }
            Submit::AleoStratum3(a) => self.config.server_nonce.as_ref().is_none_or(|n| {
                counter_value(&a.counter)
                    .is_some_and(|c| format!("{c:016x}").starts_with(&n.to_ascii_lowercase()))
            }),
        }
    }

    fn submit(&mut self, conn: usize, s: Submit, line: String, id: &Value, reply: &mut Reply) {
        let c = &self.connections[conn];
        let worker = match &s {
            Submit::AleoStratum3(a) => a.worker_name(),
            Submit::IceRiver(_) => c.authorized.first().cloned(),
        };
        let key = s.share_key();
        let verdict = if let Fault::RejectAll(reason) = &self.fault {
            AleoVerdict::Rejected(reason.clone())
        } else if self.config.require_authorized
            && !worker.as_ref().is_some_and(|w| c.authorized.contains(w))
        {
            AleoVerdict::Unauthorized
        } else if !self.in_nonce_space(conn, &s) {
            AleoVerdict::WrongNonce
        } else if c.valid.contains(s.job_id()) {
            if self.seen.insert(key.clone()) {
                AleoVerdict::Accepted
            } else {
                AleoVerdict::Duplicate
            }
        } else if c.job_ids.iter().any(|j| j == s.job_id()) {
            AleoVerdict::StaleJob
        } else {
            AleoVerdict::UnknownJob
        };
        let dialect = self.dialect();
        let answer = if verdict.is_accepted() {
            self.accepted += 1;
            ok_response(dialect, id.clone(), Value::Bool(true))
        } else {
            self.rejected += 1;
            let (code, reason) = verdict.code_and_reason(dialect);
            reject_response(dialect, id.clone(), code, &reason)
        };
        self.shares.push(AleoShare {
            conn,
            worker,
            job_id: s.job_id().to_owned(),
            key,
            submit: s,
            line,
            verdict: verdict.clone(),
        });
        let bundle = self.config.bundle_job_with_reject;
        let job_line = if verdict.is_accepted() || bundle == RejectBundle::None {
            None
        } else {
            self.push_job(false, Some(conn)).1
        };
        if bundle == RejectBundle::JobBefore {
            reply.lines.extend(job_line.clone());
        }
        reply.answer(id, answer.to_line());
        if bundle == RejectBundle::JobAfter {
            reply.lines.extend(job_line);
        }
    }
}

/// An AleoStratum3 counter's value, as this pool reads it: a JSON number
/// or a decimal string.
fn counter_value(c: &switchyard_stratum::RawJson) -> Option<u64> {
    match c.value() {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

/// Marks a job clean (the first job a connection gets).
fn set_clean(job: &mut Notify) {
    match job {
        Notify::AleoStratum3(n) => n.clean = Value::Bool(true),
        Notify::IceRiver(n) => n.clean = Value::Bool(true),
    }
}
