//! [`Algo`] for ALEO, once per dialect: `AleoPool` and `AleoMiner`, each
//! miner on a pool connection of its own (passthrough); refusals as the
//! dialect words them (AleoStratum3: a JSON-RPC 2.0 error object; IceRiver:
//! `"result":false` with a `reject-reason`).

use std::net::SocketAddr;

use serde_json::Value;
use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::{Algorithm, Config, Listener, Pool as PoolEntry};
use switchyard_stratum::aleo::{Dialect, Notify, Submit, submit_result};

use super::{Algo, Refusal, RefusalKind};
use crate::aleo_miner::pool_job_id;
use crate::{ALEO_AGENT, AleoMiner, AleoPool, AleoPoolConfig, AleoPoolState, DEFAULT_TIMEOUT};

/// ALEO miners and pools speaking IceRiver's dialect (`ICE`) or AleoStratum/3.
pub struct Aleo<const ICE: bool>;

pub type AleoStratum3 = Aleo<false>;
pub type IceRiver = Aleo<true>;

impl<const ICE: bool> Aleo<ICE> {
    const DIALECT: Dialect = if ICE {
        Dialect::IceRiver
    } else {
        Dialect::AleoStratum3
    };
}

/// What tells one job of a pool from another: its random root or hash.
fn fingerprint(job: &Notify) -> &str {
    match job {
        Notify::AleoStratum3(n) => &n.epoch_hash,
        Notify::IceRiver(n) => &n.block_header_root,
    }
}

impl<const ICE: bool> Algo for Aleo<ICE> {
    const NAME: &'static str = if ICE { "iceriver" } else { "aleo_stratum3" };
    const ALGORITHM: Algorithm = Algorithm::Zksnark;
    const AGGREGATES: bool = false;
    type State = AleoPoolState;
    type Miner = AleoMiner;
    type Share = Submit;
    type Job = Notify;

    fn pool_config() -> AleoPoolConfig {
        AleoPoolConfig::new(Self::DIALECT)
    }

    fn pool_entry(name: &str, addr: SocketAddr) -> PoolEntry {
        crate::dp::aleo_pool(name, addr, Some(Self::DIALECT))
    }

    /// ALEO pools are always passthrough.
    fn passthrough_entry(name: &str, addr: SocketAddr) -> PoolEntry {
        Self::pool_entry(name, addr)
    }

    fn listener(c: &mut Config) -> &mut Vec<Listener> {
        &mut c.listeners.zksnark
    }

    fn addr(dp: &DataPlane) -> Option<SocketAddr> {
        dp.zksnark_addr()
    }

    /// The account with the worker's rig name: `farm.a` and `farm.rig1`
    /// make `farm.a.rig1`.
    fn upstream_user(account: &str, worker: &str) -> String {
        let (_, rig) = worker
            .split_once('.')
            .expect("workers here are ACCOUNT.RIG");
        format!("{account}.{rig}")
    }

    /// IceRiver refusals carry a reason only.
    fn code(kind: RefusalKind) -> Option<i64> {
        match (ICE, kind) {
            (true, _) => None,
            (false, RefusalKind::Duplicate) => Some(22),
            (false, RefusalKind::JobNotFound) => Some(21),
            (false, RefusalKind::Invalid) => None,
        }
    }

    async fn connect(addr: SocketAddr) -> AleoMiner {
        AleoMiner::connect(addr, Self::DIALECT)
            .await
            .expect("connected")
    }

    async fn log_in(m: &mut AleoMiner, worker: &str) -> anyhow::Result<()> {
        m.subscribe(ALEO_AGENT).await?;
        anyhow::ensure!(m.authorize(worker, "x").await?, "{worker} not authorized");
        m.wait_for_job().await?;
        Ok(())
    }

    async fn send_raw(m: &mut AleoMiner, line: &[u8]) {
        m.send_raw(line).await.expect("written");
    }

    async fn recv_line(m: &mut AleoMiner) -> Vec<u8> {
        m.recv_line_timeout(DEFAULT_TIMEOUT).await.expect("a line")
    }

    async fn share_for(m: &mut AleoMiner, job_id: &str) -> Submit {
        m.share_for(job_id).expect("a share")
    }

    async fn share_for_held(m: &mut AleoMiner, job: &Notify) -> Submit {
        m.share_for(job.job_id()).expect("a share")
    }

    fn with_job(share: &Submit, job_id: &str) -> Submit {
        let mut s = share.clone();
        match &mut s {
            Submit::AleoStratum3(a) => a.job_id = job_id.into(),
            Submit::IceRiver(i) => i.job_id = job_id.into(),
        }
        s
    }

    async fn submit(m: &mut AleoMiner, share: &Submit) -> Result<(), Refusal> {
        let r = m.submit(share).await.expect("the share is answered");
        let Err(e) = submit_result(&r) else {
            return Ok(());
        };
        if ICE {
            assert_eq!(r.result, Value::Bool(false), "{r:?}");
            assert_eq!(r.reject_reason.as_deref(), Some(e.reason.as_str()), "{r:?}");
        } else {
            assert!(r.jsonrpc, "{r:?}");
            let obj = r.error.as_object().expect("a JSON-RPC 2.0 error object");
            assert!(
                obj.contains_key("code") && obj.contains_key("message"),
                "{r:?}"
            );
        }
        Err(Refusal {
            code: e.code,
            text: e.reason,
        })
    }

    fn latest_job(m: &AleoMiner) -> Option<String> {
        m.latest_job.clone()
    }

    fn job_id(job: &Notify) -> &str {
        job.job_id()
    }

    async fn wait_for_job(
        m: &mut AleoMiner,
        what: &str,
        mut pred: impl FnMut(&Notify) -> bool,
    ) -> Notify {
        m.wait_until(what, |m| m.current_job().is_some_and(&mut pred))
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        m.current_job().expect("checked").clone()
    }

    fn current_job_id(pool: &AleoPool) -> String {
        pool.current_job().job_id().to_owned()
    }

    /// The pool's job id after the data plane's upstream prefix, and the
    /// pool's random root (pools may use the same job ids).
    fn is_from(job: &Notify, pool: &AleoPool) -> bool {
        let current = pool.current_job();
        pool_job_id(job.job_id()) == current.job_id() && fingerprint(job) == fingerprint(&current)
    }

    fn is_clean(job: &Notify) -> bool {
        job.clean_jobs()
    }

    fn push_job(pool: &AleoPool, clean: bool) -> String {
        pool.new_job(clean)
    }

    fn nonce_space(m: &AleoMiner) -> Option<Vec<u8>> {
        Some(m.extranonce1()).filter(|e| !e.is_empty())
    }

    fn check_pool(pool: &AleoPool) {
        assert_eq!(pool.violations(), [], "nothing an ALEO pool does not speak");
    }
}
