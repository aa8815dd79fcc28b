//! Monero / RandomX stratum (the xmrig dialect), sans IO: typed `login`,
//! `submit`, `keepalived`, `getjob` and `job` messages in both directions (a
//! proxy is a server to miners and a client to pools), the replies
//! (`{"status":"OK"}`, `{"code":..,"message":..}` errors), target and
//! difficulty maths, blob nonce helpers for NiceHash-style aggregation and
//! algorithm negotiation. Everything written carries `"jsonrpc":"2.0"`.
//!
//! Message parse errors are [`ParamsError`] (as in [`crate::v1`]); the maths
//! and blob helpers fail with [`RandomxError`]. Nothing here panics on input.

use serde_json::{Map, Value};

use crate::jsonrpc::{Request, Response};
use crate::v1::ParamsError;

pub const STATUS_OK: &str = "OK";
pub const STATUS_KEEPALIVED: &str = "KEEPALIVED";
/// xmrig's generic error code, used when a peer's error has none.
pub const GENERIC_ERROR_CODE: i64 = -1;

#[path = "randomx_client.rs"]
mod client;
#[path = "randomx_math.rs"]
mod math;
pub use client::*;
pub use math::*;

fn bad(method: &'static str, problem: impl Into<String>) -> ParamsError {
    ParamsError {
        method,
        problem: problem.into(),
    }
}

fn object<'a>(method: &'static str, v: &'a Value) -> Result<&'a Map<String, Value>, ParamsError> {
    v.as_object()
        .ok_or_else(|| bad(method, "params must be an object"))
}

fn opt_string(
    map: &Map<String, Value>,
    key: &str,
    method: &'static str,
) -> Result<Option<String>, ParamsError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(method, format!("`{key}` must be a string"))),
    }
}

fn req_string(
    map: &Map<String, Value>,
    key: &str,
    method: &'static str,
) -> Result<String, ParamsError> {
    opt_string(map, key, method)?.ok_or_else(|| bad(method, format!("`{key}` is missing")))
}

fn string_list(
    map: &Map<String, Value>,
    key: &str,
    method: &'static str,
) -> Result<Vec<String>, ParamsError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad(method, format!("`{key}` must be a list of strings"))),
        Some(_) => Err(bad(method, format!("`{key}` must be a list of strings"))),
    }
}

/// The other fields of an object, minus the `known` ones.
fn rest(map: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

fn field_err(method: &'static str) -> impl Fn(RandomxError) -> ParamsError {
    move |e| bad(method, e.to_string())
}

fn request(id: impl Into<Value>, method: &str, params: Value) -> Request {
    let mut r = Request::new(id, method, params);
    r.jsonrpc = true;
    r
}

/// A job, from a pool's login result or `job` notification. Unknown fields
/// (`id`, `variant`, ...) stay in `extra` and are written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// At least [`MIN_BLOB_LEN`] bytes.
    pub blob: Vec<u8>,
    pub job_id: String,
    pub target: Target,
    pub algo: Option<String>,
    pub height: Option<u64>,
    pub seed_hash: Option<[u8; 32]>,
    pub extra: Map<String, Value>,
}

const JOB_FIELDS: [&str; 6] = ["blob", "job_id", "target", "algo", "height", "seed_hash"];

impl Job {
    /// Reads a job object (errors name the message `job`).
    pub fn from_value(v: &Value) -> Result<Job, ParamsError> {
        const M: &str = "job";
        let map = object(M, v)?;
        let job_id = req_string(map, "job_id", M)?;
        if job_id.is_empty() {
            return Err(bad(M, "`job_id` is empty"));
        }
        let height = match map.get("height") {
            None | Some(Value::Null) => None,
            Some(h) => Some(
                h.as_u64()
                    .ok_or_else(|| bad(M, "`height` must be a non-negative integer"))?,
            ),
        };
        let seed_hash = match opt_string(map, "seed_hash", M)? {
            None => None,
            Some(s) => Some(fixed("seed_hash", "32", &s).map_err(field_err(M))?),
        };
        Ok(Job {
            blob: parse_blob(&req_string(map, "blob", M)?).map_err(field_err(M))?,
            job_id,
            target: Target::parse(&req_string(map, "target", M)?).map_err(field_err(M))?,
            algo: opt_string(map, "algo", M)?,
            height,
            seed_hash,
            extra: rest(map, &JOB_FIELDS),
        })
    }

    pub fn to_value(&self) -> Value {
        let mut map = self.extra.clone();
        put(&mut map, "blob", Some(hex::encode(&self.blob).into()));
        put(&mut map, "job_id", Some(self.job_id.clone().into()));
        put(&mut map, "target", Some(self.target.to_hex().into()));
        put(&mut map, "algo", self.algo.clone().map(Value::from));
        put(&mut map, "height", self.height.map(Value::from));
        put(
            &mut map,
            "seed_hash",
            self.seed_hash.map(|s| hex::encode(s).into()),
        );
        Value::Object(map)
    }

    /// `{"jsonrpc":"2.0","method":"job","params":{..}}` (with `"id":null`).
    pub fn to_notification(&self) -> Request {
        request(Value::Null, "job", self.to_value())
    }

    /// The difficulty the job's target asks for.
    pub fn difficulty(&self) -> u64 {
        self.target.difficulty()
    }

    /// A copy for one miner: the nonce's top byte set to its NiceHash slot.
    pub fn with_nicehash_slot(&self, slot: u8) -> Job {
        let mut job = self.clone();
        // `blob` is public: a hand-made short blob is left as it is.
        set_nicehash_slot(&mut job.blob, slot).unwrap_or_default();
        job
    }
}

/// What a pool sends unprompted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMethod {
    Job(Job),
    Unknown { method: String, params: Value },
}

impl ServerMethod {
    pub fn from_request(req: &Request) -> Result<Self, ParamsError> {
        Ok(match req.method.as_str() {
            "job" => ServerMethod::Job(Job::from_value(&req.params)?),
            other => ServerMethod::Unknown {
                method: other.to_owned(),
                params: req.params.clone(),
            },
        })
    }

    pub fn method(&self) -> &str {
        match self {
            ServerMethod::Job(_) => "job",
            ServerMethod::Unknown { method, .. } => method,
        }
    }

    /// A notification (`"id":null`, `"jsonrpc":"2.0"`).
    pub fn to_notification(&self) -> Request {
        match self {
            ServerMethod::Job(job) => job.to_notification(),
            ServerMethod::Unknown { method, params } => {
                request(Value::Null, method, params.clone())
            }
        }
    }
}

/// The result of `login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginResult {
    /// The session id.
    pub id: String,
    pub job: Option<Job>,
    pub extensions: Vec<String>,
    pub status: Option<String>,
    pub extra: Map<String, Value>,
}

impl LoginResult {
    /// A successful login (`"status":"OK"`).
    pub fn new(id: impl Into<String>, job: Job, extensions: Vec<String>) -> Self {
        LoginResult {
            id: id.into(),
            job: Some(job),
            extensions,
            status: Some(STATUS_OK.to_owned()),
            extra: Map::new(),
        }
    }

    pub fn from_result(result: &Value) -> Result<LoginResult, ParamsError> {
        const M: &str = "login";
        let map = result
            .as_object()
            .ok_or_else(|| bad(M, "result must be an object"))?;
        let job = match map.get("job") {
            None | Some(Value::Null) => None,
            Some(j) => Some(Job::from_value(j).map_err(|e| bad(M, e.to_string()))?),
        };
        Ok(LoginResult {
            id: req_string(map, "id", M)?,
            job,
            extensions: string_list(map, "extensions", M)?,
            status: opt_string(map, "status", M)?,
            extra: rest(map, &["id", "job", "extensions", "status"]),
        })
    }

    pub fn to_result(&self) -> Value {
        let mut map = self.extra.clone();
        put(&mut map, "id", Some(self.id.clone().into()));
        put(&mut map, "job", self.job.as_ref().map(Job::to_value));
        put(&mut map, "extensions", Some(self.extensions.clone().into()));
        put(&mut map, "status", self.status.clone().map(Value::from));
        Value::Object(map)
    }

    pub fn to_response(&self, id: Value) -> Response {
        response(id, self.to_result(), Value::Null)
    }

    pub fn has_extension(&self, name: &str) -> bool {
        self.extensions.iter().any(|e| e.eq_ignore_ascii_case(name))
    }
}

/// An xmrig error object `{"code":..,"message":..}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// The error of an answer in any shape a peer uses (object, V1 list,
    /// string, `false` + `reject-reason`); a missing code is -1.
    pub fn from_response(resp: &Response) -> Option<RpcError> {
        let (code, message) = resp.error_parts()?;
        Some(RpcError::new(code.unwrap_or(GENERIC_ERROR_CODE), message))
    }

    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("code".into(), self.code.into());
        map.insert("message".into(), self.message.clone().into());
        Value::Object(map)
    }

    pub fn to_response(&self, id: Value) -> Response {
        response(id, Value::Null, self.to_value())
    }
}

fn response(id: Value, result: Value, error: Value) -> Response {
    Response {
        id,
        result,
        error,
        reject_reason: None,
        jsonrpc: true,
    }
}

/// `{"status":<status>}`.
pub fn status_response(id: Value, status: &str) -> Response {
    let mut map = Map::new();
    map.insert("status".into(), status.into());
    response(id, Value::Object(map), Value::Null)
}

/// The answer to an accepted `submit`: `{"status":"OK"}`.
pub fn ok_response(id: Value) -> Response {
    status_response(id, STATUS_OK)
}

/// The answer to `keepalived`: `{"status":"KEEPALIVED"}`.
pub fn keepalived_response(id: Value) -> Response {
    status_response(id, STATUS_KEEPALIVED)
}

/// `"result":null,"error":{"code":..,"message":..}`.
pub fn error_response(id: Value, code: i64, message: &str) -> Response {
    RpcError::new(code, message).to_response(id)
}

/// The `status` of an answer (`None` when the result has none), or its error.
pub fn reply_status(resp: &Response) -> Result<Option<String>, RpcError> {
    if let Some(err) = RpcError::from_response(resp) {
        return Err(err);
    }
    Ok(resp
        .result
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// Whether a pool accepted a share: no error, and a status that is absent
/// or "OK" (any other status is a rejection carrying that text).
pub fn submit_result(resp: &Response) -> Result<(), RpcError> {
    match reply_status(resp)? {
        Some(s) if !s.eq_ignore_ascii_case(STATUS_OK) => Err(RpcError::new(GENERIC_ERROR_CODE, s)),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "randomx_tests.rs"]
mod tests;
