//! TLS for the HTTPS listener: rustls with TLS 1.2 and 1.3 only, from configured PEM files
//! or from a development certificate generated into the data directory on first start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The TLS versions the server offers: 1.3 and 1.2 (the posture report reads them here).
pub static PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The names of [`PROTOCOL_VERSIONS`], e.g. `TLS 1.3`.
pub fn protocol_names() -> Vec<String> {
    PROTOCOL_VERSIONS
        .iter()
        .map(|v| match v.version {
            rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_owned(),
            rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_owned(),
            rustls::ProtocolVersion::TLSv1_1 => "TLS 1.1".to_owned(),
            rustls::ProtocolVersion::TLSv1_0 => "TLS 1.0".to_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Why TLS could not be set up; the message names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// The names and addresses this server answers for: those its TLS certificate is valid
/// for (its subject alternative names, wildcards included).
#[derive(Debug, Clone)]
pub struct ServedNames {
    leaf: CertificateDer<'static>,
}

impl ServedNames {
    /// Names from a certificate (DER).
    pub fn new(leaf: CertificateDer<'static>) -> Self {
        Self { leaf }
    }

    /// Whether the certificate is valid for `host` (a DNS name or an IP address, without
    /// brackets or port).
    pub fn answers_for(&self, host: &str) -> bool {
        let Ok(name) = rustls::pki_types::ServerName::try_from(host) else {
            return false;
        };
        rustls::server::ParsedCertificate::try_from(&self.leaf)
            .and_then(|cert| rustls::client::verify_server_name(&cert, &name))
            .is_ok()
    }
}

/// Builds the rustls configuration, and the names its certificate is valid for. With no
/// `cert`/`key`, uses (or creates) `tls/dev-cert.pem` and `tls/dev-key.pem` in
/// `data_dir`, valid for localhost, its addresses and the host's name.
pub fn server_config(
    data_dir: &Path,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<(Arc<ServerConfig>, ServedNames), TlsError> {
    let (cert_path, key_path) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_owned(), k.to_owned()),
        _ => ensure_dev_certificate(data_dir)?,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| {
            TlsError(format!(
                "cannot read TLS certificate {}: {}",
                cert_path.display(),
                pem_reason(&e)
            ))
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            TlsError(format!(
                "TLS certificate {} is not valid PEM: {}",
                cert_path.display(),
                pem_reason(&e)
            ))
        })?;
    let Some(leaf) = certs.first().cloned() else {
        return Err(TlsError(format!(
            "TLS certificate {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
            cert_path.display()
        )));
    };
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
        TlsError(format!(
            "cannot load TLS private key {}: {} (expected a PEM PKCS#8, PKCS#1 or SEC1 key)",
            key_path.display(),
            pem_reason(&e)
        ))
    })?;
    let names = ServedNames::new(leaf);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError(format!("TLS protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            TlsError(format!(
                "TLS certificate {} and key {} cannot be used together: {e}",
                cert_path.display(),
                key_path.display()
            ))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), names))
}

fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item found".into(),
        other => format!("{other:?}"),
    }
}

fn ensure_dev_certificate(data_dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = data_dir.join("tls");
    let cert_path = dir.join("dev-cert.pem");
    let key_path = dir.join("dev-key.pem");
    if cert_path.exists() || key_path.exists() {
        return Ok((cert_path, key_path));
    }
    rampart_service::files::create_private_dir(&dir)
        .map_err(|e| TlsError(format!("cannot create {}: {e}", dir.display())))?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() && !names.iter().any(|n| n == host) {
            names.push(host.to_owned());
        }
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError(format!("cannot generate a development certificate: {e}")))?;
    write_private(&key_path, generated.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, generated.cert.pem())
        .map_err(|e| TlsError(format!("cannot write {}: {e}", cert_path.display())))?;
    tracing::warn!(
        cert = %cert_path.display(),
        "generated a self-signed development certificate; configure tls_cert and tls_key for production"
    );
    Ok((cert_path, key_path))
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    rampart_service::files::write_new_private(path, &[contents])
        .map_err(|e| TlsError(format!("cannot create {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_development_certificate_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        server_config(dir.path(), None, None).unwrap();
        let cert = std::fs::read(dir.path().join("tls/dev-cert.pem")).unwrap();
        server_config(dir.path(), None, None).unwrap();
        assert_eq!(
            cert,
            std::fs::read(dir.path().join("tls/dev-cert.pem")).unwrap()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("tls/dev-key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn served_names_are_the_certificate_s() {
        let dir = tempfile::tempdir().unwrap();
        let (_, names) = server_config(dir.path(), None, None).unwrap();
        for host in ["localhost", "127.0.0.1", "::1"] {
            assert!(names.answers_for(host), "{host}");
        }
        for host in [
            "evil.example",
            "127.0.0.2",
            "localhost.evil.example",
            "",
            "a b",
        ] {
            assert!(!names.answers_for(host), "{host}");
        }
    }

    #[test]
    fn broken_or_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        server_config(dir.path(), None, None).unwrap();
        let good_cert = dir.path().join("tls/dev-cert.pem");
        let good_key = dir.path().join("tls/dev-key.pem");
        let corrupt = dir.path().join("corrupt.pem");
        std::fs::write(
            &corrupt,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let missing = dir.path().join("missing.pem");
        let other = tempfile::tempdir().unwrap();
        server_config(other.path(), None, None).unwrap();
        let other_key = other.path().join("tls/dev-key.pem");
        let cases: [(&Path, &Path, &str); 5] = [
            (&missing, &good_key, "cannot read TLS certificate"),
            (&corrupt, &good_key, "not valid PEM"),
            (&empty, &good_key, "holds no PEM certificate"),
            (&good_cert, &empty, "cannot load TLS private key"),
            (&good_cert, &other_key, "cannot be used together"),
        ];
        for (cert, key, expected) in cases {
            let err = server_config(dir.path(), Some(cert), Some(key)).unwrap_err();
            assert!(err.0.contains(expected), "{expected}: {err}");
            assert!(err.0.contains(".pem"), "names the file: {err}");
        }
    }
}
