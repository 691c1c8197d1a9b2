//! sshd's `StrictModes` check of a user's file before trusting it (OpenSSH misc.c
//! `safe_path`, used for authorized_keys and authorized_principals):
//!
//! - the file, by its canonical path (symlinks resolved), must be a regular file owned by
//!   root or the user, and not writable by group or others;
//! - then each directory above it, from its parent upwards, must be owned by root or the
//!   user and not writable by group or others. The walk stops after checking the user's
//!   home directory (canonicalised too) when the file is under it, so the directories
//!   above the home (`/home`, `/`) are not checked then; for a file outside the home it
//!   goes on to `/`.
//!
//! Errors carry OpenSSH's message text; sshd logs them as "Authentication refused: ...".
//! Only std is used: the server calls this with the user's rights (through its
//! `Privileged` interface).

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The permission bits that make a file or directory unsafe: group- or world-writable.
const WRITABLE_BY_OTHERS: u32 = 0o022;

/// Why a path is not trusted under `StrictModes`. `Display` is OpenSSH's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InsecurePath {
    /// The file could not be examined.
    #[error("cannot stat file {}: {reason}", path.display())]
    Stat {
        /// The path as given.
        path: PathBuf,
        /// The OS's reason.
        reason: String,
    },
    /// The path could not be made canonical.
    #[error("realpath {} failed: {reason}", path.display())]
    Realpath {
        /// The path as given.
        path: PathBuf,
        /// The OS's reason.
        reason: String,
    },
    /// The path is not a regular file.
    #[error("{} is not a regular file", path.display())]
    NotRegularFile {
        /// The canonical path.
        path: PathBuf,
    },
    /// The file is owned by someone else, or writable by group or others.
    #[error("bad ownership or modes for file {}", path.display())]
    File {
        /// The canonical path.
        path: PathBuf,
    },
    /// A directory on the way up is owned by someone else, writable by group or others,
    /// or cannot be examined.
    #[error("bad ownership or modes for directory {}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
    },
}

impl InsecurePath {
    /// The file or directory the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Stat { path, .. }
            | Self::Realpath { path, .. }
            | Self::NotRegularFile { path }
            | Self::File { path }
            | Self::Directory { path } => path,
        }
    }
}

/// Checks `path` for user `uid` whose home directory is `home`.
///
/// Prefer [`check_secure_file`] when the file is being read: it checks the opened file
/// itself, as sshd does, so the file cannot be swapped between the check and the read.
pub fn check_secure_path(path: &Path, uid: u32, home: &Path) -> Result<(), InsecurePath> {
    let metadata = fs::metadata(path).map_err(|e| InsecurePath::Stat {
        path: path.to_owned(),
        reason: os_reason(&e),
    })?;
    check_metadata(&metadata, path, uid, home)
}

/// Checks an opened `file`, which was opened as `path`, for user `uid` whose home
/// directory is `home` (OpenSSH `safe_path_fd`): the file's own ownership and modes come
/// from the open file, the directories from `path`.
pub fn check_secure_file(
    file: &File,
    path: &Path,
    uid: u32,
    home: &Path,
) -> Result<(), InsecurePath> {
    let metadata = file.metadata().map_err(|e| InsecurePath::Stat {
        path: path.to_owned(),
        reason: os_reason(&e),
    })?;
    check_metadata(&metadata, path, uid, home)
}

fn check_metadata(
    metadata: &Metadata,
    path: &Path,
    uid: u32,
    home: &Path,
) -> Result<(), InsecurePath> {
    let canonical = fs::canonicalize(path).map_err(|e| InsecurePath::Realpath {
        path: path.to_owned(),
        reason: os_reason(&e),
    })?;
    // OpenSSH compares against the home only when it can canonicalise it; otherwise the
    // walk goes all the way to `/`.
    let home = fs::canonicalize(home).ok();
    if !metadata.file_type().is_file() {
        return Err(InsecurePath::NotRegularFile { path: canonical });
    }
    if !is_safe(metadata, uid) {
        return Err(InsecurePath::File { path: canonical });
    }
    let mut dir = canonical.parent();
    while let Some(current) = dir {
        let safe = fs::metadata(current).is_ok_and(|m| is_safe(&m, uid));
        if !safe {
            return Err(InsecurePath::Directory {
                path: current.to_owned(),
            });
        }
        if home.as_deref() == Some(current) {
            break;
        }
        dir = current.parent();
    }
    Ok(())
}

/// Owned by root or `uid`, and not writable by group or others.
fn is_safe(metadata: &Metadata, uid: u32) -> bool {
    let owner = metadata.uid();
    (owner == 0 || owner == uid) && metadata.mode() & WRITABLE_BY_OTHERS == 0
}

/// The OS's description of an error without Rust's " (os error N)" suffix, to read like
/// OpenSSH's `strerror` text.
fn os_reason(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(end) => text.get(..end).unwrap_or(&text).to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    /// `root/home/.ssh/authorized_keys` with sshd-friendly modes; returns the tempdir,
    /// the home and the file.
    fn layout() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let ssh = home.join(".ssh");
        fs::create_dir_all(&ssh).unwrap();
        chmod(root.path(), 0o755);
        chmod(&home, 0o755);
        chmod(&ssh, 0o700);
        let file = ssh.join("authorized_keys");
        fs::write(&file, "").unwrap();
        chmod(&file, 0o600);
        (root, home, file)
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn me() -> u32 {
        fs::metadata("/proc/self").unwrap().uid()
    }

    #[test]
    fn good_modes_are_accepted() {
        let (_root, home, file) = layout();
        assert_eq!(check_secure_path(&file, me(), &home), Ok(()));
        let opened = File::open(&file).unwrap();
        assert_eq!(check_secure_file(&opened, &file, me(), &home), Ok(()));
    }

    #[test]
    fn group_writable_ssh_directory_is_named() {
        let (_root, home, file) = layout();
        let ssh = home.join(".ssh");
        chmod(&ssh, 0o770);
        let err = check_secure_path(&file, me(), &home).unwrap_err();
        let ssh = fs::canonicalize(&ssh).unwrap();
        assert_eq!(err, InsecurePath::Directory { path: ssh.clone() });
        assert_eq!(
            err.to_string(),
            format!("bad ownership or modes for directory {}", ssh.display())
        );
    }

    #[test]
    fn world_writable_home_is_named() {
        let (_root, home, file) = layout();
        chmod(&home, 0o757);
        let err = check_secure_path(&file, me(), &home).unwrap_err();
        assert_eq!(err.path(), fs::canonicalize(&home).unwrap());
    }

    #[test]
    fn group_writable_file_is_refused() {
        let (_root, home, file) = layout();
        chmod(&file, 0o620);
        let err = check_secure_path(&file, me(), &home).unwrap_err();
        let canonical = fs::canonicalize(&file).unwrap();
        assert_eq!(
            err.to_string(),
            format!("bad ownership or modes for file {}", canonical.display())
        );
    }

    #[test]
    fn readable_by_others_is_fine() {
        let (_root, home, file) = layout();
        chmod(&file, 0o644);
        chmod(&home.join(".ssh"), 0o755);
        assert_eq!(check_secure_path(&file, me(), &home), Ok(()));
    }

    #[test]
    fn walk_stops_at_the_home_directory() {
        // The tempdir's parent (/tmp) is world-writable, yet a file under the home passes.
        let (root, home, file) = layout();
        chmod(root.path(), 0o777);
        assert_eq!(check_secure_path(&file, me(), &home), Ok(()));
    }

    #[test]
    fn file_outside_the_home_is_checked_up_to_the_root() {
        let (root, _home, file) = layout();
        chmod(root.path(), 0o777);
        let elsewhere = root.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let err = check_secure_path(&file, me(), &elsewhere).unwrap_err();
        assert_eq!(err.path(), fs::canonicalize(root.path()).unwrap());
    }

    #[test]
    fn symlinks_are_resolved_before_the_walk() {
        let (root, home, file) = layout();
        // A world-writable directory holding a symlink to the good file: the link's
        // directory does not matter, the target's directories do.
        let open_dir = root.path().join("open");
        fs::create_dir(&open_dir).unwrap();
        chmod(&open_dir, 0o777);
        let link = open_dir.join("link");
        symlink(&file, &link).unwrap();
        assert_eq!(check_secure_path(&link, me(), &home), Ok(()));
        // And a link into the bad directory is refused for that directory.
        let target = open_dir.join("keys");
        fs::write(&target, "").unwrap();
        chmod(&target, 0o600);
        let inward = home.join(".ssh").join("inward");
        symlink(&target, &inward).unwrap();
        let err = check_secure_path(&inward, me(), &home).unwrap_err();
        assert_eq!(err.path(), fs::canonicalize(&open_dir).unwrap());
    }

    #[test]
    fn directories_and_missing_files_are_refused() {
        let (_root, home, _file) = layout();
        let ssh = home.join(".ssh");
        assert!(matches!(
            check_secure_path(&ssh, me(), &home),
            Err(InsecurePath::NotRegularFile { .. })
        ));
        let missing = ssh.join("missing");
        let err = check_secure_path(&missing, me(), &home).unwrap_err();
        assert!(matches!(err, InsecurePath::Stat { .. }), "{err:?}");
        assert!(
            err.to_string().ends_with("No such file or directory"),
            "{err}"
        );
    }

    #[test]
    fn file_owned_by_another_user_is_refused() {
        let (_root, home, file) = layout();
        // Only root can give a file away; elsewhere check the other direction: our own
        // file is refused for another (non-root) user.
        if me() == 0 {
            std::os::unix::fs::chown(&file, Some(4242), None).unwrap();
            let err = check_secure_path(&file, 4243, &home).unwrap_err();
            assert!(matches!(err, InsecurePath::File { .. }), "{err:?}");
            assert_eq!(check_secure_path(&file, 4242, &home), Ok(()));
        } else {
            let err = check_secure_path(&file, me() + 1, &home).unwrap_err();
            assert!(matches!(err, InsecurePath::File { .. }), "{err:?}");
        }
    }
}
