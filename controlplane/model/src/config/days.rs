//! Building one algorithm's day from named slots, as a config file gives it
//! (the servers' `start`/`end`, or a site's `schedule:`) or as `ctl schedule
//! set POOL@HH:MM-HH:MM ...` does: each slot must name an enabled pool of
//! that algorithm, and the slots together must make a valid
//! [`DaySchedule`]. Every problem is reported at once.

use super::pool::PoolDef;
use super::reader::Problems;
use crate::algo::Algorithm;
use crate::problem::Problem;
use crate::schedule::{DaySchedule, PoolWeight, Slot, overlap_problems, parse_pools};
use crate::timeofday::TimeOfDay;

/// One named slot and the fields its problems are reported under.
pub(crate) struct DayEntry {
    pub pool: String,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    /// Where a problem with the pool name goes (e.g. `...[1].server`).
    pub pool_field: String,
    /// Where a problem with the slot as a whole goes (e.g. `...[1]`).
    pub slot_field: String,
    /// Where a problem with the start goes (e.g. `...[1].start`).
    pub start_field: String,
    /// False for an entry whose times could not be read (already reported):
    /// only its pool is checked.
    pub times_known: bool,
    /// Entries with the same times and a weight form one weighted window.
    pub weight: Option<u32>,
}

/// The word for a pool in messages: "server" in config files, "pool" in ctl.
#[derive(Clone, Copy)]
pub(crate) struct Noun(pub &'static str);

/// Checks each entry's pool (known, of `algorithm`, enabled) and times, then
/// the day as a whole. `broken` (some entry could not even be read) skips the
/// gap check, whose findings would only echo that problem; overlaps among the
/// readable entries are still reported.
pub(crate) fn build_day(
    field: &str,
    algorithm: Algorithm,
    entries: &[DayEntry],
    pools: &[PoolDef],
    noun: Noun,
    broken: bool,
) -> Result<DaySchedule, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut good = Vec::new();
    for e in entries {
        let mut ok = e.pool.is_empty()
            || check_pool(
                &e.pool_field,
                algorithm,
                &e.pool,
                pools,
                noun,
                &mut problems,
            );
        if !e.times_known {
            continue;
        }
        if e.start == TimeOfDay::END_OF_DAY {
            problems.push(Problem::new(
                &e.start_field,
                format!("{} {}-{}: 24:00 is the end of the day and only valid as an end (a slot from midnight starts at 00:00)", e.pool, e.start, e.end),
            ));
            ok = false;
        } else if e.start == e.end {
            problems.push(Problem::new(
                &e.slot_field,
                format!("{} {}-{}: start and end are equal (an empty slot); a whole day is 00:00 to 24:00", e.pool, e.start, e.end),
            ));
            ok = false;
        }
        if ok && !e.pool.is_empty() {
            match e.weight {
                None if weighted_times(entries, e) => problems.push(Problem::new(
                    &e.slot_field,
                    format!(
                        "{} {}-{}: shares its window with weighted {}s; give it a `weight` too",
                        e.pool, e.start, e.end, noun.0
                    ),
                )),
                None => good.push(Slot::new(e.pool.clone(), e.start, e.end)),
                Some(w) => {
                    let pw = PoolWeight {
                        pool: e.pool.clone(),
                        weight: w,
                    };
                    let same = good
                        .iter_mut()
                        .find(|s| !s.split.is_empty() && s.start == e.start && s.end == e.end);
                    match same {
                        Some(slot) => slot.split.push(pw),
                        None => good.push(Slot {
                            split: vec![pw],
                            ..Slot::new(e.pool.clone(), e.start, e.end)
                        }),
                    }
                }
            }
        }
    }
    // A "window" of one weighted entry is a plain slot.
    for s in &mut good {
        if s.split.len() == 1 {
            s.split.clear();
        }
    }
    if problems.is_empty() && !broken {
        return DaySchedule::new(field, good);
    }
    problems.extend(overlap_problems(field, &good));
    Err(problems)
}

/// Whether another entry with `e`'s times has a weight (then `e` is part of
/// a weighted window and needs one too).
fn weighted_times(entries: &[DayEntry], e: &DayEntry) -> bool {
    entries
        .iter()
        .any(|o| o.weight.is_some() && o.start == e.start && o.end == e.end)
}

/// Whether `name` is an enabled pool of `algorithm`; otherwise reports why not.
fn check_pool(
    field: &str,
    algorithm: Algorithm,
    name: &str,
    pools: &[PoolDef],
    noun: Noun,
    p: &mut Problems,
) -> bool {
    let Noun(noun) = noun;
    let same = pools
        .iter()
        .find(|d| d.name == name && d.algorithm == algorithm);
    let msg = match same.or_else(|| pools.iter().find(|d| d.name == name)) {
        Some(d) if d.algorithm != algorithm => {
            format!(
                "{noun} {name:?} is a {} {noun}, not {algorithm}",
                d.algorithm
            )
        }
        Some(d) if !d.enabled => {
            format!("{noun} {name:?} is disabled; enable it or schedule another {noun}")
        }
        Some(_) => return true,
        None => {
            let known: Vec<&str> = pools
                .iter()
                .filter(|d| d.algorithm == algorithm)
                .map(|d| d.name.as_str())
                .collect();
            if known.is_empty() {
                format!("unknown {noun} {name:?} (there are no {algorithm} {noun}s)")
            } else {
                format!(
                    "unknown {noun} {name:?} ({algorithm} {noun}s: {})",
                    known.join(", ")
                )
            }
        }
    };
    p.push(Problem::new(field, msg));
    false
}

/// Checks a failover list: known, enabled pools of the algorithm, each once.
pub(crate) fn check_failover(
    field: &str,
    algorithm: Algorithm,
    names: &[String],
    pools: &[PoolDef],
    p: &mut Problems,
) {
    for (i, name) in names.iter().enumerate() {
        let item = format!("{field}[{i}]");
        if names[..i].contains(name) {
            p.push(Problem::new(
                item,
                format!("server {name:?} is listed twice"),
            ));
        } else {
            check_pool(&item, algorithm, name, pools, Noun("server"), p);
        }
    }
}

/// Validates a day given as `(pool, start, end)` triples, e.g. from
/// `ctl schedule set POOL@HH:MM-HH:MM ...`: the same rules and messages as a
/// config file's schedule, each problem under `field[i]` (or `field` for the
/// day as a whole). `pool` may be a weighted window, `btc:70,bch:30`.
pub fn validate_schedule_entries(
    field: &str,
    algorithm: Algorithm,
    entries: &[(String, String, String)],
    pools: &[PoolDef],
) -> Result<DaySchedule, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut day = Vec::new();
    for (i, (pool, start, end)) in entries.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let parse = |which: &str, t: &str, problems: &mut Problems| {
            TimeOfDay::parse(t)
                .map_err(|e| problems.push(Problem::new(&at, format!("{pool}: {which} {e}"))))
                .ok()
        };
        let (s, e) = (
            parse("start", start, &mut problems),
            parse("end", end, &mut problems),
        );
        let (Some(start), Some(end)) = (s, e) else {
            continue;
        };
        let split = match parse_pools(pool) {
            Ok(split) => split,
            Err(e) => {
                problems.push(Problem::new(&at, format!("{pool}: {e}")));
                continue;
            }
        };
        let weighted = split.len() > 1 || pool.contains(':');
        for pw in split {
            day.push(DayEntry {
                pool: pw.pool,
                start,
                end,
                pool_field: at.clone(),
                slot_field: at.clone(),
                start_field: at.clone(),
                times_known: true,
                weight: weighted.then_some(pw.weight),
            });
        }
    }
    let broken = !problems.is_empty();
    match build_day(field, algorithm, &day, pools, Noun("pool"), broken) {
        Ok(day) if problems.is_empty() => Ok(day),
        Ok(_) => Err(problems),
        Err(more) => {
            problems.extend(more);
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pool::PoolMode;
    use crate::config::servers::Server;

    fn pool(name: &str, algorithm: Algorithm, enabled: bool) -> PoolDef {
        let server = Server {
            name: name.to_string(),
            enabled,
            host: "127.0.0.1".to_string(),
            port: 3333,
            username: "u".to_string(),
            password: "x".into(),
            ssl: false,
            connect_timeout: 30,
            retry_interval: 5,
            start: None,
            end: None,
            buffer_percent: None,
            min_difficulty: None,
            max_difficulty: None,
            mode: PoolMode::Aggregate,
            dialect: None,
            sites: Vec::new(),
            weight: None,
        };
        PoolDef::from_server(algorithm, &server)
    }

    fn pools() -> Vec<PoolDef> {
        vec![
            pool("btc", Algorithm::Sha256, true),
            pool("bch", Algorithm::Sha256, true),
            pool("old", Algorithm::Sha256, false),
            pool("xmr", Algorithm::Randomx, true),
        ]
    }

    fn entries(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        list.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn ctl_day_is_validated_as_a_whole() {
        let day = validate_schedule_entries(
            "schedule",
            Algorithm::Sha256,
            &entries(&[("btc", "22:00", "06:00"), ("bch", "06:00", "22:00")]),
            &pools(),
        )
        .unwrap();
        assert_eq!(day.pool_at(0), "btc");
    }

    #[test]
    fn ctl_day_reports_every_problem() {
        let err = validate_schedule_entries(
            "schedule",
            Algorithm::Sha256,
            &entries(&[
                ("btc", "00:00", "12:00:30"),
                ("nope", "12:00", "13:00"),
                ("old", "13:00", "14:00"),
                ("xmr", "14:00", "15:00"),
                ("bch", "24:00", "00:00"),
                ("btc", "10:00", "13:00"),
            ]),
            &pools(),
        )
        .unwrap_err();
        let text: Vec<String> = err.iter().map(|p| p.to_string()).collect();
        assert_eq!(err.len(), 5, "{text:#?}");
        assert!(
            text[0].starts_with("schedule[0]: btc: end \"12:00:30\" has seconds"),
            "{text:#?}"
        );
        assert!(
            text[1].contains("unknown pool \"nope\" (sha256 pools: btc, bch, old)"),
            "{text:#?}"
        );
        assert!(text[2].contains("pool \"old\" is disabled"), "{text:#?}");
        assert!(
            text[3].contains("pool \"xmr\" is a randomx pool, not sha256"),
            "{text:#?}"
        );
        assert!(
            text[4].starts_with("schedule[4]: bch 24:00-00:00: 24:00 is the end of the day"),
            "{text:#?}"
        );
    }

    #[test]
    fn ctl_overlap_and_gap() {
        let err = validate_schedule_entries(
            "schedule",
            Algorithm::Sha256,
            &entries(&[("btc", "00:00", "12:00"), ("bch", "11:00", "23:00")]),
            &pools(),
        )
        .unwrap_err();
        let text: Vec<String> = err.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            text,
            [
                "schedule: btc 00:00-12:00 overlaps bch 11:00-23:00 (11:00-12:00 covered by both)",
                "schedule: gap 23:00-24:00: no pool is scheduled between bch 11:00-23:00 and btc 00:00-12:00",
            ]
        );
    }

    #[test]
    fn failover_lists() {
        let mut p = Vec::new();
        let names = ["bch", "xmr", "bch", "zzz"].map(String::from);
        check_failover(
            "sites[0].failover.sha256",
            Algorithm::Sha256,
            &names,
            &pools(),
            &mut p,
        );
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "sites[0].failover.sha256[1]",
                "sites[0].failover.sha256[2]",
                "sites[0].failover.sha256[3]"
            ]
        );
    }
}
