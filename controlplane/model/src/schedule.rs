//! One site's day for one algorithm: slots of `start`-`end` local time, each
//! naming a pool, end exclusive, midnight crossover allowed. A day is only
//! built through [`DaySchedule::new`], which applies every seed rule (no gaps,
//! no overlaps, the whole day covered) and reports every problem at once.
//!
//! OWNER: helper "schedule-config" fills in validation and its tests.

use crate::problem::Problem;
use crate::timeofday::TimeOfDay;

/// One scheduled slot. `start == end` is invalid; `start > end` crosses
/// midnight (22:00-02:00); `end` may be `24:00`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub pool: String,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
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
}

impl DaySchedule {
    /// Validates a whole day: every slot well formed, no minute covered twice,
    /// no minute uncovered. Returns every problem at once; `field` is the
    /// `field` argument (e.g. `servers.sha256` or `schedule`).
    pub fn new(field: &str, mut slots: Vec<Slot>) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        if slots.is_empty() {
            problems.push(Problem::new(field, "no scheduled pool: the day must be covered from 00:00 to 24:00"));
            return Err(problems);
        }
        // owner[m] = index of the slot covering minute m.
        let mut owner: Vec<Option<usize>> = vec![None; 1440];
        for (i, s) in slots.iter().enumerate() {
            if s.start == s.end {
                problems.push(Problem::new(
                    field,
                    format!("{} {}-{}: start and end are equal (an empty slot)", s.pool, s.start, s.end),
                ));
                continue;
            }
            if s.start == TimeOfDay::END_OF_DAY {
                problems.push(Problem::new(field, format!("{} {}-{}: 24:00 is only valid as an end", s.pool, s.start, s.end)));
                continue;
            }
            for m in minutes(s) {
                match owner[m] {
                    None => owner[m] = Some(i),
                    Some(j) if j != i => {
                        let o = &slots[j];
                        let msg = format!(
                            "{} {}-{} overlaps {} {}-{}",
                            o.pool, o.start, o.end, s.pool, s.start, s.end
                        );
                        if !problems.iter().any(|p: &Problem| p.message == msg) {
                            problems.push(Problem::new(field, msg));
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        // Gaps, as runs of uncovered minutes.
        let mut m = 0;
        while m < 1440 {
            if owner[m].is_none() {
                let start = m;
                while m < 1440 && owner[m].is_none() {
                    m += 1;
                }
                let (a, b) = (tod(start), tod(m));
                problems.push(Problem::new(field, format!("gap {a}-{b}: no pool is scheduled from {a} to {b}")));
            } else {
                m += 1;
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        slots.sort_by_key(|s| s.start);
        Ok(DaySchedule { slots })
    }

    /// The pool scheduled at a local minute of the day (`0..1440`).
    pub fn pool_at(&self, minute: u16) -> &str {
        for s in &self.slots {
            if minutes(s).any(|m| m == usize::from(minute)) {
                return &s.pool;
            }
        }
        // A validated day covers every minute.
        &self.slots[0].pool
    }
}

fn tod(m: usize) -> TimeOfDay {
    TimeOfDay::from_minutes(m as u16).unwrap_or(TimeOfDay::END_OF_DAY)
}

/// The minutes a slot covers, wrapping past midnight.
fn minutes(s: &Slot) -> impl Iterator<Item = usize> {
    let (a, b) = (usize::from(s.start.minutes()), usize::from(s.end.minutes()));
    let (first, second) = if a < b { (a..b, 0..0) } else { (a..1440, 0..b) };
    first.chain(second)
}
