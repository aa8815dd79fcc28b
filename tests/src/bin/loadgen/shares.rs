//! `loadgen shares`: SHA-256 (Stratum V1) miners on the share engine
//! ([`crate::engine`]): N miners submit shares at an aggregate rate or as
//! fast as a window of unanswered submits allows. Each submit is a random
//! nonce on the current job, so at a pool difficulty above
//! [`EVERY_HASH_PASSES`] some are rejected and the report warns; it gives
//! no verdict.

use std::io::Write as _;
use std::time::Duration;

use crate::client::{self, EVERY_HASH_PASSES, Event, Job};
use crate::engine::{self, Answer, Conn, Connected, Dialect, Settings, Work};
use crate::stats::parse_cpu;
use crate::{Target, parse_secs};

#[derive(clap::Args)]
pub struct Args {
    /// Stratum endpoint (a pool or a data plane).
    #[arg(long)]
    target: Target,
    #[arg(long, default_value_t = 100)]
    miners: usize,
    /// Aggregate shares/s offered; 0 = as fast as `--window` allows.
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
    /// Unanswered submits per miner in max mode (`--rate 0`).
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Cap on unanswered submits per miner at a fixed rate (sending pauses).
    #[arg(long, default_value_t = 1000)]
    max_inflight: usize,
    /// Measured period (seconds), after the warm-up.
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    duration: Duration,
    /// Load before measuring starts (seconds), not counted.
    #[arg(long, default_value = "2", value_parser = parse_secs)]
    warmup: Duration,
    /// How long to wait for answers after sending stops (seconds).
    #[arg(long, default_value = "5", value_parser = parse_secs)]
    drain: Duration,
    /// Handshakes in flight at once while connecting.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Shares to submit (as fast as `--window` allows) before the run, not
    /// counted. The scripted pool keeps every share it saw in growing tables
    /// whose resizing stalls it for milliseconds; prefilling past a resize
    /// (about 460,000 shares) keeps those stalls out of the measured tail.
    #[arg(long, default_value_t = 0)]
    prefill: u64,
    /// `NAME=PID` of a process whose CPU use over the measured period is
    /// reported (repeatable); loadgen's own is always reported.
    #[arg(long = "cpu", value_parser = parse_cpu)]
    cpu: Vec<(String, u32)>,
    /// Miner speeds spread log-uniformly over 1 to this (1: all alike);
    /// the aggregate `--rate` is kept.
    #[arg(long, default_value_t = 1.0)]
    spread: f64,
    /// One miner doing this part of all the work (0: none), as one big
    /// ASIC among small ones.
    #[arg(long, default_value_t = 0.0)]
    big: f64,
}

impl From<Args> for Settings {
    fn from(a: Args) -> Settings {
        Settings {
            target: a.target,
            miners: a.miners,
            rate: a.rate,
            window: a.window,
            max_inflight: a.max_inflight,
            duration: a.duration,
            warmup: a.warmup,
            drain: a.drain,
            concurrency: a.concurrency,
            prefill: a.prefill,
            cpu: a.cpu,
            speeds: (a.spread, a.big),
        }
    }
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    engine::run(a.into(), Sha256).await
}

/// What a SHA-256 miner keeps to make shares.
pub struct ShaWork {
    worker: String,
    job: Job,
    /// The extranonce2 of every share: zeros of the subscribed size.
    extranonce2: String,
    nonce: u32,
    difficulty: Option<f64>,
}

impl Work for ShaWork {
    /// Appends one `mining.submit` line with request id `id` (next nonce).
    fn write_submit(&mut self, buf: &mut Vec<u8>, id: u64) {
        let _ = writeln!(
            buf,
            "{{\"id\":{id},\"method\":\"mining.submit\",\"params\":[\"{}\",\"{}\",\"{}\",\"{:08x}\",\"{:08x}\"]}}",
            self.worker, self.job.id, self.extranonce2, self.job.ntime, self.nonce
        );
        self.nonce = self.nonce.wrapping_add(1);
    }

    /// An answer to a submit, or a job / difficulty (kept).
    fn on_line(&mut self, line: &[u8]) -> Option<Answer> {
        match client::classify(line) {
            Event::Answer(id, verdict) => return Some((id, verdict)),
            Event::Job(j) => self.job = j,
            Event::Difficulty(d) => self.difficulty = Some(d),
            Event::Other => {}
        }
        None
    }

    fn difficulty(&self) -> f64 {
        self.difficulty.unwrap_or(0.0)
    }
}

/// Stratum V1 miners (`shares`).
struct Sha256;

impl Dialect for Sha256 {
    type Work = ShaWork;

    fn mode(&self) -> String {
        "shares".into()
    }

    fn strict(&self) -> bool {
        false
    }

    fn difficulty_warning(&self, max: f64) -> Option<String> {
        (max > EVERY_HASH_PASSES).then(|| {
            format!(
                "warning: difficulty {max} was set; above {EVERY_HASH_PASSES:.3e} random nonces are not all valid shares"
            )
        })
    }

    async fn connect(&self, s: &Settings) -> Connected<ShaWork> {
        let got = client::connect_many(s.target, s.miners, s.concurrency, "loadgen", 10).await;
        let conns = got.conns.into_iter().map(|c| Conn {
            reader: c.reader,
            writer: c.writer,
            work: ShaWork {
                worker: c.worker,
                job: c.job,
                extranonce2: "00".repeat(c.extranonce2_size),
                nonce: 0,
                difficulty: c.difficulty,
            },
        });
        Connected {
            conns: conns.collect(),
            failures: got.failures,
            first_error: got.first_error,
            elapsed: got.elapsed,
        }
    }
}
