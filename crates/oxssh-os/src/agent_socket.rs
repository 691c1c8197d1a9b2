//! The listening socket of a forwarded agent (sshd's `auth_input_request_forwarding`):
//! a fresh directory `/tmp/ssh-XXXXXXXXXX` of mode 0700 and a socket `agent.<pid>` in
//! it, both owned by the session's user, so that only they (and root) can reach the
//! agent. Removed again when dropped.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{chown, Gid, Uid};

use crate::error::{Error, Result};
use crate::user::SystemUser;

/// Characters of the random directory name (mkdtemp's set).
const NAME_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A forwarded agent's socket and its directory; both are removed on drop.
#[derive(Debug)]
pub struct AgentSocket {
    dir: PathBuf,
    path: PathBuf,
    listener: Option<std::os::unix::net::UnixListener>,
}

impl AgentSocket {
    /// Creates the directory under `base` (`/tmp`) named from `random` (10 bytes or
    /// more), binds the socket `agent.<pid>` (`pid`: sshd uses its session process's)
    /// and gives both to `user`.
    pub fn create(base: &Path, random: &[u8], pid: u32, user: &SystemUser) -> Result<Self> {
        let name: String = random
            .iter()
            .take(10)
            .filter_map(|b| NAME_CHARS.get(usize::from(*b) % NAME_CHARS.len()))
            .map(|&c| char::from(c))
            .collect();
        let dir = base.join(format!("ssh-{name}"));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io("mkdir agent directory"))?;
        // From here on, dropping `socket` removes what was made.
        let mut socket = Self {
            path: dir.join(format!("agent.{pid}")),
            dir,
            listener: None,
        };
        let listener = std::os::unix::net::UnixListener::bind(&socket.path)
            .map_err(io("bind agent socket"))?;
        listener
            .set_nonblocking(true)
            .map_err(io("agent socket non-blocking"))?;
        socket.listener = Some(listener);
        // Only the user, as sshd's (it binds under umask 0177); the directory already
        // keeps everyone else out.
        std::fs::set_permissions(&socket.path, std::fs::Permissions::from_mode(0o600))
            .map_err(io("chmod agent socket"))?;
        let (uid, gid) = (Some(Uid::from_raw(user.uid)), Some(Gid::from_raw(user.gid)));
        chown(&socket.path, uid, gid).map_err(Error::sys("chown agent socket"))?;
        chown(&socket.dir, uid, gid).map_err(Error::sys("chown agent directory"))?;
        Ok(socket)
    }

    /// The socket's path (`SSH_AUTH_SOCK`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The listener (non-blocking), for the caller's event loop; once.
    pub fn take_listener(&mut self) -> Option<std::os::unix::net::UnixListener> {
        self.listener.take()
    }
}

impl Drop for AgentSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::Sys {
        op,
        source: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn socket_lives_in_a_private_directory_and_goes_away_on_drop() {
        let base = tempfile::tempdir().unwrap();
        let me = SystemUser {
            name: "me".into(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            home: PathBuf::from("/"),
            shell: PathBuf::from("/bin/sh"),
            gecos: String::new(),
        };
        let socket = AgentSocket::create(base.path(), &[7u8; 10], 42, &me).unwrap();
        let dir = socket.path().parent().unwrap().to_owned();
        assert!(dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("ssh-"));
        assert_eq!(socket.path().file_name().unwrap(), "agent.42");
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        assert_eq!(meta.uid(), me.uid);
        let socket_meta = std::fs::metadata(socket.path()).unwrap();
        assert_eq!(socket_meta.permissions().mode() & 0o777, 0o600);
        std::os::unix::net::UnixStream::connect(socket.path()).unwrap();
        // The same name again is refused, never reused.
        assert!(AgentSocket::create(base.path(), &[7u8; 10], 42, &me).is_err());
        drop(socket);
        assert!(!dir.exists());
    }
}
