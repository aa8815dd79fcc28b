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
