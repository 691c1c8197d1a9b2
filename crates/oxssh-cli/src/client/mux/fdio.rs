//! Async reading and writing on the descriptors a mux client passed us (its stdin,
//! stdout and stderr). Terminals, pipes and sockets are switched to non-blocking mode and
//! polled by the runtime; their previous file flags are restored when dropped, since the
//! client's shell shares them after the session. Regular files, which cannot be polled,
//! go through tokio's blocking pool.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::io::unix::AsyncFd;
use tokio::io::AsyncWriteExt;

/// `st_mode` file-type bits (POSIX values, as Linux uses them).
mod libc_mode {
    pub const S_IFMT: u32 = 0o170_000;
    pub const S_IFREG: u32 = 0o100_000;
}

/// One passed descriptor, ready for async I/O.
#[derive(Debug)]
pub enum FdIo {
    /// Polled by the runtime; the flags to restore.
    Polled(AsyncFd<OwnedFd>, OFlag),
    /// Through the blocking pool.
    File(tokio::fs::File),
}

impl FdIo {
    /// Prepares `fd` for async I/O.
    pub fn new(fd: OwnedFd) -> Self {
        let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL)
            .ok()
            .map(OFlag::from_bits_truncate);
        let regular = nix::sys::stat::fstat(fd.as_fd())
            .map(|st| st.st_mode & libc_mode::S_IFMT == libc_mode::S_IFREG)
            .unwrap_or(false);
        let Some(flags) = flags.filter(|_| !regular) else {
            return Self::File(tokio::fs::File::from_std(std::fs::File::from(fd)));
        };
        if fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).is_err() {
            return Self::File(tokio::fs::File::from_std(std::fs::File::from(fd)));
        }
        match oxssh_os::pty::register(fd) {
            Ok(polled) => Self::Polled(polled, flags),
            Err(e) => {
                let (fd, e) = e.into_parts();
                tracing::debug!("mux: cannot poll a passed descriptor: {e}");
                let _ = fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags));
                Self::File(tokio::fs::File::from_std(std::fs::File::from(fd)))
            }
        }
    }

    /// Reads some bytes; 0 at end of input.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Polled(fd, _) => loop {
                let mut guard = fd.readable().await?;
                match guard.try_io(|inner| {
                    nix::unistd::read(inner.get_ref(), buf).map_err(io::Error::from)
                }) {
                    Ok(result) => return result,
                    Err(_would_block) => continue,
                }
            },
            Self::File(f) => tokio::io::AsyncReadExt::read(f, buf).await,
        }
    }

    /// Writes all of `data`.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        match self {
            Self::Polled(fd, _) => {
                while !data.is_empty() {
                    let mut guard = fd.writable().await?;
                    match guard.try_io(|inner| {
                        nix::unistd::write(inner.get_ref(), data).map_err(io::Error::from)
                    }) {
                        Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(Ok(n)) => data = data.get(n..).unwrap_or_default(),
                        Ok(Err(e)) => return Err(e),
                        Err(_would_block) => continue,
                    }
                }
                Ok(())
            }
            Self::File(f) => {
                f.write_all(data).await?;
                f.flush().await
            }
        }
    }
}

impl Drop for FdIo {
    fn drop(&mut self) {
        if let Self::Polled(fd, flags) = self {
            let _ = fcntl(fd.get_ref().as_fd(), FcntlArg::F_SETFL(*flags));
        }
    }
}
