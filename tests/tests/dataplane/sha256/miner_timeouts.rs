//! A miner connection that does not finish its handshake within
//! `limits.handshake_timeout` is closed (SECURITY.md, "A miner on the
//! LAN"): silent, dripping a line a byte at a time (slowloris), or
//! subscribed but never authorized; on a TLS listener, a client that never
//! sends its TLS hello. The clock starts at the accept and no read resets
//! it. A miner that finished its handshake mines on past that time.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use switchyard_dataplane::config::{Algorithm, PoolMode};
use switchyard_tests::dp::{mine_one, pool, start, test_config, with_one_pool};
use switchyard_tests::tls::TestCert;
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HANDSHAKE: f64 = 1.0;
/// Ample for a 1 s timeout on a loaded 2-core machine.
const BOUND: Duration = Duration::from_secs(15);

/// Reads (and drops) whatever comes until the peer closes; the time taken.
async fn until_closed(s: &mut TcpStream, since: Instant) -> Duration {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(BOUND, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return since.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("closed within the bound")
}

async fn connect(addr: SocketAddr) -> (TcpStream, Instant) {
    let s = TcpStream::connect(addr).await.unwrap();
    (s, Instant::now())
}

#[tokio::test]
async fn a_miner_that_does_not_finish_its_handshake_in_time_is_closed() {
    let (p, dp, addr) = with_one_pool(PoolConfig::default(), |c| {
        c.limits.handshake_timeout = HANDSHAKE;
    })
    .await;
    let mut good = ScriptedMiner::ready(addr, "cgminer/4.11.1", "wallet.good")
        .await
        .unwrap();

    // Silent.
    let (mut silent, t0) = connect(addr).await;
    // A subscribe line dripped a byte every 100 ms, never finished.
    let (mut drip, t1) = connect(addr).await;
    let dripping = tokio::spawn(async move {
        let line = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"slow\"]}";
        for b in line.iter().cycle() {
            if drip.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drip
    });
    // Subscribed, never authorized, chatting to keep the line busy.
    let (mut half, t2) = connect(addr).await;
    half.write_all(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"half\"]}\n")
        .await
        .unwrap();

    for (what, took) in [
        ("silent", until_closed(&mut silent, t0).await),
        ("subscribed only", until_closed(&mut half, t2).await),
    ] {
        assert!(
            took >= Duration::from_secs_f64(HANDSHAKE * 0.9),
            "{what}: closed after {took:?}, before the timeout"
        );
    }
    let mut drip = tokio::time::timeout(BOUND, dripping)
        .await
        .expect("the dripping connection is cut")
        .unwrap();
    until_closed(&mut drip, t1).await;

    // Past the handshake timeout, the miner that finished its handshake mines on.
    tokio::time::sleep(Duration::from_secs_f64(HANDSHAKE)).await;
    mine_one(&p, &mut good).await;
    let stats = dp.plane(Algorithm::Sha256).unwrap().stats.clone();
    assert_eq!(stats.active.load(Relaxed), 1, "only the good miner is left");
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_tls_client_that_never_says_hello_is_closed_at_the_handshake_timeout() {
    let cert = TestCert::new();
    let p = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let mut cfg = test_config(vec![pool("a", p.addr(), PoolMode::Aggregate)]);
    cfg.listeners.sha256[0].tls = Some(cert.listener_tls());
    cfg.limits.handshake_timeout = HANDSHAKE;
    let (dp, addr) = start(cfg).await.unwrap();
    let (mut silent, t0) = connect(addr).await;
    let took = until_closed(&mut silent, t0).await;
    assert!(
        took >= Duration::from_secs_f64(HANDSHAKE * 0.9),
        "closed after {took:?}, before the timeout"
    );
    let mut m = ScriptedMiner::ready_with(addr, Some(&cert.connector), "cgminer/4.11.1", "w.tls")
        .await
        .unwrap();
    mine_one(&p, &mut m).await;
    let stats = dp.plane(Algorithm::Sha256).unwrap().stats.clone();
    assert_eq!(stats.tls_failures.load(Relaxed), 1);
    dp.shutdown(Duration::from_secs(2)).await;
}
