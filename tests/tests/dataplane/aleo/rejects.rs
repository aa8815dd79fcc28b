//! ALEO's own cases of shares the data plane refuses by itself, in the
//! miner's dialect and never sent to the pool: a job dropped by a clean
//! notify; and what is not a duplicate (IceRiver: the same job and counter
//! with another nonce is a new share). Duplicates, unknown and pushed-out
//! jobs and the pool's own refusals are handled the same for every
//! algorithm (`every_algorithm/rejects.rs`).

use std::time::Duration;

use switchyard_stratum::Response;
use switchyard_stratum::aleo::{Dialect, Submit, submit_result};
use switchyard_tests::dp::{aleo_pool, aleo_test_config, start_aleo};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};

const T: Duration = Duration::from_secs(20);

/// (code, message) of a refusal in the miner's dialect.
fn refusal(dialect: Dialect, r: &Response) -> (Option<i64>, String) {
    let e = submit_result(r).expect_err("a refusal");
    match dialect {
        Dialect::AleoStratum3 => {
            assert!(r.jsonrpc, "{r:?}");
            let obj = r.error.as_object().expect("a JSON-RPC 2.0 error object");
            assert!(
                obj.contains_key("code") && obj.contains_key("message"),
                "{r:?}"
            );
        }
        Dialect::IceRiver => {
            assert_eq!(r.result, serde_json::Value::Bool(false), "{r:?}");
            assert_eq!(r.reject_reason.as_deref(), Some(e.reason.as_str()), "{r:?}");
        }
    }
    (e.code, e.reason)
}

async fn refuses_in(dialect: Dialect) {
    let pool = AleoPool::start(AleoPoolConfig::new(dialect)).await.unwrap();
    let cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), Some(dialect))]);
    let (dp, addr) = start_aleo(cfg).await.unwrap();
    let mut m = AleoMiner::ready(addr, dialect, "farm.r1").await.unwrap();

    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    // The same counter with another nonce is another share (IceRiver).
    if let Submit::IceRiver(s) = &share {
        let mut other = s.clone();
        // Still in the connection's extranonce1.
        let nonce = format!("{}01", s.nonce.as_str().unwrap());
        other.nonce = switchyard_stratum::RawJson::string(&nonce);
        let r = m.submit(&Submit::IceRiver(other)).await.unwrap();
        assert_eq!(submit_result(&r), Ok(()), "the nonce is part of the key");
    }
    pool.wait_for_accepted(pool.shares().len(), T)
        .await
        .unwrap();
    let forwarded = pool.shares().len();

    // A job dropped by a clean notify.
    let old = m.latest_job.clone().unwrap();
    pool.new_job(true);
    m.wait_for_new_job(&old).await.unwrap();
    let stale = m.share_for(&old).unwrap();
    let (_, text) = refusal(dialect, &m.submit(&stale).await.unwrap());
    assert!(text.starts_with("Job not found (stale)"), "{text}");

    assert_eq!(
        pool.shares().len(),
        forwarded,
        "none of those reached the pool"
    );
    let s = dp.pool_stats("p").unwrap();
    assert_eq!(s.forwarded as usize, forwarded);
    assert_eq!(s.local_rejected, 1, "{s:?}");
    assert_eq!(pool.violations(), []);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn aleostratum3_jobs_dropped_by_a_clean_notify_are_refused_locally() {
    refuses_in(Dialect::AleoStratum3).await;
}

#[tokio::test]
async fn iceriver_dropped_jobs_are_refused_and_another_nonce_is_another_share() {
    refuses_in(Dialect::IceRiver).await;
}
