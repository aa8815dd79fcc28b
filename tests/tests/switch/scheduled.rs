//! A scheduled switch between two pools end to end, one body for every
//! algorithm, with the clock of this process shifted so that 12:00 UTC
//! (a -> b) is a few seconds ahead: a control plane plans it, a data plane
//! linked to it carries it out at the instant. The miner gets the new
//! pool's job (clean) and keeps what it was given (SHA-256's extranonce1);
//! a share for the old pool's job inside the grace period goes to the old
//! pool, on the connection the miner's shares took, and is accepted there,
//! although both pools use the same job ids; no share is refused because
//! of the switch; new work goes to the new pool (RandomX: in the miner's
//! slot there) and its duplicate is refused locally; the old pool's
//! connections close when grace ends; every share event reaches the control
//! plane per pool with the algorithm's name, and so does the quarter-hour
//! report.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::{Algorithm, Listener};
use switchyard_tests::Pool;
use switchyard_tests::algo::Algo;
use switchyard_tests::linked::{control_plane, linked_dataplane_with};
use switchyard_tests::scripted_io::{ScriptedConnection, ScriptedShare, ScriptedState};

const T: Duration = Duration::from_secs(30);

fn yaml<A: Algo>(a: u16, b: u16) -> String {
    let algo = A::ALGORITHM.as_str();
    let port = A::ALGORITHM.default_port();
    let other = if A::ALGORITHM == Algorithm::Sha256 {
        String::new()
    } else {
        "  sha256: { enabled: false, bind_host: \"127.0.0.1\", bind_port: 3333 }\n".into()
    };
    format!(
        r#"
controlplane:
  timezone: "UTC"
  grace_period: 4
  switch_lead: 2
proxy:
{other}  {algo}: {{ enabled: true, bind_host: "127.0.0.1", bind_port: {port} }}
servers:
  {algo}:
    - {{ name: a, host: "127.0.0.1", port: {a}, username: "farm.a", password: "x", start: "00:00", end: "12:00" }}
    - {{ name: b, host: "127.0.0.1", port: {b}, username: "farm.b", password: "x", start: "12:00", end: "24:00" }}
"#
    )
}

/// The data plane's miner addresses, by algorithm.
fn listeners(dp: &DataPlane) -> [(Algorithm, Option<SocketAddr>); 3] {
    [
        (Algorithm::Sha256, dp.sha256_addr()),
        (Algorithm::Randomx, dp.randomx_addr()),
        (Algorithm::Zksnark, dp.zksnark_addr()),
    ]
}

async fn a_scheduled_switch_moves_miners_at_the_instant_with_grace_shares_to_the_old_pool<
    A: Algo,
>() {
    // Both clocks (control plane and data plane) run 5 s before noon.
    let target = Utc.with_ymd_and_hms(2026, 11, 23, 11, 59, 55).unwrap();
    let offset = (target - Utc::now()).num_milliseconds();
    assert!(switchyard_dataplane::clock::set_offset_ms(offset));
    let noon = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();

    let a = Pool::<A::State>::start(A::pool_config()).await.unwrap();
    let b = Pool::<A::State>::start(A::pool_config()).await.unwrap();
    assert_eq!(
        A::current_job_id(&a),
        A::current_job_id(&b),
        "the two pools use the same job ids: the grace share must still find a"
    );
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml::<A>(a.addr().port(), b.addr().port())).await;
    let dp = linked_dataplane_with(dir.path(), cp.addr(), "default", |c| {
        c.listeners.sha256 = Vec::new();
        *A::listener(c) = vec![Listener {
            bind: "127.0.0.1:0".into(),
            ..Default::default()
        }];
    })
    .await;
    for (algorithm, addr) in listeners(&dp) {
        assert_eq!(addr.is_some(), algorithm == A::ALGORITHM, "{algorithm}");
    }
    let addr = A::addr(&dp).unwrap();

    let mut m = A::ready(addr, "farm.rig1").await.unwrap();
    let kept = A::kept_across_pools(&m);
    assert_eq!(dp.active_pool_of(A::ALGORITHM).as_deref(), Some("a"));
    let user = A::upstream_user("farm.a", "farm.rig1");
    if A::AGGREGATES {
        assert_eq!(a.authorized_users(), [user], "the pool's account, once");
    } else {
        assert!(a.authorized_users().contains(&user), "{user}");
    }
    A::mine(&mut m).await;
    a.wait_for_accepted(1, T).await.unwrap();
    // A real miner may find a share for this job just before the switch and
    // submit it just after: keep the job to play that.
    let held = A::wait_for_job(&mut m, "the first job", |_| true).await;
    let old_job = A::job_id(&held).to_owned();

    // The switch: b's job arrives at noon and not before, clean.
    let new = A::wait_for_new_job(&mut m, &old_job).await;
    let at = switchyard_dataplane::clock::now();
    assert!(at >= noon, "not before the instant: {at}");
    assert!(at < noon + chrono::Duration::seconds(3), "on time: {at}");
    assert!(A::is_from(&new, &b), "the new pool's job: {new:?}");
    assert!(A::is_clean(&new), "the miner drops the old pool's work");
    assert_eq!(dp.active_pool_of(A::ALGORITHM).as_deref(), Some("b"));
    assert_eq!(A::kept_across_pools(&m), kept, "kept across pools");
    if A::AGGREGATES {
        assert_eq!(
            b.connections(),
            1,
            "one aggregated connection to the new pool"
        );
    }
    let user = A::upstream_user("farm.b", "farm.rig1");
    assert!(b.authorized_users().contains(&user), "{user}");

    // A share for the old pool's job, inside the grace period: to the old
    // pool, on the connection the miner's shares took.
    let late = A::share_for_held(&mut m, &held).await;
    let r = A::submit(&mut m, &late).await;
    assert_eq!(r, Ok(()), "no share refused because of a switch");
    a.wait_for_accepted(2, T).await.unwrap();
    let on_a: HashSet<usize> = a.shares().iter().map(|s| s.conn()).collect();
    assert_eq!(on_a.len(), 1, "the miner's shares on a took one connection");
    let conn = on_a.into_iter().next().unwrap();
    let user = A::upstream_user("farm.a", "farm.rig1");
    assert_eq!(a.connection(conn).unwrap().users(), [user]);
    assert_eq!(b.shares().len(), 0);

    // New work goes to the new pool; a duplicate of it is refused locally.
    let share = A::share(&mut m).await;
    assert!(A::in_nonce_space(&share, &new), "in its nonce space on b");
    assert_eq!(A::submit(&mut m, &share).await, Ok(()));
    b.wait_for_accepted(1, T).await.unwrap();
    assert!(A::submit(&mut m, &share).await.is_err());

    // Grace ends: the old pool's connections close (nothing was pending).
    a.wait_until("the old pool's connections close", T, |s| {
        s.connections().iter().all(|c| !c.is_open())
    })
    .await
    .unwrap();

    // Every share is in the control plane's history, counted for the pool
    // whose job it was. No notification exists for "stored": poll, bounded.
    let deadline = tokio::time::Instant::now() + T;
    while cp.store().share_count().await.unwrap() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "share events reach the control plane"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let algo = A::ALGORITHM.as_str();
    let stats = cp.store().stats(&Default::default(), 0).await.unwrap();
    assert!(stats.iter().all(|r| r.algorithm == algo), "{stats:?}");
    let count = |pool: &str| {
        stats
            .iter()
            .find(|r| r.pool == pool)
            .map_or((0, 0), |r| (r.accepted, r.rejected))
    };
    assert_eq!(count("a"), (2, 0), "{stats:?}");
    assert_eq!(count("b"), (1, 1), "{stats:?}");
    let (rows, _) = cp
        .store()
        .query_shares(&Default::default(), 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.worker == "farm.rig1" && r.algorithm == algo),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .filter(|r| r.forwarded)
            .all(|r| r.pool_verdict.as_deref() == Some("accepted")),
        "{rows:?}"
    );
    let dup = rows.iter().find(|r| !r.forwarded).expect("the duplicate");
    assert_eq!(dup.reason.as_deref(), Some("duplicate share"));

    // The quarter-hour report says the same as the pools, per pool.
    let reports = cp.report().await.unwrap();
    let r = reports
        .iter()
        .find(|r| r.site == "default" && r.algorithm == algo)
        .expect("a report for the default site");
    let lines = |pool: &str| {
        let v = r.servers.iter().find(|v| v.name == pool).unwrap();
        (v.accepted, v.rejected, v.active)
    };
    assert_eq!(lines("a"), (a.accepted() as u64, 0, false), "{r:?}");
    assert_eq!(lines("b"), (b.accepted() as u64, 1, true), "{r:?}");
    assert_eq!(r.active.as_ref().map(|(n, _)| n.as_str()), Some("b"));
    assert!(r.last_switch.is_some(), "{r:?}");
    let text = switchyard_controlplane::report::render(r);
    assert!(
        text.contains("Shares: 2 accepted / 0 rejected") && text.contains("Active server: b"),
        "{text}"
    );

    // The data plane acknowledged the plan it runs.
    let dps = cp.store().dataplanes(None).await.unwrap();
    assert_eq!(dps.len(), 1);
    assert!(dps[0].acked_plan_version >= 1);
    A::check_pool(&a);
    A::check_pool(&b);

    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}

switchyard_tests::for_each_algorithm!(
    own_process a_scheduled_switch_moves_miners_at_the_instant_with_grace_shares_to_the_old_pool
);
