//! Public keys as SSH blobs: parsed once at the wire boundary into [`PublicKey`].

use oxssh_wire::names::key;
use oxssh_wire::{DecodeError, Reader, Writer};

/// Why a key could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The blob is malformed.
    #[error("malformed key: {0}")]
    Decode(#[from] DecodeError),
    /// The key type is not one we know.
    #[error("unknown key type {0:?}")]
    UnknownType(String),
    /// The key's fields are inconsistent (wrong length, curve mismatch).
    #[error("invalid key: {0}")]
    Invalid(&'static str),
}

/// NIST curves used by ECDSA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcdsaCurve {
    /// P-256
    NistP256,
    /// P-384
    NistP384,
    /// P-521
    NistP521,
}

impl EcdsaCurve {
    /// The curve identifier inside the blob (`nistp256`).
    pub fn identifier(self) -> &'static str {
        match self {
            Self::NistP256 => key::NISTP256,
            Self::NistP384 => key::NISTP384,
            Self::NistP521 => key::NISTP521,
        }
    }

    /// The key type name (`ecdsa-sha2-nistp256`).
    pub fn key_type(self) -> &'static str {
        match self {
            Self::NistP256 => key::ECDSA_SHA2_NISTP256,
            Self::NistP384 => key::ECDSA_SHA2_NISTP384,
            Self::NistP521 => key::ECDSA_SHA2_NISTP521,
        }
    }

    /// Length of an uncompressed SEC1 point (0x04 || X || Y).
    pub fn point_len(self) -> usize {
        match self {
            Self::NistP256 => 65,
            Self::NistP384 => 97,
            Self::NistP521 => 133,
        }
    }

    /// Size of one coordinate or scalar in bytes.
    pub fn scalar_len(self) -> usize {
        (self.point_len() - 1) / 2
    }

    fn from_key_type(name: &str) -> Option<Self> {
        [Self::NistP256, Self::NistP384, Self::NistP521]
            .into_iter()
            .find(|c| c.key_type() == name)
    }
}

/// A public key, parsed from its SSH blob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PublicKey {
    /// `ssh-ed25519`: 32-byte point.
    Ed25519([u8; 32]),
    /// `ecdsa-sha2-*`: uncompressed SEC1 point on the curve.
    Ecdsa {
        /// The curve.
        curve: EcdsaCurve,
        /// 0x04 || X || Y
        point: Vec<u8>,
    },
    /// `ssh-rsa`: exponent and modulus as unsigned big-endian magnitudes.
    Rsa {
        /// Public exponent.
        e: Vec<u8>,
        /// Modulus.
        n: Vec<u8>,
    },
}

/// Smallest RSA modulus we accept (OpenSSH refuses keys under 1024 bits).
const RSA_MIN_BITS: usize = 1024;
/// Largest RSA modulus we accept (OpenSSH's limit).
const RSA_MAX_BITS: usize = 16384;

impl PublicKey {
    /// Parses an SSH public key blob; trailing data is an error.
    pub fn from_blob(blob: &[u8]) -> Result<Self, KeyError> {
        let mut r = Reader::new(blob);
        let key = Self::read(&mut r)?;
        r.finish()?;
        Ok(key)
    }

    /// Reads one public key from `r` (type name then fields).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, KeyError> {
        let name = r.utf8()?;
        if name == key::SSH_ED25519 {
            let bytes = r.string()?;
            let point: [u8; 32] = bytes
                .try_into()
                .map_err(|_| KeyError::Invalid("ed25519 key must be 32 bytes"))?;
            return Ok(Self::Ed25519(point));
        }
        if name == key::SSH_RSA {
            let e = r.mpint_unsigned()?.to_vec();
            let n = r.mpint_unsigned()?.to_vec();
            let bits = bit_len(&n);
            if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
                return Err(KeyError::Invalid("RSA modulus size out of range"));
            }
            if e.is_empty() {
                return Err(KeyError::Invalid("RSA exponent is zero"));
            }
            return Ok(Self::Rsa { e, n });
        }
        if let Some(curve) = EcdsaCurve::from_key_type(name) {
            let identifier = r.utf8()?;
            if identifier != curve.identifier() {
                return Err(KeyError::Invalid("ECDSA curve does not match key type"));
            }
            let point = r.string()?;
            if point.len() != curve.point_len() || point.first() != Some(&0x04) {
                return Err(KeyError::Invalid("ECDSA point must be uncompressed"));
            }
            return Ok(Self::Ecdsa {
                curve,
                point: point.to_vec(),
            });
        }
        Err(KeyError::UnknownType(name.to_owned()))
    }

    /// The key type name as it appears in the blob.
    pub fn key_type(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => key::SSH_ED25519,
            Self::Ecdsa { curve, .. } => curve.key_type(),
            Self::Rsa { .. } => key::SSH_RSA,
        }
    }

    /// Appends the blob to `w`.
    pub fn write(&self, w: &mut Writer<'_>) {
        w.string(self.key_type().as_bytes());
        match self {
            Self::Ed25519(point) => {
                w.string(point);
            }
            Self::Ecdsa { curve, point } => {
                w.string(curve.identifier().as_bytes()).string(point);
            }
            Self::Rsa { e, n } => {
                w.mpint_unsigned(e).mpint_unsigned(n);
            }
        }
    }

    /// The SSH blob.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.write(&mut Writer::new(&mut buf));
        buf
    }

    /// Key size in bits as `ssh-keygen -l` reports it.
    pub fn bits(&self) -> usize {
        match self {
            Self::Ed25519(_) => 256,
            Self::Ecdsa { curve, .. } => match curve {
                EcdsaCurve::NistP256 => 256,
                EcdsaCurve::NistP384 => 384,
                EcdsaCurve::NistP521 => 521,
            },
            Self::Rsa { n, .. } => bit_len(n),
        }
    }

    /// The OpenSSH one-line form, `type base64-blob`, as in known_hosts and `.pub` files.
    pub fn to_openssh(&self) -> Result<String, KeyError> {
        let parsed = ssh_key::PublicKey::from_bytes(&self.to_blob())
            .map_err(|_| KeyError::Invalid("key not representable in OpenSSH format"))?;
        parsed
            .to_openssh()
            .map(|line| line.trim_end().to_owned())
            .map_err(|_| KeyError::Invalid("key not representable in OpenSSH format"))
    }

    /// The `.pub` form, `type base64-blob comment`; just `type base64-blob` when the
    /// comment is empty (what ssh-keygen writes for `-C ''`).
    pub fn to_openssh_with_comment(&self, comment: &str) -> Result<String, KeyError> {
        let mut line = self.to_openssh()?;
        if !comment.is_empty() {
            line.push(' ');
            line.push_str(comment);
        }
        Ok(line)
    }

    /// Parses `type base64-blob [comment]` and returns the comment too (empty if none).
    pub fn from_openssh_with_comment(line: &str) -> Result<(Self, String), KeyError> {
        let parsed = ssh_key::PublicKey::from_openssh(line.trim())
            .map_err(|_| KeyError::Invalid("not an OpenSSH public key line"))?;
        let blob = parsed
            .to_bytes()
            .map_err(|_| KeyError::Invalid("not an OpenSSH public key line"))?;
        let comment = parsed.comment().as_str_lossy().to_owned();
        Ok((Self::from_blob(&blob)?, comment))
    }

    /// Parses `type base64-blob [comment]`.
    pub fn from_openssh(line: &str) -> Result<Self, KeyError> {
        let parsed = ssh_key::PublicKey::from_openssh(line.trim())
            .map_err(|_| KeyError::Invalid("not an OpenSSH public key line"))?;
        let blob = parsed
            .to_bytes()
            .map_err(|_| KeyError::Invalid("not an OpenSSH public key line"))?;
        Self::from_blob(&blob)
    }
}

fn bit_len(magnitude: &[u8]) -> usize {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let trimmed = magnitude.get(start..).unwrap_or_default();
    match trimmed.first() {
        None => 0,
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_LINE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFizRxMOhLdaFb+sPqvhwUtDRErfHbGOLDyU8SdzMXU";

    #[test]
    fn parses_and_reencodes_openssh_ed25519_line() {
        let key = PublicKey::from_openssh(ED25519_LINE).unwrap();
        assert_eq!(key.key_type(), "ssh-ed25519");
        assert_eq!(key.to_openssh().unwrap(), ED25519_LINE);
        assert_eq!(PublicKey::from_blob(&key.to_blob()).unwrap(), key);
    }

    #[test]
    fn rejects_wrong_length_and_unknown_types() {
        let mut blob = Vec::new();
        Writer::new(&mut blob)
            .string(b"ssh-ed25519")
            .string(&[1; 31]);
        assert!(matches!(
            PublicKey::from_blob(&blob),
            Err(KeyError::Invalid(_))
        ));
        let mut blob = Vec::new();
        Writer::new(&mut blob).string(b"ssh-dss").string(&[1; 31]);
        assert!(matches!(
            PublicKey::from_blob(&blob),
            Err(KeyError::UnknownType(_))
        ));
    }

    #[test]
    fn rejects_small_rsa_and_mismatched_curve() {
        let mut blob = Vec::new();
        Writer::new(&mut blob)
            .string(b"ssh-rsa")
            .mpint_unsigned(&[1, 0, 1])
            .mpint_unsigned(&[0xc1; 64]);
        assert!(matches!(
            PublicKey::from_blob(&blob),
            Err(KeyError::Invalid(_))
        ));
        let mut blob = Vec::new();
        let mut point = vec![4u8];
        point.extend_from_slice(&[1; 64]);
        Writer::new(&mut blob)
            .string(b"ecdsa-sha2-nistp256")
            .string(b"nistp384")
            .string(&point);
        assert!(matches!(
            PublicKey::from_blob(&blob),
            Err(KeyError::Invalid(_))
        ));
    }
}
