//! The host key: `$XDG_STATE_HOME/oxssh/ssh_host_ed25519_key` (default
//! `~/.local/state/oxssh/`), created on first start with mode 0600 in a 0700 directory;
//! `HostKey` files, and the `HostCertificate`s that certify them.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use oxssh_keys::certificate::{CertType, Certificate};
use oxssh_keys::{KeyMaterial, PrivateKey};
use oxssh_proto::certificate::CertifiedKey;
use oxssh_proto::crypto::SigningKey;
use zeroize::Zeroizing;

const FILE_NAME: &str = "ssh_host_ed25519_key";

/// Where the host key lives.
pub(crate) fn default_path(home: &Path) -> Result<PathBuf, String> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".local/state"));
    Ok(state.join("oxssh").join(FILE_NAME))
}

/// Loads the key at `path`, creating it (and its directory) first if missing.
pub(crate) fn load_or_create(path: &Path) -> Result<Arc<dyn SigningKey>, String> {
    if !path.exists() {
        create(path)?;
    }
    load(path)
}

/// Loads the unencrypted OpenSSH private key at `path`, refused (as sshd refuses it)
/// when others may read it.
pub(crate) fn load(path: &Path) -> Result<Arc<dyn SigningKey>, String> {
    let text = oxssh_keys::key_file::read_private_key_file(path).map_err(|e| match e {
        oxssh_keys::key_file::KeyFileError::BadPermissions { warning } => warning.join("\n"),
        other => format!("{}: {other}", path.display()),
    })?;
    let cannot =
        |e: &dyn std::fmt::Display| format!("{}: cannot load host key: {e}", path.display());
    // PEM and PKCS#8 host keys (`ssh-keygen -m PEM`), as sshd reads them too.
    let key = if crate::keygen::identity::is_pem(&text) {
        let private = oxssh_crypto::private_key_from_pem(&text).map_err(|e| cannot(&e))?;
        oxssh_crypto::signer_from_private(&private).map_err(|e| cannot(&e))?
    } else {
        oxssh_crypto::load_openssh_private_key(&text).map_err(|e| cannot(&e))?
    };
    Ok(Arc::from(key))
}

fn create(path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(seed.as_mut_slice()).map_err(|_| "no randomness".to_owned())?;
    let pair = Ed25519KeyPair::from_seed_unchecked(seed.as_slice())
        .map_err(|e| format!("cannot make a host key: {e}"))?;
    let public: [u8; 32] = pair
        .public_key()
        .as_ref()
        .try_into()
        .map_err(|_| "bad ed25519 public key".to_owned())?;
    let host = hostname();
    let key = PrivateKey::new(
        KeyMaterial::Ed25519 {
            seed: &seed,
            public: &public,
        },
        &format!("oxsshd@{host}"),
    )
    .map_err(|e| format!("cannot encode the host key: {e}"))?;
    oxssh_keys::key_file::write_private_key_file(path, &key, None)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::info!("created host key {}", path.display());
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// Attaches each `HostCertificate` file to the host key it certifies, as sshd does;
/// returns the warnings for certificates that cannot be used (sshd goes on without
/// them).
pub(crate) fn attach_certificates(
    keys: &mut [Arc<dyn SigningKey>],
    paths: &[String],
) -> Vec<String> {
    let mut warnings = Vec::new();
    for path in paths {
        let cert = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| Certificate::from_openssh(&text).map_err(|e| e.to_string()));
        let cert = match cert {
            Ok((cert, _)) if cert.cert_type == CertType::Host => cert,
            Ok(_) => {
                warnings.push(format!("HostCertificate {path}: not a host certificate"));
                continue;
            }
            Err(e) => {
                warnings.push(format!("Could not load host certificate \"{path}\": {e}"));
                continue;
            }
        };
        match keys.iter_mut().find(|k| *k.public_key() == cert.key) {
            Some(slot) => {
                if let Some(certified) = CertifiedKey::new(Arc::clone(slot), cert) {
                    *slot = Arc::new(certified);
                }
            }
            None => warnings.push(format!("No matching private key for certificate: {path}")),
        }
    }
    warnings
}
