//! The data-plane service: registration with a site token, the plan stream,
//! plan acknowledgements, batched share events (idempotent by id) and health
//! reports feeding the circuit breakers and the idle workers of `ctl workers`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::data_plane_server::DataPlane;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;
use tonic::{Request, Response, Status};

use super::share_events::{MAX_TEXT, share};
use super::{Ctx, Live, bearer, invalid, site_of, site_of_token, status};
use crate::clock;
use crate::store::SiteRow;

/// Most events accepted in one batch.
pub const MAX_BATCH: usize = 10_000;

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

pub fn check_id(id: &str) -> Result<(), Status> {
    if id.trim().is_empty() {
        return Err(invalid("dataplane_id", "must not be empty"));
    }
    if id.len() > 128 || id.chars().any(|c| c.is_control()) {
        return Err(invalid("dataplane_id", "at most 128 printable characters"));
    }
    Ok(())
}

/// Most idle workers one health report may name (the contract's limit).
pub const MAX_IDLE_WORKERS: usize = 10_000;

/// A health report's idle workers, keyed by (algorithm label, worker), or
/// the first bad one named.
pub fn idle_workers(list: &[pb::IdleWorker]) -> Result<HashMap<(String, String), i64>, Status> {
    if list.len() > MAX_IDLE_WORKERS {
        return Err(invalid(
            "idle_workers",
            format!("{} workers; at most {MAX_IDLE_WORKERS}", list.len()),
        ));
    }
    let mut out = HashMap::with_capacity(list.len());
    for (i, w) in list.iter().enumerate() {
        let field = format!("idle_workers[{i}].algorithm");
        let algorithm: pb::Algorithm =
            switchyard_proto::known(&field, w.algorithm).map_err(Status::invalid_argument)?;
        if algorithm == pb::Algorithm::Unspecified {
            return Err(invalid(&field, "must be SHA256, RANDOMX or ZKSNARK"));
        }
        if w.worker.is_empty() || w.worker.len() > MAX_TEXT {
            return Err(invalid(
                &format!("idle_workers[{i}].worker"),
                format!("must be 1 to {MAX_TEXT} bytes"),
            ));
        }
        out.insert(
            (algorithm.label().to_string(), w.worker.clone()),
            w.last_share_unix_ms.max(0),
        );
    }
    Ok(out)
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
        if let Some(why) = switchyard_proto::contract::dataplane_refusal(
            r.contract_version,
            &r.version,
            env!("CARGO_PKG_VERSION"),
        ) {
            tracing::error!(site = %site.name, dataplane = %r.dataplane_id, version = %r.version, "data plane refused: {why}");
            return Err(Status::failed_precondition(why));
        }
        self.ctx
            .store
            .register_dataplane(
                &r.dataplane_id,
                site.id,
                &r.version,
                &r.hostname,
                self.ctx.max_dataplanes_per_site,
            )
            .await
            .map_err(|e| {
                if matches!(e, crate::store::StoreError::Quota(_)) {
                    tracing::warn!(site = %site.name, dataplane = %r.dataplane_id, "{e}");
                }
                status(e)
            })?;
        tracing::info!(site = %site.name, dataplane = %r.dataplane_id, version = %r.version, holds = r.plan_version, "data plane registered");
        let plan_version = self.ctx.planner.current(site.id).map_or(0, |p| p.version);
        Ok(Response::new(pb::RegisterResponse {
            site: site.name,
            dataplane_id: r.dataplane_id,
            plan_version,
            contract_version: switchyard_proto::CONTRACT_VERSION,
        }))
    }

    type WatchPlansStream = PlanStream;

    async fn watch_plans(
        &self,
        req: Request<pb::WatchPlansRequest>,
    ) -> Result<Response<PlanStream>, Status> {
        let id = req.get_ref().dataplane_id.clone();
        let site = self.registered(&req, &id).await?;
        let token = bearer(&req)?.to_owned();
        let rx = self.ctx.planner.subscribe(site.id).await.map_err(status)?;
        let guard = StreamGuard::new(self.ctx.clone(), id.clone(), site.id);
        let mut shutdown = self.ctx.shutdown.clone();
        let mut rotations = self.ctx.token_rotations.subscribe();
        let ctx = self.ctx.clone();
        let plans = WatchStream::new(rx).map(move |plan| {
            let _alive = &guard;
            Ok(pb::RoutingPlan::clone(&plan))
        });
        // Ends at shutdown, or once the token is no longer the site's (it
        // was rotated): the data plane must come back with the new one.
        let revoked = async move {
            while rotations.changed().await.is_ok() {
                if !site_of_token(&ctx, &token)
                    .await
                    .is_ok_and(|s| s.id == site.id)
                {
                    tracing::warn!(site = %site.name, dataplane = %id, "plan stream ended: its site token was replaced");
                    return;
                }
            }
            std::future::pending::<()>().await;
        };
        let stream = futures::StreamExt::take_until(plans, async move {
            tokio::select! {
                _ = shutdown.wait_for(|v| *v) => {}
                () = revoked => {}
            }
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
        let quota = &self.ctx.event_quota;
        quota.check(site.id, &site.name, std::time::Instant::now())?;
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
        let started = std::time::Instant::now();
        let inserted = self
            .ctx
            .store
            .insert_shares(&site.name, &id, &events)
            .await
            .map_err(status)?;
        quota.charge(site.id, inserted, std::time::Instant::now());
        let m = &self.ctx.metrics;
        m.ingest_seconds.observe(started.elapsed().as_secs_f64());
        m.ingested.add_n(site.name.clone(), inserted);
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
        // Checked before anything of the report is applied.
        let idle = idle_workers(&h.idle_workers)?;
        let mut changed = false;
        for (i, r) in h.results.iter().enumerate() {
            let pool = match self.ctx.store.pool(&r.pool).await {
                Ok(p) => p,
                Err(_) => {
                    tracing::warn!(site = %site.name, pool = %r.pool, "health report for an unknown pool; ignored");
                    continue;
                }
            };
            let field = format!("results[{i}].algorithm");
            let algorithm: pb::Algorithm =
                switchyard_proto::known(&field, r.algorithm).map_err(Status::invalid_argument)?;
            if algorithm != pb::Algorithm::Unspecified && pool.algorithm != algorithm.label() {
                return Err(invalid(
                    &field,
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
            e.idle_workers = idle;
            for a in &h.active {
                match pb::Algorithm::try_from(a.algorithm) {
                    Ok(pb::Algorithm::Unspecified) | Err(_) => {}
                    Ok(algorithm) => {
                        e.active
                            .insert(algorithm.label().to_string(), a.pool.clone());
                    }
                }
            }
        }
        self.ctx.store.touch_dataplane(&id).await.map_err(status)?;
        if changed {
            self.ctx
                .planner
                .refresh_because("breaker")
                .await
                .map_err(status)?;
        }
        Ok(Response::new(pb::HealthAck {}))
    }
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
            if e.streams == 0 {
                // Gone: its miners are no longer "still connected".
                e.idle_workers.clear();
            }
        }
    }
}
