//! Loading private keys the way ssh-keygen's `sshkey_load_private` does: OpenSSH's
//! permission check (printing the "UNPROTECTED PRIVATE KEY FILE!" warning), then the
//! key, asking for the passphrase only when the file is encrypted. Errors carry
//! ssh-keygen's wording for the reason (`incorrect passphrase supplied to decrypt
//! private key`, `bad permissions`, and `error in libcrypto` for a file that is not a
//! key: ssh-keygen 9.2 reports that once its PEM fallback has also failed).

use std::path::Path;

use oxssh_keys::key_file::{read_private_key_file, KeyFileError};
use oxssh_keys::private::{self, PrivateKeyError};
use oxssh_keys::PrivateKey;
use zeroize::Zeroizing;

use super::strerror;

/// Why a key did not load: ssh-keygen's reason text (what follows `Load key "F": `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

/// The decrypted text of a private key file, after the permission check. The warning
/// lines are printed on stderr before the error is returned, as OpenSSH does.
///
/// # Errors
/// The reason, in ssh-keygen's words.
pub fn read_checked(path: &Path) -> Result<Zeroizing<String>, LoadError> {
    read_private_key_file(path).map_err(|e| match e {
        KeyFileError::BadPermissions { warning } => {
            for line in warning {
                super::log_line(&line);
            }
            LoadError("bad permissions".into())
        }
        KeyFileError::Io { source, .. } => LoadError(strerror(&source)),
        _ => LoadError("invalid format".into()),
    })
}

/// The reason ssh-keygen gives for a key that does not parse or decrypt.
pub fn reason(err: &PrivateKeyError) -> String {
    match err {
        PrivateKeyError::WrongPassphrase => err.to_string(),
        PrivateKeyError::UnsupportedKeyType(_) => "unknown or unsupported key type".into(),
        _ => "error in libcrypto".into(),
    }
}

/// Whether the text is an encrypted key (so a passphrase is needed). Text that is not
/// a key counts as unencrypted: parsing it then reports the error.
pub fn needs_passphrase(text: &str) -> bool {
    private::is_encrypted(text).unwrap_or(false)
}

/// Parses (and decrypts, when `passphrase` is given and the key is encrypted) a key.
///
/// # Errors
/// The reason, in ssh-keygen's words.
pub fn parse(text: &str, passphrase: &str) -> Result<PrivateKey, LoadError> {
    if is_pem(text) {
        return oxssh_crypto::private_key_from_pem(text).map_err(|e| match e {
            oxssh_crypto::PemKeyError::Encrypted => LoadError(e.to_string()),
            _ => LoadError("error in libcrypto".into()),
        });
    }
    private::decrypt(text, passphrase.as_bytes()).map_err(|e| LoadError(reason(&e)))
}

/// Whether the text is a PEM or PKCS#8 private key (read by
/// [`oxssh_crypto::private_key_from_pem`] rather than as `openssh-key-v1`).
pub fn is_pem(text: &str) -> bool {
    use oxssh_keys::KeyFileFormat as F;
    matches!(
        oxssh_keys::key_file::detect_format(text),
        F::PemRsa | F::PemEc | F::Pkcs8 | F::Pkcs8Encrypted
    )
}

/// ssh-keygen's `load_identity`: the key at `path`, decrypted with `passphrase` (`-P`)
/// or with one asked as `Enter passphrase: ` when it is encrypted.
///
/// # Errors
/// The reason, in ssh-keygen's words.
pub fn load(
    path: &Path,
    passphrase: Option<&str>,
    prompt: &str,
) -> Result<(PrivateKey, Zeroizing<String>), LoadError> {
    let text = read_checked(path)?;
    let pass = if needs_passphrase(&text) {
        match passphrase {
            Some(p) => Zeroizing::new(p.to_owned()),
            None => super::prompts::read_passphrase(prompt),
        }
    } else {
        Zeroizing::new(String::new())
    };
    let key = parse(&text, &pass)?;
    Ok((key, pass))
}
