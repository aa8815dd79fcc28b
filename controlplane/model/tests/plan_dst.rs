//! Schedule boundaries and the scheduled pool at real DST transitions
//! (Chicago, Berlin, Lord Howe), across midnight, and in zones whose offset is
//! not whole hours.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use switchyard_model::plan::{boundaries, scheduled_pool_at};
use switchyard_model::{DaySchedule, Slot, TimeOfDay};

fn tod(s: &str) -> TimeOfDay {
    let (h, m) = s.split_once(':').expect("HH:MM");
    TimeOfDay::from_minutes(h.parse::<u16>().expect("h") * 60 + m.parse::<u16>().expect("m"))
        .expect("time")
}

/// `day(&[("a", "00:00", "12:00"), ...])`
fn day(slots: &[(&str, &str, &str)]) -> DaySchedule {
    let slots = slots
        .iter()
        .map(|(p, s, e)| Slot::new(*p, tod(s), tod(e)))
        .collect();
    DaySchedule::new("test", slots).expect("valid day")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

fn tz(name: &str) -> Tz {
    name.parse().expect("zone")
}

fn b(at: &str, pool: &str) -> (DateTime<Utc>, String) {
    (utc(at), pool.to_string())
}

#[test]
fn plain_day_in_utc() {
    let s = day(&[
        ("a", "00:00", "08:00"),
        ("b", "08:00", "20:00"),
        ("c", "20:00", "24:00"),
    ]);
    let got = boundaries(
        &s,
        Tz::UTC,
        utc("2026-06-01T00:00:00Z"),
        utc("2026-06-02T00:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-06-01T00:00:00Z", "a"),
            b("2026-06-01T08:00:00Z", "b"),
            b("2026-06-01T20:00:00Z", "c")
        ]
    );
    assert_eq!(
        scheduled_pool_at(&s, Tz::UTC, utc("2026-06-01T07:59:59Z")),
        "a"
    );
    assert_eq!(
        scheduled_pool_at(&s, Tz::UTC, utc("2026-06-01T08:00:00Z")),
        "b",
        "end exclusive"
    );
    assert_eq!(
        scheduled_pool_at(&s, Tz::UTC, utc("2026-06-01T23:59:59Z")),
        "c"
    );
}

#[test]
fn midnight_crossover_slot() {
    let s = day(&[("night", "22:00", "06:00"), ("day", "06:00", "22:00")]);
    let berlin = tz("Europe/Berlin"); // CEST, +02:00
    let got = boundaries(
        &s,
        berlin,
        utc("2026-07-01T00:00:00Z"),
        utc("2026-07-02T00:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-07-01T04:00:00Z", "day"),
            b("2026-07-01T20:00:00Z", "night")
        ]
    );
    for (t, want) in [
        ("2026-07-01T21:30:00Z", "night"), // 23:30 local
        ("2026-07-01T23:00:00Z", "night"), // 01:00 the next local day
        ("2026-07-02T03:59:59Z", "night"),
        ("2026-07-02T04:00:00Z", "day"),
    ] {
        assert_eq!(scheduled_pool_at(&s, berlin, utc(t)), want, "{t}");
    }
}

#[test]
fn one_pool_or_same_pool_neighbours_have_no_boundaries() {
    let chicago = tz("America/Chicago");
    let (from, to) = (utc("2026-03-01T00:00:00Z"), utc("2026-03-15T00:00:00Z"));
    let whole = day(&[("a", "00:00", "24:00")]);
    assert!(boundaries(&whole, chicago, from, to).is_empty());
    assert_eq!(scheduled_pool_at(&whole, chicago, from), "a");
    let split = day(&[("a", "00:00", "12:00"), ("a", "12:00", "24:00")]);
    assert!(boundaries(&split, chicago, from, to).is_empty());
}

#[test]
fn chicago_start_in_spring_gap_takes_effect_at_the_transition() {
    let s = day(&[("a", "00:00", "02:30"), ("b", "02:30", "24:00")]);
    let chicago = tz("America/Chicago");
    let got = boundaries(
        &s,
        chicago,
        utc("2026-03-07T00:00:00Z"),
        utc("2026-03-10T00:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-03-07T06:00:00Z", "a"), // 00:00 CST
            b("2026-03-07T08:30:00Z", "b"), // 02:30 CST
            b("2026-03-08T06:00:00Z", "a"), // 00:00 CST
            b("2026-03-08T08:00:00Z", "b"), // 02:30 does not exist: 03:00 CDT
            b("2026-03-09T05:00:00Z", "a"), // 00:00 CDT
            b("2026-03-09T07:30:00Z", "b"), // 02:30 CDT
        ]
    );
    assert_eq!(
        scheduled_pool_at(&s, chicago, utc("2026-03-08T07:59:59Z")),
        "a"
    );
    assert_eq!(
        scheduled_pool_at(&s, chicago, utc("2026-03-08T08:00:00Z")),
        "b"
    );
}

#[test]
fn chicago_starts_sharing_the_gap_collapse_into_one_boundary() {
    let chicago = tz("America/Chicago");
    let (from, to) = (utc("2026-03-08T06:00:00Z"), utc("2026-03-09T05:00:00Z")); // the 23-hour day
    let s = day(&[
        ("a", "00:00", "02:15"),
        ("b", "02:15", "02:45"),
        ("c", "02:45", "24:00"),
    ]);
    assert_eq!(
        boundaries(&s, chicago, from, to),
        vec![
            b("2026-03-08T06:00:00Z", "a"),
            b("2026-03-08T08:00:00Z", "c")
        ]
    );
    // b would start and end inside the gap: no switch at all that day.
    let s = day(&[
        ("a", "00:00", "02:15"),
        ("b", "02:15", "03:00"),
        ("a", "03:00", "24:00"),
    ]);
    assert_eq!(boundaries(&s, chicago, from, to), vec![]);
    assert_eq!(
        scheduled_pool_at(&s, chicago, utc("2026-03-08T08:00:00Z")),
        "a"
    );
}

#[test]
fn chicago_start_in_repeated_hour_switches_once_at_the_first_occurrence() {
    let s = day(&[("a", "00:00", "01:30"), ("b", "01:30", "24:00")]);
    let chicago = tz("America/Chicago");
    let got = boundaries(
        &s,
        chicago,
        utc("2026-11-01T05:00:00Z"),
        utc("2026-11-02T06:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-11-01T05:00:00Z", "a"),
            b("2026-11-01T06:30:00Z", "b")
        ]
    );
    // The second 01:00-01:30 (CST) does not go back to a, nor switch at 07:30.
    for t in [
        "2026-11-01T06:30:00Z",
        "2026-11-01T07:00:00Z",
        "2026-11-01T07:15:00Z",
        "2026-11-01T07:30:00Z",
    ] {
        assert_eq!(scheduled_pool_at(&s, chicago, utc(t)), "b", "{t}");
    }
    let s = day(&[
        ("a", "00:00", "01:15"),
        ("b", "01:15", "01:45"),
        ("a", "01:45", "24:00"),
    ]);
    let got = boundaries(
        &s,
        chicago,
        utc("2026-11-01T06:00:00Z"),
        utc("2026-11-01T12:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-11-01T06:15:00Z", "b"),
            b("2026-11-01T06:45:00Z", "a")
        ]
    );
    assert_eq!(
        scheduled_pool_at(&s, chicago, utc("2026-11-01T07:20:00Z")),
        "a"
    );
}

#[test]
fn chicago_days_of_23_and_25_hours() {
    let s = day(&[("a", "00:00", "12:00"), ("b", "12:00", "24:00")]);
    let chicago = tz("America/Chicago");
    let midnights = |from: &str, to: &str| -> Vec<DateTime<Utc>> {
        let got = boundaries(&s, chicago, utc(from), utc(to));
        got.into_iter()
            .filter(|(_, p)| p == "a")
            .map(|(t, _)| t)
            .collect()
    };
    let spring = midnights("2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z");
    let gaps: Vec<Duration> = spring.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, vec![Duration::hours(24), Duration::hours(23)]);
    let fall = midnights("2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z");
    let gaps: Vec<Duration> = fall.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, vec![Duration::hours(24), Duration::hours(25)]);
    // Noon is noon local time on both sides of each transition.
    let got = boundaries(
        &s,
        chicago,
        utc("2026-11-01T12:00:00Z"),
        utc("2026-11-02T20:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-11-01T18:00:00Z", "b"),
            b("2026-11-02T06:00:00Z", "a"),
            b("2026-11-02T18:00:00Z", "b")
        ]
    );
}

#[test]
fn berlin_spring_gap_and_fall_repeat() {
    let s = day(&[("a", "00:00", "02:30"), ("b", "02:30", "24:00")]);
    let berlin = tz("Europe/Berlin");
    let got = boundaries(
        &s,
        berlin,
        utc("2026-03-28T23:00:00Z"),
        utc("2026-03-29T22:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-03-28T23:00:00Z", "a"),
            b("2026-03-29T01:00:00Z", "b")
        ]
    );
    let got = boundaries(
        &s,
        berlin,
        utc("2026-10-24T22:00:00Z"),
        utc("2026-10-25T23:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-10-24T22:00:00Z", "a"),
            b("2026-10-25T00:30:00Z", "b")
        ]
    );
    assert_eq!(
        scheduled_pool_at(&s, berlin, utc("2026-10-25T01:15:00Z")),
        "b",
        "second 02:15 stays on b"
    );
}

#[test]
fn lord_howe_half_hour_shifts() {
    let s = day(&[
        ("a", "00:00", "01:45"),
        ("b", "01:45", "02:15"),
        ("c", "02:15", "24:00"),
    ]);
    let lh = tz("Australia/Lord_Howe");
    // 2026-04-05 02:00 +11:00 -> 01:30 +10:30: 01:30-02:00 repeats.
    let got = boundaries(
        &s,
        lh,
        utc("2026-04-04T13:00:00Z"),
        utc("2026-04-05T13:30:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-04-04T13:00:00Z", "a"), // 00:00 +11:00
            b("2026-04-04T14:45:00Z", "b"), // first 01:45 (+11:00)
            b("2026-04-04T15:45:00Z", "c"), // 02:15 +10:30
        ]
    );
    assert_eq!(
        scheduled_pool_at(&s, lh, utc("2026-04-04T15:20:00Z")),
        "b",
        "second 01:50"
    );
    // 2026-10-04 02:00 +10:30 -> 02:30 +11:00: 02:15 falls in the gap.
    let got = boundaries(
        &s,
        lh,
        utc("2026-10-03T13:30:00Z"),
        utc("2026-10-04T13:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-10-03T13:30:00Z", "a"), // 00:00 +10:30
            b("2026-10-03T15:15:00Z", "b"), // 01:45 +10:30
            b("2026-10-03T15:30:00Z", "c"), // 02:15 skipped: 02:30 +11:00
        ]
    );
}

#[test]
fn zones_with_quarter_and_half_hour_offsets() {
    let s = day(&[("a", "00:00", "06:00"), ("b", "06:00", "24:00")]);
    let got = boundaries(
        &s,
        tz("Asia/Kathmandu"),
        utc("2026-05-01T00:00:00Z"),
        utc("2026-05-02T00:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-05-01T00:15:00Z", "b"),
            b("2026-05-01T18:15:00Z", "a")
        ]
    );
    let got = boundaries(
        &s,
        tz("Asia/Kolkata"),
        utc("2026-05-01T00:00:00Z"),
        utc("2026-05-02T00:00:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-05-01T00:30:00Z", "b"),
            b("2026-05-01T18:30:00Z", "a")
        ]
    );
    // Newfoundland, -02:30 in summer, at its own DST change (2026-03-08 02:00 -> 03:00).
    let got = boundaries(
        &s,
        tz("America/St_Johns"),
        utc("2026-03-08T03:30:00Z"),
        utc("2026-03-09T02:30:00Z"),
    );
    assert_eq!(
        got,
        vec![
            b("2026-03-08T03:30:00Z", "a"),
            b("2026-03-08T08:30:00Z", "b")
        ]
    );
}
