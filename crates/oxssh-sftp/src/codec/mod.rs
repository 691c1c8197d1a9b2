//! The SFTP version 3 wire format (draft-ietf-secsh-filexfer-02) and the OpenSSH
//! extensions of its `PROTOCOL` file: every request and response as a typed value, and
//! the one place they are encoded and decoded. Decoding goes through the checked
//! [`Reader`] of `oxssh-wire`, so a malformed packet is an error, never a panic; trailing
//! bytes after the last field are an error too.

use oxssh_wire::{DecodeError, Reader, Writer};

/// The largest packet either side accepts (OpenSSH's `SFTP_MAX_MSG_LENGTH`), length
/// field excluded. Larger length fields end the session.
pub const MAX_PACKET: usize = 256 * 1024;
/// The most data one READ or WRITE carries here (a packet minus room for its header).
pub const MAX_DATA: u32 = (MAX_PACKET - 1024) as u32;
/// The protocol version spoken.
pub const VERSION: u32 = 3;

/// Packet types, draft-ietf-secsh-filexfer-02 §3.
pub mod fxp {
    pub const INIT: u8 = 1;
    pub const VERSION: u8 = 2;
    pub const OPEN: u8 = 3;
    pub const CLOSE: u8 = 4;
    pub const READ: u8 = 5;
    pub const WRITE: u8 = 6;
    pub const LSTAT: u8 = 7;
    pub const FSTAT: u8 = 8;
    pub const SETSTAT: u8 = 9;
    pub const FSETSTAT: u8 = 10;
    pub const OPENDIR: u8 = 11;
    pub const READDIR: u8 = 12;
    pub const REMOVE: u8 = 13;
    pub const MKDIR: u8 = 14;
    pub const RMDIR: u8 = 15;
    pub const REALPATH: u8 = 16;
    pub const STAT: u8 = 17;
    pub const RENAME: u8 = 18;
    pub const READLINK: u8 = 19;
    pub const SYMLINK: u8 = 20;
    pub const STATUS: u8 = 101;
    pub const HANDLE: u8 = 102;
    pub const DATA: u8 = 103;
    pub const NAME: u8 = 104;
    pub const ATTRS: u8 = 105;
    pub const EXTENDED: u8 = 200;
    pub const EXTENDED_REPLY: u8 = 201;
}

/// Status codes, draft-ietf-secsh-filexfer-02 §7.
pub mod status {
    pub const OK: u32 = 0;
    pub const EOF: u32 = 1;
    pub const NO_SUCH_FILE: u32 = 2;
    pub const PERMISSION_DENIED: u32 = 3;
    pub const FAILURE: u32 = 4;
    pub const BAD_MESSAGE: u32 = 5;
    pub const NO_CONNECTION: u32 = 6;
    pub const CONNECTION_LOST: u32 = 7;
    pub const OP_UNSUPPORTED: u32 = 8;

    /// The text OpenSSH's tools print for a code.
    pub fn message(code: u32) -> &'static str {
        match code {
            OK => "Success",
            EOF => "End of file",
            NO_SUCH_FILE => "No such file or directory",
            PERMISSION_DENIED => "Permission denied",
            FAILURE => "Failure",
            BAD_MESSAGE => "Bad message",
            NO_CONNECTION => "No connection",
            CONNECTION_LOST => "Connection lost",
            OP_UNSUPPORTED => "Operation unsupported",
            _ => "Unknown error",
        }
    }
}

/// `pflags` of SSH_FXP_OPEN, draft-ietf-secsh-filexfer-02 §6.3.
pub mod open_flags {
    pub const READ: u32 = 0x01;
    pub const WRITE: u32 = 0x02;
    pub const APPEND: u32 = 0x04;
    pub const CREAT: u32 = 0x08;
    pub const TRUNC: u32 = 0x10;
    pub const EXCL: u32 = 0x20;
}

/// Extension names: OpenSSH `PROTOCOL` §4.3 onwards, and the `copy-data` and
/// `home-directory` drafts OpenSSH implements.
pub mod ext {
    pub const POSIX_RENAME: &str = "posix-rename@openssh.com";
    pub const STATVFS: &str = "statvfs@openssh.com";
    pub const FSTATVFS: &str = "fstatvfs@openssh.com";
    pub const HARDLINK: &str = "hardlink@openssh.com";
    pub const FSYNC: &str = "fsync@openssh.com";
    pub const LSETSTAT: &str = "lsetstat@openssh.com";
    pub const LIMITS: &str = "limits@openssh.com";
    pub const EXPAND_PATH: &str = "expand-path@openssh.com";
    pub const COPY_DATA: &str = "copy-data";
    pub const HOME_DIRECTORY: &str = "home-directory";
    pub const USERS_GROUPS_BY_ID: &str = "users-groups-by-id@openssh.com";
}

const ATTR_SIZE: u32 = 0x0000_0001;
const ATTR_UIDGID: u32 = 0x0000_0002;
const ATTR_PERMISSIONS: u32 = 0x0000_0004;
const ATTR_ACMODTIME: u32 = 0x0000_0008;
const ATTR_EXTENDED: u32 = 0x8000_0000;

/// File attributes, draft-ietf-secsh-filexfer-02 §5: each field present or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    pub size: Option<u64>,
    /// Owner and group ids.
    pub uid_gid: Option<(u32, u32)>,
    /// `st_mode`: type and permission bits.
    pub permissions: Option<u32>,
    /// Access and modification times, seconds since the epoch.
    pub times: Option<(u32, u32)>,
    /// Extended pairs (type, data).
    pub extended: Vec<(Vec<u8>, Vec<u8>)>,
}

/// `st_mode` file-type bits.
pub const S_IFMT: u32 = 0o170_000;
pub const S_IFDIR: u32 = 0o040_000;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFLNK: u32 = 0o120_000;

impl Attrs {
    /// Whether the permissions say directory.
    pub fn is_dir(&self) -> bool {
        self.permissions.is_some_and(|p| p & S_IFMT == S_IFDIR)
    }

    /// Whether the permissions say regular file.
    pub fn is_file(&self) -> bool {
        self.permissions.is_some_and(|p| p & S_IFMT == S_IFREG)
    }

    /// Whether the permissions say symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.permissions.is_some_and(|p| p & S_IFMT == S_IFLNK)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.u32()?;
        let mut attrs = Attrs::default();
        if flags & ATTR_SIZE != 0 {
            attrs.size = Some(r.u64()?);
        }
        if flags & ATTR_UIDGID != 0 {
            attrs.uid_gid = Some((r.u32()?, r.u32()?));
        }
        if flags & ATTR_PERMISSIONS != 0 {
            attrs.permissions = Some(r.u32()?);
        }
        if flags & ATTR_ACMODTIME != 0 {
            attrs.times = Some((r.u32()?, r.u32()?));
        }
        if flags & ATTR_EXTENDED != 0 {
            let count = r.u32()? as usize;
            // Each pair takes at least two length fields: no allocation beyond the packet.
            if count > r.remaining() / 8 {
                return Err(DecodeError::TooLong(count));
            }
            for _ in 0..count {
                let kind = r.string()?.to_vec();
                let data = r.string()?.to_vec();
                attrs.extended.push((kind, data));
            }
        }
        Ok(attrs)
    }

    fn encode(&self, w: &mut Writer<'_>) {
        let mut flags = 0;
        for (present, bit) in [
            (self.size.is_some(), ATTR_SIZE),
            (self.uid_gid.is_some(), ATTR_UIDGID),
            (self.permissions.is_some(), ATTR_PERMISSIONS),
            (self.times.is_some(), ATTR_ACMODTIME),
            (!self.extended.is_empty(), ATTR_EXTENDED),
        ] {
            if present {
                flags |= bit;
            }
        }
        w.u32(flags);
        if let Some(size) = self.size {
            w.u64(size);
        }
        if let Some((uid, gid)) = self.uid_gid {
            w.u32(uid).u32(gid);
        }
        if let Some(p) = self.permissions {
            w.u32(p);
        }
        if let Some((atime, mtime)) = self.times {
            w.u32(atime).u32(mtime);
        }
        if !self.extended.is_empty() {
            w.u32(u32::try_from(self.extended.len()).unwrap_or(u32::MAX));
            for (kind, data) in &self.extended {
                w.string(kind).string(data);
            }
        }
    }
}

/// One SSH_FXP_NAME entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameEntry {
    pub filename: Vec<u8>,
    /// An `ls -l` line (version 3 only).
    pub longname: Vec<u8>,
    pub attrs: Attrs,
}

/// A request from client to server (everything but INIT, which [`Init`] carries).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    Open {
        path: Vec<u8>,
        pflags: u32,
        attrs: Attrs,
    },
    Close {
        handle: Vec<u8>,
    },
    Read {
        handle: Vec<u8>,
        offset: u64,
        len: u32,
    },
    Write {
        handle: Vec<u8>,
        offset: u64,
        data: Vec<u8>,
    },
    Lstat {
        path: Vec<u8>,
    },
    Fstat {
        handle: Vec<u8>,
    },
    Setstat {
        path: Vec<u8>,
        attrs: Attrs,
    },
    Fsetstat {
        handle: Vec<u8>,
        attrs: Attrs,
    },
    Opendir {
        path: Vec<u8>,
    },
    Readdir {
        handle: Vec<u8>,
    },
    Remove {
        path: Vec<u8>,
    },
    Mkdir {
        path: Vec<u8>,
        attrs: Attrs,
    },
    Rmdir {
        path: Vec<u8>,
    },
    Realpath {
        path: Vec<u8>,
    },
    Stat {
        path: Vec<u8>,
    },
    Rename {
        from: Vec<u8>,
        to: Vec<u8>,
    },
    Readlink {
        path: Vec<u8>,
    },
    /// OpenSSH sends the target first and the link's path second (the draft has them
    /// the other way round; every deployed peer follows OpenSSH).
    Symlink {
        target: Vec<u8>,
        link: Vec<u8>,
    },
    Extended(Extended),
}

/// An SSH_FXP_EXTENDED request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extended {
    PosixRename {
        from: Vec<u8>,
        to: Vec<u8>,
    },
    Statvfs {
        path: Vec<u8>,
    },
    Fstatvfs {
        handle: Vec<u8>,
    },
    Hardlink {
        from: Vec<u8>,
        to: Vec<u8>,
    },
    Fsync {
        handle: Vec<u8>,
    },
    Lsetstat {
        path: Vec<u8>,
        attrs: Attrs,
    },
    Limits,
    ExpandPath {
        path: Vec<u8>,
    },
    /// `length` 0 copies to the end of the source.
    CopyData {
        read_handle: Vec<u8>,
        read_offset: u64,
        length: u64,
        write_handle: Vec<u8>,
        write_offset: u64,
    },
    HomeDirectory {
        user: Vec<u8>,
    },
    UsersGroupsById {
        uids: Vec<u32>,
        gids: Vec<u32>,
    },
    /// A request name we do not implement (answered with OP_UNSUPPORTED).
    Unknown {
        name: Vec<u8>,
    },
}

/// A response from server to client (everything but VERSION).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    Status { code: u32, message: String },
    Handle(Vec<u8>),
    Data(Vec<u8>),
    Name(Vec<NameEntry>),
    Attrs(Attrs),
    ExtendedReply(Vec<u8>),
}

impl Response {
    /// A status with the standard message for `code`.
    pub fn status(code: u32) -> Self {
        Response::Status {
            code,
            message: status::message(code).to_owned(),
        }
    }
}

/// SSH_FXP_INIT or SSH_FXP_VERSION: a version and extension pairs (name, data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    pub version: u32,
    pub extensions: Vec<(String, Vec<u8>)>,
}

impl Init {
    /// Decodes the body (type byte included) of an INIT or VERSION packet of `kind`.
    pub fn decode(body: &[u8], kind: u8) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let got = r.u8()?;
        if got != kind {
            return Err(DecodeError::UnexpectedMessage(got));
        }
        let version = r.u32()?;
        let mut extensions = Vec::new();
        while !r.is_empty() {
            let name = String::from_utf8_lossy(r.string()?).into_owned();
            let data = r.string()?.to_vec();
            extensions.push((name, data));
        }
        Ok(Self {
            version,
            extensions,
        })
    }

    /// Encodes a framed packet of `kind` into `out`.
    pub fn encode(&self, kind: u8, out: &mut Vec<u8>) {
        frame(out, |w| {
            w.u8(kind).u32(self.version);
            for (name, data) in &self.extensions {
                w.string(name.as_bytes()).string(data);
            }
        });
    }
}

/// Appends a packet (length field, then what `body` writes) to `out`.
fn frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Writer<'_>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    body(&mut Writer::new(out));
    let len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
    if let Some(field) = out.get_mut(start..start + 4) {
        field.copy_from_slice(&len.to_be_bytes());
    }
}

/// The request id of a packet body, when it has one: lets a server answer a request
/// it cannot decode with BAD_MESSAGE.
pub fn request_id(body: &[u8]) -> Option<u32> {
    let mut r = Reader::new(body);
    let kind = r.u8().ok()?;
    (kind != fxp::INIT).then(|| r.u32().ok()).flatten()
}

/// Decodes a request packet body (type byte first, length field excluded).
pub fn decode_request(body: &[u8]) -> Result<(u32, Request), DecodeError> {
    let mut r = Reader::new(body);
    let kind = r.u8()?;
    let id = r.u32()?;
    let s = |r: &mut Reader<'_>| r.string().map(<[u8]>::to_vec);
    let request = match kind {
        fxp::OPEN => Request::Open {
            path: s(&mut r)?,
            pflags: r.u32()?,
            attrs: Attrs::decode(&mut r)?,
        },
        fxp::CLOSE => Request::Close { handle: s(&mut r)? },
        fxp::READ => Request::Read {
            handle: s(&mut r)?,
            offset: r.u64()?,
            len: r.u32()?,
        },
        fxp::WRITE => Request::Write {
            handle: s(&mut r)?,
            offset: r.u64()?,
            data: s(&mut r)?,
        },
        fxp::LSTAT => Request::Lstat { path: s(&mut r)? },
        fxp::FSTAT => Request::Fstat { handle: s(&mut r)? },
        fxp::SETSTAT => Request::Setstat {
            path: s(&mut r)?,
            attrs: Attrs::decode(&mut r)?,
        },
        fxp::FSETSTAT => Request::Fsetstat {
            handle: s(&mut r)?,
            attrs: Attrs::decode(&mut r)?,
        },
        fxp::OPENDIR => Request::Opendir { path: s(&mut r)? },
        fxp::READDIR => Request::Readdir { handle: s(&mut r)? },
        fxp::REMOVE => Request::Remove { path: s(&mut r)? },
        fxp::MKDIR => Request::Mkdir {
            path: s(&mut r)?,
            attrs: Attrs::decode(&mut r)?,
        },
        fxp::RMDIR => Request::Rmdir { path: s(&mut r)? },
        fxp::REALPATH => {
            let path = s(&mut r)?;
            // Version 6 adds a control byte and compose paths; v3 peers send none, but
            // some clients do: ignore what follows, as OpenSSH does.
            let _ = r.take(r.remaining());
            Request::Realpath { path }
        }
        fxp::STAT => Request::Stat { path: s(&mut r)? },
        fxp::RENAME => Request::Rename {
            from: s(&mut r)?,
            to: s(&mut r)?,
        },
        fxp::READLINK => Request::Readlink { path: s(&mut r)? },
        fxp::SYMLINK => Request::Symlink {
            target: s(&mut r)?,
            link: s(&mut r)?,
        },
        fxp::EXTENDED => Request::Extended(decode_extended(&mut r)?),
        other => return Err(DecodeError::UnexpectedMessage(other)),
    };
    r.finish()?;
    Ok((id, request))
}

/// Encodes request `id` as a framed packet into `out`.
pub fn encode_request(id: u32, request: &Request, out: &mut Vec<u8>) {
    frame(out, |w| {
        let mut start = |kind: u8| {
            w.u8(kind).u32(id);
        };
        match request {
            Request::Open {
                path,
                pflags,
                attrs,
            } => {
                start(fxp::OPEN);
                w.string(path).u32(*pflags);
                attrs.encode(w);
            }
            Request::Close { handle } => {
                start(fxp::CLOSE);
                w.string(handle);
            }
            Request::Read {
                handle,
                offset,
                len,
            } => {
                start(fxp::READ);
                w.string(handle).u64(*offset).u32(*len);
            }
            Request::Write {
                handle,
                offset,
                data,
            } => {
                start(fxp::WRITE);
                w.string(handle).u64(*offset).string(data);
            }
            Request::Lstat { path } => {
                start(fxp::LSTAT);
                w.string(path);
            }
            Request::Fstat { handle } => {
                start(fxp::FSTAT);
                w.string(handle);
            }
            Request::Setstat { path, attrs } => {
                start(fxp::SETSTAT);
                w.string(path);
                attrs.encode(w);
            }
            Request::Fsetstat { handle, attrs } => {
                start(fxp::FSETSTAT);
                w.string(handle);
                attrs.encode(w);
            }
            Request::Opendir { path } => {
                start(fxp::OPENDIR);
                w.string(path);
            }
            Request::Readdir { handle } => {
                start(fxp::READDIR);
                w.string(handle);
            }
            Request::Remove { path } => {
                start(fxp::REMOVE);
                w.string(path);
            }
            Request::Mkdir { path, attrs } => {
                start(fxp::MKDIR);
                w.string(path);
                attrs.encode(w);
            }
            Request::Rmdir { path } => {
                start(fxp::RMDIR);
                w.string(path);
            }
            Request::Realpath { path } => {
                start(fxp::REALPATH);
                w.string(path);
            }
            Request::Stat { path } => {
                start(fxp::STAT);
                w.string(path);
            }
            Request::Rename { from, to } => {
                start(fxp::RENAME);
                w.string(from).string(to);
            }
            Request::Readlink { path } => {
                start(fxp::READLINK);
                w.string(path);
            }
            Request::Symlink { target, link } => {
                start(fxp::SYMLINK);
                w.string(target).string(link);
            }
            Request::Extended(e) => {
                start(fxp::EXTENDED);
                encode_extended(e, w);
            }
        }
    });
}

/// Encodes response `id` as a framed packet into `out`.
pub fn encode_response(id: u32, response: &Response, out: &mut Vec<u8>) {
    frame(out, |w| match response {
        Response::Status { code, message } => {
            w.u8(fxp::STATUS)
                .u32(id)
                .u32(*code)
                .string(message.as_bytes())
                .string(b"");
        }
        Response::Handle(handle) => {
            w.u8(fxp::HANDLE).u32(id).string(handle);
        }
        Response::Data(data) => {
            w.u8(fxp::DATA).u32(id).string(data);
        }
        Response::Name(names) => {
            w.u8(fxp::NAME)
                .u32(id)
                .u32(u32::try_from(names.len()).unwrap_or(u32::MAX));
            for entry in names {
                w.string(&entry.filename).string(&entry.longname);
                entry.attrs.encode(w);
            }
        }
        Response::Attrs(attrs) => {
            w.u8(fxp::ATTRS).u32(id);
            attrs.encode(w);
        }
        Response::ExtendedReply(data) => {
            w.u8(fxp::EXTENDED_REPLY).u32(id).raw(data);
        }
    });
}

/// Decodes a response packet body (type byte first).
pub fn decode_response(body: &[u8]) -> Result<(u32, Response), DecodeError> {
    let mut r = Reader::new(body);
    let kind = r.u8()?;
    let id = r.u32()?;
    let response = match kind {
        fxp::STATUS => {
            let code = r.u32()?;
            // Version 3 servers before the draft's -02 may omit message and language.
            let message = if r.is_empty() {
                status::message(code).to_owned()
            } else {
                String::from_utf8_lossy(r.string()?).into_owned()
            };
            if !r.is_empty() {
                r.string()?;
            }
            Response::Status { code, message }
        }
        fxp::HANDLE => Response::Handle(r.string()?.to_vec()),
        fxp::DATA => Response::Data(r.string()?.to_vec()),
        fxp::NAME => {
            let count = r.u32()? as usize;
            if count > r.remaining() / 12 {
                return Err(DecodeError::TooLong(count));
            }
            let mut names = Vec::with_capacity(count);
            for _ in 0..count {
                names.push(NameEntry {
                    filename: r.string()?.to_vec(),
                    longname: r.string()?.to_vec(),
                    attrs: Attrs::decode(&mut r)?,
                });
            }
            Response::Name(names)
        }
        fxp::ATTRS => Response::Attrs(Attrs::decode(&mut r)?),
        fxp::EXTENDED_REPLY => Response::ExtendedReply(r.take(r.remaining())?.to_vec()),
        other => return Err(DecodeError::UnexpectedMessage(other)),
    };
    r.finish()?;
    Ok((id, response))
}

/// An SSH_FXP_DATA body as (request id, data borrowed from `body`), so a download
/// need not copy it; `None` for any other response (decode it with
/// [`decode_response`]).
pub fn decode_data(body: &[u8]) -> Result<Option<(u32, &[u8])>, DecodeError> {
    let mut r = Reader::new(body);
    if r.u8()? != fxp::DATA {
        return Ok(None);
    }
    let id = r.u32()?;
    let data = r.string()?;
    r.finish()?;
    Ok(Some((id, data)))
}

mod bulk;
mod extended;
mod replies;
pub use bulk::{decode_write, encode_write_into, encode_write_with, write_header_len};
use extended::{decode_extended, encode_extended};
pub use replies::*;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
