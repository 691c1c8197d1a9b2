//! Who is served and which keys let them in: the user running `oxsshd`, by the keys in
//! their `~/.ssh/authorized_keys`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oxssh_keys::PublicKey;

use super::Account;

/// The user running this process: name from `/etc/passwd` (else `$USER`), home from
/// `$HOME` (else the passwd entry), shell from `$SHELL` (else `/bin/sh`).
pub(crate) fn current_account() -> Result<Account, String> {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(|e| format!("cannot determine the current user: {e}"))?;
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entry = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [name, _, id, _, _, home, ..] if id.parse::<u32>().ok() == Some(uid) => {
                Some(((*name).to_owned(), PathBuf::from(home)))
            }
            _ => None,
        }
    });
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let name = match (&entry, env("USER").or_else(|| env("LOGNAME"))) {
        (Some((name, _)), _) => name.clone(),
        (None, Some(user)) => user.to_string_lossy().into_owned(),
        (None, None) => return Err(format!("no user name for uid {uid}")),
    };
    let home = match (env("HOME"), entry) {
        (Some(home), _) => PathBuf::from(home),
        (None, Some((_, home))) => home,
        (None, None) => return Err("HOME is not set".into()),
    };
    let shell = env("SHELL").map_or_else(|| PathBuf::from("/bin/sh"), PathBuf::from);
    Ok(Account { name, home, shell })
}

/// Whether `key` is listed in `path` (read afresh for each attempt, so edits apply at
/// once). Lines with options before the key type are not supported yet: skipped.
pub(crate) fn is_authorized(path: &Path, key: &PublicKey) -> bool {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!("cannot read {}: {e}", path.display());
            return false;
        }
    };
    authorized_in(&text, key, path)
}

fn authorized_in(text: &str, key: &PublicKey, path: &Path) -> bool {
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match PublicKey::from_openssh(line) {
            Ok(k) if k == *key => return true,
            Ok(_) => {}
            Err(_) => tracing::debug!(
                "{}:{}: skipped (key options are not supported yet, or not a key)",
                path.display(),
                n + 1
            ),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test";

    #[test]
    fn finds_plain_lines_and_skips_options_and_comments() {
        let key = PublicKey::from_openssh(KEY);
        assert!(key.is_ok(), "{key:?}");
        let Ok(key) = key else { return };
        let path = Path::new("authorized_keys");
        assert!(authorized_in(&format!("# c\n\n{KEY}\n"), &key, path));
        assert!(!authorized_in(&format!("no-pty {KEY}\n"), &key, path));
        assert!(!authorized_in("garbage\n", &key, path));
    }
}
