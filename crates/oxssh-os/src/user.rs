//! System accounts: looking a user up by name (passwd entry) and the groups they are in
//! (`getgrouplist`), and group names for `Match Group`, `AllowGroups` and `DenyGroups`.
//!
//! Everything here is computed in the parent, before any fork: [`crate::spawn`] hands the
//! precomputed group list to the child, which only calls `setgroups` (`initgroups` is not
//! async-signal-safe).

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Group, Uid, User};

use crate::error::{Error, Result};

/// The shell used when a passwd entry's shell field is empty, as `sshd` does.
pub const DEFAULT_SHELL: &str = "/bin/sh";

/// A system user's passwd entry (no password field: hashes are PAM's business).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemUser {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: PathBuf,
    /// Login shell as recorded (may be empty; see [`SystemUser::login_shell`]).
    pub shell: PathBuf,
    /// The GECOS (full name) field, lossily decoded.
    pub gecos: String,
}

impl SystemUser {
    /// Looks `name` up in the passwd database (files, NSS). `Ok(None)` when there is no
    /// such user; a name containing a NUL byte is no user either.
    pub fn by_name(name: &str) -> Result<Option<Self>> {
        let user = User::from_name(name).map_err(Error::sys("getpwnam_r"))?;
        Ok(user.map(Self::from_nix))
    }

    /// Looks a user up by id.
    pub fn by_uid(uid: u32) -> Result<Option<Self>> {
        let user = User::from_uid(Uid::from_raw(uid)).map_err(Error::sys("getpwuid_r"))?;
        Ok(user.map(Self::from_nix))
    }

    fn from_nix(user: User) -> Self {
        Self {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home: user.dir,
            shell: user.shell,
            gecos: user.gecos.to_string_lossy().into_owned(),
        }
    }

    /// The shell a session runs: the passwd shell, or [`DEFAULT_SHELL`] when that is empty.
    pub fn login_shell(&self) -> &Path {
        if self.shell.as_os_str().is_empty() {
            Path::new(DEFAULT_SHELL)
        } else {
            &self.shell
        }
    }

    /// Every group the user is in, primary group first, as `initgroups` would set them
    /// (`getgrouplist` over the group database).
    pub fn group_ids(&self) -> Result<Vec<u32>> {
        let name = CString::new(self.name.as_str()).map_err(|_| Error::NulByte("user name"))?;
        let groups = nix::unistd::getgrouplist(&name, Gid::from_raw(self.gid))
            .map_err(Error::sys("getgrouplist"))?;
        let mut ids: Vec<u32> = Vec::with_capacity(groups.len());
        ids.push(self.gid);
        for gid in groups.into_iter().map(Gid::as_raw) {
            if !ids.contains(&gid) {
                ids.push(gid);
            }
        }
        Ok(ids)
    }

    /// The names of [`SystemUser::group_ids`], for `Match Group` and `AllowGroups`; a group
    /// id with no name in the group database is left out (OpenSSH does the same).
    pub fn group_names(&self) -> Result<Vec<String>> {
        group_names(&self.group_ids()?)
    }
}

/// The names of the groups `ids`, in order; an id with no name in the group database is
/// left out (OpenSSH does the same). For a list from [`SystemUser::group_ids`] that is
/// also handed to the session, so the group database is walked once per login.
pub fn group_names(ids: &[u32]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for &gid in ids {
        if let Some(name) = group_name(gid)? {
            names.push(name);
        }
    }
    Ok(names)
}

/// The name of group `gid`, `None` when the group database has no such group.
pub fn group_name(gid: u32) -> Result<Option<String>> {
    let group = Group::from_gid(Gid::from_raw(gid)).map_err(Error::sys("getgrgid_r"))?;
    Ok(group.map(|g| g.name))
}

/// The id of the group called `name`, `None` when there is none.
pub fn group_id(name: &str) -> Result<Option<u32>> {
    let group = Group::from_name(name).map_err(Error::sys("getgrnam_r"))?;
    Ok(group.map(|g| g.gid.as_raw()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_uid_zero_with_a_home_and_group_zero() -> Result<()> {
        let root = SystemUser::by_name("root")?.ok_or(Error::NulByte("no root"))?;
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(root.home, PathBuf::from("/root"));
        assert_eq!(root.group_ids()?.first(), Some(&0));
        assert!(root.group_names()?.iter().any(|g| g == "root"));
        assert_eq!(SystemUser::by_uid(0)?.map(|u| u.name), Some("root".into()));
        Ok(())
    }

    #[test]
    fn unknown_and_malformed_names_are_no_user() -> Result<()> {
        assert_eq!(SystemUser::by_name("oxssh-no-such-user-x")?, None);
        assert_eq!(SystemUser::by_name("ro\0ot")?, None);
        assert_eq!(group_id("oxssh-no-such-group-x")?, None);
        assert_eq!(group_id("root")?, Some(0));
        assert_eq!(group_name(0)?.as_deref(), Some("root"));
        Ok(())
    }

    #[test]
    fn empty_shell_means_bin_sh() {
        let user = SystemUser {
            name: "x".into(),
            uid: 1,
            gid: 1,
            home: "/".into(),
            shell: PathBuf::new(),
            gecos: String::new(),
        };
        assert_eq!(user.login_shell(), Path::new("/bin/sh"));
    }
}
