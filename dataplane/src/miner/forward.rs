//! Handing a share the proxy accepted to the pool, the same for every
//! dialect: the share's event is marked forwarded and travels with the
//! request, so the pool's answer (or its absence) completes it. Two plain
//! functions around the caller's own `send().await`, so that an idle
//! session's future (its task's allocation) does not grow by a nested one.

use tokio::sync::mpsc::error::SendError;

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

/// A submission whose upstream is gone: its share is recorded as not
/// forwarded (the caller refuses it to the miner in its dialect).
pub(crate) fn unsent(events: &EventSink, pool: &PoolInfo, SendError(cmd): SendError<UpstreamCmd>) {
    if let UpstreamCmd::Submit { reply, .. } = cmd
        && let Some(ev) = reply.event
    {
        outcome::record_not_forwarded(events, pool, *ev);
    }
}
