//! The miner side of RandomX stratum, re-exported by [`crate::randomx`]:
//! `login`, `submit`, `keepalived` and `getjob` (what a miner sends the proxy
//! and the proxy sends a pool) and the (job_id, nonce) duplicate key.

use serde_json::{Map, Value};

use super::{
    field_err, nonce_slot, object, opt_string, parse_nonce, parse_result, put, req_string, request,
    rest, result_difficulty, string_list,
};
use crate::jsonrpc::Request;
use crate::v1::ParamsError;

/// `login` params.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Login {
    pub login: String,
    pub pass: Option<String>,
    pub agent: Option<String>,
    /// Algorithms the miner supports (empty when it sent none).
    pub algo: Vec<String>,
    pub rigid: Option<String>,
    /// Other fields (`algo-perf`, ...), written back unchanged.
    pub extra: Map<String, Value>,
}

impl Login {
    pub fn from_params(params: &Value) -> Result<Login, ParamsError> {
        const M: &str = "login";
        let map = object(M, params)?;
        Ok(Login {
            login: req_string(map, "login", M)?,
            pass: opt_string(map, "pass", M)?,
            agent: opt_string(map, "agent", M)?,
            algo: string_list(map, "algo", M)?,
            rigid: opt_string(map, "rigid", M)?,
            extra: rest(map, &["login", "pass", "agent", "algo", "rigid"]),
        })
    }

    pub fn to_params(&self) -> Value {
        let mut map = self.extra.clone();
        put(&mut map, "login", Some(self.login.clone().into()));
        put(&mut map, "pass", self.pass.clone().map(Value::from));
        put(&mut map, "agent", self.agent.clone().map(Value::from));
        if !self.algo.is_empty() {
            put(&mut map, "algo", Some(self.algo.clone().into()));
        }
        put(&mut map, "rigid", self.rigid.clone().map(Value::from));
        Value::Object(map)
    }

    pub fn to_request(&self, id: impl Into<Value>) -> Request {
        request(id, "login", self.to_params())
    }
}

/// `submit` params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    /// The session id from the login result.
    pub id: String,
    pub job_id: String,
    /// Bytes in blob order (`"d0030040"` -> `[0xd0, 3, 0, 0x40]`).
    pub nonce: [u8; 4],
    /// The claimed hash.
    pub result: [u8; 32],
    pub algo: Option<String>,
    pub extra: Map<String, Value>,
}

/// Duplicate-share key of RandomX: (job_id, nonce).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShareKey {
    pub job_id: String,
    pub nonce: [u8; 4],
}

impl Submit {
    pub fn from_params(params: &Value) -> Result<Submit, ParamsError> {
        const M: &str = "submit";
        let map = object(M, params)?;
        Ok(Submit {
            id: req_string(map, "id", M)?,
            job_id: req_string(map, "job_id", M)?,
            nonce: parse_nonce(&req_string(map, "nonce", M)?).map_err(field_err(M))?,
            result: parse_result(&req_string(map, "result", M)?).map_err(field_err(M))?,
            algo: opt_string(map, "algo", M)?,
            extra: rest(map, &["id", "job_id", "nonce", "result", "algo"]),
        })
    }

    pub fn to_params(&self) -> Value {
        let mut map = self.extra.clone();
        put(&mut map, "id", Some(self.id.clone().into()));
        put(&mut map, "job_id", Some(self.job_id.clone().into()));
        put(&mut map, "nonce", Some(hex::encode(self.nonce).into()));
        put(&mut map, "result", Some(hex::encode(self.result).into()));
        put(&mut map, "algo", self.algo.clone().map(Value::from));
        Value::Object(map)
    }

    pub fn to_request(&self, id: impl Into<Value>) -> Request {
        request(id, "submit", self.to_params())
    }

    pub fn share_key(&self) -> ShareKey {
        ShareKey {
            job_id: self.job_id.clone(),
            nonce: self.nonce,
        }
    }

    /// The NiceHash slot of the nonce (its top byte).
    pub fn slot(&self) -> u8 {
        nonce_slot(self.nonce)
    }

    /// Difficulty of the claimed hash.
    pub fn difficulty(&self) -> u64 {
        result_difficulty(&self.result)
    }
}

/// What a miner sends (and what the proxy sends a pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMethod {
    Login(Login),
    Submit(Submit),
    /// `keepalived` with the session id, when given.
    Keepalived {
        id: Option<String>,
    },
    /// `getjob` with the session id, when given.
    GetJob {
        id: Option<String>,
    },
    Unknown {
        method: String,
        params: Value,
    },
}

impl ClientMethod {
    pub fn from_request(req: &Request) -> Result<Self, ParamsError> {
        let session = |m: &'static str| match &req.params {
            Value::Array(a) if a.is_empty() => Ok(None),
            p => opt_string(object(m, p)?, "id", m),
        };
        Ok(match req.method.as_str() {
            "login" => ClientMethod::Login(Login::from_params(&req.params)?),
            "submit" => ClientMethod::Submit(Submit::from_params(&req.params)?),
            "keepalived" => ClientMethod::Keepalived {
                id: session("keepalived")?,
            },
            "getjob" => ClientMethod::GetJob {
                id: session("getjob")?,
            },
            other => ClientMethod::Unknown {
                method: other.to_owned(),
                params: req.params.clone(),
            },
        })
    }

    pub fn method(&self) -> &str {
        match self {
            ClientMethod::Login(_) => "login",
            ClientMethod::Submit(_) => "submit",
            ClientMethod::Keepalived { .. } => "keepalived",
            ClientMethod::GetJob { .. } => "getjob",
            ClientMethod::Unknown { method, .. } => method,
        }
    }

    pub fn params(&self) -> Value {
        let session = |id: &Option<String>| {
            let mut map = Map::new();
            put(&mut map, "id", id.clone().map(Value::from));
            Value::Object(map)
        };
        match self {
            ClientMethod::Login(l) => l.to_params(),
            ClientMethod::Submit(s) => s.to_params(),
            ClientMethod::Keepalived { id } | ClientMethod::GetJob { id } => session(id),
            ClientMethod::Unknown { params, .. } => params.clone(),
        }
    }

    /// The request, with `"jsonrpc":"2.0"`.
    pub fn to_request(&self, id: impl Into<Value>) -> Request {
        request(id, self.method(), self.params())
    }
}
