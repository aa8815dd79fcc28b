//! `loadgen idle`: opens N miner connections (subscribe, authorize, first
//! job), then holds them, reading and discarding whatever the server sends,
//! so the server's memory per idle miner can be measured from outside.

use std::io::Write as _;
use std::time::Duration;

use anyhow::bail;

use crate::{Target, client, parse_secs, wait_for_signal};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    target: Target,
    #[arg(long, default_value_t = 10_000)]
    miners: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Stop connecting after this many failures (for example at the open-file limit).
    #[arg(long, default_value_t = 20)]
    max_failures: usize,
    /// Hold this long (seconds) then exit; 0 = until SIGINT/SIGTERM.
    #[arg(long, default_value = "0", value_parser = parse_secs)]
    hold: Duration,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let got = client::connect_many(a.target, a.miners, a.concurrency, "idle", a.max_failures).await;
    let n = got.conns.len();
    println!(
        "idle: {n} of {} miners connected to {} in {:.2} s ({} failed{})",
        a.miners,
        a.target,
        got.elapsed.as_secs_f64(),
        got.failures,
        got.first_error
            .as_ref()
            .map(|e| format!(", first error: {e}"))
            .unwrap_or_default()
    );
    if n == 0 {
        bail!("no miner connected");
    }
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    for mut c in got.conns {
        let closed = closed_tx.clone();
        tokio::spawn(async move {
            while let Ok(Some(_)) = c.reader.next_line().await {}
            let _ = closed.send(());
            drop(c.writer);
        });
    }
    drop(closed_tx);
    println!(
        "RESULT mode=idle requested={} connected={n} failed={} connect_s={:.2}",
        a.miners,
        got.failures,
        got.elapsed.as_secs_f64()
    );
    println!("READY {n}");
    std::io::stdout().flush()?;
    let mut lost = 0usize;
    let hold = async {
        if a.hold.is_zero() {
            wait_for_signal().await
        } else {
            tokio::select! {
                _ = tokio::time::sleep(a.hold) => {}
                _ = wait_for_signal() => {}
            }
        }
    };
    tokio::pin!(hold);
    loop {
        tokio::select! {
            _ = &mut hold => break,
            c = closed_rx.recv() => match c {
                Some(()) => lost += 1,
                None => break,
            },
        }
    }
    println!("idle: done; {lost} connections were closed by the server while held");
    Ok(())
}
