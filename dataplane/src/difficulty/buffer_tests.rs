//! Unit tests of the difficulty buffer, with synthetic instants (no sleeping);
//! the seed's defects are pinned by the `defect_*` tests.

use super::*;

fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

/// Seed defaults without the hourly buffer decrease, to isolate other rules.
fn steady() -> BufferConfig {
    BufferConfig {
        buffer_decrease_interval: MAX_SETTING,
        ..BufferConfig::default()
    }
}

/// A buffer that got pool difficulty `pool` and sent the first value at t0.
fn started(cfg: BufferConfig, pool: f64) -> (DifficultyBuffer, Instant) {
    let t0 = Instant::now();
    let mut db = DifficultyBuffer::new(cfg, t0);
    db.on_pool_difficulty(pool, t0);
    assert!(db.poll(t0).is_some());
    (db, t0)
}

/// The next deadline within a day (`steady()` leaves a year-away buffer timer).
fn soon(db: &DifficultyBuffer, t0: Instant) -> Option<Instant> {
    db.next_deadline()
        .filter(|d| *d < t0 + Duration::from_secs(86_400 * 7))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[track_caller]
fn assert_sent(got: Option<f64>, want: f64) {
    match got {
        Some(d) if close(d, want) => {}
        other => panic!("expected Some({want}), got {other:?}"),
    }
}

#[test]
fn defaults_are_the_seeds() {
    let c = BufferConfig::default();
    assert_eq!(c.change_cooldown, Duration::from_secs(30));
    assert!(c.decay_enabled);
    assert_eq!(c.decay_interval, Duration::from_secs(300));
    assert_eq!(c.decay_percent, 0.05);
    assert_eq!(c.floor_trigger_ratio, 0.50);
    assert_eq!(c.floor_reset_ratio, 0.75);
    assert_eq!(c.share_rate_window, Duration::from_secs(300));
    assert_eq!(c.share_rate_min_shares, 3);
    assert_eq!(c.share_rate_low_multiplier, 0.5);
    assert_eq!(c.buffer_start, 0.05);
    assert_eq!(c.buffer_min, 0.02);
    assert_eq!(c.buffer_max, 0.20);
    assert_eq!(c.buffer_increase_step, 0.01);
    assert_eq!(c.buffer_decrease_interval, Duration::from_secs(3600));
    assert_eq!(c.buffer_override, None);
    assert_eq!(c.min_difficulty, None);
    assert_eq!(c.max_difficulty, None);
    assert_eq!(c.clone().sanitized(), c);
}

#[test]
fn nothing_until_the_pool_difficulty_is_known() {
    let t0 = Instant::now();
    let mut db = DifficultyBuffer::new(BufferConfig::default(), t0);
    assert_eq!(db.current(), None);
    assert_eq!(db.poll(at(t0, 1)), None);
    db.on_share(at(t0, 2));
    assert_eq!(db.poll(at(t0, 2)), None);
    assert_eq!(db.buffer(), 0.05);
}

#[test]
fn first_difficulty_is_pool_plus_buffer_at_once() {
    let t0 = Instant::now();
    let mut db = DifficultyBuffer::new(BufferConfig::default(), t0);
    db.on_pool_difficulty(1000.0, t0);
    assert_eq!(db.next_deadline(), Some(t0));
    assert_sent(db.poll(t0), 1050.0);
    assert!(close(db.current().unwrap_or(0.0), 1050.0));
}

#[test]
fn ratchet_keeps_the_difficulty_when_the_pool_drops_a_little() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_pool_difficulty(800.0, at(t0, 60));
    assert_eq!(db.poll(at(t0, 60)), None);
    assert_eq!(db.poll(at(t0, 120)), None);
    assert!(close(db.current().unwrap_or(0.0), 1050.0));
}

#[test]
fn pool_rise_above_the_miner_is_sent_at_once_despite_cooldown() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_pool_difficulty(2000.0, at(t0, 1));
    assert_eq!(db.next_deadline(), Some(at(t0, 1)));
    assert_sent(db.poll(at(t0, 1)), 2100.0);
}

#[test]
fn defect_b_cooldown_defers_a_needed_change_instead_of_dropping_it() {
    let (mut db, t0) = started(steady(), 1000.0);
    // P rises but stays below M: only the buffer part is missing, cooldown applies.
    db.on_pool_difficulty(1040.0, at(t0, 10));
    assert_eq!(db.poll(at(t0, 10)), None);
    assert_eq!(db.next_deadline(), Some(at(t0, 30)));
    assert_eq!(db.poll(at(t0, 29)), None);
    assert_sent(db.poll(at(t0, 30)), 1092.0);
}

#[test]
fn floor_reset_when_the_pool_drops_below_half() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_pool_difficulty(400.0, at(t0, 60));
    assert_sent(db.poll(at(t0, 60)), 1050.0 * 0.75);
}

#[test]
fn floor_reset_is_within_cooldown_deferred() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_pool_difficulty(400.0, at(t0, 5));
    assert_eq!(db.poll(at(t0, 5)), None);
    assert_eq!(db.next_deadline(), Some(at(t0, 30)));
    assert_sent(db.poll(at(t0, 30)), 1050.0 * 0.75);
}

#[test]
fn floor_reset_never_goes_below_the_target() {
    let cfg = BufferConfig {
        floor_reset_ratio: 0.2,
        ..steady()
    };
    let (mut db, t0) = started(cfg, 1000.0);
    db.on_pool_difficulty(400.0, at(t0, 60));
    assert_sent(db.poll(at(t0, 60)), 420.0);
}

#[test]
fn defect_c_decay_runs_from_poll_at_next_deadline_without_messages() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_pool_difficulty(400.0, at(t0, 60));
    assert_sent(db.poll(at(t0, 60)), 787.5);
    // No message from here on: only the timer drives the decay.
    let mut changes = Vec::new();
    while let Some(deadline) = soon(&db, t0) {
        if let Some(d) = db.poll(deadline) {
            changes.push((deadline, d));
        }
        assert!(changes.len() < 100);
    }
    let mut d: f64 = 787.5;
    for (i, (when, got)) in changes.iter().enumerate() {
        d = (d * 0.95).max(420.0);
        assert_eq!(*when, at(t0, 60 + 300 * (i as u64 + 1)));
        assert!(close(*got, d), "step {i}: {got} != {d}");
    }
    assert_eq!(changes.len(), 13);
    assert!(close(d, 420.0), "decays down to T = 420, got {d}");
}

#[test]
fn decay_disabled_keeps_the_difficulty() {
    let cfg = BufferConfig {
        decay_enabled: false,
        ..steady()
    };
    let (mut db, t0) = started(cfg, 1000.0);
    db.on_pool_difficulty(400.0, at(t0, 60));
    assert_sent(db.poll(at(t0, 60)), 787.5);
    for s in (360..=3600).step_by(300) {
        assert_eq!(db.poll(at(t0, s)), None);
    }
}

#[test]
fn decay_clock_starts_when_the_difficulty_rises_above_target() {
    let (mut db, t0) = started(steady(), 1000.0);
    // Long at T, then the pool drops a little: M stays (ratchet), now above T.
    db.on_pool_difficulty(900.0, at(t0, 1000));
    assert_eq!(db.poll(at(t0, 1000)), None);
    assert_eq!(db.next_deadline(), Some(at(t0, 1300)));
    assert_sent(db.poll(at(t0, 1300)), 1050.0 * 0.95);
}

#[test]
fn low_difficulty_rejection_raises_at_once_and_bumps_the_buffer() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_low_difficulty_rejection(Some(1500.0), at(t0, 5));
    assert!(close(db.buffer(), 0.06));
    assert_eq!(db.next_deadline(), Some(at(t0, 5)));
    // R * (1 + b) with b before the step, bypassing the cooldown.
    assert_sent(db.poll(at(t0, 5)), 1575.0);
}

#[test]
fn low_difficulty_rejection_without_a_number_raises_to_the_new_target() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_low_difficulty_rejection(None, at(t0, 5));
    assert_sent(db.poll(at(t0, 5)), 1060.0);
    db.on_low_difficulty_rejection(Some(f64::NAN), at(t0, 6));
    assert_sent(db.poll(at(t0, 6)), 1070.0);
}

#[test]
fn low_difficulty_rejection_with_a_small_number_still_raises() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_low_difficulty_rejection(Some(10.0), at(t0, 5));
    assert_sent(db.poll(at(t0, 5)), 1060.0);
}

#[test]
fn rejection_cancels_a_deferred_decrease_instead_of_rushing_it() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_pool_difficulty(400.0, at(t0, 5)); // floor reset, deferred by cooldown
    assert_eq!(db.poll(at(t0, 5)), None);
    db.on_low_difficulty_rejection(None, at(t0, 6));
    assert_eq!(db.poll(at(t0, 6)), None);
    assert_eq!(db.poll(at(t0, 60)), None);
    assert!(close(db.current().unwrap_or(0.0), 1050.0));
}

#[test]
fn reported_difficulty_is_believed_up_to_a_multiple_of_the_pool() {
    let (mut db, t0) = started(steady(), 1000.0);
    db.on_low_difficulty_rejection(Some(1e300), at(t0, 5));
    assert_sent(db.poll(at(t0, 5)), 1000.0 * MAX_REPORTED_OVER_POOL * 1.05);
}

#[test]
fn rejection_before_any_pool_difficulty_only_bumps_the_buffer() {
    let t0 = Instant::now();
    let mut db = DifficultyBuffer::new(BufferConfig::default(), t0);
    db.on_low_difficulty_rejection(Some(5000.0), t0);
    assert_eq!(db.poll(t0), None);
    assert!(close(db.buffer(), 0.06));
    db.on_pool_difficulty(1000.0, at(t0, 1));
    assert_sent(db.poll(at(t0, 1)), 1060.0);
}

#[test]
fn buffer_stops_at_buffer_max() {
    let (mut db, t0) = started(steady(), 1000.0);
    for s in 1..=30 {
        db.on_low_difficulty_rejection(None, at(t0, s));
        db.poll(at(t0, s));
    }
    assert!(close(db.buffer(), 0.20));
    assert!(close(db.current().unwrap_or(0.0), 1200.0));
}

#[test]
fn buffer_falls_an_hour_after_the_last_rejection_down_to_buffer_min() {
    let (mut db, t0) = started(BufferConfig::default(), 1000.0);
    db.on_low_difficulty_rejection(None, at(t0, 100));
    db.poll(at(t0, 100));
    assert!(close(db.buffer(), 0.06));
    assert_eq!(db.poll(at(t0, 3699)), None);
    assert!(close(db.buffer(), 0.06));
    db.poll(at(t0, 3700));
    assert!(close(db.buffer(), 0.05));
    for hour in 2..=10 {
        db.poll(at(t0, 100 + hour * 3600));
    }
    assert!(close(db.buffer(), 0.02));
    // The miner's difficulty followed down by decay, never below P * 1.02.
    assert!(close(db.current().unwrap_or(0.0), 1020.0));
}

#[test]
fn defect_a_first_accepted_share_does_not_cut_the_buffer() {
    let (mut db, t0) = started(BufferConfig::default(), 1000.0);
    db.on_share(at(t0, 1));
    assert_eq!(db.poll(at(t0, 1)), None);
    assert_eq!(db.buffer(), 0.05);
    db.on_share(at(t0, 3599));
    db.poll(at(t0, 3599));
    assert_eq!(db.buffer(), 0.05);
    assert_eq!(db.next_deadline(), Some(at(t0, 3600)));
    db.poll(at(t0, 3600));
    assert!(close(db.buffer(), 0.04));
}

#[test]
fn buffer_override_fixes_the_buffer() {
    let cfg = BufferConfig {
        buffer_override: Some(0.10),
        ..BufferConfig::default()
    };
    let (mut db, t0) = started(cfg, 1000.0);
    assert!(close(db.current().unwrap_or(0.0), 1100.0));
    db.on_low_difficulty_rejection(Some(2000.0), at(t0, 5));
    assert_sent(db.poll(at(t0, 5)), 2200.0);
    assert_eq!(db.buffer(), 0.10);
    for s in (3600..=4 * 3600).step_by(300) {
        db.poll(at(t0, s));
    }
    assert_eq!(db.buffer(), 0.10);
    assert!(close(db.current().unwrap_or(0.0), 1100.0), "decayed to T");
}

#[test]
fn defect_d_low_difficulty_path_respects_the_pool_max() {
    let cfg = BufferConfig {
        max_difficulty: Some(1100.0),
        ..steady()
    };
    let (mut db, t0) = started(cfg, 1000.0);
    db.on_low_difficulty_rejection(Some(2000.0), at(t0, 5));
    assert_sent(db.poll(at(t0, 5)), 1100.0);
    db.on_low_difficulty_rejection(Some(5000.0), at(t0, 6));
    assert_eq!(db.poll(at(t0, 6)), None);
    assert_eq!(db.current(), Some(1100.0));
}

#[test]
fn defect_e_never_below_the_pool_even_if_max_is_lower() {
    let cfg = BufferConfig {
        max_difficulty: Some(500.0),
        ..steady()
    };
    let (mut db, t0) = started(cfg, 1000.0);
    assert_eq!(db.current(), Some(1000.0), "P wins over max_difficulty");
    db.on_low_difficulty_rejection(Some(2000.0), at(t0, 5));
    assert_eq!(db.poll(at(t0, 5)), None);
    db.on_pool_difficulty(3000.0, at(t0, 6));
    assert_eq!(db.poll(at(t0, 6)), Some(3000.0));
    db.on_pool_difficulty(100.0, at(t0, 100));
    assert_eq!(db.poll(at(t0, 100)), Some(500.0));
}

#[test]
fn min_difficulty_raises_the_target() {
    let cfg = BufferConfig {
        min_difficulty: Some(5000.0),
        ..steady()
    };
    let (mut db, t0) = started(cfg, 1000.0);
    assert_eq!(db.current(), Some(5000.0));
    // Nothing to decay: the clamped target is the floor.
    assert_eq!(soon(&db, t0), None);
    assert_eq!(db.poll(at(t0, 3600)), None);
}

/// Drives a miner that shares every `every` seconds from `from` to `to`,
/// polling at each share and at every deadline; returns the changes.
fn drive(
    db: &mut DifficultyBuffer,
    t0: Instant,
    from: u64,
    to: u64,
    every: u64,
) -> Vec<(u64, f64)> {
    let mut out = Vec::new();
    for s in from..to {
        let now = at(t0, s);
        let share = every > 0 && s % every == 0;
        if share {
            db.on_share(now);
        }
        if !share && db.next_deadline().is_none_or(|d| d > now) {
            continue;
        }
        if let Some(d) = db.poll(now) {
            out.push((s, d));
        }
    }
    out
}

/// Raised well above T (rate monitor only matters there), decay off.
fn raised() -> (DifficultyBuffer, Instant) {
    let cfg = BufferConfig {
        decay_enabled: false,
        ..steady()
    };
    let (mut db, t0) = started(cfg, 1000.0);
    db.on_low_difficulty_rejection(Some(2000.0), t0);
    assert_sent(db.poll(t0), 2100.0);
    (db, t0)
}

#[test]
fn defect_c_rate_monitor_runs_from_poll_at_next_deadline_without_messages() {
    let (mut db, t0) = raised();
    assert!(drive(&mut db, t0, 1, 300, 30).is_empty()); // baseline: 10 shares
    // The miner goes silent: only deadlines drive the monitor.
    let changes = drive(&mut db, t0, 300, 1300, 0);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].0, 600);
    assert!(close(changes[0].1, 1060.0), "halved, but not below T");
    assert_eq!(soon(&db, t0), None);
}

#[test]
fn rate_monitor_lowers_in_proportion_to_the_drop() {
    let (mut db, t0) = raised();
    db.cfg.share_rate_low_multiplier = 0.9;
    drive(&mut db, t0, 0, 300, 10); // baseline: 30 shares per window
    let changes = drive(&mut db, t0, 300, 601, 12); // 25 shares: 0.83
    assert_eq!(changes, vec![(600, 2100.0 * 25.0 / 30.0)]);
}

#[test]
fn rate_monitor_leaves_a_steady_miner_alone() {
    let (mut db, t0) = raised();
    assert!(drive(&mut db, t0, 1, 7200, 20).is_empty());
    assert_eq!(db.current(), Some(2100.0));
}

#[test]
fn rate_monitor_needs_min_shares_for_a_baseline() {
    let (mut db, t0) = raised();
    db.on_share(at(t0, 10));
    db.on_share(at(t0, 20));
    assert!(drive(&mut db, t0, 300, 3000, 0).is_empty());
    assert_eq!(db.baseline, None);
}

#[test]
fn bad_inputs_are_ignored() {
    let (mut db, t0) = started(steady(), 1000.0);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -7.0] {
        db.on_pool_difficulty(bad, at(t0, 100));
        db.on_low_difficulty_rejection(Some(bad), at(t0, 100));
        db.poll(at(t0, 100));
        let d = db.current().unwrap_or(0.0);
        assert!(valid(d) && d >= 1000.0, "{d}");
    }
}

#[test]
fn unusable_config_values_are_replaced() {
    let cfg = BufferConfig {
        change_cooldown: Duration::MAX,
        decay_enabled: true,
        decay_interval: Duration::ZERO,
        decay_percent: f64::NAN,
        floor_trigger_ratio: f64::INFINITY,
        floor_reset_ratio: -1.0,
        share_rate_window: Duration::ZERO,
        share_rate_min_shares: 0,
        share_rate_low_multiplier: f64::NAN,
        buffer_start: f64::NAN,
        buffer_min: -1.0,
        buffer_max: 0.001,
        buffer_increase_step: f64::INFINITY,
        buffer_decrease_interval: Duration::MAX,
        buffer_override: Some(f64::NAN),
        min_difficulty: Some(f64::NAN),
        max_difficulty: Some(-1.0),
    };
    let c = cfg.sanitized();
    assert_eq!(c.change_cooldown, MAX_SETTING);
    assert_eq!(c.decay_interval, MIN_TIMER);
    assert_eq!(c.decay_percent, 0.05);
    assert_eq!(c.floor_trigger_ratio, 1.0);
    assert_eq!(c.floor_reset_ratio, 0.0);
    assert_eq!(c.share_rate_window, MIN_TIMER);
    assert_eq!(c.share_rate_min_shares, 1);
    assert_eq!(c.buffer_min, 0.02);
    assert_eq!(c.buffer_max, 0.02);
    assert_eq!(c.buffer_start, 0.02);
    assert_eq!(c.buffer_increase_step, 0.01);
    assert_eq!(c.buffer_override, None);
    assert_eq!((c.min_difficulty, c.max_difficulty), (None, None));
    let t0 = Instant::now();
    let mut db = DifficultyBuffer::new(c, t0);
    db.on_pool_difficulty(1000.0, t0);
    assert_sent(db.poll(t0), 1020.0);
    let _ = db.next_deadline();
}

#[test]
fn negative_override_means_no_buffer_and_huge_pool_does_not_overflow() {
    let cfg = BufferConfig {
        buffer_override: Some(-0.5),
        ..BufferConfig::default()
    };
    let (db, _) = started(cfg, 1000.0);
    assert_eq!(db.current(), Some(1000.0));
    let (db, _) = started(BufferConfig::default(), f64::MAX);
    assert_eq!(db.current(), Some(f64::MAX));
}

#[test]
fn time_going_backwards_does_not_panic() {
    let t0 = Instant::now();
    let late = at(t0, 10_000);
    let mut db = DifficultyBuffer::new(BufferConfig::default(), late);
    db.on_pool_difficulty(1000.0, late);
    db.poll(late);
    db.on_share(t0);
    db.on_low_difficulty_rejection(Some(3000.0), t0);
    assert_sent(db.poll(t0), 3150.0);
    db.on_pool_difficulty(10.0, t0);
    assert_eq!(db.poll(t0), None);
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
fn random_event_sequences_never_send_below_the_pool_nor_spin() {
    let values = [
        f64::NAN,
        f64::INFINITY,
        -1.0,
        0.0,
        1e-300,
        0.5,
        100.0,
        1000.0,
        1100.0,
        4096.0,
        1e300,
        f64::MAX,
    ];
    for seed in 0..300 {
        let mut rng = Lcg(seed);
        let cfg = BufferConfig {
            change_cooldown: Duration::from_secs(rng.next() % 60),
            decay_interval: Duration::from_secs(rng.next() % 400),
            share_rate_window: Duration::from_secs(rng.next() % 400),
            buffer_decrease_interval: Duration::from_secs(rng.next() % 4000),
            min_difficulty: (rng.next() % 3 == 1).then_some(50.0),
            max_difficulty: (rng.next() % 3 == 1).then_some(2000.0),
            buffer_override: (rng.next() % 4 == 1).then_some(0.1),
            ..BufferConfig::default()
        };
        let t0 = Instant::now();
        let mut db = DifficultyBuffer::new(cfg, t0);
        let mut pool: Option<f64> = None;
        let mut secs = 0;
        for _ in 0..400 {
            secs += rng.next() % 120;
            let now = at(t0, secs);
            let value = values[(rng.next() % values.len() as u64) as usize];
            match rng.next() % 5 {
                0 => {
                    db.on_pool_difficulty(value, now);
                    if valid(value) {
                        pool = Some(value);
                    }
                }
                1 => db.on_low_difficulty_rejection(Some(value), now),
                2 => db.on_low_difficulty_rejection(None, now),
                _ => {
                    for _ in 0..rng.next() % 5 {
                        db.on_share(now);
                    }
                }
            }
            let polled = db.poll(now);
            if let Some(p) = pool {
                let d = db.current().unwrap_or(0.0);
                assert!(valid(d) && d >= p, "seed {seed}: sent {d} below pool {p}");
            }
            if let Some(sent) = polled {
                assert_eq!(Some(sent), db.current());
            }
            assert_eq!(db.poll(now), None, "seed {seed}: two changes at once");
            if let Some(deadline) = db.next_deadline() {
                assert!(deadline > now, "seed {seed}: deadline not in the future");
            }
            let b = db.buffer();
            assert!((0.0..=0.20).contains(&b), "seed {seed}: buffer {b}");
        }
    }
}
