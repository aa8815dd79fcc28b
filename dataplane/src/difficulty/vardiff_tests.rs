//! Unit tests of the per-miner VarDiff, with synthetic instants (no sleeping).

use super::*;

fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

/// A deterministic miner: finds `hashrate / difficulty` shares per second.
struct Miner {
    hashrate: f64,
    carry: f64,
}

impl Miner {
    fn new(hashrate: f64) -> Self {
        Self {
            hashrate,
            carry: 0.0,
        }
    }

    /// Shares found in one second at `difficulty`.
    fn tick(&mut self, difficulty: f64) -> u32 {
        self.carry += self.hashrate / difficulty;
        let n = self.carry.floor();
        self.carry -= n;
        n as u32
    }
}

/// Runs `miner` for `secs` seconds from `start`, polling every second; returns
/// every change handed out with the second it happened.
fn run(vd: &mut VarDiff, miner: &mut Miner, start: Instant, secs: u64) -> Vec<(u64, f64)> {
    let mut changes = Vec::new();
    for s in 1..=secs {
        let now = at(start, s);
        for _ in 0..miner.tick(vd.current()) {
            vd.on_share(now);
        }
        if let Some(d) = vd.poll(now) {
            changes.push((s, d));
        }
    }
    changes
}

fn interval(vd: &VarDiff, miner: &Miner) -> f64 {
    vd.current() / miner.hashrate
}

#[test]
fn starts_at_pool_difficulty_by_default() {
    let t0 = Instant::now();
    let vd = VarDiff::new(VarDiffConfig::default(), 65536.0, t0);
    assert_eq!(vd.current(), 65536.0);
}

#[test]
fn initial_difficulty_is_used_below_the_pool_and_capped_above_it() {
    let t0 = Instant::now();
    let cfg = |d| VarDiffConfig {
        initial_difficulty: Some(d),
        ..VarDiffConfig::default()
    };
    assert_eq!(VarDiff::new(cfg(512.0), 65536.0, t0).current(), 512.0);
    assert_eq!(VarDiff::new(cfg(1e9), 65536.0, t0).current(), 65536.0);
}

#[test]
fn fast_miner_converges_up_to_the_target_interval() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        initial_difficulty: Some(1000.0),
        ..VarDiffConfig::default()
    };
    let mut vd = VarDiff::new(cfg, 1e9, t0);
    let mut miner = Miner::new(10_000.0); // wants difficulty 100_000
    let changes = run(&mut vd, &mut miner, t0, 1800);
    let secs = interval(&vd, &miner);
    assert!(
        (7.0..=13.0).contains(&secs),
        "interval {secs}s: {changes:?}"
    );
    let mut previous = 1000.0;
    for (_, d) in &changes {
        assert!(*d <= previous * MAX_STEP * 1.000_001, "{changes:?}");
        previous = *d;
    }
    assert!(
        changes.len() <= 8,
        "settles instead of hunting: {changes:?}"
    );
}

#[test]
fn slow_miner_converges_down_to_the_target_interval() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 1e7, t0);
    let mut miner = Miner::new(1000.0); // wants difficulty 10_000
    let changes = run(&mut vd, &mut miner, t0, 3600);
    let secs = interval(&vd, &miner);
    assert!(
        (7.0..=13.0).contains(&secs),
        "interval {secs}s: {changes:?}"
    );
    let mut previous = 1e7;
    for (_, d) in &changes {
        assert!(*d >= previous / MAX_STEP / 1.000_001, "{changes:?}");
        previous = *d;
    }
}

#[test]
fn converges_when_polled_only_at_deadlines_and_shares() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 1e7, t0);
    let mut miner = Miner::new(250.0);
    let mut polls = 0;
    for s in 1..=3600 {
        let now = at(t0, s);
        let shares = miner.tick(vd.current());
        for _ in 0..shares {
            vd.on_share(now);
        }
        let timer = vd.next_deadline().is_some_and(|d| d <= now);
        if shares > 0 || timer {
            polls += 1;
            vd.poll(now);
        }
    }
    let secs = interval(&vd, &miner);
    assert!((7.0..=13.0).contains(&secs), "interval {secs}s");
    assert!(polls < 3600);
}

#[test]
fn a_miner_on_target_is_left_alone() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 10_000.0, t0);
    let mut miner = Miner::new(1000.0); // exactly one share per 10 s
    let changes = run(&mut vd, &mut miner, t0, 3600);
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn few_shares_do_not_trigger_a_change() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 10_000.0, t0);
    // Three quick shares, then a retarget: not enough evidence yet.
    for s in [1, 2, 3] {
        vd.on_share(at(t0, s));
    }
    assert_eq!(vd.poll(at(t0, 30)), None);
    assert_eq!(vd.current(), 10_000.0);
}

#[test]
fn one_change_is_at_most_four_times_up() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        initial_difficulty: Some(100.0),
        ..VarDiffConfig::default()
    };
    let mut vd = VarDiff::new(cfg, 1e9, t0);
    for _ in 0..10_000 {
        vd.on_share(at(t0, 1));
    }
    assert_eq!(vd.poll(at(t0, 30)), Some(400.0));
}

#[test]
fn shares_in_a_zero_length_window_step_up_without_dividing_by_zero() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        initial_difficulty: Some(100.0),
        cooldown: Duration::ZERO,
        ..VarDiffConfig::default()
    };
    let mut vd = VarDiff::new(cfg, 1e9, t0);
    for _ in 0..10 {
        vd.on_share(t0);
    }
    // Only reachable with a clock that jumps: make the evaluation due at t0.
    vd.last_eval = t0.checked_sub(Duration::from_secs(60)).unwrap_or(t0);
    assert_eq!(vd.poll(t0), Some(400.0));
}

#[test]
fn never_above_the_pool_difficulty() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        initial_difficulty: Some(1000.0),
        ..VarDiffConfig::default()
    };
    let mut vd = VarDiff::new(cfg, 50_000.0, t0);
    let mut miner = Miner::new(10_000.0); // wants 100_000
    let changes = run(&mut vd, &mut miner, t0, 1800);
    assert!(changes.iter().all(|(_, d)| *d <= 50_000.0), "{changes:?}");
    assert_eq!(vd.current(), 50_000.0);
}

#[test]
fn pool_drop_below_current_applies_at_the_next_poll_despite_cooldown() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 65536.0, t0);
    vd.set_pool_difficulty(1024.0, at(t0, 1));
    assert_eq!(vd.next_deadline(), Some(at(t0, 1)));
    assert_eq!(vd.poll(at(t0, 1)), Some(1024.0));
    assert_eq!(vd.current(), 1024.0);
    // The correction is a change: the cooldown starts again from it.
    assert_eq!(vd.next_deadline(), Some(at(t0, 31)));
}

#[test]
fn pool_rise_does_not_force_a_change() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 10_000.0, t0);
    vd.set_pool_difficulty(1e6, at(t0, 1));
    assert_eq!(vd.poll(at(t0, 1)), None);
    assert_eq!(vd.current(), 10_000.0);
}

#[test]
fn pool_cap_wins_over_min_and_floor_hint() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        min_difficulty: 1000.0,
        ..VarDiffConfig::default()
    };
    let mut vd = VarDiff::new(cfg, 0.001, t0);
    assert_eq!(vd.current(), 0.001);
    vd.set_floor_hint(5000.0);
    assert_eq!(vd.poll(at(t0, 1)), None);
    assert_eq!(vd.current(), 0.001);
    // Pinned: nothing to retarget.
    assert_eq!(vd.next_deadline(), None);
}

#[test]
fn max_difficulty_caps_below_the_pool() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        max_difficulty: 4096.0,
        ..VarDiffConfig::default()
    };
    let vd = VarDiff::new(cfg, 65536.0, t0);
    assert_eq!(vd.current(), 4096.0);
}

#[test]
fn floor_hint_raises_the_lower_bound_at_once() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        initial_difficulty: Some(100.0),
        ..VarDiffConfig::default()
    };
    let mut vd = VarDiff::new(cfg, 65536.0, t0);
    vd.poll(at(t0, 1));
    vd.set_floor_hint(2048.0);
    assert_eq!(vd.next_deadline(), Some(at(t0, 1)));
    assert_eq!(vd.poll(at(t0, 2)), Some(2048.0));
    // A lower hint afterwards does not lower the miner by itself.
    vd.set_floor_hint(512.0);
    assert_eq!(vd.poll(at(t0, 3)), None);
    assert_eq!(vd.current(), 2048.0);
}

#[test]
fn floor_hint_is_capped_by_the_pool() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 1000.0, t0);
    vd.set_floor_hint(1e6);
    assert_eq!(vd.poll(at(t0, 1)), None);
    assert_eq!(vd.current(), 1000.0);
}

#[test]
fn floor_hint_stops_the_silent_miner_decay() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 65536.0, t0);
    vd.set_floor_hint(16384.0);
    assert_eq!(vd.poll(at(t0, 30)), Some(32768.0));
    assert_eq!(vd.poll(at(t0, 60)), Some(16384.0));
    assert_eq!(vd.poll(at(t0, 90)), None);
    assert_eq!(vd.next_deadline(), None);
}

#[test]
fn cooldown_defers_a_needed_change_until_it_ends() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        retarget_every: Duration::from_secs(5),
        cooldown: Duration::from_secs(30),
        initial_difficulty: Some(1000.0),
        ..VarDiffConfig::default()
    };
    let mut vd = VarDiff::new(cfg, 1e9, t0);
    for s in 1..=20 {
        vd.on_share(at(t0, s)); // one per second: 10x too fast
    }
    assert_eq!(vd.poll(at(t0, 10)), None);
    assert_eq!(vd.poll(at(t0, 20)), None);
    assert_eq!(vd.next_deadline(), Some(at(t0, 30)));
    assert_eq!(vd.poll(at(t0, 29)), None);
    // Applied at the first poll after the cooldown, even a late one.
    assert_eq!(vd.poll(at(t0, 41)), Some(4000.0));
    assert_eq!(vd.next_deadline(), Some(at(t0, 71)));
}

#[test]
fn silent_miner_is_halved_each_retarget_period_down_to_the_minimum() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        min_difficulty: 1000.0,
        ..VarDiffConfig::default()
    };
    let mut vd = VarDiff::new(cfg, 8000.0, t0);
    assert_eq!(vd.next_deadline(), Some(at(t0, 30)));
    assert_eq!(vd.poll(at(t0, 29)), None);
    assert_eq!(vd.poll(at(t0, 30)), Some(4000.0));
    assert_eq!(vd.next_deadline(), Some(at(t0, 60)));
    assert_eq!(vd.poll(at(t0, 60)), Some(2000.0));
    assert_eq!(vd.poll(at(t0, 90)), Some(1000.0));
    assert_eq!(vd.next_deadline(), None, "at its floor, nothing to do");
    assert_eq!(vd.poll(at(t0, 120)), None);
    // A share brings the timer back.
    vd.on_share(at(t0, 121));
    assert_eq!(vd.next_deadline(), Some(at(t0, 150)));
}

#[test]
fn silent_miner_waits_several_target_intervals() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        target_interval: Duration::from_secs(60),
        ..VarDiffConfig::default()
    };
    let mut vd = VarDiff::new(cfg, 8000.0, t0);
    assert_eq!(vd.poll(at(t0, 30)), None);
    assert_eq!(vd.poll(at(t0, 150)), None);
    assert_eq!(vd.poll(at(t0, 180)), Some(4000.0));
}

#[test]
fn bad_inputs_are_ignored() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 1000.0, t0);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -5.0] {
        vd.set_pool_difficulty(bad, at(t0, 1));
        vd.set_floor_hint(bad);
        assert_eq!(vd.poll(at(t0, 1)), None);
        assert_eq!(vd.current(), 1000.0);
    }
}

#[test]
fn unusable_pool_difficulty_at_start_means_no_cap_until_known() {
    let t0 = Instant::now();
    for bad in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
        let mut vd = VarDiff::new(VarDiffConfig::default(), bad, t0);
        assert_eq!(vd.current(), 1.0);
        vd.set_pool_difficulty(0.5, at(t0, 1));
        assert_eq!(vd.poll(at(t0, 1)), Some(0.5));
    }
}

#[test]
fn unusable_config_values_are_replaced() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        target_interval: Duration::ZERO,
        retarget_every: Duration::ZERO,
        cooldown: Duration::MAX,
        min_difficulty: f64::NAN,
        max_difficulty: -3.0,
        initial_difficulty: Some(f64::INFINITY),
        variance: f64::NAN,
    };
    let mut vd = VarDiff::new(cfg, 500.0, t0);
    assert_eq!(vd.cfg.target_interval, Duration::from_secs(10));
    assert_eq!(vd.cfg.retarget_every, Duration::from_secs(30));
    assert_eq!(vd.cfg.min_difficulty, 1.0);
    assert_eq!(vd.cfg.max_difficulty, f64::MAX);
    assert_eq!(vd.cfg.variance, 0.3);
    assert_eq!(vd.current(), 500.0);
    vd.on_share(at(t0, 1));
    assert_eq!(vd.poll(at(t0, 100)), None); // a year of cooldown
    let _ = vd.next_deadline(); // no overflow panic
}

#[test]
fn max_below_min_collapses_to_min() {
    let t0 = Instant::now();
    let cfg = VarDiffConfig {
        min_difficulty: 100.0,
        max_difficulty: 10.0,
        ..VarDiffConfig::default()
    };
    let vd = VarDiff::new(cfg, 1e6, t0);
    assert_eq!(vd.current(), 100.0);
    assert_eq!(vd.next_deadline(), None);
}

#[test]
fn time_going_backwards_does_not_panic() {
    let t0 = Instant::now();
    let late = at(t0, 1000);
    let mut vd = VarDiff::new(VarDiffConfig::default(), 1000.0, late);
    vd.on_share(t0);
    assert_eq!(vd.poll(t0), None);
    vd.set_pool_difficulty(10.0, t0);
    assert_eq!(vd.poll(t0), Some(10.0));
}

#[test]
fn long_steady_window_still_follows_a_hashrate_drop() {
    let t0 = Instant::now();
    let mut vd = VarDiff::new(VarDiffConfig::default(), 10_000.0, t0);
    let mut miner = Miner::new(1000.0);
    assert!(run(&mut vd, &mut miner, t0, 7200).is_empty());
    miner.hashrate = 250.0; // lost three quarters of its boards
    let changes = run(&mut vd, &mut miner, at(t0, 7200), 1800);
    assert!(!changes.is_empty());
    let secs = interval(&vd, &miner);
    assert!(
        (7.0..=13.0).contains(&secs),
        "interval {secs}s: {changes:?}"
    );
}

/// A tiny deterministic generator for event sequences (no external crates).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn random_event_sequences_stay_within_bounds() {
    let values = [
        f64::NAN,
        f64::INFINITY,
        -1.0,
        0.0,
        1e-300,
        0.5,
        1.0,
        100.0,
        4096.0,
        1e6,
        1e300,
        f64::MAX,
    ];
    for seed in 0..200 {
        let mut rng = Lcg(seed);
        let t0 = Instant::now();
        let cfg = VarDiffConfig {
            min_difficulty: 2.0,
            max_difficulty: 1e12,
            cooldown: Duration::from_secs(rng.next() % 60),
            retarget_every: Duration::from_secs(1 + rng.next() % 60),
            ..VarDiffConfig::default()
        };
        let mut vd = VarDiff::new(cfg, 1000.0, t0);
        let mut pool = 1000.0;
        let mut secs = 0;
        for _ in 0..500 {
            secs += rng.next() % 20;
            let now = at(t0, secs);
            let value = values[(rng.next() % values.len() as u64) as usize];
            match rng.next() % 4 {
                0 => {
                    vd.set_pool_difficulty(value, now);
                    if valid(value) {
                        pool = value;
                    }
                }
                1 => vd.set_floor_hint(value),
                _ => {
                    for _ in 0..rng.next() % 50 {
                        vd.on_share(now);
                    }
                }
            }
            let polled = vd.poll(now);
            let d = vd.current();
            assert!(valid(d), "seed {seed}: {d}");
            assert!(d <= pool, "seed {seed}: {d} above pool {pool}");
            assert!(d <= 1e12 && (d >= 2.0 || d == pool), "seed {seed}: {d}");
            if let Some(sent) = polled {
                assert_eq!(sent, d);
            }
            assert_eq!(vd.poll(now), None, "seed {seed}: two changes at once");
            if let Some(deadline) = vd.next_deadline() {
                assert!(deadline > now, "seed {seed}: deadline not in the future");
            }
        }
    }
}
