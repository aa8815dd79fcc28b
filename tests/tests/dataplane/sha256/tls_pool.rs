//! TLS to pools (`stratum+ssl://`, the seed's `ssl: true`): the data plane
//! connects through TLS to a pool whose certificate it trusts through
//! `upstream.tls_ca_file`, and miners mine there as on plain TCP (the pool
//! verifies every share). A pool whose certificate it does not trust gets
//! no hashrate: the connection fails its TLS handshake and the miners are
//! answered that no pool is available, never silently mined into nowhere.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use switchyard_dataplane::DataPlane;
use switchyard_dataplane::config::PoolMode;
use switchyard_tests::dp::{pool, test_config};
use switchyard_tests::{PoolConfig, ScriptedMiner, ScriptedPool};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(30);

/// A TLS front for `backend` with a fresh self-signed certificate for
/// 127.0.0.1; returns its address and the certificate (PEM).
async fn tls_front(backend: SocketAddr) -> (SocketAddr, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let pem = cert.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (addr, pem)
}

fn tls_pool_config(front: SocketAddr) -> switchyard_dataplane::config::Pool {
    let mut p = pool("secure", front, PoolMode::Aggregate);
    p.url = format!("stratum+ssl://{front}");
    p
}

#[tokio::test]
async fn miners_mine_through_tls_to_a_pool_with_a_trusted_certificate() {
    let backend = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let (front, pem) = tls_front(backend.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("pool-ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let mut cfg = test_config(vec![tls_pool_config(front)]);
    cfg.upstream.tls_ca_file = Some(ca.to_string_lossy().into_owned());
    cfg.validate().expect("a TLS pool is a valid pool");
    let dp = DataPlane::start(cfg).await.unwrap();
    let mut m = ScriptedMiner::ready(dp.sha256_addr().unwrap(), "cgminer", "farm.tls1")
        .await
        .unwrap();
    assert_eq!(dp.active_pool().as_deref(), Some("secure"));
    for _ in 0..3 {
        let share = m.find_share().await.unwrap();
        let r = m.submit(&share).await.unwrap();
        assert!(r.is_ok(), "{r:?}");
    }
    backend.wait_for_accepted(3, T).await.unwrap();
    assert_eq!(backend.rejected(), 0);
    dp.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_untrusted_certificate_gets_no_hashrate_and_miners_are_told() {
    let backend = ScriptedPool::start(PoolConfig::default()).await.unwrap();
    let (front, _pem) = tls_front(backend.addr()).await;
    let mut cfg = test_config(vec![tls_pool_config(front)]);
    cfg.aggregation.subscribe_wait = 1.0;
    let dp = DataPlane::start(cfg).await.unwrap();
    let mut m = ScriptedMiner::connect(dp.sha256_addr().unwrap())
        .await
        .unwrap();
    let r = m
        .request("mining.subscribe", serde_json::json!(["cgminer"]))
        .await
        .unwrap();
    let (_, text) = r.error_parts().expect("no pool to subscribe to");
    assert!(text.contains("No pool"), "{text}");
    assert_eq!(dp.active_pool(), None);
    assert_eq!(
        backend.connections(),
        0,
        "nothing got through the TLS front"
    );
    dp.shutdown(Duration::from_secs(2)).await;
}
