//! The logins `oxssh-copy-id` makes, all through our `oxssh` as ssh-copy-id makes them
//! through `ssh -a -x`: one public-key-only login per key to learn whether it is
//! already installed, then one login (password or an existing key, possibly prompting)
//! that appends the missing keys with ssh-copy-id's remote shell snippet.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where keys go on servers that read the user's own file.
pub const AUTHORIZED_KEYS: &str = ".ssh/authorized_keys";
/// Where ssh-copy-id 9.2 installs keys on a Dropbear server.
pub const DROPBEAR_AUTHORIZED_KEYS: &str = "/etc/dropbear/authorized_keys";

/// ssh-copy-id 9.2's remote command for `file`, byte for byte: in the home directory,
/// with umask 077 (so a new `~/.ssh` is 0700 and a new `authorized_keys` 0600), add a
/// newline if the file does not end with one, append the keys from stdin, and restore
/// the SELinux context when `restorecon` exists. `exec sh -c` defends against
/// non-POSIX login shells.
pub fn install_command(file: &str) -> String {
    let dir = match file.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((dir, _)) => dir,
        None => ".",
    };
    format!(
        "exec sh -c 'cd; umask 077; mkdir -p \"{dir}\" && \
         {{ [ -z `tail -1c {file} 2>/dev/null` ] || \
         echo >> \"{file}\" || exit 1; }} && \
         cat >> \"{file}\" || exit 1; \
         if type restorecon >/dev/null 2>&1; then \
         restorecon -F \"{dir}\" \"{file}\"; fi '"
    )
}

/// What kind of server ssh-copy-id recognises from its software version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// A NetScreen firewall (DSA keys through its own CLI).
    NetScreen,
    /// Dropbear: keys go to [`DROPBEAR_AUTHORIZED_KEYS`].
    Dropbear,
    /// Anything else: keys go to `~/.ssh/authorized_keys`.
    Other,
}

impl ServerKind {
    /// From the `remote software version` ssh logs (`None` if the probe got none).
    pub fn from_version(version: Option<&str>) -> Self {
        match version {
            Some(v) if v.starts_with("NetScreen") => Self::NetScreen,
            Some(v) if v.starts_with("dropbear") => Self::Dropbear,
            _ => Self::Other,
        }
    }
}

/// The `oxssh` beside this program, else the one on `PATH`.
pub fn ssh_program() -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("oxssh")));
    match beside {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from("oxssh"),
    }
}

/// The `oxsftp` beside this program, else the one on `PATH`.
pub fn sftp_program() -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("oxsftp")));
    match beside {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from("oxsftp"),
    }
}

/// The `oxsftp` batch of `-s`: fetch `file` into `local`, append the keys from `keys`
/// there with a local shell command (a newline first if the file lacks a final one),
/// create the directory, and put the file back with ssh-copy-id's modes. One login, so
/// a password is asked once (there is no connection sharing yet).
pub fn sftp_batch(file: &str, local: &Path, keys: &Path) -> String {
    let dir = match file.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((dir, _)) => dir,
        None => ".",
    };
    let local = local.display();
    let keys = keys.display();
    format!(
        "-get \"{file}\" \"{local}\"\n\
         !{{ [ -z \"$(tail -1c '{local}' 2>/dev/null)\" ] || echo >> '{local}'; }} && cat '{keys}' >> '{local}'\n\
         -mkdir \"{dir}\"\n\
         chmod 700 \"{dir}\"\n\
         put \"{local}\" \"{file}\"\n\
         chmod 600 \"{file}\"\n"
    )
}

/// How to reach the host: the program, and the `-o`/`-p`/`-F` flags then the target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The `oxssh` to run.
    pub ssh: PathBuf,
    /// The user's flags, then `[user@]hostname`.
    pub args: Vec<String>,
}

/// What one filtering login found out about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The login worked: the key is installed.
    Installed,
    /// The server said "Permission denied": the key is missing.
    Missing,
    /// Anything else (host unreachable, host key changed): the login's output.
    Failed(String),
}

impl Target {
    /// `ssh -a -x` with the user's flags, as every ssh-copy-id login starts.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.ssh);
        cmd.args(["-a", "-x"]);
        cmd
    }

    /// The server's software version, from `oxssh -v` with no authentication method
    /// allowed (ssh-copy-id's probe; the login itself always fails).
    pub fn remote_version(&self) -> Option<String> {
        let output = self
            .command()
            .args([
                "-v",
                "-o",
                "PreferredAuthentications=,",
                "-o",
                "ControlPath=none",
            ])
            .args(&self.args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        text.lines().find_map(|line| {
            line.split_once("remote software version ")
                .map(|(_, version)| version.trim_end().to_owned())
        })
    }

    /// Logs in with only `identity` (a private key, or a public key the agent
    /// holds), by public key, and runs `exit`.
    pub fn probe(&self, identity: &Path) -> std::io::Result<Probe> {
        let output = self
            .command()
            .arg("-i")
            .arg(identity)
            .args([
                "-o",
                "ControlPath=none",
                "-o",
                "LogLevel=INFO",
                "-o",
                "PreferredAuthentications=publickey",
                "-o",
                "IdentitiesOnly=yes",
            ])
            .args(&self.args)
            .arg("exit")
            .stdin(Stdio::null())
            .output()?;
        if output.status.success() {
            return Ok(Probe::Installed);
        }
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok(if text.contains("Permission denied") {
            Probe::Missing
        } else {
            Probe::Failed(text)
        })
    }

    /// Appends `keys` (one line each) to the remote `~/.ssh/authorized_keys`; the
    /// login may prompt on the terminal. True when the remote command succeeded.
    pub fn install(&self, keys: &[String], file: &str) -> std::io::Result<bool> {
        let mut child = self
            .command()
            .args(&self.args)
            .arg(install_command(file))
            .stdin(Stdio::piped())
            .spawn()?;
        let mut input = keys.join("\n");
        input.push('\n');
        if let Some(mut stdin) = child.stdin.take() {
            // A login that fails closes its input early: the status says what happened.
            let _ = stdin.write_all(input.as_bytes());
        }
        Ok(child.wait()?.success())
    }
}

impl Target {
    /// `-s`: appends `keys` to the remote `file` through `oxsftp` (for servers that
    /// allow only SFTP), working in `scratch`. True when the batch succeeded.
    pub fn install_sftp(
        &self,
        keys: &[String],
        file: &str,
        scratch: &Path,
    ) -> std::io::Result<bool> {
        let local = scratch.join("authorized_keys");
        let new_keys = scratch.join("new_keys");
        let batch = scratch.join("sftp_batch");
        let _ = std::fs::remove_file(&local);
        let mut text = keys.join("\n");
        text.push('\n');
        std::fs::write(&new_keys, text)?;
        std::fs::write(&batch, sftp_batch(file, &local, &new_keys))?;
        // The login may prompt (sftp's -b would forbid it): an explicit BatchMode=no
        // comes first, and the first value wins. ssh's -p is sftp's -P; the
        // destination stays last.
        let mut args: Vec<String> = vec!["-q".into(), "-o".into(), "BatchMode=no".into()];
        args.extend(self.args.iter().map(|w| {
            if w == "-p" {
                "-P".to_owned()
            } else {
                w.clone()
            }
        }));
        let destination = args.pop().unwrap_or_default();
        let status = Command::new(sftp_program())
            .args(&args)
            .arg("-b")
            .arg(&batch)
            .arg(destination)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()?;
        Ok(status.success())
    }
}

/// ssh-copy-id's `quote`: `'` becomes `'\''`, for the single-quoted words it prints.
pub fn quote(word: &str) -> String {
    word.replace('\'', "'\\''")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_command_is_ssh_copy_ids() {
        // As ssh-copy-id 9.2 passes it to ssh (captured from the script).
        assert_eq!(
            install_command(AUTHORIZED_KEYS),
            "exec sh -c 'cd; umask 077; mkdir -p \".ssh\" && { [ -z `tail -1c \
             .ssh/authorized_keys 2>/dev/null` ] || echo >> \".ssh/authorized_keys\" || \
             exit 1; } && cat >> \".ssh/authorized_keys\" || exit 1; if type restorecon \
             >/dev/null 2>&1; then restorecon -F \".ssh\" \".ssh/authorized_keys\"; fi '"
        );
        assert!(install_command(DROPBEAR_AUTHORIZED_KEYS)
            .starts_with("exec sh -c 'cd; umask 077; mkdir -p \"/etc/dropbear\" && "));
    }

    #[test]
    fn servers_are_recognised_by_their_software_version() {
        assert_eq!(
            ServerKind::from_version(Some("dropbear_2022.83")),
            ServerKind::Dropbear
        );
        assert_eq!(
            ServerKind::from_version(Some("NetScreen")),
            ServerKind::NetScreen
        );
        assert_eq!(
            ServerKind::from_version(Some("OpenSSH_9.2p1 Debian-2+deb12u3")),
            ServerKind::Other
        );
        assert_eq!(ServerKind::from_version(None), ServerKind::Other);
    }

    #[test]
    fn quote_escapes_single_quotes() {
        assert_eq!(quote("it's"), "it'\\''s");
    }
}
