//! `loadgen shares`: N miners submit shares at an aggregate rate (open loop,
//! pipelined: a miner never waits for an answer before the next submit) or
//! as fast as a per-miner window of unanswered submits allows; counts
//! answers and rejections and times each submit from write to answer.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Barrier, watch};
use tokio::time::{Instant, sleep_until};

use crate::client::{self, Conn, EVERY_HASH_PASSES, Event};
use crate::plan::Plan;
use crate::stats::{cpu_use, parse_cpu, summarize};
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
}

/// What a miner keeps between phases.
struct MinerState {
    conn: Conn,
    next_id: u64,
    nonce: u32,
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
    reasons: HashMap<String, u64>,
    latencies_us: Vec<u64>,
    max_difficulty: f64,
    error: Option<String>,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    if a.miners == 0 || !(a.rate.is_finite() && a.rate >= 0.0) {
        bail!("need --miners >= 1 and --rate >= 0");
    }
    let got = client::connect_many(a.target, a.miners, a.concurrency, "loadgen", 10).await;
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
        bail!("only {} of {} miners connected", got.conns.len(), a.miners);
    }
    let n = got.conns.len();
    let interval = (a.rate > 0.0).then(|| Duration::from_secs_f64(n as f64 / a.rate));
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
        let (gate, mut go) = (gate.clone(), go_rx.clone());
        tasks.push(tokio::spawn(async move {
            let mut st = MinerState {
                conn,
                next_id: 10,
                nonce: 0,
            };
            let pre = match prefill.limit {
                0 => Tally::default(),
                _ => miner(&mut st, prefill).await,
            };
            gate.wait().await;
            let plan = match go.wait_for(Option::is_some).await {
                Ok(p) => p.map(|p| Plan { offset, ..p }),
                Err(_) => None,
            };
            let run = match plan {
                Some(plan) => miner(&mut st, plan).await,
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
        pre.answered += p.answered;
        pre.rejected += p.rejected;
        pre.unanswered += p.unanswered;
        total.sent += t.sent;
        total.sent_measured += t.sent_measured;
        total.answered += t.answered;
        total.answered_in_window += t.answered_in_window;
        total.accepted_in_window += t.accepted_in_window;
        total.accepted += t.accepted;
        total.rejected += t.rejected;
        total.unanswered += t.unanswered;
        total.max_difficulty = total.max_difficulty.max(t.max_difficulty);
        total.latencies_us.extend(t.latencies_us);
        for (k, v) in t.reasons {
            *total.reasons.entry(k).or_default() += v;
        }
        if total.error.is_none() {
            total.error = t.error;
        }
    }
    if a.prefill > 0 {
        println!(
            "prefill answers: {} (rejected {}, unanswered {})",
            pre.answered, pre.rejected, pre.unanswered
        );
    }
    let cpu = cpu.await.unwrap_or_default();
    report(&a, n, &mut total, &cpu);
    Ok(())
}

fn report(a: &Args, n: usize, t: &mut Tally, cpu: &[(String, f64)]) {
    let secs = a.duration.as_secs_f64().max(1e-9);
    let offered = if a.rate > 0.0 {
        format!("{}", a.rate)
    } else {
        format!("max(window {})", a.window)
    };
    let lat = summarize(&mut t.latencies_us);
    println!(
        "shares: target={} miners={n} offered={offered}/s warmup={:.1}s measured={:.1}s",
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
        "answered: {} (accepted {}, rejected {}), unanswered {}",
        t.answered, t.accepted, t.rejected, t.unanswered
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
    if t.max_difficulty > EVERY_HASH_PASSES {
        println!(
            "warning: difficulty {} was set; above {EVERY_HASH_PASSES:.3e} random nonces are not all valid shares",
            t.max_difficulty
        );
    }
    if let Some(e) = &t.error {
        println!("error: {e}");
    }
    let cores: Vec<String> = cpu.iter().map(|(n, c)| format!("{n} {c:.2}")).collect();
    let total: f64 = cpu.iter().map(|(_, c)| c).sum();
    println!(
        "cpu over the measured period (cores): {}; total {total:.2}",
        cores.join(", ")
    );
    let mut r = String::new();
    let _ = write!(
        r,
        "RESULT mode=shares miners={n} offered={} sent={} sent_rate={:.1} answered={} accepted={} rejected={} unanswered={} rate={:.1} accepted_rate={:.1}",
        if a.rate > 0.0 { a.rate } else { 0.0 },
        t.sent_measured,
        t.sent_measured as f64 / secs,
        t.answered,
        t.accepted,
        t.rejected,
        t.unanswered,
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

/// One miner: submits on its schedule, reads answers, until the drain ends.
async fn miner(st: &mut MinerState, plan: Plan) -> Tally {
    let c = &mut st.conn;
    let mut t = Tally {
        max_difficulty: c.difficulty.unwrap_or(0.0),
        ..Tally::default()
    };
    let mut pending: HashMap<u64, Instant> = HashMap::new();
    let mut next_send = plan.start + plan.offset;
    let e2 = "00".repeat(c.extranonce2_size);
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
            let first = st.next_id;
            for _ in 0..due {
                let _ = writeln!(
                    buf,
                    "{{\"id\":{},\"method\":\"mining.submit\",\"params\":[\"{}\",\"{}\",\"{e2}\",\"{:08x}\",\"{:08x}\"]}}",
                    st.next_id, c.worker, c.job.id, c.job.ntime, st.nonce
                );
                st.next_id += 1;
                st.nonce = st.nonce.wrapping_add(1);
            }
            let at = Instant::now();
            if let Err(e) = c.writer.write_all(&buf).await {
                t.error = Some(format!("write: {e}"));
                break;
            }
            for id in first..st.next_id {
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
                Ok(Some(line)) => on_line(&line, c, &mut pending, &mut t, &plan),
                Ok(None) => {
                    t.error = Some("connection closed by the server".into());
                    break;
                }
                Err(e) => {
                    t.error = Some(format!("read: {e}"));
                    break;
                }
            },
            _ = sleep_until(wake) => {}
        }
    }
    t.unanswered = pending.len() as u64;
    t
}

fn on_line(
    line: &[u8],
    c: &mut Conn,
    pending: &mut HashMap<u64, Instant>,
    t: &mut Tally,
    plan: &Plan,
) {
    match client::classify(line) {
        Event::Answer(id, verdict) => {
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
        Event::Job(j) => c.job = j,
        Event::Difficulty(d) => {
            c.difficulty = Some(d);
            t.max_difficulty = t.max_difficulty.max(d);
        }
        Event::Other => {}
    }
}
