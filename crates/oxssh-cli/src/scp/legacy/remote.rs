//! Where a legacy transfer's remote `scp` runs, and the run itself: an exec channel of
//! our connection, or scp's ssh program (`-S`); the job (source or sink) over its
//! stdout and stdin, and our status from how it went and how the remote exited.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::{receive, send_all, Flags, Step, Stop, Wire};
use crate::scp::program::SshProgram;
use crate::sftp::{program_ended, spawn_piped};

/// What one remote `scp` run is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Job<'a> {
    /// Be the source of `sources` (the remote runs `scp -t`).
    Send(&'a [String]),
    /// Be the sink into `target`, refusing names other than `pattern` (the remote runs
    /// `scp -f`).
    Receive {
        target: &'a Path,
        pattern: Option<&'a str>,
    },
}

impl Job<'_> {
    async fn run<R, W>(self, wire: &mut Wire<R, W>, flags: Flags) -> Step<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        match self {
            Job::Send(sources) => send_all(wire, flags, sources).await,
            Job::Receive { target, pattern } => receive(wire, flags, target, pattern).await,
        }
    }
}

/// Where the remote `scp` runs: an exec channel of our connection, or scp's ssh
/// program (`-S`) run with these arguments before the command.
#[derive(Clone, Copy)]
pub(in crate::scp) enum Via<'a> {
    Client(&'a oxssh::Client),
    Program(&'a SshProgram),
}

/// Runs `command` remotely and `job` over its stdout and stdin; returns our status: 0,
/// or 1 after any error or when the remote `scp` did not exit with 0 (as scp checks its
/// ssh's status).
pub(super) async fn over(via: Via<'_>, command: String, flags: Flags, job: Job<'_>) -> u8 {
    match via {
        Via::Client(client) => over_channel(client, command, flags, job).await,
        Via::Program(program) => over_program(program, command, flags, job).await,
    }
}

/// `command` on a new session channel of `client` (given the agent with `-A`), and the
/// task copying its stderr to ours; `None` after saying why it could not start.
pub(super) async fn exec(
    client: &oxssh::Client,
    command: &str,
    flags: Flags,
) -> Option<(oxssh::Channel, tokio::task::JoinHandle<()>)> {
    let channel = match client.open_session().await {
        Ok(channel) => channel,
        Err(e) => {
            eprintln!("scp: cannot open a session: {e}");
            return None;
        }
    };
    if flags.forward_agent {
        // No reply is asked for, as with ssh: a server that refuses says nothing.
        let _ = channel.request_agent_forwarding();
    }
    if let Err(e) = channel.exec(command).await {
        eprintln!("scp: exec request failed: {e}");
        return None;
    }
    let mut stderr = channel.stderr();
    let relay = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut stderr, &mut tokio::io::stderr()).await;
    });
    Some((channel, relay))
}

/// [`over`] on a new session channel of `client`, its stderr copied to ours.
async fn over_channel(client: &oxssh::Client, command: String, flags: Flags, job: Job<'_>) -> u8 {
    let Some((channel, relay)) = exec(client, &command, flags).await else {
        return 1;
    };
    let writer = channel.writer();
    let mut wire = Wire::new(channel, writer);
    let result = job.run(&mut wire, flags).await;
    let _ = wire.w.shutdown().await;
    let channel = wire.r.into_inner();
    let exited = match tokio::time::timeout(Duration::from_secs(10), channel.wait()).await {
        Ok(Ok(oxssh::ExitStatus::Code(0))) => true,
        // A fatal error below says more than the status.
        _ => false,
    };
    // Let the remote's last words (its own error lines) through before we exit.
    let _ = tokio::time::timeout(Duration::from_secs(5), relay).await;
    status(result, wire.errors, exited)
}

/// [`over`] through the ssh program, its stderr ours.
async fn over_program(program: &SshProgram, command: String, flags: Flags, job: Job<'_>) -> u8 {
    let Some(mut child) = spawn(program, "", &command, flags) else {
        return 1;
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return 1;
    };
    let mut wire = Wire::new(stdout, stdin);
    let result = job.run(&mut wire, flags).await;
    let _ = wire.w.shutdown().await;
    drop(wire.w);
    status(result, wire.errors, program_ended(child).await)
}

/// Runs `program` for `command`, its stdin and stdout ours (killed when dropped); `None`
/// after saying why it could not start. `nth` as in [`SshProgram::announce`].
pub(super) fn spawn(
    program: &SshProgram,
    nth: &str,
    command: &str,
    flags: Flags,
) -> Option<tokio::process::Child> {
    program.announce(flags.verbose, nth, command);
    let args = program.argv.iter().map(String::as_str).chain([command]);
    let spawned = spawn_piped(&program.path, args);
    if let Err(e) = &spawned {
        eprintln!("scp: {}: {}", program.path, crate::strerror::strerror(e));
    }
    spawned.ok()
}

/// Our status after a run: its result, the errors it counted and whether the remote
/// side exited with 0.
fn status(result: Step<()>, errors: u32, exited: bool) -> u8 {
    match result {
        Ok(()) if errors == 0 && exited => 0,
        Ok(()) => 1,
        Err(Stop::Fatal(message)) => {
            eprintln!("{message}");
            1
        }
    }
}
