//! Writing the `openssh-key-v1` container (OpenSSH PROTOCOL.key) as OpenSSH's
//! `sshkey_private_to_blob2` does, field by field, with minimal `mpint`s.
//!
//! `ssh-key` writes an ECDSA private scalar at the curve's full width, so a scalar whose
//! top byte is zero (half of all P-521 keys) becomes a non-minimal mpint: OpenSSH reads
//! it, PuTTY refuses the file ("unable to read entire private key"). Encoding here
//! fixes that for every key type; `ssh-key` still provides the key derivation
//! (bcrypt-pbkdf) and the cipher, and parses keys on the way in.

use crate::private::{Encryption, KeyCipher, KeyMaterial, PrivateKey, PrivateKeyError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oxssh_wire::Writer;
use ssh_key::{Cipher, Kdf};
use zeroize::Zeroizing;

const MAGIC: &[u8] = b"openssh-key-v1\0";
const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
const END: &str = "-----END OPENSSH PRIVATE KEY-----\n";
/// OpenSSH wraps the base64 body at 70 columns.
const LINE_WIDTH: usize = 70;
/// bcrypt-pbkdf salt length (sshkey.c `SALT_LEN`).
const SALT_LEN: usize = 16;

/// The private section: check values, the key's fields, the comment, then padding
/// `1, 2, 3, ...` up to the cipher's block size.
fn private_section(
    key: &PrivateKey,
    check: u32,
    block: usize,
) -> Result<Zeroizing<Vec<u8>>, PrivateKeyError> {
    // Sized up front so the secret never reallocates and leaves copies behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(8192));
    let mut w = Writer::new(&mut buf);
    w.u32(check).u32(check);
    write_private_key_body(&mut w, key);
    let mut pad = 1u8;
    while buf.len() % block != 0 {
        buf.push(pad);
        pad = pad.wrapping_add(1);
    }
    Ok(buf)
}

fn random_u32() -> Result<u32, PrivateKeyError> {
    let mut bytes = [0u8; 4];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| PrivateKeyError::Random)?;
    Ok(u32::from_be_bytes(bytes))
}

/// Encodes `key` as an `openssh-key-v1` PEM file, encrypted when `encryption` is given.
///
/// # Errors
/// [`PrivateKeyError::Random`] if the salt or check value cannot be drawn;
/// [`PrivateKeyError::InvalidFormat`] if the key derivation or cipher fails.
pub(crate) fn encode(
    key: &PrivateKey,
    encryption: Option<&Encryption<'_>>,
) -> Result<Zeroizing<String>, PrivateKeyError> {
    let check = random_u32()?;
    let (cipher, kdf) = match encryption {
        None => (Cipher::None, None),
        Some(enc) => {
            let mut salt = vec![0u8; SALT_LEN];
            aws_lc_rs::rand::fill(&mut salt).map_err(|_| PrivateKeyError::Random)?;
            let cipher = match enc.cipher {
                KeyCipher::Aes256Ctr => Cipher::Aes256Ctr,
                KeyCipher::Aes256Gcm => Cipher::Aes256Gcm,
            };
            (cipher, Some((enc, salt)))
        }
    };
    let mut section = private_section(key, check, cipher.block_size())?;
    let mut kdf_options = Vec::new();
    let mut tag = None;
    if let Some((enc, salt)) = &kdf {
        Writer::new(&mut kdf_options).string(salt).u32(enc.rounds);
        let kdf = Kdf::Bcrypt {
            salt: salt.clone(),
            rounds: enc.rounds,
        };
        let (k, iv) = kdf
            .derive_key_and_iv(cipher, enc.passphrase)
            .map_err(|_| PrivateKeyError::InvalidFormat)?;
        tag = cipher
            .encrypt(&k, &iv, section.as_mut_slice())
            .map_err(|_| PrivateKeyError::InvalidFormat)?;
    }
    let mut blob = Zeroizing::new(Vec::with_capacity(section.len() + 1024));
    let mut w = Writer::new(&mut blob);
    w.raw(MAGIC)
        .string(cipher.as_str().as_bytes())
        .string(if kdf.is_some() { b"bcrypt" } else { b"none" })
        .string(&kdf_options)
        .u32(1)
        .string(&key.public_key().to_blob())
        .string(&section);
    if let Some(tag) = tag {
        w.raw(tag.as_ref());
    }
    let body = Zeroizing::new(STANDARD.encode(&*blob));
    let mut text = Zeroizing::new(String::with_capacity(body.len() * 72 / 70 + 80));
    text.push_str(BEGIN);
    for chunk in body.as_bytes().chunks(LINE_WIDTH) {
        text.push_str(std::str::from_utf8(chunk).map_err(|_| PrivateKeyError::InvalidFormat)?);
        text.push('\n');
    }
    text.push_str(END);
    Ok(text)
}

/// Appends `key` as OpenSSH serialises a private key (`sshkey_private_serialize`):
/// `string type || the type's fields || string comment`. The private section of
/// `openssh-key-v1` and the agent protocol's ADD_IDENTITY (PROTOCOL.agent §3.2) both carry
/// this layout, so both are written here.
pub fn write_private_key_body(w: &mut Writer<'_>, key: &PrivateKey) {
    w.string(key.public_key().key_type().as_bytes());
    match key.material() {
        KeyMaterial::Ed25519 { seed, public } => {
            // OpenSSH's private half is seed || public.
            let mut pair = Zeroizing::new([0u8; 64]);
            let (left, right) = pair.split_at_mut(32);
            left.copy_from_slice(seed);
            right.copy_from_slice(public);
            w.string(public).string(pair.as_ref());
        }
        KeyMaterial::Ecdsa {
            curve,
            scalar,
            point,
        } => {
            w.string(curve.identifier().as_bytes())
                .string(point)
                .mpint_unsigned(scalar);
        }
        KeyMaterial::Rsa {
            n,
            e,
            d,
            p,
            q,
            iqmp,
        } => {
            w.mpint_unsigned(n)
                .mpint_unsigned(e)
                .mpint_unsigned(d)
                .mpint_unsigned(iqmp)
                .mpint_unsigned(p)
                .mpint_unsigned(q);
        }
    }
    w.string(key.comment().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public::EcdsaCurve;

    fn decoded(text: &str) -> Vec<u8> {
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(body).unwrap()
    }

    #[test]
    fn ecdsa_scalar_with_a_zero_top_byte_is_a_minimal_mpint() {
        // A P-256 point is only checked for length here; the scalar starts with 0x00 0x19.
        let mut point = vec![4u8];
        point.extend_from_slice(&[1; 64]);
        let mut scalar = vec![0u8, 0x19];
        scalar.extend_from_slice(&[0x42; 30]);
        let key = PrivateKey::new(
            KeyMaterial::Ecdsa {
                curve: EcdsaCurve::NistP256,
                scalar: &scalar,
                point: &point,
            },
            "c",
        )
        .unwrap();
        let blob = decoded(&encode(&key, None).unwrap());
        let mut want = vec![0, 0, 0, 31];
        want.extend_from_slice(&scalar[1..]);
        assert!(blob.windows(want.len()).any(|w| w == want.as_slice()));
        let mut padded = vec![0, 0, 0, 32];
        padded.extend_from_slice(&scalar);
        assert!(!blob.windows(padded.len()).any(|w| w == padded.as_slice()));
    }

    #[test]
    fn unencrypted_container_names_no_cipher_and_pads_to_eight() {
        let key = PrivateKey::new(
            KeyMaterial::Ed25519 {
                seed: &[3; 32],
                public: &[5; 32],
            },
            "me",
        )
        .unwrap();
        let text = encode(&key, None).unwrap();
        assert!(text.lines().all(|l| l.len() <= LINE_WIDTH));
        let blob = decoded(&text);
        assert!(blob.starts_with(MAGIC));
        assert_eq!(&blob[15..19], &[0, 0, 0, 4]);
        assert_eq!(&blob[19..23], b"none");
    }
}
