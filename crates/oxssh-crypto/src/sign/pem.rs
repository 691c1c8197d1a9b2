//! Private keys in the PEM and PKCS#8 files OpenSSL and `ssh-keygen -m PEM|PKCS8`
//! write, read into a [`PrivateKey`] (as OpenSSH's `sshkey_parse_private_pem_fileblob`
//! accepts them): PKCS#1 `RSA PRIVATE KEY` (RFC 8017 §A.1.2), SEC1 `EC PRIVATE KEY`
//! (RFC 5915), and unencrypted PKCS#8 `PRIVATE KEY` (RFC 5208) holding RSA, ECDSA on
//! the NIST curves or Ed25519 (RFC 8410). aws-lc parses the EC keys and derives the
//! public halves; encrypted PEM and PKCS#8 files are refused.

use aws_lc_rs::encoding::AsBigEndian as _;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use oxssh_keys::pkix::{self, Der};
use oxssh_keys::{EcdsaCurve, KeyMaterial, PrivateKey};
use oxssh_proto::crypto::CryptoError;
use zeroize::Zeroizing;

use super::generate::{rsa_from_pkcs1, rsa_from_pkcs8};
use super::keys::signing_alg;

/// Why a PEM private key cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemKeyError {
    /// Not a PEM private key this reader knows.
    Unrecognised,
    /// An encrypted PEM or PKCS#8 key (not supported yet).
    Encrypted,
    /// A known container whose contents do not parse.
    Invalid,
}

impl std::fmt::Display for PemKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unrecognised => "not a PEM or PKCS#8 private key",
            Self::Encrypted => "encrypted PEM and PKCS#8 private keys are not supported yet",
            Self::Invalid => "invalid PEM or PKCS#8 private key",
        })
    }
}

/// Reads a PEM private key (`comment` is empty: these files carry none).
///
/// # Errors
/// [`PemKeyError`].
pub fn private_key_from_pem(text: &str) -> Result<PrivateKey, PemKeyError> {
    let pem = pkix::decode_pem(text).ok_or(PemKeyError::Unrecognised)?;
    if pem.encrypted || pem.label == "ENCRYPTED PRIVATE KEY" {
        return Err(PemKeyError::Encrypted);
    }
    let invalid = |_: CryptoError| PemKeyError::Invalid;
    match pem.label.as_str() {
        "RSA PRIVATE KEY" => rsa_from_pkcs1(&pem.der, "").map_err(invalid),
        "EC PRIVATE KEY" => ecdsa_from_der(&pem.der).map_err(invalid),
        "PRIVATE KEY" => from_pkcs8(&pem.der).map_err(invalid),
        _ => Err(PemKeyError::Unrecognised),
    }
}

fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, CryptoError> {
    let bad = || CryptoError::InvalidKey;
    let mut outer = Der(der);
    let mut info = outer.sequence().ok_or_else(bad)?;
    info.unsigned().ok_or_else(bad)?;
    let oid = info
        .sequence()
        .and_then(|mut alg| alg.oid())
        .ok_or_else(bad)?;
    if oid == pkix::OID_RSA {
        rsa_from_pkcs8(der, "")
    } else if oid == pkix::OID_EC {
        ecdsa_from_der(der)
    } else if oid == pkix::OID_ED25519 {
        // privateKey: OCTET STRING { CurvePrivateKey ::= OCTET STRING (the seed) }.
        let inner = info.octet_string().ok_or_else(bad)?;
        let seed = Der(inner).octet_string().ok_or_else(bad)?;
        ed25519_from_seed(seed)
    } else {
        Err(CryptoError::Unsupported("PKCS#8 key algorithm"))
    }
}

/// SEC1 or PKCS#8 EC key DER, whichever NIST curve aws-lc finds in it.
fn ecdsa_from_der(der: &[u8]) -> Result<PrivateKey, CryptoError> {
    for curve in [
        EcdsaCurve::NistP256,
        EcdsaCurve::NistP384,
        EcdsaCurve::NistP521,
    ] {
        if let Ok(pair) = EcdsaKeyPair::from_private_key_der(signing_alg(curve), der) {
            let scalar = pair
                .private_key()
                .as_be_bytes()
                .map_err(|_| CryptoError::InvalidKey)?;
            let material = KeyMaterial::Ecdsa {
                curve,
                scalar: scalar.as_ref(),
                point: pair.public_key().as_ref(),
            };
            return PrivateKey::new(material, "").map_err(|_| CryptoError::InvalidKey);
        }
    }
    Err(CryptoError::InvalidKey)
}

fn ed25519_from_seed(seed: &[u8]) -> Result<PrivateKey, CryptoError> {
    let seed: Zeroizing<[u8; 32]> =
        Zeroizing::new(seed.try_into().map_err(|_| CryptoError::InvalidKey)?);
    let pair = Ed25519KeyPair::from_seed_unchecked(seed.as_slice())
        .map_err(|_| CryptoError::InvalidKey)?;
    let public: [u8; 32] = pair
        .public_key()
        .as_ref()
        .try_into()
        .map_err(|_| CryptoError::InvalidKey)?;
    let material = KeyMaterial::Ed25519 {
        seed: &seed,
        public: &public,
    };
    PrivateKey::new(material, "").map_err(|_| CryptoError::InvalidKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_encrypted_pem_are_refused() {
        assert_eq!(
            private_key_from_pem("hello").unwrap_err(),
            PemKeyError::Unrecognised
        );
        let enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            private_key_from_pem(enc).unwrap_err(),
            PemKeyError::Encrypted
        );
        let bad = "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n";
        assert_eq!(private_key_from_pem(bad).unwrap_err(), PemKeyError::Invalid);
    }

    #[test]
    fn generated_rsa_pkcs8_reads_back() {
        use aws_lc_rs::encoding::AsDer as _;
        let pair =
            aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = pair.as_der().unwrap();
        let pem = pkix::encode_pem("PRIVATE KEY", der.as_ref());
        let key = private_key_from_pem(&pem).unwrap();
        assert_eq!(key.public_key().key_type(), "ssh-rsa");
    }
}
