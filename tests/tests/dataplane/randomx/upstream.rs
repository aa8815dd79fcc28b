//! The data plane's upstream connection in the RandomX dialect against the
//! scripted RandomX pool: login with the pool's credentials and the agent,
//! the pool's job published to sessions (with its difficulty), a share sent
//! with the pool's own session id and accepted, a bad one answered with the
//! pool's error, new jobs followed, and a pool restart reconnected.

use std::sync::Arc;
use std::time::Duration;

use switchyard_dataplane::config::{Algorithm, Config, PoolMode, Timing, parse_pool_url};
use switchyard_dataplane::upstream::{
    self, PoolInfo, PoolShare, ReplyTo, Status, UpstreamCmd, UpstreamHandle, UpstreamParams,
};
use switchyard_tests::rx_miner::mine;
use switchyard_tests::{RxPool, RxPoolConfig};
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(20);

fn spawn(pool: &RxPool) -> Arc<UpstreamHandle> {
    let mut cfg = switchyard_tests::dp::pool("xmr", pool.addr(), PoolMode::Aggregate);
    cfg.algorithm = Algorithm::Randomx;
    cfg.username = "wallet.farm".into();
    let info = Arc::new(PoolInfo {
        name: "xmr".into(),
        index: 0,
        addr: parse_pool_url(&cfg.url).unwrap(),
        username: cfg.username.clone(),
        password: cfg.password.clone(),
        mode: PoolMode::Aggregate,
        config: cfg,
        stats: Default::default(),
        learned_dialect: Default::default(),
    });
    let mut c = Config::default();
    c.upstream.backoff_min = 0.05;
    c.upstream.backoff_max = 0.2;
    upstream::spawn(
        info,
        UpstreamParams {
            timing: Arc::new(Timing::from_config(&c)),
            version_mask: 0,
            username: "wallet.farm".into(),
            capacity: 256,
            events: None,
            agent: "switchyard/test".into(),
            aleo: Default::default(),
            share_events: Default::default(),
            tls: Default::default(),
        },
    )
}

async fn ready_job(
    u: &UpstreamHandle,
    after: Option<&str>,
) -> Arc<switchyard_dataplane::randomx::RxJob> {
    let mut state = u.state.clone();
    let s = tokio::time::timeout(
        T,
        state.wait_for(|s| {
            s.status == Status::Ready
                && s.rx_job
                    .as_ref()
                    .is_some_and(|j| Some(j.job.job_id.as_str()) != after)
        }),
    )
    .await
    .expect("a ready upstream with a job")
    .unwrap();
    s.rx_job.clone().unwrap()
}

#[tokio::test]
async fn logs_in_follows_jobs_and_submits_with_the_pools_session_id() {
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let u = spawn(&pool);
    let job = ready_job(&u, None).await;
    assert_eq!(job.pool_difficulty(), 1000);
    assert_eq!(u.state.borrow().difficulty, 1000.0);
    let login = pool.connection(0).unwrap().login().unwrap().clone();
    assert_eq!(login.login, "wallet.farm");
    assert_eq!(login.algo, ["rx/0"]);
    assert_eq!(login.agent.as_deref(), Some("switchyard/test"));
    assert!(RxJobIds::round_trips(&job.miner_job_id(), &job.job.job_id));

    // A share found on the job (any session id: the upstream puts the pool's in).
    let (submit, _) = mine(&job.job, "miner-session", false, 0, 1 << 24).expect("a share");
    let (tx, mut rx) = switchyard_dataplane::inbox::inbox(4);
    let reply = ReplyTo {
        inbox: tx.clone(),
        miner_id: 7.into(),
        event: None,
        kill: CancellationToken::new(),
    };
    u.cmd_tx
        .send(UpstreamCmd::Submit {
            share: PoolShare::Randomx(submit.clone()),
            reply: reply.clone(),
        })
        .await
        .unwrap();
    let answer = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert!(answer.response.is_ok(), "{:?}", answer.response);
    assert_eq!(answer.miner_id, 7);
    assert_eq!(pool.accepted(), 1);
    assert_eq!(pool.shares()[0].session_id, "rx-session-0");

    // The same share again: the pool's own error comes back as it is.
    u.cmd_tx
        .send(UpstreamCmd::Submit {
            share: PoolShare::Randomx(submit),
            reply,
        })
        .await
        .unwrap();
    let answer = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    let (code, text) = answer.response.error_parts().expect("an error");
    assert_eq!((code, text.as_str()), (Some(-1), "Duplicate share"));

    // A new job is followed; a restarted pool is reconnected.
    let id = pool.new_job();
    let job = ready_job(&u, Some(&job.job.job_id)).await;
    assert_eq!(job.job.job_id, id);
    let addr = pool.addr();
    pool.stop().await.unwrap();
    let pool = RxPool::start_on(addr, RxPoolConfig::default())
        .await
        .unwrap();
    pool.wait_for_logins(1, T).await.unwrap();
    ready_job(&u, Some(&job.job.job_id)).await;
    u.shutdown(Duration::ZERO);
}

/// Miner-facing job ids carry the upstream so grace shares find their pool.
struct RxJobIds;

impl RxJobIds {
    fn round_trips(miner: &str, pool: &str) -> bool {
        switchyard_dataplane::randomx::RxJob::split_job_id(miner).map(|(_, j)| j) == Some(pool)
    }
}
