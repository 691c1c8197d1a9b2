//! The names OpenSSH's sftp-server gives requests (its `-p`/`-P` lists, `-Q requests`)
//! and which requests change the filesystem (refused by a read-only server).

use crate::codec::{open_flags, Extended, Request};

/// Every request name [`request_name`] gives (`sftp-server -Q requests`).
pub const REQUEST_NAMES: [&str; 29] = [
    "open",
    "close",
    "read",
    "write",
    "lstat",
    "fstat",
    "setstat",
    "fsetstat",
    "opendir",
    "readdir",
    "remove",
    "mkdir",
    "rmdir",
    "realpath",
    "stat",
    "rename",
    "readlink",
    "symlink",
    "posix-rename",
    "statvfs",
    "fstatvfs",
    "hardlink",
    "fsync",
    "lsetstat",
    "limits",
    "expand-path",
    "copy-data",
    "home-directory",
    "users-groups-by-id",
];

/// The name OpenSSH's `sftp-server -p`/`-P` lists use for `request`.
pub fn request_name(request: &Request) -> &'static str {
    match request {
        Request::Open { .. } => "open",
        Request::Close { .. } => "close",
        Request::Read { .. } => "read",
        Request::Write { .. } => "write",
        Request::Lstat { .. } => "lstat",
        Request::Fstat { .. } => "fstat",
        Request::Setstat { .. } => "setstat",
        Request::Fsetstat { .. } => "fsetstat",
        Request::Opendir { .. } => "opendir",
        Request::Readdir { .. } => "readdir",
        Request::Remove { .. } => "remove",
        Request::Mkdir { .. } => "mkdir",
        Request::Rmdir { .. } => "rmdir",
        Request::Realpath { .. } => "realpath",
        Request::Stat { .. } => "stat",
        Request::Rename { .. } => "rename",
        Request::Readlink { .. } => "readlink",
        Request::Symlink { .. } => "symlink",
        Request::Extended(e) => match e {
            Extended::PosixRename { .. } => "posix-rename",
            Extended::Statvfs { .. } => "statvfs",
            Extended::Fstatvfs { .. } => "fstatvfs",
            Extended::Hardlink { .. } => "hardlink",
            Extended::Fsync { .. } => "fsync",
            Extended::Lsetstat { .. } => "lsetstat",
            Extended::Limits => "limits",
            Extended::ExpandPath { .. } => "expand-path",
            Extended::CopyData { .. } => "copy-data",
            Extended::HomeDirectory { .. } => "home-directory",
            Extended::UsersGroupsById { .. } => "users-groups-by-id",
            Extended::Unknown { .. } => "unknown",
        },
    }
}

/// Whether `request` would change the filesystem (refused in read-only mode).
pub(super) fn changes(request: &Request) -> bool {
    match request {
        Request::Open { pflags, .. } => {
            pflags
                & (open_flags::WRITE
                    | open_flags::APPEND
                    | open_flags::CREAT
                    | open_flags::TRUNC
                    | open_flags::EXCL)
                != 0
        }
        Request::Write { .. }
        | Request::Setstat { .. }
        | Request::Fsetstat { .. }
        | Request::Remove { .. }
        | Request::Mkdir { .. }
        | Request::Rmdir { .. }
        | Request::Rename { .. }
        | Request::Symlink { .. } => true,
        Request::Extended(e) => matches!(
            e,
            Extended::PosixRename { .. }
                | Extended::Hardlink { .. }
                | Extended::Fsync { .. }
                | Extended::Lsetstat { .. }
                | Extended::CopyData { .. }
        ),
        _ => false,
    }
}
