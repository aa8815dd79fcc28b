//! Answers from the pool on their way back to miners: where each goes
//! ([`ReplyTo`]: the session's inbox and the miner's own id), the requests
//! still waiting for one and their deadlines, and the share event each
//! answer completes. An answer no session will read still completes its
//! event, recorded into the upstream's share-event sink.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_stratum::{Response, codes};
use tokio_util::sync::CancellationToken;

use super::PoolInfo;
use crate::events::EventSink;
use crate::inbox::TrySendError;
use crate::outcome::{self, Reason, Verdict};

/// Where an upstream answer goes: the miner's inbox, with the miner's own id.
#[derive(Debug, Clone)]
pub struct ReplyTo {
    pub inbox: Inbox,
    pub miner_id: Value,
    /// The share's event, completed with the pool's verdict on the way back.
    pub event: Option<Box<crate::events::ShareEvent>>,
    /// Cancelled when the miner's inbox overflows: the miner cannot keep up.
    pub kill: CancellationToken,
}

/// A session's inbox of pool answers (boxed: an idle miner's queue stays small).
pub type Inbox = crate::inbox::InboxSender<Box<PoolAnswer>>;

/// The pool's answer to one miner request.
#[derive(Debug)]
pub struct PoolAnswer {
    pub miner_id: Value,
    pub event: Option<Box<crate::events::ShareEvent>>,
    pub response: Response,
    /// The answer read once, in the pool's dialect (for a share: the
    /// pool's verdict).
    pub verdict: Verdict,
    pub latency: Duration,
    pub is_submit: bool,
}

impl PoolAnswer {
    /// The share's event with the pool's verdict, for an answer no session
    /// handles.
    pub fn complete_event(self) -> Option<crate::events::ShareEvent> {
        let mut ev = *self.event?;
        outcome::complete(&mut ev, &self.verdict, self.latency);
        Some(ev)
    }
}

/// A request sent to the pool, waiting for its answer.
pub(super) struct Pending {
    pub reply: Option<ReplyTo>,
    pub is_submit: bool,
    pub sent_at: Instant,
    pub deadline: Instant,
}

pub(super) fn expire(
    pending: &mut crate::fasthash::FastMap<u64, Pending>,
    now: Instant,
    pool: &PoolInfo,
    orphans: &EventSink,
) {
    let expired: Vec<u64> = pending
        .iter()
        .filter(|(_, p)| p.deadline <= now)
        .map(|(id, _)| *id)
        .collect();
    for id in expired {
        if let Some(p) = pending.remove(&id) {
            let verdict = Verdict::Rejected(Reason::Timeout);
            if p.is_submit {
                pool.stats.pool_verdict(false, verdict.reason());
            }
            if let Some(reply) = p.reply {
                let message = "Pool did not answer in time";
                let r = Response::error(reply.miner_id.clone(), codes::OTHER, message);
                deliver(orphans, reply, r, verdict, p.sent_at.elapsed(), p.is_submit);
            }
        }
    }
}

pub(super) fn not_connected(orphans: &EventSink, reply: ReplyTo, latency: Duration) {
    let message = "Not connected to the pool";
    let r = Response::error(reply.miner_id.clone(), codes::OTHER, message);
    let verdict = Verdict::Rejected(Reason::NotConnected);
    deliver(orphans, reply, r, verdict, latency, true);
}

/// Hands an answer to the miner's inbox; a full inbox means the miner cannot
/// keep up, so it is disconnected rather than allowed to stall the pool reader.
/// An answer no session will read (the miner left, or is being cut off)
/// still completes its share's event, recorded into `orphans`: a share the
/// pool judged is never missing from the history.
pub(super) fn deliver(
    orphans: &EventSink,
    reply: ReplyTo,
    mut response: Response,
    verdict: Verdict,
    latency: Duration,
    is_submit: bool,
) {
    response.id = reply.miner_id.clone();
    let answer = PoolAnswer {
        miner_id: reply.miner_id,
        event: reply.event,
        response,
        verdict,
        latency,
        is_submit,
    };
    let unread = match reply.inbox.try_send(Box::new(answer)) {
        Ok(()) => return,
        Err(TrySendError::Full(a)) => {
            reply.kill.cancel();
            a
        }
        Err(TrySendError::Closed(a)) => a,
    };
    if let Some(ev) = unread.complete_event() {
        orphans.record(ev);
    }
}
