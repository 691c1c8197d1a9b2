//! The [`Filesystem`] the server core works on: the real one ([`super::LocalFs`]) by
//! default, or anything else a library user provides (an in-memory tree, a jail).

use std::io;
use std::path::{Path, PathBuf};

use crate::codec::{Attrs, NameEntry, StatVfs};

/// What the SFTP server needs of a filesystem. Errors are `io::Error`s; the server maps
/// their OS error codes to SFTP status codes as OpenSSH does.
pub trait Filesystem {
    /// An open file.
    type File;
    /// An open directory listing.
    type Dir;

    /// Opens `path` with SSH_FXP_OPEN's `pflags`; `attrs.permissions` is the mode of a
    /// file created.
    fn open(&mut self, path: &Path, pflags: u32, attrs: &Attrs) -> io::Result<Self::File>;
    /// Closes a file, reporting a deferred write error.
    fn close(&mut self, file: Self::File) -> io::Result<()>;
    /// Reads at `offset` into `buf`; 0 at end of file.
    fn read(&mut self, file: &mut Self::File, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `data` at `offset`.
    fn write(&mut self, file: &mut Self::File, offset: u64, data: &[u8]) -> io::Result<()>;
    fn fstat(&mut self, file: &mut Self::File) -> io::Result<Attrs>;
    fn fsetstat(&mut self, file: &mut Self::File, attrs: &Attrs) -> io::Result<()>;
    fn fsync(&mut self, file: &mut Self::File) -> io::Result<()>;
    fn fstatvfs(&mut self, file: &mut Self::File) -> io::Result<StatVfs>;

    fn opendir(&mut self, path: &Path) -> io::Result<Self::Dir>;
    /// Up to `max` further entries (with `ls -l` long names); empty at the end.
    fn readdir(&mut self, dir: &mut Self::Dir, max: usize) -> io::Result<Vec<NameEntry>>;

    /// `stat` (`follow`) or `lstat`.
    fn stat(&mut self, path: &Path, follow: bool) -> io::Result<Attrs>;
    /// `setstat` (`follow`) or `lsetstat@openssh.com`.
    fn setstat(&mut self, path: &Path, attrs: &Attrs, follow: bool) -> io::Result<()>;
    fn remove(&mut self, path: &Path) -> io::Result<()>;
    fn mkdir(&mut self, path: &Path, attrs: &Attrs) -> io::Result<()>;
    fn rmdir(&mut self, path: &Path) -> io::Result<()>;
    /// The canonical absolute path; a missing last component is allowed.
    fn realpath(&mut self, path: &Path) -> io::Result<PathBuf>;
    /// SSH_FXP_RENAME refuses to replace an existing target; `posix` (the OpenSSH
    /// extension) replaces it atomically.
    fn rename(&mut self, from: &Path, to: &Path, posix: bool) -> io::Result<()>;
    fn readlink(&mut self, path: &Path) -> io::Result<PathBuf>;
    fn symlink(&mut self, target: &Path, link: &Path) -> io::Result<()>;
    fn hardlink(&mut self, from: &Path, to: &Path) -> io::Result<()>;
    fn statvfs(&mut self, path: &Path) -> io::Result<StatVfs>;
    /// The home directory of `user`, or of the session's user when empty.
    fn home_directory(&mut self, user: &str) -> io::Result<PathBuf>;
    fn user_name(&mut self, uid: u32) -> Option<String>;
    fn group_name(&mut self, gid: u32) -> Option<String>;
}
