//! Integration tests of the scripted pool's controls and faults, and of the
//! miner's tracking of what the pool tells it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_stratum::codes;
use switchyard_stratum::{Message, Response};
use switchyard_tests::{Direction, Fault, PoolConfig, ScriptedMiner, ScriptedPool, Sniffer};

const WAIT: Duration = Duration::from_secs(10);
const DIFFICULTY: f64 = 1e-6;
const AGENT: &str = "cgminer/4.11.1";

fn config() -> PoolConfig {
    PoolConfig {
        difficulty: DIFFICULTY,
        ..PoolConfig::default()
    }
}

fn code(r: &Response) -> Option<i64> {
    r.error_parts().and_then(|(code, _)| code)
}

#[tokio::test]
async fn version_rolling_shares_are_verified_with_the_negotiated_mask() {
    let pool = ScriptedPool::start(PoolConfig {
        version_mask: Some(0x1fff_e000),
        ..config()
    })
    .await
    .unwrap();
    let mut miner = ScriptedMiner::connect(pool.addr()).await.unwrap();
    let params = json!({"version-rolling.mask": "ffffffff", "version-rolling.min-bit-count": 2});
    let answer = miner.configure(&["version-rolling"], params).await.unwrap();
    assert_eq!(answer.result["version-rolling.mask"], json!("1fffe000"));
    assert_eq!(miner.version_mask, Some(0x1fff_e000));
    miner.subscribe(AGENT).await.unwrap();
    assert!(miner.authorize("wallet.vr", "x").await.unwrap());
    let mut rolled = 0;
    for _ in 0..3 {
        let share = miner.find_share().await.unwrap();
        rolled += usize::from(share.version_bits.is_some_and(|b| b != 0));
        assert!(miner.submit(&share).await.unwrap().is_ok());
    }
    assert!(rolled >= 2, "version bits were not rolled");
    let mut outside = miner.find_share().await.unwrap();
    outside.version_bits = Some(0x0000_0001);
    let answer = miner.submit(&outside).await.unwrap();
    assert_eq!(code(&answer), Some(codes::OTHER));
    assert_eq!(pool.connection(0).unwrap().version_mask, Some(0x1fff_e000));

    // Without a mask the pool refuses version rolling.
    let plain = ScriptedPool::start(config()).await.unwrap();
    let mut miner = ScriptedMiner::connect(plain.addr()).await.unwrap();
    let answer = miner
        .configure(&["version-rolling"], json!({}))
        .await
        .unwrap();
    assert_eq!(answer.result["version-rolling"], json!(false));
    assert_eq!(miner.version_mask, None);
}

#[tokio::test]
async fn ckpool_order_sends_difficulty_and_job_before_the_authorize_answer() {
    let pool = ScriptedPool::start(PoolConfig {
        send_difficulty_before_authorize_answer: true,
        ..config()
    })
    .await
    .unwrap();
    let sniffer = Sniffer::start(pool.addr()).await.unwrap();
    let mut miner = ScriptedMiner::ready(sniffer.addr(), AGENT, "wallet.ck")
        .await
        .unwrap();
    assert!(miner.difficulty.is_some());
    let (answer_at, _) = sniffer
        .wait_for_after(
            0,
            Direction::ToClient,
            |m| matches!(m, Message::Response(r) if r.result == Value::Bool(true)),
            WAIT,
        )
        .await
        .unwrap();
    let methods: Vec<_> = sniffer.lines()[..answer_at]
        .iter()
        .filter_map(|l| l.method().map(str::to_owned))
        .collect();
    assert!(
        methods.ends_with(&["mining.set_difficulty".into(), "mining.notify".into()]),
        "{methods:?}"
    );
    let share = miner.find_share().await.unwrap();
    assert!(miner.submit(&share).await.unwrap().is_ok());
}

#[tokio::test]
async fn set_extranonce_applies_from_the_next_job() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let mut miner = ScriptedMiner::ready(pool.addr(), AGENT, "wallet.en")
        .await
        .unwrap();
    assert!(miner.extranonce_subscribe().await.unwrap().is_ok());
    let old_job = miner.current_job().unwrap().notify.job_id.clone();
    pool.send_set_extranonce(0, &[9, 9, 9, 9, 9], 6);
    let new_job = pool.new_job(false);
    miner.wait_for_new_job(&old_job).await.unwrap();
    assert_eq!(miner.extranonce1, vec![9, 9, 9, 9, 9]);
    let job = miner.current_job().unwrap();
    assert_eq!((job.extranonce1.len(), job.extranonce2_size), (5, 6));
    let share = miner.find_share().await.unwrap();
    assert_eq!(
        (share.job_id.as_str(), share.extranonce2.len()),
        (new_job.as_str(), 6)
    );
    assert!(miner.submit(&share).await.unwrap().is_ok());
    // The old job keeps the extranonce it was sent with.
    let old = miner.find_share_for(&old_job).await.unwrap();
    assert_eq!(old.extranonce2.len(), 8);
    assert!(miner.submit(&old).await.unwrap().is_ok());
}

#[tokio::test]
async fn jobs_and_difficulty_pushed_at_runtime_reach_the_miner() {
    let pool = ScriptedPool::start(PoolConfig {
        job_interval: Some(Duration::from_millis(20)),
        ..config()
    })
    .await
    .unwrap();
    let mut miner = ScriptedMiner::ready(pool.addr(), AGENT, "wallet.jobs")
        .await
        .unwrap();
    let first = miner.current_job().unwrap().notify.job_id.clone();
    let second = miner.wait_for_new_job(&first).await.unwrap();
    assert!(!second.clean_jobs);
    miner.wait_for_new_job(&second.job_id).await.unwrap();
    pool.set_difficulty(2e-6);
    miner
        .wait_until("difficulty 2e-6", |m| m.difficulty == Some(2e-6))
        .await
        .unwrap();
    let share = miner.find_share().await.unwrap();
    assert!(miner.submit(&share).await.unwrap().is_ok());
    pool.send_reconnect("127.0.0.1", 3333);
    let reconnect = miner
        .wait_for_notification("client.reconnect")
        .await
        .unwrap();
    assert_eq!(reconnect.params, json!(["127.0.0.1", 3333, 0]));
}

#[tokio::test]
async fn faults_refuse_close_reject_and_unauthorize() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    pool.set_fault(Fault::RefuseConnections);
    let mut miner = ScriptedMiner::connect(pool.addr()).await.unwrap();
    miner.expect_closed(WAIT).await.unwrap();
    assert!(pool.connection(0).unwrap().refused);

    pool.set_fault(Fault::CloseAfterSubscribe);
    let mut miner = ScriptedMiner::connect(pool.addr()).await.unwrap();
    miner.subscribe(AGENT).await.unwrap();
    miner.expect_closed(WAIT).await.unwrap();

    pool.set_fault(Fault::Unauthorized);
    let mut miner = ScriptedMiner::connect(pool.addr()).await.unwrap();
    miner.subscribe(AGENT).await.unwrap();
    assert!(!miner.authorize("wallet.no", "x").await.unwrap());

    pool.set_fault(Fault::None);
    let mut miner = ScriptedMiner::ready(pool.addr(), AGENT, "wallet.ok")
        .await
        .unwrap();
    let share = miner.find_share().await.unwrap();
    pool.set_fault(Fault::RejectAll("maintenance".into()));
    let answer = miner.submit(&share).await.unwrap();
    assert_eq!(answer.error, json!([20, "maintenance", null]));
    pool.set_fault(Fault::None);
    assert!(miner.submit(&share).await.unwrap().is_ok());
    assert_eq!(pool.authorized_users(), vec!["wallet.ok".to_owned()]);

    // A worker that never authorized on this connection is refused.
    let mut stranger = share.clone();
    stranger.worker = "wallet.other".into();
    stranger.nonce = stranger.nonce.wrapping_add(1);
    let answer = miner.submit(&stranger).await.unwrap();
    assert_eq!(code(&answer), Some(codes::UNAUTHORIZED));
}

#[tokio::test]
async fn stalled_and_slow_pools() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    pool.set_fault(Fault::Stall);
    let mut miner = ScriptedMiner::connect(pool.addr()).await.unwrap();
    miner.set_timeout(Duration::from_millis(100));
    let err = miner.subscribe(AGENT).await.unwrap_err();
    assert!(format!("{err:#}").contains("timed out"), "{err:#}");
    pool.wait_until("the stalled subscribe", WAIT, |s| s.requests.len() == 1)
        .await
        .unwrap();

    pool.set_fault(Fault::SlowAnswers(Duration::from_millis(150)));
    let mut miner = ScriptedMiner::connect(pool.addr()).await.unwrap();
    let started = Instant::now();
    miner.subscribe(AGENT).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn stop_closes_everything_and_the_pool_can_come_back_on_its_address() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let addr = pool.addr();
    let mut miner = ScriptedMiner::ready(addr, AGENT, "wallet.s").await.unwrap();
    let session = miner.subscription_id.clone().unwrap();
    pool.stop().await.unwrap();
    miner.expect_closed(WAIT).await.unwrap();
    assert!(ScriptedMiner::connect(addr).await.is_err());

    let pool = ScriptedPool::start_on(addr, config()).await.unwrap();
    let mut miner = ScriptedMiner::ready(addr, AGENT, "wallet.s").await.unwrap();
    pool.close_all();
    miner.expect_closed(WAIT).await.unwrap();
    pool.wait_for_open_connections(0, WAIT).await.unwrap();

    // Resuming a session the pool handed out gives the same extranonce1.
    let mut first = ScriptedMiner::connect(addr).await.unwrap();
    let sub = first.subscribe(AGENT).await.unwrap();
    drop(first);
    pool.wait_for_open_connections(0, WAIT).await.unwrap();
    let mut again = ScriptedMiner::connect(addr).await.unwrap();
    let sid = sub.subscription_id.unwrap();
    let resumed = again.subscribe_resume(AGENT, &sid).await.unwrap();
    assert_eq!(resumed.extranonce1, sub.extranonce1);
    assert!(pool.connection(2).unwrap().resumed);
    // A session from another pool is not honoured.
    let mut other = ScriptedMiner::connect(addr).await.unwrap();
    let fresh = other.subscribe_resume(AGENT, &session).await.unwrap();
    assert_ne!(fresh.extranonce1, sub.extranonce1);
}

#[tokio::test]
async fn an_overlong_line_closes_the_connection() {
    let pool = ScriptedPool::start(config()).await.unwrap();
    let mut miner = ScriptedMiner::connect(pool.addr()).await.unwrap();
    miner.send_raw(&vec![b'x'; 70_000]).await.unwrap();
    miner.expect_closed(WAIT).await.unwrap();
}
