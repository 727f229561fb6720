//! Test certificates and the simulator's TLS configuration.
//!
//! [`generate`] makes a throwaway PKI with `rcgen`: a CA, a server certificate for `127.0.0.1` and
//! `localhost` signed by it, and a client certificate (the gateway's mTLS identity at the PSP)
//! signed by it too, and writes them as PEM files to a directory the caller owns (a temporary
//! directory in tests and the demo). The simulator serves with the server certificate and requires
//! a client certificate chaining to the CA; a client trusts the CA (`ca_cert_pem`) and presents the
//! client certificate and key (`client_cert_pem`, `client_key_pem`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The common name of the client certificate [`generate`] issues (shown in the request log).
pub const CLIENT_COMMON_NAME: &str = "paygate-gateway";

/// The PEM files of a generated PKI.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA certificate: what clients trust and what client certificates must chain to.
    pub ca_cert_pem: PathBuf,
    /// The server certificate (for `127.0.0.1` and `localhost`).
    pub server_cert_pem: PathBuf,
    /// The server's private key (PKCS#8).
    pub server_key_pem: PathBuf,
    /// The client certificate, common name [`CLIENT_COMMON_NAME`].
    pub client_cert_pem: PathBuf,
    /// The client's private key (PKCS#8).
    pub client_key_pem: PathBuf,
}

/// Why certificates could not be made or loaded.
#[derive(Debug)]
pub struct PkiError(pub String);

impl std::fmt::Display for PkiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pki: {}", self.0)
    }
}

impl std::error::Error for PkiError {}

fn pki_error(context: &str) -> impl Fn(&dyn std::fmt::Display) -> PkiError + '_ {
    move |error| PkiError(format!("{context}: {error}"))
}

/// Generates a CA, a server and a client certificate and writes them to `dir` (created if
/// missing) as `ca.pem`, `server.pem`, `server.key`, `client.pem`, `client.key`.
pub fn generate(dir: &Path) -> Result<Pki, PkiError> {
    std::fs::create_dir_all(dir).map_err(|error| pki_error("create the directory")(&error))?;

    let ca_key = KeyPair::generate().map_err(|error| pki_error("ca key")(&error))?;
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).map_err(|error| pki_error("ca")(&error))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "paygate test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(|error| pki_error("ca certificate")(&error))?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(|error| pki_error("server key")(&error))?;
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|error| pki_error("server")(&error))?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "bacen-pix-sim");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(|error| pki_error("server certificate")(&error))?;

    let client_key = KeyPair::generate().map_err(|error| pki_error("client key")(&error))?;
    let mut client_params = CertificateParams::new(Vec::<String>::new())
        .map_err(|error| pki_error("client")(&error))?;
    client_params
        .distinguished_name
        .push(DnType::CommonName, CLIENT_COMMON_NAME);
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params
        .signed_by(&client_key, &issuer)
        .map_err(|error| pki_error("client certificate")(&error))?;

    let pki = Pki {
        ca_cert_pem: dir.join("ca.pem"),
        server_cert_pem: dir.join("server.pem"),
        server_key_pem: dir.join("server.key"),
        client_cert_pem: dir.join("client.pem"),
        client_key_pem: dir.join("client.key"),
    };
    let files = [
        (&pki.ca_cert_pem, ca_cert.pem()),
        (&pki.server_cert_pem, server_cert.pem()),
        (&pki.server_key_pem, server_key.serialize_pem()),
        (&pki.client_cert_pem, client_cert.pem()),
        (&pki.client_key_pem, client_key.serialize_pem()),
    ];
    for (path, pem) in files {
        std::fs::write(path, pem).map_err(|error| pki_error("write a pem file")(&error))?;
    }
    Ok(pki)
}

/// The server side: the server certificate, and client certificates required and verified
/// against the CA.
pub(crate) fn server_config(pki: &Pki) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.server_cert_pem)
        .map_err(|error| pki_error("server certificate")(&error))?
        .collect::<Result<_, _>>()
        .map_err(|error| pki_error("server certificate")(&error))?;
    let key = PrivateKeyDer::from_pem_file(&pki.server_key_pem)
        .map_err(|error| pki_error("server key")(&error))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&pki.ca_cert_pem)
        .map_err(|error| pki_error("ca certificate")(&error))?
    {
        let ca = ca.map_err(|error| pki_error("ca certificate")(&error))?;
        roots
            .add(ca)
            .map_err(|error| pki_error("ca certificate")(&error))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|error| pki_error("client verifier")(&error))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| pki_error("protocol versions")(&error))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|error| pki_error("server certificate")(&error))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The common name of a certificate's subject (the last common name in the certificate: the
/// issuer's comes first), read straight from the DER. `None` when there is none.
pub(crate) fn common_name(der: &[u8]) -> Option<String> {
    const CN_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    let mut found = None;
    let mut index = 0;
    while let Some(window) = der.get(index..index + CN_OID.len()) {
        if window == CN_OID {
            let tag_at = index + CN_OID.len();
            let length = der.get(tag_at + 1).copied().map(usize::from);
            if let Some(length) = length.filter(|length| *length < 0x80)
                && let Some(value) = der.get(tag_at + 2..tag_at + 2 + length)
            {
                found = Some(String::from_utf8_lossy(value).into_owned());
            }
        }
        index += 1;
    }
    found
}
