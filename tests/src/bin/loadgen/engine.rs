//! The one engine of `loadgen shares`, `rx-shares` and `aleo-shares`: N
//! miners submit shares at an aggregate rate (open loop, pipelined: a miner
//! never waits for an answer before the next submit) or as fast as a
//! per-miner window of unanswered submits allows; counts answers and
//! rejections and times each submit from write to answer. What differs by
//! dialect is a [`Dialect`]: its handshake, how a miner writes a submit and
//! reads a line ([`Work`]), and how strictly the report judges the run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use switchyard_tests::lines::LineReader;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Barrier, watch};
use tokio::time::{Instant, sleep_until};

use crate::Target;
use crate::plan::Plan;
use crate::report::{Tally, machine_busy, report};
use crate::stats::cpu_use;

/// The run's settings, from any of the modes' flags.
pub struct Settings {
    pub target: Target,
    pub miners: usize,
    pub rate: f64,
    pub window: usize,
    pub max_inflight: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub drain: Duration,
    pub concurrency: usize,
    pub prefill: u64,
    pub cpu: Vec<(String, u32)>,
    /// Miner speeds (see [`speeds`]): `(spread, big)`.
    pub speeds: (f64, f64),
}

/// Each miner's part of the aggregate rate: log-uniform over `1..=spread`
/// (1: every miner alike), with miner 0 doing `big` of the total when
/// `big` is above 0. Deterministic (the same miners every run).
pub fn speeds(n: usize, spread: f64, big: f64) -> Vec<f64> {
    let mut w: Vec<f64> = (0..n)
        .map(|i| {
            // A fixed scramble of 0..n onto 0..1 (golden-ratio sequence).
            let u = (i as f64 * 0.618_033_988_749_895).fract();
            spread.max(1.0).powf(u)
        })
        .collect();
    if n > 1 && big > 0.0 && big < 1.0 {
        let rest: f64 = w[1..].iter().sum();
        w[0] = rest * big / (1.0 - big);
    }
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// An answer to request `id`: `Ok(())` accepted, `Err(reason)` refused.
pub type Answer = (u64, Result<(), String>);

/// What a handshaken miner keeps to make shares and read answers.
pub trait Work: Send + 'static {
    /// Appends one submit line with request id `id` (the next share).
    fn write_submit(&mut self, buf: &mut Vec<u8>, id: u64);
    /// An answer to a submit; anything else (a job, a difficulty) is kept.
    fn on_line(&mut self, line: &[u8]) -> Option<Answer>;
    /// The share difficulty the miner is asked for now.
    fn difficulty(&self) -> f64;
}

/// A handshaken miner connection.
pub struct Conn<W> {
    pub reader: LineReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
    pub work: W,
}

/// What connecting the miners gave.
pub struct Connected<W> {
    pub conns: Vec<Conn<W>>,
    pub failures: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

/// One dialect's miners, as the engine drives them.
pub trait Dialect {
    type Work: Work;
    /// The mode in the report (`shares`, `rx-shares`, ...).
    fn mode(&self) -> String;
    /// Every share these miners send is valid, so any rejection, unanswered
    /// share or connection error is unexpected: the report counts errors,
    /// says `verdict` and marks the unexpected with `!!!`.
    fn strict(&self) -> bool;
    /// A warning when the pool asked for a difficulty at which not every
    /// share sent is valid.
    fn difficulty_warning(&self, max: f64) -> Option<String>;
    /// Connects and handshakes the miners, `concurrency` at a time.
    fn connect(
        &self,
        s: &Settings,
    ) -> impl std::future::Future<Output = Connected<Self::Work>> + Send;
}

pub async fn run<D: Dialect>(a: Settings, dialect: D) -> anyhow::Result<()> {
    if a.miners == 0 || !(a.rate.is_finite() && a.rate >= 0.0) {
        bail!("need --miners >= 1 and --rate >= 0");
    }
    let got = dialect.connect(&a).await;
    println!(
        "handshake: {} miners in {:.2} s ({} failed{})",
        got.conns.len(),
        got.elapsed.as_secs_f64(),
        got.failures,
        got.first_error
            .as_ref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    );
    if got.conns.len() < a.miners {
        if dialect.strict() {
            println!(
                "!!! UNEXPECTED: only {} of {} miners connected",
                got.conns.len(),
                a.miners
            );
        }
        bail!("only {} of {} miners connected", got.conns.len(), a.miners);
    }
    let n = got.conns.len();
    let interval = (a.rate > 0.0).then(|| Duration::from_secs_f64(n as f64 / a.rate));
    let parts = speeds(n, a.speeds.0, a.speeds.1);
    let window = a.window.max(1);
    let prefill = Plan::prefill(window, a.prefill.div_ceil(n as u64));
    let started = Instant::now();
    let gate = Arc::new(Barrier::new(n + 1));
    let (go_tx, go_rx) = watch::channel(None::<Plan>);
    let mut tasks = Vec::with_capacity(n);
    for (i, conn) in got.conns.into_iter().enumerate() {
        let offset = match a.rate > 0.0 {
            true => Duration::from_secs_f64(i as f64 / a.rate),
            false => Duration::ZERO,
        };
        // This miner's own pace at a fixed rate (its part of the total).
        let own = (a.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / (a.rate * parts[i])));
        let (gate, mut go) = (gate.clone(), go_rx.clone());
        tasks.push(tokio::spawn(async move {
            let mut st = Miner { conn, next_id: 10 };
            let pre = match prefill.limit {
                0 => Tally::default(),
                _ => st.run(prefill).await,
            };
            gate.wait().await;
            let plan = match go.wait_for(Option::is_some).await {
                Ok(p) => p.map(|p| Plan {
                    offset: own.map_or(offset, |iv| offset.min(iv)),
                    interval: own.or(p.interval),
                    ..p
                }),
                Err(_) => None,
            };
            let run = match plan {
                Some(plan) => st.run(plan).await,
                None => Tally::default(),
            };
            (pre, run)
        }));
    }
    gate.wait().await;
    if a.prefill > 0 {
        println!(
            "prefill: {} shares in {:.2} s",
            prefill.limit * n as u64,
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let start = Instant::now() + Duration::from_millis(200);
    let measure_from = start + a.warmup;
    let end = measure_from + a.duration;
    let mut procs = vec![("loadgen".to_owned(), std::process::id())];
    procs.extend(a.cpu.iter().cloned());
    let cpu = tokio::spawn(cpu_use(procs, measure_from, end));
    let machine = dialect
        .strict()
        .then(|| tokio::spawn(machine_busy(measure_from, end)));
    let _ = go_tx.send(Some(Plan {
        start,
        measure_from,
        end,
        drain_until: end + a.drain,
        interval,
        offset: Duration::ZERO,
        window,
        max_inflight: a.max_inflight.max(1),
        limit: u64::MAX,
    }));
    let mut total = Tally::default();
    let mut pre = Tally::default();
    for t in tasks {
        let (p, t) = t.await?;
        pre.add(p);
        total.add(t);
    }
    if a.prefill > 0 {
        pre.print_prefill(dialect.strict());
    }
    let mut cpu = cpu.await.unwrap_or_default();
    if let Some(machine) = machine
        && let Ok(Some(busy)) = machine.await
    {
        // What the rest of the machine (other processes, the kernel's own
        // threads) used meanwhile: contention the figures suffered.
        let ours: f64 = cpu.iter().map(|(_, c)| c).sum();
        cpu.push(("others".into(), (busy - ours).max(0.0)));
    }
    report(&a, &dialect, n, &mut total, &pre, &cpu);
    Ok(())
}

/// One miner between phases.
struct Miner<W> {
    conn: Conn<W>,
    next_id: u64,
}

impl<W: Work> Miner<W> {
    /// Submits on the plan's schedule and reads answers, until the drain ends.
    async fn run(&mut self, plan: Plan) -> Tally {
        let c = &mut self.conn;
        let mut t = Tally {
            max_difficulty: c.work.difficulty(),
            ..Tally::default()
        };
        let mut pending: HashMap<u64, Instant> = HashMap::new();
        let mut next_send = plan.start + plan.offset;
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        sleep_until(plan.start).await;
        loop {
            let now = Instant::now();
            let sending = plan.sending(now, t.sent);
            if !sending && (pending.is_empty() || now >= plan.drain_until) {
                break;
            }
            let due = plan.due(now, &mut next_send, pending.len(), t.sent);
            if due > 0 {
                buf.clear();
                let first = self.next_id;
                for _ in 0..due {
                    c.work.write_submit(&mut buf, self.next_id);
                    self.next_id += 1;
                }
                let at = Instant::now();
                if let Err(e) = c.writer.write_all(&buf).await {
                    t.error = Some(format!("write: {e}"));
                    t.errors += 1;
                    break;
                }
                for id in first..self.next_id {
                    pending.insert(id, at);
                }
                t.sent += due as u64;
                if at >= plan.measure_from {
                    t.sent_measured += due as u64;
                }
            }
            let wake = match (sending, plan.interval) {
                (true, Some(_)) if pending.len() < plan.max_inflight => next_send,
                (true, _) => plan.end,
                (false, _) => plan.drain_until,
            };
            tokio::select! {
                line = c.reader.next_line() => match line {
                    Ok(Some(line)) => {
                        if let Some(answer) = c.work.on_line(&line) {
                            t.on_answer(answer, &mut pending, &plan);
                        }
                        t.max_difficulty = t.max_difficulty.max(c.work.difficulty());
                    }
                    Ok(None) => {
                        t.error = Some("connection closed by the server".into());
                        t.errors += 1;
                        break;
                    }
                    Err(e) => {
                        t.error = Some(format!("read: {e}"));
                        t.errors += 1;
                        break;
                    }
                },
                _ = sleep_until(wake) => {}
            }
        }
        t.unanswered = pending.len() as u64;
        t
    }
}
