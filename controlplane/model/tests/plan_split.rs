//! `plan::compute` with weighted windows (issue 14): the split of the
//! window in force, a pool whose breaker is open giving its part to the
//! others, switches between windows that differ only in weights, and
//! overrides winning over a split.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use switchyard_model::plan::{AlgoInput, AlgoPlan, BreakerView, Override, SiteInput, compute};
use switchyard_model::schedule::parse_pools;
use switchyard_model::{Algorithm, DaySchedule, PoolWeight, Slot, TimeOfDay};

fn tod(s: &str) -> TimeOfDay {
    let (h, m) = s.split_once(':').expect("HH:MM");
    TimeOfDay::from_minutes(h.parse::<u16>().expect("h") * 60 + m.parse::<u16>().expect("m"))
        .expect("time")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

/// Windows as `ctl` writes them: ("btc:70,bch:30", "00:00", "18:00").
fn day(slots: &[(&str, &str, &str)]) -> DaySchedule {
    let slots = slots
        .iter()
        .map(|(p, s, e)| Slot::weighted(parse_pools(p).expect("pools"), tod(s), tod(e)))
        .collect();
    DaySchedule::new("test", slots).expect("valid day")
}

fn weights(text: &str) -> Vec<PoolWeight> {
    parse_pools(text).expect("pools")
}

fn algo(schedule: DaySchedule) -> AlgoInput {
    AlgoInput {
        algorithm: Algorithm::Sha256,
        schedule,
        override_: None,
        failover: vec![],
        pools: ["btc", "bch", "nh"].map(String::from).to_vec(),
        breakers: vec![],
    }
}

fn plan(a: AlgoInput, now: &str) -> AlgoPlan {
    let site = SiteInput {
        timezone: Tz::UTC,
        algorithms: vec![a],
        horizon: Duration::hours(24),
    };
    compute(&site, utc(now)).algorithms.remove(0)
}

#[test]
fn a_weighted_window_routes_to_its_pools_with_their_weights() {
    let a = algo(day(&[
        ("btc:30,bch:70", "00:00", "18:00"),
        ("nh", "18:00", "24:00"),
    ]));
    let p = plan(a, "2026-06-01T10:00:00Z");
    assert_eq!(p.current, "bch", "the heaviest pool is the current one");
    assert_eq!(p.split, weights("btc:30,bch:70"));
    let s = &p.switches[0];
    assert_eq!((s.to.as_str(), s.split.is_empty()), ("nh", true));
    assert_eq!(s.at, utc("2026-06-01T18:00:00Z"));
    let back = &p.switches[1];
    assert_eq!(
        (back.to.as_str(), &back.split),
        ("bch", &weights("btc:30,bch:70"))
    );
}

#[test]
fn windows_that_differ_only_in_weights_are_a_switch_and_equal_ones_are_not() {
    let a = algo(day(&[
        ("btc:70,bch:30", "00:00", "08:00"),
        ("btc:70,bch:30", "08:00", "12:00"),
        ("btc:50,bch:50", "12:00", "24:00"),
    ]));
    let p = plan(a, "2026-06-01T01:00:00Z");
    assert_eq!(p.switches.len(), 2, "{:?}", p.switches);
    let s = &p.switches[0];
    assert_eq!(s.at, utc("2026-06-01T12:00:00Z"));
    assert_eq!((s.from.as_str(), s.to.as_str()), ("btc", "btc"));
    assert_eq!(s.split, weights("btc:50,bch:50"));
}

#[test]
fn an_open_breaker_gives_its_part_to_the_others_and_one_left_is_a_plain_route() {
    let now = "2026-06-01T10:00:00Z";
    let open = BreakerView::Open {
        until: utc("2026-06-01T11:00:00Z"),
    };
    let mut a = algo(day(&[("btc:60,bch:30,nh:10", "00:00", "24:00")]));
    a.breakers = vec![("bch".into(), open)];
    let p = plan(a.clone(), now);
    assert_eq!(p.split, weights("btc:60,nh:10"));
    assert_eq!(p.open_breakers, vec!["bch".to_string()]);

    a.breakers.push(("btc".into(), open));
    let p = plan(a.clone(), now);
    assert_eq!((p.current.as_str(), p.split.len()), ("nh", 0));

    a.breakers.push(("nh".into(), open));
    let p = plan(a, now);
    assert!(p.split.is_empty());
}

#[test]
fn an_override_wins_over_a_split_and_the_split_returns_when_it_ends() {
    let mut a = algo(day(&[("btc:70,bch:30", "00:00", "24:00")]));
    a.override_ = Some(Override {
        pool: "nh".into(),
        until: utc("2026-06-01T12:00:00Z"),
    });
    let p = plan(a, "2026-06-01T10:00:00Z");
    assert_eq!((p.current.as_str(), p.split.len()), ("nh", 0));
    let s = &p.switches[0];
    assert_eq!(s.at, utc("2026-06-01T12:00:00Z"));
    assert_eq!(
        (s.to.as_str(), &s.split),
        ("btc", &weights("btc:70,bch:30"))
    );
}
