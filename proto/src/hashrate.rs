//! Hashrate from accepted share difficulty, one definition for every
//! process: the control plane (from the share ledger), the data plane
//! (`/status`, from its live windows) and `ctl` (which shows it): the work a difficulty
//! stands for per algorithm, the time a window of the ledger covers, and the
//! human rendering with SI prefixes (`112.4 TH/s`, `8.1 kH/s`).
//!
//! The estimate is the sum of the miner (target) difficulty of accepted
//! shares, turned into hashes, divided by the seconds covered: a share at
//! target difficulty D stands for D x 2^32 hashes on SHA-256 (difficulty 1 is
//! 2^32 expected hashes) and D hashes on RandomX (xmrig's difficulty is the
//! expected hash count). An ALEO (`zksnark`) pool's difficulty is a proof
//! target, not a hash count: its rate is shown in difficulty units per second,
//! `work/s`, never as H/s.

use crate::Algorithm;

/// Hashes (SHA-256, RandomX) or work units (ALEO) one share of target
/// difficulty 1 stands for.
pub fn work_per_difficulty(algorithm: Algorithm) -> f64 {
    match algorithm {
        Algorithm::Sha256 => 4_294_967_296.0,
        Algorithm::Randomx | Algorithm::Zksnark => 1.0,
    }
}

/// The rate's unit: `H/s`, or `work/s` for ALEO.
pub fn unit(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Sha256 | Algorithm::Randomx => "H/s",
        Algorithm::Zksnark => "work/s",
    }
}

/// The rate of `difficulty_sum` (accepted shares' target difficulties) over
/// `covered_ms`, in H/s (work units/s for ALEO); 0 when nothing is covered.
pub fn rate(algorithm: Algorithm, difficulty_sum: f64, covered_ms: i64) -> f64 {
    if covered_ms <= 0 || !difficulty_sum.is_finite() || difficulty_sum <= 0.0 {
        return 0.0;
    }
    difficulty_sum * work_per_difficulty(algorithm) * 1000.0 / covered_ms as f64
}

/// The milliseconds of the window `[start_ms, end_ms)` that the ledger
/// covers: from its first share (`ledger_start_ms`) until `now_ms`.
///
/// A window that reaches before the first share the database holds (a new
/// install, `--since 7d` on two days of history) is divided by the time
/// since that first share rather than by its whole length, which would
/// dilute the rate with hours nobody could have recorded; a window that
/// reaches past now (the current hour, `--until +2h`) by the time until now.
/// The ledger's start is one instant for every row, not each row's own first
/// share: rows of one window are divided by the same time and add up, and a
/// pool or worker that joined halfway through shows its average over the
/// window, as pools show their 24 h averages.
pub fn covered_ms(start_ms: i64, end_ms: i64, ledger_start_ms: Option<i64>, now_ms: i64) -> i64 {
    let Some(first) = ledger_start_ms else {
        return 0;
    };
    let from = start_ms.max(first);
    let to = end_ms.min(now_ms);
    (to - from).max(0)
}

const PREFIXES: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];

/// A rate for people: one decimal with an SI prefix (`112.4 TH/s`,
/// `8.1 kH/s`, `512.0 H/s`, `3.0 Mwork/s`), two significant digits below
/// 1 (`0.042 H/s`), `0 H/s` for none and `-` for what is not a rate.
pub fn format(algorithm: Algorithm, rate: f64) -> String {
    format_unit(rate, unit(algorithm))
}

/// [`format`] with any unit.
pub fn format_unit(rate: f64, unit: &str) -> String {
    if !rate.is_finite() || rate < 0.0 {
        return "-".to_string();
    }
    if rate == 0.0 {
        return format!("0 {unit}");
    }
    if rate < 1.0 {
        // Two significant digits, without trailing zeros.
        let decimals = (1 - rate.log10().floor() as i32).clamp(1, 20) as usize;
        let s = format!("{rate:.decimals$}");
        let mut s = s.trim_end_matches('0').to_string();
        if s.ends_with('.') {
            // 0.9996 rounds up to 1.
            s.push('0');
        }
        return format!("{s} {unit}");
    }
    let mut i = 0;
    let mut v = rate;
    while i + 1 < PREFIXES.len() && round1(v) >= 1000.0 {
        v /= 1000.0;
        i += 1;
    }
    format!("{:.1} {}{unit}", round1(v), PREFIXES[i])
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_rates_have_one_decimal_and_an_si_prefix() {
        let s = Algorithm::Sha256;
        assert_eq!(format(s, 112.4e12), "112.4 TH/s");
        assert_eq!(format(s, 112.44e12), "112.4 TH/s");
        assert_eq!(format(s, 8.1e3), "8.1 kH/s");
        assert_eq!(format(s, 8_149.0), "8.1 kH/s");
        assert_eq!(format(s, 512.0), "512.0 H/s");
        assert_eq!(format(s, 1.0), "1.0 H/s");
        assert_eq!(format(s, 999.96), "1.0 kH/s", "rounding moves the prefix");
        assert_eq!(format(s, 999_949.0), "999.9 kH/s");
        assert_eq!(format(s, 2.5e6), "2.5 MH/s");
        assert_eq!(format(s, 7.25e9), "7.3 GH/s");
        assert_eq!(format(s, 1.5e15), "1.5 PH/s");
        assert_eq!(format(s, 3.2e18), "3.2 EH/s");
        assert_eq!(format(s, 4.0e21), "4000.0 EH/s", "E is the largest prefix");
        assert_eq!(format(Algorithm::Randomx, 8_100.0), "8.1 kH/s");
    }

    #[test]
    fn zero_tiny_and_nonsense() {
        let s = Algorithm::Sha256;
        assert_eq!(format(s, 0.0), "0 H/s");
        assert_eq!(format(s, 0.5), "0.5 H/s");
        assert_eq!(format(s, 0.042), "0.042 H/s");
        assert_eq!(format(s, 0.0004567), "0.00046 H/s");
        assert_eq!(format(s, 1e-12), "0.000000000001 H/s");
        assert_eq!(format(s, 0.9996), "1.0 H/s");
        assert_eq!(format(s, f64::NAN), "-");
        assert_eq!(format(s, -1.0), "-");
        assert_eq!(format(s, f64::INFINITY), "-");
    }

    #[test]
    fn aleo_is_work_per_second_never_hashes() {
        let z = Algorithm::Zksnark;
        assert_eq!(unit(z), "work/s");
        assert_eq!(format(z, 3.0e6), "3.0 Mwork/s");
        assert_eq!(format(z, 0.0), "0 work/s");
        // One difficulty unit per second is one work unit per second.
        assert_eq!(rate(z, 600.0, 600_000), 1.0);
    }

    #[test]
    fn difficulty_to_hashes() {
        // SHA-256: difficulty x 2^32 / seconds.
        assert_eq!(rate(Algorithm::Sha256, 1.0, 1000), 4_294_967_296.0);
        // 3,600 shares of difficulty 65,536 in an hour: 65,536 x 2^32 / s.
        let r = rate(Algorithm::Sha256, 3600.0 * 65_536.0, 3_600_000);
        assert_eq!(r, 65_536.0 * 4_294_967_296.0);
        assert_eq!(format(Algorithm::Sha256, r), "281.5 TH/s");
        // RandomX: difficulty / seconds.
        assert_eq!(rate(Algorithm::Randomx, 120_000.0, 60_000), 2000.0);
        assert_eq!(rate(Algorithm::Randomx, 5.0, 0), 0.0);
        assert_eq!(rate(Algorithm::Randomx, 0.0, 1000), 0.0);
    }

    #[test]
    fn covered_time_is_clipped_to_the_ledger_and_now() {
        let h = 3_600_000;
        // The whole window.
        assert_eq!(covered_ms(0, 24 * h, Some(0), 30 * h), 24 * h);
        // The ledger starts 2 h before the end: 2 h.
        assert_eq!(covered_ms(0, 24 * h, Some(22 * h), 30 * h), 2 * h);
        // The window's end is in the future: until now.
        assert_eq!(covered_ms(0, 24 * h, Some(0), 10 * h), 10 * h);
        // No shares at all, or a window before the first share.
        assert_eq!(covered_ms(0, h, None, 30 * h), 0);
        assert_eq!(covered_ms(0, h, Some(2 * h), 30 * h), 0);
    }
}
