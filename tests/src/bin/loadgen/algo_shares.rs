//! `loadgen rx-shares` and `loadgen aleo-shares`: `loadgen shares` for the
//! RandomX (xmrig) and ALEO dialects. N miners submit shares at an aggregate
//! rate (open loop, pipelined) or as fast as a per-miner window of unanswered
//! submits allows; counts answers and rejections and times each submit from
//! write to answer. The schedule, the figures and the `RESULT` line are those
//! of `loadgen shares` (same keys), plus `errors` and `verdict`: every share
//! these miners send is valid, so any rejection, unanswered share or
//! connection error is unexpected and turns `verdict` from `ok` to
//! `UNEXPECTED` (and prints a line starting with `!!!`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use switchyard_stratum::aleo::Dialect;
use switchyard_tests::lines::LineReader;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Barrier, Semaphore, watch};
use tokio::time::{Instant, sleep_until};

use crate::aleo::{self, AleoWork};
use crate::plan::Plan;
use crate::rx::{self, RxWork};
use crate::stats::{cpu_use, parse_cpu, summarize};
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
    dialect: Dialect,
}

#[derive(Clone, Copy)]
enum Algo {
    Rx,
    Aleo(Dialect),
}

impl Algo {
    fn mode(self) -> String {
        match self {
            Algo::Rx => "rx-shares".into(),
            Algo::Aleo(d) => format!("aleo-shares dialect={d}"),
        }
    }
}

/// A handshaken miner connection of either algorithm.
pub struct Conn {
    pub reader: LineReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
    pub work: Work,
}

/// What a miner of each algorithm keeps to make shares and read answers.
pub enum Work {
    Rx(RxWork),
    Aleo(AleoWork),
}

/// An answer to request `id`: `Ok(())` accepted, `Err(reason)` refused.
pub type Answer = (u64, Result<(), String>);

impl Work {
    fn write_submit(&mut self, buf: &mut Vec<u8>, id: u64) {
        match self {
            Work::Rx(w) => w.write_submit(buf, id),
            Work::Aleo(w) => w.write_submit(buf, id),
        }
    }

    fn on_line(&mut self, line: &[u8]) -> Option<Answer> {
        match self {
            Work::Rx(w) => w.on_line(line),
            Work::Aleo(w) => w.on_line(line),
        }
    }

    /// The highest share difficulty the miner was asked for.
    fn difficulty(&self) -> f64 {
        match self {
            Work::Rx(w) => w.max_difficulty as f64,
            Work::Aleo(w) => w.difficulty.unwrap_or(0.0),
        }
    }
}

pub async fn run_rx(a: RxArgs) -> anyhow::Result<()> {
    run(a.common, Algo::Rx).await
}

pub async fn run_aleo(a: AleoArgs) -> anyhow::Result<()> {
    run(a.common, Algo::Aleo(a.dialect)).await
}

async fn connect(target: Target, algo: Algo, i: usize, salt: u16) -> anyhow::Result<Conn> {
    let worker = format!("loadgen.w{i}");
    let fut = async {
        match algo {
            Algo::Rx => rx::handshake(target, &worker).await,
            Algo::Aleo(d) => aleo::handshake(target, d, &worker, i, salt).await,
        }
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .map_err(|_| anyhow::anyhow!("{target}: handshake timed out after 30 s"))?
}

/// Connects `a.miners` miners, `a.concurrency` handshakes at a time.
async fn connect_all(a: &Common, algo: Algo) -> (Vec<Conn>, usize, Option<String>) {
    let sem = Arc::new(Semaphore::new(a.concurrency.max(1)));
    let salt: u16 = rand::random();
    let mut tasks = Vec::with_capacity(a.miners);
    for i in 0..a.miners {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let target = a.target;
        tasks.push(tokio::spawn(async move {
            let r = connect(target, algo, i, salt).await;
            drop(permit);
            r
        }));
    }
    let (mut conns, mut failures, mut first) = (Vec::with_capacity(a.miners), 0, None);
    for t in tasks {
        match t.await {
            Ok(Ok(c)) => conns.push(c),
            Ok(Err(e)) => {
                failures += 1;
                first.get_or_insert_with(|| format!("{e:#}"));
            }
            Err(e) => {
                failures += 1;
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
    (conns, failures, first)
}

#[derive(Default)]
struct Tally {
    sent: u64,
    sent_measured: u64,
    answered: u64,
    answered_in_window: u64,
    accepted_in_window: u64,
    accepted: u64,
    rejected: u64,
    unanswered: u64,
    errors: u64,
    reasons: HashMap<String, u64>,
    latencies_us: Vec<u64>,
    max_difficulty: f64,
    error: Option<String>,
}

impl Tally {
    fn add(&mut self, t: Tally) {
        self.sent += t.sent;
        self.sent_measured += t.sent_measured;
        self.answered += t.answered;
        self.answered_in_window += t.answered_in_window;
        self.accepted_in_window += t.accepted_in_window;
        self.accepted += t.accepted;
        self.rejected += t.rejected;
        self.unanswered += t.unanswered;
        self.errors += t.errors;
        self.max_difficulty = self.max_difficulty.max(t.max_difficulty);
        self.latencies_us.extend(t.latencies_us);
        for (k, v) in t.reasons {
            *self.reasons.entry(k).or_default() += v;
        }
        if self.error.is_none() {
            self.error = t.error;
        }
    }
}

async fn run(a: Common, algo: Algo) -> anyhow::Result<()> {
    if a.miners == 0 || !(a.rate.is_finite() && a.rate >= 0.0) {
        bail!("need --miners >= 1 and --rate >= 0");
    }
    let started = Instant::now();
    let (conns, failures, first_error) = connect_all(&a, algo).await;
    println!(
        "handshake: {} miners in {:.2} s ({failures} failed{})",
        conns.len(),
        started.elapsed().as_secs_f64(),
        first_error.map(|e| format!(": {e}")).unwrap_or_default()
    );
    if conns.len() < a.miners {
        println!(
            "!!! UNEXPECTED: only {} of {} miners connected",
            conns.len(),
            a.miners
        );
        bail!("only {} of {} miners connected", conns.len(), a.miners);
    }
    let n = conns.len();
    let interval = (a.rate > 0.0).then(|| Duration::from_secs_f64(n as f64 / a.rate));
    let window = a.window.max(1);
    let prefill = Plan::prefill(window, a.prefill.div_ceil(n as u64));
    let started = Instant::now();
    let gate = Arc::new(Barrier::new(n + 1));
    let (go_tx, go_rx) = watch::channel(None::<Plan>);
    let mut tasks = Vec::with_capacity(n);
    for (i, conn) in conns.into_iter().enumerate() {
        let offset = match a.rate > 0.0 {
            true => Duration::from_secs_f64(i as f64 / a.rate),
            false => Duration::ZERO,
        };
        let (gate, mut go) = (gate.clone(), go_rx.clone());
        tasks.push(tokio::spawn(async move {
            let mut st = Miner { conn, next_id: 10 };
            let pre = match prefill.limit {
                0 => Tally::default(),
                _ => st.run(prefill).await,
            };
            gate.wait().await;
            let plan = match go.wait_for(Option::is_some).await {
                Ok(p) => p.map(|p| Plan { offset, ..p }),
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
    let machine = tokio::spawn(machine_busy(measure_from, end));
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
        println!(
            "prefill answers: {} (rejected {}, unanswered {}, errors {})",
            pre.answered, pre.rejected, pre.unanswered, pre.errors
        );
        let mut reasons: Vec<_> = pre.reasons.iter().collect();
        reasons.sort_by(|x, y| y.1.cmp(x.1));
        for (why, count) in reasons.iter().take(5) {
            println!("prefill rejected: {count} x {why}");
        }
    }
    let mut cpu = cpu.await.unwrap_or_default();
    if let Ok(Some(busy)) = machine.await {
        // What the rest of the machine (other processes, the kernel's own
        // threads) used meanwhile: contention the figures suffered.
        let ours: f64 = cpu.iter().map(|(_, c)| c).sum();
        cpu.push(("others".into(), (busy - ours).max(0.0)));
    }
    report(&a, algo, n, &mut total, &pre, &cpu);
    Ok(())
}

fn report(a: &Common, algo: Algo, n: usize, t: &mut Tally, pre: &Tally, cpu: &[(String, f64)]) {
    let secs = a.duration.as_secs_f64().max(1e-9);
    let offered = if a.rate > 0.0 {
        format!("{}", a.rate)
    } else {
        format!("max(window {})", a.window)
    };
    let lat = summarize(&mut t.latencies_us);
    println!(
        "{}: target={} miners={n} offered={offered}/s warmup={:.1}s measured={:.1}s",
        algo.mode(),
        a.target,
        a.warmup.as_secs_f64(),
        secs
    );
    println!(
        "sent: {} in the measured period ({:.1}/s), {} in all",
        t.sent_measured,
        t.sent_measured as f64 / secs,
        t.sent
    );
    println!(
        "answered: {} (accepted {}, rejected {}), unanswered {}, connection errors {}",
        t.answered, t.accepted, t.rejected, t.unanswered, t.errors
    );
    println!(
        "throughput: {:.1} answers/s, {:.1} accepted/s (answers received in the measured period)",
        t.answered_in_window as f64 / secs,
        t.accepted_in_window as f64 / secs
    );
    println!(
        "latency write->answer (us, {} samples): p50 {} p90 {} p99 {} max {} mean {:.0}",
        lat.count, lat.p50, lat.p90, lat.p99, lat.max, lat.mean
    );
    let mut reasons: Vec<_> = t.reasons.iter().collect();
    reasons.sort_by(|x, y| y.1.cmp(x.1));
    for (why, count) in reasons.iter().take(5) {
        println!("rejected: {count} x {why}");
    }
    if matches!(algo, Algo::Rx) && t.max_difficulty > 1.0 {
        println!(
            "warning: a target of difficulty {} was set; above 1 not every nonce is a valid share",
            t.max_difficulty
        );
    }
    if let Some(e) = &t.error {
        println!("error: {e}");
    }
    let bad = t.rejected + t.unanswered + t.errors + pre.rejected + pre.unanswered + pre.errors;
    let verdict = if bad == 0 { "ok" } else { "UNEXPECTED" };
    if bad > 0 {
        println!(
            "!!! UNEXPECTED: {} rejected, {} unanswered, {} connection errors in the run; {} rejected, {} unanswered, {} errors in the prefill (every share sent is valid)",
            t.rejected, t.unanswered, t.errors, pre.rejected, pre.unanswered, pre.errors
        );
    }
    let cores: Vec<String> = cpu.iter().map(|(n, c)| format!("{n} {c:.2}")).collect();
    let total: f64 = cpu
        .iter()
        .filter(|(n, _)| n != "others")
        .map(|(_, c)| c)
        .sum();
    println!(
        "cpu over the measured period (cores): {}; total {total:.2}",
        cores.join(", ")
    );
    let mut r = String::new();
    let _ = write!(
        r,
        "RESULT mode={} miners={n} offered={} sent={} sent_rate={:.1} answered={} accepted={} rejected={} unanswered={} errors={} prefill_bad={} verdict={verdict} rate={:.1} accepted_rate={:.1}",
        algo.mode(),
        if a.rate > 0.0 { a.rate } else { 0.0 },
        t.sent_measured,
        t.sent_measured as f64 / secs,
        t.answered,
        t.accepted,
        t.rejected,
        t.unanswered,
        t.errors,
        pre.rejected + pre.unanswered + pre.errors,
        t.answered_in_window as f64 / secs,
        t.accepted_in_window as f64 / secs,
    );
    let _ = write!(
        r,
        " p50_us={} p90_us={} p99_us={} max_us={} mean_us={:.0}",
        lat.p50, lat.p90, lat.p99, lat.max, lat.mean
    );
    for (name, c) in cpu {
        let _ = write!(r, " cpu_{name}={c:.2}");
    }
    let _ = write!(r, " cpu_total={total:.2}");
    println!("{r}");
}

/// Busy ticks of the whole machine (every field of /proc/stat's `cpu` line
/// but idle and iowait).
fn machine_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let all: u64 = f.iter().take(8).sum();
    Some(all - f.get(3)? - f.get(4)?)
}

/// Cores the whole machine kept busy between `from` and `to`.
async fn machine_busy(from: Instant, to: Instant) -> Option<f64> {
    sleep_until(from).await;
    let before = machine_ticks()?;
    sleep_until(to).await;
    let hz = crate::stats::ticks_per_second();
    let secs = to.duration_since(from).as_secs_f64().max(1e-9);
    Some(machine_ticks()?.checked_sub(before)? as f64 / hz / secs)
}

/// One miner between phases.
struct Miner {
    conn: Conn,
    next_id: u64,
}

impl Miner {
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
                            on_answer(answer, &mut pending, &mut t, &plan);
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

fn on_answer(
    (id, verdict): Answer,
    pending: &mut HashMap<u64, Instant>,
    t: &mut Tally,
    plan: &Plan,
) {
    let Some(sent) = pending.remove(&id) else {
        return;
    };
    let now = Instant::now();
    t.answered += 1;
    let in_window = now >= plan.measure_from && now < plan.end;
    if in_window {
        t.answered_in_window += 1;
    }
    if sent >= plan.measure_from {
        t.latencies_us
            .push(now.duration_since(sent).as_micros() as u64);
    }
    match verdict {
        Ok(()) => {
            t.accepted += 1;
            if in_window {
                t.accepted_in_window += 1;
            }
        }
        Err(why) => {
            t.rejected += 1;
            *t.reasons.entry(why).or_default() += 1;
        }
    }
}
