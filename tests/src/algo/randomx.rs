//! [`Algo`] for RandomX: `RxPool` and `RxMiner` (xmrig's dialect), miners
//! aggregated on the pool's connections in NiceHash nonce slots; answers
//! are JSON-RPC 2.0 and refusals `{"code":-1,"message":..}`.

use std::net::SocketAddr;

use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::{Algorithm, Config, Listener, Pool as PoolEntry, PoolMode};
use switchyard_stratum::Response;
use switchyard_stratum::randomx::{Job, NICEHASH_OFFSET, Submit, reply_status};

use super::{Algo, Refusal, RefusalKind};
use crate::{DEFAULT_TIMEOUT, RxMiner, RxPool, RxPoolConfig, RxPoolState, rx_login};

pub struct RandomX;

impl Algo for RandomX {
    const NAME: &'static str = "randomx";
    const ALGORITHM: Algorithm = Algorithm::Randomx;
    const AGGREGATES: bool = true;
    type State = RxPoolState;
    type Miner = RxMiner;
    type Share = Submit;
    type Job = Job;

    fn pool_config() -> RxPoolConfig {
        RxPoolConfig::default()
    }

    fn pool_entry(name: &str, addr: SocketAddr) -> PoolEntry {
        crate::dp::rx_pool(name, addr, PoolMode::Aggregate)
    }

    fn passthrough_entry(name: &str, addr: SocketAddr) -> PoolEntry {
        crate::dp::rx_pool(name, addr, PoolMode::Passthrough)
    }

    fn listener(c: &mut Config) -> &mut Vec<Listener> {
        &mut c.listeners.randomx
    }

    fn addr(dp: &DataPlane) -> Option<SocketAddr> {
        dp.randomx_addr()
    }

    fn upstream_user(account: &str, _worker: &str) -> String {
        account.to_owned()
    }

    /// xmrig's one error code.
    fn code(_kind: RefusalKind) -> Option<i64> {
        Some(-1)
    }

    fn check_error(r: &Response) {
        assert!(r.jsonrpc, "replies speak JSON-RPC 2.0: {r:?}");
        let obj = r.error.as_object().expect("an error object");
        assert!(
            obj.contains_key("code") && obj.contains_key("message"),
            "{r:?}"
        );
    }

    async fn connect(addr: SocketAddr) -> RxMiner {
        RxMiner::connect(addr).await.expect("connected")
    }

    async fn log_in(m: &mut RxMiner, worker: &str) -> anyhow::Result<()> {
        m.login(&rx_login(worker)).await?;
        m.wait_for_job().await?;
        Ok(())
    }

    async fn send_raw(m: &mut RxMiner, line: &[u8]) {
        m.send_raw(line).await.expect("written");
    }

    async fn recv_line(m: &mut RxMiner) -> Vec<u8> {
        m.recv_line_timeout(DEFAULT_TIMEOUT).await.expect("a line")
    }

    async fn share_for(m: &mut RxMiner, job_id: &str) -> Submit {
        m.find_share_for(job_id).await.expect("a share is found")
    }

    async fn share_for_held(m: &mut RxMiner, job: &Job) -> Submit {
        m.find_share_for(&job.job_id)
            .await
            .expect("a share is found")
    }

    fn in_nonce_space(share: &Submit, job: &Job) -> bool {
        share.nonce[3] == job.blob[NICEHASH_OFFSET]
    }

    fn with_job(share: &Submit, job_id: &str) -> Submit {
        Submit {
            job_id: job_id.to_owned(),
            ..share.clone()
        }
    }

    async fn submit(m: &mut RxMiner, share: &Submit) -> Result<(), Refusal> {
        let r = m.submit(share).await.expect("the share is answered");
        assert!(r.jsonrpc, "replies speak JSON-RPC 2.0: {r:?}");
        match reply_status(&r) {
            Ok(status) => {
                assert_eq!(status.as_deref(), Some("OK"), "{r:?}");
                Ok(())
            }
            Err(e) => Err(Refusal {
                code: Some(e.code),
                text: e.message,
            }),
        }
    }

    fn latest_job(m: &RxMiner) -> Option<String> {
        m.latest_job.clone()
    }

    fn job_id(job: &Job) -> &str {
        &job.job_id
    }

    async fn wait_for_job(m: &mut RxMiner, what: &str, mut pred: impl FnMut(&Job) -> bool) -> Job {
        m.wait_until(what, |m| m.current_job().is_some_and(&mut pred))
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        m.current_job().expect("checked").clone()
    }

    fn current_job_id(pool: &RxPool) -> String {
        pool.current_job().job_id
    }

    /// The pool's seed, and its job id after the data plane's upstream prefix.
    fn is_from(job: &Job, pool: &RxPool) -> bool {
        let current = pool.current_job();
        job.seed_hash == current.seed_hash && job.job_id.ends_with(&format!(".{}", current.job_id))
    }

    /// xmrig has no clean flag: every job replaces the miner's work.
    fn is_clean(_job: &Job) -> bool {
        true
    }

    fn nonce_space(m: &RxMiner) -> Option<Vec<u8>> {
        Some(vec![m.current_job()?.blob[NICEHASH_OFFSET]]).filter(|_| m.nicehash())
    }

    fn check_slots(dp: &DataPlane, pool: &str, live: usize) {
        let plane = dp.plane(Algorithm::Randomx).expect("a RandomX plane");
        let route = plane.router.route.borrow().clone();
        let active = route.pool.as_ref().expect("an active pool");
        assert_eq!(&*active.info.name, pool);
        let taken: usize = active
            .upstreams
            .load()
            .iter()
            .map(|u| u.slots.taken())
            .sum();
        assert_eq!(taken, live, "one slot per live miner");
    }

    fn push_job(pool: &RxPool, clean: bool) -> String {
        if clean {
            pool.new_job()
        } else {
            pool.refresh_job()
        }
    }
}
