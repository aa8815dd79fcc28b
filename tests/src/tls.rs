//! TLS for the harness miners: a fresh self-signed certificate for
//! 127.0.0.1 written to PEM files (for a data plane listener's `tls:`), a
//! connector that trusts it, and [`connect`], which gives the two halves of
//! a plain or TLS connection behind one boxed type.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::lines::DEFAULT_TIMEOUT;

pub type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
pub type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// A certificate for 127.0.0.1, its files, and a client that trusts it.
pub struct TestCert {
    _dir: tempfile::TempDir,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub connector: TlsConnector,
}

impl TestCert {
    pub fn new() -> Self {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()])
            .expect("a self-signed certificate");
        let dir = tempfile::tempdir().expect("a temp dir");
        let cert_file = dir.path().join("miners.crt");
        let key_file = dir.path().join("miners.key");
        std::fs::write(&cert_file, cert.cert.pem()).expect("write the certificate");
        std::fs::write(&key_file, cert.signing_key.serialize_pem()).expect("write the key");
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(cert.cert.der().to_vec()))
            .expect("a usable root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        TestCert {
            _dir: dir,
            cert_file,
            key_file,
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    /// The `tls:` section of a data plane listener serving this certificate.
    pub fn listener_tls(&self) -> switchyard_dataplane::config::ListenerTls {
        switchyard_dataplane::config::ListenerTls {
            cert_file: self.cert_file.display().to_string(),
            key_file: self.key_file.display().to_string(),
        }
    }
}

impl Default for TestCert {
    fn default() -> Self {
        TestCert::new()
    }
}

/// Connects to `addr`, over TLS (verifying 127.0.0.1) when a connector is
/// given; the halves and the local address.
pub async fn connect(
    addr: SocketAddr,
    tls: Option<&TlsConnector>,
) -> anyhow::Result<(ReadHalf, WriteHalf, SocketAddr)> {
    let stream = tokio::time::timeout(DEFAULT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("timed out connecting to {addr}"))?
        .with_context(|| format!("connecting to {addr}"))?;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr()?;
    let Some(connector) = tls else {
        let (r, w) = stream.into_split();
        return Ok((Box::new(r), Box::new(w), local));
    };
    let name = ServerName::IpAddress(addr.ip().into());
    let tls = tokio::time::timeout(DEFAULT_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| anyhow!("timed out in the TLS handshake with {addr}"))?
        .with_context(|| format!("TLS handshake with {addr}"))?;
    let (r, w) = tokio::io::split(tls);
    Ok((Box::new(r), Box::new(w), local))
}
