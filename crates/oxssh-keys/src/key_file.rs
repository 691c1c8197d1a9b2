//! Private and public key files on disk: recognising the container format, refusing a
//! private key file that others can read (OpenSSH's "UNPROTECTED PRIVATE KEY FILE!"
//! check, authfile.c `sshkey_perm_ok`), and reading and writing key files with the modes
//! OpenSSH uses (0600 private, 0644 public).
//!
//! The functions that decide (format, permission warning) are pure; the ones that touch
//! the file system are thin wrappers so the client and keygen share one behaviour.

use crate::private::{Encryption, PrivateKey, PrivateKeyError};
use std::fmt;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// OpenSSH refuses key files larger than this (authfile.c `MAX_KEY_FILE_SIZE`).
pub const MAX_KEY_FILE_SIZE: u64 = 1024 * 1024;

/// The container a private key file uses, recognised from its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileFormat {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` (openssh-key-v1).
    OpenSsh,
    /// `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1 PEM, `ssh-keygen -m PEM`).
    PemRsa,
    /// `-----BEGIN EC PRIVATE KEY-----` (SEC1 PEM).
    PemEc,
    /// `-----BEGIN DSA PRIVATE KEY-----`.
    PemDsa,
    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8, `ssh-keygen -m PKCS8`).
    Pkcs8,
    /// `-----BEGIN ENCRYPTED PRIVATE KEY-----` (encrypted PKCS#8).
    Pkcs8Encrypted,
    /// `PuTTY-User-Key-File-N:` (`.ppk`).
    Putty,
    /// `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----` (ssh.com / RFC 4716 style).
    Ssh2,
    /// Anything else.
    Unknown,
}

impl fmt::Display for KeyFileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenSsh => "OpenSSH (BEGIN OPENSSH PRIVATE KEY)",
            Self::PemRsa => "PEM RSA (BEGIN RSA PRIVATE KEY)",
            Self::PemEc => "PEM EC (BEGIN EC PRIVATE KEY)",
            Self::PemDsa => "PEM DSA (BEGIN DSA PRIVATE KEY)",
            Self::Pkcs8 => "PKCS#8 (BEGIN PRIVATE KEY)",
            Self::Pkcs8Encrypted => "encrypted PKCS#8 (BEGIN ENCRYPTED PRIVATE KEY)",
            Self::Putty => "PuTTY (.ppk)",
            Self::Ssh2 => "SSH2 (BEGIN SSH2 ENCRYPTED PRIVATE KEY)",
            Self::Unknown => "unknown",
        })
    }
}

/// Recognises a key file's container from its first non-blank line.
pub fn detect_format(text: &str) -> KeyFileFormat {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    const TABLE: [(&str, KeyFileFormat); 8] = [
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            KeyFileFormat::OpenSsh,
        ),
        ("-----BEGIN RSA PRIVATE KEY-----", KeyFileFormat::PemRsa),
        ("-----BEGIN EC PRIVATE KEY-----", KeyFileFormat::PemEc),
        ("-----BEGIN DSA PRIVATE KEY-----", KeyFileFormat::PemDsa),
        ("-----BEGIN PRIVATE KEY-----", KeyFileFormat::Pkcs8),
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----",
            KeyFileFormat::Pkcs8Encrypted,
        ),
        ("PuTTY-User-Key-File-", KeyFileFormat::Putty),
        (
            "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----",
            KeyFileFormat::Ssh2,
        ),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| first.starts_with(prefix))
        .map_or(KeyFileFormat::Unknown, |(_, format)| *format)
}

/// OpenSSH's refusal of a private key file that group or others may access, as the
/// lines it prints (authfile.c `sshkey_perm_ok`), or `None` when the file is fine.
///
/// As in OpenSSH the check applies only to files owned by the user running the program
/// (`file_uid == uid`): a key owned by someone else (root's host keys read by a test
/// harness, for instance) is not second-guessed. `shown_path` is the name as the user
/// gave it.
pub fn permission_warning(
    shown_path: &str,
    mode: u32,
    file_uid: u32,
    uid: u32,
) -> Option<Vec<String>> {
    if file_uid != uid || mode & 0o077 == 0 {
        return None;
    }
    let banner = "@".repeat(59);
    Some(vec![
        banner.clone(),
        "@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @".to_owned(),
        banner,
        format!(
            "Permissions 0{:03o} for '{shown_path}' are too open.",
            mode & 0o777
        ),
        "It is required that your private key files are NOT accessible by others.".to_owned(),
        "This private key will be ignored.".to_owned(),
    ])
}

/// The real user id of this process (what OpenSSH's `getuid()` returns), read from
/// `/proc/self/status` because std has no safe `getuid`. `None` where that file is
/// missing; callers then treat every file as the user's own, the stricter choice.
pub fn current_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Group or others may access the private key; `warning` holds OpenSSH's lines.
    #[error("bad permissions")]
    BadPermissions {
        /// The lines OpenSSH prints before ignoring the key.
        warning: Vec<String>,
    },
    /// Larger than [`MAX_KEY_FILE_SIZE`] or not text.
    #[error("invalid format")]
    InvalidFormat,
    /// Encoding the key failed.
    #[error(transparent)]
    Key(#[from] PrivateKeyError),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads a private key file after OpenSSH's permission check, into a buffer wiped on
/// drop. The permissions are checked on the opened file, so the file checked is the
/// file read.
///
/// # Errors
/// [`KeyFileError::BadPermissions`] for a key others can read;
/// [`KeyFileError::InvalidFormat`] for an oversized or non-UTF-8 file;
/// [`KeyFileError::Io`] otherwise.
pub fn read_private_key_file(path: &Path) -> Result<Zeroizing<String>, KeyFileError> {
    let file = File::open(path).map_err(io_error(path))?;
    let meta = file.metadata().map_err(io_error(path))?;
    let uid = current_uid().unwrap_or(meta.uid());
    if let Some(warning) =
        permission_warning(&path.display().to_string(), meta.mode(), meta.uid(), uid)
    {
        return Err(KeyFileError::BadPermissions { warning });
    }
    if meta.len() > MAX_KEY_FILE_SIZE {
        return Err(KeyFileError::InvalidFormat);
    }
    // Sized up front so the buffer never reallocates and leaves unwiped copies behind.
    let capacity = usize::try_from(meta.len()).map_err(|_| KeyFileError::InvalidFormat)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity.saturating_add(1)));
    (&file)
        .take(MAX_KEY_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    if bytes.len() as u64 > MAX_KEY_FILE_SIZE || std::str::from_utf8(&bytes).is_err() {
        return Err(KeyFileError::InvalidFormat);
    }
    let text = String::from_utf8(std::mem::take(&mut *bytes)).unwrap_or_default();
    Ok(Zeroizing::new(text))
}

/// Writes `key` as an `openssh-key-v1` file with mode 0600 (also when the file already
/// existed with a looser mode), encrypted when `encryption` is given.
///
/// # Errors
/// [`KeyFileError::Key`] if encoding fails, [`KeyFileError::Io`] if writing does.
pub fn write_private_key_file(
    path: &Path,
    key: &PrivateKey,
    encryption: Option<&Encryption<'_>>,
) -> Result<(), KeyFileError> {
    let text = key.to_openssh(encryption)?;
    write_with_mode(path, text.as_bytes(), 0o600)
}

/// Writes the `.pub` line (`type base64 comment\n`) with mode 0644, as ssh-keygen does:
/// the space before the comment is written even when the comment is empty (sshkey.c
/// `sshkey_save_public` prints `" %s"`), unlike `ssh-keygen -y` output.
///
/// # Errors
/// [`KeyFileError::Key`] if encoding fails, [`KeyFileError::Io`] if writing does.
pub fn write_public_key_file(path: &Path, key: &PrivateKey) -> Result<(), KeyFileError> {
    let base = key
        .public_key()
        .to_openssh()
        .map_err(|e| KeyFileError::Key(e.into()))?;
    let line = format!("{base} {}\n", key.comment());
    write_with_mode(path, line.as_bytes(), 0o644)
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyFileError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(io_error(path))?;
    // `mode` only applies to a new file; an existing one is tightened (or set) here.
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(io_error(path))?;
    file.write_all(bytes).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_lines_match_openssh() {
        let lines = permission_warning("id_ed25519", 0o100644, 1000, 1000).unwrap();
        assert_eq!(
            lines,
            [
                "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
                "@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @",
                "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
                "Permissions 0644 for 'id_ed25519' are too open.",
                "It is required that your private key files are NOT accessible by others.",
                "This private key will be ignored.",
            ]
        );
    }

    #[test]
    fn private_modes_and_other_owners_pass() {
        assert!(permission_warning("k", 0o100600, 1000, 1000).is_none());
        assert!(permission_warning("k", 0o100400, 1000, 1000).is_none());
        assert!(permission_warning("k", 0o100644, 0, 1000).is_none());
        let lines = permission_warning("k", 0o100604, 7, 7).unwrap();
        assert_eq!(lines[3], "Permissions 0604 for 'k' are too open.");
        let lines = permission_warning("k", 0o100004, 7, 7).unwrap();
        assert_eq!(lines[3], "Permissions 0004 for 'k' are too open.");
    }

    #[test]
    fn formats_are_recognised_by_their_first_line() {
        assert_eq!(
            detect_format("\n-----BEGIN OPENSSH PRIVATE KEY-----\n"),
            KeyFileFormat::OpenSsh
        );
        assert_eq!(
            detect_format("-----BEGIN EC PRIVATE KEY-----"),
            KeyFileFormat::PemEc
        );
        assert_eq!(
            detect_format("PuTTY-User-Key-File-3: ssh-ed25519"),
            KeyFileFormat::Putty
        );
        assert_eq!(detect_format("ssh-ed25519 AAAA"), KeyFileFormat::Unknown);
        assert_eq!(detect_format(""), KeyFileFormat::Unknown);
    }

    #[test]
    fn current_uid_is_readable_here() {
        assert!(current_uid().is_some());
    }
}
