//! The data-plane service: registration with a site token, the plan stream,
//! plan acknowledgements, batched share events (idempotent by id) and health
//! reports feeding the circuit breakers.

use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use futures::Stream;
use switchyard_model::Algorithm;
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::data_plane_server::DataPlane;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;
use tonic::{Request, Response, Status};

use super::{Ctx, Live, invalid, site_of, status};
use crate::clock;
use crate::store::{ShareInsert, SiteRow};

/// Most events accepted in one batch.
pub const MAX_BATCH: usize = 10_000;
/// Longest accepted text field of an event.
const MAX_TEXT: usize = 256;

pub struct DataPlaneService {
    ctx: Arc<Ctx>,
}

impl DataPlaneService {
    pub fn new(ctx: Arc<Ctx>) -> Self {
        DataPlaneService { ctx }
    }

    /// The request's site, and a check that the data plane registered there.
    async fn registered<T>(&self, req: &Request<T>, dataplane_id: &str) -> Result<SiteRow, Status> {
        let site = site_of(&self.ctx, req).await?;
        check_id(dataplane_id)?;
        match self
            .ctx
            .store
            .dataplane_site(dataplane_id)
            .await
            .map_err(status)?
        {
            Some(id) if id == site.id => Ok(site),
            Some(_) => Err(Status::permission_denied(format!(
                "data plane {dataplane_id} is registered to another site"
            ))),
            None => Err(Status::failed_precondition(format!(
                "data plane {dataplane_id} is not registered: call Register first"
            ))),
        }
    }
}

fn check_id(id: &str) -> Result<(), Status> {
    if id.trim().is_empty() {
        return Err(invalid("dataplane_id", "must not be empty"));
    }
    if id.len() > 128 || id.chars().any(|c| c.is_control()) {
        return Err(invalid("dataplane_id", "at most 128 printable characters"));
    }
    Ok(())
}

type PlanStream = Pin<Box<dyn Stream<Item = Result<pb::RoutingPlan, Status>> + Send>>;

#[tonic::async_trait]
impl DataPlane for DataPlaneService {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let site = site_of(&self.ctx, &req).await?;
        let r = req.into_inner();
        check_id(&r.dataplane_id)?;
        if r.version.len() > MAX_TEXT || r.hostname.len() > MAX_TEXT {
            return Err(invalid(
                "version/hostname",
                format!("at most {MAX_TEXT} bytes"),
            ));
        }
        self.ctx
            .store
            .register_dataplane(&r.dataplane_id, site.id, &r.version, &r.hostname)
            .await
            .map_err(status)?;
        tracing::info!(site = %site.name, dataplane = %r.dataplane_id, version = %r.version, holds = r.plan_version, "data plane registered");
        let plan_version = self.ctx.planner.current(site.id).map_or(0, |p| p.version);
        Ok(Response::new(pb::RegisterResponse {
            site: site.name,
            dataplane_id: r.dataplane_id,
            plan_version,
        }))
    }

    type WatchPlansStream = PlanStream;

    async fn watch_plans(
        &self,
        req: Request<pb::WatchPlansRequest>,
    ) -> Result<Response<PlanStream>, Status> {
        let id = req.get_ref().dataplane_id.clone();
        let site = self.registered(&req, &id).await?;
        let rx = self.ctx.planner.subscribe(site.id).await.map_err(status)?;
        let guard = StreamGuard::new(self.ctx.clone(), id, site.id);
        let mut shutdown = self.ctx.shutdown.clone();
        let plans = WatchStream::new(rx).map(move |plan| {
            let _alive = &guard;
            Ok(pb::RoutingPlan::clone(&plan))
        });
        let stream = futures::StreamExt::take_until(plans, async move {
            let _ = shutdown.wait_for(|v| *v).await;
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn ack_plan(
        &self,
        req: Request<pb::PlanAck>,
    ) -> Result<Response<pb::PlanAckResponse>, Status> {
        let id = req.get_ref().dataplane_id.clone();
        let site = self.registered(&req, &id).await?;
        let a = req.into_inner();
        let error: String = a.error.chars().take(1000).collect();
        if !error.is_empty() {
            tracing::warn!(site = %site.name, dataplane = %id, version = a.plan_version, %error, "data plane could not apply plan");
        }
        self.ctx
            .store
            .ack_plan(&id, a.plan_version as i64, &error)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::PlanAckResponse {}))
    }

    async fn report_shares(
        &self,
        req: Request<pb::ShareBatch>,
    ) -> Result<Response<pb::ShareBatchAck>, Status> {
        let id = req.get_ref().dataplane_id.clone();
        let site = self.registered(&req, &id).await?;
        let batch = req.into_inner();
        if batch.events.len() > MAX_BATCH {
            return Err(invalid(
                "events",
                format!(
                    "{} events in one batch; at most {MAX_BATCH}",
                    batch.events.len()
                ),
            ));
        }
        // A bad event is refused alone: the rest of the batch is stored, and
        // the data plane is told which ones and why (a batch refused whole
        // would be resent forever).
        let mut events = Vec::with_capacity(batch.events.len());
        let mut rejected = Vec::new();
        for (i, e) in batch.events.iter().enumerate() {
            match share(i, e) {
                Ok(s) => events.push(s),
                Err(st) => rejected.push(pb::RejectedEvent {
                    id: e.id.clone(),
                    reason: st.message().to_string(),
                }),
            }
        }
        if !rejected.is_empty() {
            tracing::error!(
                site = %site.name,
                dataplane = %id,
                rejected = rejected.len(),
                first = %rejected[0].reason,
                "share events refused as invalid"
            );
        }
        let inserted = self
            .ctx
            .store
            .insert_shares(&site.name, &id, &events)
            .await
            .map_err(status)?;
        let n = events.len() as u64;
        Ok(Response::new(pb::ShareBatchAck {
            inserted: inserted as u32,
            duplicates: (n - inserted.min(n)) as u32,
            acked_ids: batch.events.into_iter().map(|e| e.id).collect(),
            rejected,
        }))
    }

    async fn report_health(
        &self,
        req: Request<pb::HealthReport>,
    ) -> Result<Response<pb::HealthAck>, Status> {
        let id = req.get_ref().dataplane_id.clone();
        let site = self.registered(&req, &id).await?;
        let h = req.into_inner();
        let mut changed = false;
        for (i, r) in h.results.iter().enumerate() {
            let pool = match self.ctx.store.pool(&r.pool).await {
                Ok(p) => p,
                Err(_) => {
                    tracing::warn!(site = %site.name, pool = %r.pool, "health report for an unknown pool; ignored");
                    continue;
                }
            };
            if pool.algorithm != r.algorithm && !r.algorithm.is_empty() {
                return Err(invalid(
                    &format!("results[{i}].algorithm"),
                    format!("pool {} is {}", pool.name, pool.algorithm),
                ));
            }
            let at = if r.at_unix_ms > 0 {
                clock::from_ms(r.at_unix_ms)
            } else {
                clock::now()
            };
            let error: String = r.error.chars().take(300).collect();
            changed |= self
                .ctx
                .breakers
                .record(
                    (site.id, &site.name),
                    (pool.id, &pool.name),
                    r.ok,
                    &error,
                    at,
                )
                .await
                .map_err(status)?;
            let mut live = self.ctx.live();
            let e = live.entry(id.clone()).or_insert_with(|| Live {
                site_id: site.id,
                ..Live::default()
            });
            let c = e.connects.entry(pool.name.clone()).or_default();
            if r.ok { c.0 += 1 } else { c.1 += 1 }
        }
        {
            let mut live = self.ctx.live();
            let e = live.entry(id.clone()).or_insert_with(|| Live {
                site_id: site.id,
                ..Live::default()
            });
            e.miners = h.miners;
            e.connections_total = h.miner_connections_total;
            e.disconnections_total = h.miner_disconnections_total;
            e.spool_events = h.spool_events;
            e.spool_bytes = h.spool_bytes;
            if h.events_dropped > e.events_dropped {
                tracing::error!(
                    site = %site.name,
                    dataplane = %id,
                    dropped = h.events_dropped,
                    "data plane reports share events lost (see its log for the cause)"
                );
            }
            e.events_dropped = h.events_dropped;
            for a in &h.active {
                if Algorithm::from_str(&a.algorithm).is_ok() {
                    e.active.insert(a.algorithm.clone(), a.pool.clone());
                }
            }
        }
        self.ctx.store.touch_dataplane(&id).await.map_err(status)?;
        if changed {
            self.ctx.planner.refresh().await.map_err(status)?;
        }
        Ok(Response::new(pb::HealthAck {}))
    }
}

/// Validates one reported event; errors name the event and the field.
fn share(i: usize, e: &pb::ShareEvent) -> Result<ShareInsert, Status> {
    let field = |f: &str| format!("events[{i}].{f}");
    if uuid::Uuid::parse_str(&e.id).is_err() {
        return Err(invalid(&field("id"), format!("{:?} is not a UUID", e.id)));
    }
    Algorithm::from_str(&e.algorithm).map_err(|err| invalid(&field("algorithm"), err))?;
    if e.at_unix_ms <= 0 {
        return Err(invalid(
            &field("at_unix_ms"),
            "must be a positive unix time in milliseconds",
        ));
    }
    for (name, v) in [
        ("pool", &e.pool),
        ("worker", &e.worker),
        ("job_id", &e.job_id),
        ("reason", &e.reason),
    ] {
        if v.len() > MAX_TEXT {
            return Err(invalid(&field(name), format!("at most {MAX_TEXT} bytes")));
        }
    }
    if e.pool.is_empty() {
        return Err(invalid(&field("pool"), "must not be empty"));
    }
    if !matches!(e.local_verdict.as_str(), "accepted" | "rejected") {
        return Err(invalid(
            &field("local_verdict"),
            "must be \"accepted\" or \"rejected\"",
        ));
    }
    if !matches!(e.pool_verdict.as_str(), "" | "accepted" | "rejected") {
        return Err(invalid(
            &field("pool_verdict"),
            "must be \"accepted\", \"rejected\" or empty",
        ));
    }
    if !e.miner_difficulty.is_finite()
        || e.miner_difficulty < 0.0
        || !e.share_difficulty.is_finite()
    {
        return Err(invalid(
            &field("miner_difficulty"),
            "difficulties must be finite and not negative",
        ));
    }
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(ShareInsert {
        id: e.id.clone(),
        at_ms: e.at_unix_ms,
        algorithm: e.algorithm.to_ascii_lowercase(),
        pool: e.pool.clone(),
        worker: e.worker.clone(),
        job_id: e.job_id.clone(),
        miner_difficulty: e.miner_difficulty,
        share_difficulty: (e.share_difficulty > 0.0).then_some(e.share_difficulty),
        local_verdict: e.local_verdict.clone(),
        forwarded: e.forwarded,
        pool_verdict: opt(&e.pool_verdict),
        reason: opt(&e.reason),
        pool_latency_us: (e.pool_latency_us > 0)
            .then(|| e.pool_latency_us.min(i64::MAX as u64) as i64),
    })
}

/// Marks a data plane connected while its plan stream is open.
struct StreamGuard {
    ctx: Arc<Ctx>,
    id: String,
}

impl StreamGuard {
    fn new(ctx: Arc<Ctx>, id: String, site_id: i64) -> Self {
        ctx.live()
            .entry(id.clone())
            .or_insert_with(|| Live {
                site_id,
                ..Live::default()
            })
            .streams += 1;
        StreamGuard { ctx, id }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut live = self.ctx.live();
        if let Some(e) = live.get_mut(&self.id) {
            e.streams = e.streams.saturating_sub(1);
        }
    }
}
