//! Upgrading across contract versions (proto/src/contract.rs): a data
//! plane or a ctl of the string contract (Switchyard 0.1) is refused with a
//! message naming the upgrade, and the share events an old data plane left
//! in its spool are shipped by the upgraded data plane and stored with
//! their verdicts and reasons: no share is lost to an upgrade.

mod common;

use common::*;
use switchyard_dataplane::events::{Spool, WireEvent};
use switchyard_proto::v1 as pb;
use tonic::Code;

fn register(id: &str, contract_version: u32) -> pb::RegisterRequest {
    pb::RegisterRequest {
        dataplane_id: id.into(),
        version: "0.1.0".into(),
        hostname: "rig-a".into(),
        plan_version: 0,
        contract_version,
    }
}

#[tokio::test]
async fn a_data_plane_of_the_string_contract_is_refused_naming_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    let mut dp = dp_client(&c.cp, &default_site_token(dir.path())).await;
    let err = dp.register(register("old", 0)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("upgrade the data plane"),
        "{}",
        err.message()
    );
    let newer = switchyard_proto::CONTRACT_VERSION + 1;
    let err = dp.register(register("newer", newer)).await.unwrap_err();
    assert!(
        err.message().contains("upgrade the control plane first"),
        "{}",
        err.message()
    );
    let reg = dp
        .register(register("new", switchyard_proto::CONTRACT_VERSION))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reg.contract_version, switchyard_proto::CONTRACT_VERSION);
    c.cp.shutdown().await;
}

/// An event as a contract-1 data plane spooled it: its strings in fields
/// 3, 9, 11 and 12 (the `legacy_*` fields now), the rest unchanged.
fn spooled_by_0_1(id: &str, local: &str, pool: &str, reason: &str) -> WireEvent {
    WireEvent {
        id: id.into(),
        at_unix_ms: 1_700_000_000_000,
        legacy_algorithm: "sha256".into(),
        pool: "btc".into(),
        worker: "rig1".into(),
        job_id: "1a".into(),
        miner_difficulty: 1024.0,
        legacy_local_verdict: local.into(),
        forwarded: !pool.is_empty(),
        legacy_pool_verdict: pool.into(),
        legacy_reason: reason.into(),
        ..WireEvent::default()
    }
}

#[tokio::test]
async fn shares_spooled_before_the_upgrade_are_stored_with_their_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    let spool_dir = dir.path().join("spool");
    let ids: Vec<String> = (0..4).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    {
        // The old data plane wrote these and stopped.
        let mut old = Spool::open(&spool_dir, 1 << 20).unwrap();
        let events = [
            spooled_by_0_1(&ids[0], "accepted", "accepted", ""),
            spooled_by_0_1(&ids[1], "accepted", "rejected", "stale job"),
            spooled_by_0_1(&ids[2], "rejected", "", "duplicate share"),
            spooled_by_0_1(&ids[3], "accepted", "rejected", "pool is on fire"),
        ];
        assert_eq!(old.append(&events).unwrap(), 4);
        old.sync().unwrap();
    }
    // The upgraded data plane reads its spool and ships it.
    let mut spool = Spool::open(&spool_dir, 1 << 20).unwrap();
    let batch = spool.next_batch(100).unwrap();
    let mut dp = dp_client(&c.cp, &default_site_token(dir.path())).await;
    dp.register(register("dp-1", switchyard_proto::CONTRACT_VERSION))
        .await
        .unwrap();
    let ack = dp
        .report_shares(pb::ShareBatch {
            dataplane_id: "dp-1".into(),
            events: batch,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ack.rejected.is_empty(), "{:?}", ack.rejected);
    assert_eq!(ack.inserted, 4);
    assert_eq!(spool.ack(&ack.acked_ids), 4);

    let filter = switchyard_controlplane::store::ShareFilter::default();
    let (mut rows, _) = c.cp.store().query_shares(&filter, 10).await.unwrap();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let stored: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.algorithm.as_str(),
                r.local_verdict.as_str(),
                r.pool_verdict.as_deref(),
                r.reason.as_deref(),
                r.verdict.as_str(),
            )
        })
        .collect();
    assert_eq!(
        stored,
        [
            ("sha256", "accepted", Some("accepted"), None, "accepted"),
            (
                "sha256",
                "accepted",
                Some("rejected"),
                Some("stale job"),
                "rejected"
            ),
            (
                "sha256",
                "rejected",
                None,
                Some("duplicate share"),
                "rejected"
            ),
            (
                "sha256",
                "accepted",
                Some("rejected"),
                Some("pool is on fire"),
                "rejected"
            ),
        ]
    );
    c.cp.shutdown().await;
}

#[tokio::test]
async fn a_ctl_of_the_string_contract_is_refused_naming_the_upgrade() {
    use switchyard_proto::v1::admin_client::AdminClient;
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    // What a contract-1 ctl sends: the token, no contract version.
    let mut old = AdminClient::new(channel(&c.cp).await);
    let mut req = tonic::Request::new(pb::StatusRequest {});
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", c.admin_token).parse().unwrap(),
    );
    let err = old.status(req).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("upgrade ctl"), "{}", err.message());
    c.cp.shutdown().await;
}
