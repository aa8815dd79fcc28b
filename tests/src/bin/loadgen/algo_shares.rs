//! `loadgen rx-shares` and `loadgen aleo-shares`: `loadgen shares` (the
//! same engine, schedule, figures and `RESULT` keys) for RandomX (xmrig) and
//! ALEO miners, plus `errors` and `verdict`: every share these miners send
//! is valid, so any rejection, unanswered share or connection error is
//! unexpected and turns `verdict` from `ok` to `UNEXPECTED` (and prints a
//! line starting with `!!!`).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_stratum::aleo::Dialect as AleoDialect;
use tokio::sync::Semaphore;

use crate::aleo::{self, AleoWork};
use crate::engine::{self, Conn, Connected, Dialect, Settings};
use crate::rx::{self, RxWork};
use crate::stats::parse_cpu;
use crate::{Target, parse_secs};

#[derive(clap::Args)]
pub struct Common {
    /// Stratum endpoint (a scripted pool or a data plane's listener).
    #[arg(long)]
    target: Target,
    #[arg(long, default_value_t = 100)]
    miners: usize,
    /// Aggregate shares/s offered; 0 = as fast as `--window` allows.
    #[arg(long, default_value_t = 2_000.0)]
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
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Shares to submit (as fast as `--window` allows) before the run, not
    /// counted: pushes the scripted pool's growing share tables past their
    /// next resize, which would otherwise stall it inside the measured period.
    #[arg(long, default_value_t = 0)]
    prefill: u64,
    /// `NAME=PID` of a process whose CPU use over the measured period is
    /// reported (repeatable); loadgen's own is always reported.
    #[arg(long = "cpu", value_parser = parse_cpu)]
    cpu: Vec<(String, u32)>,
}

#[derive(clap::Args)]
pub struct RxArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(clap::Args)]
pub struct AleoArgs {
    #[command(flatten)]
    common: Common,
    /// `aleostratum3` or `iceriver` (what the pool or data plane speaks).
    #[arg(long, default_value = "aleostratum3")]
    dialect: AleoDialect,
}

impl From<Common> for Settings {
    fn from(a: Common) -> Settings {
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
            speeds: (1.0, 0.0),
        }
    }
}

/// RandomX miners (`rx-shares`).
struct RandomX;

/// ALEO miners in one dialect (`aleo-shares`).
struct Aleo(AleoDialect);

impl Dialect for RandomX {
    type Work = RxWork;

    fn mode(&self) -> String {
        "rx-shares".into()
    }

    fn strict(&self) -> bool {
        true
    }

    fn difficulty_warning(&self, max: f64) -> Option<String> {
        (max > 1.0).then(|| {
            format!(
                "warning: a target of difficulty {max} was set; above 1 not every nonce is a valid share"
            )
        })
    }

    async fn connect(&self, s: &Settings) -> Connected<RxWork> {
        connect_rx(s.target, s.miners, s.concurrency, "loadgen").await
    }
}

impl Dialect for Aleo {
    type Work = AleoWork;

    fn mode(&self) -> String {
        format!("aleo-shares dialect={}", self.0)
    }

    fn strict(&self) -> bool {
        true
    }

    fn difficulty_warning(&self, _max: f64) -> Option<String> {
        None
    }

    async fn connect(&self, s: &Settings) -> Connected<AleoWork> {
        connect_aleo(s.target, s.miners, s.concurrency, self.0, "loadgen").await
    }
}

pub async fn run_rx(a: RxArgs) -> anyhow::Result<()> {
    engine::run(a.common.into(), RandomX).await
}

pub async fn run_aleo(a: AleoArgs) -> anyhow::Result<()> {
    engine::run(a.common.into(), Aleo(a.dialect)).await
}

/// `miners` RandomX miners named `{prefix}.w{i}`, logged in.
pub async fn connect_rx(
    target: Target,
    miners: usize,
    concurrency: usize,
    prefix: &'static str,
) -> Connected<RxWork> {
    connect_all(target, miners, concurrency, move |target, i, _| {
        let worker = format!("{prefix}.w{i}");
        async move { rx::handshake(target, &worker).await }
    })
    .await
}

/// `miners` ALEO miners in `dialect` named `{prefix}.w{i}`, authorized.
pub async fn connect_aleo(
    target: Target,
    miners: usize,
    concurrency: usize,
    dialect: AleoDialect,
    prefix: &'static str,
) -> Connected<AleoWork> {
    connect_all(target, miners, concurrency, move |target, i, salt| {
        let worker = format!("{prefix}.w{i}");
        async move { aleo::handshake(target, dialect, &worker, i, salt).await }
    })
    .await
}

/// Connects `miners` miners with `handshake(target, index, salt)`,
/// `concurrency` at a time, each within 30 s.
async fn connect_all<W, F>(
    target: Target,
    miners: usize,
    concurrency: usize,
    handshake: impl Fn(Target, usize, u16) -> F + Copy + Send + 'static,
) -> Connected<W>
where
    W: Send + 'static,
    F: Future<Output = anyhow::Result<Conn<W>>> + Send + 'static,
{
    let started = Instant::now();
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let salt: u16 = rand::random();
    let mut tasks = Vec::with_capacity(miners);
    for i in 0..miners {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        tasks.push(tokio::spawn(async move {
            let r = tokio::time::timeout(Duration::from_secs(30), handshake(target, i, salt))
                .await
                .map_err(|_| anyhow::anyhow!("{target}: handshake timed out after 30 s"))
                .and_then(|r| r);
            drop(permit);
            r
        }));
    }
    let mut out = Connected {
        conns: Vec::with_capacity(miners),
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
