//! Integration tests of the harness itself: scripted miner against scripted
//! pool (with and without the sniffer between them), no proxy involved.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_stratum::codes;
use switchyard_stratum::v1::Submit;
use switchyard_stratum::{Message, Response};
use switchyard_tests::{Direction, PoolConfig, ScriptedMiner, ScriptedPool, Sniffer};

const WAIT: Duration = Duration::from_secs(10);
/// About 4,300 hashes per share: fast even in a debug build.
const DIFFICULTY: f64 = 1e-6;

fn config() -> PoolConfig {
    PoolConfig {
        difficulty: DIFFICULTY,
        ..PoolConfig::default()
    }
}

/// A miner subscribed, authorized as `wallet.w1` and holding a job.
async fn ready_miner(addr: std::net::SocketAddr) -> ScriptedMiner {
    let mut miner = ScriptedMiner::connect(addr).await.expect("connect");
    let sub = miner.subscribe("cpuminer/2.5.1").await.expect("subscribe");
    assert_eq!(sub.extranonce1.len(), 4);
    assert!(miner.authorize("wallet.w1", "x").await.expect("authorize"));
    miner.wait_for_job().await.expect("job");
    miner
}

fn code(r: &Response) -> Option<i64> {
    r.error_parts().and_then(|(code, _)| code)
}

#[tokio::test]
async fn real_shares_are_accepted() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let mut miner = ready_miner(pool.addr()).await;
    assert_eq!(miner.difficulty, Some(DIFFICULTY));
    for _ in 0..3 {
        let share = miner.find_share().await.unwrap();
        let answer = miner.submit(&share).await.unwrap();
        assert!(answer.is_ok(), "{answer:?}");
        assert_eq!(answer.result, Value::Bool(true));
    }
    pool.wait_for_accepted(3, WAIT).await.unwrap();
    assert_eq!(pool.rejected(), 0);
    let shares = pool.shares();
    assert!(
        shares
            .iter()
            .all(|s| s.accepted && s.difficulty >= DIFFICULTY && s.worker == "wallet.w1")
    );
    assert_eq!(pool.authorized_users(), vec!["wallet.w1".to_owned()]);
    assert_eq!(pool.connections(), 1);
}

/// A copy of `share` changed by `tweak` until the miner's own check says it
/// is below the pool's difficulty (a random hash meets 1e-6 once in ~4,300).
fn spoiled(miner: &ScriptedMiner, share: &Submit, tweak: impl Fn(&mut Submit, u32)) -> Submit {
    (1..100)
        .map(|i| {
            let mut bad = share.clone();
            tweak(&mut bad, i);
            bad
        })
        .find(|bad| miner.share_difficulty(bad).expect("known job") < DIFFICULTY)
        .expect("a spoiled share")
}

#[tokio::test]
async fn wrong_nonce_or_extranonce2_is_low_difficulty() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let mut miner = ready_miner(pool.addr()).await;
    let share = miner.find_share().await.unwrap();
    let bad_nonce = spoiled(&miner, &share, |s, i| s.nonce = s.nonce.wrapping_add(i));
    let bad_en2 = spoiled(&miner, &share, |s, i| {
        let last = s.extranonce2.len() - 1;
        s.extranonce2[last] ^= i as u8;
    });
    for bad in [bad_nonce, bad_en2] {
        let answer = miner.submit(&bad).await.unwrap();
        assert_eq!(code(&answer), Some(codes::LOW_DIFFICULTY), "{answer:?}");
        assert_eq!(answer.error_parts().unwrap().1, "Low difficulty share");
    }
    assert!(miner.submit(&share).await.unwrap().is_ok());
    let shares = pool.shares();
    assert_eq!((pool.accepted(), pool.rejected()), (1, 2));
    assert_eq!(shares[0].reason.as_deref(), Some("Low difficulty share"));
    assert!(shares[0].difficulty > 0.0 && shares[0].difficulty < DIFFICULTY);
}

#[tokio::test]
async fn extranonce2_of_the_wrong_size_is_rejected() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let mut miner = ready_miner(pool.addr()).await;
    let mut share = miner.find_share().await.unwrap();
    share.extranonce2.pop();
    let answer = miner.submit(&share).await.unwrap();
    assert_eq!(code(&answer), Some(codes::OTHER), "{answer:?}");
    assert_eq!(
        pool.shares()[0].reason.as_deref(),
        Some("Invalid extranonce2 size")
    );
}

#[tokio::test]
async fn duplicate_share_is_rejected_with_22() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let mut miner = ready_miner(pool.addr()).await;
    let share = miner.find_share().await.unwrap();
    assert!(miner.submit(&share).await.unwrap().is_ok());
    let again = miner.submit(&share).await.unwrap();
    assert_eq!(code(&again), Some(codes::DUPLICATE), "{again:?}");
    assert_eq!((pool.accepted(), pool.rejected()), (1, 1));
}

#[tokio::test]
async fn unknown_and_stale_jobs_are_rejected_with_21() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let mut miner = ready_miner(pool.addr()).await;
    let share = miner.find_share().await.unwrap();
    let mut unknown = share.clone();
    unknown.job_id = "nope".into();
    let answer = miner.submit(&unknown).await.unwrap();
    assert_eq!(answer.result, Value::Null);
    assert_eq!(answer.error, json!([21, "Job not found", null]));

    // A clean job makes the old one stale.
    let new_id = pool.new_job(true);
    let job = miner.wait_for_new_job(&share.job_id).await.unwrap();
    assert_eq!(job.job_id, new_id);
    assert!(job.clean_jobs);
    let answer = miner.submit(&share).await.unwrap();
    assert_eq!(code(&answer), Some(codes::JOB_NOT_FOUND));
    let fresh = miner.find_share().await.unwrap();
    assert!(miner.submit(&fresh).await.unwrap().is_ok());
}

#[tokio::test]
async fn pipelined_submits_with_the_same_id_4_are_all_answered() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let mut miner = ready_miner(pool.addr()).await;
    let mut shares = Vec::new();
    for _ in 0..3 {
        shares.push(miner.find_share().await.unwrap());
    }
    shares.push(shares[0].clone());
    let answers = miner
        .submit_pipelined_same_id(&shares, json!(4))
        .await
        .unwrap();
    assert_eq!(answers.len(), 4);
    assert!(answers.iter().all(|a| a.id == json!(4)));
    assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 3);
    assert_eq!(code(&answers[3]), Some(codes::DUPLICATE));

    let more = vec![
        miner.find_share().await.unwrap(),
        miner.find_share().await.unwrap(),
    ];
    let answers = miner.submit_pipelined(&more).await.unwrap();
    assert!(answers.iter().all(Response::is_ok), "{answers:?}");
    pool.wait_for_accepted(5, WAIT).await.unwrap();
}

#[tokio::test]
async fn sniffer_sees_the_notify_and_the_submit() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let sniffer = Sniffer::start(pool.addr()).await.unwrap();
    let mut miner = ready_miner(sniffer.addr()).await;
    let share = miner.find_share().await.unwrap();
    assert!(miner.submit(&share).await.unwrap().is_ok());

    let notify = sniffer
        .wait_for_method(Direction::ToClient, "mining.notify", WAIT)
        .await
        .unwrap();
    let Message::Request(notify) = notify else {
        unreachable!()
    };
    assert_eq!(notify.params[0], json!(share.job_id));
    let submit = sniffer
        .wait_for(
            Direction::ToServer,
            |m| matches!(m, Message::Request(r) if r.method == "mining.submit"),
            WAIT,
        )
        .await
        .unwrap();
    let Message::Request(submit) = submit else {
        unreachable!()
    };
    assert_eq!(submit.params, share.to_params());
    assert_eq!(sniffer.connections(), 1);
    assert!(
        sniffer
            .lines()
            .iter()
            .all(|l| l.conn == 0 && l.message.is_some())
    );
    // Nothing matching comes: the wait fails with a message, not a hang.
    let err = sniffer
        .wait_for_method(
            Direction::ToServer,
            "mining.configure",
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("timed out"), "{err:#}");
}
