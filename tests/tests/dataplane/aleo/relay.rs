//! ALEO miners of both dialects mining through the data plane (passthrough:
//! one pool connection per miner, authorized as the pool account with the
//! miner's worker name): the subscribe answered with what the pool gave
//! that miner's own connection, the pool's difficulty buffered as the seed
//! did (x 1.05 by default), shares forwarded as the miner sent them and
//! counted, and nothing an ALEO pool does not speak sent to it. A miner's
//! connection closing after it leaves is the same for every algorithm
//! (`every_algorithm/passthrough.rs`).

use std::time::Duration;

use serde_json::Value;
use switchyard_stratum::aleo::{Dialect, Notify, SubscribeResult, difficulty_to_target};
use switchyard_tests::aleo_miner::pool_job_id;
use switchyard_tests::dp::{aleo_pool, aleo_test_config, start_aleo};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};

const T: Duration = Duration::from_secs(20);

/// The pool connection that authorized `user`.
fn conn_of(pool: &AleoPool, user: &str) -> switchyard_tests::AleoConnection {
    pool.connection_infos()
        .into_iter()
        .find(|c| c.authorized.iter().any(|u| u == user))
        .unwrap_or_else(|| {
            panic!(
                "no connection authorized {user}: {:?}",
                pool.authorized_users()
            )
        })
}

#[tokio::test]
async fn aleostratum3_miners_mine_through_their_own_connection_with_a_detected_dialect() {
    let pool = AleoPool::start(AleoPoolConfig::aleo_stratum3())
        .await
        .unwrap();
    // No dialect in the config: the pool's answers decide.
    let cfg = aleo_test_config(vec![aleo_pool("aleo3", pool.addr(), None)]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();

    let mut a = AleoMiner::ready(addr, Dialect::AleoStratum3, "farm.rigA")
        .await
        .unwrap();
    let mut b = AleoMiner::ready(addr, Dialect::AleoStratum3, "farm.rigB")
        .await
        .unwrap();
    for (m, user) in [(&a, "aleo3-account.rigA"), (&b, "aleo3-account.rigB")] {
        let conn = conn_of(&pool, user);
        match m.subscribe_result.as_ref().unwrap() {
            SubscribeResult::AleoStratum3 {
                session_id,
                pool_address,
                ..
            } => {
                assert_eq!(session_id.as_deref(), Some(conn.session_id.as_str()));
                assert_eq!(*pool_address, pool.config().pool_address);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(m.target, Some(1050), "the pool's 1000 plus the 5% buffer");
        let job = m.current_job().unwrap();
        assert_eq!(pool_job_id(job.job_id()), pool.current_job().job_id());
    }

    for m in [&mut a, &mut b] {
        for _ in 0..2 {
            let share = m.next_share().unwrap();
            let r = m.submit(&share).await.unwrap();
            assert!(r.is_ok() && r.result == Value::Bool(true), "{r:?}");
            assert!(r.jsonrpc, "AleoStratum3 answers are JSON-RPC 2.0");
        }
    }
    pool.wait_for_accepted(4, T).await.unwrap();
    let shares = pool.shares();
    for user in ["aleo3-account.rigA", "aleo3-account.rigB"] {
        let conn = conn_of(&pool, user).id;
        let mine: Vec<_> = shares.iter().filter(|s| s.conn == conn).collect();
        assert_eq!(mine.len(), 2, "one connection per miner: {shares:?}");
        assert!(mine.iter().all(|s| s.worker.as_deref() == Some(user)));
    }
    let s = dp.pool_stats("aleo3").unwrap();
    assert_eq!(
        (s.forwarded, s.pool_accepted, s.pool_rejected),
        (4, 4, 0),
        "{s:?}"
    );
    assert_eq!(pool.violations(), []);
    assert!(
        pool.requests().iter().all(|(_, r)| r.jsonrpc),
        "AleoStratum3 requests are JSON-RPC 2.0"
    );
    let methods: Vec<String> = pool
        .requests()
        .iter()
        .map(|(_, r)| r.method.clone())
        .collect();
    assert!(
        methods.iter().all(
            |m| ["mining.subscribe", "mining.authorize", "mining.submit"].contains(&m.as_str())
        ),
        "{methods:?}"
    );
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn iceriver_miners_get_their_connections_extranonce_and_a_buffered_target() {
    let pool = AleoPool::start(AleoPoolConfig::iceriver()).await.unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("ice", pool.addr(), Some(Dialect::IceRiver))]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();

    let mut m = AleoMiner::ready(addr, Dialect::IceRiver, "farm.ice1")
        .await
        .unwrap();
    let conn = conn_of(&pool, "ice-account.ice1");
    assert_eq!(m.extranonce1(), conn.extranonce1, "the pool's own answer");
    assert_eq!(m.difficulty, Some(1050.0), "set_difficulty buffered");
    let Some(Notify::IceRiver(job)) = m.current_job().cloned() else {
        panic!("an IceRiver job")
    };
    let Notify::IceRiver(theirs) = pool.current_job() else {
        panic!("an IceRiver pool")
    };
    assert_eq!(
        job.target,
        difficulty_to_target(1050),
        "target raised by the buffer"
    );
    assert_eq!(
        (job.height, &job.block_header_root, &job.hashed_beacons_root),
        (
            theirs.height,
            &theirs.block_header_root,
            &theirs.hashed_beacons_root
        )
    );

    let mut sent = Vec::new();
    for _ in 0..3 {
        let share = m.next_share().unwrap();
        let r = m.submit(&share).await.unwrap();
        assert!(r.is_ok(), "{r:?}");
        assert!(!r.jsonrpc, "IceRiver answers are plain Stratum V1");
        // As the miner sent it, with the pool's own job id.
        let mut expected = share.clone();
        assert_ne!(share.job_id(), pool_job_id(share.job_id()));
        expected.set_job_id(pool_job_id(share.job_id()));
        sent.push(expected);
    }
    pool.wait_for_accepted(3, T).await.unwrap();
    let got: Vec<_> = pool.shares().into_iter().map(|s| s.submit).collect();
    assert_eq!(got, sent, "forwarded as the miner sent them");
    assert!(pool.shares().iter().all(|s| s.conn == conn.id));
    let s = dp.pool_stats("ice").unwrap();
    assert_eq!((s.forwarded, s.pool_accepted), (3, 3), "{s:?}");
    assert_eq!(pool.violations(), []);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_iceriver_pool_without_a_configured_dialect_is_detected_from_its_answers() {
    let pool = AleoPool::start(AleoPoolConfig::iceriver()).await.unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("ice", pool.addr(), None)]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::ready(addr, Dialect::IceRiver, "farm.d1")
        .await
        .unwrap();
    let share = m.next_share().unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    pool.wait_for_accepted(1, T).await.unwrap();

    // The router's own connection (the pool's health, before any miner)
    // had to guess: AleoStratum/3.0.0 first, which this V1-shaped pool
    // answered in its own shape. The miner's connection subscribed in the
    // dialect that answer revealed.
    let probe = conn_of(&pool, "ice-account.proxy").id;
    let miner = conn_of(&pool, "ice-account.d1").id;
    assert_eq!(
        pool.violations(),
        [(
            probe,
            "aleostratum3 subscribe to a iceriver pool".to_string()
        )]
    );
    let sub = pool.connection(miner).unwrap().subscribe.unwrap();
    // The IceRiver form, as its ASICs send it.
    assert_eq!(sub.protocol.as_deref(), Some("AleoStratum/2.0.0"));
    assert_ne!(sub.announced(), Some(Dialect::AleoStratum3));
    assert!(
        pool.requests()
            .iter()
            .all(|(c, r)| *c != miner || !r.jsonrpc)
    );
    dp.shutdown(Duration::from_secs(2)).await;
}
