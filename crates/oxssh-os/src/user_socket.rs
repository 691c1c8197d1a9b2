//! Unix-domain sockets opened with a user's rights, for stream-local forwarding
//! (OpenSSH PROTOCOL §2.4): `direct-streamlocal@openssh.com` connects to a path and
//! `streamlocal-forward@openssh.com` binds and listens on one.
//!
//! sshd does both in its per-user child, which already runs as the user, so the kernel
//! checks the path with the user's uid and groups: a user cannot reach a socket only root
//! may connect to, nor bind in a directory only root may write. oxsshd serves every
//! connection from one root process, so each call forks a short-lived helper: the child
//! enters the user's `ChrootDirectory` if any, drops to the user's groups, gid and uid
//! irreversibly, makes the socket, and passes it back over a socket pair (`SCM_RIGHTS`,
//! or the errno of the step that failed), then exits. The parent waits at most
//! [`HELPER_TIMEOUT`] (a hung file system kills the helper) and reaps it.
//!
//! The child of a multi-threaded process may only make async-signal-safe calls, so it
//! runs plain system calls on data prepared in the parent and allocates nothing.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use nix::libc;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType, SockaddrLike};
use nix::unistd::{ForkResult, Pid};

use crate::{Error, Result, SystemUser};

/// Longest a helper may take (a path on a hung network file system must not hang the
/// connection forever).
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(10);
/// `listen` backlog, as OpenSSH's `SSH_LISTEN_BACKLOG`.
const BACKLOG: libc::c_int = 128;
/// Message tags from the helper.
const TAG_FD: u8 = 0;
const TAG_ERRNO: u8 = 1;

/// Whose rights the helper takes on, all computed in the parent.
#[derive(Debug, Clone)]
pub struct UserSockets {
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
    /// False when this process runs as the user already (a personal server).
    switch_user: bool,
    /// `ChrootDirectory`, entered before the privileges are dropped.
    root: Option<CString>,
}

/// What the helper does with the path.
#[derive(Debug, Clone, Copy)]
enum Op {
    Connect,
    Listen { mask: libc::mode_t, unlink: bool },
}

impl UserSockets {
    /// Sockets as `user` with supplementary `groups` (from [`SystemUser::group_ids`]),
    /// inside `root` when the user has a (checked) `ChrootDirectory`.
    ///
    /// # Errors
    /// A chroot path with a NUL byte.
    pub fn new(user: &SystemUser, groups: &[u32], root: Option<&Path>) -> Result<Self> {
        let root = root
            .map(|r| CString::new(r.as_os_str().as_bytes()))
            .transpose()
            .map_err(|_| Error::NulByte("chroot directory"))?;
        Ok(Self {
            uid: user.uid,
            gid: user.gid,
            groups: groups.to_vec(),
            switch_user: nix::unistd::geteuid().as_raw() != user.uid
                || nix::unistd::getuid().as_raw() != user.uid,
            root,
        })
    }

    /// Connects to the socket at `path` as the user; the stream is non-blocking. Blocks
    /// for at most [`HELPER_TIMEOUT`].
    ///
    /// # Errors
    /// The errno of the step that failed (`EACCES`, `ENOENT`, `ECONNREFUSED`,
    /// `ENAMETOOLONG`...), or of the fork and the hand-over.
    pub fn connect(&self, path: &Path) -> io::Result<std::os::unix::net::UnixStream> {
        self.run(path, Op::Connect)
            .map(std::os::unix::net::UnixStream::from)
    }

    /// Binds a socket at `path` and listens, as the user, created under umask `mask`
    /// (`StreamLocalBindMask`); with `unlink` an existing file there is removed first
    /// (`StreamLocalBindUnlink`). The listener is non-blocking. Blocks for at most
    /// [`HELPER_TIMEOUT`].
    ///
    /// # Errors
    /// As [`UserSockets::connect`]; `EADDRINUSE` when the path exists.
    pub fn listen(
        &self,
        path: &Path,
        mask: u32,
        unlink: bool,
    ) -> io::Result<std::os::unix::net::UnixListener> {
        let mask = libc::mode_t::try_from(mask & 0o777).unwrap_or(0o177);
        self.run(path, Op::Listen { mask, unlink })
            .map(std::os::unix::net::UnixListener::from)
    }

    fn run(&self, path: &Path, op: Op) -> io::Result<OwnedFd> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let addr = nix::sys::socket::UnixAddr::new(path).map_err(io::Error::from)?;
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        let helper = Helper {
            who: self,
            op,
            path: &c_path,
            addr: addr.as_ref(),
            addr_len: addr.len(),
            chan: theirs.as_raw_fd(),
        };
        let child = fork_helper(&helper)?;
        drop(theirs);
        let result = receive(&ours);
        if result.is_err() {
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        }
        // The helper exits right after it answers; an ECHILD (SIGCHLD ignored) is fine.
        let _ = nix::sys::wait::waitpid(child, None);
        result
    }
}

/// Everything the forked child needs, borrowed from the parent's memory.
struct Helper<'a> {
    who: &'a UserSockets,
    op: Op,
    path: &'a CString,
    addr: &'a libc::sockaddr_un,
    addr_len: libc::socklen_t,
    chan: RawFd,
}

#[allow(unsafe_code)]
fn fork_helper(helper: &Helper<'_>) -> io::Result<Pid> {
    // SAFETY: after fork the child of this multi-threaded process runs only
    // `Helper::child`, which makes async-signal-safe system calls (chdir, chroot,
    // setgroups, setgid, setuid, umask, unlink, socket, connect, bind, listen, sendmsg,
    // write, _exit) on memory the parent prepared, allocates nothing, takes no lock,
    // and never returns (it ends in `_exit`, so no destructor or atexit handler runs).
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        ForkResult::Child => helper.child(),
        ForkResult::Parent { child } => Ok(child),
    }
}

impl Helper<'_> {
    /// The forked child: does the work, answers, exits.
    #[allow(unsafe_code)]
    fn child(&self) -> ! {
        match self.steps() {
            Ok(fd) => send_fd(self.chan, fd),
            Err(errno) => {
                let e = errno.to_be_bytes();
                let msg = [TAG_ERRNO, e[0], e[1], e[2], e[3]];
                // SAFETY: write is async-signal-safe; `msg` lives on this stack frame.
                unsafe { libc::write(self.chan, msg.as_ptr().cast(), msg.len()) };
            }
        }
        // SAFETY: _exit ends the child at once, running no handler of the parent's.
        unsafe { libc::_exit(0) }
    }

    /// The helper's steps; `Err` is the errno of the one that failed.
    #[allow(unsafe_code)]
    fn steps(&self) -> std::result::Result<RawFd, i32> {
        let who = self.who;
        // SAFETY (whole block): each call is a plain async-signal-safe system call
        // wrapper; every pointer passed points into memory owned by the parent's
        // `Helper` (the path, the socket address, the group list), alive and unchanged
        // in this copy of the address space for the child's whole life.
        unsafe {
            if let Some(root) = &who.root {
                check(libc::chdir(root.as_ptr()))?;
                check(libc::chroot(root.as_ptr()))?;
            }
            check(libc::chdir(c"/".as_ptr()))?;
            if who.switch_user {
                check(libc::setgroups(who.groups.len(), who.groups.as_ptr()))?;
                check(libc::setgid(who.gid))?;
                check(libc::setuid(who.uid))?;
                // As OpenSSH's permanently_set_uid: root must not be regained.
                if who.uid != 0 && libc::setuid(0) == 0 {
                    return Err(libc::EPERM);
                }
            }
            let flags = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
            let addr: *const libc::sockaddr = std::ptr::from_ref(self.addr).cast();
            match self.op {
                Op::Connect => {
                    let fd = check(libc::socket(libc::AF_UNIX, flags, 0))?;
                    // A Unix socket connects at once or fails (EAGAIN: backlog full).
                    if libc::connect(fd, addr, self.addr_len) != 0 {
                        let e = errno();
                        if e != libc::EINPROGRESS {
                            return Err(e);
                        }
                    }
                    Ok(fd)
                }
                Op::Listen { mask, unlink } => {
                    libc::umask(mask);
                    if unlink {
                        // As sshd: a failure here shows up as bind's EADDRINUSE.
                        libc::unlink(self.path.as_ptr());
                    }
                    let fd = check(libc::socket(libc::AF_UNIX, flags, 0))?;
                    check(libc::bind(fd, addr, self.addr_len))?;
                    check(libc::listen(fd, BACKLOG))?;
                    Ok(fd)
                }
            }
        }
    }
}

/// The errno of the last failed call (async-signal-safe: reads a thread-local int).
#[allow(unsafe_code)]
fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

fn check(ret: libc::c_int) -> std::result::Result<libc::c_int, i32> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

/// Sends `fd` with one tag byte over `chan`, with a control buffer on the stack.
#[allow(unsafe_code)]
fn send_fd(chan: RawFd, fd: RawFd) {
    // Room for one cmsghdr and one int, aligned as cmsghdr (CMSG_SPACE(4) is 24 bytes
    // on 64-bit Linux, 16 on 32-bit).
    let mut control = [0u64; 4];
    let mut tag = [TAG_FD];
    let mut iov = libc::iovec {
        iov_base: tag.as_mut_ptr().cast(),
        iov_len: tag.len(),
    };
    // SAFETY: a zeroed msghdr is valid (no name, no buffers); the pointers set below
    // point to `iov`, `tag` and `control` on this stack frame, which outlive the
    // sendmsg call; CMSG_* only compute offsets within `control`, whose size bounds
    // CMSG_SPACE(sizeof(int)); the fd is written unaligned into the data area.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        let int_len = std::mem::size_of::<libc::c_int>() as libc::c_uint;
        msg.msg_controllen = libc::CMSG_SPACE(int_len) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return;
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(int_len) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd);
        libc::sendmsg(chan, &msg, libc::MSG_NOSIGNAL);
    }
}

/// The helper's answer: the descriptor, or the errno it reported. Waits at most
/// [`HELPER_TIMEOUT`].
fn receive(chan: &OwnedFd) -> io::Result<OwnedFd> {
    if !readable(chan, HELPER_TIMEOUT)? {
        return Err(io::Error::from_raw_os_error(libc::ETIMEDOUT));
    }
    let mut data = [0u8; 8];
    let (n, fd) = crate::fdpass::recv_with_fd(chan.as_fd(), &mut data)?;
    match (data.first(), data.get(1..5)) {
        (Some(&TAG_FD), _) if n == 1 => {
            fd.ok_or_else(|| io::Error::other("socket helper sent no descriptor"))
        }
        (Some(&TAG_ERRNO), Some(&[a, b, c, d])) if n == 5 => {
            Err(io::Error::from_raw_os_error(i32::from_be_bytes([
                a, b, c, d,
            ])))
        }
        _ => Err(io::Error::other("socket helper failed")),
    }
}

/// Waits until `chan` is readable (or closed), at most `limit`.
#[allow(unsafe_code)]
fn readable(chan: &OwnedFd, limit: Duration) -> io::Result<bool> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        let mut pfd = libc::pollfd {
            fd: chan.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd on this stack frame, count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;

    fn me() -> SystemUser {
        SystemUser::by_uid(nix::unistd::getuid().as_raw())
            .unwrap()
            .unwrap()
    }

    fn sockets() -> UserSockets {
        let user = me();
        let groups = user.group_ids().unwrap();
        UserSockets::new(&user, &groups, None).unwrap()
    }

    #[test]
    fn connects_and_listens_through_the_helper() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = sockets().listen(&path, 0o177, false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        listener.set_nonblocking(false).unwrap();
        let mut client = sockets().connect(&path).unwrap();
        client.set_nonblocking(false).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        // Taken without unlink, replaced with it.
        let err = sockets().listen(&path, 0o177, false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE));
        sockets().listen(&path, 0o077, true).unwrap();
    }

    #[test]
    fn failures_come_back_as_errno() {
        let dir = tempfile::tempdir().unwrap();
        let err = sockets().connect(&dir.path().join("none")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        let long = dir.path().join("x".repeat(200));
        assert!(sockets().connect(&long).is_err());
        assert!(sockets()
            .listen(Path::new("/proc/nope/s"), 0, false)
            .is_err());
    }

    #[test]
    fn another_user_gets_the_kernels_refusal_for_root_only_paths() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP: needs root to act as another user");
            return;
        }
        let Some(nobody) = SystemUser::by_name("nobody").unwrap() else {
            eprintln!("SKIP: no user nobody");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("root-only");
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let as_nobody = UserSockets::new(&nobody, &[nobody.gid], None).unwrap();
        let err = as_nobody.connect(&path).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EACCES));
        let err = as_nobody
            .listen(&dir.path().join("new"), 0o177, false)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EACCES));
        // Root itself still may.
        sockets().connect(&path).unwrap();
    }
}
