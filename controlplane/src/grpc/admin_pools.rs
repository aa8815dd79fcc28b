//! The pool calls of the admin service: a pool's settings from ctl (the
//! contract's [`pb::PoolSettings`], its enums read here) checked field by
//! field into a store row, partial updates, enable/disable and listing;
//! every change audited (never the password) and followed by a plan refresh.

use switchyard_model::Secret;
use switchyard_proto::known;
use switchyard_proto::v1 as pb;
use tonic::Status;

use super::admin::{AdminService, algorithm, algorithm_filter, name};
use super::{invalid, status};
use crate::convert;
use crate::store::{PoolPatch, PoolRow};

fn check_pool(p: &PoolRow) -> Result<(), Status> {
    name("name", &p.name)?;
    if p.host.trim().is_empty() || p.host.len() > 253 || p.host.contains(['/', ' ']) {
        return Err(invalid(
            "host",
            format!("{:?} is not a host name or address", p.host),
        ));
    }
    if !(1..=65535).contains(&p.port) {
        return Err(invalid("port", format!("{} is not in 1..=65535", p.port)));
    }
    if p.username.is_empty() {
        return Err(invalid(
            "username",
            "the pool username (wallet.worker) is required",
        ));
    }
    if !(1..=600).contains(&p.connect_timeout_s) {
        return Err(invalid("connect_timeout_s", "must be 1..=600 seconds"));
    }
    if !(1..=3600).contains(&p.retry_interval_s) {
        return Err(invalid("retry_interval_s", "must be 1..=3600 seconds"));
    }
    if let Some(b) = p.buffer_percent
        && !(0.01..=0.50).contains(&b)
    {
        return Err(invalid(
            "buffer_percent",
            format!("{b} is not in 0.01..=0.50"),
        ));
    }
    for (f, v) in [
        ("min_difficulty", p.min_difficulty),
        ("max_difficulty", p.max_difficulty),
    ] {
        if let Some(v) = v
            && !(v.is_finite() && v > 0.0)
        {
            return Err(invalid(f, format!("{v} must be a positive number")));
        }
    }
    if let (Some(lo), Some(hi)) = (p.min_difficulty, p.max_difficulty)
        && lo > hi
    {
        return Err(invalid(
            "min_difficulty",
            format!("{lo} is above max_difficulty {hi}"),
        ));
    }
    if p.dialect.is_some() && p.algorithm != pb::Algorithm::Zksnark.label() {
        return Err(invalid(
            "dialect",
            format!(
                "only ALEO pools (zksnark) have a dialect; this one is {}",
                p.algorithm
            ),
        ));
    }
    Ok(())
}

/// A mode from ctl; UNSPECIFIED is the default, aggregation.
fn mode(v: i32) -> Result<String, Status> {
    let m: pb::PoolMode = known("mode", v).map_err(Status::invalid_argument)?;
    Ok(match m {
        pb::PoolMode::Unspecified => pb::PoolMode::Aggregate,
        m => m,
    }
    .label()
    .to_string())
}

/// A dialect from ctl as stored; UNSPECIFIED is "detect" (`None`).
fn dialect(v: i32) -> Result<Option<String>, Status> {
    let d: pb::AleoDialect = known("dialect", v).map_err(Status::invalid_argument)?;
    Ok((d != pb::AleoDialect::Unspecified).then(|| d.label().to_string()))
}

fn pool_row(p: &pb::PoolSettings) -> Result<PoolRow, Status> {
    Ok(PoolRow {
        id: 0,
        name: p.name.clone(),
        algorithm: algorithm("algorithm", p.algorithm)?.as_str().to_string(),
        host: p.host.trim().to_string(),
        port: i64::from(p.port),
        username: p.username.clone(),
        password: p.password.as_str().into(),
        tls: p.tls,
        mode: mode(p.mode)?,
        enabled: p.enabled,
        connect_timeout_s: if p.connect_timeout_s == 0 {
            30
        } else {
            i64::from(p.connect_timeout_s)
        },
        retry_interval_s: if p.retry_interval_s == 0 {
            5
        } else {
            i64::from(p.retry_interval_s)
        },
        buffer_percent: p.buffer_percent,
        min_difficulty: p.min_difficulty,
        max_difficulty: p.max_difficulty,
        dialect: dialect(p.dialect)?,
        sites: crate::store::PoolSites(site_names(&p.sites)?),
    })
}

/// The sites of a grant, checked as site names (the store checks that they
/// exist and reads them back sorted).
fn site_names(names: &[String]) -> Result<Vec<String>, Status> {
    let mut v = Vec::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control) {
            return Err(invalid(
                &format!("sites[{i}]"),
                format!("{n:?} is not a site name"),
            ));
        }
        v.push(n.clone());
    }
    Ok(v)
}

/// What changed in a pool, for the audit log (never the password itself).
fn pool_detail(p: &PoolRow) -> String {
    format!(
        "{} {}:{} user={} tls={} mode={} enabled={} dialect={} sites={}",
        p.algorithm,
        p.host,
        p.port,
        p.username,
        p.tls,
        p.mode,
        p.enabled,
        p.dialect.as_deref().unwrap_or("detect"),
        if p.sites.is_shared() {
            "all".to_string()
        } else {
            p.sites.0.join(",")
        }
    )
}

pub(super) async fn add(a: &AdminService, p: pb::PoolSettings) -> Result<pb::Pool, Status> {
    let p = pool_row(&p)?;
    check_pool(&p)?;
    let saved = a.ctx.store.add_pool(&p).await.map_err(status)?;
    a.audit("pool.add", &saved.name, &pool_detail(&saved))
        .await?;
    a.refresh().await?;
    Ok(convert::pool(&saved))
}

pub(super) async fn update(a: &AdminService, r: pb::UpdatePoolRequest) -> Result<pb::Pool, Status> {
    let mut p = a.ctx.store.pool(&r.name).await.map_err(status)?;
    let port = match r.port {
        Some(port) => Some(
            u16::try_from(port)
                .map_err(|_| invalid("port", format!("{port} is not in 1..=65535")))?,
        ),
        None => None,
    };
    let mode = match r.mode {
        Some(m) if m == pb::PoolMode::Unspecified as i32 => {
            return Err(invalid("mode", "must be AGGREGATE or PASSTHROUGH"));
        }
        Some(m) => Some(mode(m)?),
        None => None,
    };
    let patch = PoolPatch {
        host: r.host,
        port,
        username: r.username,
        password: r.password.as_deref().map(Secret::from),
        tls: r.tls,
        mode,
        connect_timeout_s: r.connect_timeout_s,
        retry_interval_s: r.retry_interval_s,
        clear_difficulty_overrides: r.clear_difficulty_overrides,
        buffer_percent: r.buffer_percent,
        min_difficulty: r.min_difficulty,
        max_difficulty: r.max_difficulty,
        dialect: match r.dialect {
            Some(d) => Some(dialect(d)?.unwrap_or_default()),
            None => None,
        },
        sites: match &r.sites {
            Some(l) => Some(site_names(&l.names)?),
            None => None,
        },
    };
    patch.apply(&mut p);
    check_pool(&p)?;
    let saved = a.ctx.store.save_pool(&p).await.map_err(status)?;
    let pw = if r.password.is_some() {
        " password=changed"
    } else {
        ""
    };
    a.audit(
        "pool.update",
        &saved.name,
        &format!("{}{pw}", pool_detail(&saved)),
    )
    .await?;
    a.refresh().await?;
    Ok(convert::pool(&saved))
}

pub(super) async fn list(
    a: &AdminService,
    r: pb::ListPoolsRequest,
) -> Result<pb::ListPoolsResponse, Status> {
    let algo = algorithm_filter("algorithm", r.algorithm)?;
    let pools = a
        .ctx
        .store
        .pools(algo.map(|a| a.as_str()))
        .await
        .map_err(status)?;
    Ok(pb::ListPoolsResponse {
        pools: pools.iter().map(convert::pool).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> pb::PoolSettings {
        pb::PoolSettings {
            name: "zk".into(),
            algorithm: pb::Algorithm::Zksnark as i32,
            host: "pool.example".into(),
            port: 3333,
            username: "acct".into(),
            password: "pw".into(),
            mode: pb::PoolMode::Passthrough as i32,
            dialect: pb::AleoDialect::Iceriver as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_pool_from_ctl_is_stored_by_its_labels_and_defaults() {
        let p = pool_row(&settings()).unwrap();
        assert_eq!(
            (p.algorithm.as_str(), p.mode.as_str(), p.dialect.as_deref()),
            ("zksnark", "passthrough", Some("iceriver"))
        );
        assert_eq!((p.connect_timeout_s, p.retry_interval_s), (30, 5));
        check_pool(&p).unwrap();
        let plain = pool_row(&pb::PoolSettings {
            mode: 0,
            dialect: 0,
            ..settings()
        })
        .unwrap();
        assert_eq!((plain.mode.as_str(), plain.dialect), ("aggregate", None));
        let back = convert::pool(&p);
        let s = back.settings.unwrap();
        assert_eq!(
            (s.algorithm(), s.mode(), s.dialect(), s.password.as_str()),
            (
                pb::Algorithm::Zksnark,
                pb::PoolMode::Passthrough,
                pb::AleoDialect::Iceriver,
                ""
            )
        );
        assert!(back.password_set);
    }

    #[test]
    fn bad_enum_values_from_ctl_are_refused_naming_the_field() {
        let cases = [
            (
                "algorithm: must be",
                pb::PoolSettings {
                    algorithm: 0,
                    ..settings()
                },
            ),
            (
                "algorithm: 8 ",
                pb::PoolSettings {
                    algorithm: 8,
                    ..settings()
                },
            ),
            (
                "mode: 3 ",
                pb::PoolSettings {
                    mode: 3,
                    ..settings()
                },
            ),
            (
                "dialect: 5 ",
                pb::PoolSettings {
                    dialect: 5,
                    ..settings()
                },
            ),
        ];
        for (want, p) in cases {
            let err = pool_row(&p).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument);
            assert!(err.message().starts_with(want), "{want}: {}", err.message());
        }
        let sha = pool_row(&pb::PoolSettings {
            algorithm: pb::Algorithm::Sha256 as i32,
            ..settings()
        })
        .unwrap();
        let err = check_pool(&sha).unwrap_err();
        assert!(
            err.message().starts_with("dialect: only ALEO pools"),
            "{}",
            err.message()
        );
    }
}
