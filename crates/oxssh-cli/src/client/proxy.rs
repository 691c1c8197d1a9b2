//! `ProxyCommand`: the SSH stream runs over a command's stdin and stdout instead of a
//! TCP connection, as in OpenSSH. The (already token-expanded) command runs as
//! `$SHELL -c "exec <command>"` (`/bin/sh` when `SHELL` is unset or empty), with our
//! stderr. `ProxyCommand -` uses our own stdin and stdout. With `ProxyUseFdpass` the
//! command gets one end of a socket pair as stdin and stdout, passes a connected
//! socket back over it (`SCM_RIGHTS`) and exits; the connection then runs over that
//! socket and the command is not kept.

use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::process::{Child, Command};

/// The reading half of a proxied connection.
pub type ProxyReader = Box<dyn AsyncRead + Unpin + Send>;
/// The writing half of a proxied connection.
pub type ProxyWriter = Box<dyn AsyncWrite + Unpin + Send>;

/// How long a `ProxyUseFdpass` command may take to pass its socket back, when no
/// `ConnectTimeout` is set.
const FDPASS_LIMIT: Duration = Duration::from_secs(120);

/// The shell OpenSSH runs proxy commands with.
fn shell() -> String {
    std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".to_owned())
}

fn command(line: &str) -> Command {
    let mut cmd = Command::new(shell());
    cmd.arg("-c").arg(format!("exec {line}"));
    cmd
}

/// Starts `line` and returns the stream over its stdin and stdout. The command is
/// killed when the reading half is dropped (the connection ended).
///
/// # Errors
/// OpenSSH's message (without `ssh: `) when the command cannot be started.
pub fn spawn(line: &str) -> Result<(ProxyReader, ProxyWriter), String> {
    if line == "-" {
        return Ok((Box::new(tokio::io::stdin()), Box::new(tokio::io::stdout())));
    }
    tracing::info!("Executing proxy command: exec {line}");
    let mut child = command(line)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("Cannot execute proxy command {}: {e}", shell()))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err("proxy command: no pipes".into());
    };
    Ok((
        Box::new(WithChild {
            inner: stdout,
            _child: child,
        }),
        Box::new(stdin),
    ))
}

/// Runs `line` with a socket pair end as its stdin and stdout and takes the descriptor
/// it passes back (`ProxyUseFdpass`).
///
/// # Errors
/// OpenSSH's message when the command cannot run or passes nothing back.
pub async fn fdpass(line: &str, limit: Option<Duration>) -> Result<OwnedFd, String> {
    tracing::info!("Executing proxy dialer command: exec {line}");
    let (ours, theirs) =
        std::os::unix::net::UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let theirs_out = theirs.try_clone().map_err(|e| format!("socketpair: {e}"))?;
    let mut child = command(line)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::from(OwnedFd::from(theirs_out)))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("Cannot execute proxy command {}: {e}", shell()))?;
    // The command's copies are in the child now: ours are closed with the `Command`.
    let limit = limit.unwrap_or(FDPASS_LIMIT);
    if tokio::time::timeout(limit, child.wait()).await.is_err() {
        return Err("proxy dialer did not pass back a connection".into());
    }
    ours.set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    oxssh_os::fdpass::recv_fd(ours.as_fd()).map_err(|e| {
        tracing::debug!("mm_receive_fd: {e}");
        "proxy dialer did not pass back a connection".to_owned()
    })
}

/// `ProxyJump` as OpenSSH runs it: a `ProxyCommand` of `program` itself with `-W` to the
/// next hop (`-J` passes any earlier hops on, `-F` and `-v` are passed too), never with
/// descriptor passing. Each hop is then a connection of its own, verified against
/// known_hosts as any other.
pub fn apply_proxy_jump(
    config: &mut oxssh_config::ClientConfig,
    program: &str,
    config_file: Option<&str>,
    debug: u8,
) {
    if let Some(command) = config.proxy_jump_command(program, config_file, debug) {
        tracing::debug!("Setting implicit ProxyCommand from ProxyJump: {command}");
        config.proxy_command = Some(command);
        config.proxy_use_fdpass = false;
    }
}

/// The program a `ProxyJump` hop runs: our `argv[0]` (found in `PATH` when it has no
/// `/`), or `oxssh` when that path is not executable, as ssh falls back to `ssh`.
pub fn own_program() -> String {
    let argv0 = std::env::args().next().unwrap_or_default();
    let runnable = !argv0.contains('/')
        || nix::unistd::access(argv0.as_str(), nix::unistd::AccessFlags::X_OK).is_ok();
    if argv0.is_empty() || !runnable {
        "oxssh".into()
    } else {
        argv0
    }
}

/// The `oxssh` next to this program (for oxsftp and oxscp, whose hops run `oxssh`).
pub fn sibling_oxssh() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("oxssh")))
        .filter(|path| path.exists())
        .map_or_else(|| "oxssh".into(), |path| path.display().to_string())
}

/// A reader that keeps the proxy command alive as long as the connection reads.
struct WithChild<R> {
    inner: R,
    _child: Child,
}

impl<R: AsyncRead + Unpin> AsyncRead for WithChild<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}
