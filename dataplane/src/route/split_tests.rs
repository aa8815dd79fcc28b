//! The split over simulated hours (the clock injected, nothing sleeps):
//! miners of unequal speed submit shares at random (exponential gaps, a
//! fixed seed), the split is rebalanced every tick, and the accepted
//! difficulty each pool received over the sliding hour is checked against
//! the weights every simulated minute.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::route::split_sim::Sim;

const HOUR: i64 = 3_600_000;

#[test]
fn one_miner_with_80_percent_of_the_work_is_time_shared_to_70_30() {
    let mut rates = vec![80.0];
    rates.extend(std::iter::repeat_n(1.0, 20));
    let mut sim = Sim::new(&[70, 30], &rates, 1);
    sim.run(3 * HOUR, HOUR, 2.0);
    sim.report("80% miner, 70/30");
    // The big miner goes back and forth and the small ones fill in around
    // it: about 4 moves a tick among 21 miners (each a clean job). Bounded,
    // not minimal; fewer moves for the same accuracy is tuning to come.
    let ticks = (3 * HOUR / Tuning::default().tick_ms) as usize;
    assert!(
        sim.moves < ticks * 6,
        "{} moves in {ticks} ticks",
        sim.moves
    );
    assert!(sim.worst > 0.0);
}

/// Found by `bench/split_live.sh`: a farm where one miner does nearly all
/// the work (its difficulty raised by vardiff) started 94/6 while the
/// rates were unmeasured, and the dead band, sized for an hour's work,
/// hid that start-up deficit for as long as the window was filling. With
/// one miner doing 99% of the work a 15 s tick is 1/(4 x minutes) of the
/// window, so the split can be held close only from about half an hour in.
#[test]
fn a_start_up_deficit_is_paid_back_while_the_window_fills() {
    let mut rates = vec![2000.0];
    rates.extend(std::iter::repeat_n(1.0, 20));
    let mut sim = Sim::new(&[70, 30], &rates, 3);
    // 1 point, not the 2: a dead band sized for a full hour left
    // 1.27 here.
    sim.run(HOUR, 30 * 60_000, 1.0);
    sim.report("99% miner, first hour");
}

#[test]
fn a_98_2_split_over_many_miners_of_mixed_speeds() {
    let mut rng = StdRng::seed_from_u64(7);
    // Log-uniform from 1 to 100: a few large machines, many small ones.
    let rates: Vec<f64> = (0..200)
        .map(|_| 10f64.powf(rng.random_range(0.0..2.0)))
        .collect();
    let mut sim = Sim::new(&[98, 2], &rates, 2);
    sim.run(3 * HOUR, HOUR, 2.0);
    sim.report("200 mixed miners, 98/2");
}

#[test]
fn few_equal_miners_and_three_pools() {
    let mut sim = Sim::new(&[50, 30, 20], &[10.0, 10.0, 10.0, 1.0, 1.0], 3);
    sim.run(3 * HOUR, HOUR, 2.0);
    sim.report("5 miners, 50/30/20");
}

#[test]
fn miners_joining_and_leaving_keep_the_split() {
    let mut rates = vec![40.0, 25.0];
    rates.extend(std::iter::repeat_n(2.0, 30));
    let mut sim = Sim::new(&[70, 30], &rates, 4);
    sim.run(HOUR, HOUR, 2.0);
    // The big one leaves, new mid-sized ones come, a few small ones go.
    sim.remove(0);
    for _ in 0..5 {
        sim.add(8.0);
    }
    for id in 2..8 {
        sim.remove(id);
    }
    sim.run(2 * HOUR, HOUR, 2.0);
    sim.add(60.0);
    sim.run(4 * HOUR, HOUR, 2.0);
    sim.report("joining and leaving, 70/30");
}

#[test]
fn a_pool_that_is_down_gives_its_part_to_the_others_until_it_is_back() {
    let mut rates = vec![30.0];
    rates.extend(std::iter::repeat_n(3.0, 20));
    let mut sim = Sim::new(&[70, 30], &rates, 5);
    sim.run(HOUR + 10 * 60_000, HOUR, 2.0);
    sim.split.set_up(1, false);
    sim.run(HOUR + 30 * 60_000, HOUR, 2.0);
    // While down, the other pool got everything and no miner is left on it.
    assert!(
        (0..sim.miners.len() as u32)
            .filter(|id| sim.miners[*id as usize].present)
            .all(|id| sim.split.pool_of(&id) == Some(0))
    );
    let credited_while_down = sim.credited[1];
    sim.run(HOUR + 31 * 60_000, HOUR, 2.0);
    assert_eq!(sim.credited[1], credited_while_down);
    // Back: the weights apply again, without paying back the down time.
    sim.split.set_up(1, true);
    sim.run(3 * HOUR, HOUR, 2.0);
    let (a, _) = sim.split.window(sim.now);
    let part = a[1] / a.iter().sum::<f64>();
    assert!((part - 0.30).abs() < 0.02, "{part}");
}

#[test]
fn every_accepted_share_is_counted_once_on_its_pool() {
    let mut sim = Sim::new(&[60, 40], &[5.0, 5.0, 5.0, 20.0], 6);
    sim.run(HOUR / 2, i64::MAX, 100.0);
    let (a, e) = sim.split.window(sim.now);
    for i in 0..2 {
        assert!(
            (a[i] - sim.credited[i]).abs() < 1e-6,
            "{a:?} {:?}",
            sim.credited
        );
    }
    let (sa, se): (f64, f64) = (a.iter().sum(), e.iter().sum());
    assert!((sa - se).abs() < 1e-6 * sa);
}

#[test]
fn a_new_miner_goes_where_work_is_owed_and_bad_input_is_ignored() {
    let mut s: Split<u32> = Split::new(&[50, 50], Tuning::default());
    assert_eq!(s.join(1, 0), 0);
    // Pool 0 got work; pool 1 is owed: the next miner goes there.
    s.accepted(Some(&1), 0, 100.0, 1_000);
    assert_eq!(s.join(2, 2_000), 1);
    s.accepted(None, 7, 1.0, 3_000);
    s.accepted(None, 0, f64::NAN, 3_000);
    s.accepted(None, 0, -1.0, 3_000);
    let (a, _) = s.window(3_000);
    assert_eq!(a, [100.0, 0.0]);
    // Every pool down: no moves, no panic.
    s.set_up(0, false);
    s.set_up(1, false);
    assert!(s.rebalance(4_000).is_empty());
    assert_eq!(s.target(), [0.0, 0.0]);
}

#[test]
fn miners_joining_at_once_are_placed_by_the_weights() {
    // All within one tick (one pass over the miners serves every join).
    let mut s: Split<u32> = Split::new(&[70, 30], Tuning::default());
    let mut on = [0, 0];
    for m in 0..10 {
        on[s.join(m, i64::from(m))] += 1;
    }
    assert_eq!(on, [7, 3]);
    let mut s: Split<u32> = Split::new(&[98, 2], Tuning::default());
    let mut on = [0, 0];
    for m in 0..100 {
        on[s.join(m, 0)] += 1;
    }
    assert_eq!(on, [98, 2]);
}

/// Found by `bench/split.sh`: with many small miners no single move could
/// gain a fixed part of the total rate, so after a pool came back none
/// returned to it. A move now needs only half of what it can gain.
#[test]
fn many_small_miners_return_to_a_pool_that_comes_back() {
    let mut rng = StdRng::seed_from_u64(9);
    let rates: Vec<f64> = (0..400)
        .map(|_| 10f64.powf(rng.random_range(0.0..2.0)))
        .collect();
    let mut sim = Sim::new(&[70, 30], &rates, 9);
    sim.run(HOUR + 20 * 60_000, HOUR, 2.0);
    sim.split.set_up(1, false);
    sim.run(HOUR + 40 * 60_000, HOUR, 2.0);
    sim.split.set_up(1, true);
    sim.run(3 * HOUR, HOUR, 2.0);
    sim.report("400 mixed miners, 70/30, pool 1 down 20 min");
}
