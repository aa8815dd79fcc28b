//! Parsing of TIME and DURATION arguments. The core functions take `now` and
//! the local zone as arguments so tests can pin both; the `*_arg` wrappers are
//! clap value parsers using the real clock and the machine's zone (clap puts
//! the flag name in front of their messages).
//!
//! TIME is RFC 3339 (`2026-11-23T18:00:00Z`, `...+01:00`), a local wall-clock
//! time `YYYY-MM-DD HH:MM[:SS]`, `YYYY-MM-DDTHH:MM[:SS]` or `YYYY-MM-DD`
//! (midnight), `now`, or a duration relative to now: `+2h` is in the future,
//! `-2h` in the past, and an unsigned `2h` goes the way the flag implies
//! (`--since`: ago, `--until`: from now).

use chrono::{DateTime, Local, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};

/// Which way an unsigned relative duration points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `2h` means two hours ago (`--since`).
    Past,
    /// `2h` means two hours from now (`--until`).
    Future,
}

/// The longest duration accepted anywhere (about 100 years).
const MAX_SECONDS: i64 = 100 * 366 * 86_400;

const DURATION_HELP: &str =
    "expected a duration such as 15m, 1h, 1d or 1h30m (units: s, m, h, d, w)";

/// Parses `15m`, `1h`, `1d`, `1h30m`, `90s`, `2w` into a duration.
pub fn parse_duration(input: &str) -> Result<TimeDelta, String> {
    let s = input.trim().to_ascii_lowercase();
    if s.is_empty() {
        return Err(format!("empty duration: {DURATION_HELP}"));
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(format!("{input:?}: {DURATION_HELP}")),
        };
        if digits.is_empty() {
            return Err(format!(
                "{input:?}: a number must come before {c:?}; {DURATION_HELP}"
            ));
        }
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("{input:?}: number too large"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= MAX_SECONDS)
            .ok_or_else(|| format!("{input:?}: longer than 100 years"))?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "{input:?}: missing unit after {digits}; {DURATION_HELP}"
        ));
    }
    Ok(TimeDelta::seconds(total))
}

/// Parses a positive window length (e.g. `15m`) into whole seconds.
pub fn parse_window_seconds(input: &str) -> Result<u32, String> {
    let d = parse_duration(input)?;
    let secs = d.num_seconds();
    if secs <= 0 {
        return Err(format!(
            "{input:?}: the window must be longer than zero, e.g. 15m or 1h"
        ));
    }
    u32::try_from(secs).map_err(|_| format!("{input:?}: too long for a window (at most 49710d)"))
}

fn example(dir: Direction) -> &'static str {
    match dir {
        Direction::Past => {
            "expected a time such as 2026-11-23T18:00:00Z, \"2026-11-23 18:00\" (local), now, \
             or a duration ago such as 2h or 1d"
        }
        Direction::Future => {
            "expected a time such as 2026-11-23T18:00:00Z, \"2026-11-23 18:00\" (local), now, \
             or a duration from now such as +2h, 90m or 1d"
        }
    }
}

/// Parses a TIME argument relative to `now` in the local zone `tz`.
pub fn parse_time<Tz: TimeZone>(
    input: &str,
    dir: Direction,
    now: DateTime<Utc>,
    tz: &Tz,
) -> Result<DateTime<Utc>, String>
where
    Tz::Offset: std::fmt::Display,
{
    let s = input.trim();
    if s.is_empty() {
        return Err(format!("empty time: {}", example(dir)));
    }
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    // Relative: +2h, -2h, 2h.
    let (sign, rest) = match s.as_bytes()[0] {
        b'+' => (Some(Direction::Future), &s[1..]),
        b'-' => (Some(Direction::Past), &s[1..]),
        _ => (None, s),
    };
    let looks_relative = rest.chars().next().is_some_and(|c| c.is_ascii_digit())
        && rest.chars().last().is_some_and(|c| c.is_ascii_alphabetic())
        && !rest.contains(['-', ':', ' ', 'T']);
    if sign.is_some() || looks_relative {
        let d = parse_duration(rest).map_err(|e| format!("{e}; {}", example(dir)))?;
        let shifted = match sign.unwrap_or(dir) {
            Direction::Past => now.checked_sub_signed(d),
            Direction::Future => now.checked_add_signed(d),
        };
        return shifted.ok_or_else(|| format!("{input:?} is out of range"));
    }
    // Absolute with an offset.
    const OFFSET_FORMATS: [&str; 3] = [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%dT%H:%M%:z",
    ];
    let with_offset = DateTime::parse_from_rfc3339(s).ok().or_else(|| {
        OFFSET_FORMATS
            .iter()
            .find_map(|f| DateTime::parse_from_str(s, f).ok())
    });
    if let Some(t) = with_offset {
        return Ok(t.with_timezone(&Utc));
    }
    if let Some(rest) = s.strip_suffix(['Z', 'z'])
        && let Some(naive) = parse_naive(rest)
    {
        return Ok(naive.and_utc());
    }
    // Local wall-clock time.
    let naive = parse_naive(s).ok_or_else(|| format!("{input:?}: {}", example(dir)))?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Err(format!(
            "{input:?} happens twice in the local zone (a clock change: offset {} or {}); \
             give the offset, e.g. {}",
            a.offset(),
            b.offset(),
            a.to_rfc3339()
        )),
        LocalResult::None => Err(format!(
            "{input:?} does not exist in the local zone (skipped by a clock change); \
             give a time with an offset, e.g. 2026-11-23T18:00:00+01:00"
        )),
    }
}

/// `YYYY-MM-DD[( |T)HH:MM[:SS]]` without an offset.
fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    const FORMATS: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// clap value parser for `--since`-like flags (unsigned durations are ago).
pub fn since_arg(s: &str) -> Result<DateTime<Utc>, String> {
    parse_time(s, Direction::Past, Utc::now(), &Local)
}

/// clap value parser for `--until`-like flags (unsigned durations are ahead).
pub fn until_arg(s: &str) -> Result<DateTime<Utc>, String> {
    parse_time(s, Direction::Future, Utc::now(), &Local)
}

/// clap value parser for `--window`.
pub fn window_arg(s: &str) -> Result<u32, String> {
    parse_window_seconds(s)
}

/// Checks that `since` is not after `until` when both are given.
pub fn check_range(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<(), String> {
    match (since, until) {
        (Some(s), Some(u)) if s > u => Err(format!(
            "--since ({}) is after --until ({})",
            s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;
    use chrono_tz::Europe::Berlin;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), TimeDelta::minutes(15));
        assert_eq!(parse_duration("1h30m").unwrap(), TimeDelta::minutes(90));
        assert_eq!(parse_duration("1D").unwrap(), TimeDelta::days(1));
        assert_eq!(parse_duration("2w").unwrap(), TimeDelta::days(14));
        assert_eq!(parse_duration("0s").unwrap(), TimeDelta::zero());
        for bad in [
            "",
            "h",
            "15",
            "1x",
            "1h30",
            "-1h",
            "99999999999999999999h",
            "100000w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn windows() {
        assert_eq!(parse_window_seconds("15m"), Ok(900));
        assert_eq!(parse_window_seconds("1d"), Ok(86_400));
        assert!(
            parse_window_seconds("0m")
                .unwrap_err()
                .contains("longer than zero")
        );
        assert!(parse_window_seconds("1000000d").is_err());
    }

    #[test]
    fn relative_times_follow_the_flag() {
        let tz = Utc;
        let past = Direction::Past;
        let future = Direction::Future;
        assert_eq!(parse_time("now", past, now(), &tz), Ok(now()));
        assert_eq!(
            parse_time("2h", past, now(), &tz),
            Ok(at(2026, 11, 23, 10, 0, 0))
        );
        assert_eq!(
            parse_time("2h", future, now(), &tz),
            Ok(at(2026, 11, 23, 14, 0, 0))
        );
        assert_eq!(
            parse_time("+90m", future, now(), &tz),
            Ok(at(2026, 11, 23, 13, 30, 0))
        );
        assert_eq!(
            parse_time("+1d", past, now(), &tz),
            Ok(at(2026, 11, 24, 12, 0, 0))
        );
        assert_eq!(
            parse_time("-1d", future, now(), &tz),
            Ok(at(2026, 11, 22, 12, 0, 0))
        );
    }

    #[test]
    fn absolute_times() {
        let d = Direction::Future;
        assert_eq!(
            parse_time("2026-11-23T18:00:00Z", d, now(), &Berlin),
            Ok(at(2026, 11, 23, 18, 0, 0))
        );
        assert_eq!(
            parse_time("2026-11-23T18:00:00+01:00", d, now(), &Utc),
            Ok(at(2026, 11, 23, 17, 0, 0))
        );
        assert_eq!(
            parse_time("2026-11-23 18:00+01:00", d, now(), &Utc),
            Ok(at(2026, 11, 23, 17, 0, 0))
        );
        assert_eq!(
            parse_time("2026-11-23T18:00Z", d, now(), &Berlin),
            Ok(at(2026, 11, 23, 18, 0, 0))
        );
    }

    #[test]
    fn local_times_use_the_given_zone() {
        let d = Direction::Future;
        // Berlin is UTC+1 in November, UTC+2 in July.
        assert_eq!(
            parse_time("2026-11-23 18:00", d, now(), &Berlin),
            Ok(at(2026, 11, 23, 17, 0, 0))
        );
        assert_eq!(
            parse_time("2026-07-01 18:00:30", d, now(), &Berlin),
            Ok(at(2026, 7, 1, 16, 0, 30))
        );
        assert_eq!(
            parse_time("2026-11-23T18:00", d, now(), &Berlin),
            Ok(at(2026, 11, 23, 17, 0, 0))
        );
        assert_eq!(
            parse_time("2026-11-24", d, now(), &Berlin),
            Ok(at(2026, 11, 23, 23, 0, 0))
        );
        let plus5 = FixedOffset::east_opt(5 * 3600).unwrap();
        assert_eq!(
            parse_time("2026-11-23 18:00", d, now(), &plus5),
            Ok(at(2026, 11, 23, 13, 0, 0))
        );
    }

    #[test]
    fn clock_changes_are_named() {
        let d = Direction::Future;
        // 2026-03-29 02:30 does not exist in Berlin; 2026-10-25 02:30 happens twice.
        let gap = parse_time("2026-03-29 02:30", d, now(), &Berlin).unwrap_err();
        assert!(gap.contains("does not exist"), "{gap}");
        let twice = parse_time("2026-10-25 02:30", d, now(), &Berlin).unwrap_err();
        assert!(
            twice.contains("twice") && twice.contains("+02:00"),
            "{twice}"
        );
    }

    #[test]
    fn errors_show_an_example() {
        for bad in [
            "",
            "tomorrow",
            "2026-13-01",
            "2026-11-23 25:00",
            "18:00",
            "+",
            "+2x",
            "€",
        ] {
            let e = parse_time(bad, Direction::Past, now(), &Utc).unwrap_err();
            assert!(
                e.contains("2026-11-23T18:00:00Z") || e.contains("duration"),
                "{bad}: {e}"
            );
        }
        let e = parse_time("soon", Direction::Future, now(), &Utc).unwrap_err();
        assert!(e.contains("+2h"), "{e}");
    }

    #[test]
    fn ranges() {
        let (a, b) = (at(2026, 1, 1, 0, 0, 0), at(2026, 1, 2, 0, 0, 0));
        assert!(check_range(Some(a), Some(b)).is_ok());
        assert!(check_range(Some(b), None).is_ok());
        assert!(
            check_range(Some(b), Some(a))
                .unwrap_err()
                .contains("--since")
        );
    }
}
