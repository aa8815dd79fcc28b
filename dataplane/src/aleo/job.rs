//! A pool's ALEO work as sessions see it: the subscribe result a connection
//! got (what its miner is answered), the latest job with the params exactly
//! as the pool sent them (unknown trailing params included), which upstream
//! and pool it came from (shares for it go back there, also in the grace
//! period after a switch), and the difficulty the pool asked for.
//!
//! Miners see job ids as `"{upstream:x}.{pool job id}"`
//! ([`AleoJob::miner_job_id`]), as for RandomX: two pools may use the same
//! ids, and a share in the grace period must find the job (and pool) it
//! belongs to.

use std::sync::Arc;

use serde_json::Value;
use switchyard_stratum::Request;
use switchyard_stratum::aleo::{Dialect, Notify, SubscribeResult, difficulty_to_target};
use tokio::sync::mpsc;

use crate::upstream::{PoolInfo, UpstreamCmd};

/// A connection's subscribe result, as the pool wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct AleoSubscribed {
    pub dialect: Dialect,
    pub result: Value,
}

impl AleoSubscribed {
    /// AleoStratum3: the pool address the result names.
    pub fn pool_address(&self) -> Option<String> {
        match SubscribeResult::from_result(&self.result, Some(self.dialect)) {
            Ok(SubscribeResult::AleoStratum3 { pool_address, .. }) => Some(pool_address),
            _ => None,
        }
    }

    /// The part of every nonce the pool fixes for this connection.
    pub fn nonce_space(&self) -> NonceSpace {
        match SubscribeResult::from_result(&self.result, Some(self.dialect)) {
            Ok(SubscribeResult::AleoStratum3 {
                server_nonce: Some(n),
                ..
            }) => NonceSpace::ServerNonce(n.to_ascii_lowercase()),
            Ok(SubscribeResult::IceRiver {
                extranonce1,
                extranonce2_size,
                ..
            }) => NonceSpace::Extranonce(extranonce1, extranonce2_size),
            _ => NonceSpace::Free,
        }
    }
}

/// What a pool fixes of the nonces it accepts on one connection, from its
/// subscribe result. A miner learns it only when it subscribes (ALEO has no
/// `set_extranonce`), so it keeps what it was answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonceSpace {
    /// Nothing (AleoStratum3 with a null server nonce).
    Free,
    /// AleoStratum3's server nonce (hex, lowercase).
    ServerNonce(String),
    /// IceRiver's extranonce1 and extranonce2 size.
    Extranonce(Vec<u8>, u64),
}

impl NonceSpace {
    /// Whether a miner that was given `self` can mine for a connection that
    /// was given `new` without subscribing again: `new` fixes nothing, or
    /// the same.
    pub fn allows(&self, new: &NonceSpace) -> bool {
        *new == NonceSpace::Free || new == self
    }
}

/// A difficulty the pool sent besides its jobs, in the form it used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PoolDifficulty {
    /// `mining.set_target` (AleoStratum3: the proof target, a difficulty).
    Target(u64),
    /// `mining.set_difficulty` (some V1-shaped ALEO pools).
    Difficulty(f64),
}

impl PoolDifficulty {
    pub fn value(self) -> f64 {
        match self {
            PoolDifficulty::Target(t) => t as f64,
            PoolDifficulty::Difficulty(d) => d,
        }
    }
}

#[derive(Debug)]
pub struct AleoJob {
    pub upstream_id: u64,
    pub pool: Arc<PoolInfo>,
    /// The upstream connection that gave the job (its shares go there).
    pub cmd_tx: mpsc::Sender<UpstreamCmd>,
    pub notify: Notify,
    /// The notify's params as the pool sent them.
    pub params: Vec<Value>,
    /// AleoStratum3: the address this job proves for (its own, or the last
    /// one the connection was given when the notify leaves it null).
    pub address: Option<String>,
}

impl AleoJob {
    pub fn dialect(&self) -> Dialect {
        self.notify.dialect()
    }

    pub fn job_id(&self) -> &str {
        self.notify.job_id()
    }

    /// The job id a miner sees: unique across upstream connections.
    pub fn miner_job_id(&self) -> String {
        format!("{:x}.{}", self.upstream_id, self.job_id())
    }

    /// The difficulty the job's own target asks for (IceRiver notifies carry one).
    pub fn target_difficulty(&self) -> Option<f64> {
        self.notify.difficulty().map(|d| d as f64)
    }

    /// The miner's copy of the notify: the pool's params unchanged except the
    /// job id ([`AleoJob::miner_job_id`]), an IceRiver target raised to
    /// `difficulty` (never lowered), the clean flag set when `clean` (in the
    /// form the pool used), and an AleoStratum3 address filled in when the
    /// notify leaves it null.
    pub fn miner_params(
        &self,
        difficulty: Option<u64>,
        clean: bool,
        address: Option<&str>,
    ) -> Value {
        let mut p = self.params.clone();
        p[0] = self.miner_job_id().into();
        let (clean_at, current) = match &self.notify {
            Notify::IceRiver(n) => {
                if let Some(d) = difficulty {
                    let t = difficulty_to_target(d);
                    if t < n.target {
                        p[2] = t.into();
                    }
                }
                (5, n.clean.clone())
            }
            Notify::AleoStratum3(n) => {
                if n.address.is_none()
                    && let Some(a) = address
                {
                    p[2] = a.into();
                }
                (3, n.clean.clone())
            }
        };
        if clean && !self.notify.clean_jobs() {
            p[clean_at] = match current {
                Value::Number(_) => 1.into(),
                Value::String(_) => "true".into(),
                _ => true.into(),
            };
        }
        Value::Array(p)
    }

    /// [`AleoJob::miner_params`] as a notification line in the job's dialect.
    pub fn miner_line(
        &self,
        difficulty: Option<u64>,
        clean: bool,
        address: Option<&str>,
    ) -> Vec<u8> {
        let mut r = Request::notification(
            "mining.notify",
            self.miner_params(difficulty, clean, address),
        );
        r.jsonrpc = self.dialect().jsonrpc();
        r.to_line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchyard_stratum::aleo::difficulty_to_target;

    fn test_pool(name: &str) -> PoolInfo {
        let config = crate::config::Pool {
            name: name.into(),
            url: "stratum+tcp://127.0.0.1:1".into(),
            username: "acct".into(),
            password: "x".into(),
            mode: crate::config::PoolMode::Passthrough,
            algorithm: crate::config::Algorithm::Zksnark,
            enabled: true,
            buffer_percent: None,
            min_difficulty: None,
            max_difficulty: None,
            dialect: None,
        };
        PoolInfo {
            name: name.into(),
            index: 0,
            addr: crate::config::parse_pool_url(&config.url).expect("a url"),
            username: config.username.clone(),
            password: config.password.clone(),
            mode: config.mode,
            config,
            stats: Default::default(),
            learned_dialect: Default::default(),
        }
    }

    fn job(params: Value) -> AleoJob {
        let p = params.as_array().unwrap().clone();
        let info = test_pool("aleo");
        AleoJob {
            upstream_id: 1,
            pool: Arc::new(info),
            cmd_tx: mpsc::channel(1).0,
            notify: Notify::from_params(&p, None).unwrap(),
            params: p,
            address: Some("aleo1pool".into()),
        }
    }

    #[test]
    fn an_iceriver_copy_keeps_every_param_but_a_raised_target_and_the_clean_flag() {
        let t = difficulty_to_target(1000);
        let j = job(json!(["AJ1", 7, t, "ab1h", "ab1b", "false", {"x": 1}, "tail"]));
        assert_eq!(j.target_difficulty(), Some(1000.0));
        let mut same = j.params.clone();
        same[0] = json!("1.AJ1");
        assert_eq!(j.miner_params(None, false, None), Value::Array(same));
        let p = j.miner_params(Some(1050), true, None);
        assert_eq!(p[0], json!("1.AJ1"), "the job id names its upstream");
        assert_eq!(p[2], json!(difficulty_to_target(1050)));
        assert_eq!(p[5], json!("true"), "the pool's form of the flag");
        assert_eq!(
            p.as_array().unwrap()[6..],
            j.params[6..],
            "unknown params unchanged"
        );
        // Never an easier target than the pool's.
        assert_eq!(j.miner_params(Some(10), false, None)[2], json!(t));
    }

    #[test]
    fn an_aleostratum3_copy_fills_a_null_address_only_when_asked() {
        let j = job(json!(["j1", "epoch", null, 0, "extra"]));
        assert_eq!(j.miner_params(None, false, None)[2], Value::Null);
        let p = j.miner_params(None, true, Some("aleo1new"));
        assert_eq!(p, json!(["1.j1", "epoch", "aleo1new", 1, "extra"]));
        let own = job(json!(["j2", "epoch", "aleo1own", true]));
        assert_eq!(
            own.miner_params(None, false, Some("aleo1new"))[2],
            json!("aleo1own")
        );
        let line = String::from_utf8(own.miner_line(None, false, None)).unwrap();
        assert!(line.contains(r#""jsonrpc":"2.0""#), "{line}");
    }

    #[test]
    fn a_miner_keeps_its_nonce_space_only_where_the_pool_fixes_nothing_else() {
        let sub = |dialect, result| AleoSubscribed { dialect, result }.nonce_space();
        let free = sub(Dialect::AleoStratum3, json!(["s", null, "aleo1p"]));
        let n1 = sub(Dialect::AleoStratum3, json!(["s", "AB01", "aleo1p"]));
        let n2 = sub(Dialect::AleoStratum3, json!(["t", "ab02", "aleo1p"]));
        assert_eq!(free, NonceSpace::Free);
        assert_eq!(n1, NonceSpace::ServerNonce("ab01".into()));
        assert!(free.allows(&free) && n1.allows(&free) && n1.allows(&n1));
        assert!(
            !free.allows(&n1),
            "a miner that was given no prefix ignores one"
        );
        assert!(!n1.allows(&n2));
        let e1 = sub(Dialect::IceRiver, json!([[], "00000001", 4]));
        let e2 = sub(Dialect::IceRiver, json!([[], "00000002", 4]));
        assert_eq!(e1, NonceSpace::Extranonce(vec![0, 0, 0, 1], 4));
        assert!(e1.allows(&e1) && !e1.allows(&e2));
    }
}
