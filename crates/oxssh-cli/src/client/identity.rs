//! User keys for public-key authentication: identity files (with OpenSSH's default
//! list and permission checks) and keys held by the agent. An encrypted key offers its
//! public half first and asks for the passphrase only when the server would accept it.
//! An identity file that is a public key (`-i key.pub`, or `key` missing beside
//! `key.pub`) names a key without holding it: it selects the agent's copy, which is
//! how `IdentitiesOnly` picks among agent keys.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use oxssh_keys::key_file::{read_private_key_file, KeyFileError};
use oxssh_keys::private::{decrypt, is_encrypted, read_public, PrivateKeyError};
use oxssh_keys::PublicKey;
use oxssh_proto::crypto::{CryptoError, SigningKey};
use oxssh_wire::names::key;
use zeroize::Zeroizing;

use super::prompt::Prompter;

/// Identity files OpenSSH 9.2 tries when none is configured, in order.
pub const DEFAULT_IDENTITY_FILES: &[&str] = &[
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
];

/// A key to offer, with where it came from (for `-v` logs).
pub struct Identity {
    /// The key.
    pub key: Arc<dyn SigningKey>,
    /// `agent: comment` or the file path.
    pub source: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The signature algorithms a key type can use, as a key file's key offers them.
fn algorithms_for(public: &PublicKey) -> Vec<&'static str> {
    match public.key_type() {
        t if t == key::SSH_RSA => vec![key::RSA_SHA2_512, key::RSA_SHA2_256],
        t if t == key::SSH_ED25519 => vec![key::SSH_ED25519],
        t if t == key::ECDSA_SHA2_NISTP256 => vec![key::ECDSA_SHA2_NISTP256],
        t if t == key::ECDSA_SHA2_NISTP384 => vec![key::ECDSA_SHA2_NISTP384],
        t if t == key::ECDSA_SHA2_NISTP521 => vec![key::ECDSA_SHA2_NISTP521],
        _ => Vec::new(),
    }
}

/// A passphrase-protected key file: the public key is known, the private key is
/// decrypted (asking for the passphrase) the first time a signature is needed.
struct LockedKey {
    path: PathBuf,
    text: Zeroizing<String>,
    public: PublicKey,
    prompter: Arc<dyn Prompter>,
    unlocked: Mutex<Option<Box<dyn SigningKey>>>,
}

impl LockedKey {
    fn unlock(&self) -> Result<Box<dyn SigningKey>, CryptoError> {
        // OpenSSH asks three times (NumberOfPasswordPrompts' default).
        for _ in 0..3 {
            let question = format!("Enter passphrase for key '{}': ", self.path.display());
            let Some(passphrase) = self.prompter.secret(&question) else {
                break;
            };
            match decrypt(&self.text, passphrase.as_bytes()) {
                Ok(private) => {
                    let plain = private
                        .to_openssh(None)
                        .map_err(|_| CryptoError::InvalidKey)?;
                    return oxssh_crypto::load_openssh_private_key(&plain);
                }
                Err(PrivateKeyError::WrongPassphrase) => continue,
                Err(_) => return Err(CryptoError::InvalidKey),
            }
        }
        Err(CryptoError::InvalidKey)
    }
}

impl SigningKey for LockedKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn signature_algorithms(&self) -> Vec<&'static str> {
        algorithms_for(&self.public)
    }
    fn sign(&self, algorithm: &str, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut unlocked = self
            .unlocked
            .lock()
            .map_err(|_| CryptoError::Unsupported("key lock poisoned"))?;
        if unlocked.is_none() {
            *unlocked = Some(self.unlock()?);
        }
        match unlocked.as_ref() {
            Some(key) => key.sign(algorithm, message),
            None => Err(CryptoError::InvalidKey),
        }
    }
}

/// A key known only by its public half: it can be matched with the agent's keys and
/// offered, but not used to sign (as OpenSSH, which fails to load the private half).
struct PublicOnlyKey {
    public: PublicKey,
}

impl SigningKey for PublicOnlyKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn signature_algorithms(&self) -> Vec<&'static str> {
        algorithms_for(&self.public)
    }
    fn sign(&self, _algorithm: &str, _message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::Unsupported("no private key for this identity"))
    }
}

/// Largest public key file read (an RSA 16384-bit line is under 3 kB).
const MAX_PUBLIC_KEY_FILE: u64 = 64 * 1024;

/// How public key lines start (the key type); nothing else is read past its head.
const PUBLIC_KEY_PREFIXES: [&[u8]; 3] = [b"ssh-", b"ecdsa-", b"sk-"];

/// The key in `path` if it is an OpenSSH public key line. Reads no further than the
/// first bytes of anything else: a private key's text must only be read after the
/// permission check (and into wiped memory).
fn read_public_key_file(path: &Path) -> Option<PublicKey> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 6];
    file.read_exact(&mut head).ok()?;
    if !PUBLIC_KEY_PREFIXES.iter().any(|p| head.starts_with(p)) {
        return None;
    }
    let mut text = Zeroizing::new(String::from_utf8(head.to_vec()).ok()?);
    file.take(MAX_PUBLIC_KEY_FILE)
        .read_to_string(&mut text)
        .ok()?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    PublicKey::from_openssh(line).ok()
}

/// OpenSSH's `sshkey_load_public`: the file itself if it is a public key, else
/// `path.pub` when the private key file does not exist.
fn public_only(path: &Path) -> Option<PublicKey> {
    if let Some(key) = read_public_key_file(path) {
        return Some(key);
    }
    if path.exists() {
        return None;
    }
    let mut with_pub = path.as_os_str().to_owned();
    with_pub.push(".pub");
    read_public_key_file(Path::new(&with_pub))
}

/// Loads one identity file. Missing files are skipped silently; bad permissions print
/// OpenSSH's warning and skip the key.
pub fn load_file(path: &Path, prompter: Arc<dyn Prompter>) -> Option<Identity> {
    if let Some(public) = public_only(path) {
        return Some(Identity {
            key: Arc::new(PublicOnlyKey { public }),
            source: path.display().to_string(),
        });
    }
    let text = match read_private_key_file(path) {
        Ok(text) => text,
        Err(KeyFileError::BadPermissions { warning }) => {
            for line in warning {
                eprintln!("{line}");
            }
            return None;
        }
        Err(KeyFileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return None
        }
        Err(e) => {
            tracing::debug!("skipping {}: {e}", path.display());
            return None;
        }
    };
    let source = path.display().to_string();
    if crate::keygen::identity::is_pem(&text) {
        // PEM and PKCS#8 keys (`ssh-keygen -m PEM`, openssl): unencrypted only.
        let key = match oxssh_crypto::private_key_from_pem(&text) {
            Ok(key) => key,
            Err(e) => {
                eprintln!("Load key \"{source}\": {e}");
                return None;
            }
        };
        let signer = oxssh_crypto::signer_from_private(&key)
            .map_err(|e| tracing::debug!("cannot use {source}: {e}"))
            .ok()?;
        return Some(Identity {
            key: Arc::from(signer),
            source,
        });
    }
    if is_encrypted(&text).ok()? {
        let public = read_public(&text).ok()?;
        let key = LockedKey {
            path: path.to_owned(),
            text,
            public,
            prompter,
            unlocked: Mutex::new(None),
        };
        return Some(Identity {
            key: Arc::new(key),
            source,
        });
    }
    match oxssh_crypto::load_openssh_private_key(&text) {
        Ok(key) => Some(Identity {
            key: Arc::from(key),
            source,
        }),
        Err(e) => {
            tracing::debug!("cannot use {source}: {e}");
            None
        }
    }
}

/// Keys held by the agent at `socket`, if one answers.
pub fn agent_keys(socket: &Path) -> Vec<Identity> {
    let keys = oxssh_agent::AgentClient::connect(socket).and_then(|c| c.keys());
    match keys {
        Ok(keys) => keys
            .into_iter()
            .map(|k| Identity {
                source: format!("agent: {}", k.comment()),
                key: Arc::new(k),
            })
            .collect(),
        Err(e) => {
            tracing::debug!("agent at {}: {e}", socket.display());
            Vec::new()
        }
    }
}
