//! A routing plan's pools as the data plane's pool settings and addresses:
//! the contract's enums (mode, dialect) read into the data plane's types,
//! the address taken as it is (never formatted into a url and parsed back),
//! and a pool with a value this version cannot use left out and named.

use switchyard_proto::v1 as pb;
use switchyard_stratum::aleo::Dialect;

use crate::config::{Algorithm, Pool, PoolAddr, PoolMode};

/// A pool the plan names, as data-plane settings and its address.
#[derive(Debug, Clone)]
pub struct PlanPool {
    pub pool: Pool,
    pub addr: PoolAddr,
}

/// The pools of `algorithm` a plan names, as data-plane pool settings.
/// Pools the data plane cannot use (a mode or dialect this version does
/// not know, no usable port) are left out and named in the errors.
pub fn pools(plan: &pb::RoutingPlan, algorithm: Algorithm) -> (Vec<PlanPool>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in plan
        .pools
        .iter()
        .filter(|p| p.algorithm == algorithm.to_wire() as i32 && p.enabled)
    {
        // A value this data plane does not know is refused rather than guessed.
        let (mode, dialect, port) = match (mode_of(p), dialect_of(p), port_of(p)) {
            (Ok(m), Ok(d), Ok(port)) => (m, d, port),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                errors.push(format!("pool {}: {e}", p.name));
                continue;
            }
        };
        let addr = PoolAddr {
            host: p.host.clone(),
            port,
            tls: p.tls,
        };
        let pool = Pool {
            name: p.name.clone(),
            url: url_of(&addr),
            username: p.username.clone(),
            password: p.password.as_str().into(),
            mode,
            enabled: true,
            buffer_percent: p.buffer_percent,
            min_difficulty: p.min_difficulty,
            max_difficulty: p.max_difficulty,
            dialect,
            algorithm,
        };
        out.push(PlanPool { pool, addr });
    }
    (out, errors)
}

fn port_of(p: &pb::PoolSettings) -> Result<u16, String> {
    match u16::try_from(p.port) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(format!("port: {} is not a pool port", p.port)),
    }
}

/// The url a pool's address reads as in logs and `status` (never parsed back).
fn url_of(a: &PoolAddr) -> String {
    let scheme = if a.tls { "stratum+ssl" } else { "stratum+tcp" };
    if a.host.contains(':') {
        format!("{scheme}://[{}]:{}", a.host, a.port)
    } else {
        format!("{scheme}://{}:{}", a.host, a.port)
    }
}

/// A pool's mode; UNSPECIFIED is the default, aggregation.
fn mode_of(p: &pb::PoolSettings) -> Result<PoolMode, String> {
    Ok(match switchyard_proto::known("mode", p.mode)? {
        pb::PoolMode::Unspecified | pb::PoolMode::Aggregate => PoolMode::Aggregate,
        pb::PoolMode::Passthrough => PoolMode::Passthrough,
    })
}

/// An ALEO pool's dialect; UNSPECIFIED is "detect" (`None`).
fn dialect_of(p: &pb::PoolSettings) -> Result<Option<Dialect>, String> {
    Ok(match switchyard_proto::known("dialect", p.dialect)? {
        pb::AleoDialect::Unspecified => None,
        pb::AleoDialect::Aleostratum3 => Some(Dialect::AleoStratum3),
        pb::AleoDialect::Iceriver => Some(Dialect::IceRiver),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(name: &str, algorithm: pb::Algorithm, port: u32) -> pb::PoolSettings {
        pb::PoolSettings {
            name: name.into(),
            algorithm: algorithm as i32,
            host: "h".into(),
            port,
            enabled: true,
            ..Default::default()
        }
    }

    #[test]
    fn aleo_pools_take_their_dialect_from_the_plan() {
        let aleo = |name: &str, dialect: i32| pb::PoolSettings {
            dialect,
            ..pool(name, pb::Algorithm::Zksnark, 1)
        };
        let plan = pb::RoutingPlan {
            pools: vec![
                aleo("ice", pb::AleoDialect::Iceriver as i32),
                aleo("std", pb::AleoDialect::Aleostratum3 as i32),
                aleo("auto", pb::AleoDialect::Unspecified as i32),
                aleo("odd", 9),
            ],
            ..Default::default()
        };
        let (p, errors) = pools(&plan, Algorithm::Zksnark);
        let got: Vec<_> = p
            .iter()
            .map(|p| (p.pool.name.as_str(), p.pool.dialect))
            .collect();
        assert_eq!(
            got,
            [
                ("ice", Some(Dialect::IceRiver)),
                ("std", Some(Dialect::AleoStratum3)),
                ("auto", None)
            ]
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("pool odd: dialect: 9 "), "{errors:?}");
    }

    #[test]
    fn tls_and_modes_are_kept_other_algorithms_and_unknown_modes_left_out() {
        let plan = pb::RoutingPlan {
            pools: vec![
                pool("a", pb::Algorithm::Sha256, 1),
                pb::PoolSettings {
                    tls: true,
                    mode: pb::PoolMode::Passthrough as i32,
                    ..pool("b", pb::Algorithm::Sha256, 2)
                },
                pool("c", pb::Algorithm::Randomx, 3),
                pb::PoolSettings {
                    mode: 7,
                    ..pool("d", pb::Algorithm::Sha256, 4)
                },
                pb::PoolSettings {
                    enabled: false,
                    ..pool("e", pb::Algorithm::Sha256, 5)
                },
                pb::PoolSettings {
                    host: "2001:db8::1".into(),
                    ..pool("v6", pb::Algorithm::Sha256, 6)
                },
                pool("zero", pb::Algorithm::Sha256, 0),
                pool("big", pb::Algorithm::Sha256, 70_000),
            ],
            ..Default::default()
        };
        let (p, errors) = pools(&plan, Algorithm::Sha256);
        let urls: Vec<_> = p
            .iter()
            .map(|p| (p.pool.name.as_str(), p.pool.url.as_str(), p.pool.mode))
            .collect();
        assert_eq!(
            urls,
            [
                ("a", "stratum+tcp://h:1", PoolMode::Aggregate),
                ("b", "stratum+ssl://h:2", PoolMode::Passthrough),
                ("v6", "stratum+tcp://[2001:db8::1]:6", PoolMode::Aggregate),
            ]
        );
        assert!(p.iter().all(|p| p.pool.algorithm == Algorithm::Sha256));
        let addr = |host: &str, port, tls| PoolAddr {
            host: host.into(),
            port,
            tls,
        };
        assert_eq!(p[1].addr, addr("h", 2, true));
        assert_eq!(p[2].addr, addr("2001:db8::1", 6, false));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("pool d: mode: 7 "), "{errors:?}");
        assert!(errors[1].starts_with("pool zero: port: 0 "), "{errors:?}");
        assert!(
            errors[2].starts_with("pool big: port: 70000 "),
            "{errors:?}"
        );
    }
}
