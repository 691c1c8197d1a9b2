//! The SFTP client: [`Sftp`] over any `AsyncRead` + `AsyncWrite` pair (an SSH channel
//! running the `sftp` subsystem, or pipes to an `sftp-server`). One request at a time
//! for metadata; transfers keep many READs or WRITEs in flight (sized by
//! `limits@openssh.com` when the server offers it), as OpenSSH's sftp does.
//!
//! ```no_run
//! use oxssh_sftp::{client, Sftp};
//! # async fn demo<R, W>(read: R, write: W) -> Result<(), oxssh_sftp::Error>
//! # where R: tokio::io::AsyncRead + Unpin, W: tokio::io::AsyncWrite + Unpin {
//! // `read` and `write`: e.g. an oxssh `Channel` running the subsystem, and its writer.
//! let mut sftp = Sftp::new(read, write).await?;
//! for entry in sftp.read_dir(b".").await? {
//!     println!("{}", String::from_utf8_lossy(&entry.longname));
//! }
//! let handle = sftp.open(b"big.iso", client::READ, Default::default()).await?;
//! let local = std::fs::File::create("big.iso")?;
//! sftp.download(&handle, &local, 0, &mut |done| eprintln!("{done} bytes")).await?;
//! sftp.close(handle).await?;
//! # Ok(()) }
//! ```

mod crossload;
mod in_place;
mod inbound;
mod listing;
mod many;
mod transfer;

pub use crossload::{crossload, Side};
pub use in_place::InPlaceWrite;
pub use listing::SuspectNameReport;
pub use many::{Download, Event, Step, Upload, MAX_OPEN_FILES};

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::codec::{
    self, ext, fxp, open_flags, status, Attrs, Extended, Init, Limits, Request, Response, StatVfs,
    MAX_DATA,
};

/// What can go wrong talking to an SFTP server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status. Shown as the standard text for the
    /// code, as OpenSSH's clients show it (the server's own text is in `message`).
    #[error("{}", status_text(*code, message))]
    Status { code: u32, message: String },
    /// The stream (or a local file) failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server sent something undecodable or unexpected.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server does not offer an extension the operation needs.
    #[error("server does not support {0}")]
    Unsupported(&'static str),
    /// The transfer was stopped through [`Sftp::interrupter`].
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// The SFTP status code, for a status error.
    pub fn status(&self) -> Option<u32> {
        match self {
            Error::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A result of an SFTP operation.
pub type Result<T> = std::result::Result<T, Error>;

/// An open remote file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle(Vec<u8>);

impl Handle {
    /// The handle string the server chose.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Requests in flight during a transfer (OpenSSH's `-R` default).
pub const DEFAULT_REQUESTS: usize = 64;
/// Bytes per READ or WRITE without `limits@openssh.com` (OpenSSH's `-B` default).
pub const DEFAULT_BUFFER: u32 = 32768;

/// Queued request bytes that are written out without waiting for a receive.
const FLUSH_AT: usize = 512 * 1024;

/// An SFTP session.
#[derive(Debug)]
pub struct Sftp<R, W> {
    inbound: inbound::Inbound<R>,
    writer: W,
    next_id: u32,
    out: Vec<u8>,
    extensions: Vec<(String, Vec<u8>)>,
    limits: Option<Limits>,
    buffer: u32,
    requests: usize,
    interrupt: Arc<AtomicBool>,
    /// Where WRITEs go when they can be built in place (the same stream as `writer`).
    in_place: Option<Box<dyn InPlaceWrite>>,
    /// Told of listed names that were dropped for holding a `/`.
    suspect: listing::SuspectNames,
    /// Bytes one listing call may hold (see [`Sftp::set_listing_limit`]).
    listing_limit: usize,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Sftp<R, W> {
    /// Starts a session (INIT, VERSION, and `limits@openssh.com` when offered).
    pub async fn new(reader: R, writer: W) -> Result<Self> {
        let mut sftp = Self {
            inbound: inbound::Inbound::new(reader),
            writer,
            next_id: 1,
            out: Vec::new(),
            extensions: Vec::new(),
            limits: None,
            buffer: DEFAULT_BUFFER,
            requests: DEFAULT_REQUESTS,
            interrupt: Arc::new(AtomicBool::new(false)),
            in_place: None,
            suspect: listing::SuspectNames::default(),
            listing_limit: listing::DEFAULT_LISTING_LIMIT,
        };
        Init {
            version: codec::VERSION,
            extensions: Vec::new(),
        }
        .encode(fxp::INIT, &mut sftp.out);
        sftp.flush().await?;
        let body = sftp.read_packet().await?;
        let version = Init::decode(&body, fxp::VERSION)
            .map_err(|e| Error::Protocol(format!("bad VERSION: {e}")))?;
        if version.version < codec::VERSION {
            return Err(Error::Protocol(format!(
                "server speaks SFTP version {}",
                version.version
            )));
        }
        sftp.extensions = version.extensions;
        if sftp.has_extension(ext::LIMITS) {
            if let Response::ExtendedReply(data) =
                sftp.call(Request::Extended(Extended::Limits)).await?
            {
                let limits = Limits::decode(&data)
                    .map_err(|e| Error::Protocol(format!("bad limits reply: {e}")))?;
                let largest = limits.max_read.min(limits.max_write);
                if largest > 0 {
                    sftp.buffer = u32::try_from(largest).unwrap_or(MAX_DATA).min(MAX_DATA);
                }
                sftp.limits = Some(limits);
            }
        }
        Ok(sftp)
    }

    /// Sends file uploads' WRITEs through `stream`, which must write to the same place
    /// as the session's writer (another handle on the same channel): each request is
    /// read from the file straight into the packet that carries it.
    pub fn set_in_place_writer(&mut self, stream: Box<dyn InPlaceWrite>) {
        self.in_place = Some(stream);
    }

    /// Whether the server announced extension `name`.
    pub fn has_extension(&self, name: &str) -> bool {
        self.extensions.iter().any(|(n, _)| n == name)
    }

    /// A flag that, once set (from a signal handler, another task), stops the
    /// transfers in progress: no new requests go out, those in flight are answered,
    /// and the transfer fails with [`Error::Interrupted`]. The caller clears it.
    pub fn interrupter(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.interrupt)
    }

    fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::Relaxed)
    }

    /// The server's `limits@openssh.com` answer, if it gave one.
    pub fn limits(&self) -> Option<Limits> {
        self.limits
    }

    /// Sets the bytes per request (OpenSSH's `-B`) and requests in flight (`-R`) for
    /// transfers; the size is capped by the server's limits.
    pub fn set_transfer(&mut self, buffer: Option<u32>, requests: Option<usize>) {
        let cap = self
            .limits
            .map_or(MAX_DATA, |l| {
                u32::try_from(l.max_read.min(l.max_write)).unwrap_or(MAX_DATA)
            })
            .clamp(1, MAX_DATA);
        if let Some(b) = buffer {
            self.buffer = b.clamp(1, cap);
        }
        if let Some(r) = requests {
            self.requests = r.max(1);
        }
    }

    async fn flush(&mut self) -> Result<()> {
        if !self.out.is_empty() {
            self.writer.write_all(&self.out).await?;
            self.out.clear();
        }
        self.writer.flush().await?;
        Ok(())
    }

    async fn read_packet(&mut self) -> Result<Vec<u8>> {
        let body = self.inbound.next().await?;
        Ok(self.inbound.get(body).to_vec())
    }

    /// Queues `request`; it goes out at the next receive.
    fn send(&mut self, request: &Request) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        codec::encode_request(id, request, &mut self.out);
        id
    }

    /// Queues a WRITE for `handle` at `offset` whose data `fill` writes in place into
    /// the request (at most `max` bytes): `(id, length)`; nothing is queued when it
    /// writes nothing (length 0) or fails.
    fn send_write_with<E>(
        &mut self,
        handle: &[u8],
        offset: u64,
        max: usize,
        fill: impl FnOnce(&mut [u8]) -> std::result::Result<usize, E>,
    ) -> std::result::Result<(u32, usize), E> {
        let id = self.next_id;
        let n = codec::encode_write_with(id, handle, offset, max, &mut self.out, fill)?;
        if n > 0 {
            self.next_id = self.next_id.wrapping_add(1);
        }
        Ok((id, n))
    }

    async fn recv(&mut self) -> Result<(u32, Response)> {
        self.flush().await?;
        let body = self.inbound.next().await?;
        codec::decode_response(self.inbound.get(body))
            .map_err(|e| Error::Protocol(format!("bad response: {e}")))
    }

    /// Flushes, then reads the next packet; where its body is in `inbound`.
    async fn recv_raw(&mut self) -> Result<std::ops::Range<usize>> {
        self.flush().await?;
        self.inbound.next().await
    }

    /// Sends one request and waits for its answer.
    pub async fn call(&mut self, request: Request) -> Result<Response> {
        let id = self.send(&request);
        let (got, response) = self.recv().await?;
        if got != id {
            return Err(Error::Protocol(format!(
                "answer to request {got}, expected {id}"
            )));
        }
        Ok(response)
    }

    async fn call_ok(&mut self, request: Request) -> Result<()> {
        expect_ok(self.call(request).await?)
    }

    async fn call_name(&mut self, request: Request) -> Result<Vec<u8>> {
        match self.call(request).await? {
            Response::Name(mut names) if names.len() == 1 => {
                Ok(names.pop().map(|n| n.filename).unwrap_or_default())
            }
            other => Err(unexpected(other)),
        }
    }

    async fn call_attrs(&mut self, request: Request) -> Result<Attrs> {
        match self.call(request).await? {
            Response::Attrs(attrs) => Ok(attrs),
            other => Err(unexpected(other)),
        }
    }

    /// Opens `path` with SSH_FXP_OPEN `pflags` ([`open_flags`]).
    pub async fn open(&mut self, path: &[u8], pflags: u32, attrs: Attrs) -> Result<Handle> {
        match self
            .call(Request::Open {
                path: path.to_vec(),
                pflags,
                attrs,
            })
            .await?
        {
            Response::Handle(h) => Ok(Handle(h)),
            other => Err(unexpected(other)),
        }
    }

    /// Closes a handle.
    pub async fn close(&mut self, handle: Handle) -> Result<()> {
        self.call_ok(Request::Close { handle: handle.0 }).await
    }

    /// Reads up to `len` bytes at `offset`; `None` at end of file.
    pub async fn read(
        &mut self,
        handle: &Handle,
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>> {
        match self
            .call(Request::Read {
                handle: handle.0.clone(),
                offset,
                len,
            })
            .await?
        {
            Response::Data(data) => Ok(Some(data)),
            Response::Status { code, .. } if code == status::EOF => Ok(None),
            other => Err(unexpected(other)),
        }
    }

    /// Writes `data` at `offset`.
    pub async fn write(&mut self, handle: &Handle, offset: u64, data: &[u8]) -> Result<()> {
        self.call_ok(Request::Write {
            handle: handle.0.clone(),
            offset,
            data: data.to_vec(),
        })
        .await
    }

    /// `stat` (following links).
    pub async fn stat(&mut self, path: &[u8]) -> Result<Attrs> {
        self.call_attrs(Request::Stat {
            path: path.to_vec(),
        })
        .await
    }

    /// `lstat`.
    pub async fn lstat(&mut self, path: &[u8]) -> Result<Attrs> {
        self.call_attrs(Request::Lstat {
            path: path.to_vec(),
        })
        .await
    }

    /// `fstat`.
    pub async fn fstat(&mut self, handle: &Handle) -> Result<Attrs> {
        self.call_attrs(Request::Fstat {
            handle: handle.0.clone(),
        })
        .await
    }

    /// Changes attributes of `path` (following links).
    pub async fn setstat(&mut self, path: &[u8], attrs: Attrs) -> Result<()> {
        self.call_ok(Request::Setstat {
            path: path.to_vec(),
            attrs,
        })
        .await
    }

    /// Changes attributes of an open file.
    pub async fn fsetstat(&mut self, handle: &Handle, attrs: Attrs) -> Result<()> {
        self.call_ok(Request::Fsetstat {
            handle: handle.0.clone(),
            attrs,
        })
        .await
    }

    pub async fn remove(&mut self, path: &[u8]) -> Result<()> {
        self.call_ok(Request::Remove {
            path: path.to_vec(),
        })
        .await
    }

    pub async fn mkdir(&mut self, path: &[u8], attrs: Attrs) -> Result<()> {
        self.call_ok(Request::Mkdir {
            path: path.to_vec(),
            attrs,
        })
        .await
    }

    pub async fn rmdir(&mut self, path: &[u8]) -> Result<()> {
        self.call_ok(Request::Rmdir {
            path: path.to_vec(),
        })
        .await
    }

    /// The server's canonical form of `path`.
    pub async fn realpath(&mut self, path: &[u8]) -> Result<Vec<u8>> {
        self.call_name(Request::Realpath {
            path: path.to_vec(),
        })
        .await
    }

    /// Renames, replacing an existing target when the server has `posix-rename`
    /// (as OpenSSH's sftp does unless told otherwise) and `posix` is set.
    pub async fn rename(&mut self, from: &[u8], to: &[u8], posix: bool) -> Result<()> {
        let (from, to) = (from.to_vec(), to.to_vec());
        if posix && self.has_extension(ext::POSIX_RENAME) {
            self.call_ok(Request::Extended(Extended::PosixRename { from, to }))
                .await
        } else {
            self.call_ok(Request::Rename { from, to }).await
        }
    }

    pub async fn readlink(&mut self, path: &[u8]) -> Result<Vec<u8>> {
        self.call_name(Request::Readlink {
            path: path.to_vec(),
        })
        .await
    }

    /// Creates symbolic link `link` pointing at `target`.
    pub async fn symlink(&mut self, target: &[u8], link: &[u8]) -> Result<()> {
        self.call_ok(Request::Symlink {
            target: target.to_vec(),
            link: link.to_vec(),
        })
        .await
    }

    /// Creates hard link `to` of `from` (`hardlink@openssh.com`).
    pub async fn hardlink(&mut self, from: &[u8], to: &[u8]) -> Result<()> {
        if !self.has_extension(ext::HARDLINK) {
            return Err(Error::Unsupported(ext::HARDLINK));
        }
        self.call_ok(Request::Extended(Extended::Hardlink {
            from: from.to_vec(),
            to: to.to_vec(),
        }))
        .await
    }

    /// Copies `length` bytes (0: to the end) of open file `from` at `from_offset` into
    /// open file `to` at `to_offset`, on the server (`copy-data`): the data never
    /// crosses the connection.
    pub async fn copy_data(
        &mut self,
        from: &Handle,
        from_offset: u64,
        length: u64,
        to: &Handle,
        to_offset: u64,
    ) -> Result<()> {
        if !self.has_extension(ext::COPY_DATA) {
            return Err(Error::Unsupported(ext::COPY_DATA));
        }
        self.call_ok(Request::Extended(Extended::CopyData {
            read_handle: from.0.clone(),
            read_offset: from_offset,
            length,
            write_handle: to.0.clone(),
            write_offset: to_offset,
        }))
        .await
    }

    /// Flushes an open file to stable storage (`fsync@openssh.com`).
    pub async fn fsync(&mut self, handle: &Handle) -> Result<()> {
        if !self.has_extension(ext::FSYNC) {
            return Err(Error::Unsupported(ext::FSYNC));
        }
        self.call_ok(Request::Extended(Extended::Fsync {
            handle: handle.0.clone(),
        }))
        .await
    }

    /// Changes attributes of `path` without following a final symbolic link
    /// (`lsetstat@openssh.com`).
    pub async fn lsetstat(&mut self, path: &[u8], attrs: Attrs) -> Result<()> {
        if !self.has_extension(ext::LSETSTAT) {
            return Err(Error::Unsupported(ext::LSETSTAT));
        }
        self.call_ok(Request::Extended(Extended::Lsetstat {
            path: path.to_vec(),
            attrs,
        }))
        .await
    }

    /// Filesystem statistics (`statvfs@openssh.com`).
    pub async fn statvfs(&mut self, path: &[u8]) -> Result<StatVfs> {
        if !self.has_extension(ext::STATVFS) {
            return Err(Error::Unsupported(ext::STATVFS));
        }
        match self
            .call(Request::Extended(Extended::Statvfs {
                path: path.to_vec(),
            }))
            .await?
        {
            Response::ExtendedReply(data) => StatVfs::decode(&data)
                .map_err(|e| Error::Protocol(format!("bad statvfs reply: {e}"))),
            other => Err(unexpected(other)),
        }
    }

    /// Expands `~` and `~user` (`expand-path@openssh.com`), else canonicalises.
    pub async fn expand_path(&mut self, path: &[u8]) -> Result<Vec<u8>> {
        if self.has_extension(ext::EXPAND_PATH) {
            self.call_name(Request::Extended(Extended::ExpandPath {
                path: path.to_vec(),
            }))
            .await
        } else {
            self.realpath(path).await
        }
    }

    /// User and group names for ids (`users-groups-by-id@openssh.com`).
    pub async fn names_by_id(
        &mut self,
        uids: Vec<u32>,
        gids: Vec<u32>,
    ) -> Result<(Vec<String>, Vec<String>)> {
        if !self.has_extension(ext::USERS_GROUPS_BY_ID) {
            return Err(Error::Unsupported(ext::USERS_GROUPS_BY_ID));
        }
        match self
            .call(Request::Extended(Extended::UsersGroupsById { uids, gids }))
            .await?
        {
            Response::ExtendedReply(data) => codec::decode_names_reply(&data)
                .map_err(|e| Error::Protocol(format!("bad names reply: {e}"))),
            other => Err(unexpected(other)),
        }
    }
}

fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
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

/// The standard text for a known status code, else the server's message.
fn status_text(code: u32, message: &str) -> String {
    if code <= status::OP_UNSUPPORTED || message.is_empty() {
        status::message(code).to_owned()
    } else {
        message.to_owned()
    }
}

fn expect_ok(response: Response) -> Result<()> {
    match response {
        Response::Status { code, .. } if code == status::OK => Ok(()),
        other => Err(unexpected(other)),
    }
}

fn unexpected(response: Response) -> Error {
    match response {
        Response::Status { code, message } => Error::Status {
            code,
            message: if message.is_empty() {
                status::message(code).to_owned()
            } else {
                message
            },
        },
        other => Error::Protocol(format!("unexpected answer {other:?}")),
    }
}

/// Open flags for reading.
pub const READ: u32 = open_flags::READ;
/// Open flags for writing a new or truncated file.
pub const WRITE_TRUNCATE: u32 = open_flags::WRITE | open_flags::CREAT | open_flags::TRUNC;
