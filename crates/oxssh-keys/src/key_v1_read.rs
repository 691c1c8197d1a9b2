//! Reading the `openssh-key-v1` container (OpenSSH PROTOCOL.key) field by field, the
//! mirror of `key_v1.rs`: the clear header and public key, then the private section,
//! decrypted with `ssh-key`'s key derivation (bcrypt-pbkdf) and cipher when a passphrase
//! protects it.
//!
//! Parsing the fields here rather than through `ssh-key` matters for ECDSA: the private
//! scalar is an `mpint`, so about one P-256 key in 256 that OpenSSH writes has a 31-byte
//! scalar, which `ssh-key` refuses ("invalid format") and OpenSSH reads.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oxssh_wire::names::key;
use oxssh_wire::{DecodeError, Reader};
use ssh_key::{Cipher, Kdf};
use zeroize::Zeroizing;

use crate::private::{KeyMaterial, PrivateKey, PrivateKeyError};
use crate::public::{EcdsaCurve, KeyError, PublicKey};

const MAGIC: &[u8] = b"openssh-key-v1\0";
const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END: &str = "-----END OPENSSH PRIVATE KEY-----";
/// Longest file body accepted (a 16384-bit RSA key is about 12 KiB).
const MAX_BODY: usize = 64 * 1024;

/// An `openssh-key-v1` file as stored.
pub(crate) struct Container {
    cipher: Cipher,
    kdf: Kdf,
    public: Vec<u8>,
    section: Zeroizing<Vec<u8>>,
    tag: Option<ssh_key::cipher::Tag>,
}

fn invalid(_: DecodeError) -> PrivateKeyError {
    PrivateKeyError::InvalidFormat
}

/// Parses the PEM armour and the container's clear fields.
pub(crate) fn parse(text: &str) -> Result<Container, PrivateKeyError> {
    let mut lines = text.lines().map(str::trim).skip_while(|l| l.is_empty());
    if lines.next() != Some(BEGIN) {
        return Err(PrivateKeyError::InvalidFormat);
    }
    let mut body = Zeroizing::new(String::new());
    for line in lines.by_ref() {
        if line == END {
            break;
        }
        if body.len() + line.len() > MAX_BODY {
            return Err(PrivateKeyError::InvalidFormat);
        }
        body.push_str(line);
    }
    let blob = Zeroizing::new(
        STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PrivateKeyError::InvalidFormat)?,
    );
    let mut r = Reader::new(&blob);
    if r.take(MAGIC.len()).map_err(invalid)? != MAGIC {
        return Err(PrivateKeyError::InvalidFormat);
    }
    let cipher =
        Cipher::new(r.utf8().map_err(invalid)?).map_err(|_| PrivateKeyError::InvalidFormat)?;
    let kdf_name = r.utf8().map_err(invalid)?;
    let mut options = Reader::new(r.string().map_err(invalid)?);
    let kdf = match kdf_name {
        "none" => Kdf::None,
        "bcrypt" => {
            let salt = options.string().map_err(invalid)?.to_vec();
            let rounds = options.u32().map_err(invalid)?;
            Kdf::Bcrypt { salt, rounds }
        }
        _ => return Err(PrivateKeyError::InvalidFormat),
    };
    if r.u32().map_err(invalid)? != 1 {
        // OpenSSH writes, and reads, one key per file.
        return Err(PrivateKeyError::InvalidFormat);
    }
    let public = r.string().map_err(invalid)?.to_vec();
    let section = Zeroizing::new(r.string().map_err(invalid)?.to_vec());
    let tag = if cipher.has_tag() {
        let bytes = r.take(16).map_err(invalid)?;
        Some(ssh_key::cipher::Tag::try_from(bytes).map_err(|_| PrivateKeyError::InvalidFormat)?)
    } else {
        None
    };
    if cipher.is_none() != kdf.is_none() || section.len() % cipher.block_size() != 0 {
        return Err(PrivateKeyError::InvalidFormat);
    }
    Ok(Container {
        cipher,
        kdf,
        public,
        section,
        tag,
    })
}

impl Container {
    /// Whether the private section needs a passphrase.
    pub(crate) fn is_encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    /// The public key stored in the clear.
    pub(crate) fn public_key(&self) -> Result<PublicKey, PrivateKeyError> {
        PublicKey::from_blob(&self.public).map_err(|e| match e {
            KeyError::UnknownType(name) => PrivateKeyError::UnsupportedKeyType(name),
            other => PrivateKeyError::Key(other),
        })
    }

    /// The key, decrypting the private section with `passphrase` when it is encrypted.
    pub(crate) fn open(&self, passphrase: Option<&[u8]>) -> Result<PrivateKey, PrivateKeyError> {
        let mut plain = self.section.clone();
        if self.is_encrypted() {
            let passphrase = passphrase.ok_or(PrivateKeyError::PassphraseRequired)?;
            if passphrase.is_empty() {
                // OpenSSH tries the empty passphrase first; no encrypted key has one (and
                // bcrypt-pbkdf refuses it).
                return Err(PrivateKeyError::WrongPassphrase);
            }
            let (k, iv) = self
                .kdf
                .derive_key_and_iv(self.cipher, passphrase)
                .map_err(|_| PrivateKeyError::InvalidFormat)?;
            let k = Zeroizing::new(k);
            // A failed AEAD tag is OpenSSH's wrong-passphrase case too.
            self.cipher
                .decrypt(&k, &iv, plain.as_mut_slice(), self.tag)
                .map_err(|_| PrivateKeyError::WrongPassphrase)?;
        }
        let mut r = Reader::new(&plain);
        let (first, second) = (r.u32().map_err(invalid)?, r.u32().map_err(invalid)?);
        if first != second {
            return Err(if self.is_encrypted() {
                PrivateKeyError::WrongPassphrase
            } else {
                PrivateKeyError::InvalidFormat
            });
        }
        let key = read_private_key_body(&mut r)?;
        // The rest is padding 1, 2, 3, ... up to the block size.
        let padding_ok = r
            .rest()
            .iter()
            .enumerate()
            .all(|(i, &b)| usize::from(b) == i + 1);
        if !padding_ok || key.public_key().to_blob() != self.public {
            return Err(PrivateKeyError::InvalidFormat);
        }
        Ok(key)
    }
}

/// Reads one key as OpenSSH serialises it (`sshkey_private_deserialize`): `string type
/// || the type's fields || string comment`, the layout of `openssh-key-v1`'s private
/// section and of the agent protocol's ADD_IDENTITY. Anything after it is left in `r`.
///
/// # Errors
/// [`PrivateKeyError::UnsupportedKeyType`] for other key types,
/// [`PrivateKeyError::InvalidFormat`] for truncated or inconsistent fields.
pub fn read_private_key_body(r: &mut Reader<'_>) -> Result<PrivateKey, PrivateKeyError> {
    let kind = r.utf8().map_err(invalid)?;
    let curve = match kind {
        n if n == key::ECDSA_SHA2_NISTP256 => Some(EcdsaCurve::NistP256),
        n if n == key::ECDSA_SHA2_NISTP384 => Some(EcdsaCurve::NistP384),
        n if n == key::ECDSA_SHA2_NISTP521 => Some(EcdsaCurve::NistP521),
        _ => None,
    };
    if kind == key::SSH_ED25519 {
        let public: [u8; 32] = Reader::new(r.string().map_err(invalid)?)
            .array()
            .map_err(invalid)?;
        let pair = r.string().map_err(invalid)?;
        let (seed, tail) = pair
            .split_at_checked(32)
            .ok_or(PrivateKeyError::InvalidFormat)?;
        let seed =
            Zeroizing::new(<[u8; 32]>::try_from(seed).map_err(|_| PrivateKeyError::InvalidFormat)?);
        if tail != public {
            return Err(PrivateKeyError::InvalidFormat);
        }
        let comment = comment(r)?;
        PrivateKey::new(
            KeyMaterial::Ed25519 {
                seed: &seed,
                public: &public,
            },
            &comment,
        )
    } else if let Some(curve) = curve {
        if r.utf8().map_err(invalid)? != curve.identifier() {
            return Err(PrivateKeyError::InvalidFormat);
        }
        let point = r.string().map_err(invalid)?;
        let scalar = r.mpint_unsigned().map_err(invalid)?;
        let comment = comment(r)?;
        PrivateKey::new(
            KeyMaterial::Ecdsa {
                curve,
                scalar,
                point,
            },
            &comment,
        )
    } else if kind == key::SSH_RSA {
        let n = r.mpint_unsigned().map_err(invalid)?;
        let e = r.mpint_unsigned().map_err(invalid)?;
        let d = r.mpint_unsigned().map_err(invalid)?;
        let iqmp = r.mpint_unsigned().map_err(invalid)?;
        let p = r.mpint_unsigned().map_err(invalid)?;
        let q = r.mpint_unsigned().map_err(invalid)?;
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
        )
    } else {
        Err(PrivateKeyError::UnsupportedKeyType(kind.to_owned()))
    }
}

/// The comment: UTF-8 as OpenSSH writes it, other bytes replaced rather than refused.
fn comment(r: &mut Reader<'_>) -> Result<String, PrivateKeyError> {
    Ok(String::from_utf8_lossy(r.string().map_err(invalid)?).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A P-256 key written by ssh-keygen 9.2 whose private scalar is 31 bytes long (its
    /// top byte is zero), and its public line from `ssh-keygen -y`.
    const SHORT_SCALAR: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS
1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQS0aoKY98mh4jYl2YAwZDNfYOy7JxXB
QP69nZaOhdVvbqpCv7GgpQDo67ImBBrfhDWLwC7Isp417gelrgh3NXh/AAAAmMVXhbXFV4
W1AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLRqgpj3yaHiNiXZ
gDBkM19g7LsnFcFA/r2dlo6F1W9uqkK/saClAOjrsiYEGt+ENYvALsiynjXuB6WuCHc1eH
8AAAAfb0HveoNjv3gZ6chtAe+UPeXSALJM3ATu2WtePd5guAAAAAF0
-----END OPENSSH PRIVATE KEY-----
";
    const SHORT_SCALAR_PUBLIC: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLRqgpj3yaHiNiXZgDBkM19g7LsnFcFA/r2dlo6F1W9uqkK/saClAOjrsiYEGt+ENYvALsiynjXuB6WuCHc1eH8= t";

    #[test]
    fn a_short_ecdsa_scalar_is_read_and_padded() {
        let key = PrivateKey::from_openssh(SHORT_SCALAR).unwrap();
        assert_eq!(key.public_line().unwrap(), SHORT_SCALAR_PUBLIC);
        match key.material() {
            KeyMaterial::Ecdsa { scalar, .. } => {
                assert_eq!(scalar.len(), 32);
                assert_eq!(scalar.first(), Some(&0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn corrupted_containers_are_invalid_not_panics() {
        let good = SHORT_SCALAR;
        let body: String = good.lines().filter(|l| !l.starts_with("-----")).collect();
        let blob = STANDARD.decode(body).unwrap();
        for cut in [0, 10, MAGIC.len(), 40, blob.len() / 2, blob.len() - 1] {
            let text = format!(
                "{BEGIN}\n{}\n{END}\n",
                STANDARD.encode(blob.get(..cut).unwrap())
            );
            assert!(PrivateKey::from_openssh(&text).is_err(), "cut at {cut}");
        }
        // The private section (152 bytes, the blob's last) starts with two equal check
        // values; make them differ.
        let mut flipped = blob.clone();
        let second_check = flipped.len() - 152 + 4;
        *flipped.get_mut(second_check).unwrap() ^= 0x55;
        let text = format!("{BEGIN}\n{}\n{END}\n", STANDARD.encode(&flipped));
        assert!(
            PrivateKey::from_openssh(&text).is_err(),
            "check values differ"
        );
    }
}
