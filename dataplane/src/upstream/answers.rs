//! Answers from the pool on their way back to miners: where each goes
//! ([`ReplyTo`]: the session's inbox and the miner's own id), the requests
//! still waiting for one and their deadlines, and the share event each
//! answer completes. An answer no session will read still completes its
//! event, recorded into the upstream's share-event sink.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_stratum::Response;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::PoolInfo;
use crate::events::EventSink;

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

/// A session's inbox of pool answers (boxed: an idle miner's channel stays small).
pub type Inbox = mpsc::Sender<Box<PoolAnswer>>;

/// The pool's answer to one miner request.
#[derive(Debug)]
pub struct PoolAnswer {
    pub miner_id: Value,
    pub event: Option<Box<crate::events::ShareEvent>>,
    pub response: Response,
    pub latency: Duration,
    pub is_submit: bool,
}

impl PoolAnswer {
    /// The share's event with the pool's verdict, read the way every dialect
    /// can be read (an error, or a `false` result with its `reject-reason`),
    /// for an answer no session handles.
    pub fn complete_event(self) -> Option<crate::events::ShareEvent> {
        let mut ev = *self.event?;
        complete(&mut ev, &self.response, self.latency);
        Some(ev)
    }
}

/// Fills in a share event from the pool's answer: its latency, verdict and
/// normalised reason ("invalid share" when the pool gave none).
pub fn complete(ev: &mut crate::events::ShareEvent, r: &Response, latency: Duration) {
    ev.pool_latency_us = latency.as_micros().min(u128::from(u64::MAX)) as u64;
    if r.is_ok() {
        ev.pool_verdict = "accepted".into();
    } else {
        ev.pool_verdict = "rejected".into();
        ev.reason = match r.error_parts() {
            Some((code, text)) => crate::reason::normalise(code, &text),
            None => String::new(),
        };
        if ev.reason.is_empty() {
            ev.reason = "invalid share".into();
        }
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
    pending: &mut HashMap<u64, Pending>,
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
            if p.is_submit {
                pool.stats.pool_verdict(false, "timeout");
            }
            if let Some(reply) = p.reply {
                let r = Response::error(reply.miner_id.clone(), 20, "Pool did not answer in time");
                deliver(orphans, reply, r, p.sent_at.elapsed(), p.is_submit);
            }
        }
    }
}

pub(super) fn not_connected(orphans: &EventSink, reply: ReplyTo, latency: Duration) {
    let r = Response::error(reply.miner_id.clone(), 20, "Not connected to the pool");
    deliver(orphans, reply, r, latency, true);
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
    latency: Duration,
    is_submit: bool,
) {
    response.id = reply.miner_id.clone();
    let answer = PoolAnswer {
        miner_id: reply.miner_id,
        event: reply.event,
        response,
        latency,
        is_submit,
    };
    let unread = match reply.inbox.try_send(Box::new(answer)) {
        Ok(()) => return,
        Err(mpsc::error::TrySendError::Full(a)) => {
            reply.kill.cancel();
            a
        }
        Err(mpsc::error::TrySendError::Closed(a)) => a,
    };
    if let Some(ev) = unread.complete_event() {
        orphans.record(ev);
    }
}
