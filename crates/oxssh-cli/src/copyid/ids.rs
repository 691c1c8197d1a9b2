//! Which public keys to install, chosen as ssh-copy-id 9.2 chooses them: the keys of a
//! running agent (what `ssh-add -L` lists), overridden by `-i FILE` (which installs
//! `FILE.pub`, `FILE` itself when it ends in `.pub`), falling back to the newest
//! `~/.ssh/id*.pub` that is not a certificate.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;

/// The keys to install and how the login check finds their private halves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    /// The public key lines, one key each.
    pub lines: Vec<String>,
    /// The private key file, when the keys come from a file and the filter step needs
    /// it (not when `-f` preceded `-i`). `None`: each line is offered on its own, so
    /// the agent's copy signs.
    pub private: Option<PathBuf>,
}

/// A key file that cannot be used, with ssh-copy-id's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdFileError(pub String);

/// The newest `~/.ssh/id*.pub` except `*-cert.pub` (`ls -t ... | head -n 1`).
pub fn default_pub_file(home: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(home.join(".ssh")).ok()?;
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("id") || !name.ends_with(".pub") || name.ends_with("-cert.pub") {
            continue;
        }
        let path = entry.path();
        let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) else {
            continue;
        };
        if newest.as_ref().is_none_or(|(time, _)| modified > *time) {
            newest = Some((modified, path));
        }
    }
    newest.map(|(_, path)| path)
}

/// ssh-copy-id's `use_id_file`: the `.pub` file to install and (unless `forced`) the
/// private key beside it, both of which must be readable.
pub fn from_file(file: &str, forced: bool) -> Result<(PathBuf, KeySource), IdFileError> {
    let public = if file.ends_with(".pub") {
        PathBuf::from(file)
    } else {
        PathBuf::from(format!("{file}.pub"))
    };
    let private = (!forced).then(|| public.with_extension(""));
    let text = std::fs::read(&public).map_err(|e| open_error(&public, &e, None))?;
    if let Some(private) = &private {
        std::fs::File::open(private).map_err(|e| open_error(private, &e, Some(&public)))?;
    }
    let lines = String::from_utf8_lossy(&text)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    Ok((public, KeySource { lines, private }))
}

/// `failed to open ID file 'F': No such file`, with the `-f` hint for a private key.
fn open_error(file: &Path, err: &std::io::Error, public: Option<&Path>) -> IdFileError {
    let reason = match err.kind() {
        // dash's wording for ENOENT, which the script shows.
        std::io::ErrorKind::NotFound => "No such file".to_owned(),
        _ => super::os_message(err),
    };
    let mut text = format!(
        "ERROR: failed to open ID file '{}': {reason}",
        file.display()
    );
    if let Some(public) = public {
        text.push_str(&format!(
            "\n\t(to install the contents of '{}' anyway, look at the -f option)",
            public.display()
        ));
    }
    IdFileError(text)
}

/// The agent's keys as `ssh-add -L` prints them, when `SSH_AUTH_SOCK` names an agent
/// that holds at least one (ssh-add -L fails otherwise, and the script moves on).
pub fn from_agent() -> Option<KeySource> {
    let socket = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty())?;
    let mut client = oxssh_agent::AgentClient::connect(Path::new(&socket)).ok()?;
    let lines: Vec<String> = client
        .identities()
        .ok()?
        .iter()
        .filter_map(|id| agent_line(&id.key_blob, &id.comment))
        .collect();
    (!lines.is_empty()).then_some(KeySource {
        lines,
        private: None,
    })
}

/// `type base64 comment`: the type is the blob's leading SSH string.
fn agent_line(blob: &[u8], comment: &str) -> Option<String> {
    let len_bytes: [u8; 4] = blob.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(len_bytes)).ok()?;
    let key_type = std::str::from_utf8(blob.get(4..4usize.checked_add(len)?)?).ok()?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(blob);
    let mut line = format!("{key_type} {encoded}");
    if !comment.is_empty() {
        line.push(' ');
        line.push_str(comment);
    }
    Some(line)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn agent_lines_look_like_ssh_add_dash_l() {
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 1, 7]);
        let line = agent_line(&blob, "me@host").unwrap();
        assert!(line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"));
        assert!(line.ends_with(" me@host"));
        assert_eq!(agent_line(&[0, 0, 0, 9, b'x'], ""), None);
    }

    #[test]
    fn a_missing_private_key_suggests_force() {
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("k.pub");
        std::fs::write(&public, "ssh-ed25519 AAAA c\n\n").unwrap();
        let err = from_file(&dir.path().join("k").display().to_string(), false).unwrap_err();
        assert!(err
            .0
            .contains("/k': No such file\n\t(to install the contents of '"));
        let (file, source) = from_file(&public.display().to_string(), true).unwrap();
        assert_eq!(file, public);
        assert_eq!(source.lines, vec!["ssh-ed25519 AAAA c".to_owned()]);
        assert_eq!(source.private, None);
    }
}
