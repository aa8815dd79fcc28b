//! Formats of single values shared by every rendering: times (RFC 3339 for
//! machines, `2026-11-23 18:00:00 UTC` or site-local for people), ages and
//! spans (`3s ago`, `in 1h 30m`), difficulties (`65.5K`, `1e-5`) and the cleaning of
//! server text for the terminal.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

/// Replaces control characters (newlines, escape sequences from the server)
/// so that one cell stays on one line and cannot drive the terminal.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub fn to_utc(ms: i64) -> Option<DateTime<Utc>> {
    if ms == 0 {
        None
    } else {
        DateTime::from_timestamp_millis(ms)
    }
}

/// RFC 3339 UTC with seconds, or milliseconds when there are any.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    let fmt = if t.timestamp_subsec_millis() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    t.to_rfc3339_opts(fmt, true)
}

/// `2026-11-23 18:00:00 UTC`, or in the site's zone (`... CET`); "" for none.
pub fn fmt_time(ms: i64, tz: Option<Tz>) -> String {
    match (to_utc(ms), tz) {
        (None, _) => String::new(),
        (Some(t), Some(tz)) => t
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        (Some(t), None) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    }
}

/// A difficulty for people: to 3 significant digits below 1000 (`512`,
/// `0.25`, `0.00042`, `1e-5` below 0.0001), the whole number from 1000 to a
/// million (`65536`, `131072`: pool difficulties are read that way), SI
/// prefixes above (`1.2M`, `3.4T`, up to E, then `1e30`), `0`, and `NaN` /
/// `inf` as Rust writes them. Small values never round to `0`; machines get
/// the exact number (JSON, CSV).
pub fn fmt_difficulty(v: f64) -> String {
    const PREFIXES: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let sign = if v < 0.0 { "-" } else { "" };
    // From 1000 to a million: the whole number (what rounds to one).
    if (999.5..999_999.5).contains(&v.abs()) {
        return format!("{sign}{:.0}", v.abs());
    }
    // Rounded to 3 significant digits first, so that 999.7 becomes 1K and
    // the exponent is the rounded number's.
    let sci = format!("{:.2e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let rounded: f64 = sci.parse().unwrap_or(v.abs());
    let body = match exp {
        ..-4 => format!("{}e{exp}", trim_zeros(mantissa)),
        -4..=2 => {
            let decimals = usize::try_from(2 - exp).unwrap_or(0);
            trim_zeros(&format!("{rounded:.decimals$}")).to_string()
        }
        _ => {
            let i = usize::try_from(exp / 3).unwrap_or(usize::MAX);
            match PREFIXES.get(i) {
                Some(prefix) => {
                    let scaled = rounded / 1000f64.powi(exp / 3);
                    let decimals = usize::try_from(2 - exp % 3).unwrap_or(0);
                    format!("{}{prefix}", trim_zeros(&format!("{scaled:.decimals$}")))
                }
                None => format!("{}e{exp}", trim_zeros(mantissa)),
            }
        }
    };
    format!("{sign}{body}")
}

/// `1.50` -> `1.5`, `2.00` -> `2`, `120` stays.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A short span: `45s`, `5m 3s`, `2h 5m`, `3d 4h`.
pub fn fmt_span(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

/// `3s ago` or `in 5m` relative to `now_ms`; "" when `ms` is 0.
pub fn fmt_age(ms: i64, now_ms: i64) -> String {
    if ms == 0 {
        return String::new();
    }
    let secs = (now_ms.saturating_sub(ms)) / 1000;
    if secs >= 0 {
        format!("{} ago", fmt_span(secs))
    } else {
        format!("in {}", fmt_span(secs))
    }
}

/// JSON object fields for a time: `(rfc3339 or null, unix ms or null)`.
pub fn time_json(ms: i64) -> (Option<String>, Option<i64>) {
    match to_utc(ms) {
        Some(t) => (Some(rfc3339(t)), Some(ms)),
        None => (None, None),
    }
}
