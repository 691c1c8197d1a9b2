//! One session channel's child process, run as the logged-in user on pipes or a pty.
//! Its streams are driven by the connection task (`childio.rs`): output is read only as
//! fast as the channel window lets it out, and the channel is drained only as fast as
//! the child consumes its input.

use std::collections::VecDeque;
use std::pin::Pin;
use std::process::ExitStatus;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use oxssh_os::{PtyMaster, SessionSpec, SessionStdio};
use oxssh_proto::connection::ChannelId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use super::childio::{ChildInput, ChildOutput};

/// What a session's exit watcher reports to the connection task.
#[derive(Debug)]
pub(crate) enum SessionMsg {
    /// The child exited.
    Exited { id: ChannelId, status: ExitStatus },
}

/// Output waiting for channel window (the greeting; the child's output goes straight
/// into the channel).
#[derive(Debug)]
pub(crate) struct Chunk {
    pub stderr: bool,
    pub data: Vec<u8>,
    pub sent: usize,
}

/// A `pty-req` accepted before the command starts.
#[derive(Debug, Clone)]
pub(crate) struct PtyRequest {
    pub term: String,
    pub size: oxssh_os::WindowSize,
    pub modes: Vec<u8>,
}

/// A session channel.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// `env` requests accepted so far.
    pub env: Vec<(String, String)>,
    /// The pty asked for, until the command starts.
    pub pty_request: Option<PtyRequest>,
    /// A command, shell or subsystem was started.
    pub started: bool,
    /// The child's stdin (or the pty); dropped at the client's EOF.
    pub stdin: Option<ChildInput>,
    /// The client sent EOF.
    pub client_eof: bool,
    /// Output not yet sent.
    pub pending: VecDeque<Chunk>,
    /// The child's output streams (stdout and stderr, or the pty).
    pub outputs: Vec<ChildOutput>,
    /// The exit status, once the child exited.
    pub exit: Option<ExitStatus>,
    /// exit-status, EOF and CLOSE went out.
    pub finished: bool,
    /// The child's process group, while it runs.
    pub pid: Option<i32>,
    /// The pty master, for window changes.
    pub pty: Option<Arc<PtyMaster>>,
    /// The tty line with a utmp login record to close when the session ends.
    pub login_record: Option<String>,
}

impl Session {
    /// Starts `spec` (the user's shell, with the command set or not) on a pty when one
    /// was requested, else on pipes; `greeting` (the motd) goes out first.
    pub fn start(
        &mut self,
        id: ChannelId,
        mut spec: SessionSpec,
        greeting: Option<Vec<u8>>,
        events: mpsc::UnboundedSender<SessionMsg>,
    ) -> Result<(), String> {
        let stdio = match &self.pty_request {
            Some(request) => {
                let pty = oxssh_os::Pty::open(request.size).map_err(|e| e.to_string())?;
                pty.apply_modes(&oxssh_os::TerminalModes::decode(&request.modes))
                    .map_err(|e| e.to_string())?;
                pty.set_owner(spec.user()).map_err(|e| e.to_string())?;
                spec = spec.env("TERM", &request.term).env("SSH_TTY", pty.path());
                SessionStdio::Pty(pty)
            }
            None => SessionStdio::Pipes,
        };
        // internal-sftp's stderr is its log (see `crate::sftp_server`): it goes to ours,
        // as sshd's internal-sftp logs through sshd, not to the client.
        let internal_sftp = spec.program_name() == Some(std::ffi::OsStr::new(super::INTERNAL_SFTP));
        let log_stderr = internal_sftp;
        // Its `-f FACILITY` applies when our log is syslog.
        let facility = spec
            .program_args()
            .windows(2)
            .find(|w| w.first().is_some_and(|f| f == "-f"))
            .and_then(|w| w.get(1))
            .and_then(|f| f.to_str())
            .and_then(oxssh_config::sshd::SyslogFacility::parse);
        let mut running = spec.spawn(stdio).map_err(|e| e.to_string())?;
        let stdin_size = if internal_sftp {
            SFTP_STDIN_PIPE_SIZE
        } else {
            PIPE_SIZE
        };
        widen_pipe(running.child.stdin.as_ref(), stdin_size);
        widen_pipe(running.child.stdout.as_ref(), PIPE_SIZE);
        self.started = true;
        self.pid = running.pid().and_then(|p| i32::try_from(p).ok());
        // On a pty the terminal driver turns `\n` into `\r\n`; the greeting does not
        // pass through it, so do the same here.
        let greeting = match (&self.pty_request, greeting) {
            (Some(_), Some(text)) => Some(crlf(&text)),
            (_, greeting) => greeting,
        };
        if let Some(greeting) = greeting.filter(|g| !g.is_empty()) {
            self.pending.push_back(Chunk {
                stderr: false,
                data: greeting,
                sent: 0,
            });
        }
        let mut outputs: Vec<(Box<dyn AsyncRead + Send + Unpin>, bool)> = Vec::new();
        let input: Option<Box<dyn AsyncWrite + Send + Unpin>>;
        match running.pty.take() {
            Some(master) => {
                let master = Arc::new(master);
                outputs.push((Box::new(PtyEnd(master.clone())), false));
                input = Some(Box::new(PtyEnd(master.clone())));
                self.pty = Some(master);
            }
            None => {
                if let Some(out) = running.child.stdout.take() {
                    outputs.push((Box::new(out), false));
                }
                if let Some(err) = running.child.stderr.take() {
                    if log_stderr {
                        tokio::spawn(log_lines(err, facility));
                    } else {
                        outputs.push((Box::new(err), true));
                    }
                }
                input = running
                    .child
                    .stdin
                    .take()
                    .map(|s| Box::new(s) as Box<dyn AsyncWrite + Send + Unpin>);
            }
        }
        self.outputs = outputs
            .into_iter()
            .map(|(reader, is_err)| ChildOutput::new(reader, is_err))
            .collect();
        self.stdin = input.map(ChildInput::new);
        let mut child = running.child;
        tokio::spawn(async move {
            if let Ok(status) = child.wait().await {
                let _ = events.send(SessionMsg::Exited { id, status });
            }
        });
        Ok(())
    }

    /// Delivers a signal by its RFC 4254 name to the session's process group.
    pub fn signal(&self, name: &str) -> bool {
        let (Some(pid), Some(signal)) = (self.pid, oxssh_os::signal_by_name(name)) else {
            return false;
        };
        self.exit.is_none()
            && nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal).is_ok()
    }

    /// Whether exit-status, EOF and CLOSE are due: the child exited and all its output
    /// went out.
    pub fn ready_to_finish(&self) -> bool {
        self.started
            && !self.finished
            && self.exit.is_some()
            && !self.outputs.iter().any(ChildOutput::is_open)
            && self.pending.is_empty()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let (Some(tty), Some(pid)) = (self.login_record.take(), self.pid) {
            super::records::logout(&oxssh_os::LoginRecords::system(), pid, &tty);
        }
        // The channel went away with the command still running: hang it up, as a
        // terminal closing would.
        if let (Some(pid), None) = (self.pid, self.exit) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGHUP,
            );
        }
    }
}

/// One end of the shared pty master, for the reader task or the writer task.
struct PtyEnd(Arc<PtyMaster>);

impl AsyncRead for PtyEnd {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let mut master: &PtyMaster = &self.0;
        Pin::new(&mut master).poll_read(cx, buf)
    }
}

impl AsyncWrite for PtyEnd {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut master: &PtyMaster = &self.0;
        Pin::new(&mut master).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        let mut master: &PtyMaster = &self.0;
        Pin::new(&mut master).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        // The master stays open for output; input simply stops.
        Poll::Ready(Ok(()))
    }
}

/// Logs each line `reader` produces (at most [`LOG_LINE`] bytes each), until EOF.
async fn log_lines(
    reader: impl AsyncRead + Unpin,
    facility: Option<oxssh_config::sshd::SyslogFacility>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut lines = tokio::io::BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut lines).take(LOG_LINE as u64);
        match limited.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                crate::syslog::info_with_facility(facility, text.trim_end());
            }
        }
    }
}

/// The longest internal-sftp log line taken (a longer one is split).
const LOG_LINE: usize = 4096;

/// Bytes a session's stdin and stdout pipes hold (Linux's default is 64 KiB).
const PIPE_SIZE: i32 = 256 * 1024;

/// Bytes internal-sftp's stdin pipe holds: four whole WRITE requests of the largest
/// size (256 KiB), so oxsshd queues the next ones while the server writes one to its
/// file instead of stopping mid-request. Paired 2 GiB uploads here, oxsftp to
/// internal-sftp: ~700 -> ~790 MB/s. Not for other commands: `cat` took an upload
/// 10-15% slower through a 1 MiB pipe (its data no longer stays in cache).
const SFTP_STDIN_PIPE_SIZE: i32 = 1024 * 1024;

/// Gives a pipe to the child room for `size` bytes, so a bulk transfer moves in
/// larger reads and writes with fewer wake-ups on both sides. Only as root, which the
/// kernel's per-user pipe quota (`pipe-user-pages-soft`) does not limit: a personal
/// server's many sessions would otherwise use up its user's quota, and the user's other
/// pipes would shrink to two pages. Best effort: the default size works too.
fn widen_pipe(pipe: Option<&impl std::os::fd::AsFd>, size: i32) {
    if let Some(pipe) = pipe.filter(|_| nix::unistd::geteuid().is_root()) {
        let _ = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(size));
    }
}

/// `text` with each bare `\n` turned into `\r\n` (a terminal's ONLCR).
fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    let mut previous = 0u8;
    for &byte in text {
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        previous = byte;
    }
    out
}

/// The signal name without `SIG` (RFC 4254 §6.10), as OpenSSH sends it.
pub(crate) fn signal_name(signal: i32) -> String {
    oxssh_os::signal_name(signal)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("SIG{signal}"))
}

#[cfg(test)]
mod tests {
    use super::crlf;

    #[test]
    fn greeting_lines_end_in_crlf_on_a_pty() {
        assert_eq!(crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n".to_vec());
        assert_eq!(crlf(b""), Vec::<u8>::new());
    }
}
