//! TLS pieces the server and redis-lite-cli share, on rustls with the ring provider: PEM
//! certificates and keys read as Redis reads them, CA stores from a file and a directory, and
//! the peer checks Redis's links and redis-cli make (the chain against the CA, not the name;
//! `--insecure`: nothing).
//!
//! Layout: [`provider`], [`load_certs`] / [`load_key`] / [`roots`], [`client_builder`] (a
//! client context up to its own certificate).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WantsClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, ConfigBuilder, DigitallySignedStruct, RootCertStore,
    SignatureScheme, SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

pub use rustls;

/// Debian's bundle of the system's trusted CAs, which redis-cli trusts when given none.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// rustls's ring provider with all its suites.
pub fn provider() -> CryptoProvider {
    // ring builds with the C compiler alone (aws-lc-rs needs more); rustls deprecates it only
    // for lacking post-quantum key exchange, which Redis's OpenSSL 3.0 lacks too.
    #[allow(deprecated)]
    rustls::crypto::ring::default_provider()
}

/// The certificates of a PEM file.
pub fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("Failed to load certificate: {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load certificate: {path}: no certificate in the file"
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#1, PKCS#8 or SEC1). rustls reads no encrypted keys:
/// one is refused with how to decrypt it.
pub fn load_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let text =
        std::fs::read(path).map_err(|e| format!("Failed to load private key: {path}: {e}"))?;
    if text.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED") {
        let given = if pass.is_empty() {
            ""
        } else {
            " (a pass phrase is set)"
        };
        return Err(format!(
            "Failed to load private key: {path}: encrypted private keys are not supported{given}; decrypt it with `openssl pkey -in {path} -out plain.key`"
        ));
    }
    PrivateKeyDer::from_pem_slice(&text)
        .map_err(|e| format!("Failed to load private key: {path}: {e}"))
}

/// The CA certificates of `file` and of every PEM file in `dir` (empty: not given). A
/// directory may hold other files (CRLs, keys): only its certificates count.
pub fn roots(file: &str, dir: &str) -> Result<RootCertStore, String> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        format!("Failed to configure CA certificate(s) file/directory: {what}: {e}")
    };
    let mut roots = RootCertStore::empty();
    if !file.is_empty() {
        for cert in CertificateDer::pem_file_iter(file).map_err(|e| failed(file, &e))? {
            let cert = cert.map_err(|e| failed(file, &e))?;
            roots.add(cert).map_err(|e| failed(file, &e))?;
        }
    }
    if !dir.is_empty() {
        for entry in std::fs::read_dir(dir)
            .map_err(|e| failed(dir, &e))?
            .flatten()
        {
            let Ok(certs) = CertificateDer::pem_file_iter(entry.path()) else {
                continue;
            };
            for cert in certs.flatten() {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(roots)
}

/// How a client checks the server it connects to.
pub enum Trust {
    /// The chain must lead to one of these CAs; the name is not checked, as Redis's links and
    /// redis-cli (hiredis) do not check it.
    Chain(RootCertStore),
    /// Nothing is checked (redis-cli's `--insecure`).
    Anything,
}

impl Trust {
    /// The CAs of `file` and `dir`, or the system's when neither is given.
    pub fn from_files(file: &str, dir: &str) -> Result<Trust, String> {
        match file.is_empty() && dir.is_empty() {
            true => roots(SYSTEM_CA_BUNDLE, ""),
            false => roots(file, dir),
        }
        .map(Trust::Chain)
    }
}

/// A client context up to the certificate it presents (`with_client_auth_cert` or
/// `with_no_client_auth` finish it).
pub fn client_builder(
    provider: CryptoProvider,
    versions: &[&'static SupportedProtocolVersion],
    trust: Trust,
) -> Result<ConfigBuilder<ClientConfig, WantsClientCert>, String> {
    let provider = Arc::new(provider);
    let verifier = PeerCheck {
        chain: match trust {
            Trust::Chain(roots) => Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("server verification: {e}"))?,
            ),
            Trust::Anything => None,
        },
        provider: provider.clone(),
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| format!("tls-protocols: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier)))
}

/// The name to send as SNI and check nothing against: `host` itself (an IP address or a DNS
/// name), or a placeholder when it is neither.
pub fn server_name(host: &str) -> ServerName<'static> {
    ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::try_from("localhost").expect("a valid name"))
}

/// Checks the server's certificate chain against the CA (when `chain`), never its name; the
/// handshake's signatures are always checked.
#[derive(Debug)]
struct PeerCheck {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PeerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            // The name is checked only once the chain is good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
