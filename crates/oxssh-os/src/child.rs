//! A session's running process as the server holds it: the parent's ends of its pipes as
//! tokio streams, and its exit awaited through a pidfd registered with tokio's reactor
//! (the process was started by the crate's `exec` module, not by tokio, so tokio does not
//! reap it).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::libc;
use tokio::io::unix::AsyncFd;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};

use crate::exec::Started;

/// A session's process. Dropped before it was waited for, it is reaped in the
/// background (it is not killed: the caller decides, e.g. SIGHUP at disconnect).
#[derive(Debug)]
pub struct SessionChild {
    /// The write end of the child's stdin pipe (pipes only).
    pub stdin: Option<ChildStdin>,
    /// The read end of the child's stdout pipe (pipes only).
    pub stdout: Option<ChildStdout>,
    /// The read end of the child's stderr pipe (pipes only).
    pub stderr: Option<ChildStderr>,
    pid: libc::pid_t,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Not reaped yet; the pidfd turns readable when the process exits.
    Running(AsyncFd<OwnedFd>),
    Exited(ExitStatus),
}

impl SessionChild {
    /// Wraps a started child. Needs a tokio runtime with I/O enabled.
    pub(crate) fn new(started: Started) -> io::Result<Self> {
        let stdin = started
            .stdin
            .map(|fd| ChildStdin::from_std(std::process::ChildStdin::from(fd)))
            .transpose()?;
        let stdout = started
            .stdout
            .map(|fd| ChildStdout::from_std(std::process::ChildStdout::from(fd)))
            .transpose()?;
        let stderr = started
            .stderr
            .map(|fd| ChildStderr::from_std(std::process::ChildStderr::from(fd)))
            .transpose()?;
        let pidfd = match crate::pty::register(started.pidfd) {
            Ok(fd) => fd,
            Err(e) => {
                // Not trackable: do not leave it running unwatched.
                let (pidfd, err) = e.into_parts();
                let _ = pidfd_kill(&pidfd, libc::SIGKILL);
                let _ = reap(started.pid, 0);
                return Err(err);
            }
        };
        Ok(Self {
            stdin,
            stdout,
            stderr,
            pid: started.pid,
            state: State::Running(pidfd),
        })
    }

    /// The process id, also its process group and session id; `None` once reaped (it
    /// may have been reused).
    pub fn id(&self) -> Option<u32> {
        match self.state {
            State::Running(_) => u32::try_from(self.pid).ok(),
            State::Exited(_) => None,
        }
    }

    /// Waits for the process to exit, closing its stdin first (as tokio's `Child::wait`
    /// does, so a child reading it is not left waiting for us).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            let State::Running(pidfd) = &self.state else {
                continue;
            };
            let mut ready = pidfd.readable().await?;
            ready.clear_ready();
        }
    }

    /// The exit status if the process has exited (reaping it), else `None`.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let State::Exited(status) = self.state {
            return Ok(Some(status));
        }
        match reap(self.pid, libc::WNOHANG)? {
            Some(status) => {
                self.state = State::Exited(status);
                Ok(Some(status))
            }
            None => Ok(None),
        }
    }

    /// Sends SIGKILL to the process (not its group) unless it was reaped already.
    pub fn start_kill(&mut self) -> io::Result<()> {
        match &self.state {
            State::Running(pidfd) => pidfd_kill(pidfd.get_ref(), libc::SIGKILL),
            State::Exited(_) => Ok(()),
        }
    }
}

impl Drop for SessionChild {
    fn drop(&mut self) {
        if matches!(self.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        let pid = self.pid;
        let state = std::mem::replace(&mut self.state, State::Exited(ExitStatus::from_raw(0)));
        let State::Running(pidfd) = state else {
            return;
        };
        // Reap it when it exits, so no zombie is left behind.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    while reap(pid, libc::WNOHANG).ok() == Some(None) {
                        match pidfd.readable().await {
                            Ok(mut ready) => ready.clear_ready(),
                            Err(_) => break,
                        }
                    }
                });
            }
            Err(_) => {
                drop(pidfd);
                let _ = std::thread::Builder::new()
                    .name("oxssh-reap".into())
                    .spawn(move || reap(pid, 0));
            }
        }
    }
}

/// `waitpid` on our own child: its status once it has exited, `None` while it runs
/// (with `WNOHANG`).
#[allow(unsafe_code)]
fn reap(pid: libc::pid_t, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into a local; `pid` is our child, not yet
        // reaped (only this type reaps it), so the pid is still its.
        let ret = unsafe { libc::waitpid(pid, &mut status, flags) };
        match ret {
            0 => return Ok(None),
            r if r == pid => return Ok(Some(ExitStatus::from_raw(status))),
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}

/// Sends `signal` through the pidfd (never to a reused pid).
#[allow(unsafe_code)]
fn pidfd_kill(pidfd: &OwnedFd, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: pidfd_send_signal takes a descriptor we own, a signal number, a null
    // siginfo (the kernel fills a default one) and no flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
