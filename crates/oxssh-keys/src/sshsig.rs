//! SSHSIG signatures (OpenSSH `PROTOCOL.sshsig`), the format `ssh-keygen -Y sign` writes
//! and git's SSH commit signing uses: the armored `-----BEGIN SSH SIGNATURE-----` text,
//! the blob inside it, and the "signed data" a key actually signs.
//!
//! The encoding comes from the `ssh-key` crate; the message digest from aws-lc-rs. This
//! module signs and verifies nothing: the crypto provider does, over [`signed_data`].

use std::io::Read;

use aws_lc_rs::digest;
use ssh_key::encoding::Encode as _;
use ssh_key::LineEnding;

use crate::public::PublicKey;

/// The message hash inside an SSHSIG (`PROTOCOL.sshsig`: `sha256` or `sha512`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigHash {
    /// `sha256`.
    Sha256,
    /// `sha512`, what ssh-keygen uses by default.
    #[default]
    Sha512,
}

impl SigHash {
    fn to_ssh_key(self) -> ssh_key::HashAlg {
        match self {
            Self::Sha256 => ssh_key::HashAlg::Sha256,
            Self::Sha512 => ssh_key::HashAlg::Sha512,
        }
    }

    fn from_ssh_key(alg: ssh_key::HashAlg) -> Option<Self> {
        match alg {
            ssh_key::HashAlg::Sha256 => Some(Self::Sha256),
            ssh_key::HashAlg::Sha512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The digest of everything `reader` yields, read in blocks so that large files are
    /// never held in memory.
    ///
    /// # Errors
    /// The reader's error.
    pub fn digest_reader(self, mut reader: impl Read) -> std::io::Result<Vec<u8>> {
        let alg = match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha512 => &digest::SHA512,
        };
        let mut ctx = digest::Context::new(alg);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            ctx.update(buf.get(..n).unwrap_or_default());
        }
        Ok(ctx.finish().as_ref().to_vec())
    }
}

/// Why an SSHSIG could not be read or written, in the words ssh-keygen uses after
/// `Couldn't parse signature: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SshSigError {
    /// No `-----BEGIN SSH SIGNATURE-----` line.
    #[error("missing header")]
    MissingHeader,
    /// A version this implementation does not know.
    #[error("Signature version {0} is larger than supported version 1")]
    Version(u32),
    /// The armor or blob does not decode, or holds a key or hash we do not support.
    #[error("invalid format")]
    Format,
}

/// One SSHSIG: who signed, in which namespace, over which hash, and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSig {
    /// The signer's public key.
    pub public_key: PublicKey,
    /// The namespace (`git`, `file`, ...), never empty.
    pub namespace: String,
    /// The hash of the message that was signed.
    pub hash: SigHash,
    /// The signature algorithm (`ssh-ed25519`, `rsa-sha2-512`, ...).
    pub algorithm: String,
    /// The signature bytes inside the SSH signature blob, after the algorithm name.
    pub signature: Vec<u8>,
}

const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";

impl SshSig {
    /// Reads the armored form.
    ///
    /// # Errors
    /// [`SshSigError`], with ssh-keygen's reason.
    pub fn from_armored(text: &[u8]) -> Result<Self, SshSigError> {
        let text = std::str::from_utf8(text).map_err(|_| SshSigError::Format)?;
        let start = text.find(BEGIN).ok_or(SshSigError::MissingHeader)?;
        let armored = text.get(start..).ok_or(SshSigError::Format)?;
        let sig = ssh_key::SshSig::from_pem(armored).map_err(|e| match e {
            ssh_key::Error::Version { number } => SshSigError::Version(number),
            _ => SshSigError::Format,
        })?;
        let blob = sig
            .public_key()
            .encode_vec()
            .map_err(|_| SshSigError::Format)?;
        Ok(Self {
            public_key: PublicKey::from_blob(&blob).map_err(|_| SshSigError::Format)?,
            namespace: sig.namespace().to_owned(),
            hash: SigHash::from_ssh_key(sig.hash_alg()).ok_or(SshSigError::Format)?,
            algorithm: sig.algorithm().as_str().to_owned(),
            signature: sig.signature_bytes().to_vec(),
        })
    }

    /// The armored form, as ssh-keygen writes it (70-column base64, LF line ends, a
    /// final newline).
    ///
    /// # Errors
    /// [`SshSigError::Format`] for an empty namespace or a malformed signature.
    pub fn to_armored(&self) -> Result<String, SshSigError> {
        let key = ssh_key::PublicKey::from_bytes(&self.public_key.to_blob())
            .map_err(|_| SshSigError::Format)?;
        let algorithm =
            ssh_key::Algorithm::new(&self.algorithm).map_err(|_| SshSigError::Format)?;
        let signature = ssh_key::Signature::new(algorithm, self.signature.clone())
            .map_err(|_| SshSigError::Format)?;
        let sig = ssh_key::SshSig::new(
            key.key_data().clone(),
            self.namespace.clone(),
            self.hash.to_ssh_key(),
            signature,
        )
        .map_err(|_| SshSigError::Format)?;
        let mut text = sig
            .to_pem(LineEnding::LF)
            .map_err(|_| SshSigError::Format)?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(text)
    }
}

/// The bytes a key signs for a message whose digest is `digest` (`PROTOCOL.sshsig`:
/// `"SSHSIG" || string namespace || string reserved || string hash_algorithm ||
/// string H(message)`).
///
/// # Errors
/// [`SshSigError::Format`] for an empty namespace or a digest of the wrong length.
pub fn signed_data(namespace: &str, hash: SigHash, digest: &[u8]) -> Result<Vec<u8>, SshSigError> {
    ssh_key::SshSig::signed_data_for_prehash(namespace, hash.to_ssh_key(), digest)
        .map_err(|_| SshSigError::Format)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ssh-keygen -Y sign -f ed -n git msg` (OpenSSH 9.2) over "hello\n".
    const SIGNED_BY_SSH_KEYGEN: &str = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgslf6CZhbcoHjD7RLiydfSNvXYn
T9zbmrtPP9/rM4jhwAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5
AAAAQJtzEtXEmqq0YBRGuUP08+EoLta/TBgoLxHtfL7UWrv++oCSZ1XkJeM86WkvSayA6X
R3ecxnrkPLtsgfTimR0QA=
-----END SSH SIGNATURE-----
";

    #[test]
    fn ssh_keygen_signature_reads_and_rewrites_byte_for_byte() {
        let sig = SshSig::from_armored(SIGNED_BY_SSH_KEYGEN.as_bytes()).unwrap();
        assert_eq!(sig.namespace, "git");
        assert_eq!(sig.hash, SigHash::Sha512);
        assert_eq!(sig.algorithm, "ssh-ed25519");
        assert_eq!(sig.signature.len(), 64);
        assert_eq!(sig.to_armored().unwrap(), SIGNED_BY_SSH_KEYGEN);
    }

    #[test]
    fn text_without_the_armor_header_is_missing_header() {
        assert_eq!(
            SshSig::from_armored(b"garbage\n"),
            Err(SshSigError::MissingHeader)
        );
        let truncated = SIGNED_BY_SSH_KEYGEN.replace("-----END SSH SIGNATURE-----\n", "");
        assert_eq!(
            SshSig::from_armored(truncated.as_bytes()),
            Err(SshSigError::Format)
        );
    }

    #[test]
    fn signed_data_refuses_an_empty_namespace_and_a_short_digest() {
        let digest = SigHash::Sha512.digest_reader(&b"hello\n"[..]).unwrap();
        assert_eq!(digest.len(), 64);
        assert!(signed_data("git", SigHash::Sha512, &digest).is_ok());
        assert!(signed_data("", SigHash::Sha512, &digest).is_err());
        assert!(signed_data("git", SigHash::Sha512, &digest[..32]).is_err());
    }
}
