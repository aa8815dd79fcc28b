//! Control-plane mode: the link to the control plane, the plan runner that
//! moves the router by the plans, connect results reported for the breakers,
//! and a status task that tells the control plane where the hashrate goes
//! and how many miners are connected.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::control::{self, ControlLink};
use crate::router::{ConnectObserver, RouterHandle};
use crate::stats::ListenerStats;
use crate::{config::ControlPlaneLink, planrun};

/// Connects to the control plane (or starts from the persisted plan).
pub async fn connect(
    link: &ControlPlaneLink,
    shutdown: CancellationToken,
) -> anyhow::Result<Arc<ControlLink>> {
    Ok(Arc::new(
        control::start(link, env!("CARGO_PKG_VERSION"), shutdown).await?,
    ))
}

/// Reports each upstream connect result of `algorithm`.
pub fn observer(link: &Arc<ControlLink>, algorithm: &'static str) -> ConnectObserver {
    let link = link.clone();
    Arc::new(move |pool: &str, ok: bool, error: &str| {
        link.report_connect(algorithm, pool, ok, error)
    })
}

/// Starts the plan runner and the status task of one listener.
pub fn run(
    link: &Arc<ControlLink>,
    algorithm: &'static str,
    router: RouterHandle,
    stats: Arc<ListenerStats>,
    interval: Duration,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    let ack_link = link.clone();
    let ack: planrun::Ack = Arc::new(move |version, error| ack_link.ack(version, error));
    tracker.spawn(planrun::run(
        link.plans(),
        router.clone(),
        algorithm,
        ack,
        shutdown.clone(),
    ));
    let link = link.clone();
    tracker.spawn(async move {
        let mut route = router.route.clone();
        loop {
            let active = route
                .borrow()
                .pool
                .as_ref()
                .map(|p| p.info.name.to_string());
            link.set_status(
                active
                    .into_iter()
                    .map(|p| (algorithm.to_string(), p))
                    .collect(),
                stats.active.load(Ordering::Relaxed) as u32,
                stats.total.load(Ordering::Relaxed),
                stats.disconnections.load(Ordering::Relaxed),
            );
            tokio::select! {
                _ = route.changed() => {}
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    });
}
