//! Pseudo-terminals for sessions: allocating a pair, the slave's path (`SSH_TTY`), its
//! owner and mode, terminal modes from `pty-req`, window sizes from `pty-req` and
//! `window-change`, and the master side as a tokio `AsyncRead + AsyncWrite`.
//!
//! Both descriptors are opened close-on-exec, so no other child inherits them; the
//! session child gets the slave as its stdin, stdout and stderr through [`crate::spawn`].

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::libc;
use nix::pty::Winsize;
use nix::sys::stat::Mode;
use nix::sys::termios::{tcgetattr, tcsetattr, SetArg};
use nix::unistd::{Gid, Uid};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{Error, Result};
use crate::modes::TerminalModes;
use crate::user::{group_id, SystemUser};

/// A terminal's size, as `pty-req` and `window-change` carry it (RFC 4254 §6.2, §6.7):
/// characters and pixels. Values beyond the kernel's 16 bits are clamped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowSize {
    /// Width in characters.
    pub cols: u32,
    /// Height in rows.
    pub rows: u32,
    /// Width in pixels (0 when unknown).
    pub width_px: u32,
    /// Height in pixels (0 when unknown).
    pub height_px: u32,
}

impl WindowSize {
    fn winsize(self) -> Winsize {
        let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
        Winsize {
            ws_row: clamp(self.rows),
            ws_col: clamp(self.cols),
            ws_xpixel: clamp(self.width_px),
            ws_ypixel: clamp(self.height_px),
        }
    }
}

nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, Winsize);

/// Sets the window size on a terminal descriptor; on the master this also sends
/// SIGWINCH to the slave's foreground process group.
#[allow(unsafe_code)]
fn set_window_size(fd: BorrowedFd<'_>, size: WindowSize) -> Result<()> {
    let ws = size.winsize();
    // SAFETY: TIOCSWINSZ reads one `struct winsize` through the pointer; `ws` is a live,
    // properly aligned `Winsize` (nix's alias of `libc::winsize`) for the whole call, and
    // `fd` is a valid open descriptor borrowed for the call.
    unsafe { tiocswinsz(fd.as_raw_fd(), &ws) }.map_err(Error::sys("TIOCSWINSZ"))?;
    Ok(())
}

nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, Winsize);

/// The window size of the terminal on `fd` (`TIOCGWINSZ`), e.g. a terminal a mux
/// client passed to its master.
///
/// # Errors
/// When `fd` is not a terminal.
#[allow(unsafe_code)]
pub fn window_size(fd: BorrowedFd<'_>) -> Result<WindowSize> {
    let mut ws = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` through the pointer; `ws` is a live,
    // properly aligned, writable `Winsize` (nix's alias of `libc::winsize`) for the whole
    // call, and `fd` is a valid open descriptor borrowed for the call.
    unsafe { tiocgwinsz(fd.as_raw_fd(), &mut ws) }.map_err(Error::sys("TIOCGWINSZ"))?;
    Ok(WindowSize {
        cols: u32::from(ws.ws_col),
        rows: u32::from(ws.ws_row),
        width_px: u32::from(ws.ws_xpixel),
        height_px: u32::from(ws.ws_ypixel),
    })
}

/// Registers an owned descriptor with tokio's reactor (the I/O-safe replacement for
/// tokio's deprecated `AsyncFd::try_new`).
///
/// # Errors
/// The descriptor back, with the error, when it cannot be polled (a regular file).
#[allow(unsafe_code)]
pub fn register(
    fd: OwnedFd,
) -> std::result::Result<AsyncFd<OwnedFd>, tokio::io::unix::AsyncFdRegisterError<OwnedFd>> {
    // SAFETY: `register` requires that `as_raw_fd()` names one valid open descriptor for
    // the whole life of the `AsyncFd`. An `OwnedFd` owns its descriptor, closes it only
    // on drop (which happens when the `AsyncFd` drops) and always returns the same
    // number, and nothing else holds or closes it.
    unsafe { AsyncFd::register(fd) }
}

/// A freshly allocated pty pair, before the session starts.
#[derive(Debug)]
pub struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    path: PathBuf,
}

impl Pty {
    /// Allocates a pty pair (`posix_openpt`, `grantpt`, `unlockpt`, open the slave), both
    /// ends close-on-exec and neither becoming our controlling terminal, with `size` set.
    pub fn open(size: WindowSize) -> Result<Self> {
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let master = nix::pty::posix_openpt(flags).map_err(Error::sys("posix_openpt"))?;
        nix::pty::grantpt(&master).map_err(Error::sys("grantpt"))?;
        nix::pty::unlockpt(&master).map_err(Error::sys("unlockpt"))?;
        let path = PathBuf::from(nix::pty::ptsname_r(&master).map_err(Error::sys("ptsname_r"))?);
        let slave =
            nix::fcntl::open(&path, flags, Mode::empty()).map_err(Error::sys("open pty slave"))?;
        let master = OwnedFd::from(master);
        set_window_size(master.as_fd(), size)?;
        Ok(Self {
            master,
            slave,
            path,
        })
    }

    /// The slave's device path, e.g. `/dev/pts/3` (the session's `SSH_TTY`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The slave's name without `/dev/` (e.g. `pts/3`), as utmp and `PAM_TTY` want it.
    pub fn tty_name(&self) -> &Path {
        self.path.strip_prefix("/dev").unwrap_or(&self.path)
    }

    /// Applies `pty-req` terminal modes to the slave (`tcgetattr`, edit, `tcsetattr`).
    pub fn apply_modes(&self, modes: &TerminalModes) -> Result<()> {
        let mut termios = tcgetattr(&self.slave).map_err(Error::sys("tcgetattr"))?;
        modes.apply(&mut termios);
        tcsetattr(&self.slave, SetArg::TCSANOW, &termios).map_err(Error::sys("tcsetattr"))
    }

    /// Gives the slave to `user` as OpenSSH's `pty_setowner` does: owner the user, group
    /// `tty` with mode 0620 when that group exists, otherwise the user's group and 0622.
    pub fn set_owner(&self, user: &SystemUser) -> Result<()> {
        let (gid, mode) = match group_id("tty")? {
            Some(tty) => (tty, 0o620),
            None => (user.gid, 0o622),
        };
        nix::unistd::fchown(
            &self.slave,
            Some(Uid::from_raw(user.uid)),
            Some(Gid::from_raw(gid)),
        )
        .map_err(Error::sys("chown pty slave"))?;
        nix::sys::stat::fchmod(&self.slave, Mode::from_bits_truncate(mode))
            .map_err(Error::sys("chmod pty slave"))
    }

    /// Changes the window size (before the session starts; afterwards use
    /// [`PtyMaster::resize`]).
    pub fn resize(&self, size: WindowSize) -> Result<()> {
        set_window_size(self.master.as_fd(), size)
    }

    /// Splits the pair for [`crate::spawn`]: the slave goes to the child, the master
    /// becomes async (needs a tokio runtime with I/O enabled).
    pub(crate) fn into_parts(self) -> Result<(PtyMaster, OwnedFd, PathBuf)> {
        let master = PtyMaster::new(self.master, self.path.clone())?;
        Ok((master, self.slave, self.path))
    }
}

/// The master side of a running session's pty: read what the session prints, write what
/// the user types. Reading returns end-of-file once every slave descriptor is closed (the
/// kernel reports EIO there). Implemented for `&PtyMaster` too, so one task can read
/// while another writes.
#[derive(Debug)]
pub struct PtyMaster {
    fd: AsyncFd<OwnedFd>,
    path: PathBuf,
}

impl PtyMaster {
    fn new(fd: OwnedFd, path: PathBuf) -> Result<Self> {
        let flags = fcntl(&fd, FcntlArg::F_GETFL).map_err(Error::sys("fcntl F_GETFL"))?;
        let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
        fcntl(&fd, FcntlArg::F_SETFL(flags)).map_err(Error::sys("fcntl F_SETFL"))?;
        // `AsyncFd` panics outside a runtime: report that as an error instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Sys {
                op: "pty master outside a tokio runtime",
                source: Errno::EINVAL,
            });
        }
        let fd = register(fd).map_err(|e| Error::Sys {
            op: "register pty master",
            source: Errno::from_raw(io::Error::from(e).raw_os_error().unwrap_or(libc::EIO)),
        })?;
        Ok(Self { fd, path })
    }

    /// The slave's device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `window-change`: sets the size, which sends SIGWINCH to the session's foreground
    /// process group.
    pub fn resize(&self, size: WindowSize) -> Result<()> {
        set_window_size(self.fd.get_ref().as_fd(), size)
    }

    fn poll_read_shared(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard
                .try_io(|fd| nix::unistd::read(fd.get_ref(), unfilled).map_err(io::Error::from))
            {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // The slave side is closed: the session's end of output.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_write_shared(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), buf).map_err(io::Error::from))
            {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsFd for PtyMaster {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }
}

impl AsyncRead for PtyMaster {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_shared(cx, buf)
    }
}

impl AsyncRead for &PtyMaster {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_shared(cx, buf)
    }
}

impl AsyncWrite for PtyMaster {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_shared(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for &PtyMaster {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_shared(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
