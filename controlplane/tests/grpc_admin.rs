//! The admin service through a real tonic client: whole-day schedules
//! validated as a whole, the DST-aware preview, overrides, failover order,
//! pools in use, config import/export round trip and the audit log.

mod common;

use common::*;
use switchyard_proto::v1 as pb;
use tonic::Code;

fn entry(pool: &str, start: &str, end: &str) -> pb::ScheduleEntry {
    pb::ScheduleEntry {
        pool: pool.into(),
        start: start.into(),
        end: end.into(),
        weight: 0,
    }
}

fn schedule(site: &str, entries: Vec<pb::ScheduleEntry>) -> pb::SetScheduleRequest {
    pb::SetScheduleRequest {
        site: site.into(),
        algorithm: pb::Algorithm::Sha256 as i32,
        entries,
    }
}

#[tokio::test]
async fn a_day_is_validated_as_a_whole_and_every_problem_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path()).await;
    let bad = schedule(
        "default",
        vec![
            entry("btc", "00:00", "12:30"),
            entry("bch", "12:00", "20:00"),
            entry("nope", "21:00", "24:00"),
        ],
    );
    let err = c.admin.set_schedule(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("no pool named \"nope\""),
        "{}",
        err.message()
    );

    let bad = schedule(
        "default",
        vec![
            entry("btc", "00:00", "12:30"),
            entry("bch", "12:00", "20:00"),
        ],
    );
    let err = c.admin.set_schedule(bad).await.unwrap_err();
    let m = err.message();
    assert!(
        m.contains("overlaps") && m.contains("btc 00:00-12:30") && m.contains("bch 12:00-20:00"),
        "{m}"
    );
    assert!(m.contains("gap 20:00-24:00"), "{m}");

    // Seconds are refused: one resolution everywhere (a seed defect).
    let err = c
        .admin
        .set_schedule(schedule(
            "default",
            vec![
                entry("btc", "00:00", "12:00:30"),
                entry("bch", "12:00:30", "24:00"),
            ],
        ))
        .await
        .unwrap_err();
    assert!(err.message().contains("minute"), "{}", err.message());

    // Nothing of a refused day was stored.
    let shown = c
        .admin
        .show_schedule(pb::ShowScheduleRequest::default())
        .await
        .unwrap()
        .into_inner();
    let e: Vec<(String, String, String)> = shown.schedules[0]
        .entries
        .iter()
        .map(|e| (e.pool.clone(), e.start.clone(), e.end.clone()))
        .collect();
    assert_eq!(
        e,
        vec![
            ("btc".into(), "00:00".into(), "12:00".into()),
            ("bch".into(), "12:00".into(), "24:00".into())
        ]
    );

    // Midnight crossover is a valid day.
    let ok = c
        .admin
        .set_schedule(schedule(
            "default",
            vec![
                entry("btc", "22:00", "06:00"),
                entry("bch", "06:00", "22:00"),
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.plan_version >= 2);
    let err = c
        .admin
        .set_schedule(schedule("mars", vec![entry("btc", "00:00", "24:00")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    c.cp.shutdown().await;
}

#[tokio::test]
async fn the_preview_shows_local_and_utc_times_across_a_dst_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path()).await;
    c.admin
        .add_site(pb::AddSiteRequest {
            name: "texas".into(),
            timezone: "America/Chicago".into(),
        })
        .await
        .unwrap();
    c.admin
        .set_schedule(schedule(
            "texas",
            vec![
                entry("btc", "00:00", "12:00"),
                entry("bch", "12:00", "24:00"),
            ],
        ))
        .await
        .unwrap();
    let p = c
        .admin
        .preview_schedule(pb::PreviewScheduleRequest {
            site: "texas".into(),
            algorithm: pb::Algorithm::Sha256 as i32,
            hours: 48,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.switches.len(), 4, "{:#?}", p.switches);
    for s in &p.switches {
        assert!(
            s.local_time.contains("C")
                && (s.local_time.contains("-05:00") || s.local_time.contains("-06:00")),
            "{}",
            s.local_time
        );
        assert!(s.utc_time.ends_with("UTC"));
        assert!(s.local_time.contains("12:00") || s.local_time.contains("00:00"));
    }
    assert_ne!(p.switches[0].to_pool, p.switches[1].to_pool);
    let err = c
        .admin
        .add_site(pb::AddSiteRequest {
            name: "mars".into(),
            timezone: "Mars/Olympus".into(),
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("timezone"), "{}", err.message());
    c.cp.shutdown().await;
}

#[tokio::test]
async fn overrides_and_failover_order_shape_the_plan_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path()).await;
    let pool = |name: &str| pb::PoolSettings {
        name: name.into(),
        algorithm: pb::Algorithm::Sha256 as i32,
        host: "127.0.0.1".into(),
        port: 3999,
        username: "w".into(),
        password: "hunter2".into(),
        enabled: true,
        ..Default::default()
    };
    c.admin.add_pool(pool("backup")).await.unwrap();
    let err = c.admin.add_pool(pool("backup")).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = c
        .admin
        .add_pool(pb::PoolSettings {
            port: 0,
            ..pool("x")
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("port:"), "{}", err.message());

    c.admin
        .set_failover(pb::SetFailoverRequest {
            site: "default".into(),
            algorithm: pb::Algorithm::Sha256 as i32,
            pools: vec!["backup".into()],
        })
        .await
        .unwrap();
    let until = switchyard_controlplane::clock::now_ms() + 3_600_000;
    c.admin
        .set_override(pb::SetOverrideRequest {
            site: "default".into(),
            algorithm: pb::Algorithm::Sha256 as i32,
            pool: "backup".into(),
            until_unix_ms: until,
        })
        .await
        .unwrap();
    let st = c
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let a = &st.plans[0].active[0];
    assert_eq!(a.current_pool, "backup");
    assert_eq!(
        a.next_switch_unix_ms, until,
        "the override's end is the next switch"
    );
    let shown = c
        .admin
        .show_schedule(pb::ShowScheduleRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shown.schedules[0].failover, vec!["backup".to_string()]);
    assert_eq!(
        shown.schedules[0].r#override.as_ref().unwrap().pool,
        "backup"
    );

    c.admin
        .clear_override(pb::ClearOverrideRequest {
            site: "default".into(),
            algorithm: pb::Algorithm::Sha256 as i32,
        })
        .await
        .unwrap();
    let st = c
        .admin
        .status(pb::StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        st.plans[0].active[0].current_pool,
        st.plans[0].active[0].scheduled_pool
    );
    let err = c
        .admin
        .clear_override(pb::ClearOverrideRequest {
            site: "default".into(),
            algorithm: pb::Algorithm::Sha256 as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // A pool in a schedule cannot go; a pool only in a failover list can.
    let err = c
        .admin
        .remove_pool(pb::PoolName { name: "btc".into() })
        .await
        .unwrap_err();
    assert!(err.message().contains("site default"), "{}", err.message());
    c.admin
        .remove_pool(pb::PoolName {
            name: "backup".into(),
        })
        .await
        .unwrap();

    let audit = c.cp.store().audit_entries(50).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.2.as_str()).collect();
    for a in [
        "pool.add",
        "failover.set",
        "override.set",
        "override.clear",
        "pool.remove",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    assert!(
        audit.iter().all(|e| !e.4.contains("hunter2")),
        "no password in the audit log"
    );
    c.cp.shutdown().await;
}

#[tokio::test]
async fn an_exported_config_imports_into_a_new_control_plane_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = start(dir.path()).await;
    c.admin
        .add_site(pb::AddSiteRequest {
            name: "berlin".into(),
            timezone: "Europe/Berlin".into(),
        })
        .await
        .unwrap();
    c.admin
        .set_schedule(schedule(
            "berlin",
            vec![
                entry("bch", "06:00", "22:00"),
                entry("btc", "22:00", "06:00"),
            ],
        ))
        .await
        .unwrap();
    let yaml = c
        .admin
        .export_config(pb::ExportConfigRequest {})
        .await
        .unwrap()
        .into_inner()
        .yaml;
    let problems = c
        .admin
        .validate_config(pb::ValidateConfigRequest { yaml: yaml.clone() })
        .await
        .unwrap()
        .into_inner()
        .problems;
    assert!(problems.is_empty(), "{problems:?}\n{yaml}");
    // Importing into the same database without --replace names the clashes.
    let err = c
        .admin
        .import_config(pb::ImportConfigRequest {
            yaml: yaml.clone(),
            replace: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(
        err.message().contains("pool btc") && err.message().contains("site berlin"),
        "{}",
        err.message()
    );
    c.cp.shutdown().await;

    let dir2 = tempfile::tempdir().unwrap();
    let mut d = start_with(dir2.path(), &yaml).await;
    let sites = d
        .admin
        .list_sites(pb::ListSitesRequest {})
        .await
        .unwrap()
        .into_inner()
        .sites;
    let names: Vec<(&str, &str)> = sites
        .iter()
        .map(|s| (s.name.as_str(), s.timezone.as_str()))
        .collect();
    assert!(names.contains(&("berlin", "Europe/Berlin")), "{names:?}");
    let shown = d
        .admin
        .show_schedule(pb::ShowScheduleRequest {
            site: "berlin".into(),
            algorithm: pb::Algorithm::Sha256 as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let e: Vec<String> = shown.schedules[0]
        .entries
        .iter()
        .map(|e| format!("{}@{}-{}", e.pool, e.start, e.end))
        .collect();
    assert_eq!(
        e,
        vec!["bch@06:00-22:00".to_string(), "btc@22:00-06:00".to_string()]
    );
    let bad = d
        .admin
        .validate_config(pb::ValidateConfigRequest {
            yaml: "servers:\n  scrypt: []\nbogus: 1\n".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        bad.problems.iter().any(|p| p.field.contains("scrypt")),
        "{:?}",
        bad.problems
    );
    assert!(
        bad.problems
            .iter()
            .any(|p| p.field.contains("bogus") || p.message.contains("bogus")),
        "{:?}",
        bad.problems
    );
    d.cp.shutdown().await;
}
