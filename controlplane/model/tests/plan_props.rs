//! Properties over random valid day schedules, zones with odd DST rules and
//! random instants: `scheduled_pool_at` agrees with `boundaries`, and plans'
//! switches are ordered, chained and within the horizon.

use chrono::{DateTime, Duration, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use switchyard_model::plan::{
    AlgoInput, BreakerView, Override, SiteInput, boundaries, compute, scheduled_pool_at,
};
use switchyard_model::{Algorithm, DaySchedule, Slot, TimeOfDay};

const ZONES: &[&str] = &[
    "UTC",
    "America/Chicago",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/St_Johns",
    "America/Havana",    // DST at midnight
    "America/Sao_Paulo", // DST started at midnight until 2019
    "Pacific/Apia",      // skipped 2011-12-30 entirely
    "Asia/Tehran",
    "Pacific/Chatham", // +12:45 / +13:45
];

/// Cut points (distinct minutes) and a pool per slot; the last slot wraps
/// past midnight unless a cut is at 00:00.
fn schedule() -> impl Strategy<Value = DaySchedule> {
    (
        proptest::collection::btree_set(0u16..1440, 1..8),
        proptest::collection::vec(0usize..3, 8),
        any::<bool>(),
    )
        .prop_map(|(cuts, pools, end_as_24)| {
            let cuts: Vec<u16> = cuts.into_iter().collect();
            let name = |i: usize| ["a", "b", "c"][pools[i % pools.len()]].to_string();
            let time = |m: u16| TimeOfDay::from_minutes(m).unwrap_or(TimeOfDay::END_OF_DAY);
            let slots: Vec<Slot> = if cuts.len() == 1 {
                vec![Slot::new(
                    name(0),
                    TimeOfDay::MIDNIGHT,
                    TimeOfDay::END_OF_DAY,
                )]
            } else {
                (0..cuts.len())
                    .map(|i| {
                        let (s, e) = (cuts[i], cuts[(i + 1) % cuts.len()]);
                        let end = if e == 0 && end_as_24 {
                            TimeOfDay::END_OF_DAY
                        } else {
                            time(e)
                        };
                        Slot::new(name(i), time(s), end)
                    })
                    .collect()
            };
            DaySchedule::new("prop", slots).expect("generated day is valid")
        })
}

fn zone() -> impl Strategy<Value = Tz> {
    proptest::sample::select(ZONES).prop_map(|z| z.parse::<Tz>().expect("zone"))
}

/// Real transitions: (zone, UTC instant).
const TRANSITIONS: &[(&str, i64)] = &[
    ("America/Chicago", 1_772_956_800), // 2026-03-08T08:00Z, 02:00 -> 03:00
    ("America/Chicago", 1_793_516_400), // 2026-11-01T07:00Z, 02:00 -> 01:00
    ("Europe/Berlin", 1_774_746_000),   // 2026-03-29T01:00Z
    ("Europe/Berlin", 1_792_890_000),   // 2026-10-25T01:00Z
    ("Australia/Lord_Howe", 1_775_314_800), // 2026-04-04T15:00Z, 30 minutes back
    ("Australia/Lord_Howe", 1_791_041_400), // 2026-10-03T15:30Z, 30 minutes forward
    ("America/Havana", 1_772_946_000),  // 2026-03-08T05:00Z, 00:00 -> 01:00
    ("America/Sao_Paulo", 1_541_300_400), // 2018-11-04T03:00Z, 00:00 -> 01:00
    ("Pacific/Apia", 1_325_239_200),    // 2011-12-30T10:00Z, a whole day skipped
    ("Pacific/Chatham", 1_775_311_200), // 2026-04-05 03:45 -> 02:45 local
];

/// A zone and an instant: half random, half within days of a real transition.
fn zone_and_instant() -> impl Strategy<Value = (Tz, DateTime<Utc>)> {
    let near = (
        proptest::sample::select(TRANSITIONS),
        -3 * 86_400i64..86_400,
    )
        .prop_map(|((z, at), d)| {
            (
                z.parse::<Tz>().expect("zone"),
                DateTime::from_timestamp(at + d - (at + d) % 60, 0).expect("in range"),
            )
        });
    prop_oneof![(zone(), instant()), near]
}

/// Instants from 2005 to 2035, at minute or second resolution.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (1_104_537_600i64..2_051_222_400, any::<bool>()).prop_map(|(s, whole_minute)| {
        DateTime::from_timestamp(if whole_minute { s - s % 60 } else { s }, 0).expect("in range")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scheduled_pool_agrees_with_boundaries(s in schedule(), (tz, from) in zone_and_instant(), probes in proptest::collection::vec(0i64..3 * 86_400, 1..6)) {
        let to = from + Duration::days(3);
        let bs = boundaries(&s, tz, from, to);
        for w in bs.windows(2) {
            prop_assert!(w[0].0 < w[1].0, "strictly increasing: {:?}", w);
            prop_assert_ne!(&w[0].1, &w[1].1, "a boundary changes the pool");
        }
        for (t, pool) in &bs {
            prop_assert!(*t >= from && *t < to);
            prop_assert_eq!(&scheduled_pool_at(&s, tz, *t), pool);
            prop_assert_ne!(&scheduled_pool_at(&s, tz, *t - Duration::seconds(1)), pool);
        }
        let at_from = scheduled_pool_at(&s, tz, from);
        for p in probes {
            let t = from + Duration::seconds(p);
            let expected = bs.iter().rev().find(|(b, _)| *b <= t).map_or(at_from.clone(), |(_, pool)| pool.clone());
            prop_assert_eq!(scheduled_pool_at(&s, tz, t), expected, "at {}", t);
        }
    }

    #[test]
    fn away_from_transitions_the_pool_is_the_local_minutes_pool(s in schedule(), tz in zone(), t in instant()) {
        let offset = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
        prop_assume!(offset(t - Duration::days(2)) == offset(t + Duration::days(2)));
        prop_assume!(offset(t - Duration::days(2)) == offset(t));
        let local = t.with_timezone(&tz);
        let minute = (local.hour() * 60 + local.minute()) as u16;
        prop_assert_eq!(scheduled_pool_at(&s, tz, t), s.pool_at(minute));
    }

    #[test]
    fn plan_switches_are_ordered_chained_and_within_the_horizon(
        s in schedule(),
        (tz, now) in zone_and_instant(),
        hours in 0i64..24 * 8,
        override_for in proptest::option::of(-3_600i64..3 * 86_400),
        enabled in proptest::collection::vec(any::<bool>(), 4),
        open in proptest::option::of((0usize..4, -600i64..7_200)),
    ) {
        let names = ["a", "b", "c", "d"];
        let pools: Vec<String> = names.iter().zip(&enabled).filter(|(_, e)| **e).map(|(n, _)| n.to_string()).collect();
        let breakers = open.map(|(i, secs)| (names[i].to_string(), BreakerView::Open { until: now + Duration::seconds(secs) })).into_iter().collect();
        let algo = AlgoInput {
            algorithm: Algorithm::Sha256,
            schedule: s,
            override_: override_for.map(|secs| Override { pool: "d".into(), until: now + Duration::seconds(secs) }),
            failover: vec!["c".into()],
            pools: pools.clone(),
            breakers,
        };
        let horizon = Duration::hours(hours);
        let plan = compute(&SiteInput { timezone: tz, algorithms: vec![algo], horizon }, now);
        let end = now + horizon.max(Duration::hours(24));
        let p = &plan.algorithms[0];
        let mut before = p.current.clone();
        let mut last = now;
        for sw in &p.switches {
            prop_assert!(sw.at > last && sw.at <= end, "{} after {} and by {}", sw.at, last, end);
            prop_assert_eq!(&sw.from, &before);
            prop_assert_ne!(&sw.from, &sw.to);
            prop_assert_eq!(sw.local.with_timezone(&Utc), sw.at);
            before = sw.to.clone();
            last = sw.at;
        }
        prop_assert!(!p.failover.contains(&p.current));
        prop_assert!(p.failover.iter().all(|f| pools.contains(f) && !p.open_breakers.contains(f)));
        if let Some(next) = plan.next_recompute {
            prop_assert!(next > now);
            if let Some(first) = p.switches.first() {
                prop_assert!(next <= first.at);
            }
        }
    }
}
