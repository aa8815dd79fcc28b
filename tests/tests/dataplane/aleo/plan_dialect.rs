//! An ALEO pool's dialect set at the control plane (`dialect: iceriver` in
//! the config here; `ctl pool add|update --dialect` likewise) reaches the
//! data plane in its routing plan: every connection to that pool, the
//! router's own included, subscribes in the pool's dialect from the first
//! line, so an IceRiver pool never sees an AleoStratum/3.0.0 subscribe (the
//! scripted pool records one as a protocol violation). A pool without one
//! is still detected.

use std::time::Duration;

use switchyard_dataplane::config::{Algorithm, Listener};
use switchyard_stratum::aleo::{Dialect, submit_result};
use switchyard_tests::linked::{control_plane, linked_dataplane_with};
use switchyard_tests::{AleoMiner, AleoPool, AleoPoolConfig};

const T: Duration = Duration::from_secs(30);

fn yaml(ice: u16) -> String {
    format!(
        r#"
controlplane:
  timezone: "UTC"
proxy:
  sha256: {{ enabled: false, bind_host: "127.0.0.1", bind_port: 3333 }}
  zksnark: {{ enabled: true, bind_host: "127.0.0.1", bind_port: 3335 }}
servers:
  zksnark:
    - {{ name: ice, host: "127.0.0.1", port: {ice}, username: "acct", password: "x", mode: passthrough, dialect: iceriver, start: "00:00", end: "24:00" }}
"#
    )
}

#[tokio::test]
async fn a_dialect_set_at_the_control_plane_is_spoken_from_the_first_line() {
    let pool = AleoPool::start(AleoPoolConfig::iceriver()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path(), &yaml(pool.addr().port())).await;
    let stored = cp.store().pool("ice").await.unwrap();
    assert_eq!(stored.dialect.as_deref(), Some("iceriver"));
    let dp = linked_dataplane_with(dir.path(), cp.addr(), "default", |c| {
        c.listeners.sha256 = Vec::new();
        c.listeners.zksnark = vec![Listener {
            bind: "127.0.0.1:0".into(),
            ..Default::default()
        }];
    })
    .await;
    let addr = dp.zksnark_addr().unwrap();
    let mut m = AleoMiner::ready(addr, Dialect::IceRiver, "farm.ice7")
        .await
        .unwrap();
    assert_eq!(
        dp.active_pool_of(Algorithm::Zksnark).as_deref(),
        Some("ice")
    );
    let share = m.next_share().unwrap();
    assert_eq!(submit_result(&m.submit(&share).await.unwrap()), Ok(()));
    pool.wait_for_accepted(1, T).await.unwrap();

    // The router's connection and the miner's: both IceRiver from the start.
    assert!(pool.connections() >= 2, "{}", pool.connections());
    let subscribes: Vec<_> = pool
        .requests()
        .into_iter()
        .filter(|(_, r)| r.method == "mining.subscribe")
        .collect();
    assert!(subscribes.len() >= 2, "{subscribes:?}");
    assert!(
        subscribes.iter().all(|(_, r)| !r.jsonrpc),
        "no AleoStratum3 subscribe: {subscribes:?}"
    );
    assert_eq!(pool.violations(), []);
    dp.shutdown(Duration::from_secs(2)).await;
    cp.shutdown().await;
}
