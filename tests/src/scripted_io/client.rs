//! The client half of the shared plumbing: a connected line socket with an
//! id counter, queues of unclaimed answers and server requests, and reads
//! with a deadline. The miners apply server requests to their own state.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use switchyard_stratum::{Message, Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::lines::{DEFAULT_TIMEOUT, LineReader, show, write_line};
use crate::tls::{ReadHalf, WriteHalf};

/// What one read produced.
pub(crate) enum Read {
    /// A server request (notification): apply it, then `keep` it.
    Request(Request),
    /// An answer (queued) or a line that is not stratum (recorded).
    Other,
    /// The peer closed the connection.
    Closed,
}

pub(crate) struct LineClient {
    reader: LineReader<ReadHalf>,
    writer: WriteHalf,
    pub local_addr: SocketAddr,
    pub timeout: Duration,
    /// Write `"jsonrpc":"2.0"` in requests.
    pub jsonrpc: bool,
    next_id: u64,
    closed: bool,
    /// Lines that were not stratum.
    pub errors: Vec<String>,
    /// Every server request received, in order.
    pub notifications: Vec<Request>,
    unclaimed_notifications: VecDeque<Request>,
    unclaimed_responses: VecDeque<Response>,
}

impl LineClient {
    /// Plain TCP, or TLS through `tls`.
    pub async fn connect_with(
        addr: SocketAddr,
        jsonrpc: bool,
        tls: Option<&TlsConnector>,
    ) -> anyhow::Result<Self> {
        let (reader, writer, local_addr) = crate::tls::connect(addr, tls).await?;
        Ok(LineClient {
            reader: LineReader::new(reader),
            writer,
            local_addr,
            timeout: DEFAULT_TIMEOUT,
            jsonrpc,
            next_id: 1,
            closed: false,
            errors: Vec::new(),
            notifications: Vec::new(),
            unclaimed_notifications: VecDeque::new(),
            unclaimed_responses: VecDeque::new(),
        })
    }

    pub fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    pub fn next_id(&mut self) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        id
    }

    pub async fn send_raw(&mut self, line: &[u8]) -> anyhow::Result<()> {
        write_line(&mut self.writer, line)
            .await
            .context("miner: writing")
    }

    /// A request with this client's `jsonrpc` choice.
    pub fn make_request(&self, id: Value, method: &str, params: Value) -> Request {
        let mut req = Request::new(id, method, params);
        req.jsonrpc = self.jsonrpc;
        req
    }

    pub async fn send_request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id();
        let req = self.make_request(id.clone(), method, params);
        self.send_raw(&req.to_line()).await?;
        Ok(id)
    }

    /// The next raw line, or an error naming `what` on timeout or close.
    pub async fn read_line(&mut self, deadline: Instant, what: &str) -> anyhow::Result<Vec<u8>> {
        if self.closed {
            bail!(
                "miner {}: connection closed, cannot wait for {what}",
                self.local_addr
            );
        }
        match tokio::time::timeout_at(deadline, self.reader.next_line()).await {
            Err(_) => Err(anyhow!(
                "miner {}: timed out waiting for {what}",
                self.local_addr
            )),
            Ok(Ok(Some(line))) => Ok(line),
            Ok(Ok(None)) => {
                self.closed = true;
                bail!(
                    "miner {}: connection closed while waiting for {what}",
                    self.local_addr
                )
            }
            Ok(Err(e)) => {
                self.closed = true;
                bail!(
                    "miner {}: read error while waiting for {what}: {e}",
                    self.local_addr
                )
            }
        }
    }

    /// Reads one line and files it; only a timeout is an error.
    pub async fn read(&mut self, deadline: Instant, what: &str) -> anyhow::Result<Read> {
        if self.closed {
            return Ok(Read::Closed);
        }
        let line = match tokio::time::timeout_at(deadline, self.reader.next_line()).await {
            Err(_) => bail!("miner {}: timed out waiting for {what}", self.local_addr),
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None) | Err(_)) => {
                self.closed = true;
                return Ok(Read::Closed);
            }
        };
        Ok(self.file(&line))
    }

    /// Files a line read by `read_line`: answers are queued.
    pub fn file(&mut self, line: &[u8]) -> Read {
        match Message::parse(line) {
            Ok(Message::Response(r)) => {
                self.unclaimed_responses.push_back(r);
                Read::Other
            }
            Ok(Message::Request(req)) => {
                self.notifications.push(req.clone());
                Read::Request(req)
            }
            Err(e) => {
                self.errors
                    .push(format!("not stratum ({e}): {}", show(line)));
                Read::Other
            }
        }
    }

    /// Queues an applied server request for `take_notification`.
    pub fn keep(&mut self, req: Request) {
        self.unclaimed_notifications.push_back(req);
    }

    pub fn take_response(&mut self, id: &Value) -> Option<Response> {
        let i = self.unclaimed_responses.iter().position(|r| r.id == *id)?;
        self.unclaimed_responses.remove(i)
    }

    pub fn take_notification(&mut self, method: &str) -> Option<Request> {
        let i = self
            .unclaimed_notifications
            .iter()
            .position(|r| r.method == method)?;
        self.unclaimed_notifications.remove(i)
    }

    /// Ids of queued answers, for error messages.
    pub fn unclaimed_ids(&self) -> String {
        let ids: Vec<String> = self
            .unclaimed_responses
            .iter()
            .map(|r| r.id.to_string())
            .collect();
        format!("unclaimed answers have ids [{}]", ids.join(", "))
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        self.writer.shutdown().await.context("miner: shutdown")
    }
}
