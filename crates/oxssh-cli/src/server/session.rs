//! One session channel's child process: `$SHELL -c command` (or the shell) with its
//! stdin, stdout and stderr piped, each behind a bounded queue so the child is read
//! only as fast as the channel window lets its output out, and the channel only as
//! fast as the child consumes its input.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use oxssh_proto::connection::ChannelId;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::Account;

/// Bytes per read from the child.
const CHUNK: usize = 32 * 1024;
/// Chunks read ahead per output stream, waiting for window.
const READ_AHEAD: usize = 4;
/// Chunks queued towards the child's stdin.
const STDIN_QUEUE: usize = 4;

/// Environment names a client may set (`AcceptEnv LANG LC_*`).
pub(crate) fn env_accepted(name: &str) -> bool {
    name == "LANG" || name.starts_with("LC_")
}

/// What the child's I/O tasks report to the connection task.
#[derive(Debug)]
pub(crate) enum SessionMsg {
    /// Output read from the child; the permit returns when it has been sent.
    Output {
        id: ChannelId,
        stderr: bool,
        data: Vec<u8>,
        permit: OwnedSemaphorePermit,
    },
    /// stdout or stderr reached EOF.
    OutputEof { id: ChannelId },
    /// The stdin queue has room again.
    StdinReady,
    /// The child exited.
    Exited { id: ChannelId, status: ExitStatus },
}

/// Output waiting for channel window.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub stderr: bool,
    pub data: Vec<u8>,
    pub sent: usize,
    pub _permit: OwnedSemaphorePermit,
}

/// A session channel.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// `env` requests accepted so far.
    pub env: Vec<(String, String)>,
    /// A command or shell was started.
    pub started: bool,
    /// Towards the child's stdin; dropped at the client's EOF.
    pub stdin: Option<mpsc::Sender<Vec<u8>>>,
    /// The client sent EOF.
    pub client_eof: bool,
    /// Output not yet sent.
    pub pending: VecDeque<Chunk>,
    /// Output streams still open (2 while running).
    pub open_streams: u8,
    /// The exit status, once the child exited.
    pub exit: Option<ExitStatus>,
    /// exit-status, EOF and CLOSE went out.
    pub finished: bool,
    /// Dropping it kills the child (the channel went away).
    pub kill: Option<oneshot::Sender<()>>,
}

impl Session {
    /// Starts `shell -c command` (or the bare shell when `command` is `None`).
    pub fn start(
        &mut self,
        id: ChannelId,
        account: &Account,
        command: Option<&[u8]>,
        events: mpsc::UnboundedSender<SessionMsg>,
    ) -> std::io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let mut cmd = Command::new(&account.shell);
        if let Some(command) = command {
            cmd.arg("-c").arg(std::ffi::OsStr::from_bytes(command));
        }
        cmd.current_dir(&account.home)
            .env("HOME", &account.home)
            .env("USER", &account.name)
            .env("LOGNAME", &account.name)
            .env("SHELL", &account.shell)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        self.started = true;
        self.open_streams = 0;
        for (reader, is_err) in [
            (
                stdout.map(|s| Box::new(s) as Box<dyn AsyncRead + Send + Unpin>),
                false,
            ),
            (
                stderr.map(|s| Box::new(s) as Box<dyn AsyncRead + Send + Unpin>),
                true,
            ),
        ] {
            if let Some(reader) = reader {
                self.open_streams += 1;
                tokio::spawn(read_output(reader, id, is_err, events.clone()));
            }
        }
        if let Some(stdin) = stdin {
            let (tx, rx) = mpsc::channel(STDIN_QUEUE);
            self.stdin = Some(tx);
            tokio::spawn(write_input(stdin, rx, events.clone()));
        }
        let (kill_tx, kill_rx) = oneshot::channel();
        self.kill = Some(kill_tx);
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            if let Ok(status) = status {
                let _ = events.send(SessionMsg::Exited { id, status });
            }
        });
        Ok(())
    }

    /// Whether exit-status, EOF and CLOSE are due: the child exited and all its output
    /// went out.
    pub fn ready_to_finish(&self) -> bool {
        self.started
            && !self.finished
            && self.exit.is_some()
            && self.open_streams == 0
            && self.pending.is_empty()
    }
}

async fn read_output(
    mut reader: Box<dyn AsyncRead + Send + Unpin>,
    id: ChannelId,
    stderr: bool,
    events: mpsc::UnboundedSender<SessionMsg>,
) {
    let budget = Arc::new(Semaphore::new(READ_AHEAD));
    loop {
        let Ok(permit) = budget.clone().acquire_owned().await else {
            break;
        };
        let mut data = vec![0u8; CHUNK];
        match reader.read(&mut data).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                data.truncate(n);
                let msg = SessionMsg::Output {
                    id,
                    stderr,
                    data,
                    permit,
                };
                if events.send(msg).is_err() {
                    return;
                }
            }
        }
    }
    let _ = events.send(SessionMsg::OutputEof { id });
}

async fn write_input(
    mut stdin: ChildStdin,
    mut queue: mpsc::Receiver<Vec<u8>>,
    events: mpsc::UnboundedSender<SessionMsg>,
) {
    while let Some(data) = queue.recv().await {
        let ok = stdin.write_all(&data).await.is_ok();
        let _ = events.send(SessionMsg::StdinReady);
        if !ok {
            break;
        }
    }
    // Dropping `stdin` closes the child's input.
}

/// The signal name without `SIG` (RFC 4254 §6.10), as OpenSSH sends it.
pub(crate) fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().trim_start_matches("SIG").to_owned())
        .unwrap_or_else(|_| format!("SIG{signal}"))
}
