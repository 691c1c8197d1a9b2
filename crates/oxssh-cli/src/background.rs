//! Going to the background once ready, for `oxssh -f` (after authentication, so prompts
//! still reach the terminal) and `oxsshd` without `-D` (after binding its ports, so
//! start-up errors still reach the terminal).
//!
//! `fork()` in a process that already runs a multi-threaded runtime is unsound, so the
//! program runs itself again instead: the foreground process starts a copy of itself with
//! the same arguments and a private rendezvous socket named in an environment variable,
//! then waits. The copy does its work up to the ready point, starts a new session
//! (`setsid`, so the terminal's signals no longer reach it) and says "ready" on the
//! socket; the foreground process then exits 0. If the copy ends first (a failed login,
//! a port in use), its exit status is the foreground process's.

use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Names the rendezvous socket in `oxssh -f`'s background copy.
pub const CLIENT_READY_ENV: &str = "OXSSH_FORK_READY_SOCKET";
/// Names the rendezvous socket in a detaching `oxsshd`'s background copy.
pub const SERVER_READY_ENV: &str = "OXSSHD_DETACH_READY_SOCKET";
/// Names the rendezvous socket in `oxssh-agent`'s background copy.
pub const AGENT_READY_ENV: &str = "OXSSH_AGENT_READY_SOCKET";

/// How often the foreground process looks for "ready" or the copy's exit.
const POLL: Duration = Duration::from_millis(10);

/// The byte the background copy sends once authenticated.
const READY: u8 = b'R';

/// The background copy's side: told once it is ready.
#[derive(Debug)]
pub struct ReadySignal {
    socket: PathBuf,
}

impl ReadySignal {
    /// Whether this process is a background copy (its rendezvous socket in `variable`);
    /// takes the variable out of the environment so children never see it.
    pub fn from_env(variable: &str) -> Option<Self> {
        let socket = std::env::var_os(variable)?;
        std::env::remove_var(variable);
        Some(Self {
            socket: PathBuf::from(socket),
        })
    }

    /// Leaves the terminal's session and lets the foreground process exit.
    pub fn notify(self) {
        // Not a process-group leader (it was spawned), so this cannot fail in practice;
        // if it did, the copy would merely still get the terminal's SIGINT.
        if let Err(e) = nix::unistd::setsid() {
            tracing::debug!("setsid: {e}");
        }
        match UnixStream::connect(&self.socket) {
            Ok(mut stream) => {
                let _ = stream.write_all(&[READY]);
            }
            Err(e) => tracing::debug!("cannot reach the foreground process: {e}"),
        }
    }
}

/// The foreground side: runs this program again in the background with the same
/// arguments (the copy finds its socket in `variable`) and waits until it is ready
/// (exit 0) or ends (its status). The copy reads no stdin (`-f` implies `-n`; a daemon
/// has no input) unless `keep_stdin`: `-f -W` relays the caller's stdin and stdout
/// from the background, as ssh's does. With `daemon` the copy's stdout goes to
/// /dev/null and its stderr comes through us until it is ready, so start-up errors
/// are seen but nothing holds the terminal (or a caller's pipe) open afterwards.
pub fn run_in_background(program: &str, variable: &str, daemon: bool, keep_stdin: bool) -> u8 {
    match spawn_and_wait(variable, daemon, keep_stdin) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{program}: cannot go to the background: {e}");
            255
        }
    }
}

fn spawn_and_wait(variable: &str, daemon: bool, keep_stdin: bool) -> std::io::Result<u8> {
    Ok(match spawn_copy(variable, daemon, &[], keep_stdin)? {
        Outcome::Ready(_) => 0,
        Outcome::Exited(code) => code,
    })
}

/// How the background copy's start went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It is ready and runs on, with this process id.
    Ready(u32),
    /// It ended before it was ready, with this exit status.
    Exited(u8),
}

/// Like [`run_in_background`], for programs that print something about the copy once it
/// is ready (`oxssh-agent` prints its pid): the copy also gets `env`, and the caller
/// learns its pid.
///
/// # Errors
/// When the copy cannot be started or the rendezvous fails.
pub fn spawn_daemon(
    variable: &str,
    daemon: bool,
    env: &[(&str, &std::ffi::OsStr)],
) -> std::io::Result<Outcome> {
    spawn_copy(variable, daemon, env, false)
}

fn spawn_copy(
    variable: &str,
    daemon: bool,
    env: &[(&str, &std::ffi::OsStr)],
    keep_stdin: bool,
) -> std::io::Result<Outcome> {
    let dir = private_dir()?;
    let result = rendezvous(&dir, variable, daemon, env, keep_stdin);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn rendezvous(
    dir: &Path,
    variable: &str,
    daemon: bool,
    env: &[(&str, &std::ffi::OsStr)],
    keep_stdin: bool,
) -> std::io::Result<Outcome> {
    let socket = dir.join("ready");
    let listener = UnixListener::bind(&socket)?;
    listener.set_nonblocking(true)?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(std::env::args_os().skip(1))
        .env(variable, &socket)
        .envs(env.iter().copied());
    if !keep_stdin {
        command.stdin(Stdio::null());
    }
    if daemon {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
    }
    let mut child = command.spawn()?;
    // Ends with our process once the copy is ready; its later writes find no reader
    // and are dropped (EPIPE), as a daemon's stderr should be.
    let relay = child.stderr.take().map(|mut errors| {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut errors, &mut std::io::stderr());
        })
    });
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut byte = [0u8; 1];
                if stream.read_exact(&mut byte).is_ok() && byte == [READY] {
                    return Ok(Outcome::Ready(child.id()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if let Some(status) = child.try_wait()? {
            // The copy is gone: everything it said is in the pipe; pass it all on.
            if let Some(relay) = relay {
                let _ = relay.join();
            }
            return Ok(Outcome::Exited(
                status.code().map_or(255, |c| (c & 0xff) as u8),
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// A fresh directory only we can enter, for the rendezvous socket.
fn private_dir() -> std::io::Result<PathBuf> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let mut last = None;
    for attempt in 0..16u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = base.join(format!(
            "oxssh-fork-{}-{nanos:x}-{attempt}",
            std::process::id()
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no directory")))
}
