//! TLS to pools (`stratum+ssl://`, the seed's `ssl: true`): rustls with the
//! `ring` provider, certificates checked against the Mozilla roots compiled
//! in (`webpki-roots`, so a fresh machine needs no CA bundle) plus the PEM
//! certificates of `upstream.tls_ca_file` (a pool with a private CA), and
//! the pool's host name (or IP address) as the name to verify.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Connects TLS sessions to pools; cheap to clone.
#[derive(Clone)]
pub struct PoolTls {
    connector: TlsConnector,
    /// Certificates added from `upstream.tls_ca_file`.
    extra_roots: usize,
}

impl fmt::Debug for PoolTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolTls")
            .field("extra_roots", &self.extra_roots)
            .finish_non_exhaustive()
    }
}

impl Default for PoolTls {
    /// The Mozilla roots only.
    fn default() -> Self {
        PoolTls::new(None).expect("the built-in roots alone always build")
    }
}

impl PoolTls {
    /// The built-in roots, plus every certificate of `ca_file` (PEM).
    pub fn new(ca_file: Option<&Path>) -> Result<Self, String> {
        let mut roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut extra_roots = 0;
        if let Some(path) = ca_file {
            for cert in read_certificates(path)? {
                roots.add(cert).map_err(|e| {
                    format!(
                        "{}: a certificate is not usable as a CA: {e}",
                        path.display()
                    )
                })?;
                extra_roots += 1;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(PoolTls {
            connector: TlsConnector::from(Arc::new(config)),
            extra_roots,
        })
    }

    /// The TLS handshake over `stream`, verifying the certificate for `host`.
    pub async fn connect(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host:?} is not a name TLS can verify: {e}"))?;
        self.connector
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS handshake with {host}: {e}"))
    }
}

/// Every certificate in a PEM file; an error naming the file when there is
/// none or it cannot be read.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_adds_its_certificates_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["pool.test".into()]).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, cert.cert.pem()).unwrap();
        assert_eq!(PoolTls::new(Some(&good)).unwrap().extra_roots, 1);
        assert_eq!(PoolTls::default().extra_roots, 0);

        let missing = dir.path().join("missing.pem");
        let err = PoolTls::new(Some(&missing)).unwrap_err();
        assert!(err.contains("missing.pem"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = PoolTls::new(Some(&empty)).unwrap_err();
        assert!(
            err.contains("empty.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
    }
}
