//! TLS from miners (design decision 8): a listener with `tls: { cert_file,
//! key_file }` accepts only TLS, with rustls and the `ring` provider. The
//! certificate chain and key are read and checked when the listener is
//! built (so `validate` and start-up name a bad file); the handshake runs in
//! the connection's own task under the handshake time limit, and a failure
//! costs only that connection (counted in the listener's stats).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::miner::{MinerRead, MinerWrite};
use crate::tls::read_certificates;

/// Accepts TLS sessions from miners; cheap to clone.
#[derive(Clone)]
pub struct MinerTls {
    acceptor: TlsAcceptor,
}

impl fmt::Debug for MinerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MinerTls").finish_non_exhaustive()
    }
}

impl MinerTls {
    /// The certificate chain of `cert_file` (PEM, the listener's own first)
    /// and the private key of `key_file` (PEM: PKCS#8, PKCS#1 or SEC1); an
    /// error naming the file and what is wrong.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self, String> {
        let chain = read_certificates(cert_file)?;
        let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
            format!(
                "{}: no usable PEM private key in it ({e})",
                key_file.display()
            )
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                format!(
                    "{} and {}: the key does not go with the certificate, or one is unusable: {e}",
                    cert_file.display(),
                    key_file.display()
                )
            })?;
        Ok(MinerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The handshake with a miner, within `limit`; its two halves.
    pub async fn accept(
        &self,
        stream: TcpStream,
        limit: Duration,
    ) -> Result<(MinerRead, MinerWrite), String> {
        let tls = tokio::time::timeout(limit, self.acceptor.accept(stream))
            .await
            .map_err(|_| format!("no TLS handshake within {limit:?}"))?
            .map_err(|e| format!("TLS handshake: {e}"))?;
        Ok(crate::miner::tls(tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_and_its_key_load_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["proxy.test".into()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["other.test".into()]).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let crt = write("proxy.crt", &cert.cert.pem());
        let key = write("proxy.key", &cert.signing_key.serialize_pem());
        let wrong_key = write("other.key", &other.signing_key.serialize_pem());
        let junk = write("junk.pem", "not pem\n");
        assert!(MinerTls::load(&crt, &key).is_ok());

        let e = MinerTls::load(&crt, &wrong_key).unwrap_err();
        assert!(
            e.contains("other.key") && e.contains("does not go with"),
            "{e}"
        );
        let e = MinerTls::load(&junk, &key).unwrap_err();
        assert!(
            e.contains("junk.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = MinerTls::load(&crt, &junk).unwrap_err();
        assert!(e.contains("junk.pem") && e.contains("private key"), "{e}");
        let e = MinerTls::load(&dir.path().join("none.crt"), &key).unwrap_err();
        assert!(e.contains("none.crt"), "{e}");
    }
}
