//! gRPC over TLS: with `tls_cert`/`tls_key` the control plane serves only
//! TLS; a client trusting the certificate works, a plain-text one does not.

use switchyard_controlplane::{ControlPlane, Options, admin_token_file};
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::admin_client::AdminClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

#[tokio::test]
async fn the_admin_api_is_served_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    std::fs::write(dir.path().join("cp.crt"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("cp.key"), &key_pem).unwrap();
    let database = dir.path().join("switchyard.db");
    let cp = ControlPlane::start(Options {
        config: switchyard_model::config::load(
            switchyard_model::config::sample(),
            chrono_tz::Tz::UTC,
        )
        .unwrap(),
        database: database.clone(),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        local_tz: chrono_tz::Tz::UTC,
        tls: Some((dir.path().join("cp.crt"), dir.path().join("cp.key"))),
    })
    .await
    .unwrap();
    let token = std::fs::read_to_string(admin_token_file(&database))
        .unwrap()
        .trim()
        .to_string();

    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&cert_pem))
        .domain_name("localhost");
    let channel = Channel::from_shared(format!("https://{}", cp.addr()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut admin = AdminClient::new(channel);
    let mut req = tonic::Request::new(pb::StatusRequest {});
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req.metadata_mut().insert(
        switchyard_proto::CONTRACT_METADATA,
        switchyard_proto::CONTRACT_VERSION.into(),
    );
    let status = admin.status(req).await.unwrap().into_inner();
    assert_eq!(status.pools, 2);

    // Plain text gets nowhere.
    let plain = Channel::from_shared(format!("http://{}", cp.addr()))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let mut req = tonic::Request::new(pb::StatusRequest {});
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        assert!(AdminClient::new(channel).status(req).await.is_err());
    }
    cp.shutdown().await;
}

/// Single-machine mode with TLS on and a certificate for a name other than
/// the loopback address: the embedded data plane still links up (over its
/// own plaintext loopback port), and that port takes no site token.
#[tokio::test]
async fn the_embedded_data_plane_links_up_with_tls_on() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["cp.farm.example".to_string()]).unwrap();
    std::fs::write(dir.path().join("cp.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("cp.key"), cert.signing_key.serialize_pem()).unwrap();
    let database = dir.path().join("switchyard.db");
    let yaml = "controlplane: { timezone: UTC }\nproxy: { sha256: { enabled: true, bind_host: \"127.0.0.1\", bind_port: 0 } }\nservers:\n  sha256:\n    - { name: btc, host: \"127.0.0.1\", port: 9, username: u, password: x, start: \"00:00\", end: \"24:00\" }\n";
    let config = switchyard_model::config::load(yaml, chrono_tz::Tz::UTC).unwrap();
    let cp = ControlPlane::start(Options {
        config: config.clone(),
        database: database.clone(),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        local_tz: chrono_tz::Tz::UTC,
        tls: Some((dir.path().join("cp.crt"), dir.path().join("cp.key"))),
    })
    .await
    .unwrap();
    let internal = cp.internal_endpoint();
    assert!(internal.starts_with("http://127.0.0.1:"), "{internal}");
    assert_ne!(internal, format!("http://{}", cp.addr()));

    let dp = switchyard_controlplane::embedded::start(&cp, &config, &database)
        .await
        .unwrap()
        .expect("an embedded data plane");
    // Registered and acknowledging: the store says so once its ack lands
    // (no notification exists for that; poll, bounded).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let dps = cp.store().dataplanes(None).await.unwrap();
        if dps.first().is_some_and(|d| d.acked_plan_version >= 1) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{dps:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // The internal port refuses a site's own token.
    let site_token = std::fs::read_to_string(switchyard_controlplane::site_token_file(
        &database, "default",
    ))
    .unwrap();
    let channel = Channel::from_shared(internal)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = switchyard_proto::v1::data_plane_client::DataPlaneClient::new(channel);
    let mut req = tonic::Request::new(pb::RegisterRequest {
        dataplane_id: "intruder".into(),
        ..Default::default()
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", site_token.trim()).parse().unwrap(),
    );
    let err = client.register(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    dp.shutdown(std::time::Duration::from_secs(2)).await;
    cp.shutdown().await;
}
