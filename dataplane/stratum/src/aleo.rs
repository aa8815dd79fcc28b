//! ALEO (zkSNARK) stratum in the two dialects pools speak, sans IO:
//! AleoStratum/3.0.0 (the open spec of aleo-pool-server) and the
//! IceRiver-style dialect (V1-shaped subscribe, 6-param notify). Owns the
//! typed subscribe / authorize / submit (miner -> proxy -> pool), subscribe
//! results, `mining.set_target`, `mining.notify`, submit answers (including a
//! top-level `reject-reason`), dialect detection (a miner's from what its
//! subscribe announces, a pool's from its answers), the (job_id, counter,
//! nonce) duplicate key and the target/difficulty conversions.
//!
//! Parts the dialects leave loose (the clean flag, trailing params) are kept
//! as raw `serde_json::Value`s, so a relayed notify is written back as
//! received; a submit's params are kept as their text ([`crate::RawJson`]),
//! so a share reaches the pool byte for byte. A share cannot be checked at the proxy: forward every one.
//! Parse errors are [`ParamsError`]; nothing here panics on input.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::jsonrpc::Request;
use crate::v1::{ParamsError, truthy};

/// The protocol a miner names in an AleoStratum/3.0.0 subscribe.
pub const ALEO_STRATUM_3: &str = "AleoStratum/3.0.0";

/// The two ALEO dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// AleoStratum/3.0.0: `[session, server_nonce, address]` subscribe result,
    /// `mining.set_target` (the proof target), 4-param notify, 3-param submit.
    AleoStratum3,
    /// V1-shaped subscribe result, notify with height and a u64 target,
    /// submit `[job_id, counter, proof, nonce]`.
    IceRiver,
}

/// A dialect name that is neither `aleostratum3` nor `iceriver`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ALEO dialect {0:?} (known: aleostratum3, iceriver)")]
pub struct UnknownDialect(pub String);

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::AleoStratum3 => "aleostratum3",
            Dialect::IceRiver => "iceriver",
        }
    }

    /// Whether messages to this dialect carry `"jsonrpc":"2.0"`: the
    /// AleoStratum spec is JSON-RPC 2.0 (its reference codec requires the
    /// member); the IceRiver dialect is plain Stratum V1.
    pub fn jsonrpc(self) -> bool {
        self == Dialect::AleoStratum3
    }

    /// From a pool's subscribe result: a number in position 2
    /// (extranonce2_size) means IceRiver, a string (the pool address) AleoStratum3.
    pub fn from_subscribe_result(result: &Value) -> Option<Dialect> {
        use Value::{Array, Null, Number, String as Str};
        match result.as_array()?.as_slice() {
            [Array(_) | Null, Str(_), Number(_), ..] => Some(Dialect::IceRiver),
            [Str(_) | Null, Str(_) | Null, Str(_), ..] => Some(Dialect::AleoStratum3),
            _ => None,
        }
    }

    /// From notify params: `[str, u64, u64, str, str, clean, ..]` is IceRiver,
    /// `[str, str, str|null, clean, ..]` AleoStratum3.
    pub fn from_notify_params(params: &[Value]) -> Option<Dialect> {
        use Value::{Null, String as Str};
        match params {
            [Str(_), h, t, Str(_), Str(_), _, ..] if h.is_u64() && t.is_u64() => {
                Some(Dialect::IceRiver)
            }
            [Str(_), Str(_), Str(_) | Null, _, ..] => Some(Dialect::AleoStratum3),
            _ => None,
        }
    }

    /// A notify that identifies its dialect wins over the subscribe result
    /// (it decides how jobs are read); otherwise the subscribe result decides.
    pub fn detect(subscribe_result: Option<&Value>, notify: Option<&[Value]>) -> Option<Dialect> {
        notify
            .and_then(Dialect::from_notify_params)
            .or_else(|| subscribe_result.and_then(Dialect::from_subscribe_result))
    }

    /// Difficulty of a target in this dialect. AleoStratum3's `set_target`
    /// is the proof target, already a difficulty (1 = easiest): returned as
    /// is. IceRiver's notify target is inverse: `u64::MAX / target`.
    /// `None` for a zero target.
    pub fn difficulty_of_target(self, target: u64) -> Option<u64> {
        match self {
            Dialect::AleoStratum3 => (target > 0).then_some(target),
            Dialect::IceRiver => target_to_difficulty(target),
        }
    }

    /// The target that asks for `difficulty` (0 counts as 1) in this dialect.
    pub fn target_for_difficulty(self, difficulty: u64) -> u64 {
        match self {
            Dialect::AleoStratum3 => difficulty.max(1),
            Dialect::IceRiver => difficulty_to_target(difficulty),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = UnknownDialect;

    /// `aleostratum3` (also `aleo-stratum-3`, `AleoStratum/3.0.0`) or `iceriver`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "aleostratum3" | "aleo-stratum-3" | "aleostratum/3.0.0" => Ok(Dialect::AleoStratum3),
            "iceriver" => Ok(Dialect::IceRiver),
            _ => Err(UnknownDialect(s.to_owned())),
        }
    }
}

/// Inverse target -> difficulty as pools use it: `u64::MAX / target`
/// (`None` for 0). 18446744073709551 -> 1000.
pub fn target_to_difficulty(target: u64) -> Option<u64> {
    (target > 0).then(|| u64::MAX / target)
}

/// Difficulty -> inverse target: `u64::MAX / difficulty` (0 counts as 1).
/// Reads back as `difficulty` exactly below 2^32 (2^32 itself reads back
/// as 2^32 + 1: no target gives it), never below it.
pub fn difficulty_to_target(difficulty: u64) -> u64 {
    u64::MAX / difficulty.max(1)
}

fn bad(method: &'static str, problem: impl Into<String>) -> ParamsError {
    ParamsError {
        method,
        problem: problem.into(),
    }
}

fn string_at(p: &[Value], i: usize, m: &'static str, name: &str) -> Result<String, ParamsError> {
    match p.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(bad(m, format!("param {i} ({name}) must be a string"))),
    }
}

fn opt_string_at(
    p: &[Value],
    i: usize,
    m: &'static str,
    name: &str,
) -> Result<Option<String>, ParamsError> {
    match p.get(i) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        _ => Err(bad(
            m,
            format!("param {i} ({name}) must be a string or null"),
        )),
    }
}

fn hex_at(p: &[Value], i: usize, m: &'static str, name: &str) -> Result<String, ParamsError> {
    let s = string_at(p, i, m, name)?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(m, format!("param {i} ({name}) must be hex")));
    }
    Ok(s)
}

fn u64_at(p: &[Value], i: usize, m: &'static str, name: &str) -> Result<u64, ParamsError> {
    p.get(i)
        .and_then(Value::as_u64)
        .ok_or_else(|| bad(m, format!("param {i} ({name}) must be an unsigned integer")))
}

/// The clean flag as sent: a bool, a number or a string.
fn clean_at(p: &[Value], i: usize, m: &'static str) -> Result<Value, ParamsError> {
    match p.get(i) {
        Some(v @ (Value::Bool(_) | Value::Number(_) | Value::String(_))) => Ok(v.clone()),
        _ => Err(bad(
            m,
            format!("param {i} (clean_jobs) must be a bool, number or string"),
        )),
    }
}

fn tail(p: &[Value], from: usize) -> Vec<Value> {
    p.get(from..).unwrap_or_default().to_vec()
}

fn opt_value(s: &Option<String>) -> Value {
    s.clone().map_or(Value::Null, Value::from)
}

fn with_tail(mut head: Vec<Value>, extra: &[Value]) -> Value {
    head.extend_from_slice(extra);
    Value::Array(head)
}

fn request(dialect: Dialect, id: impl Into<Value>, method: &str, params: Value) -> Request {
    let mut r = Request::new(id, method, params);
    r.jsonrpc = dialect.jsonrpc();
    r
}

#[path = "aleo_client.rs"]
mod client;
pub use client::*;

#[path = "aleo_server.rs"]
mod server;
pub use server::*;

#[cfg(test)]
#[path = "aleo_tests.rs"]
mod tests;
