//! The ALEO side of `loadgen aleo-shares`, in either dialect: a lightweight
//! miner's subscribe and authorize, and its shares. A proof cannot be checked
//! cheaply, so neither the data plane nor the scripted `AleoPool` checks one:
//! the pool accepts every share of an authorized worker on a job it sent,
//! except duplicates of (job_id, counter, nonce) across the whole pool. Each
//! miner therefore counts from its own block of counters: a random salt per
//! run in the top 16 bits, the miner's index in the next 24, so no two
//! miners' shares collide, nor two runs' against the same pool.

use std::fmt::Write as _;
use std::net::SocketAddr;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_stratum::aleo::{
    ClientMethod, Dialect, ServerMethod, Subscribe, SubscribeResult, submit_result,
};
use switchyard_stratum::{Message, Request};
use switchyard_tests::lines::{LineReader, show};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::engine::{Answer, Conn, Work};

/// What an ALEO miner keeps to make shares.
pub struct AleoWork {
    dialect: Dialect,
    worker: String,
    job_id: String,
    counter: u64,
    /// IceRiver: hex of the extranonce1 the subscribe result gave.
    nonce: String,
    /// The last `mining.set_target` / `set_difficulty` / notify difficulty.
    difficulty: Option<f64>,
}

impl Work for AleoWork {
    /// Appends one `mining.submit` line with request id `id` (next counter).
    fn write_submit(&mut self, buf: &mut Vec<u8>, id: u64) {
        let counter = self.counter;
        self.counter = self.counter.wrapping_add(1);
        let mut line = String::with_capacity(200);
        let _ = match self.dialect {
            Dialect::AleoStratum3 => writeln!(
                line,
                "{{\"id\":{id},\"jsonrpc\":\"2.0\",\"method\":\"mining.submit\",\"params\":[\"{}\",\"{}\",{counter}]}}",
                self.worker, self.job_id
            ),
            Dialect::IceRiver => {
                let counter = format!("{counter:016x}");
                let proof = Sha256::digest(format!("{}/{counter}/{}", self.job_id, self.nonce));
                writeln!(
                    line,
                    "{{\"id\":{id},\"method\":\"mining.submit\",\"params\":[\"{}\",\"{counter}\",\"ab1{}\",\"{}\"]}}",
                    self.job_id,
                    hex::encode(proof),
                    self.nonce
                )
            }
        };
        buf.extend_from_slice(line.as_bytes());
    }

    /// An answer to a submit, or a job / target (kept); `None` otherwise.
    fn on_line(&mut self, line: &[u8]) -> Option<Answer> {
        match Message::parse(line) {
            Ok(Message::Response(r)) => {
                let id = r.id.as_u64()?;
                Some((id, submit_result(&r).map_err(|e| e.reason)))
            }
            Ok(Message::Request(req)) => {
                self.on_request(&req);
                None
            }
            Err(_) => None,
        }
    }

    fn difficulty(&self) -> f64 {
        self.difficulty.unwrap_or(0.0)
    }
}

impl AleoWork {
    fn on_request(&mut self, req: &Request) {
        match ServerMethod::from_request(req, Some(self.dialect)) {
            Ok(ServerMethod::Notify(n)) => {
                if let Some(d) = n.difficulty() {
                    self.difficulty = Some(d as f64);
                }
                self.job_id = n.job_id().to_owned();
            }
            Ok(ServerMethod::SetTarget(t)) => self.difficulty = Some(t as f64),
            Ok(ServerMethod::SetDifficulty(d)) => self.difficulty = Some(d),
            _ => {}
        }
    }
}

/// Connects, subscribes in `dialect`, authorizes `worker` (password "x") and
/// waits for the first job. Shares count from `salt << 48 | index << 24`.
pub async fn handshake(
    addr: SocketAddr,
    dialect: Dialect,
    worker: &str,
    index: usize,
    salt: u16,
) -> anyhow::Result<Conn<AleoWork>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (r, mut writer) = stream.into_split();
    let mut reader = LineReader::new(r);
    let subscribe = ClientMethod::Subscribe(Subscribe::new(dialect, "loadgen/0.1"));
    writer
        .write_all(&subscribe.to_request(1, dialect).to_line())
        .await?;
    let mut work = AleoWork {
        dialect,
        worker: worker.to_owned(),
        job_id: String::new(),
        counter: (u64::from(salt) << 48) | ((index as u64 & 0xff_ffff) << 24),
        nonce: "00000000".into(),
        difficulty: None,
    };
    let mut authorized = false;
    while !authorized || work.job_id.is_empty() {
        let line = reader
            .next_line()
            .await?
            .ok_or_else(|| anyhow!("{addr}: closed during the handshake"))?;
        match Message::parse(&line) {
            Ok(Message::Response(r)) if r.id.as_u64() == Some(1) => {
                if let Some((code, text)) = r.error_parts() {
                    bail!("{addr}: subscribe refused: {code:?} {text}");
                }
                let result = SubscribeResult::from_result(&r.result, Some(dialect))
                    .map_err(|e| anyhow!("{addr}: subscribe answer {}: {e}", show(&line)))?;
                if let SubscribeResult::IceRiver { extranonce1, .. } = &result
                    && !extranonce1.is_empty()
                {
                    work.nonce = hex::encode(extranonce1);
                }
                let auth = ClientMethod::Authorize {
                    user: worker.to_owned(),
                    password: Some("x".into()),
                    extra: Vec::new(),
                };
                writer
                    .write_all(&auth.to_request(2, dialect).to_line())
                    .await?;
            }
            Ok(Message::Response(r)) if r.id.as_u64() == Some(2) => {
                if !(r.error.is_null() && r.result == Value::Bool(true)) {
                    bail!("{addr}: authorize refused: {}", show(&line));
                }
                authorized = true;
            }
            Ok(Message::Request(req)) => work.on_request(&req),
            _ => {}
        }
    }
    Ok(Conn {
        reader,
        writer,
        work,
    })
}
