//! The miner side of ALEO stratum, re-exported by [`crate::aleo`]: subscribe,
//! authorize and submit in both dialects (what a miner sends the proxy and the
//! proxy sends a pool) and the (job_id, counter, nonce) duplicate key.

use serde_json::Value;

use super::{
    ALEO_STRATUM_3, Dialect, bad, canonical_hex, hex_at, opt_string_at, opt_value, request,
    string_at, tail, with_tail,
};
use crate::jsonrpc::Request;
use crate::v1::ParamsError;

/// `mining.subscribe`: AleoStratum3 `[agent, protocol, session|null, ..]`,
/// V1 shape `[agent, session?, ..]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    pub agent: Option<String>,
    /// `Some("AleoStratum/3.0.0")` in the AleoStratum dialect.
    pub protocol: Option<String>,
    /// A session to resume.
    pub session: Option<String>,
    pub extra: Vec<Value>,
}

impl Subscribe {
    /// A fresh subscribe in `dialect`.
    pub fn new(dialect: Dialect, agent: impl Into<String>) -> Self {
        Subscribe {
            agent: Some(agent.into()),
            protocol: (dialect == Dialect::AleoStratum3).then(|| ALEO_STRATUM_3.to_owned()),
            ..Subscribe::default()
        }
    }

    pub fn dialect(&self) -> Dialect {
        match &self.protocol {
            Some(p) if p.starts_with("AleoStratum/") => Dialect::AleoStratum3,
            _ => Dialect::IceRiver,
        }
    }

    pub fn from_params(p: &[Value]) -> Result<Self, ParamsError> {
        const M: &str = "mining.subscribe";
        let agent = opt_string_at(p, 0, M, "agent")?;
        if Dialect::from_subscribe_params(p) == Dialect::AleoStratum3 {
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

/// An AleoStratum3 counter as sent: a JSON number or a decimal string,
/// written back in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    Number(u64),
    Text(u64),
}

impl Counter {
    pub fn value(self) -> u64 {
        match self {
            Counter::Number(v) | Counter::Text(v) => v,
        }
    }

    fn to_value(self) -> Value {
        match self {
            Counter::Number(v) => v.into(),
            Counter::Text(v) => v.to_string().into(),
        }
    }
}

/// AleoStratum3 `mining.submit`: `[worker, job_id, counter, ..]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aleo3Submit {
    pub worker: String,
    pub job_id: String,
    pub counter: Counter,
    pub extra: Vec<Value>,
}

/// IceRiver `mining.submit`: `[job_id, counter, proof, nonce, ..]`, kept
/// verbatim (no worker name) so it is forwarded as-is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceRiverSubmit {
    pub job_id: String,
    /// Hex.
    pub counter: String,
    pub proof: String,
    /// Hex.
    pub nonce: String,
    pub extra: Vec<Value>,
}

/// A share in either dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submit {
    AleoStratum3(Aleo3Submit),
    IceRiver(IceRiverSubmit),
}

/// Duplicate-share key of ALEO: (job_id, counter, nonce), the counter and
/// nonce as canonical hex (lowercase, no leading zeros); the nonce is empty
/// in AleoStratum3, which has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShareKey {
    pub job_id: String,
    pub counter: String,
    pub nonce: String,
}

impl Submit {
    /// Reads a submit. Without a dialect it is guessed: four or more string
    /// params are IceRiver, anything else AleoStratum3 (pass the dialect
    /// when it is known).
    pub fn from_params(p: &[Value], dialect: Option<Dialect>) -> Result<Self, ParamsError> {
        const M: &str = "mining.submit";
        let dialect = dialect.unwrap_or_else(|| {
            if p.len() >= 4 && p[..4].iter().all(Value::is_string) {
                Dialect::IceRiver
            } else {
                Dialect::AleoStratum3
            }
        });
        match dialect {
            Dialect::AleoStratum3 => {
                let counter = match p.get(2) {
                    Some(Value::Number(n)) => n.as_u64().map(Counter::Number),
                    Some(Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => {
                        s.parse().ok().map(Counter::Text)
                    }
                    _ => None,
                }
                .ok_or_else(|| {
                    bad(
                        M,
                        "param 2 (counter) must be a u64 (number or decimal string)",
                    )
                })?;
                Ok(Submit::AleoStratum3(Aleo3Submit {
                    worker: string_at(p, 0, M, "worker")?,
                    job_id: string_at(p, 1, M, "job_id")?,
                    counter,
                    extra: tail(p, 3),
                }))
            }
            Dialect::IceRiver => {
                let proof = string_at(p, 2, M, "proof")?;
                if proof.is_empty() {
                    return Err(bad(M, "param 2 (proof) is empty"));
                }
                Ok(Submit::IceRiver(IceRiverSubmit {
                    job_id: string_at(p, 0, M, "job_id")?,
                    counter: hex_at(p, 1, M, "counter")?,
                    proof,
                    nonce: hex_at(p, 3, M, "nonce")?,
                    extra: tail(p, 4),
                }))
            }
        }
    }

    pub fn to_params(&self) -> Value {
        match self {
            Submit::AleoStratum3(s) => with_tail(
                vec![
                    s.worker.clone().into(),
                    s.job_id.clone().into(),
                    s.counter.to_value(),
                ],
                &s.extra,
            ),
            Submit::IceRiver(s) => with_tail(
                vec![
                    s.job_id.clone().into(),
                    s.counter.clone().into(),
                    s.proof.clone().into(),
                    s.nonce.clone().into(),
                ],
                &s.extra,
            ),
        }
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
                counter: format!("{:x}", s.counter.value()),
                nonce: String::new(),
            },
            Submit::IceRiver(s) => ShareKey {
                job_id: s.job_id.clone(),
                counter: canonical_hex(&s.counter),
                nonce: canonical_hex(&s.nonce),
            },
        }
    }

    pub fn to_request(&self, id: impl Into<Value>) -> Request {
        request(self.dialect(), id, "mining.submit", self.to_params())
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
    /// `dialect` decides how a submit is read (guessed when `None`).
    pub fn from_request(req: &Request, dialect: Option<Dialect>) -> Result<Self, ParamsError> {
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
            "mining.submit" => ClientMethod::Submit(Submit::from_params(p, dialect)?),
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
            ClientMethod::Submit(s) => s.to_params(),
            ClientMethod::Unknown { params, .. } => params.clone(),
        }
    }

    /// The request for a peer speaking `dialect` (which decides `jsonrpc`).
    pub fn to_request(&self, id: impl Into<Value>, dialect: Dialect) -> Request {
        request(dialect, id, self.method(), self.params())
    }
}
