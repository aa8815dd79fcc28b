//! `plan::compute`: overrides, breakers, disabled pools, failover order,
//! horizons and `next_recompute`.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use switchyard_model::plan::{
    AlgoInput, AlgoPlan, BreakerView, Override, SiteInput, SwitchReason, compute,
};
use switchyard_model::{Algorithm, DaySchedule, Slot, TimeOfDay};

fn tod(s: &str) -> TimeOfDay {
    let (h, m) = s.split_once(':').expect("HH:MM");
    TimeOfDay::from_minutes(h.parse::<u16>().expect("h") * 60 + m.parse::<u16>().expect("m"))
        .expect("time")
}

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

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// a 00:00-08:00, b 08:00-20:00, c 20:00-24:00; pools a, b, c, d enabled.
fn algo() -> AlgoInput {
    AlgoInput {
        algorithm: Algorithm::Sha256,
        schedule: day(&[
            ("a", "00:00", "08:00"),
            ("b", "08:00", "20:00"),
            ("c", "20:00", "24:00"),
        ]),
        override_: None,
        failover: vec![],
        pools: strings(&["a", "b", "c", "d"]),
        breakers: vec![],
    }
}

fn plan(a: AlgoInput, tz: Tz, now: &str) -> (AlgoPlan, Option<DateTime<Utc>>) {
    let site = SiteInput {
        timezone: tz,
        algorithms: vec![a],
        horizon: Duration::hours(24),
    };
    let mut p = compute(&site, utc(now));
    (p.algorithms.remove(0), p.next_recompute)
}

fn summary(p: &AlgoPlan) -> Vec<(String, String, String, &'static str)> {
    p.switches
        .iter()
        .map(|s| {
            (
                s.at.to_rfc3339(),
                s.from.clone(),
                s.to.clone(),
                s.reason.as_str(),
            )
        })
        .collect()
}

fn sw(
    at: &str,
    from: &str,
    to: &str,
    reason: &'static str,
) -> (String, String, String, &'static str) {
    (
        utc(at).to_rfc3339(),
        from.to_string(),
        to.to_string(),
        reason,
    )
}

#[test]
fn plain_schedule_plan() {
    let (p, next) = plan(algo(), Tz::UTC, "2026-06-01T06:00:00Z");
    assert_eq!((p.scheduled.as_str(), p.current.as_str()), ("a", "a"));
    assert_eq!(
        summary(&p),
        vec![
            sw("2026-06-01T08:00:00Z", "a", "b", "schedule"),
            sw("2026-06-01T20:00:00Z", "b", "c", "schedule"),
            sw("2026-06-02T00:00:00Z", "c", "a", "schedule"),
        ]
    );
    assert_eq!(p.failover, strings(&["b", "c", "d"]));
    assert_eq!(p.override_until, None);
    assert_eq!(next, Some(utc("2026-06-01T08:00:00Z")));
}

#[test]
fn now_on_a_boundary_belongs_to_the_new_slot_and_end_of_horizon_is_included() {
    let (p, _) = plan(algo(), Tz::UTC, "2026-06-01T08:00:00Z");
    assert_eq!(p.current, "b");
    assert_eq!(
        p.switches.first().map(|s| s.at),
        Some(utc("2026-06-01T20:00:00Z"))
    );
    assert_eq!(
        p.switches.last().map(|s| s.at),
        Some(utc("2026-06-02T08:00:00Z")),
        "now + horizon is in"
    );
}

#[test]
fn horizon_is_at_least_24_hours() {
    let site = SiteInput {
        timezone: Tz::UTC,
        algorithms: vec![algo()],
        horizon: Duration::minutes(5),
    };
    let p = compute(&site, utc("2026-06-01T06:00:00Z"));
    assert_eq!(p.algorithms[0].switches.len(), 3);
    let site = SiteInput {
        horizon: Duration::days(7),
        ..site
    };
    let p = compute(&site, utc("2026-06-01T06:00:00Z"));
    assert_eq!(p.algorithms[0].switches.len(), 21);
}

#[test]
fn override_before_and_after_expiry() {
    let mut a = algo();
    a.override_ = Some(Override {
        pool: "d".into(),
        until: utc("2026-06-01T21:00:00Z"),
    });
    let (p, next) = plan(a.clone(), Tz::UTC, "2026-06-01T06:00:00Z");
    assert_eq!((p.scheduled.as_str(), p.current.as_str()), ("a", "d"));
    assert_eq!(p.override_until, Some(utc("2026-06-01T21:00:00Z")));
    // The 08:00 and 20:00 boundaries fall inside the override.
    assert_eq!(
        summary(&p),
        vec![
            sw("2026-06-01T21:00:00Z", "d", "c", "override-ends"),
            sw("2026-06-02T00:00:00Z", "c", "a", "schedule")
        ]
    );
    assert_eq!(next, Some(utc("2026-06-01T21:00:00Z")));
    // At and after expiry the override is ignored.
    let (p, _) = plan(a, Tz::UTC, "2026-06-01T21:00:00Z");
    assert_eq!((p.current.as_str(), p.override_until), ("c", None));
    assert_eq!(
        summary(&p)[0],
        sw("2026-06-02T00:00:00Z", "c", "a", "schedule")
    );
}

#[test]
fn override_ending_on_a_boundary_is_one_switch_and_same_pool_is_none() {
    let mut a = algo();
    a.override_ = Some(Override {
        pool: "d".into(),
        until: utc("2026-06-01T20:00:00Z"),
    });
    let (p, _) = plan(a.clone(), Tz::UTC, "2026-06-01T06:00:00Z");
    assert_eq!(
        summary(&p)[0],
        sw("2026-06-01T20:00:00Z", "d", "c", "override-ends")
    );
    assert_eq!(p.switches.len(), 2);
    // Overriding to the pool the schedule names anyway at expiry: no switch then.
    a.override_ = Some(Override {
        pool: "b".into(),
        until: utc("2026-06-01T12:00:00Z"),
    });
    let (p, next) = plan(a, Tz::UTC, "2026-06-01T06:00:00Z");
    assert_eq!(p.current, "b");
    assert_eq!(
        summary(&p)[0],
        sw("2026-06-01T20:00:00Z", "b", "c", "schedule")
    );
    assert_eq!(
        next,
        Some(utc("2026-06-01T12:00:00Z")),
        "the override's expiry still recomputes"
    );
}

#[test]
fn override_beyond_the_horizon_suppresses_every_switch() {
    let mut a = algo();
    a.override_ = Some(Override {
        pool: "d".into(),
        until: utc("2026-06-05T00:00:00Z"),
    });
    let (p, next) = plan(a, Tz::UTC, "2026-06-01T06:00:00Z");
    assert_eq!((p.current.as_str(), p.switches.len()), ("d", 0));
    assert_eq!(next, Some(utc("2026-06-05T00:00:00Z")));
}

#[test]
fn open_breaker_on_the_scheduled_pool_fails_over() {
    let mut a = algo();
    a.failover = strings(&["c", "a"]);
    a.breakers = vec![(
        "a".into(),
        BreakerView::Open {
            until: utc("2026-06-01T06:01:00Z"),
        },
    )];
    let (p, next) = plan(a, Tz::UTC, "2026-06-01T06:00:00Z");
    assert_eq!((p.scheduled.as_str(), p.current.as_str()), ("a", "c"));
    assert_eq!(
        p.failover,
        strings(&["b", "d"]),
        "explicit order first, then operator order; no open pool"
    );
    assert_eq!(p.open_breakers, strings(&["a"]));
    assert_eq!(next, Some(utc("2026-06-01T06:01:00Z")));
    // Until the breaker closes, the plan keeps a out of future switches too.
    // Midnight "to a" means staying on c: no switch.
    assert_eq!(
        summary(&p),
        vec![
            sw("2026-06-01T08:00:00Z", "c", "b", "schedule"),
            sw("2026-06-01T20:00:00Z", "b", "c", "schedule")
        ]
    );
}

#[test]
fn half_open_pools_stay_usable_and_expired_opens_count_as_half_open() {
    let mut a = algo();
    a.breakers = vec![
        ("a".into(), BreakerView::HalfOpen),
        (
            "b".into(),
            BreakerView::Open {
                until: utc("2026-06-01T05:00:00Z"),
            },
        ),
    ];
    let (p, next) = plan(a, Tz::UTC, "2026-06-01T06:00:00Z");
    assert_eq!(p.current, "a");
    assert_eq!(p.half_open, strings(&["a", "b"]));
    assert!(p.open_breakers.is_empty());
    assert_eq!(p.failover, strings(&["b", "c", "d"]));
    assert_eq!(next, Some(utc("2026-06-01T08:00:00Z")));
}

#[test]
fn disabled_or_unknown_pools_are_never_routed_to() {
    let mut a = algo();
    a.pools = strings(&["b", "c", "d"]); // a is disabled
    a.failover = strings(&["zz", "d"]); // zz is unknown
    let (p, _) = plan(a, Tz::UTC, "2026-06-01T06:00:00Z");
    assert_eq!((p.scheduled.as_str(), p.current.as_str()), ("a", "d"));
    assert_eq!(p.failover, strings(&["b", "c"]));
    // Midnight goes "to a", which means staying on d: no switch from c to a.
    assert_eq!(
        summary(&p),
        vec![
            sw("2026-06-01T08:00:00Z", "d", "b", "schedule"),
            sw("2026-06-01T20:00:00Z", "b", "c", "schedule"),
            sw("2026-06-02T00:00:00Z", "c", "d", "schedule"),
        ]
    );
}

#[test]
fn nothing_usable_keeps_the_scheduled_pool() {
    let mut a = algo();
    a.pools = strings(&["a"]);
    a.breakers = vec![(
        "a".into(),
        BreakerView::Open {
            until: utc("2026-06-01T07:00:00Z"),
        },
    )];
    let (p, _) = plan(a, Tz::UTC, "2026-06-01T06:00:00Z");
    assert_eq!(p.current, "a");
    assert!(p.failover.is_empty());
}

#[test]
fn chicago_plan_across_the_spring_gap() {
    let mut a = algo();
    a.schedule = day(&[("a", "00:00", "02:30"), ("b", "02:30", "24:00")]);
    let (p, next) = plan(
        a,
        "America/Chicago".parse().expect("zone"),
        "2026-03-08T07:00:00Z",
    );
    assert_eq!(p.current, "a");
    let s = &p.switches[0];
    assert_eq!(
        (s.at, s.from.as_str(), s.to.as_str(), s.reason),
        (
            utc("2026-03-08T08:00:00Z"),
            "a",
            "b",
            SwitchReason::Schedule
        )
    );
    assert_eq!(s.local.to_rfc3339(), "2026-03-08T03:00:00-05:00");
    assert_eq!(next, Some(utc("2026-03-08T08:00:00Z")));
}

#[test]
fn several_algorithms_and_the_earliest_recompute() {
    let mut b = algo();
    b.algorithm = Algorithm::Randomx;
    b.breakers = vec![(
        "d".into(),
        BreakerView::Open {
            until: utc("2026-06-01T07:30:00Z"),
        },
    )];
    let site = SiteInput {
        timezone: Tz::UTC,
        algorithms: vec![algo(), b],
        horizon: Duration::hours(48),
    };
    let p = compute(&site, utc("2026-06-01T06:00:00Z"));
    assert_eq!(p.algorithms.len(), 2);
    assert_eq!(p.algorithms[1].algorithm, Algorithm::Randomx);
    assert_eq!(p.algorithms[1].failover, strings(&["b", "c"]));
    assert_eq!(p.next_recompute, Some(utc("2026-06-01T07:30:00Z")));
    assert_eq!(p.algorithms[0].switches.len(), 6);
}

#[test]
fn chicago_plan_across_the_fall_repeat_switches_once() {
    let mut a = algo();
    a.schedule = day(&[("a", "00:00", "01:30"), ("b", "01:30", "24:00")]);
    let (p, _) = plan(
        a,
        "America/Chicago".parse().expect("zone"),
        "2026-11-01T06:00:00Z", // 01:00 CDT; the horizon ends at midnight CST
    );
    assert_eq!(
        summary(&p),
        vec![
            sw("2026-11-01T06:30:00Z", "a", "b", "schedule"),
            sw("2026-11-02T06:00:00Z", "b", "a", "schedule")
        ]
    );
    assert_eq!(
        p.switches[0].local.to_rfc3339(),
        "2026-11-01T01:30:00-05:00"
    );
}
