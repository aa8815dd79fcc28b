//! The gRPC services (admin for ctl, data plane for the data planes) and
//! what they share: the application context, token checks and the mapping of
//! store errors to statuses with clear messages.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tonic::{Request, Status};

use crate::breakers::Breakers;
use crate::planner::Planner;
use crate::store::{SiteRow, Store, StoreError};

pub mod admin;
mod admin_config;
mod admin_pools;
mod admin_query;
mod admin_schedule;
mod admin_split;
mod admin_workers;
pub mod dataplane;
pub mod quota;
pub mod share_events;

pub use admin_config::apply as admin_config_apply;

/// What every handler needs.
pub struct Ctx {
    pub store: Store,
    pub planner: Arc<Planner>,
    pub breakers: Arc<Breakers>,
    pub started_at_ms: i64,
    /// SHA-256 of the admin token.
    pub admin_token_hash: String,
    /// The zone of sites created without one (the machine's).
    pub local_tz: chrono_tz::Tz,
    pub live: std::sync::Mutex<HashMap<String, Live>>,
    /// The settings sections of the config the control plane started with
    /// (no pools or sites): what `ctl config export` writes around the
    /// database's pools and sites.
    pub import_settings: switchyard_model::config::Import,
    /// Tokens made for this process's own embedded data plane (hash -> site
    /// id); never stored.
    pub internal_tokens: std::sync::Mutex<HashMap<String, i64>>,
    /// Flips to true at shutdown: plan streams end so the server can stop.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The control plane's own metrics (`/metrics`).
    pub metrics: Arc<crate::http::CpMetrics>,
    /// Bumped when a site's token is replaced: plan streams check that
    /// their token still names their site, and end if not.
    pub token_rotations: tokio::sync::watch::Sender<u64>,
    /// Share events a site may store per day (F9).
    pub event_quota: quota::EventQuota,
    /// Data-plane ids a site may have seen in the last 7 days (F9).
    pub max_dataplanes_per_site: u32,
}

/// What the control plane knows of a connected data plane right now.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub site_id: i64,
    pub streams: u32,
    pub miners: u32,
    pub connections_total: u64,
    pub disconnections_total: u64,
    /// algorithm -> pool the hashrate goes to.
    pub active: HashMap<String, String>,
    /// pool -> (successful connects, failed connects) since this control plane started.
    pub connects: HashMap<String, (u64, u64)>,
    /// The data plane's share event spool, as it last reported it.
    pub spool_events: u64,
    pub spool_bytes: u64,
    pub events_dropped: u64,
    /// Workers it still has connected but without a share for the site's
    /// offline_after, as its last health report listed them: (algorithm,
    /// worker) -> its last accepted share (0 if none). Emptied when its
    /// plan stream closes; only read while it is connected.
    pub idle_workers: HashMap<(String, String), i64>,
}

impl Ctx {
    pub fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `sha256(token)` in hex: what the database keeps of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token with a prefix saying what it is for.
pub fn new_token(kind: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!("sy{kind}_{}", hex::encode(bytes))
}

/// The bearer token of a request.
pub fn bearer<T>(req: &Request<T>) -> Result<&str, Status> {
    let v = req
        .metadata()
        .get(switchyard_proto::AUTHORIZATION)
        .ok_or_else(|| Status::unauthenticated("missing authorization: send `Bearer <token>`"))?;
    let v = v
        .to_str()
        .map_err(|_| Status::unauthenticated("authorization is not valid text"))?;
    v.strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <token>`"))
}

/// Checks the admin token and the caller's contract version (a sync
/// check: usable in an interceptor).
pub fn check_admin(req: &Request<()>, admin_hash: &str) -> Result<(), Status> {
    let token = bearer(req)?;
    if !switchyard_dataplane::http::same(hash_token(token).as_bytes(), admin_hash.as_bytes()) {
        return Err(Status::unauthenticated("invalid admin token"));
    }
    // The caller's contract (ctl sends it on every call).
    let sent = req
        .metadata()
        .get(switchyard_proto::CONTRACT_METADATA)
        .map(|v| v.to_str().unwrap_or("?"));
    match switchyard_proto::contract::ctl_refusal(sent, env!("CARGO_PKG_VERSION")) {
        None => Ok(()),
        Some(why) => Err(Status::failed_precondition(why)),
    }
}

/// Accepts only in-process tokens (the embedded data plane's own port).
pub fn check_internal(req: &Request<()>, ctx: &Ctx) -> Result<(), Status> {
    let hash = hash_token(bearer(req)?);
    let known = ctx
        .internal_tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(&hash);
    if known {
        Ok(())
    } else {
        Err(Status::unauthenticated(
            "this port is for the control plane's own data plane",
        ))
    }
}

/// The site whose token the request carries.
pub async fn site_of<T>(ctx: &Ctx, req: &Request<T>) -> Result<SiteRow, Status> {
    site_of_token(ctx, bearer(req)?).await
}

/// The site `token` belongs to.
pub async fn site_of_token(ctx: &Ctx, token: &str) -> Result<SiteRow, Status> {
    let hash = hash_token(token);
    let internal = ctx
        .internal_tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&hash)
        .copied();
    if let Some(site_id) = internal {
        return ctx.store.site_by_id(site_id).await.map_err(status);
    }
    let store = &ctx.store;
    store
        .site_by_token_hash(&hash_token(token))
        .await
        .map_err(status)?
        .ok_or_else(|| Status::unauthenticated("invalid site token"))
}

/// Maps a store error to a status whose message an operator can act on.
pub fn status(e: StoreError) -> Status {
    match e {
        StoreError::NotFound(what) => Status::not_found(format!("{what} not found")),
        StoreError::AlreadyExists(what) => Status::already_exists(format!("{what} already exists")),
        StoreError::InUse(msg) => Status::failed_precondition(msg),
        StoreError::Quota(msg) => Status::resource_exhausted(msg),
        StoreError::Invalid { field, message } => {
            Status::invalid_argument(format!("{field}: {message}"))
        }
        StoreError::Db(e) => {
            tracing::error!(error = %e, "database error");
            Status::internal(format!("database error: {e}"))
        }
    }
}

pub fn invalid(field: &str, message: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: &str) -> Request<()> {
        let mut req = Request::new(());
        let m = req.metadata_mut();
        m.insert(
            switchyard_proto::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        m.insert(
            switchyard_proto::CONTRACT_METADATA,
            switchyard_proto::CONTRACT_VERSION.into(),
        );
        req
    }

    #[test]
    fn the_admin_token_is_checked_by_its_whole_hash() {
        let token = new_token("admin");
        let hash = hash_token(&token);
        assert!(check_admin(&request(&token), &hash).is_ok());
        let mut wrong = token.clone();
        wrong.pop();
        for bad in [wrong.as_str(), "", "x", &hash] {
            let err = check_admin(&request(bad), &hash).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated, "{bad:?}");
        }
        // A token of a site is not the admin token.
        let site = new_token("site");
        assert!(check_admin(&request(&site), &hash).is_err());
    }
}
