//! The miner side of ALEO stratum, re-exported by [`crate::aleo`]: subscribe,
//! authorize and submit in both dialects (what a miner sends the proxy and the
//! proxy sends a pool) and the (job_id, counter, nonce) duplicate key.

use serde_json::Value;

use super::{
    ALEO_STRATUM_3, Dialect, bad, opt_string_at, opt_value, request, string_at, tail, with_tail,
};
use crate::jsonrpc::Request;
use crate::raw::{self, RawJson};
use crate::v1::ParamsError;

/// The protocol string IceRiver ALEO ASICs put in their subscribe, though
/// they speak the V1-shaped IceRiver dialect; the proxy sends the same.
pub const ICERIVER_PROTOCOL: &str = "AleoStratum/2.0.0";

/// `mining.subscribe`: `[agent, protocol, session|null, ..]` when param 1
/// names an `AleoStratum/` protocol (AleoStratum/3.0.0 miners and IceRiver
/// ASICs with their "AleoStratum/2.0.0"), else the V1 shape `[agent,
/// session?, ..]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    pub agent: Option<String>,
    /// The `AleoStratum/x.y.z` string, as sent.
    pub protocol: Option<String>,
    /// A session to resume.
    pub session: Option<String>,
    pub extra: Vec<Value>,
}

/// Whether `s` names an AleoStratum protocol version (any case).
fn is_aleo_stratum(s: &str) -> bool {
    s.get(..12)
        .is_some_and(|p| p.eq_ignore_ascii_case("aleostratum/"))
}

impl Subscribe {
    /// A fresh subscribe in `dialect`: AleoStratum3 `[agent,
    /// "AleoStratum/3.0.0", null]`; IceRiver as its ASICs send it, `[agent,
    /// "AleoStratum/2.0.0", null]`.
    pub fn new(dialect: Dialect, agent: impl Into<String>) -> Self {
        let protocol = match dialect {
            Dialect::AleoStratum3 => ALEO_STRATUM_3,
            Dialect::IceRiver => ICERIVER_PROTOCOL,
        };
        Subscribe {
            agent: Some(agent.into()),
            protocol: Some(protocol.to_owned()),
            ..Subscribe::default()
        }
    }

    /// The dialect this subscribe tells, if it tells one: only an
    /// `AleoStratum/3.x` protocol is AleoStratum3; an IceRiver agent is the
    /// IceRiver dialect whatever version it names (its ASICs send
    /// "AleoStratum/2.0.0"). Anything else (other versions, other agents,
    /// no version) does not tell: the miner follows its pool's dialect.
    pub fn announced(&self) -> Option<Dialect> {
        if let Some(p) = &self.protocol
            && is_aleo_stratum(p)
            && p[12..].starts_with('3')
        {
            return Some(Dialect::AleoStratum3);
        }
        let iceriver = self
            .agent
            .as_deref()
            .and_then(|a| a.get(..8))
            .is_some_and(|a| a.eq_ignore_ascii_case("iceriver"));
        iceriver.then_some(Dialect::IceRiver)
    }

    pub fn from_params(p: &[Value]) -> Result<Self, ParamsError> {
        const M: &str = "mining.subscribe";
        let agent = opt_string_at(p, 0, M, "agent")?;
        if matches!(p.get(1), Some(Value::String(s)) if is_aleo_stratum(s)) {
            return Ok(Subscribe {
                agent,
                protocol: opt_string_at(p, 1, M, "protocol")?,
                session: opt_string_at(p, 2, M, "session")?,
                extra: tail(p, 3),
            });
        }
        Ok(Subscribe {
            agent,
            protocol: None,
            session: opt_string_at(p, 1, M, "session")?,
            extra: tail(p, 2),
        })
    }

    pub fn to_params(&self) -> Value {
        let head = if self.protocol.is_some() {
            vec![
                opt_value(&self.agent),
                opt_value(&self.protocol),
                opt_value(&self.session),
            ]
        } else if self.session.is_some() || !self.extra.is_empty() {
            vec![opt_value(&self.agent), opt_value(&self.session)]
        } else if self.agent.is_some() {
            vec![opt_value(&self.agent)]
        } else {
            Vec::new()
        };
        with_tail(head, &self.extra)
    }
}

/// AleoStratum3 `mining.submit`: `[worker, job_id, counter, ..]`. Every
/// param but the job id is kept as the miner wrote it ([`RawJson`]): the
/// counter may be a number or a decimal, hex or zero-padded string, and it
/// reaches the pool as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aleo3Submit {
    pub worker: RawJson,
    pub job_id: String,
    pub counter: RawJson,
    pub extra: Vec<RawJson>,
}

impl Aleo3Submit {
    /// The worker name when the miner sent a string.
    pub fn worker_name(&self) -> Option<String> {
        self.worker.as_str()
    }
}

/// IceRiver `mining.submit`: `[job_id, counter, proof, nonce, ..]`, kept
/// as the miner wrote it (no worker name) so it is forwarded as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceRiverSubmit {
    pub job_id: String,
    pub counter: RawJson,
    pub proof: RawJson,
    pub nonce: RawJson,
    pub extra: Vec<RawJson>,
}

/// A share in either dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submit {
    AleoStratum3(Aleo3Submit),
    IceRiver(IceRiverSubmit),
}

/// Duplicate-share key of ALEO: (job_id, counter, nonce), the counter and
/// nonce as the miner wrote them (the proxy does not read them, so `"01"`
/// and `"1"` are two shares; the pool judges); the nonce is empty in
/// AleoStratum3, which has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShareKey {
    pub job_id: String,
    pub counter: String,
    pub nonce: String,
}

/// Param `i`, which must be there and not `null`.
fn required<'a>(
    p: &'a [RawJson],
    i: usize,
    m: &'static str,
    name: &str,
) -> Result<&'a RawJson, ParamsError> {
    p.get(i)
        .filter(|v| !v.is_null())
        .ok_or_else(|| bad(m, format!("param {i} ({name}) is missing")))
}

fn job_id_at(p: &[RawJson], i: usize, m: &'static str) -> Result<String, ParamsError> {
    required(p, i, m, "job_id")?
        .as_str()
        .ok_or_else(|| bad(m, format!("param {i} (job_id) must be a string")))
}

impl Submit {
    /// Reads a submit from its params as written (see [`crate::raw::raw_params`]).
    /// Only what the proxy needs is checked: the required params are
    /// there and the job id is a string. Without a dialect it is guessed:
    /// four or more string params are IceRiver, anything else AleoStratum3
    /// (pass the dialect when it is known).
    pub fn from_raw(p: &[RawJson], dialect: Option<Dialect>) -> Result<Self, ParamsError> {
        const M: &str = "mining.submit";
        let dialect = dialect.unwrap_or_else(|| {
            if p.len() >= 4 && p[..4].iter().all(RawJson::is_string) {
                Dialect::IceRiver
            } else {
                Dialect::AleoStratum3
            }
        });
        let rest = |from: usize| p.get(from..).unwrap_or_default().to_vec();
        Ok(match dialect {
            Dialect::AleoStratum3 => Submit::AleoStratum3(Aleo3Submit {
                worker: required(p, 0, M, "worker")?.clone(),
                job_id: job_id_at(p, 1, M)?,
                counter: required(p, 2, M, "counter")?.clone(),
                extra: rest(3),
            }),
            Dialect::IceRiver => Submit::IceRiver(IceRiverSubmit {
                job_id: job_id_at(p, 0, M)?,
                counter: required(p, 1, M, "counter")?.clone(),
                proof: required(p, 2, M, "proof")?.clone(),
                nonce: required(p, 3, M, "nonce")?.clone(),
                extra: rest(4),
            }),
        })
    }

    /// [`Submit::from_raw`] from parsed params (their text as serde_json
    /// writes it: use `from_raw` where the exact text matters).
    pub fn from_params(p: &[Value], dialect: Option<Dialect>) -> Result<Self, ParamsError> {
        let raw: Vec<RawJson> = p.iter().map(RawJson::of).collect();
        Submit::from_raw(&raw, dialect)
    }

    /// The params in order, each as it was written (the job id as a string).
    pub fn to_params(&self) -> Vec<RawJson> {
        let mut out = match self {
            Submit::AleoStratum3(s) => vec![
                s.worker.clone(),
                RawJson::string(&s.job_id),
                s.counter.clone(),
            ],
            Submit::IceRiver(s) => vec![
                RawJson::string(&s.job_id),
                s.counter.clone(),
                s.proof.clone(),
                s.nonce.clone(),
            ],
        };
        out.extend_from_slice(match self {
            Submit::AleoStratum3(s) => &s.extra,
            Submit::IceRiver(s) => &s.extra,
        });
        out
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Submit::AleoStratum3(_) => Dialect::AleoStratum3,
            Submit::IceRiver(_) => Dialect::IceRiver,
        }
    }

    pub fn job_id(&self) -> &str {
        match self {
            Submit::AleoStratum3(s) => &s.job_id,
            Submit::IceRiver(s) => &s.job_id,
        }
    }

    /// Replaces the job id (a proxy that renamed jobs gives back the pool's).
    pub fn set_job_id(&mut self, id: impl Into<String>) {
        match self {
            Submit::AleoStratum3(s) => s.job_id = id.into(),
            Submit::IceRiver(s) => s.job_id = id.into(),
        }
    }

    pub fn share_key(&self) -> ShareKey {
        match self {
            Submit::AleoStratum3(s) => ShareKey {
                job_id: s.job_id.clone(),
                counter: s.counter.text().to_owned(),
                nonce: String::new(),
            },
            Submit::IceRiver(s) => ShareKey {
                job_id: s.job_id.clone(),
                counter: s.counter.text().to_owned(),
                nonce: s.nonce.text().to_owned(),
            },
        }
    }

    /// The request line, params as written, `jsonrpc` as the dialect wants.
    pub fn to_line(&self, id: &Value) -> Vec<u8> {
        raw::request_line(
            id,
            self.dialect().jsonrpc(),
            "mining.submit",
            &self.to_params(),
        )
    }
}

/// What a miner sends (and what the proxy sends a pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMethod {
    Subscribe(Subscribe),
    Authorize {
        user: String,
        password: Option<String>,
        extra: Vec<Value>,
    },
    Submit(Submit),
    Unknown {
        method: String,
        params: Value,
    },
}

impl ClientMethod {
    /// `dialect` decides how a submit is read (guessed when `None`). A
    /// submit's params are taken from the parsed request, so their text is
    /// serde_json's: use [`ClientMethod::from_line`] to relay them exactly.
    pub fn from_request(req: &Request, dialect: Option<Dialect>) -> Result<Self, ParamsError> {
        Self::read(req, None, dialect)
    }

    /// As [`ClientMethod::from_request`], with a submit's params exactly as
    /// written in `line` (the line `req` was parsed from).
    pub fn from_line(
        req: &Request,
        line: &[u8],
        dialect: Option<Dialect>,
    ) -> Result<Self, ParamsError> {
        Self::read(req, Some(line), dialect)
    }

    fn read(
        req: &Request,
        line: Option<&[u8]>,
        dialect: Option<Dialect>,
    ) -> Result<Self, ParamsError> {
        let p = req.params_list();
        Ok(match req.method.as_str() {
            "mining.subscribe" => ClientMethod::Subscribe(Subscribe::from_params(p)?),
            "mining.authorize" => {
                const M: &str = "mining.authorize";
                ClientMethod::Authorize {
                    user: string_at(p, 0, M, "worker")?,
                    password: opt_string_at(p, 1, M, "password")?,
                    extra: tail(p, 2),
                }
            }
            "mining.submit" => {
                let raw = match line.map(raw::raw_params) {
                    Some(Ok(raw)) => raw,
                    _ => p.iter().map(RawJson::of).collect(),
                };
                ClientMethod::Submit(Submit::from_raw(&raw, dialect)?)
            }
            other => ClientMethod::Unknown {
                method: other.to_owned(),
                params: req.params.clone(),
            },
        })
    }

    pub fn method(&self) -> &str {
        match self {
            ClientMethod::Subscribe(_) => "mining.subscribe",
            ClientMethod::Authorize { .. } => "mining.authorize",
            ClientMethod::Submit(_) => "mining.submit",
            ClientMethod::Unknown { method, .. } => method,
        }
    }

    pub fn params(&self) -> Value {
        match self {
            ClientMethod::Subscribe(s) => s.to_params(),
            ClientMethod::Authorize {
                user,
                password,
                extra,
            } => {
                let mut head = vec![Value::from(user.clone())];
                if password.is_some() || !extra.is_empty() {
                    head.push(opt_value(password));
                }
                with_tail(head, extra)
            }
            ClientMethod::Submit(s) => s.to_params().iter().map(RawJson::value).collect(),
            ClientMethod::Unknown { params, .. } => params.clone(),
        }
    }

    /// The request for a peer speaking `dialect` (which decides `jsonrpc`);
    /// a submit's params parsed (see [`Submit::to_line`] for the exact text).
    pub fn to_request(&self, id: impl Into<Value>, dialect: Dialect) -> Request {
        request(dialect, id, self.method(), self.params())
    }
}
