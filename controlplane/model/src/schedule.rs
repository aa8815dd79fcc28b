//! One site's day for one algorithm: slots of `start`-`end` local time, each
//! naming a pool or a weighted split between several (issue 14), end
//! exclusive, midnight crossover allowed. A day is only
//! built through [`DaySchedule::new`], which applies every seed rule (no gaps,
//! no overlaps, the whole day covered) and reports every problem at once,
//! naming the pools and times involved.

use std::fmt;

use crate::problem::Problem;
use crate::timeofday::TimeOfDay;

const DAY: u16 = 1440;

/// One scheduled slot. `start == end` is invalid; `start > end` crosses
/// midnight (22:00-02:00); `end` may be `24:00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The pool, or a split's first pool (what "the scheduled pool" means
    /// where one pool is asked for: breakers, switches, the timeline).
    pub pool: String,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    /// A weighted window: its pools and weights, the first being `pool`;
    /// empty for a slot of one pool.
    pub split: Vec<PoolWeight>,
}

/// One pool of a weighted window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolWeight {
    pub pool: String,
    pub weight: u32,
}

/// The largest weight (weights are parts: 70/30, 98/2, 1/1...).
pub const MAX_WEIGHT: u32 = 1_000_000;

impl Slot {
    pub fn new(pool: impl Into<String>, start: TimeOfDay, end: TimeOfDay) -> Self {
        Slot {
            pool: pool.into(),
            start,
            end,
            split: Vec::new(),
        }
    }

    /// A window split between pools by weight; a single pool is a plain
    /// slot.
    pub fn weighted(mut split: Vec<PoolWeight>, start: TimeOfDay, end: TimeOfDay) -> Self {
        let pool = split.first().map(|p| p.pool.clone()).unwrap_or_default();
        if split.len() == 1 {
            split.clear();
        }
        Slot {
            pool,
            start,
            end,
            split,
        }
    }

    /// Every pool of the slot (one, or the split's).
    pub fn pools(&self) -> impl Iterator<Item = &str> {
        let one = self.split.is_empty().then_some(self.pool.as_str());
        one.into_iter()
            .chain(self.split.iter().map(|p| p.pool.as_str()))
    }

    /// The slot's pools as written: `btc` or `btc:70,bch:30`.
    pub fn pools_text(&self) -> String {
        if self.split.is_empty() {
            self.pool.clone()
        } else {
            self.split
                .iter()
                .map(|p| format!("{}:{}", p.pool, p.weight))
                .collect::<Vec<_>>()
                .join(",")
        }
    }

    /// Whether the slot covers a local minute of the day (`0..1440`); the end
    /// is exclusive and a slot with `start > end` wraps past midnight.
    pub fn contains(&self, minute: u16) -> bool {
        let (a, b) = (self.start.minutes(), self.end.minutes());
        if a < b {
            (a..b).contains(&minute)
        } else {
            minute >= a || minute < b
        }
    }

    /// The slot as half-open minute ranges within `0..1440` (two when it
    /// crosses midnight).
    fn ranges(&self) -> impl Iterator<Item = (u16, u16)> {
        let (a, b) = (self.start.minutes().min(DAY), self.end.minutes());
        let (first, second) = if a < b {
            ((a, b), (0, 0))
        } else {
            ((a, DAY), (0, b))
        };
        [first, second].into_iter().filter(|(x, y)| x < y)
    }

    fn is_well_formed(&self) -> bool {
        self.start != self.end && self.start != TimeOfDay::END_OF_DAY
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}-{}", self.pools_text(), self.start, self.end)
    }
}

/// Adds one pool of a day being read back (the store's rows, the
/// contract's entries): with a weight it joins the weighted window just
/// before it when that window has the same times, else it starts a slot;
/// weight 0 is a window of that pool alone.
pub fn push_part(day: &mut Vec<Slot>, pool: &str, weight: u32, start: TimeOfDay, end: TimeOfDay) {
    let part = PoolWeight {
        pool: pool.to_string(),
        weight,
    };
    match day.last_mut() {
        Some(last)
            if weight > 0 && !last.split.is_empty() && (last.start, last.end) == (start, end) =>
        {
            last.split.push(part)
        }
        _ if weight > 0 => day.push(Slot {
            pool: pool.to_string(),
            start,
            end,
            split: vec![part],
        }),
        _ => day.push(Slot::new(pool, start, end)),
    }
}

/// Parses a window's pools as `ctl` takes them: `btc`, or `btc:70,bch:30`.
/// Each problem names the part it is about.
pub fn parse_pools(text: &str) -> Result<Vec<PoolWeight>, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() == 1 && !parts[0].contains(':') {
        if parts[0].is_empty() {
            return Err("no pool named".into());
        }
        return Ok(vec![PoolWeight {
            pool: parts[0].to_string(),
            weight: 1,
        }]);
    }
    let mut out: Vec<PoolWeight> = Vec::new();
    for part in parts {
        let Some((pool, weight)) = part.split_once(':') else {
            return Err(format!(
                "{part:?} has no weight: in a split every pool has one, as in btc:70,bch:30"
            ));
        };
        let pool = pool.trim();
        if pool.is_empty() {
            return Err(format!("{part:?} names no pool"));
        }
        let weight = match weight.trim().parse::<u32>() {
            Ok(w) if (1..=MAX_WEIGHT).contains(&w) => w,
            _ => {
                return Err(format!(
                    "{part:?}: the weight must be a whole number from 1 to {MAX_WEIGHT}"
                ));
            }
        };
        if out.iter().any(|p| p.pool == pool) {
            return Err(format!("pool {pool} is named twice in one window"));
        }
        out.push(PoolWeight {
            pool: pool.to_string(),
            weight,
        });
    }
    Ok(out)
}

/// A validated day: the slots cover every minute of the day exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySchedule {
    /// Sorted by start time.
    slots: Vec<Slot>,
}

impl DaySchedule {
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Validates a whole day: every slot well formed, no minute covered twice,
    /// no minute uncovered. Returns every problem at once; `field` is the
    /// `field` of each problem (e.g. `servers.sha256` or `schedule`).
    pub fn new(field: &str, mut slots: Vec<Slot>) -> Result<Self, Vec<Problem>> {
        if slots.is_empty() {
            return Err(vec![Problem::new(
                field,
                "no scheduled pool: the day must be covered from 00:00 to 24:00",
            )]);
        }
        let mut problems = slot_problems(field, &slots);
        problems.extend(overlap_problems(field, &slots));
        problems.extend(gap_problems(field, &slots));
        if !problems.is_empty() {
            return Err(problems);
        }
        slots.sort_by_key(|s| s.start);
        Ok(DaySchedule { slots })
    }

    /// The slot in force at a local minute of the day (`0..1440`).
    pub fn slot_at(&self, minute: u16) -> &Slot {
        let minute = minute % DAY;
        self.slots
            .iter()
            .find(|s| s.contains(minute))
            // Unreachable for a validated day, which covers every minute.
            .unwrap_or(&self.slots[0])
    }

    /// The pool scheduled at a local minute of the day (`0..1440`).
    pub fn pool_at(&self, minute: u16) -> &str {
        let minute = minute % DAY;
        match self.slots.iter().find(|s| s.contains(minute)) {
            Some(s) => &s.pool,
            // Unreachable for a validated day, which covers every minute.
            None => &self.slots[0].pool,
        }
    }
}

/// Slots that cannot take part in a day at all: empty, starting at 24:00,
/// or a split with a zero weight or a pool twice.
fn slot_problems(field: &str, slots: &[Slot]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for s in slots {
        for (i, p) in s.split.iter().enumerate() {
            if !(1..=MAX_WEIGHT).contains(&p.weight) {
                problems.push(Problem::new(
                    field,
                    format!(
                        "{s}: the weight of {} must be from 1 to {MAX_WEIGHT}",
                        p.pool
                    ),
                ));
            }
            if s.split[..i].iter().any(|q| q.pool == p.pool) {
                problems.push(Problem::new(
                    field,
                    format!("{s}: pool {} is named twice in one window", p.pool),
                ));
            }
        }
        if s.start == s.end {
            problems.push(Problem::new(
                field,
                format!("{s}: start and end are equal (an empty slot)"),
            ));
        } else if s.start == TimeOfDay::END_OF_DAY {
            problems.push(Problem::new(
                field,
                format!("{s}: 24:00 is the end of the day and only valid as an end (a slot starting at midnight starts at 00:00)"),
            ));
        }
    }
    problems
}

/// Every pair of well-formed slots that cover a minute in common, with the
/// times covered twice, e.g. `btc 00:00-12:00 overlaps bch 11:00-24:00
/// (11:00-12:00 is covered by both)`.
pub(crate) fn overlap_problems(field: &str, slots: &[Slot]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let good: Vec<&Slot> = slots.iter().filter(|s| s.is_well_formed()).collect();
    for (i, a) in good.iter().enumerate() {
        for b in &good[i + 1..] {
            let mut common = [false; DAY as usize];
            let mut any = false;
            for (a0, a1) in a.ranges() {
                for (b0, b1) in b.ranges() {
                    for m in a0.max(b0)..a1.min(b1) {
                        common[usize::from(m)] = true;
                        any = true;
                    }
                }
            }
            if any {
                let times: Vec<String> = runs(&common)
                    .iter()
                    .map(|(x, y)| format!("{}-{}", tod(*x), tod(*y)))
                    .collect();
                problems.push(Problem::new(
                    field,
                    format!("{a} overlaps {b} ({} covered by both)", times.join(" and ")),
                ));
            }
        }
    }
    problems
}

/// Runs of minutes no well-formed slot covers, each naming the slots on
/// either side, e.g. `gap 12:00-13:00: no pool is scheduled between btc
/// 00:00-12:00 and bch 13:00-24:00`.
fn gap_problems(field: &str, slots: &[Slot]) -> Vec<Problem> {
    let mut covered = [false; DAY as usize];
    let good: Vec<&Slot> = slots.iter().filter(|s| s.is_well_formed()).collect();
    for s in &good {
        for (a, b) in s.ranges() {
            covered[usize::from(a)..usize::from(b)]
                .iter_mut()
                .for_each(|c| *c = true);
        }
    }
    let uncovered: Vec<bool> = covered.iter().map(|c| !c).collect();
    let gaps = runs(&uncovered);
    if good.is_empty() {
        return vec![Problem::new(
            field,
            "gap 00:00-24:00: no pool is scheduled at any time of the day",
        )];
    }
    gaps.iter()
        .map(|&(a, b)| {
            let before = good.iter().find(|s| s.contains((a + DAY - 1) % DAY));
            let after = good.iter().find(|s| s.contains(b % DAY));
            let (ta, tb) = (tod(a), tod(b));
            let around = match (before, after) {
                (Some(x), Some(y)) if x == y => format!("nothing is scheduled outside {x}"),
                (Some(x), Some(y)) => format!("no pool is scheduled between {x} and {y}"),
                _ => format!("no pool is scheduled from {ta} to {tb}"),
            };
            Problem::new(field, format!("gap {ta}-{tb}: {around}"))
        })
        .collect()
}

/// Runs of `true` in a day of minutes as `(start, end)` minute pairs, a run
/// touching both 00:00 and 24:00 reported once as crossing midnight
/// (`end < start`).
fn runs(minutes: &[bool]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    let mut m = 0u16;
    while m < DAY {
        if minutes[usize::from(m)] {
            let start = m;
            while m < DAY && minutes[usize::from(m)] {
                m += 1;
            }
            out.push((start, m));
        } else {
            m += 1;
        }
    }
    if out.len() >= 2 && out[0].0 == 0 && out[out.len() - 1].1 == DAY {
        let (_, first_end) = out.remove(0);
        if let Some(last) = out.last_mut() {
            last.1 = first_end;
        }
    }
    out
}

fn tod(m: u16) -> TimeOfDay {
    TimeOfDay::from_minutes(m).unwrap_or(TimeOfDay::END_OF_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(pool: &str, start: &str, end: &str) -> Slot {
        Slot::new(
            pool,
            TimeOfDay::parse(start).unwrap(),
            TimeOfDay::parse(end).unwrap(),
        )
    }

    fn messages(r: Result<DaySchedule, Vec<Problem>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn two_halves_cover_the_day() {
        let day = DaySchedule::new(
            "servers.sha256",
            vec![slot("bch", "12:00", "24:00"), slot("btc", "00:00", "12:00")],
        )
        .unwrap();
        assert_eq!(day.slots()[0].pool, "btc");
        assert_eq!(day.pool_at(0), "btc");
        assert_eq!(day.pool_at(719), "btc");
        // End exclusive: 12:00 belongs to the next slot only.
        assert_eq!(day.pool_at(720), "bch");
        assert_eq!(day.pool_at(1439), "bch");
    }

    #[test]
    fn midnight_crossover_is_allowed() {
        let day = DaySchedule::new(
            "s",
            vec![
                slot("night", "22:00", "06:00"),
                slot("day", "06:00", "22:00"),
            ],
        )
        .unwrap();
        assert_eq!(day.pool_at(23 * 60), "night");
        assert_eq!(day.pool_at(0), "night");
        assert_eq!(day.pool_at(5 * 60 + 59), "night");
        assert_eq!(day.pool_at(6 * 60), "day");
        assert_eq!(day.pool_at(22 * 60 - 1), "day");
    }

    #[test]
    fn one_pool_all_day_either_way() {
        assert!(DaySchedule::new("s", vec![slot("xmr", "00:00", "24:00")]).is_ok());
        // 06:00-06:00 is empty, not all day.
        let m = messages(DaySchedule::new("s", vec![slot("xmr", "06:00", "06:00")]));
        assert!(
            m[0].contains("xmr 06:00-06:00: start and end are equal"),
            "{m:?}"
        );
    }

    #[test]
    fn overlap_names_both_slots_and_the_common_times() {
        let m = messages(DaySchedule::new(
            "s",
            vec![slot("btc", "00:00", "12:00"), slot("bch", "11:00", "24:00")],
        ));
        assert_eq!(
            m,
            vec!["btc 00:00-12:00 overlaps bch 11:00-24:00 (11:00-12:00 covered by both)"]
        );
    }

    #[test]
    fn overlap_across_midnight() {
        let m = messages(DaySchedule::new(
            "s",
            vec![
                slot("a", "22:00", "02:00"),
                slot("b", "23:00", "01:00"),
                slot("c", "02:00", "22:00"),
            ],
        ));
        assert_eq!(
            m,
            vec!["a 22:00-02:00 overlaps b 23:00-01:00 (23:00-01:00 covered by both)"]
        );
    }

    #[test]
    fn gap_names_neighbours() {
        let m = messages(DaySchedule::new(
            "s",
            vec![slot("btc", "00:00", "12:00"), slot("bch", "13:00", "24:00")],
        ));
        assert_eq!(
            m,
            vec![
                "gap 12:00-13:00: no pool is scheduled between btc 00:00-12:00 and bch 13:00-24:00"
            ]
        );
    }

    #[test]
    fn day_not_fully_covered() {
        let m = messages(DaySchedule::new("s", vec![slot("btc", "00:00", "12:00")]));
        assert_eq!(
            m,
            vec!["gap 12:00-24:00: nothing is scheduled outside btc 00:00-12:00"]
        );
        // A gap across midnight is one gap.
        let m = messages(DaySchedule::new("s", vec![slot("btc", "01:00", "23:00")]));
        assert_eq!(
            m,
            vec!["gap 23:00-01:00: nothing is scheduled outside btc 01:00-23:00"]
        );
    }

    #[test]
    fn twenty_four_is_only_an_end() {
        let m = messages(DaySchedule::new(
            "s",
            vec![slot("a", "24:00", "12:00"), slot("b", "00:00", "24:00")],
        ));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].contains("a 24:00-12:00: 24:00 is the end of the day"),
            "{m:?}"
        );
    }

    #[test]
    fn empty_day_and_every_problem_at_once() {
        let m = messages(DaySchedule::new("s", vec![]));
        assert!(m[0].contains("no scheduled pool"));
        let m = messages(DaySchedule::new(
            "s",
            vec![
                slot("a", "00:00", "10:00"),
                slot("b", "09:00", "12:00"),
                slot("c", "13:00", "13:00"),
                slot("d", "14:00", "24:00"),
            ],
        ));
        assert_eq!(m.len(), 3, "{m:?}");
    }

    #[test]
    fn a_pool_may_have_two_slots() {
        let day = DaySchedule::new(
            "s",
            vec![
                slot("a", "00:00", "06:00"),
                slot("b", "06:00", "18:00"),
                slot("a", "18:00", "24:00"),
            ],
        )
        .unwrap();
        assert_eq!(day.pool_at(20 * 60), "a");
        assert_eq!(day.pool_at(1440 + 6 * 60), "b");
    }
}
