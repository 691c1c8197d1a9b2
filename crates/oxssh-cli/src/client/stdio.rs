//! Standard input and output for the session's data path. tokio's `stdin()` and
//! `stdout()` work on its blocking pool: every chunk is a hand-off between threads (futex
//! and eventfd wake-ups), which cost more CPU than the encryption on a bulk transfer.
//! Like OpenSSH's client, we use a pipe in non-blocking mode from the runtime's own
//! thread instead, and a regular file or a device such as `/dev/null` directly (they
//! never block for long). A terminal, a socket, or a pipe shared with another of our
//! standard descriptors (where `O_NONBLOCK` would leak onto their I/O, as with `2>&1`)
//! keeps tokio's blocking-pool path.

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::sync::Arc;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

/// How one standard descriptor is best driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A pipe only we use: non-blocking, polled by the runtime.
    Pipe,
    /// A regular file or a non-terminal device: plain calls, in place.
    Direct,
    /// Anything else: tokio's blocking pool.
    Blocking,
}

/// Classifies descriptor `fd` (0 or 1), which must not be shared with `others`.
fn classify(fd: BorrowedFd<'_>, number: RawFd, others: &[RawFd]) -> Kind {
    let Some(meta) = identity(number).map(|(_, meta)| meta) else {
        return Kind::Blocking;
    };
    let kind = meta.file_type();
    let terminal = nix::unistd::isatty(fd).unwrap_or(true);
    if kind.is_file() || (kind.is_char_device() && !terminal) {
        Kind::Direct
    } else if kind.is_fifo() && !terminal && !shares_a_file(number, others) {
        Kind::Pipe
    } else {
        Kind::Blocking
    }
}

/// Room a standard pipe gets while we drive it (Linux's default is 64 KiB): a bulk
/// transfer then moves through it in reads and writes of our whole 256 KiB buffer,
/// with about a quarter of the system calls and wake-ups on both of its ends.
const PIPE_SIZE: i32 = 1024 * 1024;

/// Widens pipe `fd` to [`PIPE_SIZE`]. Best effort: above the system's
/// `pipe-max-size`, or with the user's pipe quota used up, the kernel refuses and the
/// pipe keeps its size. The other end shares the pipe, and only gains room.
fn widen(fd: BorrowedFd<'_>) {
    let _ = fcntl(fd, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
}

/// The file flags of `fd`, to restore after tokio switched it to `O_NONBLOCK`.
fn flags(fd: BorrowedFd<'_>) -> Option<OFlag> {
    fcntl(fd, FcntlArg::F_GETFL)
        .ok()
        .map(OFlag::from_bits_truncate)
}

fn restore(fd: BorrowedFd<'_>, flags: Option<OFlag>) {
    if let Some(flags) = flags {
        // Other programs share this pipe after us: leave it as we found it.
        let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
    }
}

/// The process's standard input; restores its file flags when dropped.
#[derive(Debug)]
pub struct StdinReader {
    source: Source,
    restore: Option<OFlag>,
}

#[derive(Debug)]
enum Source {
    Pipe(pipe::Receiver),
    Direct(io::Stdin),
    Blocking(tokio::io::Stdin),
}

impl StdinReader {
    /// Chooses the cheapest safe way to read stdin (see the module docs).
    pub fn open() -> Self {
        let stdin = io::stdin();
        let blocking = Self {
            source: Source::Blocking(tokio::io::stdin()),
            restore: None,
        };
        match classify(stdin.as_fd(), 0, &[1, 2]) {
            Kind::Direct => Self {
                source: Source::Direct(stdin),
                restore: None,
            },
            Kind::Blocking => blocking,
            Kind::Pipe => {
                widen(stdin.as_fd());
                let saved = flags(stdin.as_fd());
                // A duplicate of descriptor 0: tokio owns and closes it; fd 0 stays.
                match stdin
                    .as_fd()
                    .try_clone_to_owned()
                    .and_then(pipe::Receiver::from_owned_fd)
                {
                    Ok(receiver) => Self {
                        source: Source::Pipe(receiver),
                        restore: saved,
                    },
                    Err(_) => {
                        restore(stdin.as_fd(), saved);
                        blocking
                    }
                }
            }
        }
    }

    /// Reads into `buf`; 0 at end of input.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.source {
            Source::Pipe(pipe) => pipe.read(buf).await,
            Source::Direct(stdin) => read_direct(stdin.as_fd(), buf),
            Source::Blocking(stdin) => stdin.read(buf).await,
        }
    }

    /// Whether [`StdinReader::send_to`] works: reads that never block for long (a
    /// pipe we poll, a file). tokio's blocking pool reads on another thread, into a
    /// buffer of its own.
    pub fn sends_in_place(&self) -> bool {
        !matches!(self.source, Source::Blocking(_))
    }

    /// Reads the next piece of input (at most `max` bytes) straight into a data packet
    /// of `writer`'s channel, which is then sent: no copy through a buffer of ours.
    /// Returns its length, 0 at end of input. Only when [`StdinReader::sends_in_place`].
    pub async fn send_to(
        &mut self,
        writer: &mut oxssh::ChannelWriter,
        max: usize,
    ) -> io::Result<usize> {
        match &mut self.source {
            // Readiness first, outside the connection's lock; the read itself does not
            // wait (a spurious wake-up reads nothing, and we wait again).
            Source::Pipe(pipe) => loop {
                pipe.readable().await?;
                match writer.write_with(1, max, |room| pipe.try_read(room)).await {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    result => return result,
                }
            },
            Source::Direct(stdin) => {
                let fd = stdin.as_fd();
                writer
                    .write_with(1, max, |room| read_direct(fd, room))
                    .await
            }
            Source::Blocking(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }
}

/// One `read(2)` from a descriptor that does not block for long (a file, a device).
fn read_direct(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match nix::unistd::read(fd, buf) {
            Err(nix::errno::Errno::EINTR) => continue,
            result => return result.map_err(io::Error::from),
        }
    }
}

impl Drop for StdinReader {
    fn drop(&mut self) {
        restore(io::stdin().as_fd(), self.restore);
    }
}

/// The process's standard output; restores its file flags when dropped.
#[derive(Debug)]
pub struct StdoutWriter {
    sink: Sink,
    restore: Option<OFlag>,
}

#[derive(Debug)]
enum Sink {
    /// Shared with the channel's stdout sink, which writes from the connection's driver.
    Pipe(Arc<pipe::Sender>),
    Direct(io::Stdout),
    Blocking(tokio::io::Stdout),
}

impl StdoutWriter {
    /// Chooses the cheapest safe way to write stdout (see the module docs).
    pub fn open() -> Self {
        let stdout = io::stdout();
        let blocking = Self {
            sink: Sink::Blocking(tokio::io::stdout()),
            restore: None,
        };
        match classify(stdout.as_fd(), 1, &[0, 2]) {
            Kind::Direct => Self {
                sink: Sink::Direct(stdout),
                restore: None,
            },
            Kind::Blocking => blocking,
            Kind::Pipe => {
                widen(stdout.as_fd());
                let saved = flags(stdout.as_fd());
                match stdout
                    .as_fd()
                    .try_clone_to_owned()
                    .and_then(pipe::Sender::from_owned_fd)
                {
                    Ok(sender) => Self {
                        sink: Sink::Pipe(Arc::new(sender)),
                        restore: saved,
                    },
                    Err(_) => {
                        restore(stdout.as_fd(), saved);
                        blocking
                    }
                }
            }
        }
    }

    /// Writes all of `data`.
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Pipe(pipe) => {
                let mut rest = data;
                while !rest.is_empty() {
                    pipe.writable().await?;
                    match pipe.try_write(rest) {
                        Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            // Unbuffered: `Stdout`'s line buffer would only add a copy.
            Sink::Direct(stdout) => write_direct(stdout.as_fd(), data),
            Sink::Blocking(stdout) => stdout.write_all(data).await,
        }
    }

    /// Whether [`StdoutWriter::write_from`] works here: a pipe of ours or a direct
    /// descriptor (the blocking pool needs a buffer it owns).
    pub fn in_place(&self) -> bool {
        !matches!(self.sink, Sink::Blocking(_))
    }

    /// A consumer for [`oxssh::Channel::set_stdout_sink`] when stdout takes writes
    /// without blocking the connection: the pipe (what does not fit stays buffered in
    /// the channel, for [`StdoutWriter::write_from`]) or a file. Errors take nothing:
    /// the data stays buffered and the next write reports them.
    pub fn sink(&self) -> Option<Box<oxssh::StdoutSinkFn>> {
        match &self.sink {
            Sink::Pipe(pipe) => {
                let pipe = Arc::clone(pipe);
                Some(Box::new(move |data| pipe.try_write(data).unwrap_or(0)))
            }
            Sink::Direct(_) => Some(Box::new(|data| {
                write_some(io::stdout().as_fd(), data).unwrap_or(0)
            })),
            Sink::Blocking(_) => None,
        }
    }

    /// Writes some of the channel's buffered stdout straight from where it lies (no
    /// copy out of the channel first); returns how much, 0 if nothing was buffered.
    /// Only when [`StdoutWriter::in_place`].
    pub async fn write_from(&mut self, channel: &oxssh::Channel) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Pipe(pipe) => loop {
                pipe.writable().await?;
                match channel.take_with(|data| pipe.try_write(data)) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    result => return result,
                }
            },
            Sink::Direct(stdout) => channel.take_with(|data| write_some(stdout.as_fd(), data)),
            Sink::Blocking(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Waits until everything written has reached the descriptor.
    pub async fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Pipe(_) => Ok(()),
            Sink::Direct(stdout) => stdout.flush(),
            Sink::Blocking(stdout) => stdout.flush().await,
        }
    }
}

impl Drop for StdoutWriter {
    fn drop(&mut self) {
        restore(io::stdout().as_fd(), self.restore);
    }
}

fn write_direct(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = write_some(fd, data)?;
        data = data.get(n..).unwrap_or_default();
    }
    Ok(())
}

/// One `write` of a non-empty `data` (retried when interrupted); never 0.
fn write_some(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    loop {
        match nix::unistd::write(fd, data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => return Ok(n),
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Device, inode and metadata of our descriptor `fd`.
fn identity(fd: RawFd) -> Option<((u64, u64), std::fs::Metadata)> {
    let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).ok()?;
    Some(((meta.dev(), meta.ino()), meta))
}

/// Whether descriptor `fd` is the same file (device and inode) as any of `others`.
fn shares_a_file(fd: RawFd, others: &[RawFd]) -> bool {
    let Some((mine, _)) = identity(fd) else {
        // Cannot tell: assume the worst.
        return true;
    };
    others
        .iter()
        .any(|&other| identity(other).map(|(id, _)| id) == Some(mine))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_descriptor_shares_a_file_with_itself_only() {
        let file = tempfile::tempfile();
        assert!(file.is_ok());
        let Ok(file) = file else { return };
        let fd = file.as_raw_fd();
        assert!(shares_a_file(fd, &[fd]));
        assert!(!shares_a_file(fd, &[]));
    }

    #[test]
    fn regular_files_are_used_directly() {
        let file = tempfile::tempfile();
        assert!(file.is_ok());
        let Ok(file) = file else { return };
        assert_eq!(classify(file.as_fd(), file.as_raw_fd(), &[]), Kind::Direct);
    }
}
