//! The SFTP server: a core that turns one request packet into one response packet over
//! a [`Filesystem`], and [`serve`], which drives it over a byte stream (the subsystem's
//! stdin and stdout). The core holds the open handles, bounded in number
//! ([`ServerOptions::max_handles`]); every request from the peer is answered with a
//! status, never a panic; a malformed length ends the session.
//!
//! Access control is the kernel's: the server runs as the logged-in user (oxsshd starts
//! it in the session's child process), so the filesystem calls succeed or fail exactly as
//! that user's would. The read-only mode (`sftp-server -R`) refuses every change itself.

mod requests;

use requests::changes;
pub use requests::{request_name, REQUEST_NAMES};
mod fs;
mod journal;
pub mod listing;
mod local;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

pub use fs::Filesystem;
pub use journal::VERBOSE;
pub use listing::long_name;
pub use local::LocalFs;

use crate::codec::{
    self, ext, fxp, open_flags, status, Extended, Init, Limits, NameEntry, Request, Response,
    MAX_DATA, MAX_PACKET,
};

/// How a server behaves.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Refuse every change with PERMISSION_DENIED (`sftp-server -R`).
    pub read_only: bool,
    /// Open files and directories at once; further opens fail with FAILURE.
    pub max_handles: usize,
    /// Only these requests (by [`request_name`]) are served (`sftp-server -p`).
    pub allowed: Option<Vec<String>>,
    /// These requests are refused (`sftp-server -P`).
    pub denied: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            read_only: false,
            max_handles: 10_000,
            allowed: None,
            denied: Vec::new(),
        }
    }
}

/// Why a session ended other than by the client closing its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A packet length above [`MAX_PACKET`] or below the smallest packet.
    #[error("bad packet length {0}")]
    BadLength(usize),
    /// A request came before INIT, or INIT came twice.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// Reading or writing the stream failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

enum Handle<F: Filesystem> {
    File {
        file: F::File,
        readable: bool,
        writable: bool,
    },
    Dir(F::Dir),
}

/// The server core: state of one session.
pub struct Server<F: Filesystem> {
    fs: F,
    options: ServerOptions,
    handles: HashMap<u32, Handle<F>>,
    next_handle: u32,
    initialized: bool,
    journal: journal::Journal,
}

impl<F: Filesystem> std::fmt::Debug for Server<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("options", &self.options)
            .field("handles", &self.handles.len())
            .finish_non_exhaustive()
    }
}

type Answer = Result<Response, io::Error>;

/// The extensions announced in VERSION, with their versions (OpenSSH `PROTOCOL`).
const EXTENSIONS: [(&str, &str); 11] = [
    (ext::POSIX_RENAME, "1"),
    (ext::STATVFS, "2"),
    (ext::FSTATVFS, "2"),
    (ext::HARDLINK, "1"),
    (ext::FSYNC, "1"),
    (ext::LSETSTAT, "1"),
    (ext::LIMITS, "1"),
    (ext::EXPAND_PATH, "1"),
    (ext::COPY_DATA, "1"),
    (ext::HOME_DIRECTORY, "1"),
    (ext::USERS_GROUPS_BY_ID, "1"),
];

/// Entries per READDIR answer.
const READDIR_BATCH: usize = 100;

impl<F: Filesystem> Server<F> {
    /// A server over `fs`.
    pub fn new(fs: F, options: ServerOptions) -> Self {
        Self {
            fs,
            options,
            handles: HashMap::new(),
            next_handle: 0,
            initialized: false,
            journal: journal::Journal::default(),
        }
    }

    /// Open handles now.
    pub fn open_handles(&self) -> usize {
        self.handles.len()
    }

    /// Answers one packet `body` (type byte first, length field excluded), appending the
    /// framed answer to `out`. An error ends the session.
    pub fn handle_packet(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), ServeError> {
        if !self.initialized {
            let init = Init::decode(body, fxp::INIT)
                .map_err(|_| ServeError::Protocol("expected SSH_FXP_INIT"))?;
            tracing::debug!("client version {}", init.version);
            self.initialized = true;
            Init {
                version: codec::VERSION,
                extensions: EXTENSIONS
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                    .collect(),
            }
            .encode(fxp::VERSION, out);
            return Ok(());
        }
        if body.first() == Some(&fxp::INIT) {
            return Err(ServeError::Protocol("SSH_FXP_INIT repeated"));
        }
        if let Some((id, handle, offset, data)) = codec::decode_write(body) {
            let response = self.answer_write(handle, offset, data);
            codec::encode_response(id, &response, out);
            return Ok(());
        }
        let (id, response) = match codec::decode_request(body) {
            Ok((id, request)) => (id, self.answer(request)),
            Err(e) => {
                let Some(id) = codec::request_id(body) else {
                    return Err(ServeError::Protocol("packet too short"));
                };
                tracing::debug!("request {id}: undecodable: {e}");
                let code = match body.first() {
                    Some(kind) if is_known(*kind) => status::BAD_MESSAGE,
                    _ => status::OP_UNSUPPORTED,
                };
                (id, Response::status(code))
            }
        };
        codec::encode_response(id, &response, out);
        Ok(())
    }

    fn answer(&mut self, request: Request) -> Response {
        if let Some(refusal) = self.refusal(request_name(&request), changes(&request)) {
            return refusal;
        }
        let note = self.journal.request(&request);
        let response = match self.dispatch(request) {
            Ok(response) => response,
            Err(e) => Response::status(status_of(&e)),
        };
        self.journal.answered(note, &response);
        response
    }

    /// The answer to a request named `name` (as the -P and -p lists name it) that the
    /// options refuse: read-only (when it `changes` something), denied, or not allowed.
    fn refusal(&self, name: &str, changes: bool) -> Option<Response> {
        if self.options.read_only && changes {
            return Some(Response::status(status::PERMISSION_DENIED));
        }
        let listed = |list: &[String]| list.iter().any(|n| n == name);
        if listed(&self.options.denied)
            || self.options.allowed.as_deref().is_some_and(|a| !listed(a))
        {
            tracing::info!("refused {name} request");
            return Some(Response::status(status::PERMISSION_DENIED));
        }
        None
    }

    /// A WRITE, its data written to the file from the packet where it lies (a bulk
    /// upload's data is otherwise copied once more, into a decoded request).
    fn answer_write(&mut self, handle: &[u8], offset: u64, data: &[u8]) -> Response {
        if let Some(refusal) = self.refusal("write", true) {
            return refusal;
        }
        match self
            .file(handle)
            .and_then(|(fs, file)| fs.write(file, offset, data))
        {
            Ok(()) => {
                self.journal.written(handle, data.len());
                ok()
            }
            Err(e) => Response::status(status_of(&e)),
        }
    }

    fn dispatch(&mut self, request: Request) -> Answer {
        match request {
            Request::Open {
                path,
                pflags,
                attrs,
            } => {
                self.check_room()?;
                let file = self.fs.open(&os_path(&path), pflags, &attrs)?;
                let readable = pflags & open_flags::READ != 0;
                let writable = pflags & (open_flags::WRITE | open_flags::APPEND) != 0;
                Ok(self.insert(Handle::File {
                    file,
                    readable,
                    writable,
                }))
            }
            Request::Opendir { path } => {
                self.check_room()?;
                let dir = self.fs.opendir(&os_path(&path))?;
                Ok(self.insert(Handle::Dir(dir)))
            }
            Request::Close { handle } => {
                let key = handle_key(&handle).ok_or_else(bad_handle)?;
                match self.handles.remove(&key) {
                    Some(Handle::File { file, .. }) => self.fs.close(file).map(|()| ok()),
                    Some(Handle::Dir(_)) => Ok(ok()),
                    None => Err(bad_handle()),
                }
            }
            Request::Read {
                handle,
                offset,
                len,
            } => {
                let (fs, file) = self.file(&handle)?;
                let mut buf = vec![0; len.min(MAX_DATA) as usize];
                let n = fs.read(file, offset, &mut buf)?;
                if n == 0 && !buf.is_empty() {
                    return Ok(Response::status(status::EOF));
                }
                buf.truncate(n);
                Ok(Response::Data(buf))
            }
            Request::Write {
                handle,
                offset,
                data,
            } => {
                let (fs, file) = self.file(&handle)?;
                fs.write(file, offset, &data).map(|()| ok())
            }
            Request::Fstat { handle } => {
                let (fs, file) = self.file(&handle)?;
                fs.fstat(file).map(Response::Attrs)
            }
            Request::Fsetstat { handle, attrs } => {
                let (fs, file) = self.file(&handle)?;
                fs.fsetstat(file, &attrs).map(|()| ok())
            }
            Request::Readdir { handle } => {
                let key = handle_key(&handle).ok_or_else(bad_handle)?;
                let Some(Handle::Dir(dir)) = self.handles.get_mut(&key) else {
                    return Err(bad_handle());
                };
                let entries = self.fs.readdir(dir, READDIR_BATCH)?;
                if entries.is_empty() {
                    Ok(Response::status(status::EOF))
                } else {
                    Ok(Response::Name(entries))
                }
            }
            Request::Lstat { path } => self.fs.stat(&os_path(&path), false).map(Response::Attrs),
            Request::Stat { path } => self.fs.stat(&os_path(&path), true).map(Response::Attrs),
            Request::Setstat { path, attrs } => self
                .fs
                .setstat(&os_path(&path), &attrs, true)
                .map(|()| ok()),
            Request::Remove { path } => self.fs.remove(&os_path(&path)).map(|()| ok()),
            Request::Mkdir { path, attrs } => self.fs.mkdir(&os_path(&path), &attrs).map(|()| ok()),
            Request::Rmdir { path } => self.fs.rmdir(&os_path(&path)).map(|()| ok()),
            Request::Realpath { path } => {
                let path = if path.is_empty() { b".".to_vec() } else { path };
                let real = self.fs.realpath(&os_path(&path))?;
                Ok(single_name(real))
            }
            Request::Rename { from, to } => self
                .fs
                .rename(&os_path(&from), &os_path(&to), false)
                .map(|()| ok()),
            Request::Readlink { path } => {
                let target = self.fs.readlink(&os_path(&path))?;
                Ok(single_name(target))
            }
            Request::Symlink { target, link } => self
                .fs
                .symlink(&os_path(&target), &os_path(&link))
                .map(|()| ok()),
            Request::Extended(e) => self.extended(e),
        }
    }

    fn extended(&mut self, e: Extended) -> Answer {
        match e {
            Extended::PosixRename { from, to } => self
                .fs
                .rename(&os_path(&from), &os_path(&to), true)
                .map(|()| ok()),
            Extended::Statvfs { path } => self
                .fs
                .statvfs(&os_path(&path))
                .map(|v| Response::ExtendedReply(v.encode())),
            Extended::Fstatvfs { handle } => {
                let (fs, file) = self.file(&handle)?;
                fs.fstatvfs(file)
                    .map(|v| Response::ExtendedReply(v.encode()))
            }
            Extended::Hardlink { from, to } => self
                .fs
                .hardlink(&os_path(&from), &os_path(&to))
                .map(|()| ok()),
            Extended::Fsync { handle } => {
                let (fs, file) = self.file(&handle)?;
                fs.fsync(file).map(|()| ok())
            }
            Extended::Lsetstat { path, attrs } => self
                .fs
                .setstat(&os_path(&path), &attrs, false)
                .map(|()| ok()),
            Extended::Limits => Ok(Response::ExtendedReply(
                Limits {
                    max_packet: MAX_PACKET as u64,
                    max_read: u64::from(MAX_DATA),
                    max_write: u64::from(MAX_DATA),
                    max_open_handles: self.options.max_handles as u64,
                }
                .encode(),
            )),
            Extended::ExpandPath { path } => {
                let expanded = self.expand(&path)?;
                let real = self.fs.realpath(&expanded)?;
                Ok(single_name(real))
            }
            Extended::CopyData {
                read_handle,
                read_offset,
                length,
                write_handle,
                write_offset,
            } => self.copy_data(
                &read_handle,
                read_offset,
                length,
                &write_handle,
                write_offset,
            ),
            Extended::HomeDirectory { user } => {
                let user = String::from_utf8_lossy(&user).into_owned();
                let home = self.fs.home_directory(&user)?;
                Ok(single_name(home))
            }
            Extended::UsersGroupsById { uids, gids } => {
                let users: Vec<Vec<u8>> = uids
                    .iter()
                    .map(|&u| self.fs.user_name(u).unwrap_or_default().into_bytes())
                    .collect();
                let groups: Vec<Vec<u8>> = gids
                    .iter()
                    .map(|&g| self.fs.group_name(g).unwrap_or_default().into_bytes())
                    .collect();
                Ok(Response::ExtendedReply(codec::encode_names_reply(
                    &users, &groups,
                )))
            }
            Extended::Unknown { name } => {
                tracing::debug!(
                    "unsupported extended request {}",
                    String::from_utf8_lossy(&name)
                );
                Ok(Response::status(status::OP_UNSUPPORTED))
            }
        }
    }

    /// `~` and `~user` at the start of `path` (expand-path@openssh.com).
    fn expand(&mut self, path: &[u8]) -> io::Result<PathBuf> {
        let Some(rest) = path.strip_prefix(b"~") else {
            return Ok(os_path(path));
        };
        let (user, tail) = match rest.iter().position(|&b| b == b'/') {
            Some(i) => rest.split_at(i),
            None => (rest, &b""[..]),
        };
        let home = self
            .fs
            .home_directory(&String::from_utf8_lossy(user))?
            .into_os_string()
            .into_vec();
        let mut full = home;
        full.extend_from_slice(tail);
        Ok(os_path(&full))
    }

    /// `copy-data`: copies within the server, in chunks, between two open files.
    fn copy_data(
        &mut self,
        from: &[u8],
        mut read_offset: u64,
        length: u64,
        to: &[u8],
        mut write_offset: u64,
    ) -> Answer {
        let (from_key, to_key) = (
            handle_key(from).ok_or_else(bad_handle)?,
            handle_key(to).ok_or_else(bad_handle)?,
        );
        if from_key == to_key {
            // The same file: overlapping ranges would read what was just written.
            let end = read_offset.saturating_add(length);
            if length == 0
                || (write_offset < end && read_offset < write_offset.saturating_add(length))
            {
                return Err(io::Error::other("overlapping copy-data ranges"));
            }
        }
        let mut remaining = if length == 0 { u64::MAX } else { length };
        let mut buf = vec![0; MAX_DATA as usize];
        while remaining > 0 {
            let want = remaining.min(buf.len() as u64) as usize;
            let chunk = buf.get_mut(..want).ok_or_else(bad_handle)?;
            let n = match self.handles.get_mut(&from_key) {
                Some(Handle::File {
                    file,
                    readable: true,
                    ..
                }) => self.fs.read(file, read_offset, chunk)?,
                _ => return Err(bad_handle()),
            };
            if n == 0 {
                if length == 0 {
                    break;
                }
                return Ok(Response::status(status::EOF));
            }
            let data = buf.get(..n).ok_or_else(bad_handle)?;
            match self.handles.get_mut(&to_key) {
                Some(Handle::File {
                    file,
                    writable: true,
                    ..
                }) => self.fs.write(file, write_offset, data)?,
                _ => return Err(bad_handle()),
            }
            read_offset += n as u64;
            write_offset += n as u64;
            remaining -= n as u64;
        }
        Ok(ok())
    }

    fn check_room(&self) -> io::Result<()> {
        if self.handles.len() >= self.options.max_handles {
            return Err(io::Error::other("too many open handles"));
        }
        Ok(())
    }

    fn insert(&mut self, handle: Handle<F>) -> Response {
        // Counters wrap; skip any still in use (there are at most max_handles of them).
        while self.handles.contains_key(&self.next_handle) {
            self.next_handle = self.next_handle.wrapping_add(1);
        }
        let key = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1);
        self.handles.insert(key, handle);
        Response::Handle(key.to_be_bytes().to_vec())
    }

    /// The open file behind `handle`, with the filesystem (split borrows).
    fn file(&mut self, handle: &[u8]) -> io::Result<(&mut F, &mut F::File)> {
        let key = handle_key(handle).ok_or_else(bad_handle)?;
        match self.handles.get_mut(&key) {
            Some(Handle::File { file, .. }) => Ok((&mut self.fs, file)),
            _ => Err(bad_handle()),
        }
    }
}

fn ok() -> Response {
    Response::status(status::OK)
}

fn single_name(path: PathBuf) -> Response {
    let name = path.into_os_string().into_vec();
    Response::Name(vec![NameEntry {
        longname: name.clone(),
        filename: name,
        attrs: codec::Attrs::default(),
    }])
}

fn bad_handle() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "invalid handle")
}

fn handle_key(handle: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(handle).ok().map(u32::from_be_bytes)
}

fn os_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

fn is_known(kind: u8) -> bool {
    (fxp::OPEN..=fxp::SYMLINK).contains(&kind) || kind == fxp::EXTENDED
}

/// The SFTP status for an OS error, as OpenSSH's `errno_to_portable`.
fn status_of(e: &io::Error) -> u32 {
    use nix::errno::Errno;
    if let Some(code) = e.raw_os_error() {
        return match Errno::from_raw(code) {
            Errno::ENOENT | Errno::ENOTDIR | Errno::EBADF | Errno::ELOOP => status::NO_SUCH_FILE,
            Errno::EPERM | Errno::EACCES | Errno::EFAULT => status::PERMISSION_DENIED,
            Errno::ENAMETOOLONG | Errno::EINVAL => status::BAD_MESSAGE,
            Errno::ENOSYS => status::OP_UNSUPPORTED,
            _ => status::FAILURE,
        };
    }
    match e.kind() {
        io::ErrorKind::NotFound => status::NO_SUCH_FILE,
        io::ErrorKind::PermissionDenied => status::PERMISSION_DENIED,
        io::ErrorKind::Unsupported => status::OP_UNSUPPORTED,
        _ => status::FAILURE,
    }
}

/// Bytes staged on each side of [`serve`]. Small requests and answers are read and
/// written in batches through it; a packet larger than this (a bulk WRITE or READ's
/// data) bypasses it, read straight into the request's body (but for what was already
/// staged) and written straight from the answer, instead of being copied once more
/// through a buffer as large as a packet.
const STAGING: usize = 64 * 1024;

/// Serves one session: packets from `input`, answers to `output`, until the client
/// closes its end (`Ok`) or sends something that ends the session (`Err`).
pub fn serve<F: Filesystem, R: Read, W: Write>(
    server: &mut Server<F>,
    input: R,
    output: W,
) -> Result<(), ServeError> {
    let mut input = io::BufReader::with_capacity(STAGING, input);
    let mut output = io::BufWriter::with_capacity(STAGING, output);
    // Reused for every packet; never larger than MAX_PACKET.
    let mut body = Vec::new();
    let mut answer = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_PACKET {
            return Err(ServeError::BadLength(len));
        }
        body.resize(len, 0);
        input.read_exact(&mut body)?;
        answer.clear();
        server.handle_packet(&body, &mut answer)?;
        output.write_all(&answer)?;
        // Answer in batches while whole requests are queued; flush before any read
        // that may wait on the client, which may itself wait for these answers
        // (its requests in flight are bounded).
        if !whole_packet_buffered(input.buffer()) {
            output.flush()?;
        }
    }
    output.flush()?;
    Ok(())
}

/// Whether `buffered` starts with a whole packet (length and body), so reading it
/// does not wait on the peer.
fn whole_packet_buffered(buffered: &[u8]) -> bool {
    match buffered.first_chunk::<4>() {
        Some(len) => buffered.len() - 4 >= u32::from_be_bytes(*len) as usize,
        None => false,
    }
}

#[cfg(test)]
mod tests;
