//! Handing a share the proxy accepted to the pool, the same for every
//! dialect: the share's event is marked forwarded and travels with the
//! request, so the pool's answer (or its absence) completes it.

use tokio::sync::mpsc;

use crate::events::{EventSink, ShareEvent};
use crate::outcome::{self, Verdict};
use crate::upstream::{PoolInfo, PoolShare, ReplyTo, UpstreamCmd};

/// Sends `share` to the upstream its job came from (the old pool's during
/// the grace period after a switch); the answer comes back through
/// `reply`'s inbox. False when that upstream is gone: the share is then
/// recorded as not forwarded, and the caller refuses it in its dialect.
pub(crate) async fn forward(
    events: &EventSink,
    upstream: &mpsc::Sender<UpstreamCmd>,
    pool: &PoolInfo,
    share: PoolShare,
    mut reply: ReplyTo,
    mut ev: ShareEvent,
) -> bool {
    outcome::local(&mut ev, &Verdict::Accepted);
    ev.forwarded = true;
    reply.event = Some(Box::new(ev.clone()));
    pool.stats.forwarded();
    if upstream
        .send(UpstreamCmd::Submit { share, reply })
        .await
        .is_ok()
    {
        return true;
    }
    outcome::record_not_forwarded(events, pool, ev);
    false
}
