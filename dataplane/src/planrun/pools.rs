//! A routing plan's pools as the data plane's pool settings: the
//! contract's enums (mode, dialect) read into the data plane's types, and
//! a pool with a value this version does not know left out and named.

use switchyard_proto::v1 as pb;
use switchyard_stratum::aleo::Dialect;

use crate::config::{Algorithm, Pool, PoolMode};

/// The pools of `algorithm` a plan names, as data-plane pool settings.
/// Pools the data plane cannot use (a mode or dialect this version does
/// not know) are left out and named in the errors.
pub fn pools(plan: &pb::RoutingPlan, algorithm: Algorithm) -> (Vec<Pool>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in plan
        .pools
        .iter()
        .filter(|p| p.algorithm == algorithm.to_wire() as i32 && p.enabled)
    {
        // A value this data plane does not know is refused rather than guessed.
        let (mode, dialect) = match (mode_of(p), dialect_of(p)) {
            (Ok(m), Ok(d)) => (m, d),
            (Err(e), _) | (_, Err(e)) => {
                errors.push(format!("pool {}: {e}", p.name));
                continue;
            }
        };
        out.push(Pool {
            name: p.name.clone(),
            url: format!(
                "{}://{}:{}",
                if p.tls { "stratum+ssl" } else { "stratum+tcp" },
                p.host,
                p.port
            ),
            username: p.username.clone(),
            password: p.password.as_str().into(),
            mode,
            enabled: true,
            buffer_percent: p.buffer_percent,
            min_difficulty: p.min_difficulty,
            max_difficulty: p.max_difficulty,
            dialect,
            algorithm,
        });
    }
    (out, errors)
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
        let got: Vec<_> = p.iter().map(|p| (p.name.as_str(), p.dialect)).collect();
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
            ],
            ..Default::default()
        };
        let (p, errors) = pools(&plan, Algorithm::Sha256);
        let urls: Vec<_> = p
            .iter()
            .map(|p| (p.name.as_str(), p.url.as_str(), p.mode))
            .collect();
        assert_eq!(
            urls,
            [
                ("a", "stratum+tcp://h:1", PoolMode::Aggregate),
                ("b", "stratum+ssl://h:2", PoolMode::Passthrough)
            ]
        );
        assert!(p.iter().all(|p| p.algorithm == Algorithm::Sha256));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("pool d: mode: 7 "), "{errors:?}");
        let addr = crate::config::parse_pool_url(&p[1].url).unwrap();
        assert!(addr.tls);
    }
}
