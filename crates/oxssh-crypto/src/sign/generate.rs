//! Fresh key pairs whose private half is written to a file (`oxssh-keygen`), and signers
//! built from a decrypted [`PrivateKey`] (SSHSIG and certificate signing with a key that
//! was read from a passphrase-protected file).
//!
//! aws-lc generates every key; this module only copies out the fields the
//! `openssh-key-v1` format stores (OpenSSH PROTOCOL.key): the Ed25519 seed, the ECDSA
//! scalar, and RSA's `n`, `e`, `d`, `p`, `q`, `iqmp` (read from the PKCS#8 DER aws-lc
//! exports, RFC 8017 §A.1.2). Every intermediate copy is wiped on drop (aws-lc's own
//! export buffers zeroize themselves; ours are [`Zeroizing`]).

use super::keys::{signing_alg, KeyKind};
use super::trim_zeros;
use aws_lc_rs::encoding::{AsBigEndian as _, AsDer as _};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use oxssh_keys::pkix::Der;
use oxssh_keys::{KeyMaterial, PrivateKey};
use oxssh_proto::crypto::{CryptoError, SigningKey};
use zeroize::Zeroizing;

/// The RSA sizes aws-lc generates.
pub const RSA_SIZES: [usize; 4] = [2048, 3072, 4096, 8192];

/// aws-lc's key size for `bits`.
///
/// # Errors
/// [`CryptoError::Unsupported`] for any size but [`RSA_SIZES`].
pub(super) fn rsa_key_size(bits: usize) -> Result<KeySize, CryptoError> {
    match bits {
        2048 => Ok(KeySize::Rsa2048),
        3072 => Ok(KeySize::Rsa3072),
        4096 => Ok(KeySize::Rsa4096),
        8192 => Ok(KeySize::Rsa8192),
        _ => Err(CryptoError::Unsupported("RSA key size")),
    }
}

/// Generates a key pair of `kind` and returns it with its private material, ready to be
/// written as an `openssh-key-v1` file with `comment`.
///
/// # Errors
/// [`CryptoError::Unsupported`] for an RSA size outside [`RSA_SIZES`];
/// [`CryptoError::Random`] if generation fails; [`CryptoError::InvalidKey`] if aws-lc's
/// export cannot be read (which would be a bug).
pub fn generate_private_key(kind: KeyKind, comment: &str) -> Result<PrivateKey, CryptoError> {
    match kind {
        KeyKind::Ed25519 => generate_ed25519(comment),
        KeyKind::Ecdsa(curve) => {
            let pair =
                EcdsaKeyPair::generate(signing_alg(curve)).map_err(|_| CryptoError::Random)?;
            let scalar = pair
                .private_key()
                .as_be_bytes()
                .map_err(|_| CryptoError::InvalidKey)?;
            let material = KeyMaterial::Ecdsa {
                curve,
                scalar: scalar.as_ref(),
                point: pair.public_key().as_ref(),
            };
            PrivateKey::new(material, comment).map_err(|_| CryptoError::InvalidKey)
        }
        KeyKind::Rsa { bits } => {
            let pair =
                RsaKeyPair::generate(rsa_key_size(bits)?).map_err(|_| CryptoError::Random)?;
            let der = pair.as_der().map_err(|_| CryptoError::InvalidKey)?;
            rsa_from_pkcs8(der.as_ref(), comment)
        }
    }
}

/// Ed25519 from a fresh seed: aws-lc's generated pair does not hand its seed back, so the
/// seed is drawn here (from aws-lc's generator) and the pair derived from it.
fn generate_ed25519(comment: &str) -> Result<PrivateKey, CryptoError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(seed.as_mut_slice()).map_err(|_| CryptoError::Random)?;
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
    PrivateKey::new(material, comment).map_err(|_| CryptoError::InvalidKey)
}

/// Reads `PrivateKeyInfo { version, algorithm, OCTET STRING { RSAPrivateKey } }`
/// (RFC 5208 §5) and the PKCS#1 `RSAPrivateKey { version, n, e, d, p, q, dP, dQ, qInv }`
/// inside it (RFC 8017 §A.1.2).
pub(crate) fn rsa_from_pkcs8(der: &[u8], comment: &str) -> Result<PrivateKey, CryptoError> {
    let bad = || CryptoError::InvalidKey;
    let mut outer = Der(der);
    let mut info = Der(outer.element(0x30).ok_or_else(bad)?);
    info.element(0x02).ok_or_else(bad)?;
    info.element(0x30).ok_or_else(bad)?;
    let inner = info.element(0x04).ok_or_else(bad)?;
    rsa_from_pkcs1(inner, comment)
}

/// Reads a PKCS#1 `RSAPrivateKey` (RFC 8017 §A.1.2).
pub(crate) fn rsa_from_pkcs1(der: &[u8], comment: &str) -> Result<PrivateKey, CryptoError> {
    let bad = || CryptoError::InvalidKey;
    let mut outer = Der(der);
    let mut fields = Der(outer.element(0x30).ok_or_else(bad)?);
    let mut next = || fields.element(0x02).map(trim_zeros).ok_or_else(bad);
    let _version = next()?;
    let (n, e, d, p, q) = (next()?, next()?, next()?, next()?, next()?);
    let (_dp, _dq, iqmp) = (next()?, next()?, next()?);
    let material = KeyMaterial::Rsa {
        n,
        e,
        d,
        p,
        q,
        iqmp,
    };
    PrivateKey::new(material, comment).map_err(|_| CryptoError::InvalidKey)
}

/// A signer for a decrypted private key; aws-lc checks that the halves agree.
///
/// # Errors
/// As [`super::load_openssh_private_key`].
pub fn signer_from_private(key: &PrivateKey) -> Result<Box<dyn SigningKey>, CryptoError> {
    super::keys::signer_from_material(key.material())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxssh_keys::EcdsaCurve;

    fn round_trip(kind: KeyKind) {
        let key = generate_private_key(kind, "me@host").unwrap();
        assert_eq!(key.comment(), "me@host");
        let signer = signer_from_private(&key).unwrap();
        assert_eq!(signer.public_key(), key.public_key());
        let alg = signer.signature_algorithms()[0];
        assert!(!signer.sign(alg, b"data").unwrap().is_empty());
    }

    #[test]
    fn generated_ed25519_and_ecdsa_keys_sign_with_their_own_public_half() {
        round_trip(KeyKind::Ed25519);
        for curve in [
            EcdsaCurve::NistP256,
            EcdsaCurve::NistP384,
            EcdsaCurve::NistP521,
        ] {
            round_trip(KeyKind::Ecdsa(curve));
        }
    }

    #[test]
    fn generated_rsa_key_has_the_requested_size() {
        let key = generate_private_key(KeyKind::Rsa { bits: 2048 }, "").unwrap();
        assert_eq!(key.public_key().bits(), 2048);
        round_trip(KeyKind::Rsa { bits: 2048 });
    }

    #[test]
    fn rsa_sizes_aws_lc_cannot_make_are_refused() {
        assert!(matches!(
            generate_private_key(KeyKind::Rsa { bits: 1024 }, ""),
            Err(CryptoError::Unsupported(_))
        ));
    }

    #[test]
    fn truncated_pkcs8_is_invalid_not_a_panic() {
        for der in [
            &[][..],
            &[0x30, 0x82, 0x01],
            &[0x30, 0x03, 0x02, 0x01, 0x00],
        ] {
            assert!(rsa_from_pkcs8(der, "").is_err());
        }
    }
}
