//! Private keys on the agent wire (OpenSSH PROTOCOL.agent §3.2, the same field layout as
//! the private section of `openssh-key-v1`): `string type || fields || string comment`.
//! Encoded by `oxssh-add`, decoded by the agent, both here so the layouts cannot drift.

use oxssh_keys::{PrivateKey, PrivateKeyError};
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
    oxssh_keys::read_private_key_body(r).map_err(|e| match e {
        PrivateKeyError::UnsupportedKeyType(kind) => KeyBlobError::UnsupportedType(kind),
        other => KeyBlobError::Invalid(other),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use oxssh_crypto::KeyKind;
    use oxssh_keys::EcdsaCurve;

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
