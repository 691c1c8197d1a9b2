//! The byte stream a connection runs on: an accepted TCP socket, or in inetd mode (`-i`)
//! our stdin and stdout, which are a socket (inetd, systemd) or two pipes (OpenSSH's
//! `ProxyCommand`, test harnesses). All are driven by readiness and non-blocking
//! reads and writes straight from and into the core's buffers.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;

use tokio::net::unix::pipe;
use tokio::net::TcpStream;

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
