//! `loadgen fanout`: connects N miners (to a pool directly or through a data
//! plane), then, round after round, asks a `loadgen pool` for a new clean
//! job over its control port and times how long until every miner has
//! received a `mining.notify` (stamped by each miner's reader as it reads it).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use switchyard_tests::lines::LineReader;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::stats::summarize;
use crate::{Target, client, parse_secs};

#[derive(clap::Args)]
pub struct Args {
    /// Where the miners connect (the pool, or a data plane in front of it).
    #[arg(long)]
    target: Target,
    /// The control port of the `loadgen pool` that sends the jobs.
    #[arg(long)]
    control: SocketAddr,
    #[arg(long, default_value_t = 10_000)]
    miners: usize,
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Quiet time before each round (seconds).
    #[arg(long, default_value = "1", value_parser = parse_secs)]
    pause: Duration,
    /// Give up on a round after this long (seconds).
    #[arg(long, default_value = "30", value_parser = parse_secs)]
    timeout: Duration,
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let got = client::connect_many(a.target, a.miners, a.concurrency, "fanout", 10).await;
    let n = got.conns.len();
    println!(
        "fanout: {n} of {} miners connected to {} in {:.2} s ({} failed{})",
        a.miners,
        a.target,
        got.elapsed.as_secs_f64(),
        got.failures,
        got.first_error
            .as_ref()
            .map(|e| format!(", first error: {e}"))
            .unwrap_or_default()
    );
    if n < a.miners {
        bail!("only {n} of {} miners connected", a.miners);
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<(u32, Instant)>();
    for (i, mut c) in got.conns.into_iter().enumerate() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let _writer = c.writer;
            while let Ok(Some(line)) = c.reader.next_line().await {
                if is_notify(&line) && tx.send((i as u32, Instant::now())).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let ctl = TcpStream::connect(a.control)
        .await
        .with_context(|| format!("control port {}", a.control))?;
    ctl.set_nodelay(true)?;
    let (ctl_r, mut ctl_w) = ctl.into_split();
    let mut ctl_r = LineReader::new(ctl_r);
    let mut all_ms = Vec::new();
    let mut p50_ms = Vec::new();
    for round in 1..=a.rounds {
        tokio::time::sleep(a.pause).await;
        while rx.try_recv().is_ok() {}
        let mut seen = vec![false; n];
        let mut arrivals: Vec<u64> = Vec::with_capacity(n);
        let t0 = Instant::now();
        ctl_w.write_all(b"job\n").await?;
        let reply = ctl_r
            .next_line()
            .await?
            .ok_or_else(|| anyhow!("control port closed"))?;
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let deadline = t0 + a.timeout;
        while arrivals.len() < n {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = tokio::time::sleep_until(deadline) => None,
            };
            let Some((i, at)) = ev else { break };
            let i = i as usize;
            if at >= t0 && !seen[i] {
                seen[i] = true;
                arrivals.push(at.duration_since(t0).as_micros() as u64);
            }
        }
        let s = summarize(&mut arrivals);
        let ms = |us: u64| us as f64 / 1000.0;
        println!(
            "round {round}: {} of {n} miners had the job; first {:.2} ms, p50 {:.2} ms, p99 {:.2} ms, all {:.2} ms (pool: {reply})",
            s.count,
            ms(arrivals.first().copied().unwrap_or(0)),
            ms(s.p50),
            ms(s.p99),
            ms(s.max)
        );
        if s.count < n {
            bail!("round {round}: only {} of {n} miners got the job", s.count);
        }
        all_ms.push(s.max);
        p50_ms.push(s.p50);
    }
    let all = summarize(&mut all_ms);
    let p50 = summarize(&mut p50_ms);
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "fanout: time until all {n} miners had the job over {} rounds: median {:.2} ms, min {:.2} ms, max {:.2} ms",
        a.rounds,
        ms(all.p50),
        ms(all_ms.first().copied().unwrap_or(0)),
        ms(all.max)
    );
    println!(
        "RESULT mode=fanout miners={n} rounds={} all_ms_median={:.2} all_ms_min={:.2} all_ms_max={:.2} p50_ms_median={:.2}",
        a.rounds,
        ms(all.p50),
        ms(all_ms.first().copied().unwrap_or(0)),
        ms(all.max),
        ms(p50.p50)
    );
    Ok(())
}

fn is_notify(line: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"\"mining.notify\"";
    line.windows(NEEDLE.len()).any(|w| w == NEEDLE)
}
