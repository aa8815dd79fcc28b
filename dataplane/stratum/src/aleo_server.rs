//! The pool side of ALEO stratum, re-exported by [`crate::aleo`]: subscribe
//! results, `mining.notify` in both dialects, `mining.set_target`, and the
//! answers to submits (accept, reject with `reject-reason` or an error).

use serde_json::{Map, Value};

use super::{
    Dialect, bad, clean_at, hex_at, opt_string_at, opt_value, request, string_at, tail,
    target_to_difficulty, truthy, u64_at, with_tail,
};
use crate::jsonrpc::{Request, Response};
use crate::v1::{ParamsError, number_or_string};

/// AleoStratum3 notify: `[job_id, epoch_hash, address|null, clean, ..]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aleo3Notify {
    pub job_id: String,
    pub epoch_hash: String,
    /// The pool address to prove for; `None` keeps the previous one.
    pub address: Option<String>,
    /// As sent (bool, number or string); see [`Notify::clean_jobs`].
    pub clean: Value,
    pub extra: Vec<Value>,
}

/// IceRiver notify: `[job_id, height, target, block_header_root,
/// hashed_beacons_root, clean, ..]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceRiverNotify {
    pub job_id: String,
    pub height: u64,
    /// Inverse target: difficulty = `u64::MAX / target`.
    pub target: u64,
    pub block_header_root: String,
    pub hashed_beacons_root: String,
    /// As sent: `true`, `1`, `"true"`, ...
    pub clean: Value,
    pub extra: Vec<Value>,
}

/// `mining.notify` in either dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notify {
    AleoStratum3(Aleo3Notify),
    IceRiver(IceRiverNotify),
}

impl Notify {
    /// Reads a notify; without a dialect it is detected from the params.
    pub fn from_params(p: &[Value], dialect: Option<Dialect>) -> Result<Self, ParamsError> {
        const M: &str = "mining.notify";
        let dialect = dialect
            .or_else(|| Dialect::from_notify_params(p))
            .ok_or_else(|| bad(M, "params match neither ALEO dialect"))?;
        Ok(match dialect {
            Dialect::AleoStratum3 => Notify::AleoStratum3(Aleo3Notify {
                job_id: string_at(p, 0, M, "job_id")?,
                epoch_hash: string_at(p, 1, M, "epoch_hash")?,
                address: opt_string_at(p, 2, M, "address")?,
                clean: clean_at(p, 3, M)?,
                extra: tail(p, 4),
            }),
            Dialect::IceRiver => {
                let target = u64_at(p, 2, M, "target")?;
                if target == 0 {
                    return Err(bad(M, "param 2 (target) must not be zero"));
                }
                Notify::IceRiver(IceRiverNotify {
                    job_id: string_at(p, 0, M, "job_id")?,
                    height: u64_at(p, 1, M, "height")?,
                    target,
                    block_header_root: string_at(p, 3, M, "block_header_root")?,
                    hashed_beacons_root: string_at(p, 4, M, "hashed_beacons_root")?,
                    clean: clean_at(p, 5, M)?,
                    extra: tail(p, 6),
                })
            }
        })
    }

    pub fn to_params(&self) -> Value {
        match self {
            Notify::AleoStratum3(n) => with_tail(
                vec![
                    n.job_id.clone().into(),
                    n.epoch_hash.clone().into(),
                    opt_value(&n.address),
                    n.clean.clone(),
                ],
                &n.extra,
            ),
            Notify::IceRiver(n) => with_tail(
                vec![
                    n.job_id.clone().into(),
                    n.height.into(),
                    n.target.into(),
                    n.block_header_root.clone().into(),
                    n.hashed_beacons_root.clone().into(),
                    n.clean.clone(),
                ],
                &n.extra,
            ),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Notify::AleoStratum3(_) => Dialect::AleoStratum3,
            Notify::IceRiver(_) => Dialect::IceRiver,
        }
    }

    pub fn job_id(&self) -> &str {
        match self {
            Notify::AleoStratum3(n) => &n.job_id,
            Notify::IceRiver(n) => &n.job_id,
        }
    }

    /// The clean flag read leniently: `true`, non-zero, `"true"`, `"1"`, `"yes"`.
    pub fn clean_jobs(&self) -> bool {
        match self {
            Notify::AleoStratum3(n) => truthy(&n.clean),
            Notify::IceRiver(n) => truthy(&n.clean),
        }
    }

    /// The difficulty an IceRiver notify's target asks for (AleoStratum3
    /// carries its target in `mining.set_target` instead).
    pub fn difficulty(&self) -> Option<u64> {
        match self {
            Notify::AleoStratum3(_) => None,
            Notify::IceRiver(n) => target_to_difficulty(n.target),
        }
    }

    /// `"id":null` notification, `jsonrpc` as the dialect wants.
    pub fn to_notification(&self) -> Request {
        request(
            self.dialect(),
            Value::Null,
            "mining.notify",
            self.to_params(),
        )
    }
}

/// What a pool sends unprompted.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMethod {
    Notify(Notify),
    /// `mining.set_target [u64]` (a number or a decimal string, not zero).
    SetTarget(u64),
    /// `mining.set_difficulty`, which some V1-shaped ALEO pools send.
    SetDifficulty(f64),
    /// Anything else (client.reconnect, mining.set_extranonce, ...), raw.
    Unknown {
        method: String,
        params: Value,
    },
}

impl ServerMethod {
    /// `dialect` decides how a notify is read (detected when `None`).
    pub fn from_request(req: &Request, dialect: Option<Dialect>) -> Result<Self, ParamsError> {
        let p = req.params_list();
        Ok(match req.method.as_str() {
            "mining.notify" => ServerMethod::Notify(Notify::from_params(p, dialect)?),
            "mining.set_target" => {
                let target = match p.first() {
                    Some(Value::Number(n)) => n.as_u64(),
                    Some(Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => {
                        s.parse().ok()
                    }
                    _ => None,
                }
                .filter(|t| *t > 0)
                .ok_or_else(|| bad("mining.set_target", "param 0 must be a u64 from 1"))?;
                ServerMethod::SetTarget(target)
            }
            "mining.set_difficulty" => ServerMethod::SetDifficulty(
                p.first()
                    .and_then(number_or_string)
                    .filter(|d| *d > 0.0)
                    .ok_or_else(|| {
                        bad(
                            "mining.set_difficulty",
                            "param 0 must be a positive difficulty",
                        )
                    })?,
            ),
            other => ServerMethod::Unknown {
                method: other.to_owned(),
                params: req.params.clone(),
            },
        })
    }

    pub fn method(&self) -> &str {
        match self {
            ServerMethod::Notify(_) => "mining.notify",
            ServerMethod::SetTarget(_) => "mining.set_target",
            ServerMethod::SetDifficulty(_) => "mining.set_difficulty",
            ServerMethod::Unknown { method, .. } => method,
        }
    }

    pub fn params(&self) -> Value {
        match self {
            ServerMethod::Notify(n) => n.to_params(),
            ServerMethod::SetTarget(t) => Value::Array(vec![(*t).into()]),
            ServerMethod::SetDifficulty(d) => Value::Array(vec![(*d).into()]),
            ServerMethod::Unknown { params, .. } => params.clone(),
        }
    }

    /// A notification (`"id":null`) for a peer speaking `dialect`.
    pub fn to_notification(&self, dialect: Dialect) -> Request {
        request(dialect, Value::Null, self.method(), self.params())
    }
}

/// The result of `mining.subscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeResult {
    /// `[session_id|null, server_nonce|null, pool_address, ..]`.
    AleoStratum3 {
        session_id: Option<String>,
        /// Hex, as sent.
        server_nonce: Option<String>,
        pool_address: String,
        extra: Vec<Value>,
    },
    /// `[subscriptions, extranonce1, extranonce2_size, ..]` (V1 shape).
    IceRiver {
        /// As sent (a list of pairs, `null`, ...).
        subscriptions: Value,
        extranonce1: Vec<u8>,
        extranonce2_size: u64,
        extra: Vec<Value>,
    },
}

impl SubscribeResult {
    /// Reads a pool's subscribe result; without a dialect it is detected.
    pub fn from_result(result: &Value, dialect: Option<Dialect>) -> Result<Self, ParamsError> {
        const M: &str = "mining.subscribe";
        let p = result
            .as_array()
            .ok_or_else(|| bad(M, "result must be a list"))?;
        let dialect = dialect
            .or_else(|| Dialect::from_subscribe_result(result))
            .ok_or_else(|| bad(M, "result matches neither ALEO dialect"))?;
        Ok(match dialect {
            Dialect::AleoStratum3 => {
                let server_nonce = match p.get(1) {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(hex_at(p, 1, M, "server_nonce")?),
                };
                SubscribeResult::AleoStratum3 {
                    session_id: opt_string_at(p, 0, M, "session_id")?,
                    server_nonce,
                    pool_address: string_at(p, 2, M, "pool_address")?,
                    extra: tail(p, 3),
                }
            }
            Dialect::IceRiver => {
                let extranonce1 = hex::decode(string_at(p, 1, M, "extranonce1")?)
                    .map_err(|_| bad(M, "result[1] (extranonce1) must be hex"))?;
                let extranonce2_size = u64_at(p, 2, M, "extranonce2_size")?;
                if extranonce2_size > 32 {
                    return Err(bad(M, "result[2] (extranonce2_size) is above 32"));
                }
                SubscribeResult::IceRiver {
                    subscriptions: p.first().cloned().unwrap_or(Value::Null),
                    extranonce1,
                    extranonce2_size,
                    extra: tail(p, 3),
                }
            }
        })
    }

    pub fn to_result(&self) -> Value {
        match self {
            SubscribeResult::AleoStratum3 {
                session_id,
                server_nonce,
                pool_address,
                extra,
            } => with_tail(
                vec![
                    opt_value(session_id),
                    opt_value(server_nonce),
                    pool_address.clone().into(),
                ],
                extra,
            ),
            SubscribeResult::IceRiver {
                subscriptions,
                extranonce1,
                extranonce2_size,
                extra,
            } => with_tail(
                vec![
                    subscriptions.clone(),
                    hex::encode(extranonce1).into(),
                    (*extranonce2_size).into(),
                ],
                extra,
            ),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            SubscribeResult::AleoStratum3 { .. } => Dialect::AleoStratum3,
            SubscribeResult::IceRiver { .. } => Dialect::IceRiver,
        }
    }

    pub fn to_response(&self, id: Value) -> Response {
        ok_response(self.dialect(), id, self.to_result())
    }
}

/// A pool's (or the proxy's) refusal of a share or worker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rejected: {reason}")]
pub struct Rejection {
    pub code: Option<i64>,
    pub reason: String,
}

/// Whether an answer accepts: no error and a result that is not `false`
/// (`null`/`null` accepts). A rejection's text comes from the error (list,
/// object or string) or from a top-level `reject-reason`.
pub fn submit_result(resp: &Response) -> Result<(), Rejection> {
    match resp.error_parts() {
        None => Ok(()),
        Some((code, reason)) => Err(Rejection { code, reason }),
    }
}

/// A success answer (`true`, a subscribe result, ...) for `dialect`.
pub fn ok_response(dialect: Dialect, id: Value, result: Value) -> Response {
    let mut r = Response::ok(id, result);
    r.jsonrpc = dialect.jsonrpc();
    r
}

/// A refusal shaped as each dialect's pools send it: AleoStratum3
/// `"result":null,"error":{"code":..,"message":..}` (JSON-RPC 2.0);
/// IceRiver `"result":false,"error":null,"reject-reason":..` (no code).
pub fn reject_response(dialect: Dialect, id: Value, code: i64, reason: &str) -> Response {
    match dialect {
        Dialect::AleoStratum3 => {
            let mut error = Map::new();
            error.insert("code".into(), code.into());
            error.insert("message".into(), reason.into());
            Response {
                id,
                result: Value::Null,
                error: Value::Object(error),
                reject_reason: None,
                jsonrpc: true,
            }
        }
        Dialect::IceRiver => Response {
            id,
            result: Value::Bool(false),
            error: Value::Null,
            reject_reason: Some(reason.to_owned()),
            jsonrpc: false,
        },
    }
}

#[cfg(test)]
#[path = "aleo_server_tests.rs"]
mod tests;
