//! ALEO pools speak one of two stratum dialects (AleoStratum/3.0.0 or the
//! IceRiver style) and a miner of one cannot mine on a pool of the other:
//! at a switch between them the data plane disconnects the miners, which
//! reconnect in the new pool's dialect if they can. A site whose ALEO
//! schedule or failover list names pools of both dialects is valid (a farm
//! may run both kinds of rigs), but it is worth a warning, named here once
//! for `validate`, `ctl config import` and `ctl schedule set|failover`.

use std::collections::BTreeSet;

use crate::config::{AleoDialect, Import};
use crate::{Algorithm, Problem};

/// The warning for one site's ALEO pools, given as (name, dialect) with
/// `None` for a pool left to detection (not counted: its dialect is not
/// known until it answers). `None` when they do not mix.
pub fn mixed_dialects<'a>(
    field: &str,
    pools: impl IntoIterator<Item = (&'a str, Option<AleoDialect>)>,
) -> Option<Problem> {
    let mut ice = BTreeSet::new();
    let mut a3 = BTreeSet::new();
    for (name, dialect) in pools {
        match dialect {
            Some(AleoDialect::IceRiver) => ice.insert(name),
            Some(AleoDialect::AleoStratum3) => a3.insert(name),
            None => false,
        };
    }
    if ice.is_empty() || a3.is_empty() {
        return None;
    }
    let list = |s: &BTreeSet<&str>| s.iter().copied().collect::<Vec<_>>().join(", ");
    Some(Problem::new(
        field,
        format!(
            "mixes ALEO dialects: iceriver ({}) and aleostratum3 ({}); miners of one dialect \
             cannot mine on a pool of the other, so they are disconnected at each switch \
             between them",
            list(&ice),
            list(&a3)
        ),
    ))
}

/// The warnings of a whole config file: every site whose ALEO schedule
/// and failover list together mix the two dialects.
pub fn import_warnings(import: &Import) -> Vec<Problem> {
    let dialect = |name: &str| {
        import
            .pools
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.dialect)
    };
    let mut out = Vec::new();
    for site in &import.sites {
        let day = site.schedules.get(&Algorithm::Zksnark);
        let failover = site.failover.get(&Algorithm::Zksnark);
        let names = day
            .into_iter()
            .flat_map(|d| d.slots().iter().flat_map(|s| s.pools()))
            .chain(failover.into_iter().flatten().map(String::as_str));
        let field = format!("sites.{}.zksnark", site.name);
        out.extend(mixed_dialects(&field, names.map(|n| (n, dialect(n)))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use AleoDialect::{AleoStratum3, IceRiver};

    #[test]
    fn only_both_known_dialects_together_warn() {
        let w = |pools: &[(&'static str, Option<AleoDialect>)]| {
            mixed_dialects("f", pools.iter().copied()).map(|p| p.message)
        };
        assert_eq!(w(&[]), None);
        assert_eq!(w(&[("a", Some(IceRiver)), ("b", Some(IceRiver))]), None);
        assert_eq!(
            w(&[("a", Some(IceRiver)), ("b", None)]),
            None,
            "b is detected"
        );
        assert_eq!(w(&[("a", Some(AleoStratum3)), ("b", None)]), None);
        let m = w(&[
            ("zk-b", Some(AleoStratum3)),
            ("ice", Some(IceRiver)),
            ("zk-a", Some(AleoStratum3)),
            ("ice", Some(IceRiver)),
        ])
        .unwrap();
        assert!(
            m.starts_with("mixes ALEO dialects: iceriver (ice) and aleostratum3 (zk-a, zk-b)"),
            "{m}"
        );
        assert!(m.contains("disconnected at each switch"), "{m}");
    }
}
