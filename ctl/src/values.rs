//! Formats of single values shared by every rendering: times (RFC 3339 for
//! machines, `2026-11-23 18:00:00 UTC` or site-local for people), ages and
//! spans (`3s ago`, `in 1h 30m`), difficulties (`65.5K`) and the cleaning of
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

/// `512`, `0.25`, `65.5K`, `1.2M`, `3.4T` (SI prefixes, 3 significant digits).
pub fn fmt_difficulty(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    const PREFIXES: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let mut x = v.abs();
    let mut i = 0;
    while x >= 1000.0 && i + 1 < PREFIXES.len() {
        x /= 1000.0;
        i += 1;
    }
    let digits = if i == 0 && x < 1.0 {
        4
    } else if x >= 100.0 {
        0
    } else if x >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{x:.digits$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    let sign = if v < 0.0 { "-" } else { "" };
    format!("{sign}{s}{}", PREFIXES[i])
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
