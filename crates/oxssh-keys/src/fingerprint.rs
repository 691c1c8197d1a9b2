//! Key fingerprints and the "randomart" picture, byte for byte as OpenSSH prints them
//! (`ssh-keygen -l`, `ssh-keygen -lv`, `VisualHostKey`, the host-key prompts).
//!
//! A fingerprint is a hash of the public key blob (RFC 4253 §6.6 encoding):
//! `SHA256:` followed by unpadded base64 (OpenSSH's default since 6.8), or `MD5:` followed
//! by colon-separated lowercase hex (the older form, `-E md5`). SHA-256 comes from
//! aws-lc-rs; aws-lc-rs has no MD5, so that one legacy digest comes from the `md-5` crate.
//!
//! The randomart is OpenSSH's "drunken bishop" walk (sshkey.c `fingerprint_randomart`):
//! the raw digest drives a bishop over a 17x9 board and the number of visits to each
//! square picks its character.

use crate::public::PublicKey;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use md5::Digest as _;
use std::fmt;

/// The hash a fingerprint is made with (`ssh-keygen -E` / `FingerprintHash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HashAlg {
    /// SHA-256, the default.
    #[default]
    Sha256,
    /// MD5, the legacy hex form.
    Md5,
}

impl HashAlg {
    /// The name inside fingerprints and under the randomart box (`SHA256`, `MD5`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA256",
            Self::Md5 => "MD5",
        }
    }

    /// Parses an `ssh-keygen -E` / `FingerprintHash` value (`sha256`, `md5`; any case,
    /// as OpenSSH's `ssh_digest_alg_by_name` compares without case).
    pub fn from_option(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("sha256") {
            Some(Self::Sha256)
        } else if value.eq_ignore_ascii_case("md5") {
            Some(Self::Md5)
        } else {
            None
        }
    }
}

/// The digest of a public key blob; `Display` gives OpenSSH's text form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    alg: HashAlg,
    digest: Vec<u8>,
}

impl Fingerprint {
    /// Fingerprint of `key`.
    pub fn of(key: &PublicKey, alg: HashAlg) -> Self {
        Self::of_blob(&key.to_blob(), alg)
    }

    /// Fingerprint of an SSH public key blob (any key type, certificates included).
    pub fn of_blob(blob: &[u8], alg: HashAlg) -> Self {
        let digest = match alg {
            HashAlg::Sha256 => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, blob)
                .as_ref()
                .to_vec(),
            HashAlg::Md5 => md5::Md5::digest(blob).to_vec(),
        };
        Self { alg, digest }
    }

    /// The hash used.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// The raw digest.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }
}

impl fmt::Display for Fingerprint {
    /// `SHA256:<base64 without padding>` or `MD5:aa:bb:...` (sshkey.c `fingerprint_b64`,
    /// `fingerprint_hex`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alg.name())?;
        f.write_str(":")?;
        match self.alg {
            HashAlg::Sha256 => f.write_str(&STANDARD_NO_PAD.encode(&self.digest)),
            HashAlg::Md5 => {
                for (i, byte) in self.digest.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The short key type OpenSSH shows in `ssh-keygen -l` output and randomart titles
/// (sshkey.c `sshkey_type`): `ED25519`, `ECDSA`, `RSA`.
pub fn type_label(key: &PublicKey) -> &'static str {
    match key {
        PublicKey::Ed25519(_) => "ED25519",
        PublicKey::Ecdsa { .. } => "ECDSA",
        PublicKey::Rsa { .. } => "RSA",
    }
}

/// One `ssh-keygen -l` line: `bits fingerprint comment (TYPE)`.
///
/// `comment` is printed as given: ssh-keygen substitutes the file name or `no comment`
/// when a key has none, which is the caller's business.
pub fn fingerprint_line(key: &PublicKey, alg: HashAlg, comment: &str) -> String {
    format!(
        "{} {} {} ({})",
        key.bits(),
        Fingerprint::of(key, alg),
        comment,
        type_label(key)
    )
}

/// Board size: OpenSSH's FLDBASE 8 gives a 17 x 9 field.
const FIELD_W: usize = 17;
const FIELD_H: usize = 9;
/// Characters for 0, 1, 2, ... visits; the last two mark the start (`S`) and end (`E`).
const AUGMENTATION: &[u8] = b" .o+=*BOX@%&#/^SE";

/// The randomart box for `key`, as `ssh-keygen -lv` prints it: 11 lines joined by `\n`,
/// without a trailing newline.
pub fn randomart(key: &PublicKey, alg: HashAlg) -> String {
    let title = format!("[{} {}]", type_label(key), key.bits());
    randomart_of_digest(&title, &Fingerprint::of(key, alg))
}

/// The randomart box for an arbitrary fingerprint under a given title (`[TYPE BITS]`).
pub fn randomart_of_digest(title: &str, fingerprint: &Fingerprint) -> String {
    let field = walk(fingerprint.digest());
    let hash_title = format!("[{}]", fingerprint.alg().name());
    let mut out = String::with_capacity((FIELD_W + 3) * (FIELD_H + 2));
    border(&mut out, title);
    out.push('\n');
    for y in 0..FIELD_H {
        out.push('|');
        for column in &field {
            let visits = column.get(y).copied().unwrap_or(0);
            let ch = AUGMENTATION
                .get(usize::from(visits))
                .copied()
                .unwrap_or(b' ');
            out.push(char::from(ch));
        }
        out.push_str("|\n");
    }
    border(&mut out, &hash_title);
    out
}

/// The drunken bishop: each digest byte gives four 2-bit moves, low bits first; bit 0
/// moves right/left, bit 1 down/up; the bishop stops at the walls.
fn walk(digest: &[u8]) -> [[u8; FIELD_H]; FIELD_W] {
    // Visit counts saturate below the two marker characters (OpenSSH: `len - 2`).
    let max_visits = (AUGMENTATION.len() - 3) as u8;
    let mut field = [[0u8; FIELD_H]; FIELD_W];
    let (mut x, mut y) = (FIELD_W / 2, FIELD_H / 2);
    for &byte in digest {
        let mut input = byte;
        for _ in 0..4 {
            x = if input & 1 != 0 {
                (x + 1).min(FIELD_W - 1)
            } else {
                x.saturating_sub(1)
            };
            y = if input & 2 != 0 {
                (y + 1).min(FIELD_H - 1)
            } else {
                y.saturating_sub(1)
            };
            if let Some(cell) = field.get_mut(x).and_then(|c| c.get_mut(y)) {
                if *cell < max_visits {
                    *cell += 1;
                }
            }
            input >>= 2;
        }
    }
    let start = (AUGMENTATION.len() - 2) as u8;
    let end = (AUGMENTATION.len() - 1) as u8;
    if let Some(cell) = field
        .get_mut(FIELD_W / 2)
        .and_then(|c| c.get_mut(FIELD_H / 2))
    {
        *cell = start;
    }
    if let Some(cell) = field.get_mut(x).and_then(|c| c.get_mut(y)) {
        *cell = end;
    }
    field
}

/// `+---[title]---+`: the title centred, the odd dash going to the right. A title too
/// long for the box is cut, as OpenSSH's snprintf into a 17-byte buffer cuts it.
fn border(out: &mut String, title: &str) {
    let title: String = title.chars().take(FIELD_W - 1).collect();
    let len = title.chars().count();
    let left = (FIELD_W - len) / 2;
    out.push('+');
    out.extend(std::iter::repeat_n('-', left));
    out.push_str(&title);
    out.extend(std::iter::repeat_n('-', FIELD_W - left - len));
    out.push('+');
}

impl PublicKey {
    /// This key's fingerprint (`ssh-keygen -l`).
    pub fn fingerprint(&self, alg: HashAlg) -> Fingerprint {
        Fingerprint::of(self, alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519_LINE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFizRxMOhLdaFb+sPqvhwUtDRErfHbGOLDyU8SdzMXU";

    #[test]
    fn sha256_fingerprint_is_unpadded_base64() {
        let key = PublicKey::from_openssh(ED25519_LINE).unwrap();
        let fp = key.fingerprint(HashAlg::Sha256).to_string();
        assert!(fp.starts_with("SHA256:"));
        assert_eq!(fp.len(), "SHA256:".len() + 43);
        assert!(!fp.ends_with('='));
    }

    #[test]
    fn md5_fingerprint_is_colon_hex() {
        let key = PublicKey::from_openssh(ED25519_LINE).unwrap();
        let fp = key.fingerprint(HashAlg::Md5).to_string();
        assert_eq!(fp.len(), "MD5:".len() + 16 * 3 - 1);
        assert!(fp
            .trim_start_matches("MD5:")
            .split(':')
            .all(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn randomart_of_zero_digest_walks_to_the_top_left() {
        // All moves are up-left: the bishop ends in the corner after 8 moves.
        let fp = Fingerprint {
            alg: HashAlg::Md5,
            digest: vec![0; 16],
        };
        let art = randomart_of_digest("[ED25519 256]", &fp);
        let lines: Vec<&str> = art.lines().collect();
        assert_eq!(lines.len(), 11);
        assert_eq!(lines[0], "+--[ED25519 256]--+");
        assert_eq!(lines[10], "+------[MD5]------+");
        assert!(lines[1].starts_with("|E"));
        assert_eq!(lines[5], "|        S        |");
    }

    #[test]
    fn hash_alg_option_names() {
        assert_eq!(HashAlg::from_option("SHA256"), Some(HashAlg::Sha256));
        assert_eq!(HashAlg::from_option("md5"), Some(HashAlg::Md5));
        assert_eq!(HashAlg::from_option("sha1"), None);
    }
}
