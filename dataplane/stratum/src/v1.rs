//! Typed Stratum V1 methods (SHA-256) in both directions, over the envelope.
//!
//! `ClientMethod` is what a miner sends, `ServerMethod` what a pool sends
//! unprompted. Anything not recognised stays `Unknown` with its raw params so
//! it can be relayed instead of rejected.

use serde_json::{Map, Value, json};

use crate::hexutil::{hex_u32, parse_hex_u32, parse_hex_vec};
use crate::jsonrpc::Request;

/// Why a known method's params are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method}: {problem}")]
pub struct ParamsError {
    pub method: &'static str,
    pub problem: String,
}

fn bad(method: &'static str, problem: impl Into<String>) -> ParamsError {
    ParamsError {
        method,
        problem: problem.into(),
    }
}

/// `mining.submit`: worker, job_id, extranonce2, ntime, nonce [, version_bits].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Submit {
    pub worker: String,
    pub job_id: String,
    pub extranonce2: Vec<u8>,
    pub ntime: u32,
    pub nonce: u32,
    pub version_bits: Option<u32>,
}

/// BIP 310 `mining.configure`.
#[derive(Debug, Clone, PartialEq)]
pub struct Configure {
    pub extensions: Vec<String>,
    pub params: Map<String, Value>,
}

impl Configure {
    pub fn has(&self, extension: &str) -> bool {
        self.extensions.iter().any(|e| e == extension)
    }

    /// The miner's version-rolling mask, when it asked for version rolling.
    pub fn version_rolling_mask(&self) -> Option<u32> {
        if !self.has("version-rolling") {
            return None;
        }
        Some(
            self.params
                .get("version-rolling.mask")
                .and_then(Value::as_str)
                .and_then(|s| parse_hex_u32(s).ok())
                .unwrap_or(0xffff_ffff),
        )
    }

    pub fn version_rolling_min_bit_count(&self) -> u32 {
        self.params
            .get("version-rolling.min-bit-count")
            .and_then(Value::as_u64)
            .map(|v| v.min(32) as u32)
            .unwrap_or(0)
    }

    pub fn minimum_difficulty(&self) -> Option<f64> {
        if !self.has("minimum-difficulty") {
            return None;
        }
        self.params
            .get("minimum-difficulty.value")
            .and_then(number_or_string)
            .filter(|d| *d > 0.0)
    }
}

/// What a miner sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMethod {
    Subscribe {
        agent: Option<String>,
        session: Option<String>,
    },
    Authorize {
        user: String,
        password: Option<String>,
    },
    Submit(Submit),
    Configure(Configure),
    ExtranonceSubscribe,
    SuggestDifficulty(f64),
    Unknown {
        method: String,
        params: Value,
    },
}

/// `mining.notify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub job_id: String,
    /// As sent: the stratum word-swapped form, 32 bytes.
    pub prevhash: [u8; 32],
    pub coinb1: Vec<u8>,
    pub coinb2: Vec<u8>,
    pub merkle_branch: Vec<[u8; 32]>,
    pub version: u32,
    pub nbits: u32,
    pub ntime: u32,
    pub clean_jobs: bool,
}

/// What a pool sends without being asked (and `client.get_version`, which it asks).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMethod {
    Notify(Notify),
    SetDifficulty(f64),
    SetExtranonce {
        extranonce1: Vec<u8>,
        extranonce2_size: usize,
    },
    SetVersionMask(u32),
    Reconnect {
        host: Option<String>,
        port: Option<u16>,
        wait_seconds: u64,
    },
    ShowMessage(String),
    GetVersion,
    Unknown {
        method: String,
        params: Value,
    },
}

pub(crate) fn number_or_string(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|d| d.is_finite())
}

fn str_at<'a>(
    params: &'a [Value],
    i: usize,
    method: &'static str,
    name: &str,
) -> Result<&'a str, ParamsError> {
    params
        .get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(method, format!("param {i} ({name}) must be a string")))
}

fn opt_str(params: &[Value], i: usize) -> Option<String> {
    params.get(i).and_then(Value::as_str).map(str::to_owned)
}

impl ClientMethod {
    pub fn from_request(req: &Request) -> Result<Self, ParamsError> {
        let p = req.params_list();
        Ok(match req.method.as_str() {
            "mining.subscribe" => ClientMethod::Subscribe {
                agent: opt_str(p, 0),
                session: opt_str(p, 1),
            },
            "mining.authorize" => {
                const M: &str = "mining.authorize";
                ClientMethod::Authorize {
                    user: str_at(p, 0, M, "username")?.to_owned(),
                    password: opt_str(p, 1),
                }
            }
            "mining.submit" => ClientMethod::Submit(Submit::from_params(p)?),
            "mining.configure" => {
                const M: &str = "mining.configure";
                let extensions = match p.first() {
                    Some(Value::Array(items)) => items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => return Err(bad(M, "param 0 must be the list of extensions")),
                };
                let params = match p.get(1) {
                    Some(Value::Object(map)) => map.clone(),
                    None | Some(Value::Null) => Map::new(),
                    _ => return Err(bad(M, "param 1 must be an object")),
                };
                ClientMethod::Configure(Configure { extensions, params })
            }
            "mining.extranonce.subscribe" => ClientMethod::ExtranonceSubscribe,
            "mining.suggest_difficulty" => {
                let d = p
                    .first()
                    .and_then(number_or_string)
                    .filter(|d| *d > 0.0)
                    .ok_or_else(|| {
                        bad(
                            "mining.suggest_difficulty",
                            "param 0 must be a positive difficulty",
                        )
                    })?;
                ClientMethod::SuggestDifficulty(d)
            }
            other => ClientMethod::Unknown {
                method: other.to_owned(),
                params: req.params.clone(),
            },
        })
    }

    pub fn method(&self) -> &str {
        match self {
            ClientMethod::Subscribe { .. } => "mining.subscribe",
            ClientMethod::Authorize { .. } => "mining.authorize",
            ClientMethod::Submit(_) => "mining.submit",
            ClientMethod::Configure(_) => "mining.configure",
            ClientMethod::ExtranonceSubscribe => "mining.extranonce.subscribe",
            ClientMethod::SuggestDifficulty(_) => "mining.suggest_difficulty",
            ClientMethod::Unknown { method, .. } => method,
        }
    }

    pub fn params(&self) -> Value {
        match self {
            ClientMethod::Subscribe { agent, session } => match (agent, session) {
                (None, None) => json!([]),
                (a, None) => json!([a]),
                (a, Some(s)) => json!([a, s]),
            },
            ClientMethod::Authorize { user, password } => match password {
                Some(p) => json!([user, p]),
                None => json!([user]),
            },
            ClientMethod::Submit(s) => s.to_params(),
            ClientMethod::Configure(c) => json!([c.extensions, c.params]),
            ClientMethod::ExtranonceSubscribe => json!([]),
            ClientMethod::SuggestDifficulty(d) => json!([d]),
            ClientMethod::Unknown { params, .. } => params.clone(),
        }
    }

    pub fn to_request(&self, id: impl Into<Value>) -> Request {
        Request::new(id, self.method(), self.params())
    }
}

impl Submit {
    fn from_params(p: &[Value]) -> Result<Self, ParamsError> {
        const M: &str = "mining.submit";
        if p.len() < 5 {
            return Err(bad(M, format!("expected 5 or 6 params, got {}", p.len())));
        }
        let hex32 = |i: usize, name: &str| -> Result<u32, ParamsError> {
            parse_hex_u32(str_at(p, i, M, name)?).map_err(|e| bad(M, format!("{name}: {e}")))
        };
        let version_bits = match p.get(5) {
            None | Some(Value::Null) => None,
            Some(_) => Some(hex32(5, "version_bits")?),
        };
        Ok(Submit {
            worker: str_at(p, 0, M, "worker")?.to_owned(),
            job_id: match &p[1] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad(M, "param 1 (job_id) must be a string")),
            },
            extranonce2: parse_hex_vec(str_at(p, 2, M, "extranonce2")?)
                .map_err(|e| bad(M, format!("extranonce2: {e}")))?,
            ntime: hex32(3, "ntime")?,
            nonce: hex32(4, "nonce")?,
            version_bits,
        })
    }

    /// Appends the params as JSON text, exactly as [`Submit::to_params`]
    /// serialises: `["worker","job","extranonce2","ntime","nonce"(,"bits")]`,
    /// without building a `Value` (a share's way to the pool).
    pub fn write_params(&self, out: &mut Vec<u8>) {
        fn hex_str(out: &mut Vec<u8>, bytes: &[u8]) {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push(b'"');
            for b in bytes {
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            out.push(b'"');
        }
        out.push(b'[');
        // Serialising a string into a Vec cannot fail.
        serde_json::to_writer(&mut *out, &self.worker).unwrap_or_default();
        out.push(b',');
        serde_json::to_writer(&mut *out, &self.job_id).unwrap_or_default();
        out.push(b',');
        hex_str(out, &self.extranonce2);
        out.push(b',');
        hex_str(out, &self.ntime.to_be_bytes());
        out.push(b',');
        hex_str(out, &self.nonce.to_be_bytes());
        if let Some(bits) = self.version_bits {
            out.push(b',');
            hex_str(out, &bits.to_be_bytes());
        }
        out.push(b']');
    }

    pub fn to_params(&self) -> Value {
        let mut v = vec![
            json!(self.worker),
            json!(self.job_id),
            json!(hex::encode(&self.extranonce2)),
            json!(hex_u32(self.ntime)),
            json!(hex_u32(self.nonce)),
        ];
        if let Some(bits) = self.version_bits {
            v.push(json!(hex_u32(bits)));
        }
        Value::Array(v)
    }
}

impl Notify {
    fn from_params(p: &[Value]) -> Result<Self, ParamsError> {
        const M: &str = "mining.notify";
        if p.len() < 8 {
            return Err(bad(M, format!("expected 9 params, got {}", p.len())));
        }
        let hex = |i: usize, name: &str| -> Result<Vec<u8>, ParamsError> {
            parse_hex_vec(str_at(p, i, M, name)?).map_err(|e| bad(M, format!("{name}: {e}")))
        };
        let hex32 = |i: usize, name: &str| -> Result<u32, ParamsError> {
            parse_hex_u32(str_at(p, i, M, name)?).map_err(|e| bad(M, format!("{name}: {e}")))
        };
        let prevhash: [u8; 32] = hex(1, "prevhash")?
            .try_into()
            .map_err(|_| bad(M, "prevhash must be 32 bytes"))?;
        let merkle_branch = match &p[4] {
            Value::Array(items) => items
                .iter()
                .map(|b| {
                    let bytes = b
                        .as_str()
                        .and_then(|s| hex::decode(s).ok())
                        .unwrap_or_default();
                    <[u8; 32]>::try_from(bytes)
                        .map_err(|_| bad(M, "each merkle branch must be 32 bytes of hex"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(bad(M, "param 4 (merkle_branch) must be a list")),
        };
        Ok(Notify {
            job_id: match &p[0] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad(M, "param 0 (job_id) must be a string")),
            },
            prevhash,
            coinb1: hex(2, "coinb1")?,
            coinb2: hex(3, "coinb2")?,
            merkle_branch,
            version: hex32(5, "version")?,
            nbits: hex32(6, "nbits")?,
            ntime: hex32(7, "ntime")?,
            clean_jobs: p.get(8).map(truthy).unwrap_or(false),
        })
    }

    pub fn to_params(&self) -> Value {
        json!([
            self.job_id,
            hex::encode(self.prevhash),
            hex::encode(&self.coinb1),
            hex::encode(&self.coinb2),
            self.merkle_branch
                .iter()
                .map(hex::encode)
                .collect::<Vec<_>>(),
            hex_u32(self.version),
            hex_u32(self.nbits),
            hex_u32(self.ntime),
            self.clean_jobs,
        ])
    }
}

/// `true`, a non-zero number or the string "true"/"1" (pools disagree).
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        _ => false,
    }
}

impl ServerMethod {
    pub fn from_request(req: &Request) -> Result<Self, ParamsError> {
        let p = req.params_list();
        Ok(match req.method.as_str() {
            "mining.notify" => ServerMethod::Notify(Notify::from_params(p)?),
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
            "mining.set_extranonce" => {
                const M: &str = "mining.set_extranonce";
                let extranonce1 = parse_hex_vec(str_at(p, 0, M, "extranonce1")?)
                    .map_err(|e| bad(M, format!("extranonce1: {e}")))?;
                let extranonce2_size = p
                    .get(1)
                    .and_then(Value::as_u64)
                    .filter(|n| *n <= 32)
                    .ok_or_else(|| bad(M, "param 1 (extranonce2_size) must be a number up to 32"))?
                    as usize;
                ServerMethod::SetExtranonce {
                    extranonce1,
                    extranonce2_size,
                }
            }
            "mining.set_version_mask" => {
                const M: &str = "mining.set_version_mask";
                ServerMethod::SetVersionMask(
                    parse_hex_u32(str_at(p, 0, M, "mask")?)
                        .map_err(|e| bad(M, format!("mask: {e}")))?,
                )
            }
            "client.reconnect" => ServerMethod::Reconnect {
                host: opt_str(p, 0).filter(|h| !h.is_empty()),
                port: p
                    .get(1)
                    .and_then(|v| match v {
                        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    })
                    .filter(|p| *p != 0),
                wait_seconds: p
                    .get(2)
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .unwrap_or(0),
            },
            "client.show_message" => ServerMethod::ShowMessage(opt_str(p, 0).unwrap_or_default()),
            "client.get_version" => ServerMethod::GetVersion,
            other => ServerMethod::Unknown {
                method: other.to_owned(),
                params: req.params.clone(),
            },
        })
    }

    pub fn method(&self) -> &str {
        match self {
            ServerMethod::Notify(_) => "mining.notify",
            ServerMethod::SetDifficulty(_) => "mining.set_difficulty",
            ServerMethod::SetExtranonce { .. } => "mining.set_extranonce",
            ServerMethod::SetVersionMask(_) => "mining.set_version_mask",
            ServerMethod::Reconnect { .. } => "client.reconnect",
            ServerMethod::ShowMessage(_) => "client.show_message",
            ServerMethod::GetVersion => "client.get_version",
            ServerMethod::Unknown { method, .. } => method,
        }
    }

    pub fn params(&self) -> Value {
        match self {
            ServerMethod::Notify(n) => n.to_params(),
            ServerMethod::SetDifficulty(d) => json!([d]),
            ServerMethod::SetExtranonce {
                extranonce1,
                extranonce2_size,
            } => {
                json!([hex::encode(extranonce1), extranonce2_size])
            }
            ServerMethod::SetVersionMask(m) => json!([hex_u32(*m)]),
            ServerMethod::Reconnect {
                host,
                port,
                wait_seconds,
            } => match (host, port) {
                (None, None) if *wait_seconds == 0 => json!([]),
                _ => json!([
                    host.clone().unwrap_or_default(),
                    port.unwrap_or(0),
                    wait_seconds
                ]),
            },
            ServerMethod::ShowMessage(m) => json!([m]),
            ServerMethod::GetVersion => json!([]),
            ServerMethod::Unknown { params, .. } => params.clone(),
        }
    }

    /// A notification (`"id":null`) carrying this method.
    pub fn to_notification(&self) -> Request {
        Request::notification(self.method(), self.params())
    }
}

/// The result of `mining.subscribe`: `[subscriptions, extranonce1, extranonce2_size]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeResult {
    pub subscription_id: Option<String>,
    pub extranonce1: Vec<u8>,
    pub extranonce2_size: usize,
}

impl SubscribeResult {
    /// Reads the pool's answer; tolerates a `null` or short subscription list.
    pub fn from_result(result: &Value) -> Result<Self, ParamsError> {
        const M: &str = "mining.subscribe";
        let items = result
            .as_array()
            .ok_or_else(|| bad(M, "result must be a list"))?;
        let subscription_id = items
            .first()
            .and_then(|subs| {
                let subs = subs.as_array()?;
                subs.iter().find_map(|pair| {
                    let pair = pair.as_array()?;
                    (pair.first()?.as_str()? == "mining.notify")
                        .then(|| pair.get(1)?.as_str().map(str::to_owned))?
                })
            })
            .filter(|id| !id.is_empty());
        let extranonce1 = items
            .get(1)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(M, "result[1] (extranonce1) must be a hex string"))
            .and_then(|s| parse_hex_vec(s).map_err(|e| bad(M, format!("extranonce1: {e}"))))?;
        let extranonce2_size = items
            .get(2)
            .and_then(Value::as_u64)
            .filter(|n| (1..=32).contains(n))
            .ok_or_else(|| {
                bad(
                    M,
                    "result[2] (extranonce2_size) must be a number from 1 to 32",
                )
            })? as usize;
        Ok(SubscribeResult {
            subscription_id,
            extranonce1,
            extranonce2_size,
        })
    }

    pub fn to_result(&self) -> Value {
        let sid = self.subscription_id.clone().unwrap_or_default();
        json!([
            [["mining.set_difficulty", sid], ["mining.notify", sid]],
            hex::encode(&self.extranonce1),
            self.extranonce2_size
        ])
    }
}

#[cfg(test)]
#[path = "v1_tests.rs"]
mod tests;
