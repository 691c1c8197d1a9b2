//! `RevokedKeys` (sshd's `auth_key_is_revoked`): a file of public keys, one per line, that
//! may not log in; a certificate is revoked when its key or its CA's key is listed. An
//! OpenSSH KRL (binary key revocation list) is not read yet: start-up refuses one, and a
//! file that becomes a KRL or cannot be read revokes every key, as sshd fails closed on
//! a revocation file it cannot check.

use std::path::Path;

use oxssh_keys::certificate::Certificate;
use oxssh_keys::{HashAlg, PublicKey};

/// The first bytes of an OpenSSH KRL (`PROTOCOL.krl`).
const KRL_MAGIC: &[u8] = b"SSHKRL\n\0";

/// Longest revoked-keys file read.
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Why `path` cannot be used as a `RevokedKeys` file at start-up, if so.
pub(crate) fn startup_problem(path: &str) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.starts_with(KRL_MAGIC) => Some(format!(
            "RevokedKeys {path}: OpenSSH KRL files are not supported by oxsshd yet \
             (a file of public keys is)"
        )),
        // sshd does not look at the file before a login either: one it cannot read
        // then revokes every key.
        _ => None,
    }
}

/// sshd's log line when `key` (or the CA of `cert`) is revoked by `path`, else `None`.
pub(crate) fn revocation(
    path: &str,
    key: &PublicKey,
    cert: Option<&Certificate>,
) -> Option<String> {
    // sshd names the key that was offered (`ED25519-CERT` for a certificate), whichever
    // of it and its CA is listed.
    let label = format!(
        "{}{} {}",
        super::log::key_label(key),
        if cert.is_some() { "-CERT" } else { "" },
        key.fingerprint(HashAlg::Sha256)
    );
    let listed = match read_keys(Path::new(path)) {
        Ok(keys) => keys,
        Err(e) => {
            return Some(format!(
                "Error checking authentication key {label} in revoked keys file {path}: {e}"
            ))
        }
    };
    let mut candidates = std::iter::once(key).chain(cert.map(|c| &c.signature_key));
    candidates
        .any(|k| listed.contains(k))
        .then(|| format!("Authentication key {label} revoked by file {path}"))
}

fn read_keys(path: &Path) -> Result<Vec<PublicKey>, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if bytes.starts_with(KRL_MAGIC) {
        return Err("KRL files are not supported yet".into());
    }
    let text = String::from_utf8_lossy(&bytes);
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            // A line may hold a plain key or a certificate (its key is revoked).
            PublicKey::from_openssh(l)
                .ok()
                .or_else(|| Certificate::from_openssh(l).ok().map(|(c, _)| c.key))
        })
        .collect())
}
