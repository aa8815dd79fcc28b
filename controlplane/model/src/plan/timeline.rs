//! A day schedule laid onto real time: the UTC instants where the scheduled
//! pool changes, in a site's IANA zone, with the design's DST rules.
//!
//! - A start time that falls in a spring-forward gap takes effect at the
//!   first instant after the gap (the transition instant).
//! - A start time in the repeated fall-back hour takes effect at its FIRST
//!   occurrence only; the schedule does not switch again at the second.
//! - Several starts that land on the same instant (all inside one gap)
//!   collapse into one boundary: the last of them in local order wins.
//! - Adjacent slots with the same pool (or the same weighted pools) are not
//!   a boundary.
//!
//! "The pool scheduled at `t`" is defined as the pool of the latest boundary
//! at or before `t`, so [`boundaries`] and [`scheduled_pool_at`] always agree.
//! The work is per local day and per change point, never per minute.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::schedule::{DaySchedule, Slot};

/// Local days laid out before the first day asked for, so the pool in force
/// at the start of a window is known (a day is at most 26 h from UTC).
const DAYS_BEFORE: u64 = 3;
const DAYS_AFTER: u64 = 2;

/// Instants outside this range are clamped, so local-time arithmetic near
/// chrono's limits can never overflow.
pub(crate) fn clamp_instant(t: DateTime<Utc>) -> DateTime<Utc> {
    let lo = DateTime::from_timestamp(-59_011_459_200, 0).unwrap_or(DateTime::<Utc>::MIN_UTC); // 0100-01-01
    let hi = DateTime::from_timestamp(221_845_392_000, 0).unwrap_or(DateTime::<Utc>::MAX_UTC); // 9000-01-01
    t.clamp(lo, hi)
}

/// Schedule boundaries (where the pool changes) in `[from, to)`, as UTC
/// instants with the pool that starts there, in time order.
pub fn boundaries(
    schedule: &DaySchedule,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, String)> {
    timeline(schedule, tz, from, to)
        .into_iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(t, s)| (t, s.pools_text()))
        .collect()
}

/// The pool the schedule names at instant `t`: the pool of the latest
/// boundary at or before `t` (a boundary instant belongs to the new slot).
pub fn scheduled_pool_at(schedule: &DaySchedule, tz: Tz, t: DateTime<Utc>) -> String {
    let line = timeline(schedule, tz, t, t);
    pool_at(&line, schedule, t).pool.clone()
}

/// The slot in force at `t` on a timeline built by [`timeline`] around `t`.
pub(crate) fn pool_at<'a>(
    line: &[(DateTime<Utc>, &'a Slot)],
    schedule: &'a DaySchedule,
    t: DateTime<Utc>,
) -> &'a Slot {
    let t = clamp_instant(t);
    let i = line.partition_point(|(b, _)| *b <= t);
    match i.checked_sub(1).and_then(|i| line.get(i)) {
        Some((_, p)) => p,
        // No boundary at all: the whole day is one window.
        None => &schedule.slots()[0],
    }
}

/// Every boundary of the local days around `[from, to]` (a few days of margin
/// each side), sorted, collapsed and without same-pool repeats.
pub(crate) fn timeline(
    schedule: &DaySchedule,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, &Slot)> {
    let points = change_points(schedule);
    if points.is_empty() {
        return Vec::new();
    }
    let (from, to) = (clamp_instant(from), clamp_instant(to));
    let to = to.max(from);
    let first = local_date(tz, from).checked_sub_days(chrono::Days::new(DAYS_BEFORE));
    let last = local_date(tz, to).checked_add_days(chrono::Days::new(DAYS_AFTER));
    let (Some(first), Some(last)) = (first, last) else {
        return Vec::new();
    };
    let mut raw = Vec::new();
    for day in first.iter_days().take_while(|d| *d <= last) {
        for &(minute, pool) in &points {
            let naive = day
                .and_time(chrono::NaiveTime::MIN)
                .checked_add_signed(Duration::minutes(i64::from(minute)));
            if let Some(t) = naive.and_then(|n| resolve(tz, n)) {
                raw.push((t, pool));
            }
        }
    }
    // Stable: starts landing on one instant keep their local order.
    raw.sort_by_key(|(t, _)| *t);
    let mut collapsed: Vec<(DateTime<Utc>, &Slot)> = Vec::with_capacity(raw.len());
    for (t, pool) in raw {
        match collapsed.last_mut() {
            Some(last) if last.0 == t => last.1 = pool,
            _ => collapsed.push((t, pool)),
        }
    }
    let mut out: Vec<(DateTime<Utc>, &Slot)> = Vec::with_capacity(collapsed.len());
    let mut previous: Option<&Slot> = None;
    for (t, pool) in collapsed {
        if previous.is_none_or(|p| !same_pools(p, pool)) {
            out.push((t, pool));
        }
        previous = Some(pool);
    }
    out
}

/// Whether two slots send the hashrate to the same pools with the same
/// weights (then the boundary between them is no change).
fn same_pools(a: &Slot, b: &Slot) -> bool {
    a.pool == b.pool && a.split == b.split
}

/// Local minutes of the day where the pools change, with the new slot; a
/// slot whose predecessor (the slot ending where it starts) has the same
/// pools is no change.
fn change_points(schedule: &DaySchedule) -> Vec<(u16, &Slot)> {
    let slots = schedule.slots();
    let mut points: Vec<(u16, &Slot)> = slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let start = s.start.minutes();
            if start >= 1440 {
                return None;
            }
            let previous = slots
                .iter()
                .find(|p| p.end.minutes() % 1440 == start)
                .or_else(|| slots.get((i + slots.len() - 1) % slots.len()))?;
            (!same_pools(previous, s)).then_some((start, s))
        })
        .collect();
    points.sort_by_key(|(m, _)| *m);
    points
}

fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// The instant a local wall-clock time takes effect: itself; the first
/// occurrence when repeated; the end of the gap when skipped.
fn resolve(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => gap_end(tz, naive),
    }
}

/// For a local time skipped by a transition: the transition instant, i.e. the
/// first second whose local time is past `naive`. Found by bisection over
/// whole seconds between two instants whose local times bracket `naive`
/// (offsets are within +-26 h, so +-30 h around `naive` read as UTC does).
fn gap_end(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    let local = |s: i64| DateTime::from_timestamp(s, 0).map(|t| t.with_timezone(&tz).naive_local());
    let guess = naive.and_utc().timestamp();
    let (mut lo, mut hi) = (guess - 30 * 3600, guess + 30 * 3600);
    if local(lo)? >= naive || local(hi)? < naive {
        return None;
    }
    // Invariant: local(lo) < naive <= local(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local(mid)? < naive {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}
