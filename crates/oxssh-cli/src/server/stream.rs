//! The byte stream a connection runs on: an accepted TCP socket, or in inetd mode (`-i`)
//! our stdin and stdout, which are a socket (inetd, systemd) or two pipes (OpenSSH's
//! `ProxyCommand`, test harnesses). All are driven by readiness and non-blocking
//! reads and writes straight from and into the core's buffers.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;

use oxssh_proto::{ServerConnection, TransportError};
use tokio::net::unix::pipe;
use tokio::net::TcpStream;

/// Bytes per read through the shared buffer.
const READ_CHUNK: usize = 256 * 1024;
/// Least room worth reading into in place rather than through the shared buffer.
const MIN_IN_PLACE_READ: usize = 64 * 1024;

thread_local! {
    /// Where a worker thread reads idle connections' sockets into. What is read is
    /// handed to the protocol core before the next `await`, so one buffer per thread
    /// serves every connection: an idle connection owns none.
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_CHUNK]);
}

/// A connection's transport.
#[derive(Debug)]
pub(crate) enum Stream {
    /// A socket (TCP, or any stream socket handed to us).
    Socket(TcpStream),
    /// stdin and stdout as pipes.
    Pipes(pipe::Receiver, pipe::Sender),
}

impl Stream {
    /// Our stdin and stdout, for `-i`.
    pub fn stdio() -> io::Result<Self> {
        let stdin = io::stdin();
        let kind = std::fs::metadata("/proc/self/fd/0")?.file_type();
        let input = stdin.as_fd().try_clone_to_owned()?;
        if kind.is_socket() {
            let socket = std::net::TcpStream::from(input);
            socket.set_nonblocking(true)?;
            return Ok(Self::Socket(TcpStream::from_std(socket)?));
        }
        let output = io::stdout().as_fd().try_clone_to_owned()?;
        Ok(Self::Pipes(
            pipe::Receiver::from_owned_fd(input)?,
            pipe::Sender::from_owned_fd(output)?,
        ))
    }

    /// Waits until a read may make progress.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Self::Socket(s) => s.readable().await,
            Self::Pipes(r, _) => r.readable().await,
        }
    }

    /// Reads what is there without blocking.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Socket(s) => s.try_read(buf),
            Self::Pipes(r, _) => r.try_read(buf),
        }
    }

    /// Waits until a write may make progress.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            Self::Socket(s) => s.writable().await,
            Self::Pipes(_, w) => w.writable().await,
        }
    }

    /// Writes what fits without blocking.
    pub fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        match self {
            Self::Socket(s) => s.try_write(data),
            Self::Pipes(_, w) => w.try_write(data),
        }
    }
}

impl Stream {
    /// Reads what the stream has into the protocol core: `Ok(true)` when bytes arrived,
    /// `Ok(false)` when there were none after all, `Err` (why) when the connection ended.
    /// A busy connection's input buffer has room and the read lands there with no copy;
    /// an idle one keeps a small buffer, so the read goes through the thread's buffer.
    pub fn read_into(&self, core: &mut ServerConnection) -> Result<bool, String> {
        if let Some(room) = core.recv_space(MIN_IN_PLACE_READ) {
            let read = self.try_read(room);
            return take_read(read, |n| core.recv_filled(n));
        }
        READ_BUFFER.with_borrow_mut(|buf| {
            let read = self.try_read(buf);
            take_read(read, |n| core.recv(buf.get(..n).unwrap_or_default()))
        })
    }
}

/// What [`Stream::read_into`] makes of one read: `take` hands the `n` bytes to the core.
fn take_read(
    read: io::Result<usize>,
    take: impl FnOnce(usize) -> Result<usize, TransportError>,
) -> Result<bool, String> {
    match read {
        Ok(0) => Err("Connection closed".to_owned()),
        Ok(n) => take(n).map(|_| true).map_err(|e| e.to_string()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}
