//! `Algo`: one algorithm's scripted pool and miner behind one interface
//! (SHA-256, RandomX, ALEO in each dialect), so that an end-to-end behaviour
//! that is the same for every algorithm is written once and run for each
//! ([`for_each_algorithm!`](crate::for_each_algorithm!)). Each
//! implementation also checks its dialect's reply shapes, so a shared test
//! body still asserts them.

mod aleo;
mod randomx;
mod sha256;

use std::fmt::Debug;
use std::net::SocketAddr;

use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::{Algorithm, Config, Listener, Pool as PoolEntry};
use switchyard_stratum::{Message, Response};

pub use aleo::{AleoStratum3, IceRiver};
pub use randomx::RandomX;
pub use sha256::Sha256;

use crate::Pool;
use crate::scripted_io::ScriptedState;

/// A share the data plane (or the pool through it) refused, as the miner's
/// dialect carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Option<i64>,
    pub text: String,
}

/// Why a share was refused, for the code a dialect gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    Duplicate,
    JobNotFound,
    /// A line that is not a request.
    Invalid,
}

#[allow(async_fn_in_trait)] // Static dispatch in this workspace's tests only.
pub trait Algo: 'static {
    /// Names the instance in test names and messages.
    const NAME: &'static str;
    const ALGORITHM: Algorithm;
    /// Miners share upstream connections (aggregation); otherwise each has
    /// its own (passthrough).
    const AGGREGATES: bool;
    type State: ScriptedState;
    type Miner;
    type Share: Clone + Debug;
    /// A job as the miner holds it.
    type Job: Clone + Debug;

    fn pool_config() -> <Self::State as ScriptedState>::Config;
    /// A data-plane pool entry in this algorithm's usual mode.
    fn pool_entry(name: &str, addr: SocketAddr) -> PoolEntry;
    /// A data-plane pool entry in passthrough mode (a pool connection per
    /// miner, as the account with the miner's rig name appended).
    fn passthrough_entry(name: &str, addr: SocketAddr) -> PoolEntry;
    /// The data plane's listener for this algorithm.
    fn listener(c: &mut Config) -> &mut Vec<Listener>;
    fn addr(dp: &DataPlane) -> Option<SocketAddr>;
    /// The user the pool sees for `worker` on the pool account `account`.
    fn upstream_user(account: &str, worker: &str) -> String;
    /// The code the miner's dialect gives a refusal of this kind, if it has one.
    fn code(kind: RefusalKind) -> Option<i64>;
    /// Checks an error answer's shape in the miner's dialect (SHA-256: a
    /// `[code, text, data]` list; RandomX: a JSON-RPC 2.0 error object).
    fn check_error(_r: &Response) {}

    /// Connects without a word.
    async fn connect(addr: SocketAddr) -> Self::Miner;
    /// Logs in as `worker` (subscribe and authorize, or `login`) and waits
    /// for the first job.
    async fn log_in(m: &mut Self::Miner, worker: &str) -> anyhow::Result<()>;
    /// Writes `line` (a `\n` is added when missing).
    async fn send_raw(m: &mut Self::Miner, line: &[u8]);
    /// The next raw line (a job in it is still taken).
    async fn recv_line(m: &mut Self::Miner) -> Vec<u8>;
    /// A share the pool accepts on job `job_id` as the miner holds it.
    async fn share_for(m: &mut Self::Miner, job_id: &str) -> Self::Share;
    /// A share on `job` as the miner held it, even after a clean job made
    /// the miner drop it (a real miner may find one just before a switch
    /// and submit it just after).
    async fn share_for_held(m: &mut Self::Miner, job: &Self::Job) -> Self::Share;
    /// Whether the share lies in the nonce space the miner has on `job`
    /// (RandomX: its NiceHash slot; the others: always).
    fn in_nonce_space(_share: &Self::Share, _job: &Self::Job) -> bool {
        true
    }
    /// The share with another job id.
    fn with_job(share: &Self::Share, job_id: &str) -> Self::Share;
    /// Submits and reads the answer, checking its shape in the dialect.
    async fn submit(m: &mut Self::Miner, share: &Self::Share) -> Result<(), Refusal>;
    fn latest_job(m: &Self::Miner) -> Option<String>;
    fn job_id(job: &Self::Job) -> &str;
    /// Reads until the latest job satisfies `pred`; returns it.
    async fn wait_for_job(
        m: &mut Self::Miner,
        what: &str,
        pred: impl FnMut(&Self::Job) -> bool,
    ) -> Self::Job;
    /// The id of the pool's current job.
    fn current_job_id(pool: &Pool<Self::State>) -> String;
    /// The miner's copy of the pool's current job.
    fn is_from(job: &Self::Job, pool: &Pool<Self::State>) -> bool;
    /// Whether the job replaces the miner's earlier work (clean).
    fn is_clean(job: &Self::Job) -> bool;
    /// Pushes a job from the pool: `clean` drops earlier work (RandomX: a
    /// new height, not clean: the same height); returns its id.
    fn push_job(pool: &Pool<Self::State>, clean: bool) -> String;
    /// The part of the nonce the miner was given for itself, if any
    /// (SHA-256: its extranonce1; RandomX: its NiceHash slot; IceRiver: its
    /// connection's extranonce1): distinct for miners on one connection.
    fn nonce_space(_m: &Self::Miner) -> Option<Vec<u8>> {
        None
    }
    /// What the miner was given that must not change while it stays
    /// connected, whatever the pool (SHA-256: its extranonce1).
    fn kept_across_pools(_m: &Self::Miner) -> Vec<u8> {
        Vec::new()
    }
    /// Checks the nonce slots on the upstreams of the active pool `pool`:
    /// one per live miner (RandomX's NiceHash slots; the others have none).
    fn check_slots(_dp: &DataPlane, _pool: &str, _live: usize) {}
    /// What only this algorithm's pools check of a correct proxy (ALEO:
    /// nothing an ALEO pool does not speak was sent).
    fn check_pool(_pool: &Pool<Self::State>) {}

    /// Connects, logs in as `worker` and waits for the first job.
    async fn ready(addr: SocketAddr, worker: &str) -> anyhow::Result<Self::Miner> {
        let mut m = Self::connect(addr).await;
        Self::log_in(&mut m, worker).await?;
        Ok(m)
    }

    /// Reads raw lines until an answer comes (jobs may come first).
    async fn next_answer(m: &mut Self::Miner) -> Response {
        loop {
            let line = Self::recv_line(m).await;
            if let Ok(Message::Response(r)) = Message::parse(&line) {
                return r;
            }
        }
    }

    /// A share on the latest job.
    async fn share(m: &mut Self::Miner) -> Self::Share {
        let job = Self::latest_job(m).expect("the miner has a job");
        Self::share_for(m, &job).await
    }

    /// A share that the pool must accept.
    async fn mine(m: &mut Self::Miner) {
        let share = Self::share(m).await;
        let r = Self::submit(m, &share).await;
        assert_eq!(r, Ok(()), "{}: {share:?}", Self::NAME);
    }

    /// Reads until the latest job is not `after`.
    async fn wait_for_new_job(m: &mut Self::Miner, after: &str) -> Self::Job {
        let what = format!("a job other than {after:?}");
        Self::wait_for_job(m, &what, |j| Self::job_id(j) != after).await
    }

    /// Reads until the miner's latest job is the pool's current one.
    async fn wait_for_job_of(m: &mut Self::Miner, pool: &Pool<Self::State>) -> Self::Job {
        let what = format!("the current job of pool {}", pool.addr());
        Self::wait_for_job(m, &what, |j| Self::is_from(j, pool)).await
    }
}

/// A data-plane config for this algorithm only: `crate::dp::test_config`
/// with its listener on 127.0.0.1:0 instead of SHA-256's.
pub fn test_config<A: Algo>(pools: Vec<PoolEntry>) -> Config {
    let mut c = crate::dp::test_config(pools);
    c.listeners.sha256 = Vec::new();
    *A::listener(&mut c) = vec![Listener {
        bind: "127.0.0.1:0".into(),
        ..Default::default()
    }];
    c
}

/// Starts a data plane; returns it with this algorithm's stratum address.
pub async fn start<A: Algo>(config: Config) -> (DataPlane, SocketAddr) {
    let dp = DataPlane::start(config)
        .await
        .expect("the data plane starts");
    let addr = A::addr(&dp).expect("a listener for the algorithm");
    (dp, addr)
}

/// Runs a generic test body once per algorithm, as one `#[tokio::test]`
/// each in a module named after the body: `for_each_algorithm!(body)` for
/// `async fn body<A: Algo>()` makes `body::sha256`, `body::randomx` and
/// `body::aleo` (AleoStratum/3); `for_each_algorithm!(body, iceriver)` adds
/// `body::iceriver` where the IceRiver dialect behaves the same too. With
/// `own_process` first, each runs in a process of its own (see
/// [`own_process!`](crate::own_process!)).
#[macro_export]
macro_rules! for_each_algorithm {
    ($body:ident) => {
        $crate::for_each_algorithm!(@tests $body {}
            sha256 = Sha256, randomx = RandomX, aleo = AleoStratum3);
    };
    ($body:ident, iceriver) => {
        $crate::for_each_algorithm!(@tests $body {}
            sha256 = Sha256, randomx = RandomX, aleo = AleoStratum3, iceriver = IceRiver);
    };
    (own_process $body:ident) => {
        $crate::for_each_algorithm!(@tests $body { $crate::own_process!(); }
            sha256 = Sha256, randomx = RandomX, aleo = AleoStratum3);
    };
    (@tests $body:ident $first:tt $($name:ident = $algo:ident),*) => {
        mod $body {
            $(
                #[tokio::test]
                async fn $name() {
                    $first
                    super::$body::<$crate::algo::$algo>().await
                }
            )*
        }
    };
}
