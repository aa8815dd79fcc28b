//! ALEO provers as they really subscribe (protocols.md §3), through the data
//! plane to pools of each dialect, with the pool's dialect configured and
//! detected: an IceRiver ASIC (`["IceRiverMiner-v1.1","AleoStratum/2.0.0",
//! null]`) mines on an IceRiver-style pool, an AleoStratum/3.0.0 prover on
//! an AleoStratum3 pool, a prover that names no protocol on either (it
//! follows the pool), and a prover whose announced dialect the pool does
//! not speak is refused at subscribe with both dialects named.

use std::time::Duration;

use switchyard_stratum::aleo::{Dialect, SubscribeResult, submit_result};
use switchyard_tests::aleo_miner::Prover;
use switchyard_tests::dp::{aleo_pool, aleo_test_config, start_aleo};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};

const T: Duration = Duration::from_secs(20);

fn pool_config(d: Dialect) -> AleoPoolConfig {
    match d {
        Dialect::AleoStratum3 => AleoPoolConfig::aleo_stratum3(),
        Dialect::IceRiver => AleoPoolConfig::iceriver(),
    }
}

/// `prover` mines on a pool speaking `dialect` (configured as such, or left
/// to detection): subscribed in the pool's shape, authorized, one share
/// accepted by the pool.
async fn mines(prover: Prover, dialect: Dialect, configured: bool) {
    let case = format!("{prover:?} on a {dialect} pool (configured: {configured})");
    let pool = AleoPool::start(pool_config(dialect)).await.unwrap();
    let fixed = configured.then_some(dialect);
    let (dp, addr) = start_aleo(aleo_test_config(vec![aleo_pool("p", pool.addr(), fixed)]))
        .await
        .unwrap();
    let mut m = AleoMiner::ready_as(addr, prover, "farm.rig1")
        .await
        .unwrap_or_else(|e| panic!("{case}: {e:#}"));
    assert_eq!(m.dialect, dialect, "{case}: the miner got the pool's shape");
    let result = m.subscribe_result.clone().unwrap();
    assert_eq!(result.dialect(), dialect, "{case}");
    if let SubscribeResult::IceRiver { extranonce1, .. } = &result {
        let conn = pool.connection_infos().into_iter().last().unwrap();
        assert_eq!(*extranonce1, conn.extranonce1, "{case}: the pool's own");
    }
    let share = m.next_share().unwrap();
    let r = m.submit(&share).await.unwrap();
    assert_eq!(submit_result(&r), Ok(()), "{case}");
    pool.wait_for_accepted(1, T).await.unwrap();
    let got = pool.shares().pop().unwrap();
    assert_eq!(got.worker.as_deref(), Some("p-account.rig1"), "{case}");
    // The proxy's own connection subscribed as the pool wants; the miner's
    // connection broke no rule of the pool's dialect.
    let miner_conn = got.conn;
    let violations = pool.violations();
    assert!(
        violations.iter().all(|(c, _)| *c != miner_conn),
        "{case}: {violations:?}"
    );
    if configured {
        assert_eq!(
            violations,
            [],
            "{case}: a configured dialect is never guessed"
        );
    }
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_iceriver_asic_mines_on_an_iceriver_pool() {
    // The bug this file is for: the ASIC's "AleoStratum/2.0.0" was read as
    // AleoStratum/3.0.0 and the miner refused.
    mines(Prover::IceRiverAsic, Dialect::IceRiver, true).await;
    mines(Prover::IceRiverAsic, Dialect::IceRiver, false).await;
}

#[tokio::test]
async fn an_aleostratum3_prover_mines_on_an_aleostratum3_pool() {
    mines(Prover::AleoStratum3, Dialect::AleoStratum3, true).await;
    mines(Prover::AleoStratum3, Dialect::AleoStratum3, false).await;
}

#[tokio::test]
async fn a_prover_that_names_no_protocol_follows_the_pool() {
    for dialect in [Dialect::IceRiver, Dialect::AleoStratum3] {
        for configured in [true, false] {
            mines(Prover::Unannounced, dialect, configured).await;
        }
    }
}

#[tokio::test]
async fn a_prover_the_pool_cannot_serve_is_told_why_at_subscribe() {
    let cases = [
        (Prover::IceRiverAsic, Dialect::AleoStratum3),
        (Prover::AleoStratum3, Dialect::IceRiver),
    ];
    for (prover, dialect) in cases {
        for configured in [true, false] {
            let case = format!("{prover:?} on a {dialect} pool (configured: {configured})");
            let pool = AleoPool::start(pool_config(dialect)).await.unwrap();
            let fixed = configured.then_some(dialect);
            let cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), fixed)]);
            let (dp, addr) = start_aleo(cfg).await.unwrap();
            let mine = prover.dialect().unwrap();
            let mut m = AleoMiner::connect(addr, mine).await.unwrap();
            let r = m.subscribe_as(prover).await.unwrap();
            let (_, text) = r.error_parts().unwrap_or_else(|| panic!("{case}: {r:?}"));
            assert!(
                text.contains(&format!("speaks the {dialect} ALEO dialect"))
                    && text.contains(&format!("subscribed in {mine}")),
                "{case}: {text}"
            );
            m.expect_closed(T).await.unwrap();
            assert!(pool.shares().is_empty(), "{case}");
            dp.shutdown(Duration::from_secs(2)).await;
        }
    }
}
