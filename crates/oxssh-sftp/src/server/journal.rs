//! The server's log lines, worded as OpenSSH's `sftp-server` words them (so log
//! readers and scripts written for it keep working): `open "PATH" flags READ mode
//! 0666`, `close "PATH" bytes read N written M`, `opendir`/`closedir`, `mkdir name`,
//! `remove name`, `rmdir name`, `rename old/new`, `symlink old/new`, `set "PATH" mode`.
//! sftp-server's INFO lines are `tracing` INFO events; its VERBOSE ones use the
//! target [`VERBOSE`], so a filter can tell them apart.

use std::collections::HashMap;

use super::handle_key;
use crate::codec::{open_flags, status, Attrs, Extended, Request, Response};

/// What to record of a request once it has been answered.
#[derive(Debug)]
pub(super) enum Note {
    Nothing,
    Open { path: Vec<u8>, dir: bool },
    Read { handle: Vec<u8> },
    Write { handle: Vec<u8>, len: usize },
    Close { handle: Vec<u8> },
}

/// The `tracing` target of the lines sftp-server logs at VERBOSE.
pub const VERBOSE: &str = "verbose";

/// The open handles' names and byte counts, for the `close` lines.
#[derive(Debug, Default)]
pub(super) struct Journal {
    open: HashMap<u32, Opened>,
}

#[derive(Debug)]
struct Opened {
    path: String,
    dir: bool,
    read: u64,
    written: u64,
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// sftp-server's names for the open flags, `,`-separated.
fn flag_names(pflags: u32) -> String {
    let mut names = Vec::new();
    if pflags & open_flags::READ != 0 && pflags & open_flags::WRITE != 0 {
        names.push("READWRITE");
    } else if pflags & open_flags::READ != 0 {
        names.push("READ");
    } else if pflags & open_flags::WRITE != 0 {
        names.push("WRITE");
    }
    for (bit, name) in [
        (open_flags::APPEND, "APPEND"),
        (open_flags::CREAT, "CREATE"),
        (open_flags::TRUNC, "TRUNCATE"),
        (open_flags::EXCL, "EXCL"),
    ] {
        if pflags & bit != 0 {
            names.push(name);
        }
    }
    names.join(",")
}

impl Journal {
    /// Logs a request that names a path, before it runs (as sftp-server does); what
    /// to record once it is answered ([`Journal::answered`]).
    pub fn request(&self, request: &Request) -> Note {
        self.log(request);
        match request {
            Request::Open { path, .. } => Note::Open {
                path: path.clone(),
                dir: false,
            },
            Request::Opendir { path } => Note::Open {
                path: path.clone(),
                dir: true,
            },
            Request::Read { handle, .. } => Note::Read {
                handle: handle.clone(),
            },
            Request::Write { handle, data, .. } => Note::Write {
                handle: handle.clone(),
                len: data.len(),
            },
            Request::Close { handle } => Note::Close {
                handle: handle.clone(),
            },
            _ => Note::Nothing,
        }
    }

    /// Records what an answered request did.
    pub fn answered(&mut self, note: Note, response: &Response) {
        match (note, response) {
            (Note::Open { path, dir }, Response::Handle(h)) => {
                if let Some(key) = handle_key(h) {
                    self.opened(key, &path, dir);
                }
            }
            (Note::Read { handle }, Response::Data(data)) => self.read(&handle, data.len()),
            (Note::Write { handle, len }, Response::Status { code, .. }) if *code == status::OK => {
                self.written(&handle, len);
            }
            (Note::Close { handle }, _) => self.closed(&handle),
            _ => {}
        }
    }

    fn log(&self, request: &Request) {
        match request {
            Request::Open {
                path,
                pflags,
                attrs,
            } => tracing::info!(
                "open \"{}\" flags {} mode 0{:o}",
                show(path),
                flag_names(*pflags),
                attrs.permissions.map_or(0o666, |p| p & 0o7777)
            ),
            Request::Opendir { path } => {
                tracing::info!(target: VERBOSE, "opendir \"{}\"", show(path))
            }
            Request::Remove { path } => {
                tracing::info!(target: VERBOSE, "remove name \"{}\"", show(path));
            }
            Request::Mkdir { path, attrs } => tracing::info!(
                target: VERBOSE,
                "mkdir name \"{}\" mode 0{:o}",
                show(path),
                attrs.permissions.map_or(0o777, |p| p & 0o7777)
            ),
            Request::Rmdir { path } => {
                tracing::info!(target: VERBOSE, "rmdir name \"{}\"", show(path));
            }
            Request::Rename { from, to }
            | Request::Extended(Extended::PosixRename { from, to }) => {
                tracing::info!("rename old \"{}\" new \"{}\"", show(from), show(to));
            }
            Request::Symlink { target, link } => {
                tracing::info!("symlink old \"{}\" new \"{}\"", show(target), show(link));
            }
            Request::Setstat { path, attrs } => set_lines(&show(path), attrs),
            Request::Fsetstat { handle, attrs } => {
                if let Some(o) = handle_key(handle).and_then(|k| self.open.get(&k)) {
                    set_lines(&o.path, attrs);
                }
            }
            _ => {}
        }
    }

    fn opened(&mut self, key: u32, path: &[u8], dir: bool) {
        self.open.insert(
            key,
            Opened {
                path: show(path),
                dir,
                read: 0,
                written: 0,
            },
        );
    }

    fn read(&mut self, handle: &[u8], n: usize) {
        if let Some(o) = handle_key(handle).and_then(|k| self.open.get_mut(&k)) {
            o.read += n as u64;
        }
    }

    pub fn written(&mut self, handle: &[u8], n: usize) {
        if let Some(o) = handle_key(handle).and_then(|k| self.open.get_mut(&k)) {
            o.written += n as u64;
        }
    }

    fn closed(&mut self, handle: &[u8]) {
        let Some(o) = handle_key(handle).and_then(|k| self.open.remove(&k)) else {
            return;
        };
        if o.dir {
            tracing::info!(target: VERBOSE, "closedir \"{}\"", o.path);
        } else {
            tracing::info!(
                "close \"{}\" bytes read {} written {}",
                o.path,
                o.read,
                o.written
            );
        }
    }
}

fn set_lines(path: &str, attrs: &Attrs) {
    if let Some(size) = attrs.size {
        tracing::info!("set \"{path}\" size {size}");
    }
    if let Some(mode) = attrs.permissions {
        tracing::info!("set \"{path}\" mode {:04o}", mode & 0o7777);
    }
    if let Some((uid, gid)) = attrs.uid_gid {
        tracing::info!("set \"{path}\" owner {uid} group {gid}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_are_named_as_sftp_server_names_them() {
        assert_eq!(flag_names(open_flags::READ), "READ");
        assert_eq!(
            flag_names(open_flags::WRITE | open_flags::CREAT | open_flags::TRUNC),
            "WRITE,CREATE,TRUNCATE"
        );
        assert_eq!(
            flag_names(open_flags::READ | open_flags::WRITE | open_flags::APPEND),
            "READWRITE,APPEND"
        );
    }
}
