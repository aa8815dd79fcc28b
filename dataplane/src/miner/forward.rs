//! Handing a share the proxy accepted to the pool, the same for every
//! dialect: the share's event is marked forwarded and travels with the
//! request, so the pool's answer (or its absence) completes it. Plain
//! functions and a small future ([`Sending`]), so that an idle session's
//! future (its task's allocation, held for the connection's life) does not
//! grow by the share it forwarded last.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::Value;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::{SendError, TrySendError};

use crate::events::{EventSink, ShareEvent};
use crate::outcome::{self, Verdict};
use crate::upstream::{PoolInfo, PoolShare, ReplyTo, UpstreamCmd};

/// The request that carries `share` and its event (marked accepted by the
/// proxy and forwarded) to the upstream its job came from; the answer
/// comes back through `reply`'s inbox.
pub(crate) fn submission(
    pool: &PoolInfo,
    share: PoolShare,
    mut reply: ReplyTo,
    mut ev: ShareEvent,
) -> UpstreamCmd {
    outcome::local(&mut ev, &Verdict::Accepted);
    ev.forwarded = true;
    reply.event = Some(Box::new(ev));
    pool.stats.forwarded();
    UpstreamCmd::Submit { share, reply }
}

/// Queues `cmd` for the upstream. Await the result: with room in the queue
/// (nearly always) it is ready at once; a full queue (a slow pool link) is
/// waited for in a boxed future, so a session's own future only ever holds
/// a pointer for it, not the command.
fn send(tx: &mpsc::Sender<UpstreamCmd>, cmd: UpstreamCmd) -> Sending {
    match tx.try_send(cmd) {
        Ok(()) => Sending::Queued,
        Err(TrySendError::Closed(cmd)) => Sending::Unsent(Box::new(SendError(cmd))),
        Err(TrySendError::Full(cmd)) => {
            let tx = tx.clone();
            Sending::Waiting(Box::pin(async move { tx.send(cmd).await }))
        }
    }
}

/// A command on its way to an upstream (see [`send`]).
enum Sending {
    Queued,
    Unsent(Box<SendError<UpstreamCmd>>),
    Waiting(Pin<Box<dyn Future<Output = Result<(), SendError<UpstreamCmd>>> + Send>>),
    Done,
}

impl Future for Sending {
    type Output = Result<(), SendError<UpstreamCmd>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Sending::Waiting(wait) = this {
            let r = std::task::ready!(wait.as_mut().poll(cx));
            *this = Sending::Done;
            return Poll::Ready(r);
        }
        match std::mem::replace(this, Sending::Done) {
            Sending::Queued => Poll::Ready(Ok(())),
            Sending::Unsent(e) => Poll::Ready(Err(*e)),
            Sending::Waiting(_) | Sending::Done => panic!("`Sending` polled after it completed"),
        }
    }
}

/// What a miner's line leaves to wait for once the session has handled it
/// (see `MinerProtocol::on_line`). Handling a line never waits itself, so
/// that no session's future keeps room for a request it handled once.
pub enum Then<'a> {
    /// Nothing: the line was answered, or its answer queued.
    Done,
    /// A request on its way to an upstream; if it never gets there, the
    /// session refuses it (`MinerProtocol::on_unsent`).
    Forwarded(Forwarded),
    /// A rare step that waits (a handshake attaching to a pool), boxed.
    Later(Pin<Box<dyn Future<Output = ()> + Send + 'a>>),
}

/// A request handed to an upstream ([`send`]) and the pool it is for.
pub struct Forwarded {
    sending: Sending,
    pool: Arc<PoolInfo>,
}

impl Forwarded {
    pub(crate) fn new(
        tx: &mpsc::Sender<UpstreamCmd>,
        cmd: UpstreamCmd,
        pool: &Arc<PoolInfo>,
    ) -> Self {
        Forwarded {
            sending: send(tx, cmd),
            pool: pool.clone(),
        }
    }

    /// Waits until the upstream has the request. If its upstream is gone,
    /// a share's event is recorded as not forwarded and the miner's request
    /// id comes back, for the session to refuse it in its dialect.
    pub(crate) async fn finish(self, events: &EventSink) -> Option<Value> {
        let SendError(cmd) = self.sending.await.err()?;
        match cmd {
            UpstreamCmd::Submit { reply, .. } => {
                if let Some(ev) = reply.event {
                    outcome::record_not_forwarded(events, &self.pool, *ev);
                }
                Some(reply.miner_id)
            }
            UpstreamCmd::Relay { reply, .. } => Some(reply.miner_id),
            UpstreamCmd::Shutdown { .. } => None,
        }
    }
}
