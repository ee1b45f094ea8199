//! The TLS configuration of every reqwest client of the process: rustls on ring,
//! verified against the platform's trust roots, which are read on the first
//! handshake, not when a client is built.
//!
//! Reading and parsing the platform's CA bundle is the costliest step of building a
//! client, and a function builds its clients at init although most invocations never
//! call Stripe or send an outbound event: the roots are loaded once per process, by
//! the first connection that needs them.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, OnceLock};

/// The shared configuration (a clone shares the verifier and the session cache).
pub(super) fn tls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    static TLS: OnceLock<Result<rustls::ClientConfig, rustls::Error>> = OnceLock::new();
    TLS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(PlatformRoots::new(provider.clone()));
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            // Not a weaker check: the platform verifier itself, built on first use.
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tls)
    })
    .clone()
}

/// `rustls_platform_verifier::Verifier`, built the first time a certificate is checked.
/// A platform without usable roots fails that handshake (and every later one).
#[derive(Debug)]
struct PlatformRoots {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl PlatformRoots {
    fn new(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            verifier: OnceLock::new(),
        }
    }

    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }

    #[cfg(test)]
    fn loaded(&self) -> bool {
        self.verifier.get().is_some()
    }
}

impl ServerCertVerifier for PlatformRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        // What the platform verifier answers too, without loading the roots.
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_of_the_process_shares_one_tls_configuration() {
        let (a, b) = match (tls_config(), tls_config()) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => panic!("TLS configuration: {:?} {:?}", a.err(), b.err()),
        };
        assert!(Arc::ptr_eq(a.crypto_provider(), b.crypto_provider()));
        assert_eq!(a.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    }

    #[test]
    fn the_platform_roots_load_on_the_first_certificate_check_and_still_verify_it() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = PlatformRoots::new(provider.clone());
        let platform = rustls_platform_verifier::Verifier::new(provider)
            .unwrap_or_else(|e| panic!("platform verifier: {e}"));
        assert_eq!(
            roots.supported_verify_schemes(),
            platform.supported_verify_schemes()
        );
        assert!(!roots.loaded(), "nothing read before a handshake");
        // A certificate no root vouches for: refused, as the platform verifier refuses it.
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        let name = ServerName::try_from("api.stripe.com").unwrap_or_else(|e| panic!("{e}"));
        let lazy = roots.verify_server_cert(&junk, &[], &name, &[], UnixTime::now());
        let eager = platform.verify_server_cert(&junk, &[], &name, &[], UnixTime::now());
        assert!(roots.loaded());
        assert!(lazy.is_err(), "{lazy:?}");
        assert_eq!(lazy.err(), eager.err());
    }
}
