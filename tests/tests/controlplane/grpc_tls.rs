//! gRPC over TLS (SECURITY.md, "TLS"): with `tls_cert`/`tls_key` the
//! control plane serves TLS only; a data plane's link verifies the
//! certificate against its `ca_file` and the endpoint's host, and refuses
//! a certificate it cannot verify; the embedded data plane's plaintext
//! loopback port takes only the process's own in-memory tokens; `ctl`
//! verifies the certificate the same way (`--ca-file`).

use std::path::Path;
use std::time::Duration;

use switchyard_controlplane::{ControlPlane, Options, site_token_file};
use switchyard_dataplane::config::ControlPlaneLink;
use switchyard_dataplane::control::{self, ControlLink};
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::admin_client::AdminClient;
use switchyard_proto::v1::data_plane_client::DataPlaneClient;
use switchyard_tests::cp::{Bearer, ctl_raw};
use switchyard_tests::tls::TestCert;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(30);

async fn start_tls_cp(dir: &Path, cert: &TestCert) -> ControlPlane {
    switchyard_tests::lines::init_tracing();
    let import = switchyard_model::config::load(switchyard_model::config::sample(), chrono_tz::UTC)
        .expect("sample config");
    ControlPlane::start(Options {
        config: import,
        database: dir.join("switchyard.db"),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        local_tz: chrono_tz::UTC,
        tls: Some((cert.cert_file.clone(), cert.key_file.clone())),
    })
    .await
    .expect("control plane starts with TLS")
}

fn site_token(dir: &Path) -> String {
    std::fs::read_to_string(site_token_file(&dir.join("switchyard.db"), "default"))
        .unwrap()
        .trim()
        .to_string()
}

async fn start_link(
    endpoint: String,
    token: &str,
    ca: Option<&Path>,
    state: &Path,
) -> (ControlLink, CancellationToken) {
    let cfg = ControlPlaneLink {
        endpoint: Some(endpoint),
        token: Some(token.into()),
        ca_file: ca.map(|p| p.display().to_string()),
        state_dir: state.display().to_string(),
        health_interval: 1.0,
        ..ControlPlaneLink::default()
    };
    let stop = CancellationToken::new();
    let l = control::start(&cfg, "test-1.0", stop.clone())
        .await
        .expect("link starts");
    (l, stop)
}

async fn stop_link(l: ControlLink, stop: CancellationToken) {
    stop.cancel();
    tokio::time::timeout(WAIT, l.closed()).await.unwrap();
}

#[tokio::test]
async fn a_data_plane_links_over_tls_only_to_a_certificate_it_can_verify() {
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new();
    let cp = start_tls_cp(dir.path(), &cert).await;
    let port = cp.addr().port();
    let token = site_token(dir.path());

    // The CA it was given, the host the certificate names: linked.
    let (l, stop) = start_link(
        format!("https://127.0.0.1:{port}"),
        &token,
        Some(&cert.cert_file),
        &dir.path().join("dp-good"),
    )
    .await;
    let mut up = l.connected();
    tokio::time::timeout(WAIT, up.wait_for(|c| *c))
        .await
        .expect("linked over TLS")
        .unwrap();
    let id = l.dataplane_id().to_string();
    stop_link(l, stop).await;

    // Another CA, a host the certificate does not name, or plaintext
    // against the TLS port: never linked, nothing registered.
    let other = TestCert::new();
    let bad = [
        (
            "another CA",
            format!("https://127.0.0.1:{port}"),
            Some(other.cert_file.as_path()),
        ),
        (
            "a host the certificate does not name",
            format!("https://localhost:{port}"),
            Some(cert.cert_file.as_path()),
        ),
        ("plaintext", format!("http://127.0.0.1:{port}"), None),
    ];
    for (i, (what, endpoint, ca)) in bad.into_iter().enumerate() {
        let (l, stop) =
            start_link(endpoint, &token, ca, &dir.path().join(format!("dp-bad{i}"))).await;
        let mut up = l.connected();
        // Absence can only be shown with a bound: a first attempt fails at once.
        let r = tokio::time::timeout(Duration::from_secs(3), up.wait_for(|c| *c)).await;
        assert!(r.is_err(), "{what}: linked");
        stop_link(l, stop).await;
    }
    let rows = cp.store().dataplanes(None).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()],
        "only the verified link registered"
    );
    cp.shutdown().await;
}

#[tokio::test]
async fn the_embedded_data_planes_plaintext_port_takes_only_in_process_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new();
    let cp = start_tls_cp(dir.path(), &cert).await;
    let internal = cp.internal_endpoint();
    assert!(internal.starts_with("http://127.0.0.1:"), "{internal}");
    let channel = || async {
        Channel::from_shared(internal.clone())
            .unwrap()
            .connect()
            .await
            .expect("connect to the internal port")
    };
    let register = pb::RegisterRequest {
        dataplane_id: "x".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        hostname: "h".into(),
        plan_version: 0,
        contract_version: switchyard_proto::CONTRACT_VERSION,
    };
    // The site's real token, which works on the TLS port, is refused here.
    let mut c = DataPlaneClient::with_interceptor(channel().await, Bearer(site_token(dir.path())));
    let err = c.register(register.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert!(err.message().contains("own data plane"), "{err:?}");
    // No admin service on this port.
    let admin = std::fs::read_to_string(switchyard_controlplane::admin_token_file(
        &dir.path().join("switchyard.db"),
    ))
    .unwrap();
    let mut a = AdminClient::with_interceptor(channel().await, Bearer(admin.trim().to_string()));
    let err = a.status(pb::StatusRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    // An in-process token (what `controlplane start` gives its own data plane) works.
    let own = cp.internal_site_token("default").await.unwrap();
    let mut c = DataPlaneClient::with_interceptor(channel().await, Bearer(own));
    let reg = c
        .register(register)
        .await
        .expect("in-process token")
        .into_inner();
    assert_eq!(reg.site, "default");
    cp.shutdown().await;
}

#[tokio::test]
async fn ctl_talks_over_tls_only_to_a_certificate_it_can_verify() {
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new();
    let cp = start_tls_cp(dir.path(), &cert).await;
    let admin = std::fs::read_to_string(switchyard_controlplane::admin_token_file(
        &dir.path().join("switchyard.db"),
    ))
    .unwrap();
    let endpoint = format!("https://127.0.0.1:{}", cp.addr().port());
    let ca = cert.cert_file.display().to_string();
    let ok = ctl_raw(
        &[
            "--endpoint",
            &endpoint,
            "--ca-file",
            &ca,
            "--token",
            admin.trim(),
            "site",
            "list",
        ],
        &[],
    )
    .await;
    assert!(ok.ok().contains("default"), "{ok:?}");
    let other = TestCert::new();
    let other_ca = other.cert_file.display().to_string();
    let plain = format!("http://127.0.0.1:{}", cp.addr().port());
    for (what, args) in [
        (
            "another CA",
            vec!["--endpoint", &endpoint, "--ca-file", &other_ca],
        ),
        ("no CA", vec!["--endpoint", &endpoint]),
        ("plaintext", vec!["--endpoint", &plain]),
    ] {
        let mut args = args;
        args.extend(["--token", admin.trim(), "site", "list"]);
        let out = ctl_raw(&args, &[]).await;
        assert_ne!(out.code, 0, "{what}: {out:?}");
        assert!(!out.stdout.contains("default"), "{what}: {out:?}");
    }
    cp.shutdown().await;
}
