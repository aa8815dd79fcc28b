//! `splitsim`: the weighted split (issue 14) over simulated hours, for
//! `bench/split.sh`. A farm of miners of mixed speeds (log-uniform between
//! 1 and 100, or one miner with a given part of all the work and the rest
//! equal) mines on a window of weighted pools; the data plane's own
//! splitter (`route::split`) moves miners every tick. Prints one CSV line
//! a simulated minute (each pool's part of the last hour's accepted
//! difficulty and what the weights asked), then a `RESULT` line.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchyard_dataplane::route::split::Tuning;
use switchyard_dataplane::route::split_sim::Sim;

#[derive(Parser, Debug)]
#[command(about = "Simulate the weighted split of one window")]
struct Args {
    /// Pool weights, e.g. 70,30.
    #[arg(long, value_delimiter = ',', default_value = "70,30")]
    weights: Vec<u32>,
    #[arg(long, default_value_t = 1000)]
    miners: usize,
    /// One miner does this part of all the work (0 to 1); the others are
    /// equal. Without it, speeds are log-uniform from 1 to 100.
    #[arg(long)]
    big: Option<f64>,
    /// Simulated hours.
    #[arg(long, default_value_t = 3)]
    hours: i64,
    /// A pool down for a while: POOL@FROM-TO in minutes, e.g. 1@80-100.
    #[arg(long)]
    down: Option<String>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the per-minute CSV goes.
    #[arg(long)]
    csv: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    anyhow::ensure!(
        !a.weights.is_empty() && a.weights.iter().all(|w| *w > 0),
        "--weights: positive weights, e.g. 70,30"
    );
    anyhow::ensure!(a.miners > 0, "--miners: at least one");
    let rates: Vec<f64> = match a.big {
        Some(f) => {
            anyhow::ensure!((0.0..1.0).contains(&f), "--big: a part from 0 to 1");
            let rest = a.miners.saturating_sub(1).max(1) as f64;
            let small = 100.0 * (1.0 - f) / rest;
            std::iter::once(100.0 * f)
                .chain(std::iter::repeat_n(small, a.miners - 1))
                .collect()
        }
        None => {
            let mut rng = StdRng::seed_from_u64(a.seed ^ 0x5eed);
            (0..a.miners)
                .map(|_| 10f64.powf(rng.random_range(0.0..2.0)))
                .collect()
        }
    };
    let down = match &a.down {
        None => None,
        Some(d) => {
            let bad = || anyhow::anyhow!("--down {d:?}: expected POOL@FROM-TO in minutes");
            let (pool, range) = d.split_once('@').ok_or_else(bad)?;
            let (from, to) = range.split_once('-').ok_or_else(bad)?;
            let pool: usize = pool.parse().map_err(|_| bad())?;
            anyhow::ensure!(
                pool < a.weights.len(),
                "--down: pool index {pool} out of range"
            );
            Some((
                pool,
                from.parse::<i64>().map_err(|_| bad())? * 60_000,
                to.parse::<i64>().map_err(|_| bad())? * 60_000,
            ))
        }
    };

    let out = Rc::new(RefCell::new(std::io::BufWriter::new(
        std::fs::File::create(&a.csv)?,
    )));
    {
        let mut o = out.borrow_mut();
        write!(o, "minute,moves")?;
        for i in 0..a.weights.len() {
            write!(o, ",achieved_{i},target_{i}")?;
        }
        writeln!(o)?;
    }
    let mut sim = Sim::new(&a.weights, &rates, a.seed);
    let rec = out.clone();
    sim.on_minute = Some(Box::new(move |s: &Sim| {
        let (achieved, expected) = s.split.window(s.now);
        let (sa, se): (f64, f64) = (achieved.iter().sum(), expected.iter().sum());
        let mut o = rec.borrow_mut();
        let _ = write!(o, "{},{}", s.now / 60_000, s.moves);
        for (x, e) in achieved.iter().zip(&expected) {
            let part = |v: f64, t: f64| if t > 0.0 { 100.0 * v / t } else { 0.0 };
            let _ = write!(o, ",{:.3},{:.3}", part(*x, sa), part(*e, se));
        }
        let _ = writeln!(o);
    }));
    let hour = 3_600_000;
    let end = a.hours * hour;
    // No assertion here: the worst distance after the first hour is the
    // figure (checks with a limit no run can reach).
    match down {
        Some((pool, from, to)) => {
            sim.run(from.min(end), hour, 100.0);
            sim.split.set_up(pool, false);
            sim.run(to.min(end), hour, 100.0);
            sim.split.set_up(pool, true);
            sim.run(end, hour, 100.0);
        }
        None => sim.run(end, hour, 100.0),
    }
    out.borrow_mut().flush()?;
    let ticks = end / Tuning::default().tick_ms;
    println!(
        "RESULT weights={} miners={} big={} hours={} worst_points_after_first_hour={:.2} moves={} moves_per_tick={:.2} moves_per_miner_hour={:.2}",
        a.weights
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        a.miners,
        a.big.map_or("-".to_string(), |b| b.to_string()),
        a.hours,
        sim.worst,
        sim.moves,
        sim.moves as f64 / ticks as f64,
        sim.moves as f64 / a.miners as f64 / a.hours as f64,
    );
    Ok(())
}
