//! Admin handlers for the configuration file: validate, import (the seed's
//! YAML or its multi-site form into the database) and export (the database
//! back to YAML that imports again).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono_tz::Tz;
use switchyard_model::config::{self, Import, PoolDef, PoolMode, SiteDef};
use switchyard_model::dialects::import_warnings;
use switchyard_model::{Algorithm, DaySchedule, problem};
use switchyard_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminService;
use super::{hash_token, new_token, status};
use crate::store::{PoolRow, Store, StoreError};

/// The seed's default `proxy:` section, for sites created by `ctl site add`.
pub fn default_proxy_yaml() -> String {
    config::proxy_yaml(&config::Proxy::default())
}

pub(super) fn validate(a: &AdminService, yaml: &str) -> pb::ValidateConfigResponse {
    match config::load(yaml, a.ctx.local_tz) {
        Ok(import) => pb::ValidateConfigResponse {
            problems: Vec::new(),
            warnings: to_pb(import_warnings(&import)),
        },
        Err(problems) => pb::ValidateConfigResponse {
            problems: to_pb(problems),
            warnings: Vec::new(),
        },
    }
}

fn to_pb(problems: Vec<problem::Problem>) -> Vec<pb::Problem> {
    problems
        .into_iter()
        .map(|p| pb::Problem {
            field: p.field,
            message: p.message,
        })
        .collect()
}

pub(super) async fn import(
    a: &AdminService,
    r: pb::ImportConfigRequest,
) -> Result<pb::ImportConfigResponse, Status> {
    let import = config::load(&r.yaml, a.ctx.local_tz).map_err(|p| {
        Status::invalid_argument(format!("the config has problems:\n{}", problem::render(&p)))
    })?;
    let mut out = apply(&a.ctx.store, &import, r.replace)
        .await
        .map_err(status)?;
    out.warnings = to_pb(import_warnings(&import));
    a.audit(
        "config.import",
        "config",
        &format!(
            "sites={} pools={} schedules={} replace={}",
            out.sites, out.pools, out.schedules, r.replace
        ),
    )
    .await?;
    a.refresh().await?;
    Ok(out)
}

/// Writes an import into the store. Without `replace`, any pool or site that
/// already exists is an error naming all of them, and nothing is written.
pub async fn apply(
    store: &Store,
    import: &Import,
    replace: bool,
) -> Result<pb::ImportConfigResponse, StoreError> {
    if !replace {
        let mut clashes = Vec::new();
        for p in &import.pools {
            if store.pool(&p.name).await.is_ok() {
                clashes.push(format!("pool {}", p.name));
            }
        }
        for s in &import.sites {
            if store.site(&s.name).await.is_ok() {
                clashes.push(format!("site {}", s.name));
            }
        }
        if !clashes.is_empty() {
            return Err(StoreError::AlreadyExists(format!(
                "{} (use --replace to update them)",
                clashes.join(", ")
            )));
        }
    }
    let mut out = pb::ImportConfigResponse::default();
    // Sites first (pools may be granted to them), then pools, then the
    // sites' schedules and failover lists (which name pools).
    let mut site_rows = Vec::new();
    for s in &import.sites {
        let proxy = config::proxy_yaml(&s.proxy);
        let site = match store.site(&s.name).await {
            Ok(site) => {
                store.set_site_proxy(site.id, &proxy).await?;
                site
            }
            Err(StoreError::NotFound(_)) => {
                let token = new_token("site");
                let site = store
                    .add_site(&s.name, s.timezone.name(), &hash_token(&token), &proxy)
                    .await?;
                out.new_site_tokens.push(pb::SiteToken {
                    site: s.name.clone(),
                    token,
                });
                site
            }
            Err(e) => return Err(e),
        };
        out.sites += 1;
        site_rows.push(site);
    }
    for p in &import.pools {
        let row = pool_row(p);
        match store.pool(&p.name).await {
            Ok(old) => {
                store.save_pool(&PoolRow { id: old.id, ..row }).await?;
            }
            Err(StoreError::NotFound(_)) => {
                store.add_pool(&row).await?;
            }
            Err(e) => return Err(e),
        }
        out.pools += 1;
    }
    for (s, site) in import.sites.iter().zip(&site_rows) {
        for (algo, day) in &s.schedules {
            store.set_day(site.id, algo.as_str(), day.slots()).await?;
            out.schedules += 1;
        }
        for (algo, names) in &s.failover {
            let mut ids = Vec::new();
            for n in names {
                ids.push(store.pool(n).await?.id);
            }
            store.set_failover(site.id, algo.as_str(), &ids).await?;
        }
    }
    store
        .set_meta("imported_at_ms", &crate::clock::now_ms().to_string())
        .await?;
    Ok(out)
}

fn pool_row(p: &PoolDef) -> PoolRow {
    PoolRow {
        id: 0,
        name: p.name.clone(),
        algorithm: p.algorithm.as_str().to_string(),
        host: p.host.clone(),
        port: i64::from(p.port),
        username: p.username.clone(),
        password: p.password.clone(),
        tls: p.tls,
        mode: p.mode.as_str().to_string(),
        enabled: p.enabled,
        connect_timeout_s: i64::from(p.connect_timeout_s),
        retry_interval_s: i64::from(p.retry_interval_s),
        buffer_percent: p.buffer_percent,
        min_difficulty: p.min_difficulty,
        max_difficulty: p.max_difficulty,
        dialect: p.dialect.map(|d| d.as_str().to_string()),
        sites: crate::store::PoolSites(p.sites.clone()),
    }
}

pub(super) async fn export(a: &AdminService) -> Result<pb::ExportConfigResponse, Status> {
    let store = &a.ctx.store;
    let mut import = a.ctx.import_settings.clone();
    import.pools = store
        .pools(None)
        .await
        .map_err(status)?
        .iter()
        .map(|p| PoolDef {
            name: p.name.clone(),
            algorithm: Algorithm::from_str(&p.algorithm).unwrap_or(Algorithm::Sha256),
            host: p.host.clone(),
            port: u16::try_from(p.port).unwrap_or(0),
            username: p.username.clone(),
            password: p.password.clone(),
            tls: p.tls,
            mode: PoolMode::from_str(&p.mode).unwrap_or(PoolMode::Aggregate),
            enabled: p.enabled,
            connect_timeout_s: u32::try_from(p.connect_timeout_s).unwrap_or(30),
            retry_interval_s: u32::try_from(p.retry_interval_s).unwrap_or(5),
            buffer_percent: p.buffer_percent,
            min_difficulty: p.min_difficulty,
            max_difficulty: p.max_difficulty,
            dialect: p.dialect.as_deref().and_then(|d| d.parse().ok()),
            sites: p.sites.0.clone(),
        })
        .collect();
    import.sites.clear();
    for site in store.sites().await.map_err(status)? {
        let by_algo = store.days(site.id).await.map_err(status)?;
        let mut schedules = BTreeMap::new();
        for (algo, slots) in by_algo {
            if let Ok(day) = DaySchedule::new("schedule", slots) {
                schedules.insert(algo, day);
            }
        }
        let mut failover: BTreeMap<Algorithm, Vec<String>> = BTreeMap::new();
        for (algo, pool) in store.failover(site.id).await.map_err(status)? {
            if let Ok(algo) = Algorithm::from_str(&algo) {
                failover.entry(algo).or_default().push(pool);
            }
        }
        import.sites.push(SiteDef {
            name: site.name.clone(),
            timezone: Tz::from_str(&site.timezone).unwrap_or(Tz::UTC),
            proxy: config::parse_proxy_yaml(&site.proxy_yaml).unwrap_or_default(),
            schedules,
            failover,
        });
    }
    a.audit("config.export", "config", "").await?;
    Ok(pb::ExportConfigResponse {
        yaml: config::export(&import),
    })
}
