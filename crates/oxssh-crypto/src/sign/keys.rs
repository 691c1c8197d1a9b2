//! Signing keys: generated with aws-lc, or loaded from unencrypted `openssh-key-v1` files
//! (OpenSSH PROTOCOL.key; `oxssh-keys` parses, aws-lc builds and checks the key).
//!
//! aws-lc keeps the private key material inside its own objects and wipes it when they
//! are dropped; the few intermediate copies made here (CRT exponents) live in
//! [`Zeroizing`] buffers, and `oxssh-keys` wipes its parsed key on drop.

use super::{ecdsa_fixed_to_ssh, trim_zeros};
use crate::rand::aws_rng;
use aws_lc_rs::rsa::KeyPairComponents;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaKeyPair,
    RsaPublicKeyComponents,
};
use crypto_bigint::{BoxedUint, NonZero};
use oxssh_keys::pkix::Der;
use oxssh_keys::{EcdsaCurve, KeyMaterial, PrivateKey, PrivateKeyError, PublicKey};
use oxssh_proto::crypto::{CryptoError, SigningKey};
use oxssh_wire::names::key as names;
use zeroize::Zeroizing;

/// Which kind of key [`generate_signing_key`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// Ed25519 (RFC 8709).
    Ed25519,
    /// ECDSA on a NIST curve (RFC 5656).
    Ecdsa(EcdsaCurve),
    /// RSA with a modulus of 2048, 3072, 4096 or 8192 bits.
    Rsa {
        /// Modulus size.
        bits: usize,
    },
}

/// Generates a fresh key pair with aws-lc's DRBG.
///
/// # Errors
/// [`CryptoError::Unsupported`] for an RSA size other than 2048, 3072, 4096 or 8192 bits;
/// [`CryptoError::Random`] if generation fails.
pub fn generate_signing_key(kind: KeyKind) -> Result<Box<dyn SigningKey>, CryptoError> {
    match kind {
        KeyKind::Ed25519 => {
            let pair = Ed25519KeyPair::generate().map_err(|_| CryptoError::Random)?;
            Ok(Box::new(Ed25519Key::new(pair)?))
        }
        KeyKind::Ecdsa(curve) => {
            let pair =
                EcdsaKeyPair::generate(signing_alg(curve)).map_err(|_| CryptoError::Random)?;
            Ok(Box::new(EcdsaKey::new(curve, pair)?))
        }
        KeyKind::Rsa { bits } => {
            let size = super::generate::rsa_key_size(bits)?;
            let pair = RsaKeyPair::generate(size).map_err(|_| CryptoError::Random)?;
            Ok(Box::new(RsaKey::new(pair)?))
        }
    }
}

/// Loads an unencrypted OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`)
/// holding an Ed25519, ECDSA or RSA key. aws-lc checks that the private and public halves
/// agree.
///
/// # Errors
/// [`CryptoError::InvalidKey`] if the text does not parse or the halves disagree (RSA keys
/// under 2048 bits are refused here: aws-lc does not sign with them);
/// [`CryptoError::Unsupported`] for encrypted files and other key types.
pub fn load_openssh_private_key(text: &str) -> Result<Box<dyn SigningKey>, CryptoError> {
    let key = PrivateKey::from_openssh(text).map_err(|e| match e {
        PrivateKeyError::PassphraseRequired => CryptoError::Unsupported("encrypted private key"),
        PrivateKeyError::UnsupportedKeyType(_) => CryptoError::Unsupported("private key type"),
        _ => CryptoError::InvalidKey,
    })?;
    signer_from_material(key.material())
}

/// A signer for a key's material; aws-lc checks that the halves agree.
pub(super) fn signer_from_material(
    material: KeyMaterial<'_>,
) -> Result<Box<dyn SigningKey>, CryptoError> {
    match material {
        KeyMaterial::Ed25519 { seed, public } => {
            let pair = Ed25519KeyPair::from_seed_and_public_key(seed, public)
                .map_err(|_| CryptoError::InvalidKey)?;
            Ok(Box::new(Ed25519Key::new(pair)?))
        }
        KeyMaterial::Ecdsa {
            curve,
            scalar,
            point,
        } => {
            // `scalar` is at the curve's full width, as aws-lc wants it.
            let aws =
                EcdsaKeyPair::from_private_key_and_public_key(signing_alg(curve), scalar, point)
                    .map_err(|_| CryptoError::InvalidKey)?;
            Ok(Box::new(EcdsaKey::new(curve, aws)?))
        }
        KeyMaterial::Rsa {
            n,
            e,
            d,
            p,
            q,
            iqmp,
        } => load_rsa(n, e, d, p, q, iqmp),
        _ => Err(CryptoError::Unsupported("private key type")),
    }
}

/// OpenSSH stores n, e, d, iqmp, p, q; aws-lc also wants the CRT exponents, derived here.
fn load_rsa(
    n: &[u8],
    e: &[u8],
    d: &[u8],
    p: &[u8],
    q: &[u8],
    iqmp: &[u8],
) -> Result<Box<dyn SigningKey>, CryptoError> {
    let d_p = crt_exponent(d, p)?;
    let d_q = crt_exponent(d, q)?;
    let components = KeyPairComponents {
        public_key: RsaPublicKeyComponents { n, e },
        d,
        p,
        q,
        dP: &**d_p,
        dQ: &**d_q,
        qInv: iqmp,
    };
    let aws = RsaKeyPair::from_components(&components).map_err(|_| CryptoError::InvalidKey)?;
    Ok(Box::new(RsaKey::new(aws)?))
}

/// d mod (prime - 1), the CRT exponent OpenSSH's format leaves out (RFC 8017 §3.2).
fn crt_exponent(d: &[u8], prime: &[u8]) -> Result<Zeroizing<Box<[u8]>>, CryptoError> {
    let bits = u32::try_from(d.len().max(prime.len()) * 8).map_err(|_| CryptoError::InvalidKey)?;
    let precision = bits.next_multiple_of(64);
    let d = Zeroizing::new(
        BoxedUint::from_be_slice(d, precision).map_err(|_| CryptoError::InvalidKey)?,
    );
    let prime = Zeroizing::new(
        BoxedUint::from_be_slice(prime, precision).map_err(|_| CryptoError::InvalidKey)?,
    );
    let modulus = prime.wrapping_sub(BoxedUint::one_with_precision(precision));
    let modulus = Zeroizing::new(
        NonZero::new(modulus)
            .into_option()
            .ok_or(CryptoError::InvalidKey)?,
    );
    let exponent = Zeroizing::new(d.rem(&modulus));
    Ok(Zeroizing::new(exponent.to_be_bytes()))
}

pub(super) fn signing_alg(curve: EcdsaCurve) -> &'static EcdsaSigningAlgorithm {
    match curve {
        EcdsaCurve::NistP256 => &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        EcdsaCurve::NistP384 => &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
        EcdsaCurve::NistP521 => &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

/// An Ed25519 signing key.
struct Ed25519Key {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl Ed25519Key {
    fn new(pair: Ed25519KeyPair) -> Result<Self, CryptoError> {
        let point: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self {
            pair,
            public: PublicKey::Ed25519(point),
        })
    }
}

impl SigningKey for Ed25519Key {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn signature_algorithms(&self) -> Vec<&'static str> {
        vec![names::SSH_ED25519]
    }
    fn sign(&self, algorithm: &str, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if algorithm != names::SSH_ED25519 {
            return Err(CryptoError::Unsupported("signature algorithm for this key"));
        }
        Ok(self.pair.sign(message).as_ref().to_vec())
    }
}

/// An ECDSA signing key.
struct EcdsaKey {
    curve: EcdsaCurve,
    pair: EcdsaKeyPair,
    public: PublicKey,
}

impl EcdsaKey {
    fn new(curve: EcdsaCurve, pair: EcdsaKeyPair) -> Result<Self, CryptoError> {
        let point = pair.public_key().as_ref().to_vec();
        if point.len() != curve.point_len() || point.first() != Some(&0x04) {
            return Err(CryptoError::InvalidKey);
        }
        Ok(Self {
            curve,
            pair,
            public: PublicKey::Ecdsa { curve, point },
        })
    }
}

impl SigningKey for EcdsaKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn signature_algorithms(&self) -> Vec<&'static str> {
        vec![self.curve.key_type()]
    }
    /// Returns `mpint r || mpint s` (RFC 5656 §3.1.2).
    fn sign(&self, algorithm: &str, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if algorithm != self.curve.key_type() {
            return Err(CryptoError::Unsupported("signature algorithm for this key"));
        }
        let fixed = self
            .pair
            .sign(&aws_rng(), message)
            .map_err(|_| CryptoError::Random)?;
        ecdsa_fixed_to_ssh(fixed.as_ref())
    }
}

/// An RSA signing key. It offers `rsa-sha2-512` then `rsa-sha2-256`. Legacy `ssh-rsa`
/// (SHA-1) signatures are refused: aws-lc-rs offers no SHA-1 PKCS#1 signing, and OpenSSH
/// servers and clients since 8.8 do not ask for them.
struct RsaKey {
    pair: RsaKeyPair,
    public: PublicKey,
}

impl RsaKey {
    fn new(pair: RsaKeyPair) -> Result<Self, CryptoError> {
        let (e, n) =
            rsa_public_from_der(pair.public_key().as_ref()).ok_or(CryptoError::InvalidKey)?;
        Ok(Self {
            pair,
            public: PublicKey::Rsa { e, n },
        })
    }
}

impl SigningKey for RsaKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn signature_algorithms(&self) -> Vec<&'static str> {
        vec![names::RSA_SHA2_512, names::RSA_SHA2_256]
    }
    fn sign(&self, algorithm: &str, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let encoding: &'static dyn sig::RsaEncoding = match algorithm {
            a if a == names::RSA_SHA2_512 => &sig::RSA_PKCS1_SHA512,
            a if a == names::RSA_SHA2_256 => &sig::RSA_PKCS1_SHA256,
            // aws-lc-rs has no PKCS#1 SHA-1 signing encoding: `ssh-rsa` verifies only.
            a if a == names::SSH_RSA => {
                return Err(CryptoError::Unsupported("signing with ssh-rsa (SHA-1)"))
            }
            _ => return Err(CryptoError::Unsupported("signature algorithm for this key")),
        };
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(encoding, &aws_rng(), message, &mut signature)
            .map_err(|_| CryptoError::InvalidKey)?;
        Ok(signature)
    }
}

/// Reads PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`
/// (RFC 8017 §A.1.1), the DER aws-lc gives for a key pair's public half, as (e, n)
/// magnitudes without leading zeros.
fn rsa_public_from_der(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut outer = Der(der);
    let mut sequence = Der(outer.element(0x30)?);
    let n = trim_zeros(sequence.element(0x02)?).to_vec();
    let e = trim_zeros(sequence.element(0x02)?).to_vec();
    (outer.0.is_empty() && sequence.0.is_empty() && !n.is_empty() && !e.is_empty())
        .then_some((e, n))
}
