//! The link task: connect, Register (with the version of the plan held),
//! WatchPlans, then serve the stream (persist and publish new plans) while
//! sending queued plan acks and health reports. Any error or the end of the
//! stream drops the connection; the task retries with capped, jittered
//! backoff (every 30 s for a refused token: a configuration error), logs a
//! failure only when it differs from the last one logged, and keeps the plan.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchyard_proto::v1 as pb;
use switchyard_proto::v1::data_plane_client::DataPlaneClient;
use switchyard_proto::{CONTRACT_VERSION, contract};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::Shared;
use super::state::{self, Verdict};
use crate::backoff::Backoff;

pub(super) type Client = DataPlaneClient<InterceptedService<Channel, Auth>>;

/// Bound on each unary call of the task.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Retry interval after the control plane refused the token.
const AUTH_RETRY: Duration = Duration::from_secs(30);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Most connect results in one health report.
const MAX_RESULTS_PER_REPORT: usize = 1000;

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub(super) struct Auth(MetadataValue<Ascii>);

impl Auth {
    pub(super) fn new(token: &str) -> anyhow::Result<Self> {
        let mut v: MetadataValue<Ascii> = format!("Bearer {token}").parse().map_err(|_| {
            anyhow::anyhow!("controlplane.token: must be printable ASCII without spaces")
        })?;
        v.set_sensitive(true);
        Ok(Auth(v))
    }
}

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        req.metadata_mut()
            .insert(switchyard_proto::AUTHORIZATION, self.0.clone());
        Ok(req)
    }
}

/// Why a connection ended.
enum Failure {
    /// The control plane closed the plan stream (it shuts down).
    Ended,
    /// The two sides speak different contracts: one of them must be upgraded.
    Incompatible(String),
    Connect(String),
    Status(&'static str, Status),
    Timeout(&'static str),
}

impl Failure {
    /// What to log (compared with the last one logged).
    fn describe(&self) -> String {
        match self {
            Failure::Ended => "the control plane closed the plan stream".into(),
            Failure::Incompatible(why) => why.clone(),
            Failure::Connect(e) => format!("cannot connect: {e}"),
            Failure::Status(call, s) => format!("{call}: {}: {}", s.code(), s.message()),
            Failure::Timeout(call) => format!("{call}: no answer within {CALL_TIMEOUT:?}"),
        }
    }

    /// The token (or the id's site) was refused: an operator must act.
    fn is_config(&self) -> bool {
        matches!(self, Failure::Status(_, s) if matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied))
    }

    /// One side must be upgraded: this one found it, or the control plane
    /// refused the registration (its message names which).
    fn is_incompatible(&self) -> bool {
        match self {
            Failure::Incompatible(_) => true,
            Failure::Status("Register", s) => s.code() == Code::FailedPrecondition,
            _ => false,
        }
    }
}

/// A status that means the connection is gone (as opposed to a refused request).
fn is_transport(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
    )
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

async fn call<T>(
    name: &'static str,
    fut: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(s)) => Err(Failure::Status(name, s)),
        Err(_) => Err(Failure::Timeout(name)),
    }
}

pub(super) struct Task {
    pub(super) shared: Arc<Shared>,
    pub(super) endpoint: Endpoint,
    pub(super) url: String,
    pub(super) auth: Auth,
    pub(super) state_dir: PathBuf,
    pub(super) version: String,
    pub(super) hostname: String,
    pub(super) health_interval: Duration,
    pub(super) shutdown: CancellationToken,
}

impl Task {
    pub(super) async fn run(self) {
        let mut backoff = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
        let mut last_logged: Option<String> = None;
        tracing::info!(endpoint = %self.url, dataplane = %self.shared.dataplane_id, "connecting to the control plane");
        loop {
            let failure = tokio::select! {
                f = self.session(&mut backoff, &mut last_logged) => f,
                _ = self.shutdown.cancelled() => break,
            };
            let was_connected = *self.shared.connected.borrow();
            self.shared.set_connected(None);
            let what = failure.describe();
            let held = self.held_version();
            let delay = if failure.is_config() || failure.is_incompatible() {
                AUTH_RETRY
            } else {
                backoff.next_delay()
            };
            if last_logged.as_deref() != Some(what.as_str()) {
                if failure.is_config() {
                    tracing::error!(endpoint = %self.url, error = %what, retry_in = ?delay, "CONFIGURATION ERROR: the control plane refused this data plane's site token (controlplane.token / token_file); mining on the last plan");
                } else if failure.is_incompatible() {
                    tracing::error!(endpoint = %self.url, error = %what, retry_in = ?delay, "UPGRADE NEEDED: this data plane and the control plane speak different contracts; mining on the last plan, share events kept in the spool");
                } else if was_connected {
                    tracing::warn!(endpoint = %self.url, error = %what, plan_version = held, "lost the control plane; mining on the last plan, reconnecting");
                } else {
                    tracing::warn!(endpoint = %self.url, error = %what, plan_version = held, "control plane unreachable; mining on the last plan, retrying with backoff");
                }
                last_logged = Some(what);
            } else {
                tracing::debug!(endpoint = %self.url, error = %what, retry_in = ?delay, "control plane still unreachable");
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shutdown.cancelled() => break,
            }
        }
        self.shared.set_connected(None);
        self.shared.done.cancel();
    }

    fn held_version(&self) -> u64 {
        self.shared.plans.borrow().as_ref().map_or(0, |p| p.version)
    }

    /// One connection, until it fails or the stream ends.
    async fn session(&self, backoff: &mut Backoff, last_logged: &mut Option<String>) -> Failure {
        match self.serve(backoff, last_logged).await {
            Ok(never) => match never {},
            Err(f) => f,
        }
    }

    async fn serve(
        &self,
        backoff: &mut Backoff,
        last_logged: &mut Option<String>,
    ) -> Result<std::convert::Infallible, Failure> {
        let channel = self
            .endpoint
            .connect()
            .await
            .map_err(|e| Failure::Connect(chain(&e)))?;
        let mut client = DataPlaneClient::with_interceptor(channel, self.auth.clone());
        let id = self.shared.dataplane_id.clone();
        let held = self.held_version();
        let reg = call(
            "Register",
            client.register(pb::RegisterRequest {
                dataplane_id: id.clone(),
                version: self.version.clone(),
                hostname: self.hostname.clone(),
                plan_version: held,
                contract_version: CONTRACT_VERSION,
            }),
        )
        .await?;
        if let Some(why) = contract::controlplane_refusal(reg.contract_version, &self.version) {
            return Err(Failure::Incompatible(why));
        }
        let mut stream = call(
            "WatchPlans",
            client.watch_plans(pb::WatchPlansRequest {
                dataplane_id: id.clone(),
                plan_version: held,
            }),
        )
        .await?;
        self.shared.set_connected(Some(client.clone()));
        *last_logged = None;
        tracing::info!(endpoint = %self.url, site = %reg.site, dataplane = %id, held, latest = reg.plan_version, "connected to the control plane");

        let mut acks: watch::Receiver<Option<(u64, String)>> = self.shared.ack.subscribe();
        // Re-send the ack of the plan held (the control plane may have missed it).
        let mut ack = acks.borrow_and_update().clone().filter(|(v, _)| *v == held);
        let mut health = tokio::time::interval(self.health_interval);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut fresh = true;
        loop {
            if let Some((version, error)) = ack.take() {
                self.send_ack(&mut client, version, error).await?;
            }
            tokio::select! {
                m = stream.message() => match m {
                    Ok(Some(plan)) => {
                        self.on_plan(plan, fresh).await;
                        if fresh {
                            backoff.reset();
                            fresh = false;
                        }
                    }
                    Ok(None) => return Err(Failure::Ended),
                    Err(s) => return Err(Failure::Status("WatchPlans", s)),
                },
                r = acks.changed() => {
                    if r.is_ok() {
                        ack = acks.borrow_and_update().clone();
                    }
                }
                _ = health.tick() => self.send_health(&mut client).await?,
                _ = self.shared.health_now.notified() => self.send_health(&mut client).await?,
            }
        }
    }

    /// Persists and publishes `plan` if it replaces the one held; a plan in
    /// another contract's format is refused (acknowledged with the reason).
    async fn on_plan(&self, plan: pb::RoutingPlan, fresh: bool) {
        if let Some(why) = contract::plan_refusal(&plan) {
            tracing::error!(site = %plan.site, "{why}; following the plan held");
            self.shared.ack.send_replace(Some((plan.version, why)));
            return;
        }
        let held = self.shared.plans.borrow().clone();
        match state::judge(held.as_deref(), &plan, fresh) {
            Verdict::Keep => {
                tracing::debug!(
                    version = plan.version,
                    "the control plane's plan is the one held"
                );
                return;
            }
            Verdict::Ignore(why) => {
                tracing::warn!(site = %plan.site, "{why}");
                return;
            }
            Verdict::Accept(Some(why)) => tracing::warn!(site = %plan.site, "{why}"),
            Verdict::Accept(None) => {}
        }
        let plan = Arc::new(plan);
        let (dir, p) = (self.state_dir.clone(), plan.clone());
        match tokio::task::spawn_blocking(move || state::save_plan(&dir, &p)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(dir = %self.state_dir.display(), error = %e, "cannot persist the routing plan: a restart during a control-plane outage would not have it")
            }
            Err(e) => tracing::error!(error = %e, "persisting the routing plan failed"),
        }
        tracing::info!(site = %plan.site, version = plan.version, from = held.as_ref().map_or(0, |h| h.version), "new routing plan");
        self.shared.plans.send_replace(Some(plan));
    }

    async fn send_ack(
        &self,
        client: &mut Client,
        version: u64,
        error: String,
    ) -> Result<(), Failure> {
        let req = pb::PlanAck {
            dataplane_id: self.shared.dataplane_id.clone(),
            plan_version: version,
            error,
        };
        match call("AckPlan", client.ack_plan(req)).await {
            Ok(_) => Ok(()),
            Err(Failure::Status(_, s)) if !is_transport(&s) => {
                tracing::warn!(version, code = %s.code(), error = %s.message(), "the control plane refused a plan ack; dropped");
                Ok(())
            }
            Err(f) => {
                // Sent again on the next connection (the ack is still the latest).
                Err(f)
            }
        }
    }

    async fn send_health(&self, client: &mut Client) -> Result<(), Failure> {
        use std::sync::atomic::Ordering::Relaxed;
        let ev = self.shared.events.get().cloned();
        let report = {
            let mut h = self.shared.health();
            let n = h.results.len().min(MAX_RESULTS_PER_REPORT);
            if h.dropped > h.dropped_logged {
                tracing::warn!(
                    dropped = h.dropped - h.dropped_logged,
                    total = h.dropped,
                    "upstream connect results dropped: the report queue was full"
                );
                h.dropped_logged = h.dropped;
            }
            pb::HealthReport {
                dataplane_id: self.shared.dataplane_id.clone(),
                results: h.results.drain(..n).collect(),
                active: h.active.clone(),
                miners: h.miners,
                miner_connections_total: h.connections_total,
                miner_disconnections_total: h.disconnections_total,
                spool_events: ev.as_ref().map_or(0, |e| e.spool_events.load(Relaxed)),
                spool_bytes: ev.as_ref().map_or(0, |e| e.spool_bytes.load(Relaxed)),
                events_dropped: ev.as_ref().map_or(0, |e| e.dropped()),
                idle_workers: h.idle_workers.clone(),
            }
        };
        if report.results.len() == MAX_RESULTS_PER_REPORT {
            self.shared.health_now.notify_one();
        }
        let results = report.results.clone();
        match call("ReportHealth", client.report_health(report)).await {
            Ok(_) => Ok(()),
            Err(Failure::Status(_, s)) if !is_transport(&s) => {
                tracing::warn!(code = %s.code(), error = %s.message(), results = results.len(), "the control plane refused a health report; its connect results are dropped");
                Ok(())
            }
            Err(f) => {
                let mut h = self.shared.health();
                for r in results.into_iter().rev() {
                    h.push(r, true);
                }
                Err(f)
            }
        }
    }
}
