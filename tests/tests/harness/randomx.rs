//! Integration tests of the RandomX harness itself: the scripted xmrig-like
//! miner against the scripted xmrig-dialect pool, no proxy involved.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_stratum::Response;
use switchyard_stratum::randomx::{NICEHASH_OFFSET, RpcError, STATUS_OK, Submit, reply_status};
use switchyard_tests::{Fault, RxMiner, RxPool, RxPoolConfig, RxVerdict, rx_login, share_result};

const WAIT: Duration = Duration::from_secs(10);

/// The pool's error message, or "OK" for an accepted share.
fn status(r: &Response) -> String {
    match reply_status(r) {
        Ok(s) => s.unwrap_or_default(),
        Err(RpcError { message, .. }) => message,
    }
}

#[tokio::test]
async fn shares_are_accepted_and_login_is_recorded() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let mut miner = RxMiner::connect(pool.addr()).await.unwrap();
    let mut login = rx_login("WALLET.rig");
    login.rigid = Some("rig01".into());
    let result = miner.login(&login).await.unwrap();
    assert_eq!(result.status.as_deref(), Some(STATUS_OK));
    for ext in ["algo", "nicehash", "keepalive"] {
        assert!(
            result.has_extension(ext),
            "{ext} in {:?}",
            result.extensions
        );
    }
    let job = result.job.expect("a job in the login result");
    assert!(job.blob.len() >= 76);
    assert_eq!(job.algo.as_deref(), Some("rx/0"));
    assert_eq!(job.height, Some(3_000_000));
    assert!(job.seed_hash.is_some());
    assert_eq!(job.difficulty(), 1000);

    for _ in 0..3 {
        let share = miner.find_share().await.unwrap();
        assert!(job.target.is_met_by(&share.result));
        let answer = miner.submit(&share).await.unwrap();
        assert_eq!(status(&answer), "OK", "{answer:?}");
    }
    pool.wait_for_accepted(3, WAIT).await.unwrap();
    assert_eq!(pool.rejected(), 0);
    let conn = pool.connection(0).unwrap();
    let seen = conn.login().unwrap();
    assert_eq!(seen.login, "WALLET.rig");
    assert_eq!(seen.pass.as_deref(), Some("x"));
    assert_eq!(seen.agent.as_deref(), Some("XMRig/6.21.0"));
    assert_eq!(seen.algo, vec!["rx/0".to_owned()]);
    assert_eq!(seen.rigid.as_deref(), Some("rig01"));
    let shares = pool.shares_on(0);
    assert_eq!(shares.len(), 3);
    assert!(shares.iter().all(|s| s.accepted()
        && s.login.as_deref() == Some("WALLET.rig")
        && s.rigid.as_deref() == Some("rig01")
        && s.session_id == result.id
        && s.difficulty >= 1000));
    assert_eq!(pool.logins(), vec!["WALLET.rig".to_owned()]);
}

#[tokio::test]
async fn duplicate_stale_unknown_and_wrong_results_are_rejected() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let mut miner = RxMiner::ready(pool.addr(), "W").await.unwrap();
    let share = miner.find_share().await.unwrap();
    assert_eq!(status(&miner.submit(&share).await.unwrap()), "OK");
    assert_eq!(
        status(&miner.submit(&share).await.unwrap()),
        "Duplicate share"
    );

    // A claimed result that is not the hash of the blob with that nonce.
    let next = miner.find_share().await.unwrap();
    let mut forged = next.clone();
    forged.result = [0; 32];
    assert_eq!(
        status(&miner.submit(&forged).await.unwrap()),
        "Invalid result"
    );

    // A true hash that misses the target.
    let job = miner.current_job().unwrap().clone();
    let low = (0u32..)
        .map(|n| n.to_le_bytes())
        .map(|nonce| (nonce, share_result(&job.blob, nonce)))
        .find(|(_, r)| !job.target.is_met_by(r))
        .unwrap();
    let weak = Submit {
        nonce: low.0,
        result: low.1,
        ..next.clone()
    };
    assert_eq!(
        status(&miner.submit(&weak).await.unwrap()),
        "Low difficulty share"
    );

    let mut unknown = next.clone();
    unknown.job_id = "no-such-job".into();
    assert_eq!(
        status(&miner.submit(&unknown).await.unwrap()),
        "Invalid job id"
    );

    let mut stranger = next.clone();
    stranger.id = "someone-else".into();
    assert_eq!(
        status(&miner.submit(&stranger).await.unwrap()),
        "Unauthenticated"
    );

    // A new height makes the old job stale; the share found on it is refused.
    let new_id = pool.new_job();
    let fresh = miner.wait_for_new_job(&job.job_id).await.unwrap();
    assert_eq!(fresh.job_id, new_id);
    assert_eq!(fresh.height, Some(3_000_001));
    assert_eq!(fresh.seed_hash, job.seed_hash);
    assert_eq!(status(&miner.submit(&next).await.unwrap()), "Block expired");
    let fresh_share = miner.find_share().await.unwrap();
    assert_eq!(fresh_share.job_id, new_id);
    assert_eq!(status(&miner.submit(&fresh_share).await.unwrap()), "OK");

    let verdicts: Vec<RxVerdict> = pool.shares().into_iter().map(|s| s.verdict).collect();
    assert_eq!(
        verdicts,
        vec![
            RxVerdict::Accepted,
            RxVerdict::Duplicate,
            RxVerdict::InvalidResult,
            RxVerdict::LowDifficulty,
            RxVerdict::InvalidJob,
            RxVerdict::Unauthenticated,
            RxVerdict::StaleJob,
            RxVerdict::Accepted,
        ]
    );
    assert_eq!((pool.accepted(), pool.rejected()), (2, 6));
}

#[tokio::test]
async fn nicehash_miner_keeps_byte_42_and_the_pool_accepts_any_slot() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let mut miner = RxMiner::ready(pool.addr(), "W").await.unwrap();
    assert!(miner.nicehash());
    // Play the proxy: give this miner slot 0xab in its copy of the blob.
    let job_id = miner.latest_job.clone().unwrap();
    miner.jobs.get_mut(&job_id).unwrap().blob[NICEHASH_OFFSET] = 0xab;
    // Start near the end of the lower 3 bytes: the search must wrap inside them.
    miner.set_nonce_start(0x00ff_fff0);
    let mut shares = Vec::new();
    for _ in 0..3 {
        let share = miner.find_share().await.unwrap();
        assert_eq!(share.slot(), 0xab, "nonce {:02x?}", share.nonce);
        shares.push(share);
    }
    for answer in miner.submit_pipelined(&shares).await.unwrap() {
        assert_eq!(status(&answer), "OK");
    }
    assert!(pool.shares_on(0).iter().all(|s| s.slot() == 0xab));
}

#[tokio::test]
async fn without_nicehash_the_whole_nonce_varies() {
    let config = RxPoolConfig {
        extensions: vec!["keepalive".into()],
        ..RxPoolConfig::default()
    };
    let pool = RxPool::start(config).await.unwrap();
    let mut miner = RxMiner::ready(pool.addr(), "W").await.unwrap();
    assert!(!miner.nicehash());
    let job_id = miner.latest_job.clone().unwrap();
    miner.jobs.get_mut(&job_id).unwrap().blob[NICEHASH_OFFSET] = 0xab;
    miner.set_nonce_start(0x00ff_fff0);
    let mut top = Vec::new();
    for _ in 0..3 {
        let share = miner.find_share().await.unwrap();
        top.push(share.slot());
        // The pool hashes its own blob (byte 42 overwritten by the nonce).
        assert_eq!(status(&miner.submit(&share).await.unwrap()), "OK");
    }
    assert!(top.iter().all(|t| *t != 0xab), "{top:?}");
}

#[tokio::test]
async fn login_options_keepalived_getjob_and_new_seed() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let mut picky = RxMiner::connect(pool.addr()).await.unwrap();
    let mut wrong_algo = rx_login("W1");
    wrong_algo.algo = vec!["cn/r".into()];
    let refused = picky.login_response(&wrong_algo).await.unwrap();
    assert_eq!(status(&refused), "Unsupported algorithm");
    assert!(picky.session_id.is_none());

    let mut miner = RxMiner::connect(pool.addr()).await.unwrap();
    let mut no_algo = rx_login("W2");
    no_algo.algo = Vec::new();
    miner.login(&no_algo).await.unwrap();
    let sent = pool.requests().last().unwrap().1.clone();
    assert!(sent.params.get("algo").is_none(), "{sent:?}");
    assert!(pool.connection(1).unwrap().login().unwrap().algo.is_empty());
    assert_eq!(pool.logins(), vec!["W2".to_owned()]);

    let status_ok = miner.keepalived().await.unwrap();
    assert_eq!(status_ok, Ok(Some("KEEPALIVED".into())));
    let first = miner.current_job().unwrap().clone();
    let seed = pool.new_seed();
    let job = miner.wait_for_new_job(&first.job_id).await.unwrap();
    assert_eq!(job.job_id, seed);
    assert_ne!(job.seed_hash, first.seed_hash);
    assert_eq!(job.height, Some(first.height.unwrap() + 1));
    let again = miner.getjob().await.unwrap();
    assert!(again.error.is_null(), "{again:?}");
    assert_eq!(miner.latest_job.as_deref(), Some(seed.as_str()));
    let c = pool.connection(1).unwrap();
    assert_eq!((c.keepalives, c.getjobs), (1, 1));
    // The refused connection never got a job pushed.
    assert_eq!(pool.connection(0).unwrap().job_ids.len(), 0);
}

#[tokio::test]
async fn difficulty_change_keeps_old_jobs_valid_at_their_own_target() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let mut miner = RxMiner::ready(pool.addr(), "W").await.unwrap();
    let old = miner.current_job().unwrap().clone();
    let old_share = miner.find_share().await.unwrap();
    let id = pool.set_difficulty(5000);
    let job = miner.wait_for_new_job(&old.job_id).await.unwrap();
    assert_eq!((job.job_id.as_str(), job.difficulty()), (id.as_str(), 5000));
    assert_eq!(job.height, old.height);
    assert_eq!(status(&miner.submit(&old_share).await.unwrap()), "OK");
    let share = miner.find_share().await.unwrap();
    assert!(share.difficulty() >= 5000);
    assert_eq!(status(&miner.submit(&share).await.unwrap()), "OK");
}

#[tokio::test]
async fn bad_input_is_answered_with_an_error() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let mut miner = RxMiner::ready(pool.addr(), "W").await.unwrap();
    miner.send_raw(b"{not json").await.unwrap();
    let answer = miner.wait_response(&Value::Null).await.unwrap();
    assert!(answer.error_parts().is_some(), "{answer:?}");
    let missing_nonce = miner
        .request("submit", json!({"id": "rx-session-0", "job_id": "1"}))
        .await
        .unwrap();
    let err = RpcError::from_response(&missing_nonce).unwrap();
    assert_eq!(err.code, -1);
    assert!(err.message.contains("nonce"), "{err}");
    let unknown = miner.request("mining.subscribe", json!([])).await.unwrap();
    assert!(status(&unknown).contains("Unsupported method"));
    assert_eq!(pool.bad_lines().len(), 1);
    assert!(pool.shares().is_empty());
}

#[tokio::test]
async fn faults_and_restart_on_the_same_port() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let addr = pool.addr();
    let mut miner = RxMiner::ready(addr, "W").await.unwrap();
    pool.set_fault(Fault::RejectAll("Maintenance".into()));
    let share = miner.find_share().await.unwrap();
    assert_eq!(status(&miner.submit(&share).await.unwrap()), "Maintenance");
    pool.set_fault(Fault::Unauthorized);
    let mut other = RxMiner::connect(addr).await.unwrap();
    assert!(other.login(&rx_login("W")).await.is_err());
    pool.set_fault(Fault::RefuseConnections);
    let mut refused = RxMiner::connect(addr).await.unwrap();
    refused.expect_closed(WAIT).await.unwrap();

    pool.stop().await.unwrap();
    miner.expect_closed(WAIT).await.unwrap();
    let pool = RxPool::start_on(addr, RxPoolConfig::default())
        .await
        .unwrap();
    let mut back = RxMiner::ready(addr, "W").await.unwrap();
    let share = back.find_share().await.unwrap();
    assert_eq!(status(&back.submit(&share).await.unwrap()), "OK");
    assert_eq!(pool.accepted(), 1);
}
