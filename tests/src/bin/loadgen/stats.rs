//! Percentiles over recorded samples (microseconds), nearest-rank, and
//! the CPU time processes used over a period (from /proc).

use tokio::time::Instant;

/// p50/p90/p99/max of a sample set, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: f64,
}

/// Sorts `samples` and summarises them (all zeros when empty).
pub fn summarize(samples: &mut [u64]) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1]
    };
    Summary {
        count: samples.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: samples[samples.len() - 1],
        mean: samples.iter().sum::<u64>() as f64 / samples.len() as f64,
    }
}

pub fn parse_cpu(s: &str) -> Result<(String, u32), String> {
    let (name, pid) = s.split_once('=').ok_or("expected NAME=PID")?;
    Ok((
        name.to_owned(),
        pid.parse().map_err(|e| format!("{pid:?}: {e}"))?,
    ))
}

/// Clock ticks per second, the unit of /proc's CPU times. Without /proc
/// (not Linux) no tick counts are read, so the value there does not matter.
#[cfg(unix)]
pub fn ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

#[cfg(not(unix))]
pub fn ticks_per_second() -> f64 {
    100.0
}

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Samples the CPU time of `procs` at `from` and `to`: cores used in between.
pub async fn cpu_use(procs: Vec<(String, u32)>, from: Instant, to: Instant) -> Vec<(String, f64)> {
    tokio::time::sleep_until(from).await;
    let before: Vec<_> = procs.iter().map(|(_, pid)| cpu_ticks(*pid)).collect();
    tokio::time::sleep_until(to).await;
    let hz = ticks_per_second();
    let secs = to.duration_since(from).as_secs_f64().max(1e-9);
    procs
        .iter()
        .zip(before)
        .filter_map(|((name, pid), b)| {
            let used = cpu_ticks(*pid)?.checked_sub(b?)?;
            Some((name.clone(), used as f64 / hz / secs))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        let s = summarize(&mut v);
        assert_eq!((s.p50, s.p90, s.p99, s.max), (50, 90, 99, 100));
        assert_eq!(summarize(&mut []).count, 0);
    }
}
