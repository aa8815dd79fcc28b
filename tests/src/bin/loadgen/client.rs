//! A lightweight simulated miner: connect, subscribe, authorize, wait for
//! the first job; then the caller owns the halves. Plus connecting many of
//! them with bounded concurrency.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use switchyard_stratum::Message;
use switchyard_stratum::v1::{ServerMethod, SubscribeResult};
use switchyard_tests::lines::{LineReader, show};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Semaphore;

/// A share at difficulty 1 takes about 2^32 hashes; any hash has difficulty
/// at least 0xffff * 2^208 / 2^256 (about 2.33e-10), so at or below this
/// every nonce is a valid share and nothing has to be mined.
pub const EVERY_HASH_PASSES: f64 = 65535.0 / 281_474_976_710_656.0;

/// The job a miner works on: what a submit needs.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub ntime: u32,
}

/// A handshaken miner connection.
pub struct Conn {
    pub reader: LineReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
    pub worker: String,
    pub extranonce2_size: usize,
    pub difficulty: Option<f64>,
    pub job: Job,
}

/// What a server line means to a simulated miner.
pub enum Event {
    /// An answer to request `id`: `Ok(())` accepted, `Err(text)` refused.
    Answer(u64, Result<(), String>),
    Job(Job),
    Difficulty(f64),
    Other,
}

/// Classifies one line from the server.
pub fn classify(line: &[u8]) -> Event {
    match Message::parse(line) {
        Ok(Message::Response(r)) => {
            let Some(id) = r.id.as_u64() else {
                return Event::Other;
            };
            if r.is_ok() {
                Event::Answer(id, Ok(()))
            } else {
                let why = match r.error_parts() {
                    Some((Some(code), msg)) => format!("{code} {msg}"),
                    Some((None, msg)) => msg,
                    None => r
                        .reject_reason
                        .clone()
                        .unwrap_or_else(|| "result false".into()),
                };
                Event::Answer(id, Err(why))
            }
        }
        Ok(Message::Request(req)) => match ServerMethod::from_request(&req) {
            Ok(ServerMethod::Notify(n)) => Event::Job(Job {
                id: n.job_id,
                ntime: n.ntime,
            }),
            Ok(ServerMethod::SetDifficulty(d)) => Event::Difficulty(d),
            _ => Event::Other,
        },
        Err(_) => Event::Other,
    }
}

/// Connects and handshakes as worker `worker` within `timeout`.
pub async fn connect(addr: SocketAddr, worker: &str, timeout: Duration) -> anyhow::Result<Conn> {
    tokio::time::timeout(timeout, handshake(addr, worker))
        .await
        .map_err(|_| anyhow!("{addr}: handshake timed out after {timeout:?}"))?
}

async fn handshake(addr: SocketAddr, worker: &str) -> anyhow::Result<Conn> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (r, mut writer) = stream.into_split();
    let mut reader = LineReader::new(r);
    writer
        .write_all(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"loadgen/0.1\"]}\n")
        .await?;
    let mut extranonce2_size = None;
    let mut authorized = false;
    let mut difficulty = None;
    let mut job = None;
    while !(authorized && job.is_some()) {
        let line = reader
            .next_line()
            .await?
            .ok_or_else(|| anyhow!("{addr}: closed during the handshake"))?;
        match Message::parse(&line) {
            Ok(Message::Response(r)) if r.id.as_u64() == Some(1) => {
                if !r.is_ok() {
                    bail!("{addr}: subscribe refused: {}", show(&line));
                }
                let s = SubscribeResult::from_result(&r.result)
                    .map_err(|e| anyhow!("{addr}: subscribe answer: {e}"))?;
                extranonce2_size = Some(s.extranonce2_size);
                let auth = format!(
                    "{{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"{worker}\",\"x\"]}}\n"
                );
                writer.write_all(auth.as_bytes()).await?;
            }
            Ok(Message::Response(r)) if r.id.as_u64() == Some(2) => {
                if !r.is_ok() {
                    bail!("{addr}: authorize refused: {}", show(&line));
                }
                authorized = true;
            }
            _ => match classify(&line) {
                Event::Job(j) => job = Some(j),
                Event::Difficulty(d) => difficulty = Some(d),
                _ => {}
            },
        }
    }
    Ok(Conn {
        reader,
        writer,
        worker: worker.to_owned(),
        extranonce2_size: extranonce2_size.context("no subscribe answer")?,
        difficulty,
        job: job.context("no job")?,
    })
}

/// What connecting many miners gave.
pub struct Connected {
    pub conns: Vec<Conn>,
    pub failures: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

/// Connects `n` miners named `{prefix}.w{i}`, at most `concurrency`
/// handshakes at a time; stops starting new ones after `max_failures`.
pub async fn connect_many(
    addr: SocketAddr,
    n: usize,
    concurrency: usize,
    prefix: &str,
    max_failures: usize,
) -> Connected {
    let started = Instant::now();
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        if failed.load(std::sync::atomic::Ordering::Relaxed) >= max_failures {
            break;
        }
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let failed = failed.clone();
        let worker = format!("{prefix}.w{i}");
        tasks.push(tokio::spawn(async move {
            let r = connect(addr, &worker, Duration::from_secs(30)).await;
            drop(permit);
            if r.is_err() {
                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            r
        }));
        if (i + 1) % 2000 == 0 {
            eprintln!("  ... {} connections started", i + 1);
        }
    }
    let mut out = Connected {
        conns: Vec::with_capacity(n),
        failures: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        match t.await {
            Ok(Ok(c)) => out.conns.push(c),
            Ok(Err(e)) => {
                out.failures += 1;
                out.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
            Err(e) => {
                out.failures += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    out.elapsed = started.elapsed();
    out
}
