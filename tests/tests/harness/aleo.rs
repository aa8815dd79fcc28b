//! Integration tests of the ALEO harness itself: the scripted ALEO miner
//! against the scripted ALEO pool in both dialects, no proxy involved.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_stratum::aleo::{
    Dialect, Notify, Submit, SubscribeResult, difficulty_to_target, submit_result,
};
use switchyard_stratum::{Message, Response};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig, AleoVerdict, Fault, RejectBundle};

const WAIT: Duration = Duration::from_secs(10);
const DIALECTS: [Dialect; 2] = [Dialect::AleoStratum3, Dialect::IceRiver];

/// The rejection reason, or `None` when accepted.
fn rejection(r: &Response) -> Option<String> {
    submit_result(r).err().map(|e| e.reason)
}

#[tokio::test]
async fn aleo_stratum3_handshake_and_shares() {
    let config = AleoPoolConfig {
        server_nonce: Some("beef".into()),
        ..AleoPoolConfig::aleo_stratum3()
    };
    let pool = AleoPool::start(config).await.unwrap();
    let mut miner = AleoMiner::connect(pool.addr(), Dialect::AleoStratum3)
        .await
        .unwrap();
    let sub = miner.subscribe("aleominer/1.0").await.unwrap();
    let SubscribeResult::AleoStratum3 {
        session_id,
        server_nonce,
        pool_address,
        ..
    } = sub
    else {
        panic!("wrong shape: {sub:?}");
    };
    assert!(session_id.is_some());
    assert_eq!(server_nonce.as_deref(), Some("beef"));
    assert!(pool_address.starts_with("aleo1"));
    assert!(miner.authorize("aleo1worker.w1", "x").await.unwrap());
    let job = miner.wait_for_job().await.unwrap();
    let Notify::AleoStratum3(n) = &job else {
        panic!("{job:?}")
    };
    assert_eq!(n.address.as_deref(), Some(pool_address.as_str()));
    assert!(job.clean_jobs());
    // set_target came before the job.
    assert_eq!(miner.target, Some(1000));
    let methods: Vec<&str> = miner
        .notifications()
        .iter()
        .map(|r| r.method.as_str())
        .collect();
    assert_eq!(methods, ["mining.set_target", "mining.notify"]);
    assert!(pool.requests().iter().all(|(_, r)| r.jsonrpc));

    miner.set_counter(41);
    for _ in 0..3 {
        let share = miner.next_share().unwrap();
        assert_eq!(rejection(&miner.submit(&share).await.unwrap()), None);
    }
    pool.wait_for_accepted(3, WAIT).await.unwrap();
    let shares = pool.shares();
    let counters: Vec<String> = shares
        .iter()
        .map(|s| format!("{:016x}", s.key.counter.parse::<u64>().unwrap()))
        .collect();
    assert_eq!(
        counters,
        ["beef000000000029", "beef00000000002a", "beef00000000002b"],
        "the server nonce is the counter's high digits"
    );
    assert!(
        shares
            .iter()
            .all(|s| s.accepted() && s.worker.as_deref() == Some("aleo1worker.w1"))
    );
    // A counter outside the server nonce is refused.
    let mut outside = miner.next_share().unwrap();
    if let Submit::AleoStratum3(a) = &mut outside {
        a.counter = switchyard_stratum::RawJson::of(&json!(0x29));
    }
    let r = miner.submit(&outside).await.unwrap();
    assert_eq!(rejection(&r).as_deref(), Some("Invalid nonce"), "{r:?}");
    assert_eq!(
        pool.shares().last().unwrap().verdict,
        AleoVerdict::WrongNonce
    );
    let agent = pool.connection(0).unwrap().subscribe.unwrap().agent;
    assert_eq!(agent.as_deref(), Some("aleominer/1.0"));
    assert!(pool.violations().is_empty());
}

#[tokio::test]
async fn iceriver_handshake_and_shares() {
    let pool = AleoPool::start(AleoPoolConfig::iceriver()).await.unwrap();
    let mut miner = AleoMiner::ready(pool.addr(), Dialect::IceRiver, "w1")
        .await
        .unwrap();
    let Some(SubscribeResult::IceRiver {
        extranonce1,
        extranonce2_size,
        ..
    }) = miner.subscribe_result.clone()
    else {
        panic!("{:?}", miner.subscribe_result);
    };
    assert_eq!((extranonce1.len(), extranonce2_size), (4, 4));
    let job = miner.current_job().unwrap().clone();
    let Notify::IceRiver(n) = &job else {
        panic!("{job:?}")
    };
    assert_eq!(n.target, difficulty_to_target(1000));
    assert_eq!(job.difficulty(), Some(1000));
    assert!(n.block_header_root.starts_with("ab1") && n.height > 1_000_000);
    assert_eq!(miner.difficulty, Some(1000.0));
    assert!(pool.requests().iter().all(|(_, r)| !r.jsonrpc));

    let shares: Vec<_> = (0..3).map(|_| miner.next_share().unwrap()).collect();
    for answer in miner.submit_pipelined(&shares).await.unwrap() {
        assert_eq!(answer.result, Value::Bool(true), "{answer:?}");
    }
    let recorded = pool.shares();
    assert_eq!(recorded.len(), 3);
    assert!(recorded.iter().all(|s| s.accepted()
        && s.worker.as_deref() == Some("w1")
        && s.key.nonce == format!("\"{}\"", hex::encode(&extranonce1))));

    // A nonce that does not begin with the connection's extranonce1 is refused.
    let mut outside = miner.next_share().unwrap();
    if let Submit::IceRiver(i) = &mut outside {
        i.nonce = "0badf00d".into();
    }
    let r = miner.submit(&outside).await.unwrap();
    assert_eq!(rejection(&r).as_deref(), Some("invalid-nonce"), "{r:?}");
}

#[tokio::test]
async fn duplicates_stale_and_unknown_jobs_are_rejected_in_both_dialects() {
    for dialect in DIALECTS {
        let pool = AleoPool::start(AleoPoolConfig::new(dialect)).await.unwrap();
        let mut miner = AleoMiner::ready(pool.addr(), dialect, "w1").await.unwrap();
        let share = miner.next_share().unwrap();
        assert_eq!(rejection(&miner.submit(&share).await.unwrap()), None);
        let dup = miner.submit(&share).await.unwrap();
        // Another connection submitting the same solution is a duplicate too.
        let mut twin = AleoMiner::ready(pool.addr(), dialect, "w2").await.unwrap();
        let twin_job = twin.latest_job.clone().unwrap();
        let mut copy = twin.share_for(&twin_job).unwrap();
        if dialect == Dialect::AleoStratum3 {
            copy = share.clone();
            if let switchyard_stratum::aleo::Submit::AleoStratum3(s) = &mut copy {
                s.worker = "w2".into();
            }
        }
        let twin_answer = twin.submit(&copy).await.unwrap();

        let old_job = miner.latest_job.clone().unwrap();
        let stale_share = miner.next_share().unwrap();
        let new_job = pool.new_job(true);
        miner.wait_for_new_job(&old_job).await.unwrap();
        assert_eq!(miner.jobs.len(), 1, "a clean job drops the others");
        let stale = miner.submit(&stale_share).await.unwrap();
        let unknown_share = miner.share_for("nope").unwrap();
        let unknown = miner.submit(&unknown_share).await.unwrap();
        let fresh = miner.share_for(&new_job).unwrap();
        assert_eq!(rejection(&miner.submit(&fresh).await.unwrap()), None);

        let (dup_reason, stale_reason, unknown_reason) = match dialect {
            Dialect::AleoStratum3 => ("Duplicate share", "Stale job", "Job not found"),
            Dialect::IceRiver => ("duplicate", "stale", "unknown-work"),
        };
        assert_eq!(rejection(&dup).as_deref(), Some(dup_reason), "{dialect}");
        assert_eq!(
            rejection(&stale).as_deref(),
            Some(stale_reason),
            "{dialect}"
        );
        assert_eq!(rejection(&unknown).as_deref(), Some(unknown_reason));
        if dialect == Dialect::IceRiver {
            assert_eq!(dup.result, Value::Bool(false));
            assert_eq!(dup.reject_reason.as_deref(), Some("duplicate"));
            // Different extranonce1, different nonce: not a duplicate.
            assert_eq!(rejection(&twin_answer), None);
        } else {
            assert_eq!(rejection(&twin_answer).as_deref(), Some(dup_reason));
        }
        let verdicts: Vec<AleoVerdict> = pool.shares_on(0).into_iter().map(|s| s.verdict).collect();
        assert_eq!(
            verdicts,
            vec![
                AleoVerdict::Accepted,
                AleoVerdict::Duplicate,
                AleoVerdict::StaleJob,
                AleoVerdict::UnknownJob,
                AleoVerdict::Accepted,
            ],
            "{dialect}"
        );
    }
}

#[tokio::test]
async fn a_pool_may_never_send_a_difficulty() {
    for dialect in DIALECTS {
        let config = AleoPoolConfig {
            send_difficulty: false,
            ..AleoPoolConfig::new(dialect)
        };
        let pool = AleoPool::start(config).await.unwrap();
        let mut miner = AleoMiner::ready(pool.addr(), dialect, "w1").await.unwrap();
        pool.set_difficulty(2000);
        let first = miner.latest_job.clone().unwrap();
        pool.new_job(false);
        miner.wait_for_new_job(&first).await.unwrap();
        assert_eq!((miner.target, miner.difficulty), (None, None));
        assert!(
            miner
                .notifications()
                .iter()
                .all(|r| r.method == "mining.notify"),
            "{dialect}"
        );
        let share = miner.next_share().unwrap();
        assert_eq!(rejection(&miner.submit(&share).await.unwrap()), None);
    }
}

#[tokio::test]
async fn a_new_job_is_bundled_with_a_rejection() {
    for (bundle, job_first) in [
        (RejectBundle::JobAfter, false),
        (RejectBundle::JobBefore, true),
    ] {
        let config = AleoPoolConfig {
            bundle_job_with_reject: bundle,
            ..AleoPoolConfig::iceriver()
        };
        let pool = AleoPool::start(config).await.unwrap();
        let mut miner = AleoMiner::ready(pool.addr(), Dialect::IceRiver, "w1")
            .await
            .unwrap();
        let share = miner.share_for("gone").unwrap();
        miner.send_raw(&share.to_line(&json!(7))).await.unwrap();
        let a = miner.recv_line_timeout(WAIT).await.unwrap();
        let b = miner.recv_line_timeout(WAIT).await.unwrap();
        let (notify, answer) = if job_first { (a, b) } else { (b, a) };
        let Ok(Message::Response(answer)) = Message::parse(&answer) else {
            panic!("not an answer: {}", String::from_utf8_lossy(&answer));
        };
        assert_eq!(answer.reject_reason.as_deref(), Some("unknown-work"));
        let Ok(Message::Request(notify)) = Message::parse(&notify) else {
            panic!("not a notify: {}", String::from_utf8_lossy(&notify));
        };
        assert_eq!(notify.method, "mining.notify");
        assert_eq!(
            miner.latest_job.as_deref(),
            Some(pool.current_job().job_id())
        );
        // The bundled job is not clean: the first job is still valid.
        assert_eq!(miner.jobs.len(), 2);
    }
}

#[tokio::test]
async fn configure_and_other_v1_extensions_are_violations() {
    let config = AleoPoolConfig {
        close_on_configure: true,
        ..AleoPoolConfig::iceriver()
    };
    let pool = AleoPool::start(config).await.unwrap();
    let mut miner = AleoMiner::ready(pool.addr(), Dialect::IceRiver, "w1")
        .await
        .unwrap();
    let ext = miner
        .request("mining.extranonce.subscribe", json!([]))
        .await
        .unwrap();
    assert!(ext.error_parts().is_some(), "{ext:?}");
    let answer = miner
        .configure(
            &["version-rolling"],
            json!({"version-rolling.mask": "1fffe000"}),
        )
        .await
        .unwrap();
    assert!(answer.error_parts().unwrap().1.contains("mining.configure"));
    miner.expect_closed(WAIT).await.unwrap();
    let violations = pool.violations();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(violations[0].1.starts_with("mining.extranonce.subscribe"));
    assert!(violations[1].1.starts_with("mining.configure"));

    // An AleoStratum3 pool refuses a V1-shaped subscribe.
    let pool = AleoPool::start(AleoPoolConfig::aleo_stratum3())
        .await
        .unwrap();
    let mut v1 = AleoMiner::connect(pool.addr(), Dialect::IceRiver)
        .await
        .unwrap();
    let refused = v1.subscribe_response("cgminer").await.unwrap();
    assert!(refused.error_parts().is_some(), "{refused:?}");
    assert_eq!(pool.violations().len(), 1);
}

#[tokio::test]
async fn bad_input_is_answered_with_an_error() {
    for dialect in DIALECTS {
        let pool = AleoPool::start(AleoPoolConfig::new(dialect)).await.unwrap();
        let mut miner = AleoMiner::ready(pool.addr(), dialect, "w1").await.unwrap();
        miner.send_raw(b"]]garbage").await.unwrap();
        let parse = miner.wait_response(&Value::Null).await.unwrap();
        assert!(parse.error_parts().is_some(), "{parse:?}");
        let bad = miner
            .request("mining.submit", json!(["w1", 5]))
            .await
            .unwrap();
        let (code, text) = bad.error_parts().expect("an error");
        assert_eq!(code, Some(20), "{dialect}: {text}");
        assert_eq!(pool.bad_lines().len(), 1);
        assert!(pool.shares().is_empty());
    }
}

#[tokio::test]
async fn faults_unauthorized_and_restart() {
    let pool = AleoPool::start(AleoPoolConfig::aleo_stratum3())
        .await
        .unwrap();
    let addr = pool.addr();
    let mut miner = AleoMiner::ready(addr, Dialect::AleoStratum3, "w1")
        .await
        .unwrap();
    pool.set_fault(Fault::RejectAll("busy".into()));
    let share = miner.next_share().unwrap();
    assert_eq!(
        rejection(&miner.submit(&share).await.unwrap()).as_deref(),
        Some("busy")
    );
    pool.set_fault(Fault::Unauthorized);
    let mut other = AleoMiner::connect(addr, Dialect::AleoStratum3)
        .await
        .unwrap();
    other.subscribe("m").await.unwrap();
    assert!(!other.authorize("w2", "x").await.unwrap());
    let stranger = other.share_for(pool.current_job().job_id());
    assert!(stranger.is_err(), "no worker without authorize");
    pool.set_fault(Fault::None);
    let mut unauthorized = miner.next_share().unwrap();
    if let switchyard_stratum::aleo::Submit::AleoStratum3(s) = &mut unauthorized {
        s.worker = "not-me".into();
    }
    assert_eq!(
        rejection(&miner.submit(&unauthorized).await.unwrap()).as_deref(),
        Some("Unauthorized worker")
    );

    pool.stop().await.unwrap();
    miner.expect_closed(WAIT).await.unwrap();
    let pool = AleoPool::start_on(addr, AleoPoolConfig::aleo_stratum3())
        .await
        .unwrap();
    let mut back = AleoMiner::ready(addr, Dialect::AleoStratum3, "w1")
        .await
        .unwrap();
    let share = back.next_share().unwrap();
    assert_eq!(rejection(&back.submit(&share).await.unwrap()), None);
    assert_eq!(pool.accepted(), 1);
}
