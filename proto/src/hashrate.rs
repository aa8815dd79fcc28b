//! Hashrate from accepted work, the same way everywhere (the data plane's
//! `/status`, `ctl stats`, `ctl workers`): the difficulty of accepted shares
//! per second, times the hashes one unit of difficulty stands for, written
//! in human units (`112.4 TH/s`).
//!
//! - SHA-256: a difficulty-1 share takes 2^32 hashes on average.
//! - RandomX: the difficulty is the number of hashes itself.
//! - ALEO: the pool's difficulty is a proof target, not a hash count: the
//!   figure is difficulty units per second, written `work/s`, not `H/s`.

use crate::Algorithm;

impl Algorithm {
    /// Hashes (ALEO: work units) one unit of share difficulty stands for.
    pub fn hashes_per_difficulty(self) -> f64 {
        match self {
            Algorithm::Sha256 => 4_294_967_296.0,
            Algorithm::Randomx | Algorithm::Zksnark => 1.0,
        }
    }

    /// The unit of [`Algorithm::hashrate`]: `H/s`, or `work/s` for ALEO.
    pub fn hashrate_unit(self) -> &'static str {
        match self {
            Algorithm::Sha256 | Algorithm::Randomx => "H/s",
            Algorithm::Zksnark => "work/s",
        }
    }

    /// The hashrate of `difficulty` accepted over `seconds` (0 when no time).
    pub fn hashrate(self, difficulty: f64, seconds: f64) -> f64 {
        if seconds <= 0.0 || !difficulty.is_finite() {
            return 0.0;
        }
        difficulty * self.hashes_per_difficulty() / seconds
    }

    /// `rate` in human units with one decimal: `112.4 TH/s`, `8.1 kH/s`.
    pub fn format_hashrate(self, rate: f64) -> String {
        format_rate(rate, self.hashrate_unit())
    }
}

/// `rate` with an SI prefix (k M G T P E) and one decimal, then `unit`.
pub fn format_rate(rate: f64, unit: &str) -> String {
    const PREFIXES: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    if !rate.is_finite() || rate <= 0.0 {
        return format!("0 {unit}");
    }
    let mut r = rate;
    let mut i = 0;
    while r >= 999.95 && i + 1 < PREFIXES.len() {
        r /= 1000.0;
        i += 1;
    }
    format!("{r:.1} {}{unit}", PREFIXES[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        let sha = Algorithm::Sha256;
        assert_eq!(sha.format_hashrate(112.4e12), "112.4 TH/s");
        assert_eq!(Algorithm::Randomx.format_hashrate(8_100.0), "8.1 kH/s");
        assert_eq!(sha.format_hashrate(0.0), "0 H/s");
        assert_eq!(sha.format_hashrate(0.25), "0.2 H/s");
        assert_eq!(sha.format_hashrate(999.99), "1.0 kH/s");
        assert_eq!(sha.format_hashrate(f64::NAN), "0 H/s");
        assert_eq!(sha.format_hashrate(5e21), "5000.0 EH/s");
        assert_eq!(Algorithm::Zksnark.format_hashrate(42.0), "42.0 work/s");
    }

    #[test]
    fn difficulty_per_second_to_hashes() {
        // One difficulty-1 SHA-256 share a second: 2^32 H/s.
        assert_eq!(Algorithm::Sha256.hashrate(60.0, 60.0), 4_294_967_296.0);
        assert_eq!(Algorithm::Randomx.hashrate(120_000.0, 60.0), 2_000.0);
        assert_eq!(Algorithm::Zksnark.hashrate(10.0, 0.0), 0.0);
    }
}
