//! A site token's writes are bounded (SECURITY.md F9): a site may keep at
//! most `max_dataplanes_per_site` data-plane ids seen in the last 7 days,
//! and store at most `max_site_events_per_day` share events a day. What
//! is refused is refused with `RESOURCE_EXHAUSTED` naming the setting, and
//! one site's quota never holds back another's.

use switchyard_proto::v1 as pb;
use switchyard_tests::cp::{now_ms, share};
use switchyard_tests::linked::control_plane;
use tonic::Code;

use super::site_isolation::{TWO_SITES, client, register_request, token};

fn with_limits(events: u64, dataplanes: u32) -> String {
    format!(
        "controlplane:\n  max_site_events_per_day: {events}\n  max_dataplanes_per_site: {dataplanes}\n{TWO_SITES}"
    )
}

#[tokio::test]
async fn a_site_token_cannot_register_data_plane_ids_without_end() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &with_limits(1000, 2)).await;
    let mut a = client(&cp, &token(dir.path(), "a")).await;
    a.register(register_request("a-1")).await.expect("first id");
    a.register(register_request("a-2"))
        .await
        .expect("second id");
    let err = a.register(register_request("a-3")).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().contains("max_dataplanes_per_site") && err.message().contains("a-3"),
        "{err:?}"
    );
    assert!(
        !err.message().contains("  "),
        "one message, not the source's indentation: {err:?}"
    );
    // Known ids come back as often as they like.
    for _ in 0..5 {
        a.register(register_request("a-1"))
            .await
            .expect("a known id");
    }
    // The other site has its own allowance.
    let mut b = client(&cp, &token(dir.path(), "b")).await;
    b.register(register_request("b-1"))
        .await
        .expect("b's first");
    b.register(register_request("b-2"))
        .await
        .expect("b's second");

    let ids: Vec<String> = cp
        .store()
        .dataplanes(None)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(!ids.contains(&"a-3".to_string()), "{ids:?}");
}

#[tokio::test]
async fn a_site_token_cannot_store_more_share_events_than_its_daily_quota() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &with_limits(5, 64)).await;
    let mut a = client(&cp, &token(dir.path(), "a")).await;
    a.register(register_request("a-dp")).await.unwrap();
    let batch = |n: usize| pb::ShareBatch {
        dataplane_id: "a-dp".into(),
        events: (0..n)
            .map(|i| {
                share(
                    now_ms(),
                    "apool",
                    &format!("rig{i}"),
                    true,
                    "accepted",
                    "accepted",
                    "",
                )
            })
            .collect(),
    };
    let first = batch(5);
    let ack = a.report_shares(first.clone()).await.unwrap().into_inner();
    assert_eq!(ack.inserted, 5);

    let err = a.report_shares(batch(3)).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().contains("max_site_events_per_day")
            && err.message().contains("stay in the data plane's spool"),
        "{err:?}"
    );
    // Resending what was stored is refused too while the quota is used up
    // (the data plane keeps it and tries later), and stores nothing twice.
    let err = a.report_shares(first).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

    // Site b is not held back by a's quota.
    let mut b = client(&cp, &token(dir.path(), "b")).await;
    b.register(register_request("b-dp")).await.unwrap();
    let ack = b
        .report_shares(pb::ShareBatch {
            dataplane_id: "b-dp".into(),
            events: vec![share(
                now_ms(),
                "bpool",
                "b-rig",
                true,
                "accepted",
                "accepted",
                "",
            )],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ack.inserted, 1);

    let stored = |site: &str| {
        let f = switchyard_controlplane::store::ShareFilter {
            site: Some(site.into()),
            ..Default::default()
        };
        let store = cp.store().clone();
        async move { store.query_shares(&f, 100).await.unwrap().0.len() }
    };
    assert_eq!(stored("a").await, 5);
    assert_eq!(stored("b").await, 1);
}
