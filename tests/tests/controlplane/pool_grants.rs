//! Pools granted to some sites (SECURITY.md F1), end to end through `ctl`
//! and the data-plane API: a site's plan carries only the pools it may use
//! (shared ones and its own), never another site's pool or password; a
//! schedule, override or failover list naming another site's pool is
//! refused with the reason; a grant that would strand a schedule, and
//! removing a pool's last site, are refused; `--all-sites` shares a pool
//! again; the config file's `sites:` round-trips through export.

use switchyard_tests::cp::ControlPlane;

/// Two sites; apool is a's only, bpool b's only, spare is shared.
const GRANTED: &str = r#"
servers:
  sha256:
    - { name: apool, host: "127.0.0.1", port: 1, username: "a.user", password: "a-pool-secret", sites: [a] }
    - { name: bpool, host: "127.0.0.1", port: 2, username: "b.user", password: "b-pool-secret", sites: [b] }
    - { name: spare, host: "127.0.0.1", port: 3, username: "s.user", password: "spare-secret" }
sites:
  - name: a
    timezone: "Europe/Berlin"
    schedule:
      sha256:
        - { server: apool, start: "00:00", end: "24:00" }
  - name: b
    timezone: "America/New_York"
    schedule:
      sha256:
        - { server: bpool, start: "00:00", end: "24:00" }
"#;

fn names(plan: &switchyard_proto::v1::RoutingPlan) -> Vec<String> {
    let mut v: Vec<String> = plan.pools.iter().map(|p| p.name.clone()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_granted_pool_reaches_only_its_sites_plans() {
    let cp = ControlPlane::start_with(GRANTED, "UTC").await;
    let mut a = cp.fake_dataplane(&cp.site_token("a"), "a-dp").await;
    let b = cp.fake_dataplane(&cp.site_token("b"), "b-dp").await;
    assert_eq!(names(&a.plan), ["apool", "spare"]);
    assert_eq!(names(&b.plan), ["bpool", "spare"]);
    let wire = format!(
        "{:?}",
        a.plan.pools.iter().map(|p| &p.password).collect::<Vec<_>>()
    );
    assert!(!wire.contains("b-pool-secret"), "{wire}");
    assert!(
        a.plan.pools.iter().all(|p| p.sites.is_empty()),
        "plans never list grants"
    );
    let fo = &a.plan.algorithms[0].failover;
    assert!(
        !fo.contains(&"bpool".to_string()) && fo.contains(&"spare".to_string()),
        "{fo:?}"
    );

    // a cannot schedule, override to or fail over to b's pool.
    let out = cp
        .ctl(&[
            "schedule",
            "set",
            "--site",
            "a",
            "--algo",
            "sha256",
            "bpool@00:00-24:00",
        ])
        .await;
    assert!(
        out.fails(1).contains("granted to sites b only, not to a"),
        "{}",
        out.stderr
    );
    let out = cp
        .ctl(&[
            "override", "--site", "a", "--algo", "sha256", "--pool", "bpool", "--until", "+1h",
        ])
        .await;
    assert!(
        out.fails(1).contains("granted to sites b only"),
        "{}",
        out.stderr
    );
    let out = cp
        .ctl(&[
            "schedule", "failover", "--site", "a", "--algo", "sha256", "bpool",
        ])
        .await;
    assert!(
        out.fails(1).contains("granted to sites b only"),
        "{}",
        out.stderr
    );

    // Narrowing spare to b while a names it in its failover list is refused.
    cp.ctl(&[
        "schedule", "failover", "--site", "a", "--algo", "sha256", "spare",
    ])
    .await
    .ok();
    let out = cp.ctl(&["pool", "update", "spare", "--sites", "b"]).await;
    assert!(
        out.fails(1).contains("the failover order of site a"),
        "{}",
        out.stderr
    );
    cp.ctl(&[
        "schedule", "failover", "--site", "a", "--algo", "sha256", "--clear",
    ])
    .await
    .ok();

    // Granting bpool to a too: a's plan now carries it.
    let listed = cp.ctl(&["pool", "update", "bpool", "--sites", "a,b"]).await;
    assert!(listed.ok().contains("a,b"), "{}", listed.stdout);
    let plan = a.next_plan().await;
    assert_eq!(names(&plan), ["apool", "bpool", "spare"]);

    // Narrowed to b again, it leaves a's plan.
    cp.ctl(&["pool", "update", "bpool", "--sites", "b"])
        .await
        .ok();
    let plan = a.next_plan().await;
    assert_eq!(names(&plan), ["apool", "spare"]);

    // apool's only site cannot be removed (apool would become everyone's).
    let out = cp.ctl(&["site", "remove", "a"]).await;
    assert!(
        out.fails(1)
            .contains("the only site pool(s) apool are granted to"),
        "{}",
        out.stderr
    );
    // Shared again with --all-sites: b's plan carries it.
    let list = cp.ctl(&["pool", "update", "apool", "--all-sites"]).await;
    list.ok();
    let pools = cp.ctl(&["-o", "json", "pool", "list"]).await.json();
    let sites_of = |name: &str| {
        pools
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["sites"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(sites_of("apool"), "all");
    assert_eq!(sites_of("bpool"), "b");

    // An unknown site is refused, naming it.
    let out = cp
        .ctl(&["pool", "update", "bpool", "--sites", "nope"])
        .await;
    assert!(
        out.fails(1).contains("no site named \"nope\""),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn pool_add_with_sites_and_export_keep_the_grants() {
    let cp = ControlPlane::start_with(GRANTED, "UTC").await;
    let a = cp.fake_dataplane(&cp.site_token("a"), "a-dp").await;
    let mut b = cp.fake_dataplane(&cp.site_token("b"), "b-dp").await;
    assert_eq!(names(&a.plan), ["apool", "spare"]);
    cp.ctl(&[
        "pool",
        "add",
        "bonly",
        "--algo",
        "sha256",
        "--url",
        "stratum+tcp://127.0.0.1:4",
        "--username",
        "w",
        "--password",
        "bonly-secret",
        "--sites",
        "b",
    ])
    .await
    .ok();
    let plan = b.next_plan().await;
    assert_eq!(names(&plan), ["bonly", "bpool", "spare"]);

    let yaml = cp.ctl(&["config", "export"]).await.ok().to_string();
    // The export reads back as a config file with the same grants.
    let import = switchyard_model::config::load(&yaml, chrono_tz::Tz::UTC)
        .unwrap_or_else(|p| panic!("{}\n{yaml}", switchyard_model::problem::render(&p)));
    let sites = |name: &str| {
        import
            .pools
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.sites.clone())
            .unwrap()
    };
    assert_eq!(sites("bonly"), ["b"]);
    assert_eq!(sites("apool"), ["a"]);
    assert!(sites("spare").is_empty(), "{yaml}");
    // The export validates as a config file.
    let path = cp.write("exported.yaml", &yaml);
    let out = switchyard_tests::cp::controlplane(&["validate", path.to_str().unwrap()]).await;
    out.ok();
}
