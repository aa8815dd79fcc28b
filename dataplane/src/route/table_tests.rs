//! The route table's rules, driven by hand: pools, events, plans and time.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::route::plan::SwitchAt;

use Action::{Ack, Connect, Drain, Route};

fn table(names: &[&str]) -> RouteTable {
    let names: Vec<Arc<str>> = names.iter().map(|n| Arc::from(*n)).collect();
    RouteTable::new(&names)
}

/// Carries out `Connect`s as the route task does, upstream id = 100 * pool + n.
fn run(t: &mut RouteTable, f: impl FnOnce(&mut RouteTable) -> Vec<Action>) -> Vec<Action> {
    let actions = f(t);
    for a in &actions {
        if let Connect(p) = a {
            t.spawned(*p, 100 * *p as u64);
        }
    }
    actions
}

struct Clock {
    start: Instant,
}

impl Clock {
    fn at(&self, wall_ms: i64) -> Now {
        Now {
            wall_ms,
            mono: self.start + Duration::from_millis(wall_ms as u64),
        }
    }
}

fn plan(version: u64, switches: &[(i64, &str)]) -> PlanInput {
    PlanInput {
        version,
        algo: Some(AlgoPlan {
            current_pool: "btc".into(),
            switches: switches
                .iter()
                .map(|(at, p)| SwitchAt {
                    at_ms: *at,
                    pool: (*p).into(),
                    reason: "schedule".into(),
                    split: Vec::new(),
                })
                .collect(),
            failover: vec!["backup".into()],
            open_breakers: vec![],
            scheduled_pool: "btc".into(),
            override_until_ms: 0,
            split: Vec::new(),
        }),
        lead_ms: 100,
        switch_timeout: Duration::from_secs(60),
        errors: vec![],
    }
}

#[test]
fn standalone_the_first_pool_connects_and_takes_the_hashrate_when_ready() {
    let mut t = table(&["a", "b"]);
    assert_eq!(run(&mut t, |t| t.start()), [Connect(0)]);
    assert_eq!(run(&mut t, |t| t.on_ready(0, 0)), [Route(Some(0))]);
    assert_eq!(t.active(), Some(0));
}

#[test]
fn failover_to_the_next_ready_pool_and_back_when_the_preferred_returns() {
    let mut t = table(&["a", "b"]);
    run(&mut t, |t| t.start());
    run(&mut t, |t| t.on_ready(0, 0));
    // a fails and nothing else is ready: every candidate starts trying.
    assert_eq!(run(&mut t, |t| t.on_down(0, 0)), [Connect(1), Route(None)]);
    assert_eq!(run(&mut t, |t| t.on_ready(1, 100)), [Route(Some(1))]);
    // a is back: the hashrate returns, b drains.
    assert_eq!(
        run(&mut t, |t| t.on_ready(0, 0)),
        [Route(Some(0)), Drain(1)]
    );
    // b's late news changes nothing: it was drained.
    assert!(t.on_ready(1, 100).is_empty());
    assert!(t.on_down(1, 100).is_empty());
    assert_eq!(t.active(), Some(0));
}

#[test]
fn a_down_preferred_pool_brings_in_the_next_candidates_without_moving_the_route() {
    let mut t = table(&["a", "b", "c"]);
    run(&mut t, |t| t.start());
    assert_eq!(run(&mut t, |t| t.on_down(0, 0)), [Connect(1), Connect(2)]);
    assert_eq!(
        run(&mut t, |t| t.on_ready(2, 200)),
        [Route(Some(2)), Drain(1)]
    );
    // b was drained for c; a, still preferred, keeps trying.
    assert_eq!(
        run(&mut t, |t| t.on_ready(0, 0)),
        [Route(Some(0)), Drain(2)]
    );
}

#[test]
fn a_plan_pre_connects_ahead_of_the_switch_and_switches_at_the_instant() {
    let c = Clock {
        start: Instant::now(),
    };
    let mut t = table(&["btc", "bch", "backup"]);
    let first = run(&mut t, |t| t.on_plan(plan(7, &[(1_000, "bch")]), c.at(0)));
    assert!(first.contains(&Ack {
        version: 7,
        error: String::new()
    }));
    run(&mut t, |t| t.on_ready(0, 0));
    assert_eq!(t.active(), Some(0));
    assert_eq!(t.next_wake(c.at(0)), Some(Duration::from_millis(900)));
    // Not yet: nothing happens.
    assert!(t.on_tick(c.at(899)).is_empty());
    // The lead: bch connects, the hashrate stays.
    assert_eq!(run(&mut t, |t| t.on_tick(c.at(900))), [Connect(1)]);
    assert!(
        run(&mut t, |t| t.on_ready(1, 100)).is_empty(),
        "not before the instant"
    );
    assert_eq!(t.next_wake(c.at(900)), Some(Duration::from_millis(100)));
    // The instant: the route moves at once (bch is ready), btc drains.
    let at = run(&mut t, |t| t.on_tick(c.at(1_000)));
    assert_eq!(at, [Route(Some(1)), Drain(0)]);
    assert_eq!(t.next_wake(c.at(1_000)), None, "nothing ahead");
}

#[test]
fn a_plan_read_late_is_caught_up_to_the_switch_that_passed() {
    let c = Clock {
        start: Instant::now(),
    };
    let mut t = table(&["btc", "bch", "backup"]);
    let actions = run(&mut t, |t| {
        t.on_plan(plan(3, &[(1_000, "bch")]), c.at(5_000))
    });
    assert_eq!(actions[0], Connect(1), "bch first: its switch has passed");
}

#[test]
fn a_target_that_never_comes_up_is_given_up_and_the_hashrate_stays() {
    let c = Clock {
        start: Instant::now(),
    };
    let mut t = table(&["btc", "bch", "backup"]);
    run(&mut t, |t| t.on_plan(plan(1, &[]), c.at(0)));
    run(&mut t, |t| t.on_ready(0, 0));
    // A new plan moves the hashrate to bch, which never answers.
    let mut p = plan(2, &[(10, "bch")]);
    p.switch_timeout = Duration::from_secs(5);
    run(&mut t, |t| t.on_plan(p, c.at(20)));
    assert_eq!(t.active(), Some(0), "btc serves until bch is ready");
    assert_eq!(t.next_wake(c.at(20)), Some(Duration::from_secs(5)));
    let given_up = run(&mut t, |t| t.on_tick(c.at(5_020)));
    // bch goes last and stops trying; the failover list leads (backup
    // connects), btc keeps the hashrate until a better candidate is ready.
    assert_eq!(given_up, [Drain(1), Connect(2)]);
    assert_eq!(t.active(), Some(0));
    assert_eq!(t.next_wake(c.at(5_020)), None);
}

#[test]
fn a_target_that_served_is_not_given_up_when_it_fails_later() {
    let c = Clock {
        start: Instant::now(),
    };
    let mut t = table(&["btc", "bch", "backup"]);
    let mut p = plan(1, &[(0, "bch")]);
    p.switch_timeout = Duration::from_secs(5);
    run(&mut t, |t| t.on_plan(p, c.at(0)));
    run(&mut t, |t| t.on_ready(1, 100));
    assert_eq!(t.active(), Some(1));
    // bch fails after a while: failover, and no give-up at the deadline.
    run(&mut t, |t| t.on_down(1, 100));
    run(&mut t, |t| t.on_ready(2, 200));
    assert!(t.on_tick(c.at(60_000)).is_empty());
    // bch back: the hashrate returns to it.
    assert_eq!(
        run(&mut t, |t| t.on_ready(1, 100)),
        [Route(Some(1)), Drain(2)]
    );
}

#[test]
fn acks_once_per_version_with_what_could_not_be_used() {
    let c = Clock {
        start: Instant::now(),
    };
    let mut t = table(&["btc", "bch", "backup"]);
    let mut p = plan(4, &[]);
    p.errors = vec!["pool x: unknown dialect".into(), "pool y: port 0".into()];
    let acks: Vec<_> = t
        .on_plan(p.clone(), c.at(0))
        .into_iter()
        .filter(|a| matches!(a, Ack { .. }))
        .collect();
    assert_eq!(
        acks,
        [Ack {
            version: 4,
            error: "pool x: unknown dialect; pool y: port 0".into()
        }]
    );
    assert!(
        !t.on_plan(p, c.at(10))
            .iter()
            .any(|a| matches!(a, Ack { .. })),
        "the same version again is not acknowledged twice"
    );
}

#[test]
fn a_plan_without_this_algorithm_is_acknowledged_and_changes_nothing() {
    let c = Clock {
        start: Instant::now(),
    };
    let mut t = table(&["a"]);
    run(&mut t, |t| t.start());
    run(&mut t, |t| t.on_ready(0, 0));
    let mut p = plan(9, &[]);
    p.algo = None;
    assert_eq!(
        t.on_plan(p, c.at(0)),
        [Ack {
            version: 9,
            error: String::new()
        }]
    );
    assert_eq!(t.active(), Some(0));
}

#[test]
fn a_pool_whose_settings_changed_retires_and_its_successor_takes_over() {
    let c = Clock {
        start: Instant::now(),
    };
    let mut t = table(&["btc", "bch", "backup"]);
    run(&mut t, |t| t.on_plan(plan(1, &[]), c.at(0)));
    run(&mut t, |t| t.on_ready(0, 0));
    // btc's settings change: the serving runtime is not drained yet.
    assert!(t.retire(0).is_empty());
    let new = t.add("btc".into());
    assert_eq!(t.find("btc"), Some(new));
    // The plan again: the new btc connects; when ready it takes over.
    let again = run(&mut t, |t| t.on_plan(plan(2, &[]), c.at(10)));
    assert!(again.contains(&Connect(new)), "{again:?}");
    let id = 100 * new as u64;
    assert_eq!(
        run(&mut t, |t| t.on_ready(new, id)),
        [Route(Some(new)), Drain(0)]
    );
}

#[test]
fn a_weighted_window_connects_its_pools_keeps_them_and_ends_at_its_switch() {
    let c = Clock {
        start: Instant::now(),
    };
    let mut t = table(&["btc", "bch", "backup"]);
    let mut p = plan(3, &[(1_000, "backup")]);
    let algo = p.algo.as_mut().unwrap();
    algo.split = vec![("btc".into(), 70), ("bch".into(), 30)];
    let first = run(&mut t, |t| t.on_plan(p, c.at(0)));
    assert!(
        first.contains(&Connect(0)) && first.contains(&Connect(1)),
        "{first:?}"
    );
    assert!(
        first.contains(&Action::Split(vec![(0, 70), (1, 30)])),
        "{first:?}"
    );
    // The heaviest pool serves; the other stays connected (never drained).
    run(&mut t, |t| t.on_ready(1, 100));
    let ready = run(&mut t, |t| t.on_ready(0, 0));
    assert_eq!(ready, [Route(Some(0))], "bch is not drained");
    assert!(t.is_ready(1));
    // The same plan again changes nothing.
    let mut again = plan(3, &[(1_000, "backup")]);
    again.algo.as_mut().unwrap().split = vec![("btc".into(), 70), ("bch".into(), 30)];
    assert!(run(&mut t, |t| t.on_plan(again, c.at(10))).is_empty());
    // The switch to a single pool ends the window.
    run(&mut t, |t| t.on_tick(c.at(900)));
    run(&mut t, |t| t.on_ready(2, 200));
    let at = run(&mut t, |t| t.on_tick(c.at(1_000)));
    assert!(at.contains(&Route(Some(2))), "{at:?}");
    assert!(at.contains(&Action::Split(vec![])), "{at:?}");
    assert!(at.contains(&Drain(0)) && at.contains(&Drain(1)), "{at:?}");
}
