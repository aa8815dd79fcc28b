//! The admin service used by ctl. Every call is checked against the admin
//! token by an interceptor (see `server`); every change is audited and
//! followed by a plan refresh. The handlers of pools, schedules, queries and
//! config live in sibling modules; this file owns sites, breakers, data
//! planes and status, and the reading of algorithm fields.

use std::str::FromStr;
use std::sync::Arc;

use switchyard_model::Algorithm;
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::admin_server::Admin;
use tonic::{Request, Response, Status};

use super::{
    Ctx, admin_config, admin_pools, admin_query, admin_schedule, admin_workers, hash_token,
    invalid, new_token, status,
};
use crate::clock;
use crate::convert;

pub struct AdminService {
    pub(super) ctx: Arc<Ctx>,
    /// Who the audit log names: "admin" (ctl) or "web" (the web view).
    actor: &'static str,
}

impl AdminService {
    pub fn new(ctx: Arc<Ctx>) -> Self {
        AdminService {
            ctx,
            actor: "admin",
        }
    }

    /// The same service for the web view: its changes are audited as "web".
    pub fn for_web(ctx: Arc<Ctx>) -> Self {
        AdminService { ctx, actor: "web" }
    }

    pub(super) async fn audit(
        &self,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), Status> {
        self.ctx
            .store
            .audit(self.actor, action, target, detail)
            .await
            .map_err(status)
    }

    pub(super) async fn refresh(&self) -> Result<(), Status> {
        self.ctx.planner.refresh().await.map_err(status)
    }

    pub(super) async fn site(&self, name: &str) -> Result<crate::store::SiteRow, Status> {
        if name.trim().is_empty() {
            return Err(invalid("site", "a site name is required"));
        }
        self.ctx.store.site(name).await.map_err(status)
    }
}

/// A required algorithm field.
pub(super) fn algorithm(field: &str, v: i32) -> Result<Algorithm, Status> {
    algorithm_filter(field, v)?.ok_or_else(|| invalid(field, "must be SHA256, RANDOMX or ZKSNARK"))
}

/// An algorithm filter: UNSPECIFIED is every algorithm.
pub(super) fn algorithm_filter(field: &str, v: i32) -> Result<Option<Algorithm>, Status> {
    let a = switchyard_proto::known(field, v).map_err(Status::invalid_argument)?;
    Ok(convert::model_algorithm(a))
}

pub(super) fn name(field: &str, s: &str) -> Result<(), Status> {
    if s.is_empty() || s.len() > 64 {
        return Err(invalid(field, "must be 1 to 64 characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(
            field,
            format!("{s:?}: use letters, digits, '-', '_' and '.'"),
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl Admin for AdminService {
    async fn status(
        &self,
        _: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let s = &self.ctx.store;
        let sites = s.sites().await.map_err(status)?;
        let pools = s.pools(None).await.map_err(status)?;
        let mut plans = Vec::new();
        for site in &sites {
            let plan = self.ctx.planner.current(site.id);
            let active = plan
                .iter()
                .flat_map(|p| p.algorithms.iter())
                .map(|a| pb::ActiveAssignment {
                    algorithm: a.algorithm,
                    current_pool: a.current_pool.clone(),
                    scheduled_pool: a.scheduled_pool.clone(),
                    next_switch_unix_ms: a.switches.first().map_or(0, |w| w.at_unix_ms),
                    next_pool: a
                        .switches
                        .first()
                        .map(|w| w.pool.clone())
                        .unwrap_or_default(),
                })
                .collect();
            plans.push(pb::SitePlanSummary {
                site: site.name.clone(),
                plan_version: plan.map_or(0, |p| p.version),
                active,
            });
        }
        let connected = self.ctx.live().values().filter(|l| l.streams > 0).count() as u32;
        Ok(Response::new(pb::StatusResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at_unix_ms: self.ctx.started_at_ms,
            database: s.path().display().to_string(),
            sites: sites.len() as u32,
            pools: pools.len() as u32,
            dataplanes_connected: connected,
            share_events: s.share_count().await.map_err(status)? as u64,
            plans,
        }))
    }

    async fn add_site(
        &self,
        req: Request<pb::AddSiteRequest>,
    ) -> Result<Response<pb::AddSiteResponse>, Status> {
        let r = req.into_inner();
        name("name", &r.name)?;
        let tz = if r.timezone.is_empty() {
            self.ctx.local_tz.name().to_string()
        } else {
            r.timezone.clone()
        };
        chrono_tz::Tz::from_str(&tz).map_err(|_| {
            invalid(
                "timezone",
                format!("{tz:?} is not an IANA time zone (e.g. America/Chicago)"),
            )
        })?;
        let token = new_token("site");
        let proxy = admin_config::default_proxy_yaml();
        let site = self
            .ctx
            .store
            .add_site(&r.name, &tz, &hash_token(&token), &proxy)
            .await
            .map_err(status)?;
        self.audit("site.add", &r.name, &format!("timezone={tz}"))
            .await?;
        self.refresh().await?;
        // The row as it is after the refresh (with its first plan version).
        let site = self.ctx.store.site_by_id(site.id).await.map_err(status)?;
        Ok(Response::new(pb::AddSiteResponse {
            site: Some(convert::site(&site)),
            token,
        }))
    }

    async fn list_sites(
        &self,
        _: Request<pb::ListSitesRequest>,
    ) -> Result<Response<pb::ListSitesResponse>, Status> {
        let sites = self.ctx.store.sites().await.map_err(status)?;
        Ok(Response::new(pb::ListSitesResponse {
            sites: sites.iter().map(convert::site).collect(),
        }))
    }

    async fn remove_site(
        &self,
        req: Request<pb::RemoveSiteRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let site = self.site(&r.name).await?;
        self.ctx.store.remove_site(&r.name).await.map_err(status)?;
        self.ctx.breakers.forget(Some(site.id), None).await;
        self.audit("site.remove", &r.name, "").await?;
        self.refresh().await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn rotate_site_token(
        &self,
        req: Request<pb::RotateSiteTokenRequest>,
    ) -> Result<Response<pb::AddSiteResponse>, Status> {
        let r = req.into_inner();
        let site = self.site(&r.name).await?;
        let token = new_token("site");
        self.ctx
            .store
            .set_site_token_hash(site.id, &hash_token(&token))
            .await
            .map_err(status)?;
        self.ctx.token_rotations.send_modify(|n| *n += 1);
        self.audit("site.rotate_token", &r.name, "").await?;
        Ok(Response::new(pb::AddSiteResponse {
            site: Some(convert::site(&site)),
            token,
        }))
    }

    async fn add_pool(&self, req: Request<pb::PoolSettings>) -> Result<Response<pb::Pool>, Status> {
        admin_pools::add(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn update_pool(
        &self,
        req: Request<pb::UpdatePoolRequest>,
    ) -> Result<Response<pb::Pool>, Status> {
        admin_pools::update(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn remove_pool(&self, req: Request<pb::PoolName>) -> Result<Response<pb::Empty>, Status> {
        let r = req.into_inner();
        let p = self.ctx.store.pool(&r.name).await.map_err(status)?;
        self.ctx.store.remove_pool(&r.name).await.map_err(status)?;
        self.ctx.breakers.forget(None, Some(p.id)).await;
        self.audit("pool.remove", &r.name, "").await?;
        self.refresh().await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn set_pool_enabled(
        &self,
        req: Request<pb::SetPoolEnabledRequest>,
    ) -> Result<Response<pb::Pool>, Status> {
        let r = req.into_inner();
        let mut p = self.ctx.store.pool(&r.name).await.map_err(status)?;
        p.enabled = r.enabled;
        let saved = self.ctx.store.save_pool(&p).await.map_err(status)?;
        self.audit(
            if r.enabled {
                "pool.enable"
            } else {
                "pool.disable"
            },
            &r.name,
            "",
        )
        .await?;
        self.refresh().await?;
        Ok(Response::new(convert::pool(&saved)))
    }

    async fn list_pools(
        &self,
        req: Request<pb::ListPoolsRequest>,
    ) -> Result<Response<pb::ListPoolsResponse>, Status> {
        admin_pools::list(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn set_schedule(
        &self,
        req: Request<pb::SetScheduleRequest>,
    ) -> Result<Response<pb::ScheduleResponse>, Status> {
        admin_schedule::set_schedule(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn show_schedule(
        &self,
        req: Request<pb::ShowScheduleRequest>,
    ) -> Result<Response<pb::ShowScheduleResponse>, Status> {
        admin_schedule::show_schedule(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn preview_schedule(
        &self,
        req: Request<pb::PreviewScheduleRequest>,
    ) -> Result<Response<pb::PreviewScheduleResponse>, Status> {
        admin_schedule::preview(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn set_failover(
        &self,
        req: Request<pb::SetFailoverRequest>,
    ) -> Result<Response<pb::FailoverResponse>, Status> {
        admin_schedule::set_failover(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn set_override(
        &self,
        req: Request<pb::SetOverrideRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        admin_schedule::set_override(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn clear_override(
        &self,
        req: Request<pb::ClearOverrideRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        admin_schedule::clear_override(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_breakers(
        &self,
        req: Request<pb::ListBreakersRequest>,
    ) -> Result<Response<pb::ListBreakersResponse>, Status> {
        let r = req.into_inner();
        let site_id = if r.site.is_empty() {
            None
        } else {
            Some(self.site(&r.site).await?.id)
        };
        let now = clock::now();
        // Show what is due: an open breaker past its recovery is half-open.
        if !self
            .ctx
            .breakers
            .tick(now)
            .await
            .map_err(status)?
            .is_empty()
        {
            self.refresh().await?;
        }
        let rows = self.ctx.breakers.list(site_id).await;
        let live = self.ctx.live();
        let breakers = rows
            .iter()
            .map(|r| {
                let mut b = convert::breaker(r);
                for l in live.values().filter(|l| l.site_id == r.site_id) {
                    if let Some(&(ok, failed)) = l.connects.get(&r.pool) {
                        b.connects_ok += ok;
                        b.connects_failed += failed;
                    }
                }
                b
            })
            .collect();
        Ok(Response::new(pb::ListBreakersResponse { breakers }))
    }

    async fn reset_breaker(
        &self,
        req: Request<pb::BreakerTarget>,
    ) -> Result<Response<pb::Breaker>, Status> {
        self.breaker_op(req.into_inner(), false)
            .await
            .map(Response::new)
    }

    async fn open_breaker(
        &self,
        req: Request<pb::BreakerTarget>,
    ) -> Result<Response<pb::Breaker>, Status> {
        self.breaker_op(req.into_inner(), true)
            .await
            .map(Response::new)
    }

    async fn list_data_planes(
        &self,
        req: Request<pb::ListDataPlanesRequest>,
    ) -> Result<Response<pb::ListDataPlanesResponse>, Status> {
        let r = req.into_inner();
        let site_id = if r.site.is_empty() {
            None
        } else {
            Some(self.site(&r.site).await?.id)
        };
        let rows = self.ctx.store.dataplanes(site_id).await.map_err(status)?;
        let live = self.ctx.live().clone();
        Ok(Response::new(pb::ListDataPlanesResponse {
            dataplanes: rows
                .iter()
                .map(|d| convert::dataplane(d, live.get(&d.id)))
                .collect(),
        }))
    }

    async fn list_switches(
        &self,
        req: Request<pb::ListSwitchesRequest>,
    ) -> Result<Response<pb::ListSwitchesResponse>, Status> {
        admin_query::switches(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn query_shares(
        &self,
        req: Request<pb::QuerySharesRequest>,
    ) -> Result<Response<pb::QuerySharesResponse>, Status> {
        admin_query::shares(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn stats(
        &self,
        req: Request<pb::StatsRequest>,
    ) -> Result<Response<pb::StatsResponse>, Status> {
        admin_query::stats(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_workers(
        &self,
        req: Request<pb::ListWorkersRequest>,
    ) -> Result<Response<pb::ListWorkersResponse>, Status> {
        admin_workers::list(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn import_config(
        &self,
        req: Request<pb::ImportConfigRequest>,
    ) -> Result<Response<pb::ImportConfigResponse>, Status> {
        admin_config::import(self, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn export_config(
        &self,
        _: Request<pb::ExportConfigRequest>,
    ) -> Result<Response<pb::ExportConfigResponse>, Status> {
        admin_config::export(self).await.map(Response::new)
    }

    async fn validate_config(
        &self,
        req: Request<pb::ValidateConfigRequest>,
    ) -> Result<Response<pb::ValidateConfigResponse>, Status> {
        Ok(Response::new(admin_config::validate(
            self,
            &req.into_inner().yaml,
        )))
    }
}

impl AdminService {
    async fn breaker_op(&self, r: pb::BreakerTarget, open: bool) -> Result<pb::Breaker, Status> {
        let site = self.site(&r.site).await?;
        let pool = self.ctx.store.pool(&r.pool).await.map_err(status)?;
        let now = clock::now();
        let (s, p) = ((site.id, site.name.as_str()), (pool.id, pool.name.as_str()));
        if open {
            self.ctx
                .breakers
                .force_open(s, p, now)
                .await
                .map_err(status)?;
        } else {
            self.ctx.breakers.reset(s, p, now).await.map_err(status)?;
        }
        let target = format!("{}/{}", site.name, pool.name);
        self.audit(
            if open {
                "breaker.open"
            } else {
                "breaker.reset"
            },
            &target,
            "",
        )
        .await?;
        self.refresh().await?;
        let rows = self.ctx.breakers.list(Some(site.id)).await;
        let row = rows
            .iter()
            .find(|b| b.pool_id == pool.id)
            .ok_or_else(|| Status::internal(format!("breaker {target} vanished")))?;
        Ok(convert::breaker(row))
    }
}
