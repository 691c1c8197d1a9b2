//! Private keys on the agent wire (OpenSSH PROTOCOL.agent §3.2, the same field layout as
//! the private section of `openssh-key-v1`): `string type || fields || string comment`.
//! Encoded by `oxssh-add`, decoded by the agent, both here so the layouts cannot drift.

use oxssh_keys::{EcdsaCurve, KeyMaterial, PrivateKey};
use oxssh_wire::names::key;
use oxssh_wire::{DecodeError, Reader, Writer};
use zeroize::Zeroizing;

/// Room reserved up front so the buffer never reallocates (a reallocation would leave an
/// unwiped copy of the secret behind); RSA 16384 needs about 5 KiB.
const BUFFER: usize = 16 * 1024;

/// Why a key on the wire could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyBlobError {
    /// Truncated or malformed fields.
    #[error("malformed key: {0}")]
    Decode(#[from] DecodeError),
    /// A key type we do not hold (DSA, security keys, certificates).
    #[error("unsupported key type {0}")]
    UnsupportedType(String),
    /// An Ed25519 key whose private half carries a different public key.
    #[error("ed25519 key with mismatched halves")]
    Mismatch,
    /// The fields do not form a key.
    #[error("invalid key: {0}")]
    Invalid(#[from] oxssh_keys::PrivateKeyError),
}

/// Appends `key` (type, fields, comment) to `out` as ADD_IDENTITY carries it.
pub fn encode_private_key(key: &PrivateKey, out: &mut Zeroizing<Vec<u8>>) {
    out.reserve(BUFFER);
    oxssh_keys::write_private_key_body(&mut Writer::new(out), key);
}

/// Reads one key (type, fields, comment) from `r`, leaving any constraints after it.
pub fn decode_private_key(r: &mut Reader<'_>) -> Result<PrivateKey, KeyBlobError> {
    let kind = r.utf8()?;
    let curve = |name: &str| match name {
        n if n == key::ECDSA_SHA2_NISTP256 => Some(EcdsaCurve::NistP256),
        n if n == key::ECDSA_SHA2_NISTP384 => Some(EcdsaCurve::NistP384),
        n if n == key::ECDSA_SHA2_NISTP521 => Some(EcdsaCurve::NistP521),
        _ => None,
    };
    let key = if kind == key::SSH_ED25519 {
        let public: [u8; 32] = Reader::new(r.string()?).array()?;
        let pair = r.string()?;
        let (seed, tail) = pair.split_at_checked(32).ok_or(DecodeError::Truncated)?;
        let seed = Zeroizing::new(<[u8; 32]>::try_from(seed).map_err(|_| DecodeError::Truncated)?);
        if tail != public {
            return Err(KeyBlobError::Mismatch);
        }
        let comment = comment(r)?;
        PrivateKey::new(
            KeyMaterial::Ed25519 {
                seed: &seed,
                public: &public,
            },
            &comment,
        )?
    } else if let Some(curve) = curve(kind) {
        let identifier = r.utf8()?;
        if identifier != curve.identifier() {
            return Err(KeyBlobError::UnsupportedType(format!(
                "{kind} with curve {identifier}"
            )));
        }
        let point = r.string()?;
        let scalar = r.mpint_unsigned()?;
        let comment = comment(r)?;
        PrivateKey::new(
            KeyMaterial::Ecdsa {
                curve,
                scalar,
                point,
            },
            &comment,
        )?
    } else if kind == key::SSH_RSA {
        let n = r.mpint_unsigned()?;
        let e = r.mpint_unsigned()?;
        let d = r.mpint_unsigned()?;
        let iqmp = r.mpint_unsigned()?;
        let p = r.mpint_unsigned()?;
        let q = r.mpint_unsigned()?;
        let comment = comment(r)?;
        PrivateKey::new(
            KeyMaterial::Rsa {
                n,
                e,
                d,
                p,
                q,
                iqmp,
            },
            &comment,
        )?
    } else {
        return Err(KeyBlobError::UnsupportedType(kind.to_owned()));
    };
    Ok(key)
}

fn comment(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    Ok(String::from_utf8_lossy(r.string()?).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use oxssh_crypto::KeyKind;

    #[test]
    fn every_key_type_round_trips_through_the_wire_layout() {
        for kind in [
            KeyKind::Ed25519,
            KeyKind::Ecdsa(EcdsaCurve::NistP384),
            KeyKind::Rsa { bits: 2048 },
        ] {
            let key = oxssh_crypto::generate_private_key(kind, "me@host").unwrap();
            let mut wire = Zeroizing::new(Vec::new());
            encode_private_key(&key, &mut wire);
            let mut r = Reader::new(&wire);
            let back = decode_private_key(&mut r).unwrap();
            r.finish().unwrap();
            assert_eq!(back.public_key(), key.public_key());
            assert_eq!(back.comment(), "me@host");
            assert_eq!(
                back.to_openssh(None).unwrap().len(),
                key.to_openssh(None).unwrap().len()
            );
        }
    }

    #[test]
    fn truncated_keys_are_errors() {
        let key = oxssh_crypto::generate_private_key(KeyKind::Ed25519, "c").unwrap();
        let mut wire = Zeroizing::new(Vec::new());
        encode_private_key(&key, &mut wire);
        for len in 0..wire.len() {
            let mut r = Reader::new(wire.get(..len).unwrap());
            assert!(decode_private_key(&mut r).is_err(), "prefix {len}");
        }
    }
}
