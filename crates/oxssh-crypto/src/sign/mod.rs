//! Public-key signatures: verification by signature algorithm name, and signing keys
//! (generated, or loaded from OpenSSH private key files) in [`keys`].
//!
//! The `signature` bytes exchanged with the core are the inside of the SSH signature blob,
//! after the algorithm name (RFC 4253 §6.6):
//! - `ssh-ed25519`: the 64-byte signature (RFC 8709 §6).
//! - `ecdsa-sha2-*`: `mpint r || mpint s` (RFC 5656 §3.1.2), converted to and from
//!   aws-lc's fixed-width `r || s`.
//! - `rsa-sha2-256`, `rsa-sha2-512` (RFC 8332 §3), legacy `ssh-rsa` (RFC 4253 §6.6):
//!   the PKCS#1 v1.5 signature, as long as the modulus.

pub mod generate;
pub mod keys;
pub mod pem;

use aws_lc_rs::signature::{self as sig, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey};
use oxssh_keys::{EcdsaCurve, PublicKey};
use oxssh_proto::crypto::{CryptoError, SignatureAlgorithm};
use oxssh_wire::names::key as names;
use oxssh_wire::{Reader, Writer};

pub use generate::{generate_private_key, signer_from_private};
pub use keys::{generate_signing_key, load_openssh_private_key, KeyKind};
pub use pem::{private_key_from_pem, PemKeyError};

/// Smallest RSA modulus accepted for verification (OpenSSH `SSH_RSA_MINIMUM_MODULUS_SIZE`).
pub const RSA_MIN_BITS: usize = 1024;

/// `ssh-ed25519` (RFC 8709).
#[derive(Debug)]
pub struct Ed25519;

/// `ssh-ed25519`.
pub static SSH_ED25519: Ed25519 = Ed25519;

/// `ecdsa-sha2-nistp256/384/521` (RFC 5656 §3.1.2, §6.2).
#[derive(Debug)]
pub struct Ecdsa {
    curve: EcdsaCurve,
    verification: &'static sig::EcdsaVerificationAlgorithm,
}

/// `ecdsa-sha2-nistp256`: P-256 with SHA-256.
pub static ECDSA_SHA2_NISTP256: Ecdsa = Ecdsa {
    curve: EcdsaCurve::NistP256,
    verification: &sig::ECDSA_P256_SHA256_FIXED,
};

/// `ecdsa-sha2-nistp384`: P-384 with SHA-384.
pub static ECDSA_SHA2_NISTP384: Ecdsa = Ecdsa {
    curve: EcdsaCurve::NistP384,
    verification: &sig::ECDSA_P384_SHA384_FIXED,
};

/// `ecdsa-sha2-nistp521`: P-521 with SHA-512.
pub static ECDSA_SHA2_NISTP521: Ecdsa = Ecdsa {
    curve: EcdsaCurve::NistP521,
    verification: &sig::ECDSA_P521_SHA512_FIXED,
};

/// RSA PKCS#1 v1.5 signatures over an `ssh-rsa` key.
#[derive(Debug)]
pub struct Rsa {
    name: &'static str,
    parameters: &'static RsaParameters,
}

/// `rsa-sha2-512` (RFC 8332 §3).
pub static RSA_SHA2_512: Rsa = Rsa {
    name: names::RSA_SHA2_512,
    parameters: &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
};

/// `rsa-sha2-256` (RFC 8332 §3).
pub static RSA_SHA2_256: Rsa = Rsa {
    name: names::RSA_SHA2_256,
    parameters: &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
};

/// `ssh-rsa` (RFC 4253 §6.6, SHA-1). Legacy: offered only when configured.
pub static SSH_RSA: Rsa = Rsa {
    name: names::SSH_RSA,
    parameters: &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
};

impl SignatureAlgorithm for Ed25519 {
    fn name(&self) -> &'static str {
        names::SSH_ED25519
    }
    fn key_type(&self) -> &'static str {
        names::SSH_ED25519
    }
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let PublicKey::Ed25519(point) = key else {
            return Err(CryptoError::InvalidKey);
        };
        if signature.len() != 64 {
            return Err(CryptoError::BadSignature);
        }
        UnparsedPublicKey::new(&sig::ED25519, point)
            .verify(message, signature)
            .map_err(|_| CryptoError::BadSignature)
    }
}

impl Ecdsa {
    /// The curve this algorithm signs on.
    pub fn curve(&self) -> EcdsaCurve {
        self.curve
    }
}

impl SignatureAlgorithm for Ecdsa {
    fn name(&self) -> &'static str {
        self.curve.key_type()
    }
    fn key_type(&self) -> &'static str {
        self.curve.key_type()
    }
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let PublicKey::Ecdsa { curve, point } = key else {
            return Err(CryptoError::InvalidKey);
        };
        if *curve != self.curve {
            return Err(CryptoError::InvalidKey);
        }
        let fixed = ecdsa_ssh_to_fixed(self.curve, signature)?;
        UnparsedPublicKey::new(self.verification, point)
            .verify(message, &fixed)
            .map_err(|_| CryptoError::BadSignature)
    }
}

/// RFC 5656 §3.1.2 `mpint r || mpint s` to aws-lc's fixed `r || s`, each left-padded to
/// the scalar size. Values longer than the scalar, or trailing bytes, are refused.
pub(crate) fn ecdsa_ssh_to_fixed(
    curve: EcdsaCurve,
    signature: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut r = Reader::new(signature);
    let r_bytes = r.mpint_unsigned().map_err(|_| CryptoError::BadSignature)?;
    let s_bytes = r.mpint_unsigned().map_err(|_| CryptoError::BadSignature)?;
    r.finish().map_err(|_| CryptoError::BadSignature)?;
    let width = curve.scalar_len();
    let mut fixed = vec![0u8; 2 * width];
    for (half, value) in fixed.chunks_exact_mut(width).zip([r_bytes, s_bytes]) {
        let pad = width
            .checked_sub(value.len())
            .ok_or(CryptoError::BadSignature)?;
        let dst = half.get_mut(pad..).ok_or(CryptoError::BadSignature)?;
        dst.copy_from_slice(value);
    }
    Ok(fixed)
}

/// aws-lc's fixed `r || s` to RFC 5656 §3.1.2 `mpint r || mpint s`.
pub(crate) fn ecdsa_fixed_to_ssh(fixed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if fixed.is_empty() || fixed.len() % 2 != 0 {
        return Err(CryptoError::BadSignature);
    }
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let mut out = Vec::with_capacity(fixed.len() + 10);
    Writer::new(&mut out).mpint_unsigned(r).mpint_unsigned(s);
    Ok(out)
}

/// `bytes` without leading zero bytes.
pub(crate) fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

impl SignatureAlgorithm for Rsa {
    fn name(&self) -> &'static str {
        self.name
    }
    fn key_type(&self) -> &'static str {
        names::SSH_RSA
    }
    /// Keys under 1024 bits are refused (aws-lc also caps them at 8192). A signature
    /// shorter than the modulus is left-padded with zeros, as OpenSSH's `ssh_rsa_verify`
    /// does; a longer one fails.
    fn verify(&self, key: &PublicKey, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let PublicKey::Rsa { e, n } = key else {
            return Err(CryptoError::InvalidKey);
        };
        if key.bits() < RSA_MIN_BITS {
            return Err(CryptoError::InvalidKey);
        }
        let n = trim_zeros(n);
        let pad = n
            .len()
            .checked_sub(signature.len())
            .ok_or(CryptoError::BadSignature)?;
        let mut padded = vec![0u8; n.len()];
        padded
            .get_mut(pad..)
            .ok_or(CryptoError::BadSignature)?
            .copy_from_slice(signature);
        let components = RsaPublicKeyComponents {
            n,
            e: trim_zeros(e),
        };
        components
            .verify(self.parameters, message, &padded)
            .map_err(|_| CryptoError::BadSignature)
    }
}
