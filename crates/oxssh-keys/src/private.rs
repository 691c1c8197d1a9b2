//! Private keys in OpenSSH's `openssh-key-v1` format (OpenSSH PROTOCOL.key): reading,
//! decrypting (bcrypt-pbkdf with aes256-ctr, aes256-gcm@openssh.com or any other cipher
//! `ssh-key` knows) and writing, for Ed25519, ECDSA (P-256/384/521) and RSA keys.
//!
//! The `ssh-key` crate parses and decrypts (writing is `key_v1`'s, for minimal mpints);
//! this module turns its result into a
//! [`PrivateKey`] that owns the raw private material the crypto provider needs (the
//! Ed25519 seed, the ECDSA scalar, the RSA `d`, `p`, `q`, `iqmp`) in buffers wiped on
//! drop, and hides it from `Debug`. No signing happens here: this crate has no
//! cryptographic primitives beyond hashes and randomness.
//!
//! PEM (`BEGIN RSA PRIVATE KEY`, `BEGIN EC PRIVATE KEY`) and PKCS#8 (`BEGIN PRIVATE KEY`)
//! files are recognised and refused with [`PrivateKeyError::UnsupportedFormat`]: `ssh-key`
//! does not parse them (`ssh-keygen -p -f FILE` converts them to the OpenSSH format).

use crate::key_file::{detect_format, KeyFileFormat};
use crate::key_v1_read::{self, Container};
use crate::public::{EcdsaCurve, KeyError, PublicKey};
use std::fmt;
use zeroize::{ZeroizeOnDrop, Zeroizing};

/// Why a private key could not be read, decrypted or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrivateKeyError {
    /// The passphrase does not decrypt the key (OpenSSH's `SSH_ERR_KEY_WRONG_PASSPHRASE`).
    #[error("incorrect passphrase supplied to decrypt private key")]
    WrongPassphrase,
    /// The key is encrypted and was read without a passphrase.
    #[error("private key is encrypted: a passphrase is required")]
    PassphraseRequired,
    /// A key file format we recognise but do not read (PEM, PKCS#8, PuTTY, RFC 4716).
    #[error("unsupported private key format: {0}; convert it with `ssh-keygen -p -f FILE`")]
    UnsupportedFormat(KeyFileFormat),
    /// A key type other than Ed25519, ECDSA or RSA (DSA, FIDO security keys).
    #[error("unsupported private key type {0}")]
    UnsupportedKeyType(String),
    /// The text is not a private key we can parse (OpenSSH: "invalid format").
    #[error("invalid format")]
    InvalidFormat,
    /// The key's fields are inconsistent.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The system random generator failed (salt or check value for encryption).
    #[error("random number generator failure")]
    Random,
}

/// Cipher for writing an encrypted private key (`ssh-keygen -Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyCipher {
    /// `aes256-ctr`, OpenSSH's default.
    #[default]
    Aes256Ctr,
    /// `aes256-gcm@openssh.com`.
    Aes256Gcm,
}

/// How to encrypt a private key when writing it.
#[derive(Clone, Copy)]
pub struct Encryption<'a> {
    /// The passphrase.
    pub passphrase: &'a [u8],
    /// bcrypt-pbkdf rounds (`ssh-keygen -a`); OpenSSH's default is 16.
    pub rounds: u32,
    /// The cipher.
    pub cipher: KeyCipher,
}

impl<'a> Encryption<'a> {
    /// OpenSSH's defaults: aes256-ctr, 16 bcrypt-pbkdf rounds.
    pub fn new(passphrase: &'a [u8]) -> Self {
        Self {
            passphrase,
            rounds: DEFAULT_ROUNDS,
            cipher: KeyCipher::Aes256Ctr,
        }
    }
}

impl fmt::Debug for Encryption<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryption")
            .field("passphrase", &"<redacted>")
            .field("rounds", &self.rounds)
            .field("cipher", &self.cipher)
            .finish()
    }
}

/// OpenSSH's default bcrypt-pbkdf rounds (`DEFAULT_ROUNDS` in sshkey.c).
pub const DEFAULT_ROUNDS: u32 = 16;

/// Private key material borrowed from a [`PrivateKey`], or handed to
/// [`PrivateKey::new`]. Integers are unsigned big-endian magnitudes.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum KeyMaterial<'a> {
    /// Ed25519 (RFC 8032): the 32-byte seed and the public point.
    Ed25519 {
        /// The secret seed.
        seed: &'a [u8; 32],
        /// The public key.
        public: &'a [u8; 32],
    },
    /// ECDSA: the private scalar (exactly [`EcdsaCurve::scalar_len`] bytes when borrowed
    /// from a key) and the uncompressed public point.
    Ecdsa {
        /// The curve.
        curve: EcdsaCurve,
        /// The private scalar.
        scalar: &'a [u8],
        /// 0x04 || X || Y.
        point: &'a [u8],
    },
    /// RSA: the fields OpenSSH stores (the CRT exponents are derived by the signer).
    Rsa {
        /// Modulus.
        n: &'a [u8],
        /// Public exponent.
        e: &'a [u8],
        /// Private exponent.
        d: &'a [u8],
        /// First prime.
        p: &'a [u8],
        /// Second prime.
        q: &'a [u8],
        /// q^-1 mod p.
        iqmp: &'a [u8],
    },
}

impl fmt::Debug for KeyMaterial<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Ed25519 { .. } => "Ed25519",
            Self::Ecdsa { .. } => "Ecdsa",
            Self::Rsa { .. } => "Rsa",
        };
        write!(f, "KeyMaterial::{kind}(<redacted>)")
    }
}

/// The key pair: secret fields in buffers wiped on drop, next to the public fields
/// they belong with (so a view of the material never has to pair two enums).
enum Secret {
    Ed25519 {
        seed: Zeroizing<[u8; 32]>,
        public: [u8; 32],
    },
    Ecdsa {
        curve: EcdsaCurve,
        scalar: Zeroizing<Vec<u8>>,
        point: Vec<u8>,
    },
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Zeroizing<Vec<u8>>,
        p: Zeroizing<Vec<u8>>,
        q: Zeroizing<Vec<u8>>,
        iqmp: Zeroizing<Vec<u8>>,
    },
}

/// A decrypted private key: the public key, its comment and the private material.
///
/// Every secret byte lives in a [`Zeroizing`] buffer, so dropping the key wipes it;
/// `Debug` shows only the key type and comment.
pub struct PrivateKey {
    public: PublicKey,
    comment: String,
    secret: Secret,
}

/// All secret fields are `Zeroizing`, so dropping a `PrivateKey` wipes them.
impl ZeroizeOnDrop for PrivateKey {}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("type", &self.public.key_type())
            .field("comment", &self.comment)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Whether a private key file is encrypted (and so needs a passphrase).
///
/// # Errors
/// [`PrivateKeyError::UnsupportedFormat`] for PEM/PKCS#8 and other formats we do not
/// read (so the caller does not ask for a passphrase it cannot use);
/// [`PrivateKeyError::InvalidFormat`] for anything else that is not a key.
pub fn is_encrypted(text: &str) -> Result<bool, PrivateKeyError> {
    Ok(parse_container(text)?.is_encrypted())
}

/// The public key of an `openssh-key-v1` file, which is stored in the clear even when the
/// private half is encrypted: a client offers it to the server before asking for the
/// passphrase, as OpenSSH does.
///
/// # Errors
/// As [`is_encrypted`]; [`PrivateKeyError::UnsupportedKeyType`] for other key types.
pub fn read_public(text: &str) -> Result<PublicKey, PrivateKeyError> {
    parse_container(text)?.public_key()
}

/// Reads a private key, decrypting it with `passphrase` if it is encrypted (an
/// unencrypted key ignores the passphrase, as OpenSSH does).
///
/// # Errors
/// [`PrivateKeyError::WrongPassphrase`] when the check values disagree or the AEAD tag
/// fails; otherwise as [`PrivateKey::from_openssh`].
pub fn decrypt(text: &str, passphrase: &[u8]) -> Result<PrivateKey, PrivateKeyError> {
    parse_container(text)?.open(Some(passphrase))
}

/// Parses the container, refusing formats we do not read with a clear error.
fn parse_container(text: &str) -> Result<Container, PrivateKeyError> {
    match detect_format(text) {
        KeyFileFormat::OpenSsh => key_v1_read::parse(text),
        KeyFileFormat::Unknown => Err(PrivateKeyError::InvalidFormat),
        other => Err(PrivateKeyError::UnsupportedFormat(other)),
    }
}

/// Copies an integer without its leading zero bytes into a wiped buffer.
fn magnitude(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    Zeroizing::new(bytes.get(start..).unwrap_or_default().to_vec())
}

impl PrivateKey {
    /// Reads an unencrypted `openssh-key-v1` private key.
    ///
    /// # Errors
    /// [`PrivateKeyError::PassphraseRequired`] if it is encrypted (use [`decrypt`]);
    /// [`PrivateKeyError::UnsupportedFormat`] for PEM/PKCS#8;
    /// [`PrivateKeyError::UnsupportedKeyType`] for DSA and security keys;
    /// [`PrivateKeyError::InvalidFormat`] for anything malformed.
    pub fn from_openssh(text: &str) -> Result<Self, PrivateKeyError> {
        parse_container(text)?.open(None)
    }

    /// Builds a key from raw material (for key generation). The caller vouches that the
    /// public half belongs to the private half: checking it needs the signer's crypto.
    ///
    /// # Errors
    /// [`PrivateKeyError::Key`] if the public half is malformed (RSA size out of range,
    /// point not on the curve's length), [`PrivateKeyError::InvalidFormat`] if a private
    /// field is empty or an ECDSA scalar is longer than the curve's.
    pub fn new(material: KeyMaterial<'_>, comment: &str) -> Result<Self, PrivateKeyError> {
        let (public, secret) = match material {
            KeyMaterial::Ed25519 { seed, public } => (
                PublicKey::Ed25519(*public),
                Secret::Ed25519 {
                    seed: Zeroizing::new(*seed),
                    public: *public,
                },
            ),
            KeyMaterial::Ecdsa {
                curve,
                scalar,
                point,
            } => {
                let public = PublicKey::Ecdsa {
                    curve,
                    point: point.to_vec(),
                };
                // Validate the point the same way a parsed blob is validated.
                let public = PublicKey::from_blob(&public.to_blob())?;
                let scalar = magnitude(scalar);
                let len = curve.scalar_len();
                if scalar.is_empty() || scalar.len() > len {
                    return Err(PrivateKeyError::InvalidFormat);
                }
                let mut fixed = Zeroizing::new(vec![0u8; len]);
                fixed
                    .get_mut(len - scalar.len()..)
                    .ok_or(PrivateKeyError::InvalidFormat)?
                    .copy_from_slice(&scalar);
                let secret = Secret::Ecdsa {
                    curve,
                    scalar: fixed,
                    point: point.to_vec(),
                };
                (public, secret)
            }
            KeyMaterial::Rsa {
                n,
                e,
                d,
                p,
                q,
                iqmp,
            } => {
                let (n, e) = (magnitude(n).to_vec(), magnitude(e).to_vec());
                let public = PublicKey::Rsa {
                    e: e.clone(),
                    n: n.clone(),
                };
                let public = PublicKey::from_blob(&public.to_blob())?;
                let (d, p, q, iqmp) = (magnitude(d), magnitude(p), magnitude(q), magnitude(iqmp));
                if d.is_empty() || p.is_empty() || q.is_empty() || iqmp.is_empty() {
                    return Err(PrivateKeyError::InvalidFormat);
                }
                (
                    public,
                    Secret::Rsa {
                        n,
                        e,
                        d,
                        p,
                        q,
                        iqmp,
                    },
                )
            }
        };
        Ok(Self {
            public,
            comment: comment.to_owned(),
            secret,
        })
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The comment stored with the key (often `user@host`).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// Replaces the comment (`ssh-keygen -c`).
    pub fn set_comment(&mut self, comment: &str) {
        comment.clone_into(&mut self.comment);
    }

    /// The private material, for the crypto provider to build a signer from.
    pub fn material(&self) -> KeyMaterial<'_> {
        match &self.secret {
            Secret::Ed25519 { seed, public } => KeyMaterial::Ed25519 { seed, public },
            Secret::Ecdsa {
                curve,
                scalar,
                point,
            } => KeyMaterial::Ecdsa {
                curve: *curve,
                scalar,
                point,
            },
            Secret::Rsa {
                n,
                e,
                d,
                p,
                q,
                iqmp,
            } => KeyMaterial::Rsa {
                n,
                e,
                d,
                p,
                q,
                iqmp,
            },
        }
    }

    /// The `.pub` file line: `type base64 comment` (no comment part when it is empty),
    /// without the trailing newline.
    ///
    /// # Errors
    /// [`PrivateKeyError::Key`] if the key cannot be encoded.
    pub fn public_line(&self) -> Result<String, PrivateKeyError> {
        Ok(self.public.to_openssh_with_comment(&self.comment)?)
    }

    /// Encodes the key as an `openssh-key-v1` PEM file (70-column base64, `\n` line
    /// endings), encrypted with bcrypt-pbkdf and the chosen cipher when `encryption` is
    /// given.
    ///
    /// # Errors
    /// [`PrivateKeyError::Random`] if the salt cannot be drawn;
    /// [`PrivateKeyError::InvalidFormat`] if `ssh-key` refuses the material.
    pub fn to_openssh(
        &self,
        encryption: Option<&Encryption<'_>>,
    ) -> Result<Zeroizing<String>, PrivateKeyError> {
        crate::key_v1::encode(self, encryption)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_ed25519() -> PrivateKey {
        PrivateKey::new(
            KeyMaterial::Ed25519 {
                seed: &[7; 32],
                public: &[9; 32],
            },
            "me@host",
        )
        .unwrap()
    }

    #[test]
    fn debug_output_redacts_the_secret() {
        let key = sample_ed25519();
        let text = format!("{key:?} {:?}", key.material());
        assert!(text.contains("redacted"));
        assert!(!text.contains('7'));
    }

    #[test]
    fn unencrypted_round_trip_keeps_material_and_comment() {
        let key = sample_ed25519();
        let text = key.to_openssh(None).unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        assert!(!is_encrypted(&text).unwrap());
        let back = PrivateKey::from_openssh(&text).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(back.comment(), "me@host");
        assert!(matches!(back.material(), KeyMaterial::Ed25519 { seed, .. } if seed == &[7; 32]));
    }

    #[test]
    fn encrypted_round_trip_needs_the_right_passphrase() {
        let key = sample_ed25519();
        let mut enc = Encryption::new(b"secret");
        enc.rounds = 2;
        for cipher in [KeyCipher::Aes256Ctr, KeyCipher::Aes256Gcm] {
            enc.cipher = cipher;
            let text = key.to_openssh(Some(&enc)).unwrap();
            assert!(is_encrypted(&text).unwrap());
            assert_eq!(read_public(&text).unwrap(), *key.public_key());
            assert_eq!(
                PrivateKey::from_openssh(&text).unwrap_err(),
                PrivateKeyError::PassphraseRequired
            );
            assert_eq!(
                decrypt(&text, b"wrong").unwrap_err(),
                PrivateKeyError::WrongPassphrase
            );
            let back = decrypt(&text, b"secret").unwrap();
            assert_eq!(back.public_key(), key.public_key());
        }
    }

    #[test]
    fn wrong_passphrase_message_is_openssh_s() {
        assert_eq!(
            PrivateKeyError::WrongPassphrase.to_string(),
            "incorrect passphrase supplied to decrypt private key"
        );
    }

    #[test]
    fn pem_and_pkcs8_are_refused_as_unsupported() {
        for (header, format) in [
            ("RSA PRIVATE KEY", KeyFileFormat::PemRsa),
            ("EC PRIVATE KEY", KeyFileFormat::PemEc),
            ("PRIVATE KEY", KeyFileFormat::Pkcs8),
            ("ENCRYPTED PRIVATE KEY", KeyFileFormat::Pkcs8Encrypted),
        ] {
            let text = format!("-----BEGIN {header}-----\nAAAA\n-----END {header}-----\n");
            assert_eq!(
                PrivateKey::from_openssh(&text).unwrap_err(),
                PrivateKeyError::UnsupportedFormat(format)
            );
            assert!(is_encrypted(&text).is_err());
        }
        assert_eq!(
            PrivateKey::from_openssh("hello").unwrap_err(),
            PrivateKeyError::InvalidFormat
        );
    }

    #[test]
    fn truncated_key_is_invalid_not_a_panic() {
        let text = sample_ed25519().to_openssh(None).unwrap();
        for cut in [40, 80, 120, 200, text.len() - 40] {
            let mut broken = text[..cut].to_owned();
            broken.push_str("\n-----END OPENSSH PRIVATE KEY-----\n");
            assert!(PrivateKey::from_openssh(&broken).is_err());
        }
    }

    #[test]
    fn ecdsa_scalar_is_left_padded_to_the_curve_size() {
        let mut point = vec![4u8];
        point.extend_from_slice(&[1; 64]);
        let key = PrivateKey::new(
            KeyMaterial::Ecdsa {
                curve: EcdsaCurve::NistP256,
                scalar: &[0, 0, 5],
                point: &point,
            },
            "",
        )
        .unwrap();
        match key.material() {
            KeyMaterial::Ecdsa { scalar, .. } => {
                assert_eq!(scalar.len(), 32);
                assert_eq!(scalar[31], 5);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
