//! Control-plane mode: the link to the control plane, the plans the route
//! tasks follow, connect results reported for the breakers,
//! and a status task that tells the control plane where the hashrate goes
//! and how many miners are connected.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use switchyard_proto::v1 as pb;

use crate::config::{Algorithm, Config, ControlPlaneLink, site};
use crate::control::{self, ControlLink};
use crate::route::{ConnectObserver, Plans, RouterHandle};
use crate::stats::ListenerStats;

/// Connects to the control plane (or starts from the persisted plan).
pub async fn connect(
    link: &ControlPlaneLink,
    shutdown: CancellationToken,
) -> anyhow::Result<Arc<ControlLink>> {
    Ok(Arc::new(
        control::start(link, env!("CARGO_PKG_VERSION"), shutdown).await?,
    ))
}

/// How long a data plane with no plan on disk waits for its first plan (and
/// the site's settings in it) before it starts on its own config.
pub const FIRST_PLAN_WAIT: Duration = Duration::from_secs(5);

/// The config to run with: the site's settings from the plan held (the one
/// on disk, or the first from the control plane within [`FIRST_PLAN_WAIT`])
/// over `config`, listeners excepted; `config` as it is without a plan or
/// when the plan's settings do not apply (logged).
pub async fn site_settings(link: &ControlLink, config: Config) -> Config {
    let mut plans = link.plans();
    let got = tokio::time::timeout(FIRST_PLAN_WAIT, plans.wait_for(|p| p.is_some())).await;
    let Some(plan) = got.ok().and_then(|r| r.ok()).and_then(|p| p.clone()) else {
        tracing::warn!(
            wait = ?FIRST_PLAN_WAIT,
            "no routing plan yet (none on disk, control plane not answering): starting with this data plane's own settings"
        );
        return config;
    };
    if let Some(why) = switchyard_proto::contract::plan_refusal(&plan) {
        tracing::error!(
            version = plan.version,
            "{why}; starting with this data plane's own settings"
        );
        return config;
    }
    let Some(settings) = &plan.settings else {
        return config;
    };
    match site::apply_site_settings(&config, settings) {
        Ok(c) => {
            tracing::info!(version = plan.version, site = %plan.site, "site settings from the routing plan applied");
            c
        }
        Err(e) => {
            tracing::error!(version = plan.version, error = %e, "the site settings of the routing plan do not apply; using this data plane's own settings");
            config
        }
    }
}

/// Logs when a new plan changes the site's settings: those that are not
/// live (limits, validation, difficulty) apply at the next restart.
pub fn watch_settings(link: &Arc<ControlLink>, shutdown: CancellationToken, tracker: &TaskTracker) {
    let mut plans = link.plans();
    let settings_of = |p: &Option<Arc<pb::RoutingPlan>>| p.as_ref().and_then(|p| p.settings);
    let mut applied = settings_of(&plans.borrow_and_update());
    tracker.spawn(async move {
        loop {
            tokio::select! {
                r = plans.changed() => if r.is_err() { return },
                _ = shutdown.cancelled() => return,
            }
            let settings = settings_of(&plans.borrow_and_update());
            if settings.is_some() && settings != applied {
                tracing::warn!("the site's data-plane settings changed on the control plane; they apply when this data plane restarts (the grace period and pools apply at once)");
                applied = settings;
            }
        }
    });
}

/// Reports each upstream connect result of `algorithm`.
pub fn observer(link: &Arc<ControlLink>, algorithm: Algorithm) -> ConnectObserver {
    let link = link.clone();
    Arc::new(move |pool: &str, ok: bool, error: &str| {
        link.report_connect(algorithm, pool, ok, error)
    })
}

/// The routing plans `algorithm`'s route task follows, acknowledged
/// through the link.
pub fn plans(link: &Arc<ControlLink>, algorithm: Algorithm) -> Plans {
    let ack_link = link.clone();
    Plans {
        plans: link.plans(),
        algorithm,
        ack: Arc::new(move |version, error| ack_link.ack(version, error)),
    }
}

/// Starts the status task of one listener.
pub fn run(
    link: &Arc<ControlLink>,
    algorithm: Algorithm,
    router: RouterHandle,
    stats: Arc<ListenerStats>,
    interval: Duration,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    let link = link.clone();
    tracker.spawn(async move {
        let mut route = router.route.clone();
        loop {
            let active = route
                .borrow()
                .pool
                .as_ref()
                .map(|p| p.info.name.to_string());
            link.set_listener_status(
                algorithm,
                active,
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
