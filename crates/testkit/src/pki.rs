//! Certificates for TLS tests, made at run time so that no key material is committed: a CA
//! ([`Pki`]) signs certificates for `localhost` and 127.0.0.1 into PEM files ([`Identity`]).

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

use crate::DataDir;

/// A certificate authority that signs certificates into PEM files of one directory.
pub struct Pki {
    dir: DataDir,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
    name: String,
}

/// The files of one signed certificate.
pub struct Identity {
    pub cert: String,
    pub key: String,
}

impl Pki {
    /// A new CA, its certificate in `<name>-ca.crt`.
    pub fn new(dir: DataDir, name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let ca_key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.join(&format!("{name}-ca.crt")), ca.pem()).unwrap();
        Pki {
            dir,
            ca,
            ca_key,
            name: name.to_string(),
        }
    }

    pub fn ca_file(&self) -> String {
        self.file(&format!("{}-ca.crt", self.name))
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// A certificate for `localhost` and 127.0.0.1, good for servers and clients (a server's
    /// certificate is also the one its replication link presents).
    pub fn issue(&self, stem: &str) -> Identity {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, stem);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        let identity = Identity {
            cert: self.file(&format!("{stem}.crt")),
            key: self.file(&format!("{stem}.key")),
        };
        std::fs::write(&identity.cert, cert.pem()).unwrap();
        std::fs::write(&identity.key, key.serialize_pem()).unwrap();
        identity
    }
}
