//! The one cryptographic check on an OpenSSH certificate (`PROTOCOL.certkeys`): the
//! CA's signature over it. The core runs it for user certificates in public-key
//! authentication and for host certificates in key exchange; whether the CA is trusted,
//! and the certificate valid now for this user or host, is the caller's policy.

use oxssh_keys::certificate::{Certificate, CERT_SUFFIX};

use crate::crypto::CryptoProvider;

/// The certificate algorithms (`PROTOCOL.certkeys`) whose plain algorithms the default
/// provider implements, in OpenSSH's preference order.
pub const CERT_ALGORITHMS: [&str; 7] = [
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
];

/// The `*-cert-v01@openssh.com` name for plain algorithm `plain`, if there is one.
pub fn cert_algorithm(plain: &str) -> Option<&'static str> {
    CERT_ALGORITHMS
        .iter()
        .copied()
        .find(|c| plain_algorithm(c) == Some(plain))
}

/// `plain` algorithm names with OpenSSH's certificate forms first: the default order
/// of `HostKeyAlgorithms` and `PubkeyAcceptedAlgorithms`.
pub fn certs_first<S: AsRef<str>>(plain: &[S]) -> Vec<String> {
    plain
        .iter()
        .filter_map(|p| cert_algorithm(p.as_ref()).map(str::to_owned))
        .chain(plain.iter().map(|p| p.as_ref().to_owned()))
        .collect()
}

/// `plain` algorithm names, each preceded by its certificate form: every name an
/// algorithm list may use.
pub fn with_cert_forms(plain: &[&'static str]) -> Vec<&'static str> {
    plain
        .iter()
        .flat_map(|p| cert_algorithm(p).into_iter().chain([*p]))
        .collect()
}

/// The plain algorithm behind a `*-cert-v01@openssh.com` algorithm name
/// (`rsa-sha2-512-cert-v01@openssh.com` signs as `rsa-sha2-512`), or `None` for a name
/// that is not a certificate algorithm.
pub fn plain_algorithm(name: &str) -> Option<&str> {
    name.strip_suffix(CERT_SUFFIX)
}

/// Checks the CA's signature over `cert`: a signature algorithm we implement, of the CA
/// key's type, verifying over [`Certificate::to_be_signed`].
///
/// # Errors
/// Why the certificate is refused, in words for the log.
pub fn verify_signature(provider: &CryptoProvider, cert: &Certificate) -> Result<(), &'static str> {
    let (alg_name, sig) = cert
        .signature_parts()
        .ok_or("malformed certificate signature")?;
    let alg = provider
        .signature(alg_name)
        .ok_or("unsupported certificate signature algorithm")?;
    if alg.key_type() != cert.signature_key.key_type() {
        return Err("certificate signature algorithm does not match the CA key");
    }
    alg.verify(&cert.signature_key, &cert.to_be_signed(), sig)
        .map_err(|_| "certificate signature verification failed")
}

/// A signing key with an OpenSSH certificate for it: signs as the key does, and
/// reports the certificate, so a client offers (and a server serves) the
/// `*-cert-v01@openssh.com` algorithms with the certificate as the public key blob.
pub struct CertifiedKey {
    key: std::sync::Arc<dyn crate::crypto::SigningKey>,
    cert: Certificate,
}

impl CertifiedKey {
    /// `cert` for `key`; `None` when the certificate is for another key.
    pub fn new(
        key: std::sync::Arc<dyn crate::crypto::SigningKey>,
        cert: Certificate,
    ) -> Option<Self> {
        (*key.public_key() == cert.key).then_some(Self { key, cert })
    }
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("key", self.key.public_key())
            .field("key_id", &self.cert.key_id)
            .finish_non_exhaustive()
    }
}

impl crate::crypto::SigningKey for CertifiedKey {
    fn public_key(&self) -> &oxssh_keys::PublicKey {
        self.key.public_key()
    }

    fn signature_algorithms(&self) -> Vec<&'static str> {
        self.key.signature_algorithms()
    }

    fn sign(&self, algorithm: &str, message: &[u8]) -> Result<Vec<u8>, crate::crypto::CryptoError> {
        self.key.sign(algorithm, message)
    }

    fn certificate(&self) -> Option<&Certificate> {
        Some(&self.cert)
    }
}
