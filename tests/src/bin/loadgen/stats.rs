//! Percentiles over recorded samples (microseconds), nearest-rank.

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
