//! Bad input from an ALEO miner is answered with a clear error, never a panic,
//! a silent drop or anything sent to the pool, and the connection stays
//! usable: methods ALEO stratum does not have
//! (`mining.configure` included: it never reaches an ALEO pool), authorize
//! and submit before subscribe, wrong params, a second subscribe, and a
//! miner whose dialect is not its pool's. Lines that are not requests:
//! `every_algorithm/bad_input.rs`.

use std::time::Duration;

use serde_json::json;
use switchyard_stratum::Response;
use switchyard_stratum::aleo::{Dialect, submit_result};
use switchyard_tests::dp::{aleo_pool, aleo_test_config, start_aleo};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};

const T: Duration = Duration::from_secs(20);

/// The text of an error answer (any shape).
fn error_text(r: &Response) -> String {
    r.error_parts().expect("an error answer").1
}

#[tokio::test]
async fn bad_lines_and_params_get_clear_errors_and_the_session_goes_on() {
    let pool = AleoPool::start(AleoPoolConfig::aleo_stratum3())
        .await
        .unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), None)]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::connect(addr, Dialect::AleoStratum3)
        .await
        .unwrap();

    let r = m
        .request("mining.authorize", json!(["farm.w", "x"]))
        .await
        .unwrap();
    assert!(error_text(&r).starts_with("Not subscribed"), "{r:?}");
    let r = m
        .request("mining.submit", json!(["farm.w", "1", 5]))
        .await
        .unwrap();
    assert!(error_text(&r).starts_with("Not subscribed"), "{r:?}");

    let r = m
        .configure(
            &["version-rolling"],
            json!({"version-rolling.mask": "1fffe000"}),
        )
        .await
        .unwrap();
    let text = error_text(&r);
    assert!(
        text.contains("Unsupported method \"mining.configure\""),
        "{text}"
    );
    let r = m
        .request("mining.extranonce.subscribe", json!([]))
        .await
        .unwrap();
    assert!(error_text(&r).contains("Unsupported method"), "{r:?}");
    let r = m.request("mining.subscribe", json!([7])).await.unwrap();
    assert!(error_text(&r).contains("agent"), "{r:?}");

    // The session goes on: a normal handshake and a share.
    m.subscribe("aleominer/1.0").await.unwrap();
    let r = m
        .request(
            "mining.subscribe",
            json!(["again", "AleoStratum/3.0.0", null]),
        )
        .await
        .unwrap();
    assert!(error_text(&r).contains("Already subscribed"), "{r:?}");
    assert!(m.authorize("farm.w", "x").await.unwrap());
    m.wait_for_job().await.unwrap();
    // A required param missing is refused here (the form of one is the
    // pool's business: see verbatim.rs).
    let job = m.current_job().unwrap().job_id().to_owned();
    let r = m
        .request("mining.submit", json!(["farm.w", job]))
        .await
        .unwrap();
    assert!(
        r.jsonrpc && r.error.is_object(),
        "the dialect's error shape: {r:?}"
    );
    assert!(
        error_text(&r).contains("param 2 (counter) is missing"),
        "{r:?}"
    );
    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    pool.wait_for_accepted(1, T).await.unwrap();

    // Nothing of that reached the pool.
    assert_eq!(pool.violations(), []);
    assert_eq!(pool.shares().len(), 1);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_miner_in_the_other_dialect_is_told_what_the_pool_speaks() {
    let pool = AleoPool::start(AleoPoolConfig::iceriver()).await.unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("ice", pool.addr(), Some(Dialect::IceRiver))]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::connect(addr, Dialect::AleoStratum3)
        .await
        .unwrap();
    let r = m.subscribe_response("aleominer/1.0").await.unwrap();
    let text = error_text(&r);
    assert!(
        text.contains("speaks the iceriver ALEO dialect") && text.contains("aleostratum3"),
        "{text}"
    );
    m.expect_closed(T).await.unwrap();
    // Its connection to the pool subscribed in the pool's dialect.
    assert_eq!(pool.violations(), []);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_worker_the_pool_refuses_is_told_why_and_disconnected() {
    let pool = AleoPool::start(AleoPoolConfig::aleo_stratum3())
        .await
        .unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), None)]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    // A first miner: the pool is up and routed to.
    AleoMiner::ready(addr, Dialect::AleoStratum3, "farm.ok")
        .await
        .unwrap();
    pool.set_fault(switchyard_tests::Fault::Unauthorized);
    let mut m = AleoMiner::connect(addr, Dialect::AleoStratum3)
        .await
        .unwrap();
    m.subscribe("aleominer/1.0").await.unwrap();
    let r = m
        .request("mining.authorize", json!(["farm.nope", "x"]))
        .await
        .unwrap();
    let text = error_text(&r);
    assert!(
        text.starts_with("The pool did not take this worker")
            && text.contains("p-account.nope")
            && text.contains("Unauthorized worker"),
        "{text}"
    );
    assert!(r.jsonrpc && r.error.is_object(), "{r:?}");
    m.expect_closed(T).await.unwrap();
    dp.shutdown(Duration::from_secs(2)).await;
}
