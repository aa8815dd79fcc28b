//! Versions of the contract between the processes (the control plane, the
//! data planes, ctl), the refusals when two sides speak different ones
//! (each naming what to upgrade), and the reading of share events written
//! under contract 1.
//!
//! Contract 1 is Switchyard 0.1: algorithms, verdicts, reasons, pool modes
//! and dialects as strings, the site's settings as YAML text, no version
//! field (so it reads as 0). Contract 2 has enums and typed settings.
//! Contract 3 adds weighted splits to plans (`AlgorithmPlan.split`,
//! `Switch.split`); it is contract 2 plus fields, so a control plane of
//! contract 3 still registers data planes of contract 2 and writes every
//! plan without a split as contract 2. A plan with a split is written as
//! contract 3, which a contract-2 data plane refuses (it would send all
//! the hashrate to one pool): the acknowledgement names the upgrade.
//! Upgrade order: the control plane first, then the data planes (and ctl,
//! which the control plane refuses until then too). Until a
//! data plane is upgraded the control plane refuses to register it; it
//! keeps mining on its last plan and keeps its share events in its spool,
//! and the upgraded data plane ships them (see [`upgrade_event`]).

use crate::v1::{Algorithm, Reason, RoutingPlan, ShareEvent, Verdict};

/// The contract this build speaks.
pub const CONTRACT_VERSION: u32 = 3;

/// The oldest contract this build still works with across the data-plane
/// link (contract 3 only adds fields to contract 2).
pub const OLDEST_COMPATIBLE: u32 = 2;

/// The contract a plan must be written in: the oldest that carries it.
pub fn plan_contract(plan: &RoutingPlan) -> u32 {
    let split = plan
        .algorithms
        .iter()
        .any(|a| !a.split.is_empty() || a.switches.iter().any(|s| !s.split.is_empty()));
    if split {
        CONTRACT_VERSION
    } else {
        OLDEST_COMPATIBLE
    }
}

/// Whether `theirs` (0 on the wire is contract 1) is one this build
/// works with across the data-plane link.
fn compatible(theirs: u32) -> bool {
    (OLDEST_COMPATIBLE..=CONTRACT_VERSION).contains(&theirs)
}

/// The metadata key carrying the contract version on every admin call.
pub const CONTRACT_METADATA: &str = "switchyard-contract";

/// A contract version as people know it (0 on the wire is contract 1).
fn shown(v: u32) -> String {
    match v {
        0 | 1 => "1 (Switchyard 0.1, strings)".into(),
        v => v.to_string(),
    }
}

/// Why a control plane of software version `cp_version` refuses a data
/// plane (software version `dp_version`) registering with contract `theirs`.
pub fn dataplane_refusal(theirs: u32, dp_version: &str, cp_version: &str) -> Option<String> {
    use std::cmp::Ordering::*;
    if compatible(theirs) {
        return None;
    }
    match theirs.max(1).cmp(&CONTRACT_VERSION) {
        Equal => None,
        Less => Some(format!(
            "data plane {dp_version} speaks contract {}, this control plane ({cp_version}) \
             speaks contract {CONTRACT_VERSION}: upgrade the data plane to {cp_version}; until \
             then it mines on its last plan and keeps its share events in its spool",
            shown(theirs)
        )),
        Greater => Some(format!(
            "data plane {dp_version} speaks contract {theirs}, newer than this control plane \
             ({cp_version}, contract {CONTRACT_VERSION}): upgrade the control plane first"
        )),
    }
}

/// Why a control plane of software version `cp_version` refuses an admin
/// call whose [`CONTRACT_METADATA`] is `sent` (`None`: absent, as from a
/// ctl of contract 1).
pub fn ctl_refusal(sent: Option<&str>, cp_version: &str) -> Option<String> {
    let theirs = match sent.map(|s| s.trim().parse::<u32>()) {
        None => 0,
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            return Some(format!(
                "{CONTRACT_METADATA} metadata {:?} is not a contract version",
                sent.unwrap_or_default()
            ));
        }
    };
    use std::cmp::Ordering::*;
    match theirs.max(1).cmp(&CONTRACT_VERSION) {
        Equal => None,
        Less => Some(format!(
            "this ctl speaks contract {}, the control plane ({cp_version}) speaks contract \
             {CONTRACT_VERSION}: upgrade ctl to {cp_version}",
            shown(theirs)
        )),
        Greater => Some(format!(
            "this ctl speaks contract {theirs}, newer than the control plane ({cp_version}, \
             contract {CONTRACT_VERSION}): upgrade the control plane first"
        )),
    }
}

/// Why a data plane (software version `dp_version`) will not work with a
/// control plane that answered its registration with contract `theirs`.
pub fn controlplane_refusal(theirs: u32, dp_version: &str) -> Option<String> {
    use std::cmp::Ordering::*;
    if compatible(theirs) {
        return None;
    }
    match theirs.max(1).cmp(&CONTRACT_VERSION) {
        Equal => None,
        Less => Some(format!(
            "the control plane speaks contract {}, this data plane ({dp_version}) speaks \
             contract {CONTRACT_VERSION}: upgrade the control plane to {dp_version} first; \
             mining on the last plan, share events kept in the spool",
            shown(theirs)
        )),
        Greater => Some(format!(
            "the control plane speaks contract {theirs}, newer than this data plane \
             ({dp_version}, contract {CONTRACT_VERSION}): upgrade this data plane"
        )),
    }
}

/// Why a data plane cannot follow `plan` (None when it can).
pub fn plan_refusal(plan: &RoutingPlan) -> Option<String> {
    let v = plan.contract_version;
    if compatible(v) {
        return None;
    }
    let upgrade = if v < CONTRACT_VERSION {
        "the control plane"
    } else {
        "this data plane"
    };
    Some(format!(
        "routing plan version {} is written in contract {}, this data plane reads contract \
         {CONTRACT_VERSION}: upgrade {upgrade}",
        plan.version,
        shown(v)
    ))
}

/// Fills the typed fields of an event written under contract 1 (in an
/// older data plane's spool) from its strings, and clears the strings that
/// were read. A typed field already set wins; a string no value matches
/// is left for the receiver to refuse, naming the field.
pub fn upgrade_event(ev: &mut ShareEvent) {
    if !has_legacy_fields(ev) {
        return;
    }
    if ev.algorithm == Algorithm::Unspecified as i32
        && let Some(a) = Algorithm::from_label(&ev.legacy_algorithm.trim().to_ascii_lowercase())
    {
        ev.algorithm = a as i32;
        ev.legacy_algorithm.clear();
    }
    for (typed, legacy) in [
        (&mut ev.local_verdict, &mut ev.legacy_local_verdict),
        (&mut ev.pool_verdict, &mut ev.legacy_pool_verdict),
    ] {
        if *typed == Verdict::Unspecified as i32
            && let Some(v) = Verdict::from_label(legacy)
        {
            *typed = v as i32;
            legacy.clear();
        }
    }
    if ev.reason == Reason::Unspecified as i32 && !ev.legacy_reason.is_empty() {
        let text = std::mem::take(&mut ev.legacy_reason);
        let (reason, other) = Reason::from_stored(&text);
        ev.reason = reason as i32;
        ev.reason_text = other.to_string();
    }
}

/// Whether an event still carries contract-1 strings (after
/// [`upgrade_event`]: ones no value matched).
pub fn has_legacy_fields(ev: &ShareEvent) -> bool {
    !(ev.legacy_algorithm.is_empty()
        && ev.legacy_local_verdict.is_empty()
        && ev.legacy_pool_verdict.is_empty()
        && ev.legacy_reason.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy(local: &str, pool: &str, reason: &str) -> ShareEvent {
        ShareEvent {
            id: "e".into(),
            legacy_algorithm: "SHA256".into(),
            legacy_local_verdict: local.into(),
            legacy_pool_verdict: pool.into(),
            legacy_reason: reason.into(),
            ..ShareEvent::default()
        }
    }

    #[test]
    fn a_plan_with_a_split_needs_contract_3_and_others_stay_readable_by_contract_2() {
        use crate::v1::{AlgorithmPlan, PoolWeight, Switch};
        let mut plan = RoutingPlan {
            algorithms: vec![AlgorithmPlan {
                current_pool: "btc".into(),
                switches: vec![Switch::default()],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(plan_contract(&plan), 2);
        let w = PoolWeight {
            pool: "btc".into(),
            weight: 70,
        };
        plan.algorithms[0].switches[0].split = vec![w.clone()];
        assert_eq!(plan_contract(&plan), 3, "a split coming later counts too");
        plan.contract_version = 3;
        assert_eq!(plan_refusal(&plan), None);
        plan.contract_version = 2;
        assert_eq!(plan_refusal(&plan), None);
        plan.contract_version = 4;
        assert!(
            plan_refusal(&plan)
                .unwrap()
                .contains("upgrade this data plane")
        );
        // Data planes of contract 2 and 3 register; 1 and 4 do not.
        assert_eq!(dataplane_refusal(2, "0.2", "0.3"), None);
        assert!(dataplane_refusal(0, "0.1", "0.3").is_some());
        assert!(dataplane_refusal(4, "0.4", "0.3").is_some());
        assert_eq!(controlplane_refusal(2, "0.3"), None);
    }

    #[test]
    fn contract_1_events_read_as_typed_ones() {
        let mut ev = legacy("accepted", "rejected", "stale job");
        upgrade_event(&mut ev);
        assert_eq!(ev.algorithm(), Algorithm::Sha256);
        assert_eq!(ev.local_verdict(), Verdict::Accepted);
        assert_eq!(ev.pool_verdict(), Verdict::Rejected);
        assert_eq!((ev.reason(), ev.reason_text.as_str()), (Reason::Stale, ""));
        assert!(!has_legacy_fields(&ev));

        let mut ev = legacy("rejected", "", "pool is on fire");
        upgrade_event(&mut ev);
        assert_eq!(ev.pool_verdict(), Verdict::Unspecified, "not forwarded");
        assert_eq!(
            (ev.reason(), ev.reason_text.as_str()),
            (Reason::Other, "pool is on fire")
        );
        let mut ev = legacy("accepted", "accepted", "");
        upgrade_event(&mut ev);
        assert_eq!(ev.reason(), Reason::Unspecified);
        assert!(!has_legacy_fields(&ev));
    }

    #[test]
    fn typed_fields_win_and_unknown_strings_stay_for_the_receiver() {
        let mut ev = legacy("maybe", "", "");
        ev.legacy_algorithm = "scrypt".into();
        upgrade_event(&mut ev);
        assert_eq!(ev.algorithm(), Algorithm::Unspecified);
        assert_eq!(ev.legacy_local_verdict, "maybe");
        assert!(has_legacy_fields(&ev));

        let mut typed = ShareEvent {
            algorithm: Algorithm::Zksnark as i32,
            ..legacy("rejected", "", "")
        };
        upgrade_event(&mut typed);
        assert_eq!(typed.algorithm(), Algorithm::Zksnark);
    }

    #[test]
    fn refusals_name_what_to_upgrade() {
        assert_eq!(dataplane_refusal(CONTRACT_VERSION, "0.2.0", "0.2.0"), None);
        let old = dataplane_refusal(0, "0.1.0", "0.2.0").unwrap();
        assert!(old.contains("upgrade the data plane to 0.2.0"), "{old}");
        assert!(old.contains("contract 1 (Switchyard 0.1"), "{old}");
        let newer = dataplane_refusal(CONTRACT_VERSION + 1, "0.3.0", "0.2.0").unwrap();
        assert!(newer.contains("upgrade the control plane first"), "{newer}");

        assert_eq!(controlplane_refusal(CONTRACT_VERSION, "0.2.0"), None);
        let old = controlplane_refusal(0, "0.2.0").unwrap();
        assert!(
            old.contains("upgrade the control plane to 0.2.0 first"),
            "{old}"
        );
        let newer = controlplane_refusal(CONTRACT_VERSION + 1, "0.2.0").unwrap();
        assert!(newer.contains("upgrade this data plane"), "{newer}");

        assert_eq!(ctl_refusal(Some("3"), "0.2.0"), None);
        let old = ctl_refusal(None, "0.2.0").unwrap();
        assert!(old.contains("upgrade ctl to 0.2.0"), "{old}");
        // ctl is upgraded with the control plane: a contract-2 ctl would
        // not show weighted windows.
        assert!(ctl_refusal(Some("2"), "0.2.0").is_some());
        let newer = ctl_refusal(Some("4"), "0.2.0").unwrap();
        assert!(newer.contains("upgrade the control plane first"), "{newer}");
        assert!(
            ctl_refusal(Some("two"), "0.2.0")
                .unwrap()
                .contains("\"two\"")
        );

        let mut plan = RoutingPlan {
            version: 7,
            contract_version: CONTRACT_VERSION,
            ..RoutingPlan::default()
        };
        assert_eq!(plan_refusal(&plan), None);
        plan.contract_version = 0;
        let why = plan_refusal(&plan).unwrap();
        assert!(
            why.contains("version 7") && why.contains("upgrade the control plane"),
            "{why}"
        );
        plan.contract_version = CONTRACT_VERSION + 1;
        assert!(
            plan_refusal(&plan)
                .unwrap()
                .contains("upgrade this data plane")
        );
    }
}
