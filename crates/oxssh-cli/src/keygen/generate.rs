//! Key pair generation (`ssh-keygen [-t type] [-b bits] [-f file] [-N pass] [-C comment]`)
//! and the host keys of `-A`, with ssh-keygen 9.2's questions, output lines and files:
//! the private key in `openssh-key-v1` (bcrypt-pbkdf + aes256-ctr under a passphrase),
//! mode 0600, and the `.pub` line, mode 0644. aws-lc makes the keys (through
//! `oxssh-crypto`); `oxssh-keys` writes them.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use oxssh_crypto::KeyKind;
use oxssh_keys::key_file::{write_private_key_file, write_public_key_file, KeyFileError};
use oxssh_keys::private::{Encryption, DEFAULT_ROUNDS};
use oxssh_keys::{fingerprint, EcdsaCurve, PrivateKey};
use oxssh_proto::crypto::CryptoError;

use super::args::Options;
use super::prompts::{ask_filename, confirm_overwrite, new_passphrase};
use super::{hostname, strerror, Failure, User};

/// ssh-keygen 9.2's default type (9.5 moved to ed25519).
const DEFAULT_TYPE: &str = "rsa";
/// ssh-keygen's default RSA size (`DEFAULT_BITS`).
const DEFAULT_RSA_BITS: u32 = 3072;
/// OpenSSH's RSA limits (`SSH_RSA_MINIMUM_MODULUS_SIZE`, `OPENSSL_RSA_MAX_MODULUS_BITS`).
const RSA_MIN_BITS: u32 = 1024;
const RSA_MAX_BITS: u32 = 16384;

/// A resolved `-t`/`-b`: what to make and the default file name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// What aws-lc makes.
    pub kind: KeyKind,
    /// `id_rsa`, `id_ecdsa`, `id_ed25519`.
    pub default_file: &'static str,
}

#[derive(Clone, Copy)]
enum Family {
    Rsa,
    Ecdsa(Option<EcdsaCurve>),
    Ed25519,
}

/// sshkey.c's names: short names (any case) and full key type names.
fn family(name: &str) -> Result<Family, Failure> {
    let lower = name.to_ascii_lowercase();
    Ok(match (lower.as_str(), name) {
        ("rsa", _) | (_, "ssh-rsa" | "rsa-sha2-256" | "rsa-sha2-512") => Family::Rsa,
        ("ecdsa", _) => Family::Ecdsa(None),
        (_, "ecdsa-sha2-nistp256") => Family::Ecdsa(Some(EcdsaCurve::NistP256)),
        (_, "ecdsa-sha2-nistp384") => Family::Ecdsa(Some(EcdsaCurve::NistP384)),
        (_, "ecdsa-sha2-nistp521") => Family::Ecdsa(Some(EcdsaCurve::NistP521)),
        ("ed25519", _) | (_, "ssh-ed25519") => Family::Ed25519,
        ("dsa" | "ecdsa-sk" | "ed25519-sk", _)
        | (_, "ssh-dss" | "sk-ecdsa-sha2-nistp256@openssh.com" | "sk-ssh-ed25519@openssh.com") => {
            return Err(Failure::fatal(format!(
                "oxssh-keygen: key type {name} is not supported (ed25519, ecdsa and rsa are)"
            )))
        }
        _ => return Err(Failure::fatal(format!("unknown key type {name}"))),
    })
}

impl KeySpec {
    /// ssh-keygen's `type_bits_valid`: default sizes and the same refusals.
    ///
    /// # Errors
    /// ssh-keygen's fatal messages; an RSA size aws-lc cannot make is refused by name.
    pub fn resolve(key_type: Option<&str>, bits: Option<u32>) -> Result<Self, Failure> {
        let name = key_type.unwrap_or(DEFAULT_TYPE);
        Ok(match family(name)? {
            Family::Ed25519 => Self {
                kind: KeyKind::Ed25519,
                default_file: "id_ed25519",
            },
            Family::Ecdsa(named) => {
                let curve = match (bits, named) {
                    (None, Some(curve)) => curve,
                    (None, None) | (Some(256), _) => EcdsaCurve::NistP256,
                    (Some(384), _) => EcdsaCurve::NistP384,
                    (Some(521), _) => EcdsaCurve::NistP521,
                    (Some(_), _) => {
                        return Err(Failure::fatal(
                            "Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits",
                        ))
                    }
                };
                Self {
                    kind: KeyKind::Ecdsa(curve),
                    default_file: "id_ecdsa",
                }
            }
            Family::Rsa => {
                let bits = bits.unwrap_or(DEFAULT_RSA_BITS);
                if bits < RSA_MIN_BITS {
                    return Err(Failure::fatal(format!(
                        "Invalid RSA key length: minimum is {RSA_MIN_BITS} bits"
                    )));
                }
                if bits > RSA_MAX_BITS {
                    return Err(Failure::fatal(format!(
                        "Invalid RSA key length: maximum is {RSA_MAX_BITS} bits"
                    )));
                }
                let sizes = oxssh_crypto::sign::generate::RSA_SIZES;
                let size = usize::try_from(bits).unwrap_or(0);
                if !sizes.contains(&size) {
                    return Err(Failure::fatal(format!(
                        "oxssh-keygen: RSA key length {bits} is not supported \
                         (aws-lc makes 2048, 3072, 4096 or 8192-bit keys)"
                    )));
                }
                Self {
                    kind: KeyKind::Rsa { bits: size },
                    default_file: "id_rsa",
                }
            }
        })
    }
}

fn generate(kind: KeyKind) -> Result<PrivateKey, Failure> {
    oxssh_crypto::generate_private_key(kind, "").map_err(|e| match e {
        CryptoError::Unsupported(what) => Failure::fatal(format!("{what} not supported")),
        _ => Failure::fatal("sshkey_generate failed"),
    })
}

/// hostfile.c `hostfile_create_user_ssh_dir`: a key going straight into a missing
/// `~/.ssh` creates it (0700) and says so on stderr.
fn create_user_ssh_dir(path: &Path, user: &User, notify: bool) {
    let dot_ssh = user.home.join(".ssh");
    if path.parent() != Some(dot_ssh.as_path()) || dot_ssh.exists() {
        return;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(&dot_ssh) {
        Ok(()) if notify => super::log_line(&format!("Created directory '{}'.", dot_ssh.display())),
        Ok(()) => {}
        Err(e) => super::log_line(&format!(
            "Could not create directory '{}' ({}).",
            dot_ssh.display(),
            strerror(&e)
        )),
    }
}

fn io_reason(err: &KeyFileError) -> String {
    match err {
        KeyFileError::Io { source, .. } => strerror(source),
        other => other.to_string(),
    }
}

/// Writes the private key (encrypted under a non-empty passphrase) with ssh-keygen's
/// failure message (`Saving key "F" failed: REASON`, exit 1).
pub fn save_private(
    path: &Path,
    key: &PrivateKey,
    passphrase: &str,
    rounds: Option<u32>,
) -> Result<(), Failure> {
    let mut encryption = Encryption::new(passphrase.as_bytes());
    encryption.rounds = rounds.unwrap_or(DEFAULT_ROUNDS);
    let encryption = (!passphrase.is_empty()).then_some(&encryption);
    write_private_key_file(path, key, encryption).map_err(|e| {
        Failure::with_code(
            format!(
                "Saving key \"{}\" failed: {}",
                path.display(),
                io_reason(&e)
            ),
            1,
        )
    })
}

/// Writes `PATH.pub` (fatal on failure, as ssh-keygen).
pub fn save_public(path: &Path, key: &PrivateKey) -> Result<PathBuf, Failure> {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    let pub_path = PathBuf::from(name);
    write_public_key_file(&pub_path, key).map_err(|e| {
        Failure::fatal(format!(
            "Unable to save public key to {}: {}",
            pub_path.display(),
            io_reason(&e)
        ))
    })?;
    Ok(pub_path)
}

/// `ssh-keygen [-q] [-t type] [-b bits] [-f file] [-N pass] [-C comment] [-a rounds]`.
///
/// # Errors
/// ssh-keygen's messages and exit statuses.
pub fn run(opts: &Options, user: &User) -> Result<(), Failure> {
    let spec = KeySpec::resolve(opts.key_type.as_deref(), opts.bits)?;
    if !opts.quiet {
        println!(
            "Generating public/private {} key pair.",
            opts.key_type.as_deref().unwrap_or(DEFAULT_TYPE)
        );
    }
    // As ssh-keygen: the key is made first, then the questions are asked.
    let mut key = generate(spec.kind)?;
    let path = match &opts.file {
        Some(path) => path.clone(),
        None => ask_filename(
            "Enter file in which to save the key",
            &user.ssh_file(spec.default_file),
        )
        .ok_or_else(|| Failure::exit(1))?,
    };
    create_user_ssh_dir(&path, user, !opts.quiet);
    if !confirm_overwrite(&path) {
        return Err(Failure::exit(1));
    }
    let passphrase = match opts
        .old_passphrase
        .as_ref()
        .or(opts.new_passphrase.as_ref())
    {
        Some(p) => p.clone(),
        None => new_passphrase(
            "Enter passphrase (empty for no passphrase): ",
            "Enter same passphrase again: ",
        ),
    };
    let comment = opts
        .comment
        .clone()
        .unwrap_or_else(|| format!("{}@{}", user.name, hostname()));
    key.set_comment(&comment);
    save_private(&path, &key, &passphrase, opts.rounds)?;
    if !opts.quiet {
        println!("Your identification has been saved in {}", path.display());
    }
    let pub_path = save_public(&path, &key)?;
    if !opts.quiet {
        let public = key.public_key();
        println!("Your public key has been saved in {}", pub_path.display());
        println!("The key fingerprint is:");
        println!("{} {comment}", public.fingerprint(opts.hash));
        println!("The key's randomart image is:");
        println!("{}", fingerprint::randomart(public, opts.hash));
    }
    Ok(())
}

/// `-A`: the host key types ssh-keygen 9.2 makes, in its order.
const HOST_KEYS: [(&str, &str, &str); 3] = [
    ("rsa", "RSA", "/etc/ssh/ssh_host_rsa_key"),
    ("ecdsa", "ECDSA", "/etc/ssh/ssh_host_ecdsa_key"),
    ("ed25519", "ED25519", "/etc/ssh/ssh_host_ed25519_key"),
];

/// `ssh-keygen -A [-f prefix]`: makes each missing (or empty) host key under
/// `PREFIX/etc/ssh/`, unencrypted, written to temporary names and renamed into place so
/// a half-written key is never taken for a real one.
///
/// # Errors
/// Never fatal: a key that cannot be made is reported and the next one tried, as
/// ssh-keygen does.
pub fn all_host_keys(opts: &Options, user: &User) -> Result<(), Failure> {
    let prefix = opts
        .file
        .as_ref()
        .map(|p| p.as_os_str().to_owned())
        .unwrap_or_default();
    let comment = format!("{}@{}", user.name, hostname());
    let mut first = false;
    for (type_name, display, suffix) in HOST_KEYS {
        let mut name = prefix.clone();
        name.push(suffix);
        let path = PathBuf::from(name);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.len() != 0 => continue,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                super::log_line(&format!("Could not stat {suffix}: {}", strerror(&e)));
                first = false;
                continue;
            }
        }
        if !first {
            first = true;
            print!("oxssh-keygen: generating new host keys: ");
        }
        print!("{display} ");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        if let Err(message) = make_host_key(type_name, &path, &comment, opts.rounds) {
            super::log_line(&message);
            first = false;
        }
    }
    if first {
        println!();
    }
    Ok(())
}

fn make_host_key(
    type_name: &str,
    path: &Path,
    comment: &str,
    rounds: Option<u32>,
) -> Result<(), String> {
    let spec = KeySpec::resolve(Some(type_name), None).map_err(|f| f.message)?;
    let mut key = generate(spec.kind).map_err(|f| f.message)?;
    key.set_comment(comment);
    let temp = with_suffix(path, ".tmp-oxssh");
    let pub_path = with_suffix(path, ".pub");
    save_private(&temp, &key, "", rounds).map_err(|_| {
        format!(
            "Could not save your private key in {}: {}",
            temp.display(),
            parent_error(&temp)
        )
    })?;
    save_public(&temp, &key).map_err(|f| f.message)?;
    std::fs::rename(with_suffix(&temp, ".pub"), &pub_path).map_err(|e| {
        format!(
            "Unable to move {} into position: {}",
            pub_path.display(),
            strerror(&e)
        )
    })?;
    std::fs::rename(&temp, path).map_err(|e| {
        format!(
            "Unable to move {} into position: {}",
            path.display(),
            strerror(&e)
        )
    })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The reason a file cannot be created in its directory (usually that it is missing).
fn parent_error(path: &Path) -> String {
    match path.parent().map(std::fs::metadata) {
        Some(Err(e)) => strerror(&e),
        _ => "Permission denied".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_ssh_keygen_9_2_s() {
        let spec = KeySpec::resolve(None, None).unwrap();
        assert_eq!(spec.kind, KeyKind::Rsa { bits: 3072 });
        assert_eq!(spec.default_file, "id_rsa");
        let spec = KeySpec::resolve(Some("ECDSA"), None).unwrap();
        assert_eq!(spec.kind, KeyKind::Ecdsa(EcdsaCurve::NistP256));
        let spec = KeySpec::resolve(Some("ecdsa-sha2-nistp384"), None).unwrap();
        assert_eq!(spec.kind, KeyKind::Ecdsa(EcdsaCurve::NistP384));
        let spec = KeySpec::resolve(Some("ed25519"), Some(7)).unwrap();
        assert_eq!(spec.kind, KeyKind::Ed25519);
    }

    #[test]
    fn bad_sizes_get_ssh_keygen_s_messages() {
        let msg = |t: &str, b: u32| KeySpec::resolve(Some(t), Some(b)).unwrap_err().message;
        assert_eq!(
            msg("rsa", 1000),
            "Invalid RSA key length: minimum is 1024 bits"
        );
        assert_eq!(
            msg("rsa", 20000),
            "Invalid RSA key length: maximum is 16384 bits"
        );
        assert_eq!(
            msg("ecdsa", 200),
            "Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits"
        );
        assert!(msg("rsa", 5000).contains("not supported"));
        assert_eq!(
            KeySpec::resolve(Some("foo"), None).unwrap_err().message,
            "unknown key type foo"
        );
        assert!(KeySpec::resolve(Some("dsa"), None)
            .unwrap_err()
            .message
            .contains("not supported"));
    }
}
