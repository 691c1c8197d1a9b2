//! `ChrootDirectory`: sshd's checks on a jail's path (every component a root-owned
//! directory that neither group nor others may write), and the steps that put a session
//! process inside it (`chroot`, `chdir`, then the irreversible switch to the user).
//!
//! Two ways in, chosen by [`crate::SessionSpec::chroot`]:
//! - a shell or command: the forked child chroots before it drops privileges and then
//!   execs the user's shell from inside the jail (which must hold it and its libraries,
//!   as with sshd);
//! - a server-provided program (oxsshd's `internal-sftp`): its libraries live outside the
//!   jail and the kernel resolves the ELF interpreter after `chroot`, so it cannot be
//!   exec'd from inside. It is exec'd as root outside the jail with [`CONFINE_ENV`] set to
//!   an encoded [`Confinement`], and its `main` calls [`Confinement::take_from_env`] and
//!   [`Confinement::enter`] before it reads any peer input. The fresh process is
//!   single-threaded, so it can do this with ordinary code rather than in a pre-exec hook.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid};

use crate::error::{Error, Result};

/// The variable that tells a program started by [`crate::SessionSpec`] to confine itself.
pub const CONFINE_ENV: &str = "OXSSH_SESSION_CONFINE";

/// Checks `path` as sshd's `safely_chroot` does before it chroots: absolute, and every
/// component from `/` down a directory owned by root and not writable by group or
/// others. The error is sshd's message (e.g. `bad ownership or modes for chroot
/// directory component "/srv/"`).
pub fn check_chroot_path(path: &Path) -> std::result::Result<(), String> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err("chroot path does not begin at root".into());
    }
    // "/", then each prefix ending in '/', then the whole path (sshd's loop).
    let mut cuts: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|&(_, b)| *b == b'/')
        .map(|(i, _)| i + 1)
        .collect();
    if cuts.last() != Some(&bytes.len()) {
        cuts.push(bytes.len());
    }
    for (n, &cut) in cuts.iter().enumerate() {
        let component = OsStr::from_bytes(bytes.get(..cut).unwrap_or(bytes));
        let shown = component.to_string_lossy();
        let last = n + 1 == cuts.len();
        let meta = std::fs::metadata(component)
            .map_err(|e| format!("safely_chroot: stat(\"{shown}\"): {}", strip_os_error(&e)))?;
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            let which = if last { "" } else { "component " };
            return Err(format!(
                "bad ownership or modes for chroot directory {which}\"{shown}\""
            ));
        }
        if !meta.is_dir() {
            let which = if last { "" } else { "component " };
            return Err(format!("chroot path {which}\"{shown}\" is not a directory"));
        }
    }
    Ok(())
}

/// `io::Error`'s text without Rust's " (os error N)" suffix, as strerror prints it.
fn strip_os_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// Expands `ChrootDirectory`'s tokens as sshd does: a leading `~` (the user's home),
/// `%h` (home), `%u` (user name), `%U` (uid), `%%`. An unknown token is an error.
pub fn expand_chroot_tokens(
    template: &str,
    home: &str,
    user: &str,
    uid: u32,
) -> std::result::Result<String, String> {
    let mut out = String::new();
    let rest = match template.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            out.push_str(home);
            rest
        }
        _ => template,
    };
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(home),
            Some('u') => out.push_str(user),
            Some('U') => out.push_str(&uid.to_string()),
            Some('%') => out.push('%'),
            Some(other) => return Err(format!("percent_expand: unknown key %{other}")),
            None => return Err("percent_expand: invalid format".into()),
        }
    }
    Ok(out)
}

/// Where a self-confining program goes and who it becomes there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confinement {
    /// The jail (already checked with [`check_chroot_path`]).
    pub root: PathBuf,
    /// The home directory inside the jail; `/` is used when it is missing.
    pub home: PathBuf,
    /// The user id to become.
    pub uid: u32,
    /// The group id to become.
    pub gid: u32,
    /// The supplementary groups.
    pub groups: Vec<u32>,
}

impl Confinement {
    /// The value of [`CONFINE_ENV`]: `uid:gid:g1,g2,...:hex(root):hex(home)` (hex, so
    /// any byte of a path survives).
    pub fn encode(&self) -> OsString {
        let groups: Vec<String> = self.groups.iter().map(u32::to_string).collect();
        let text = format!(
            "{}:{}:{}:{}:{}",
            self.uid,
            self.gid,
            groups.join(","),
            hex(self.root.as_os_str().as_bytes()),
            hex(self.home.as_os_str().as_bytes())
        );
        text.into()
    }

    /// Reads [`Confinement::encode`]'s form; `None` when malformed.
    pub fn decode(value: &OsStr) -> Option<Self> {
        let text = value.to_str()?;
        let mut parts = text.split(':');
        let uid = parts.next()?.parse().ok()?;
        let gid = parts.next()?.parse().ok()?;
        let groups = match parts.next()? {
            "" => Vec::new(),
            list => list
                .split(',')
                .map(|g| g.parse().ok())
                .collect::<Option<Vec<u32>>>()?,
        };
        let root = PathBuf::from(OsString::from_vec(unhex(parts.next()?)?));
        let home = PathBuf::from(OsString::from_vec(unhex(parts.next()?)?));
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            root,
            home,
            uid,
            gid,
            groups,
        })
    }

    /// Removes [`CONFINE_ENV`] from this process's environment and decodes it:
    /// `Ok(None)` when it is not set, an error when it is set but malformed. Call it
    /// first thing in `main`, while the process is single-threaded.
    pub fn take_from_env() -> std::result::Result<Option<Self>, String> {
        let Some(value) = std::env::var_os(CONFINE_ENV) else {
            return Ok(None);
        };
        std::env::remove_var(CONFINE_ENV);
        Self::decode(&value)
            .map(Some)
            .ok_or_else(|| format!("malformed {CONFINE_ENV}"))
    }

    /// Enters the jail as sshd's child does: checks the path again, `chdir` and `chroot`
    /// to it, then sets the groups, group and user irreversibly and changes to the home
    /// directory inside (else `/`). Needs root; a single-threaded process.
    pub fn enter(&self) -> std::result::Result<(), String> {
        check_chroot_path(&self.root)?;
        let shown = self.root.display();
        nix::unistd::chdir(&self.root)
            .map_err(|e| format!("Unable to chdir to chroot path \"{shown}\": {}", e.desc()))?;
        nix::unistd::chroot(&self.root)
            .map_err(|e| format!("chroot(\"{shown}\"): {}", e.desc()))?;
        nix::unistd::chdir("/")
            .map_err(|e| format!("safely_chroot: chdir(/) after chroot: {}", e.desc()))?;
        drop_to(self.uid, self.gid, &self.groups).map_err(|e| e.to_string())?;
        // As sshd: a home missing inside the jail is not worth a message.
        if nix::unistd::chdir(&self.home).is_err() {
            nix::unistd::chdir("/").map_err(|e| format!("chdir(/): {}", e.desc()))?;
        }
        Ok(())
    }
}

/// setgroups, setgid, setuid, and a check that root cannot be regained (OpenSSH's
/// `permanently_set_uid`).
fn drop_to(uid: u32, gid: u32, groups: &[u32]) -> Result<()> {
    let groups: Vec<Gid> = groups.iter().copied().map(Gid::from_raw).collect();
    nix::unistd::setgroups(&groups).map_err(Error::sys("setgroups"))?;
    nix::unistd::setgid(Gid::from_raw(gid)).map_err(Error::sys("setgid"))?;
    let uid = Uid::from_raw(uid);
    nix::unistd::setuid(uid).map_err(Error::sys("setuid"))?;
    if !uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(Error::Sys {
            op: "setuid: root could be regained",
            source: nix::errno::Errno::EPERM,
        });
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confinement_round_trips_any_path_bytes() {
        let c = Confinement {
            root: PathBuf::from(OsString::from_vec(b"/srv/a:b\n\xff".to_vec())),
            home: PathBuf::from("/home/x y"),
            uid: 1001,
            gid: 1002,
            groups: vec![1002, 27],
        };
        assert_eq!(Confinement::decode(&c.encode()), Some(c.clone()));
        let none = Confinement {
            groups: vec![],
            ..c
        };
        assert_eq!(Confinement::decode(&none.encode()), Some(none));
        for bad in ["", "1:2:3", "x:2::2f:2f", "1:2::2f:2", "1:2::2f:2f:extra"] {
            assert_eq!(Confinement::decode(OsStr::new(bad)), None, "{bad}");
        }
    }

    #[test]
    fn tokens_expand_as_sshd() {
        let e = |t| expand_chroot_tokens(t, "/home/al", "al", 1001);
        assert_eq!(e("/srv/%u").unwrap(), "/srv/al");
        assert_eq!(e("%h/jail").unwrap(), "/home/al/jail");
        assert_eq!(e("~/j").unwrap(), "/home/al/j");
        assert_eq!(e("/u/%U/100%%").unwrap(), "/u/1001/100%");
        assert!(e("/srv/%x").is_err());
    }

    #[test]
    fn chroot_checks_refuse_relative_and_writable_paths() {
        assert_eq!(
            check_chroot_path(Path::new("srv")).unwrap_err(),
            "chroot path does not begin at root"
        );
        assert!(check_chroot_path(Path::new("/")).is_ok());
        // /tmp is world-writable (sticky): sshd refuses it as a component and as a jail.
        let tmp = std::env::temp_dir();
        if tmp == Path::new("/tmp") && std::fs::metadata(&tmp).is_ok_and(|m| m.mode() & 0o002 != 0)
        {
            assert_eq!(
                check_chroot_path(Path::new("/tmp")).unwrap_err(),
                "bad ownership or modes for chroot directory \"/tmp\""
            );
            assert_eq!(
                check_chroot_path(Path::new("/tmp/x")).unwrap_err(),
                "bad ownership or modes for chroot directory component \"/tmp/\""
            );
        }
        assert!(check_chroot_path(Path::new("/no/such/dir"))
            .unwrap_err()
            .starts_with("safely_chroot: stat(\"/no/\"): No such file"));
    }
}
