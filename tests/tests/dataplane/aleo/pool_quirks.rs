//! ALEO pools that behave like live ones, through the data plane: a pool
//! that never sends a difficulty still gets its jobs to miners at once
//! (nothing waits for a `set_target` / `set_difficulty`), and a new job a
//! pool bundles with a rejection (before or after the answer, in one write)
//! reaches the miner at once with the pool's `reject-reason` relayed.

use std::time::Duration;

use switchyard_stratum::aleo::{Dialect, Notify, difficulty_to_target, submit_result};
use switchyard_tests::aleo_miner::pool_job_id;
use switchyard_tests::dp::{aleo_pool, aleo_test_config, start_aleo};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig, Fault, RejectBundle, within};

const T: Duration = Duration::from_secs(20);
/// Far below any wait for something that never comes.
const AT_ONCE: Duration = Duration::from_secs(3);

#[tokio::test]
async fn pools_that_never_send_a_difficulty_still_get_jobs_to_miners_at_once() {
    for dialect in [Dialect::AleoStratum3, Dialect::IceRiver] {
        let pool = AleoPool::start(AleoPoolConfig {
            send_difficulty: false,
            ..AleoPoolConfig::new(dialect)
        })
        .await
        .unwrap();
        let cfg = aleo_test_config(vec![aleo_pool("quiet", pool.addr(), Some(dialect))]);
        let (dp, addr) = start_aleo(cfg).await.unwrap();
        let mut m = within(
            "subscribe, authorize and a first job",
            AT_ONCE,
            AleoMiner::ready(addr, dialect, "farm.q1"),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(m.target, None, "{dialect}: nothing was sent for the pool");
        assert_eq!(m.difficulty, None, "{dialect}");
        let methods: Vec<_> = m.notifications().iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, ["mining.notify"], "{dialect}");
        if let Some(Notify::IceRiver(n)) = m.current_job() {
            // The job's own target is the pool's difficulty: buffered.
            assert_eq!(n.target, difficulty_to_target(1050));
        }

        let before = m.latest_job.clone().unwrap();
        let job = pool.new_job(false);
        let got = within("the pool's next job", AT_ONCE, m.wait_for_new_job(&before))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pool_job_id(got.job_id()), job);
        let share = m.next_share().unwrap();
        assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
        pool.wait_for_accepted(1, T).await.unwrap();
        assert_eq!(pool.violations(), []);
        dp.shutdown(Duration::from_secs(2)).await;
    }
}

#[tokio::test]
async fn a_job_bundled_with_a_rejection_reaches_the_miner_at_once() {
    for bundle in [RejectBundle::JobAfter, RejectBundle::JobBefore] {
        let pool = AleoPool::start(AleoPoolConfig {
            bundle_job_with_reject: bundle,
            ..AleoPoolConfig::iceriver()
        })
        .await
        .unwrap();
        let cfg = aleo_test_config(vec![aleo_pool("ice", pool.addr(), Some(Dialect::IceRiver))]);
        let (dp, addr) = start_aleo(cfg).await.unwrap();
        let mut m = AleoMiner::ready(addr, Dialect::IceRiver, "farm.b1")
            .await
            .unwrap();
        let first = m.latest_job.clone().unwrap();
        pool.set_fault(Fault::RejectAll("high-hash".into()));

        let share = m.next_share().unwrap();
        let r = m.submit(&share).await.unwrap();
        let e = submit_result(&r).expect_err("the pool's rejection");
        assert_eq!(e.reason, "high-hash", "{bundle:?}: {r:?}");
        assert_eq!(
            r.reject_reason.as_deref(),
            Some("high-hash"),
            "as the pool wrote it"
        );
        // The bundled job came with it; nothing else will.
        let job = within("the bundled job", AT_ONCE, m.wait_for_new_job(&first))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            pool_job_id(job.job_id()),
            pool.current_job().job_id(),
            "{bundle:?}"
        );
        assert_eq!(pool.shares().len(), 1);
        let s = dp.pool_stats("ice").unwrap();
        assert_eq!((s.forwarded, s.pool_rejected), (1, 1), "{s:?}");
        assert_eq!(pool.violations(), []);
        dp.shutdown(Duration::from_secs(2)).await;
    }
}

#[tokio::test]
async fn unknown_extra_notify_params_are_relayed_unchanged() {
    use serde_json::{Value, json};
    for dialect in [Dialect::AleoStratum3, Dialect::IceRiver] {
        let pool = AleoPool::start(AleoPoolConfig::new(dialect)).await.unwrap();
        let cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), Some(dialect))]);
        let (dp, addr) = start_aleo(cfg).await.unwrap();
        let mut m = AleoMiner::ready(addr, dialect, "farm.x1").await.unwrap();
        let before = m.latest_job.clone().unwrap();
        let extras = [
            json!({"pool": "extra", "n": [1, 2]}),
            json!(42),
            json!("tail"),
        ];
        let mut params = match dialect {
            Dialect::AleoStratum3 => json!(["x9", "epoch9", null, false]),
            Dialect::IceRiver => json!(["x9", 77, difficulty_to_target(1000), "ab1h", "ab1b", 0]),
        };
        params.as_array_mut().unwrap().extend(extras.clone());
        let line = json!({"id": null, "method": "mining.notify", "params": params});
        pool.send_raw_to_all(line.to_string().as_bytes());
        m.wait_for_new_job(&before).await.unwrap();
        let got = m
            .notifications()
            .iter()
            .rev()
            .find(|r| r.method == "mining.notify")
            .unwrap()
            .params
            .clone();
        let (got, sent) = (got.as_array().unwrap(), params.as_array().unwrap());
        assert_eq!(got[got.len() - 3..], extras, "{dialect}");
        // The job id names the miner's upstream connection; the pool's id is in it.
        let mut expected = sent.clone();
        assert_eq!(pool_job_id(got[0].as_str().unwrap()), "x9");
        assert_ne!(got[0], "x9");
        expected[0] = got[0].clone();
        match dialect {
            Dialect::AleoStratum3 => assert_eq!(*got, expected, "nothing else to change"),
            Dialect::IceRiver => {
                expected[2] = Value::from(difficulty_to_target(1050));
                assert_eq!(*got, expected, "only the target, raised by the buffer");
            }
        }
        assert_eq!(pool.violations(), []);
        dp.shutdown(Duration::from_secs(2)).await;
    }
}
