//! Starting a program without `fork`: `clone(CLONE_VM | CLONE_VFORK)` on a stack of its
//! own, then `execve`, as glibc's `posix_spawn` does.
//!
//! `oxsshd` is one large multi-threaded process; `fork` (which `std::process::Command`
//! uses as soon as a `pre_exec` step is set) copies its page tables and then takes a
//! copy-on-write fault for every page either side touches before the exec. A child
//! sharing the parent's memory costs none of that: the calling thread sleeps until the
//! child has exec'd or exited, and the child only reads what the parent prepared here
//! (paths, `argv`, `envp`, descriptors) and writes on its own stack.
//!
//! Rules for the code that runs in the child ([`ChildArgs`] and the set-up step it is
//! given): no allocation, no lock, no C library call that keeps process-wide state. In
//! particular glibc's `setuid`/`setgid`/`setgroups` would signal every thread of the
//! parent (they keep all threads' credentials equal), so the set-up uses the raw system
//! calls ([`set_groups`], [`set_gid`], [`set_uid`]). All signals are blocked in the
//! calling thread across the `clone`, so no handler of the server runs in the child
//! before the set-up resets them. An exec failure travels back as an errno in memory
//! the two share (the parent reads it once it wakes up), the way `posix_spawn` reports
//! it; no pipe is needed.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::libc;

use crate::error::{Error, Result};

/// The child's stack. The set-up step and `execve` need a few kilobytes; the bottom
/// page is a guard, so an overflow faults instead of writing into the server's memory.
const STACK_SIZE: usize = 256 * 1024;

/// `PATH` searched when the child's environment has none (glibc's `execvp` default).
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// What to exec: the candidate paths (one unless a bare name is searched in `PATH`),
/// `argv` and `envp`, all as C strings made in the parent.
#[derive(Debug)]
pub(crate) struct ExecImage {
    paths: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl ExecImage {
    /// `program` with `argv` (argv[0] first) and the environment `env`. A program name
    /// without `/` is looked for in the environment's `PATH`, as `execvp` does.
    pub(crate) fn new<'a>(
        program: &OsStr,
        argv: impl IntoIterator<Item = &'a OsStr>,
        env: impl IntoIterator<Item = (&'a OsStr, &'a OsStr)>,
    ) -> Result<Self> {
        let cstr = |bytes: &[u8], what| CString::new(bytes).map_err(|_| Error::NulByte(what));
        let mut envp = Vec::new();
        let mut path_var: Option<&[u8]> = None;
        for (key, value) in env {
            if key.as_bytes() == b"PATH" {
                path_var = Some(value.as_bytes());
            }
            let mut entry = Vec::with_capacity(key.len() + value.len() + 1);
            entry.extend_from_slice(key.as_bytes());
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            envp.push(cstr(&entry, "environment variable")?);
        }
        let argv = argv
            .into_iter()
            .map(|arg| cstr(arg.as_bytes(), "argument"))
            .collect::<Result<Vec<_>>>()?;
        let name = program.as_bytes();
        let paths = if name.contains(&b'/') {
            vec![cstr(name, "program path")?]
        } else {
            path_var
                .unwrap_or(DEFAULT_PATH)
                .split(|&b| b == b':')
                .map(|dir| {
                    let dir = if dir.is_empty() { &b"."[..] } else { dir };
                    let mut full = dir.to_vec();
                    full.push(b'/');
                    full.extend_from_slice(name);
                    cstr(&full, "program path")
                })
                .collect::<Result<Vec<_>>>()?
        };
        Ok(Self { paths, argv, envp })
    }
}

/// The child's standard descriptors.
#[derive(Debug)]
pub(crate) enum ChildStdio {
    /// Three new pipes; the parent gets their other ends.
    Pipes,
    /// One descriptor (a pty slave) as stdin, stdout and stderr.
    Shared(OwnedFd),
}

/// A started child: its pid, a pidfd to wait on, and the parent's ends of its pipes.
#[derive(Debug)]
pub(crate) struct Started {
    pub pid: libc::pid_t,
    pub pidfd: OwnedFd,
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// Everything the child reads, prepared by [`spawn`] before the `clone`.
struct ChildArgs<'a> {
    paths: Vec<*const libc::c_char>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    /// Descriptors to put on 0, 1 and 2.
    stdio: [RawFd; 3],
    setup: &'a (dyn Fn() -> io::Result<()> + Sync),
    /// The errno of the step that failed, written by the child before it exits.
    error: AtomicI32,
}

/// Starts `image` with `stdio`, running `setup` in the child just before the exec (after
/// the descriptors are in place). `setup` must follow the module's rules: no
/// allocation, no lock, raw system calls only for credentials.
pub(crate) fn spawn(
    image: &ExecImage,
    stdio: ChildStdio,
    setup: &(dyn Fn() -> io::Result<()> + Sync),
) -> io::Result<Started> {
    let (child_ends, parent_ends) = match &stdio {
        ChildStdio::Pipes => {
            let (in_read, in_write) = pipe()?;
            let (out_read, out_write) = pipe()?;
            let (err_read, err_write) = pipe()?;
            (
                [Some(in_read), Some(out_write), Some(err_write)],
                [Some(in_write), Some(out_read), Some(err_read)],
            )
        }
        ChildStdio::Shared(_) => ([None, None, None], [None, None, None]),
    };
    let fd_for = |end: &Option<OwnedFd>| match (&stdio, end) {
        (ChildStdio::Shared(fd), _) => fd.as_raw_fd(),
        (_, Some(fd)) => fd.as_raw_fd(),
        (_, None) => -1,
    };
    let nul_terminated = |strings: &[CString]| {
        let mut ptrs: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        ptrs
    };
    let args = ChildArgs {
        paths: image.paths.iter().map(|s| s.as_ptr()).collect(),
        argv: nul_terminated(&image.argv),
        envp: nul_terminated(&image.envp),
        stdio: child_ends.each_ref().map(fd_for),
        setup,
        error: AtomicI32::new(0),
    };
    let stack = Stack::new()?;
    let pid = clone_vfork(&args, &stack)?;
    drop(stack);
    // The child's ends (and the pty slave) are not the parent's to keep.
    drop(child_ends);
    drop(stdio);
    let error = args.error.load(Ordering::SeqCst);
    if error != 0 {
        reap(pid);
        return Err(io::Error::from_raw_os_error(error));
    }
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            kill_and_reap(pid);
            return Err(e);
        }
    };
    let [stdin, stdout, stderr] = parent_ends;
    Ok(Started {
        pid,
        pidfd,
        stdin,
        stdout,
        stderr,
    })
}

/// A pipe, both ends close-on-exec (the child's end loses the flag when it is dup'ed
/// onto 0, 1 or 2): (read end, write end).
#[allow(unsafe_code)]
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given, which has room
    // for two; on success they are new and owned by nobody else.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// An anonymous mapping for the child's stack, its lowest page inaccessible.
struct Stack {
    base: *mut libc::c_void,
}

impl Stack {
    #[allow(unsafe_code)]
    fn new() -> io::Result<Self> {
        // SAFETY: a fresh private anonymous mapping (no address hint, no file); the
        // result is checked before use and unmapped exactly once in `drop`. mprotect
        // only changes the protection of its first page, inside the mapping.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let stack = Self { base };
            if libc::mprotect(base, page_size(), libc::PROT_NONE) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(stack)
        }
    }

    /// The highest address (stacks grow down on every Linux architecture Rust targets
    /// but hppa, which it does not support as a host); page-aligned, so 16-byte aligned.
    fn top(&self) -> *mut libc::c_void {
        self.base.cast::<u8>().wrapping_add(STACK_SIZE).cast()
    }
}

impl Drop for Stack {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: `base` is the mapping made in `new`, of STACK_SIZE bytes, not yet
        // unmapped; the child that used it has exec'd or exited (CLONE_VFORK).
        unsafe {
            libc::munmap(self.base, STACK_SIZE);
        }
    }
}

#[allow(unsafe_code)]
fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the system; it touches no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// The `clone` itself, with every signal blocked in this thread around it.
#[allow(unsafe_code)]
fn clone_vfork(args: &ChildArgs<'_>, stack: &Stack) -> io::Result<libc::pid_t> {
    // SAFETY: sigfillset and pthread_sigmask write only the sigset_t values given,
    // which live on this frame. clone(CLONE_VM | CLONE_VFORK) runs `child_main` on
    // `stack` (a mapping of its own, alive until this function returns) with `args`,
    // which outlives the child's use of it: CLONE_VFORK suspends this thread until the
    // child has exec'd or exited, and it never returns into our frames.
    // `child_main` follows the module's rules (see its comment).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::from_ref(args).cast_mut().cast(),
        );
        let clone_error = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if pid < 0 {
            return Err(clone_error);
        }
        Ok(pid)
    }
}

/// The child: descriptors onto 0, 1 and 2, the set-up step, then `execve` of each
/// candidate path in turn. On failure it stores the errno for the parent and exits 127.
#[allow(unsafe_code)]
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildArgs` that `clone_vfork`'s caller keeps alive while
    // this child runs (the parent is suspended until exec or exit); it is only read,
    // apart from the atomic `error`.
    let args = unsafe { &*arg.cast::<ChildArgs<'_>>() };
    let errno = child_steps(args);
    args.error.store(errno, Ordering::SeqCst);
    // SAFETY: _exit ends this child at once (no atexit handlers, no stdio flush,
    // which would touch the parent's state); it is async-signal-safe.
    unsafe { libc::_exit(127) }
}

/// Returns the errno of the step that failed (exec returns only on failure).
#[allow(unsafe_code)]
fn child_steps(args: &ChildArgs<'_>) -> i32 {
    for (target, &fd) in (0..).zip(args.stdio.iter()) {
        // SAFETY: dup2 and fcntl act on descriptor numbers only; both are plain system
        // calls (async-signal-safe). A descriptor already in place only loses its
        // close-on-exec flag.
        let failed = unsafe {
            if fd == target {
                libc::fcntl(fd, libc::F_SETFD, 0) < 0
            } else {
                libc::dup2(fd, target) < 0
            }
        };
        if failed {
            return last_errno();
        }
    }
    if let Err(e) = (args.setup)() {
        return e.raw_os_error().unwrap_or(libc::EINVAL);
    }
    // As execvp: a missing candidate lets the search go on; a denied one is remembered
    // and reported if nothing else runs; any other error stops it.
    let mut errno = libc::ENOENT;
    for &path in &args.paths {
        // SAFETY: `path`, `argv` and `envp` point at NUL-terminated strings and
        // NULL-terminated arrays owned by the parent's `ExecImage` and `ChildArgs`,
        // alive while the parent sleeps. execve is a plain system call.
        unsafe { libc::execve(path, args.argv.as_ptr(), args.envp.as_ptr()) };
        match last_errno() {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => errno = libc::EACCES,
            other => return other,
        }
    }
    errno
}

/// The calling thread's errno (in the child: the sleeping parent thread's, which the
/// child may clobber as glibc's posix_spawn child does).
fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// `setgroups` as the raw system call: for this thread (the child) only.
#[allow(unsafe_code)]
pub(crate) fn set_groups(groups: &[libc::gid_t]) -> io::Result<()> {
    // SAFETY: the kernel reads `groups.len()` gid_t values from the slice's pointer;
    // a plain system call, no C library state.
    check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })
}

/// `setgid` as the raw system call (see [`set_groups`]).
#[allow(unsafe_code)]
pub(crate) fn set_gid(gid: libc::gid_t) -> io::Result<()> {
    // SAFETY: a plain system call on an integer argument.
    check(unsafe { libc::syscall(libc::SYS_setgid, gid) })
}

/// `setuid` as the raw system call (see [`set_groups`]).
#[allow(unsafe_code)]
pub(crate) fn set_uid(uid: libc::uid_t) -> io::Result<()> {
    // SAFETY: a plain system call on an integer argument.
    check(unsafe { libc::syscall(libc::SYS_setuid, uid) })
}

fn check(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(last_errno()))
    } else {
        Ok(())
    }
}

/// A pidfd for our own unreaped child (its pid cannot be reused yet), close-on-exec.
#[allow(unsafe_code)]
fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor, owned by
    // nobody else, or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Waits for a child that has already failed (it is exiting), so no zombie is left.
#[allow(unsafe_code)]
fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid on our own child, writing its status into a local.
    unsafe { while libc::waitpid(pid, &mut status, 0) < 0 && last_errno() == libc::EINTR {} }
}

#[allow(unsafe_code)]
fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: our own unreaped child, so the pid is still its.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    reap(pid);
}
