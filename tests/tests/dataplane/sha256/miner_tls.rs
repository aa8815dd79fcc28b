//! TLS from miners (design decision 8): a listener with `tls: { cert_file,
//! key_file }` serves miners of each algorithm over TLS, who mine there as
//! on plain TCP (the pools check every share); a plain-TCP client on a TLS
//! port is closed and counted without disturbing the TLS miners; a bad
//! certificate or key is named by `validate` and refused at start; the
//! seed config's `proxy.<algo>.tls_cert` / `tls_key` do the same in
//! single-machine mode.

use std::time::Duration;

use std::sync::atomic::Ordering::Relaxed;

use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::{Algorithm, ListenerTls, PoolMode};
use switchyard_stratum::aleo::{Dialect, submit_result};
use switchyard_stratum::randomx::reply_status;
use switchyard_tests::aleo_miner::Prover;
use switchyard_tests::cp::controlplane;
use switchyard_tests::dp::{
    aleo_pool, aleo_test_config, mine_one, pool, rx_pool, rx_test_config, start, start_aleo,
    start_rx, test_config,
};
use switchyard_tests::single::SingleMachine;
use switchyard_tests::tls::TestCert;
use switchyard_tests::{
    AleoMiner, AleoPool, AleoPoolConfig, PoolConfig, RxMiner, RxPool, RxPoolConfig, ScriptedMiner,
    ScriptedPool,
};

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn sha256_miners_mine_over_tls_and_a_plain_client_disturbs_nobody() {
    let cert = TestCert::new();
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    cfg.listeners.sha256[0].tls = Some(cert.listener_tls());
    let (dp, addr) = start(cfg).await.unwrap();

    let tls = Some(&cert.connector);
    let mut m = ScriptedMiner::ready_with(addr, tls, "cgminer/4.11.1", "wallet.tls1")
        .await
        .unwrap();
    mine_one(&p, &mut m).await;

    // A plain-TCP miner on the TLS port: its stratum is no TLS handshake.
    let mut plain = ScriptedMiner::connect(addr).await.unwrap();
    let _ = plain
        .send_raw(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n")
        .await;
    plain.expect_closed(T).await.unwrap();
    // The TLS miner did not notice; a second TLS miner still gets in.
    mine_one(&p, &mut m).await;
    let mut m2 = ScriptedMiner::ready_with(addr, tls, "cgminer/4.11.1", "wallet.tls2")
        .await
        .unwrap();
    mine_one(&p, &mut m2).await;
    assert_eq!(p.rejected(), 0);
    let stats = dp.plane(Algorithm::Sha256).unwrap().stats.clone();
    // Every connection task has ended after the shutdown: the count is final.
    dp.shutdown(Duration::from_secs(2)).await;
    assert_eq!(
        stats.tls_failures.load(Relaxed),
        1,
        "the plain client is counted"
    );
    assert_eq!(stats.total.load(Relaxed), 3);
    // Each connection, the failed handshake included, counted out once.
    assert_eq!(stats.active.load(Relaxed), 0);
    assert_eq!(stats.disconnections.load(Relaxed), 3);
}

#[tokio::test]
async fn randomx_miners_mine_over_tls() {
    let cert = TestCert::new();
    let pool = RxPool::start(RxPoolConfig::default()).await.unwrap();
    let mut cfg = rx_test_config(vec![rx_pool("xmr", pool.addr(), PoolMode::Aggregate)]);
    cfg.listeners.randomx[0].tls = Some(cert.listener_tls());
    let (dp, addr) = start_rx(cfg).await.unwrap();
    let mut m = RxMiner::connect_with(addr, Some(&cert.connector))
        .await
        .unwrap();
    m.login(&switchyard_tests::rx_login("WALLET.tls"))
        .await
        .unwrap();
    m.wait_for_job().await.unwrap();
    let share = m.find_share().await.unwrap();
    let r = m.submit(&share).await.unwrap();
    assert_eq!(reply_status(&r), Ok(Some("OK".into())), "{r:?}");
    pool.wait_for_accepted(1, T).await.unwrap();
    // Plain TCP on the TLS port is refused.
    let mut plain = RxMiner::connect(addr).await.unwrap();
    assert!(
        plain
            .login(&switchyard_tests::rx_login("WALLET.plain"))
            .await
            .is_err()
    );
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn aleo_miners_of_both_dialects_mine_over_tls() {
    for (prover, dialect) in [
        (Prover::IceRiverAsic, Dialect::IceRiver),
        (Prover::AleoStratum3, Dialect::AleoStratum3),
    ] {
        let cert = TestCert::new();
        let pool = AleoPool::start(AleoPoolConfig::new(dialect)).await.unwrap();
        let mut cfg = aleo_test_config(vec![aleo_pool("p", pool.addr(), Some(dialect))]);
        cfg.listeners.zksnark[0].tls = Some(cert.listener_tls());
        let (dp, addr) = start_aleo(cfg).await.unwrap();
        let mut m = AleoMiner::connect_with(addr, dialect, Some(&cert.connector))
            .await
            .unwrap();
        let r = m.subscribe_as(prover).await.unwrap();
        assert!(r.is_ok(), "{dialect}: {r:?}");
        assert!(m.authorize("farm.tls", "x").await.unwrap(), "{dialect}");
        m.wait_for_job().await.unwrap();
        let share = m.next_share().unwrap();
        assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
        pool.wait_for_accepted(1, T).await.unwrap();
        dp.shutdown(Duration::from_secs(2)).await;
    }
}

#[tokio::test]
async fn a_bad_certificate_or_key_is_named_by_validate_and_refused_at_start() {
    let cert = TestCert::new();
    let other = TestCert::new();
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    cfg.listeners.sha256[0].tls = Some(ListenerTls {
        cert_file: cert.cert_file.display().to_string(),
        key_file: other.key_file.display().to_string(),
    });
    let text = cfg.validate().unwrap_err().to_string();
    assert!(
        text.contains("listeners.sha256.tls") && text.contains("does not go with"),
        "{text}"
    );
    let err = DataPlane::start(cfg.clone()).await.err().expect("refused");
    assert!(
        format!("{err:#}").contains("listeners.sha256.tls"),
        "{err:#}"
    );
    cfg.listeners.sha256[0].tls = Some(ListenerTls {
        cert_file: "/nonexistent/miners.crt".into(),
        key_file: cert.key_file.display().to_string(),
    });
    let text = cfg.validate().unwrap_err().to_string();
    assert!(text.contains("/nonexistent/miners.crt"), "{text}");
}

#[tokio::test]
async fn single_machine_mode_serves_tls_from_the_seed_config_with_paths_beside_it() {
    let cert = TestCert::new();
    let other = TestCert::new();
    let pool = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&cert.cert_file, dir.path().join("miners.crt")).unwrap();
    std::fs::copy(&cert.key_file, dir.path().join("miners.key")).unwrap();
    std::fs::copy(&other.key_file, dir.path().join("other.key")).unwrap();
    let port = pool.addr().port();
    let yaml = |key: &str| {
        format!(
            r#"
controlplane:
  timezone: "UTC"
proxy:
  sha256: {{ enabled: true, bind_host: "127.0.0.1", bind_port: 0, tls_cert: "miners.crt", tls_key: "{key}" }}
servers:
  sha256:
    - {{ name: main, host: "127.0.0.1", port: {port}, username: "farm.main", password: "x", start: "00:00", end: "24:00" }}
"#
        )
    };
    // `controlplane validate` reads the files as the data plane will.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, yaml("other.key")).unwrap();
    let out = controlplane(&["validate", bad.to_str().unwrap()]).await;
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stdout.contains("proxy.sha256.tls_cert") && out.stdout.contains("other.key"),
        "{out:#?}"
    );
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, yaml("miners.key")).unwrap();
    controlplane(&["validate", good.to_str().unwrap()])
        .await
        .ok();

    let sm = SingleMachine::start(dir.path(), &yaml("miners.key"), &["sha256"]).await;
    let tls = Some(&cert.connector);
    let mut m = ScriptedMiner::ready_with(sm.miners("sha256"), tls, "cgminer", "farm.rig7")
        .await
        .unwrap();
    let share = m.find_share().await.unwrap();
    assert!(m.submit(&share).await.unwrap().is_ok());
    pool.wait_for_accepted(1, T).await.unwrap();
    sm.stop().await;
}

#[tokio::test]
async fn one_algorithm_serves_plain_and_tls_listeners_side_by_side() {
    let cert = TestCert::new();
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    let plain = cfg.listeners.sha256[0].clone();
    let mut tls = plain.clone();
    tls.tls = Some(cert.listener_tls());
    cfg.listeners.sha256 = vec![plain, tls];
    let dp = DataPlane::start(cfg).await.unwrap();
    let addrs = dp.plane(Algorithm::Sha256).unwrap().addrs.clone();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    let mut over_tcp = ScriptedMiner::ready(addrs[0], "cgminer/4.11.1", "wallet.plain")
        .await
        .unwrap();
    let tls = Some(&cert.connector);
    let mut over_tls = ScriptedMiner::ready_with(addrs[1], tls, "cgminer/4.11.1", "wallet.tls")
        .await
        .unwrap();
    mine_one(&p, &mut over_tcp).await;
    mine_one(&p, &mut over_tls).await;
    // Both listeners feed the same plane: one aggregated pool connection.
    assert_eq!(p.connections(), 1, "one upstream for both listeners");
    let stats = dp.plane(Algorithm::Sha256).unwrap().stats.clone();
    dp.shutdown(Duration::from_secs(2)).await;
    assert_eq!(stats.total.load(Relaxed), 2);
}

#[tokio::test]
async fn per_ip_limits_hold_across_the_listeners_of_one_algorithm() {
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    cfg.limits.allow = Vec::new();
    cfg.limits.max_connections_per_minute = 0;
    cfg.limits.max_connections_per_ip = 1;
    let second = cfg.listeners.sha256[0].clone();
    cfg.listeners.sha256.push(second);
    let dp = DataPlane::start(cfg).await.unwrap();
    let addrs = dp.plane(Algorithm::Sha256).unwrap().addrs.clone();
    let mut m = ScriptedMiner::ready(addrs[0], "cgminer/4.11.1", "wallet.one")
        .await
        .unwrap();
    // The same address on the other port: over its one connection.
    let mut other = ScriptedMiner::connect(addrs[1]).await.unwrap();
    other.expect_closed(T).await.unwrap();
    mine_one(&p, &mut m).await;
    let stats = dp.plane(Algorithm::Sha256).unwrap().stats.clone();
    dp.shutdown(Duration::from_secs(2)).await;
    assert_eq!(stats.refused.load(Relaxed), 1);
}
