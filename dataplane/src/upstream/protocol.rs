//! What a pool dialect must provide to the one generic upstream task
//! ([`PoolProtocol`]), and what the task lends it: the connection's shared
//! side ([`Link`]: pool, parameters, published state, relay), the socket
//! with its request ids ([`PoolIo`]), and the ways a connection ends
//! ([`End`], [`Lost`] saying whose doing a loss was).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchyard_stratum::{RawJson, Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, mpsc, watch};

use super::{PoolInfo, PoolShare, UpstreamCmd, UpstreamParams, UpstreamState};
use crate::config::PoolAddr;
use crate::net::LineReader;
use crate::outcome::Verdict;

/// One pool dialect on the generic upstream task. A value lives for one
/// connection: created before the handshake, dropped when it ends.
pub(crate) trait PoolProtocol: Sized + Send + 'static {
    /// How often a keepalive request goes upstream, if the dialect has one.
    const KEEPALIVE: Option<Duration> = None;

    fn new(link: &Link) -> Self;

    /// From a fresh socket to ready (authorized, with a job published).
    /// Keeps its own deadlines.
    fn handshake(
        &mut self,
        link: &Link,
        io: &mut PoolIo,
    ) -> impl Future<Output = Result<(), Lost>> + Send;

    /// A pool notification or request; `Some` ends the connection.
    fn on_request(
        &mut self,
        link: &Link,
        io: &mut PoolIo,
        req: Request,
    ) -> impl Future<Output = Option<End>> + Send;

    /// A share as this pool takes it: the method and its params.
    fn submit(&self, share: PoolShare) -> Result<(&'static str, Params), Lost>;

    /// The pool's answer to a share, read once.
    fn verdict(r: &Response) -> Verdict {
        Verdict::of_response(r)
    }

    /// The keepalive request (only called when [`Self::KEEPALIVE`] is set).
    fn keepalive(&self, _id: u64) -> Option<Request> {
        None
    }
}

/// A request's params: parsed, (an ALEO share) each as the miner wrote it,
/// or (a SHA-256 share) already written as JSON text.
pub enum Params {
    Parsed(Value),
    Verbatim(Vec<RawJson>),
    Json(Vec<u8>),
}

/// The shared side of an upstream connection, lent to its dialect.
pub struct Link {
    pub id: u64,
    pub pool: Arc<PoolInfo>,
    pub params: UpstreamParams,
    pub cmd_tx: mpsc::Sender<UpstreamCmd>,
    pub state_tx: watch::Sender<Arc<UpstreamState>>,
    pub relay_tx: broadcast::Sender<bytes::Bytes>,
}

impl Link {
    /// Changes the state sessions read; a new job (of any dialect) is
    /// counted for the pool.
    pub fn publish(&self, f: impl FnOnce(&mut UpstreamState)) {
        let mut new_job = false;
        self.state_tx.send_modify(|s| {
            let s = Arc::make_mut(s);
            let before = s.job_ids();
            f(s);
            let after = s.job_ids();
            new_job = after != before && after != (0, 0, 0);
        });
        if new_job {
            self.pool.stats.job();
        }
    }

    /// A pool notification the proxy does not understand: every attached
    /// miner gets it unchanged; none is merged or skipped.
    pub fn relay(&self, req: &Request) {
        let _ = self.relay_tx.send(bytes::Bytes::from(req.to_line()));
    }
}

/// The two halves of a pool connection, plain TCP or TLS.
pub type PoolRead = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
pub type PoolWrite = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// A pool socket: lines in, bytes out, and the ids of requests we send.
pub struct PoolIo {
    pub reader: LineReader<PoolRead>,
    pub writer: PoolWrite,
    pub next_id: u64,
    /// Bytes written, for the traffic metrics.
    pub tx: Arc<std::sync::atomic::AtomicU64>,
    /// `host:port` of the pool this socket reaches (for messages).
    pub peer: String,
    /// Whether requests carry `"jsonrpc":"2.0"` (RandomX, AleoStratum3).
    pub jsonrpc: bool,
}

impl PoolIo {
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), Lost> {
        self.tx
            .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.writer.write_all(bytes).await.map_err(Lost::write)
    }

    /// The next line, or why there is none.
    pub async fn read_line(&mut self, during: &str) -> Result<bytes::BytesMut, Lost> {
        match self.reader.next_line().await {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err(Lost::Pool(format!(
                "pool closed the connection during the {during}"
            ))),
            Err(e) => Err(Lost::Network(format!("read: {e}"))),
        }
    }

    /// Appends a line to the pool in the connection's JSON-RPC style to `out`.
    pub fn write_request(&self, out: &mut Vec<u8>, id: u64, method: &str, params: Params) {
        match params {
            Params::Parsed(p) => {
                let mut req = Request::new(id, method, p);
                req.jsonrpc = self.jsonrpc;
                req.write_line(out);
            }
            Params::Verbatim(p) => out.extend(switchyard_stratum::raw::request_line(
                &id.into(),
                self.jsonrpc,
                method,
                &p,
            )),
            Params::Json(p) => switchyard_stratum::raw::write_request(
                out,
                &id.into(),
                self.jsonrpc,
                method,
                |out| out.extend_from_slice(&p),
            ),
        }
    }
}

/// Why a pool connection was lost or could not be made, and whose doing it
/// was. Shown to operators as the message alone, as before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// The network: connect refused or timed out, reset, TLS failure.
    Network(String),
    /// The pool: it closed, refused the handshake, sent something unusable
    /// or went silent.
    Pool(String),
    /// A dedicated connection's miner left before the pool took it.
    Miner(String),
    /// Our own mistake (a share of another dialect reached this pool).
    Internal(String),
}

impl Lost {
    pub fn write(e: std::io::Error) -> Lost {
        Lost::Network(format!("write: {e}"))
    }

    /// A failed connect attempt's `result` label: timeout, tls_error and
    /// refused (any other network error) from the network; auth_rejected
    /// when the pool refused the credentials, else handshake_error.
    pub fn connect_result(&self) -> &'static str {
        match self {
            Lost::Network(m) if m.contains("timed out") => "timeout",
            Lost::Network(m) if m.contains("TLS") || m.contains("certificate") => "tls_error",
            Lost::Network(_) => "refused",
            Lost::Pool(m) if m.contains("authoriz") || m.contains("login") => "auth_rejected",
            Lost::Pool(m) if m.contains("timed out") => "timeout",
            _ => "handshake_error",
        }
    }

    /// Whose doing it was, for logs.
    pub fn side(&self) -> &'static str {
        match self {
            Lost::Network(_) => "network",
            Lost::Pool(_) => "pool",
            Lost::Miner(_) => "miner",
            Lost::Internal(_) => "internal",
        }
    }
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lost::Network(m) | Lost::Pool(m) | Lost::Miner(m) | Lost::Internal(m) => f.write_str(m),
        }
    }
}

/// How a served connection ended.
pub enum End {
    Shutdown,
    Lost(Lost),
    Redirect { addr: PoolAddr, wait: Duration },
}

impl End {
    /// A connection ending during its handshake is a failed attempt.
    pub fn in_handshake(self) -> Lost {
        match self {
            End::Lost(l) => l,
            End::Redirect { .. } => Lost::Pool("pool redirected during the handshake".into()),
            End::Shutdown => Lost::Internal("shut down during the handshake".into()),
        }
    }
}
