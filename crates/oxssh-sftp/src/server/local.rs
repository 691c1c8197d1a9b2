//! The real filesystem, as the process's user: `std::fs` and, for what std lacks
//! (`utimensat` without following links, `statvfs`), nix's safe wrappers.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::UtimensatFlags;
use nix::sys::time::TimeSpec;

use super::fs::Filesystem;
use super::listing::{long_name, owner_column};
use crate::codec::{open_flags, Attrs, NameEntry, StatVfs};

/// The real filesystem. Relative paths resolve against the process's working directory
/// (the user's home, where the session starts).
#[derive(Debug, Default)]
pub struct LocalFs {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
}

/// An open directory: `.` and `..` first, as readdir(3) gives them, then the entries.
#[derive(Debug)]
pub struct LocalDir {
    path: PathBuf,
    dots: u8,
    entries: fs::ReadDir,
}

impl LocalFs {
    /// The real filesystem.
    pub fn new() -> Self {
        Self::default()
    }

    fn entry(&mut self, name: &Path, path: &Path) -> io::Result<NameEntry> {
        let meta = fs::symlink_metadata(path)?;
        let attrs = attrs_of(&meta);
        let user = self.user_name(meta.uid());
        let group = self.group_name(meta.gid());
        let name_text = name.to_string_lossy();
        let longname = long_name(
            &name_text,
            &attrs,
            meta.nlink(),
            &owner_column(user, meta.uid()),
            &owner_column(group, meta.gid()),
        );
        Ok(NameEntry {
            filename: name.as_os_str().as_bytes().to_vec(),
            longname: longname.into_bytes(),
            attrs,
        })
    }
}

/// The SFTP attributes of `meta`.
pub fn attrs_of(meta: &fs::Metadata) -> Attrs {
    Attrs {
        size: Some(meta.size()),
        uid_gid: Some((meta.uid(), meta.gid())),
        permissions: Some(meta.mode()),
        times: Some((clamp_time(meta.atime()), clamp_time(meta.mtime()))),
        extended: Vec::new(),
    }
}

fn clamp_time(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

fn statvfs_of(v: &nix::sys::statvfs::Statvfs) -> StatVfs {
    #[allow(clippy::useless_conversion)] // the field types differ between targets
    StatVfs {
        bsize: u64::from(v.block_size()),
        frsize: u64::from(v.fragment_size()),
        blocks: u64::from(v.blocks()),
        bfree: u64::from(v.blocks_free()),
        bavail: u64::from(v.blocks_available()),
        files: u64::from(v.files()),
        ffree: u64::from(v.files_free()),
        favail: u64::from(v.files_available()),
        fsid: u64::from(v.filesystem_id()),
        flag: {
            let flags = v.flags();
            let mut f = 0;
            if flags.contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
                f |= 1;
            }
            if flags.contains(nix::sys::statvfs::FsFlags::ST_NOSUID) {
                f |= 2;
            }
            f
        },
        namemax: u64::from(v.name_max()),
    }
}

fn nix_err(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Applies size, owner, mode and times to `path` (following links or not).
fn set_path_attrs(path: &Path, attrs: &Attrs, follow: bool) -> io::Result<()> {
    if let Some(size) = attrs.size {
        OpenOptions::new().write(true).open(path)?.set_len(size)?;
    }
    if let Some(mode) = attrs.permissions {
        let is_link = !follow && fs::symlink_metadata(path)?.file_type().is_symlink();
        if is_link {
            // Linux has no modes on symbolic links.
            return Err(io::Error::from_raw_os_error(nix::libc::EOPNOTSUPP));
        }
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))?;
    }
    if let Some((uid, gid)) = attrs.uid_gid {
        if follow {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
        } else {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
        }
    }
    if let Some((atime, mtime)) = attrs.times {
        let flag = if follow {
            UtimensatFlags::FollowSymlink
        } else {
            UtimensatFlags::NoFollowSymlink
        };
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &TimeSpec::new(i64::from(atime), 0),
            &TimeSpec::new(i64::from(mtime), 0),
            flag,
        )
        .map_err(nix_err)?;
    }
    Ok(())
}

impl Filesystem for LocalFs {
    type File = File;
    type Dir = LocalDir;

    fn open(&mut self, path: &Path, pflags: u32, attrs: &Attrs) -> io::Result<File> {
        let has = |flag| pflags & flag != 0;
        let mut options = OpenOptions::new();
        options
            .read(has(open_flags::READ))
            .write(has(open_flags::WRITE) || has(open_flags::APPEND))
            .append(has(open_flags::APPEND))
            .mode(attrs.permissions.map_or(0o666, |p| p & 0o7777));
        if has(open_flags::CREAT) {
            if has(open_flags::EXCL) {
                options.create_new(true);
            } else {
                options.create(true);
            }
        }
        if has(open_flags::TRUNC) {
            options.truncate(true);
        }
        if !has(open_flags::READ) && !has(open_flags::WRITE) && !has(open_flags::APPEND) {
            options.read(true);
        }
        options.open(path)
    }

    fn close(&mut self, file: File) -> io::Result<()> {
        drop(file);
        Ok(())
    }

    fn read(&mut self, file: &mut File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        // Fill as much as the file has: a short read means end of file to clients.
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            match file.read_at(rest, offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn write(&mut self, file: &mut File, offset: u64, data: &[u8]) -> io::Result<()> {
        file.write_all_at(data, offset)
    }

    fn fstat(&mut self, file: &mut File) -> io::Result<Attrs> {
        file.metadata().map(|m| attrs_of(&m))
    }

    fn fsetstat(&mut self, file: &mut File, attrs: &Attrs) -> io::Result<()> {
        if let Some(size) = attrs.size {
            file.set_len(size)?;
        }
        if let Some(mode) = attrs.permissions {
            file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
        }
        if let Some((uid, gid)) = attrs.uid_gid {
            std::os::unix::fs::fchown(&*file, Some(uid), Some(gid))?;
        }
        if let Some((atime, mtime)) = attrs.times {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(atime));
            let mt = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(mtime));
            file.set_times(fs::FileTimes::new().set_accessed(at).set_modified(mt))?;
        }
        Ok(())
    }

    fn fsync(&mut self, file: &mut File) -> io::Result<()> {
        file.sync_all()
    }

    fn fstatvfs(&mut self, file: &mut File) -> io::Result<StatVfs> {
        nix::sys::statvfs::fstatvfs(&*file)
            .map(|v| statvfs_of(&v))
            .map_err(nix_err)
    }

    fn opendir(&mut self, path: &Path) -> io::Result<LocalDir> {
        Ok(LocalDir {
            path: path.to_owned(),
            dots: 0,
            entries: fs::read_dir(path)?,
        })
    }

    fn readdir(&mut self, dir: &mut LocalDir, max: usize) -> io::Result<Vec<NameEntry>> {
        let mut out = Vec::new();
        while dir.dots < 2 && out.len() < max {
            let name = if dir.dots == 0 { "." } else { ".." };
            dir.dots += 1;
            if let Ok(entry) = self.entry(Path::new(name), &dir.path.join(name)) {
                out.push(entry);
            }
        }
        while out.len() < max {
            let Some(next) = dir.entries.next() else {
                break;
            };
            let entry = next?;
            let name = PathBuf::from(entry.file_name());
            // An entry removed since it was listed is skipped, as ls does.
            if let Ok(e) = self.entry(&name, &entry.path()) {
                out.push(e);
            }
        }
        Ok(out)
    }

    fn stat(&mut self, path: &Path, follow: bool) -> io::Result<Attrs> {
        let meta = if follow {
            fs::metadata(path)?
        } else {
            fs::symlink_metadata(path)?
        };
        Ok(attrs_of(&meta))
    }

    fn setstat(&mut self, path: &Path, attrs: &Attrs, follow: bool) -> io::Result<()> {
        set_path_attrs(path, attrs, follow)
    }

    fn remove(&mut self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn mkdir(&mut self, path: &Path, attrs: &Attrs) -> io::Result<()> {
        fs::DirBuilder::new()
            .mode(attrs.permissions.map_or(0o777, |p| p & 0o7777))
            .create(path)
    }

    fn rmdir(&mut self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn realpath(&mut self, path: &Path) -> io::Result<PathBuf> {
        match fs::canonicalize(path) {
            Ok(p) => Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A name about to be created: resolve its directory.
                let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                    return Err(e);
                };
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                Ok(fs::canonicalize(parent)?.join(name))
            }
            Err(e) => Err(e),
        }
    }

    fn rename(&mut self, from: &Path, to: &Path, posix: bool) -> io::Result<()> {
        if posix {
            return fs::rename(from, to);
        }
        // SSH_FXP_RENAME must not replace: link then unlink for files (OpenSSH's way,
        // atomic against a racing creator), else check then rename.
        let meta = fs::symlink_metadata(from)?;
        if meta.file_type().is_file() {
            match fs::hard_link(from, to) {
                Ok(()) => return fs::remove_file(from),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
                Err(_) => {}
            }
        }
        if fs::symlink_metadata(to).is_ok() {
            return Err(io::Error::from_raw_os_error(nix::libc::EEXIST));
        }
        fs::rename(from, to)
    }

    fn readlink(&mut self, path: &Path) -> io::Result<PathBuf> {
        fs::read_link(path)
    }

    fn symlink(&mut self, target: &Path, link: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(target, link)
    }

    fn hardlink(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        fs::hard_link(from, to)
    }

    fn statvfs(&mut self, path: &Path) -> io::Result<StatVfs> {
        nix::sys::statvfs::statvfs(path)
            .map(|v| statvfs_of(&v))
            .map_err(nix_err)
    }

    fn home_directory(&mut self, user: &str) -> io::Result<PathBuf> {
        let found = if user.is_empty() {
            oxssh_os::SystemUser::by_uid(nix::unistd::geteuid().as_raw())
        } else {
            oxssh_os::SystemUser::by_name(user)
        };
        match found {
            Ok(Some(u)) => Ok(u.home),
            _ => Err(io::Error::from_raw_os_error(nix::libc::ENOENT)),
        }
    }

    fn user_name(&mut self, uid: u32) -> Option<String> {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                oxssh_os::SystemUser::by_uid(uid)
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone()
    }

    fn group_name(&mut self, gid: u32) -> Option<String> {
        self.groups
            .entry(gid)
            .or_insert_with(|| oxssh_os::group_name(gid).ok().flatten())
            .clone()
    }
}
