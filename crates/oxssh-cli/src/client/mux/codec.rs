//! OpenSSH's connection-sharing protocol (PROTOCOL.mux, version 4) on the wire: each
//! message is `uint32 length`, `uint32 type`, then the body in SSH encoding. Bodies are
//! read through a checked cursor; a message longer than [`MAX_MESSAGE`] is refused
//! before it is read, so a peer cannot make us allocate without bound.

use std::io::{self, Read, Write};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The protocol version both sides announce in their hello.
pub const VERSION: u32 = 4;
/// Largest message accepted (OpenSSH's own limit is 256 KiB too).
pub const MAX_MESSAGE: u32 = 256 * 1024;

/// `MUX_MSG_HELLO`.
pub const HELLO: u32 = 0x0000_0001;
/// `MUX_C_NEW_SESSION`.
pub const C_NEW_SESSION: u32 = 0x1000_0002;
/// `MUX_C_ALIVE_CHECK`.
pub const C_ALIVE_CHECK: u32 = 0x1000_0004;
/// `MUX_C_TERMINATE`.
pub const C_TERMINATE: u32 = 0x1000_0005;
/// `MUX_C_OPEN_FWD`.
pub const C_OPEN_FWD: u32 = 0x1000_0006;
/// `MUX_C_CLOSE_FWD`.
pub const C_CLOSE_FWD: u32 = 0x1000_0007;
/// `MUX_C_NEW_STDIO_FWD`.
pub const C_NEW_STDIO_FWD: u32 = 0x1000_0008;
/// `MUX_C_STOP_LISTENING`.
pub const C_STOP_LISTENING: u32 = 0x1000_0009;
/// `MUX_S_OK`.
pub const S_OK: u32 = 0x8000_0001;
/// `MUX_S_PERMISSION_DENIED`.
pub const S_PERMISSION_DENIED: u32 = 0x8000_0002;
/// `MUX_S_FAILURE`.
pub const S_FAILURE: u32 = 0x8000_0003;
/// `MUX_S_EXIT_MESSAGE`.
pub const S_EXIT_MESSAGE: u32 = 0x8000_0004;
/// `MUX_S_ALIVE`.
pub const S_ALIVE: u32 = 0x8000_0005;
/// `MUX_S_SESSION_OPENED`.
pub const S_SESSION_OPENED: u32 = 0x8000_0006;
/// `MUX_S_REMOTE_PORT`.
pub const S_REMOTE_PORT: u32 = 0x8000_0007;
/// `MUX_S_TTY_ALLOC_FAIL`.
pub const S_TTY_ALLOC_FAIL: u32 = 0x8000_0008;

/// `MUX_FWD_LOCAL`: forwarding type of a `-L` forward.
pub const FWD_LOCAL: u32 = 1;
/// `MUX_FWD_REMOTE`: forwarding type of a `-R` forward.
pub const FWD_REMOTE: u32 = 2;
/// `MUX_FWD_DYNAMIC`: forwarding type of a `-D` forward.
pub const FWD_DYNAMIC: u32 = 3;

/// `escape char` value meaning "no escape character".
pub const NO_ESCAPE: u32 = 0xffff_ffff;

/// A malformed or oversized message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The body ended before a field did.
    Truncated,
    /// The length field is below 4 or above [`MAX_MESSAGE`].
    BadLength(u32),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated mux message"),
            Self::BadLength(n) => write!(f, "bad mux message length {n}"),
        }
    }
}

impl std::error::Error for CodecError {}

impl From<CodecError> for io::Error {
    fn from(e: CodecError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// One received message: its type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message type.
    pub kind: u32,
    /// The body after the type.
    pub body: Vec<u8>,
}

impl Message {
    /// A cursor over the body.
    pub fn reader(&self) -> Reader<'_> {
        Reader { rest: &self.body }
    }
}

/// A checked cursor over a message body.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.rest.len() < n {
            return Err(CodecError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// `uint32`.
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_be_bytes(a))
    }

    /// `string`.
    pub fn string(&mut self) -> Result<&'a [u8], CodecError> {
        let len = self.u32()?;
        self.take(usize::try_from(len).map_err(|_| CodecError::Truncated)?)
    }

    /// Whether the body is used up.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// Builds one message.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A message of type `kind`.
    pub fn new(kind: u32) -> Self {
        let mut buf = vec![0u8; 4];
        buf.extend_from_slice(&kind.to_be_bytes());
        Self { buf }
    }

    /// Appends a `uint32`.
    #[must_use]
    pub fn u32(mut self, v: u32) -> Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends a `string`.
    #[must_use]
    pub fn string(mut self, v: &[u8]) -> Self {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(v);
        self
    }

    /// The framed bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let len = u32::try_from(self.buf.len().saturating_sub(4)).unwrap_or(u32::MAX);
        if let Some(head) = self.buf.get_mut(..4) {
            head.copy_from_slice(&len.to_be_bytes());
        }
        self.buf
    }
}

/// The hello both sides send first.
pub fn hello() -> Vec<u8> {
    Writer::new(HELLO).u32(VERSION).finish()
}

fn check_length(len: u32) -> Result<usize, CodecError> {
    if !(4..=MAX_MESSAGE).contains(&len) {
        return Err(CodecError::BadLength(len));
    }
    usize::try_from(len).map_err(|_| CodecError::BadLength(len))
}

fn split(frame: Vec<u8>) -> Message {
    let mut kind = [0u8; 4];
    kind.copy_from_slice(frame.get(..4).unwrap_or(&[0; 4]));
    Message {
        kind: u32::from_be_bytes(kind),
        body: frame.get(4..).unwrap_or_default().to_vec(),
    }
}

/// Reads one message from a blocking stream; `Ok(None)` on a clean end of stream.
pub fn read_blocking(stream: &mut impl Read) -> io::Result<Option<Message>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = check_length(u32::from_be_bytes(len))?;
    let mut frame = vec![0u8; len];
    stream.read_exact(&mut frame)?;
    Ok(Some(split(frame)))
}

/// Writes one message to a blocking stream.
pub fn write_blocking(stream: &mut impl Write, message: &[u8]) -> io::Result<()> {
    stream.write_all(message)?;
    stream.flush()
}

/// Reads one message; `Ok(None)` on a clean end of stream.
pub async fn read(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<Option<Message>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = check_length(u32::from_be_bytes(len))?;
    let mut frame = vec![0u8; len];
    stream.read_exact(&mut frame).await?;
    Ok(Some(split(frame)))
}

/// Writes one message.
pub async fn write(stream: &mut (impl AsyncWrite + Unpin), message: &[u8]) -> io::Result<()> {
    stream.write_all(message).await?;
    stream.flush().await
}

/// `MUX_C_NEW_SESSION`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The request id to answer with.
    pub request_id: u32,
    /// Whether the client wants a pty.
    pub want_tty: bool,
    /// X11 forwarding (not supported: refused).
    pub want_x11: bool,
    /// Agent forwarding (not supported: refused).
    pub want_agent: bool,
    /// `command` names a subsystem.
    pub subsystem: bool,
    /// The escape character, or [`NO_ESCAPE`].
    pub escape: u32,
    /// `$TERM`.
    pub term: String,
    /// The command (empty: a shell).
    pub command: Vec<u8>,
    /// `NAME=value` strings.
    pub env: Vec<String>,
}

/// At most this many environment strings are taken from one request.
const MAX_ENV: usize = 4096;

impl NewSession {
    /// Decodes the body of a `MUX_C_NEW_SESSION`.
    ///
    /// # Errors
    /// When the body is truncated.
    pub fn decode(body: &mut Reader<'_>) -> Result<Self, CodecError> {
        let request_id = body.u32()?;
        let _reserved = body.string()?;
        // PROTOCOL.mux calls these `bool`; OpenSSH's ssh sends each as a uint32.
        let want_tty = body.u32()? != 0;
        let want_x11 = body.u32()? != 0;
        let want_agent = body.u32()? != 0;
        let subsystem = body.u32()? != 0;
        let escape = body.u32()?;
        let term = String::from_utf8_lossy(body.string()?).into_owned();
        let command = body.string()?.to_vec();
        let mut env = Vec::new();
        while !body.is_empty() && env.len() < MAX_ENV {
            env.push(String::from_utf8_lossy(body.string()?).into_owned());
        }
        Ok(Self {
            request_id,
            want_tty,
            want_x11,
            want_agent,
            subsystem,
            escape,
            term,
            command,
            env,
        })
    }

    /// Encodes the request.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(C_NEW_SESSION)
            .u32(self.request_id)
            .string(b"")
            .u32(u32::from(self.want_tty))
            .u32(u32::from(self.want_x11))
            .u32(u32::from(self.want_agent))
            .u32(u32::from(self.subsystem))
            .u32(self.escape)
            .string(self.term.as_bytes())
            .string(&self.command);
        for e in &self.env {
            w = w.string(e.as_bytes());
        }
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_session_round_trips() {
        let s = NewSession {
            request_id: 7,
            want_tty: true,
            want_x11: false,
            want_agent: false,
            subsystem: false,
            escape: u32::from(b'~'),
            term: "xterm".into(),
            command: b"echo hi".to_vec(),
            env: vec!["LANG=C".into()],
        };
        let bytes = s.encode();
        let msg = read_blocking(&mut bytes.as_slice()).unwrap().unwrap();
        assert_eq!(msg.kind, C_NEW_SESSION);
        assert_eq!(NewSession::decode(&mut msg.reader()), Ok(s));
    }

    #[test]
    fn oversized_and_truncated_messages_are_errors_not_panics() {
        let huge = [0xffu8, 0xff, 0xff, 0xff];
        assert!(read_blocking(&mut huge.as_slice()).is_err());
        let short = Writer::new(C_NEW_SESSION).u32(1).finish();
        let msg = read_blocking(&mut short.as_slice()).unwrap().unwrap();
        assert_eq!(
            NewSession::decode(&mut msg.reader()),
            Err(CodecError::Truncated)
        );
        let empty: [u8; 0] = [];
        assert!(read_blocking(&mut empty.as_slice()).unwrap().is_none());
    }
}
