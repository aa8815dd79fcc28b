//! 300 RandomX miners through one data plane: 256 fit on one upstream
//! connection (one per value of the nonce's top byte), so the router opens a
//! second one for the rest. No two live miners of a connection share a
//! NiceHash slot (checked at the pool, which records each share's nonce),
//! and the slots of miners that leave are given to the next ones.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use switchyard_dataplane::config::{Algorithm, PoolMode};
use switchyard_stratum::randomx::{NICEHASH_OFFSET, reply_status};
use switchyard_tests::dp::{rx_pool, rx_test_config, start_rx};
use switchyard_tests::{RxMiner, RxPool, RxPoolConfig};

const T: Duration = Duration::from_secs(60);

/// The upstream connection (from the miner job id) and slot of a miner.
fn placement(m: &RxMiner) -> (String, u8) {
    let job = m.current_job().expect("a job");
    let upstream = job.job_id.split_once('.').expect("upstream.job").0;
    (upstream.to_string(), job.blob[NICEHASH_OFFSET])
}

async fn mine_one(m: &mut RxMiner) {
    let share = m.find_share().await.unwrap();
    assert_eq!(
        share.nonce[3],
        placement(m).1,
        "the miner stays in its slot"
    );
    let r = m.submit(&share).await.unwrap();
    assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
}

#[tokio::test]
async fn three_hundred_miners_fill_two_connections_without_slot_collisions() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let (dp, addr) = start_rx(rx_test_config(vec![rx_pool(
        "xmr",
        pool.addr(),
        PoolMode::Aggregate,
    )]))
    .await
    .unwrap();
    let mut miners = Vec::new();
    for i in 0..300 {
        let mut m = RxMiner::ready(addr, &format!("WALLET.rig{i}"))
            .await
            .unwrap();
        m.set_timeout(T);
        miners.push(m);
    }
    let mut by_upstream: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for m in &miners {
        let (up, slot) = placement(m);
        by_upstream.entry(up).or_default().push(slot);
    }
    let sizes: BTreeSet<usize> = by_upstream.values().map(Vec::len).collect();
    assert_eq!(sizes, BTreeSet::from([44, 256]), "{by_upstream:?}");
    for slots in by_upstream.values() {
        let unique: HashSet<_> = slots.iter().collect();
        assert_eq!(
            unique.len(),
            slots.len(),
            "a slot given twice on one connection"
        );
    }

    for m in &mut miners {
        mine_one(m).await;
    }
    pool.wait_for_accepted(300, T).await.unwrap();
    assert_eq!(pool.connections(), 2, "capacity 256 per connection");
    assert_eq!(pool.rejected(), 0);
    // At the pool: per connection, one share per miner, every slot distinct.
    let mut per_conn: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    for s in pool.shares() {
        per_conn.entry(s.conn).or_default().push(s.slot());
    }
    let counts: BTreeSet<usize> = per_conn.values().map(Vec::len).collect();
    assert_eq!(counts, BTreeSet::from([44, 256]));
    for slots in per_conn.values() {
        let unique: HashSet<_> = slots.iter().collect();
        assert_eq!(unique.len(), slots.len(), "two miners hashed in one slot");
    }

    // Ten miners of the full connection leave; their slots are reused.
    let full = by_upstream
        .iter()
        .find(|(_, s)| s.len() == 256)
        .map(|(u, _)| u.clone())
        .unwrap();
    let mut freed = BTreeSet::new();
    let mut kept = Vec::new();
    for m in miners {
        let (up, slot) = placement(&m);
        if up == full && freed.len() < 10 {
            freed.insert(slot);
            drop(m);
        } else {
            kept.push(m);
        }
    }
    let stats = dp.plane(Algorithm::Randomx).unwrap().stats.clone();
    let deadline = tokio::time::Instant::now() + T;
    // The data plane's count of live miners: no notification to wait on.
    while stats.active.load(Relaxed) != 290 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the data plane notices the miners that left"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut reused = BTreeSet::new();
    for i in 0..10 {
        let mut m = RxMiner::ready(addr, &format!("WALLET.new{i}"))
            .await
            .unwrap();
        let (up, slot) = placement(&m);
        assert_eq!(up, full, "the connection with room is filled first");
        reused.insert(slot);
        mine_one(&mut m).await;
        kept.push(m);
    }
    assert_eq!(reused, freed, "the freed slots, and only them");
    pool.wait_for_accepted(310, T).await.unwrap();
    assert_eq!(pool.connections(), 2, "no third connection");
    assert_eq!(pool.rejected(), 0);
    // Every live miner still has a slot of its own on its connection.
    let live: Vec<(String, u8)> = kept.iter().map(placement).collect();
    let unique: HashSet<_> = live.iter().collect();
    assert_eq!((live.len(), unique.len()), (300, 300));
    dp.shutdown(Duration::from_secs(2)).await;
}
