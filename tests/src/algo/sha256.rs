//! [`Algo`] for SHA-256: `ScriptedPool` and `ScriptedMiner` (Stratum V1),
//! miners aggregated on the pool's connections; refusals are V1 error
//! arrays with the stratum codes.

use std::net::SocketAddr;

use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::{Algorithm, Config, Listener, Pool as PoolEntry, PoolMode};
use switchyard_stratum::v1::Submit;
use switchyard_stratum::{Response, codes};

use super::{Algo, Refusal, RefusalKind};
use crate::{DEFAULT_TIMEOUT, MinerJob, PoolConfig, PoolState, ScriptedMiner, ScriptedPool};

/// The agent the miners subscribe with.
const AGENT: &str = "cgminer/4.11.1";

pub struct Sha256;

impl Algo for Sha256 {
    const NAME: &'static str = "sha256";
    const ALGORITHM: Algorithm = Algorithm::Sha256;
    const AGGREGATES: bool = true;
    type State = PoolState;
    type Miner = ScriptedMiner;
    type Share = Submit;
    type Job = MinerJob;

    fn pool_config() -> PoolConfig {
        PoolConfig::default()
    }

    fn pool_entry(name: &str, addr: SocketAddr) -> PoolEntry {
        crate::dp::pool(name, addr, PoolMode::Aggregate)
    }

    fn passthrough_entry(name: &str, addr: SocketAddr) -> PoolEntry {
        crate::dp::pool(name, addr, PoolMode::Passthrough)
    }

    fn listener(c: &mut Config) -> &mut Vec<Listener> {
        &mut c.listeners.sha256
    }

    fn addr(dp: &DataPlane) -> Option<SocketAddr> {
        dp.sha256_addr()
    }

    fn upstream_user(account: &str, _worker: &str) -> String {
        account.to_owned()
    }

    fn code(kind: RefusalKind) -> Option<i64> {
        Some(match kind {
            RefusalKind::Duplicate => codes::DUPLICATE,
            RefusalKind::JobNotFound => codes::JOB_NOT_FOUND,
            RefusalKind::Invalid => codes::OTHER,
        })
    }

    fn check_error(r: &Response) {
        assert!(
            r.error.is_array(),
            "V1 errors are [code, text, data]: {r:?}"
        );
    }

    async fn connect(addr: SocketAddr) -> ScriptedMiner {
        ScriptedMiner::connect(addr).await.expect("connected")
    }

    async fn log_in(m: &mut ScriptedMiner, worker: &str) -> anyhow::Result<()> {
        m.subscribe(AGENT).await?;
        anyhow::ensure!(m.authorize(worker, "x").await?, "{worker} not authorized");
        m.wait_for_job().await?;
        Ok(())
    }

    async fn send_raw(m: &mut ScriptedMiner, line: &[u8]) {
        m.send_raw(line).await.expect("written");
    }

    async fn recv_line(m: &mut ScriptedMiner) -> Vec<u8> {
        m.recv_line_timeout(DEFAULT_TIMEOUT).await.expect("a line")
    }

    async fn share_for(m: &mut ScriptedMiner, job_id: &str) -> Submit {
        m.find_share_for(job_id).await.expect("a share is found")
    }

    async fn share_for_held(m: &mut ScriptedMiner, job: &MinerJob) -> Submit {
        let id = job.notify.job_id.clone();
        m.jobs.insert(id.clone(), job.clone());
        m.find_share_for(&id).await.expect("a share is found")
    }

    fn with_job(share: &Submit, job_id: &str) -> Submit {
        Submit {
            job_id: job_id.to_owned(),
            ..share.clone()
        }
    }

    async fn submit(m: &mut ScriptedMiner, share: &Submit) -> Result<(), Refusal> {
        let r = m.submit(share).await.expect("the share is answered");
        if r.is_ok() {
            return Ok(());
        }
        Self::check_error(&r);
        let (code, text) = r.error_parts().expect("an error");
        Err(Refusal { code, text })
    }

    fn latest_job(m: &ScriptedMiner) -> Option<String> {
        m.latest_job.clone()
    }

    fn job_id(job: &MinerJob) -> &str {
        &job.notify.job_id
    }

    async fn wait_for_job(
        m: &mut ScriptedMiner,
        what: &str,
        mut pred: impl FnMut(&MinerJob) -> bool,
    ) -> MinerJob {
        m.wait_until(what, |m| m.current_job().is_some_and(&mut pred))
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        m.current_job().expect("checked").clone()
    }

    fn current_job_id(pool: &ScriptedPool) -> String {
        pool.current_job().job_id
    }

    fn is_from(job: &MinerJob, pool: &ScriptedPool) -> bool {
        job.notify.prevhash == pool.current_job().prevhash
    }

    fn is_clean(job: &MinerJob) -> bool {
        job.notify.clean_jobs
    }

    fn nonce_space(m: &ScriptedMiner) -> Option<Vec<u8>> {
        Some(m.extranonce1.clone())
    }

    fn kept_across_pools(m: &ScriptedMiner) -> Vec<u8> {
        m.extranonce1.clone()
    }

    fn push_job(pool: &ScriptedPool, clean: bool) -> String {
        pool.new_job(clean)
    }
}
