//! The session: one `session` channel with environment, an optional pty, then exec,
//! subsystem or shell; stdin, stdout and stderr pumped concurrently, escapes and
//! window changes handled, and the remote exit status turned into ours.

use oxssh::{Channel, Client, ExitStatus, WindowSize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::cmdline::{self, Commands};
use super::stdio::{StdinReader, StdoutWriter};

use crate::ssh::escape::{EscapeAction, EscapeConfig, EscapeFilter, EscapeOutput};
use crate::ssh::tty::{self, RawModeGuard, WindowChanges};

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    /// The user's shell.
    Shell,
    /// A command line.
    Exec(Vec<u8>),
    /// A subsystem (`-s`).
    Subsystem(String),
}

/// Settings for the session.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// What to run.
    pub run: Run,
    /// Allocate a pty.
    pub pty: bool,
    /// Escape byte, when escapes are on (pty sessions only, as OpenSSH).
    pub escape: Option<u8>,
    /// `-n`: no stdin.
    pub stdin_null: bool,
    /// Environment to send (`SendEnv` matches and `SetEnv`).
    pub env: Vec<(String, String)>,
    /// `TERM` for the pty.
    pub term: String,
    /// Ask the server to forward agent connections (`ForwardAgent`).
    pub forward_agent: bool,
    /// `EnableEscapeCommandline`: `~C` opens the `ssh>` command line.
    pub command_line: bool,
}

/// What the stdin pump hands the session loop besides data.
#[derive(Debug)]
enum Input {
    /// An escape's action.
    Action(EscapeAction),
    /// A line typed after `~C`.
    Command(String),
}

fn to_wire(size: tty::WindowSize) -> WindowSize {
    WindowSize {
        cols: size.cols,
        rows: size.rows,
        width_px: size.width_px,
        height_px: size.height_px,
    }
}

/// How the session ended.
#[derive(Debug)]
pub enum Ended {
    /// The remote side finished with this status.
    Status(ExitStatus),
    /// The user typed `~.`.
    Disconnected,
    /// Our stdout was closed by its reader (`oxssh host cmd | head -1`).
    OutputClosed,
}

/// Opens the channel, starts the command and runs it to the end. `commands` is what
/// `~C` command lines act on.
pub async fn run(
    client: &Client,
    settings: SessionSettings,
    mut commands: Option<&mut Commands<'_>>,
) -> Result<Ended, oxssh::Error> {
    let mut channel = client.open_session().await?;
    for (name, value) in &settings.env {
        channel.env(name, value)?;
    }
    if settings.forward_agent {
        channel.request_agent_forwarding()?;
    }
    let stdin_fd = std::io::stdin();
    let mut guard = None;
    if settings.pty {
        let size = tty::window_size(&stdin_fd).unwrap_or_default();
        let raw = RawModeGuard::enter(&stdin_fd).ok();
        let modes = raw
            .as_ref()
            .map(|g| g.saved_modes().encode(false))
            .unwrap_or_else(|| vec![0]);
        channel
            .request_pty(&settings.term, to_wire(size), modes)
            .await?;
        guard = raw;
    }
    match &settings.run {
        Run::Shell => channel.shell().await?,
        Run::Exec(command) => channel.exec(&String::from_utf8_lossy(command)).await?,
        Run::Subsystem(name) => channel.subsystem(name).await?,
    }
    let (actions_tx, mut actions) = mpsc::unbounded_channel();
    let escape = settings.escape.filter(|_| settings.pty).map(|e| {
        let mut config = EscapeConfig::new(e);
        config.command_line = settings.command_line;
        config
    });
    let stdin_task = tokio::spawn(pump_stdin(
        channel.writer(),
        settings.stdin_null,
        escape,
        actions_tx,
    ));
    let mut stderr = channel.stderr();
    let stderr_task = tokio::spawn(async move {
        let mut out = tokio::io::stderr();
        let _ = tokio::io::copy(&mut stderr, &mut out).await;
        let _ = out.flush().await;
    });
    let mut winch = if settings.pty {
        WindowChanges::new(&stdin_fd).ok()
    } else {
        None
    };
    let mut stdout = StdoutWriter::open();
    if let Some(sink) = stdout.sink() {
        channel.set_stdout_sink(sink);
    }
    // Large reads: fewer packets' worth of wake-ups per write.
    let mut buf = vec![0u8; 256 * 1024];
    let ended = loop {
        tokio::select! {
            output = next_output(&mut channel, &mut buf, stdout.in_place()) => {
                let output = output?;
                if output == Output::End {
                    break None;
                }
                let written = async {
                    match output {
                        Output::InPlace => stdout.write_from(&channel).await.map(drop),
                        // Not flushed per chunk: a blocking-pool stdout would pay a
                        // round trip to its thread each time. Flushed at the end.
                        Output::Copied(n) => stdout.write_all(buf.get(..n).unwrap_or_default()).await,
                        Output::End => Ok(()),
                    }
                };
                // A reader that stops draining our stdout must not keep us from seeing
                // the connection fail (OpenSSH exits at once then, too).
                let written = tokio::select! {
                    written = written => written,
                    e = connection_failure(client) => return Err(e),
                };
                match written {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                        break Some(Ended::OutputClosed);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Some(size) = async {
                match winch.as_mut() {
                    Some(w) => w.next().await,
                    None => std::future::pending().await,
                }
            } => {
                channel.window_change(to_wire(size))?;
            }
            Some(input) = actions.recv() => match input {
                Input::Action(action) => {
                    if let Some(end) = act(client, &channel, guard.as_ref(), action) {
                        break Some(end);
                    }
                }
                Input::Command(line) => {
                    // OpenSSH reads and runs the command line out of raw mode.
                    if let Some(g) = guard.as_ref() {
                        let _ = g.leave();
                    }
                    match commands.as_deref_mut() {
                        Some(cmds) => cmdline::run(&line, cmds).await,
                        None => eprint!("Invalid command.\r\n"),
                    }
                    if let Some(g) = guard.as_ref() {
                        let _ = g.reenter();
                    }
                }
            },
        }
    };
    // Everything written must reach stdout before we report the end.
    let _ = stdout.flush().await;
    let ended = match ended {
        Some(end) => end,
        None => {
            let _ = stderr_task.await;
            Ended::Status(channel.wait().await?)
        }
    };
    stdin_task.abort();
    drop(guard);
    Ok(ended)
}

/// What the channel has for our stdout next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// Data buffered in the channel, to write from where it lies.
    InPlace,
    /// This many bytes, copied into the caller's buffer.
    Copied(usize),
    /// The channel's stdout ended.
    End,
}

/// Waits for the channel's next stdout data. With `in_place`, data is left in the
/// channel for [`StdoutWriter::write_from`]; the end and errors always come through a
/// read, which reports them.
async fn next_output(
    channel: &mut Channel,
    buf: &mut [u8],
    in_place: bool,
) -> std::io::Result<Output> {
    if in_place && channel.readable().await {
        return Ok(Output::InPlace);
    }
    Ok(match channel.read(buf).await? {
        0 => Output::End,
        n => Output::Copied(n),
    })
}

/// Resolves when the connection fails (a protocol error, a timeout, a reset); never
/// after a clean close, since what was received before it still belongs on stdout.
async fn connection_failure(client: &Client) -> oxssh::Error {
    match client.wait_closed().await {
        oxssh::Error::Closed => std::future::pending().await,
        e => e,
    }
}

fn act(
    client: &Client,
    channel: &Channel,
    guard: Option<&RawModeGuard>,
    action: EscapeAction,
) -> Option<Ended> {
    match action {
        EscapeAction::Disconnect => return Some(Ended::Disconnected),
        EscapeAction::Suspend => {
            if let Some(g) = guard {
                let _ = g.suspend_self();
                if let Ok(size) = tty::window_size(std::io::stdin()) {
                    let _ = channel.window_change(to_wire(size));
                }
            }
        }
        EscapeAction::SendBreak => {
            let _ = channel.send_break(1000);
        }
        EscapeAction::Rekey => {
            let _ = client.rekey();
        }
        EscapeAction::ListConnections => {
            eprint!("{}", cmdline::open_message(&client.channels()));
        }
        EscapeAction::SetLogLevel(_) | EscapeAction::Background | EscapeAction::CommandLine => {}
    }
    None
}

/// Most stdin bytes read at once (a packet's worth when read straight into one).
const STDIN_CHUNK: usize = 256 * 1024;

/// The first read straight into a packet: small, so that a session sending little or
/// nothing (`host true`, stdin at its end) does not zero a full-size packet buffer
/// (~30 page faults of a login); each read that fills its room doubles the next.
const STDIN_FIRST_READ: usize = 16 * 1024;

/// Copies stdin to the channel (through the escape filter on a pty), then sends EOF.
async fn pump_stdin(
    mut writer: oxssh::ChannelWriter,
    stdin_null: bool,
    escape: Option<EscapeConfig>,
    actions: mpsc::UnboundedSender<Input>,
) {
    if stdin_null {
        let _ = writer.shutdown().await;
        return;
    }
    let mut filter = escape.map(EscapeFilter::new);
    let mut stdin = StdinReader::open();
    if filter.is_none() && stdin.sends_in_place() {
        // Read straight into the data packets; a read or channel error ends the input.
        let mut max = STDIN_FIRST_READ;
        while let Ok(n) = stdin.send_to(&mut writer, max).await {
            if n == 0 {
                break;
            }
            if n == max {
                max = (max * 2).min(STDIN_CHUNK);
            }
        }
        let _ = writer.shutdown().await;
        return;
    }
    let mut buf = vec![0u8; STDIN_CHUNK];
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let input = buf.get(..n).unwrap_or_default();
        let Some(filter) = filter.as_mut() else {
            if writer.write_all(input).await.is_err() {
                return;
            }
            continue;
        };
        for output in filter.process(input) {
            match output {
                EscapeOutput::Send(bytes) => {
                    if writer.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                EscapeOutput::Print(bytes) => {
                    let mut err = tokio::io::stderr();
                    let _ = err.write_all(&bytes).await;
                    let _ = err.flush().await;
                }
                EscapeOutput::Action(EscapeAction::CommandLine) => {
                    if let Some(line) = filter.take_command_line() {
                        let _ = actions.send(Input::Command(line));
                    }
                }
                EscapeOutput::Action(action) => {
                    let _ = actions.send(Input::Action(action));
                }
            }
        }
        if filter.is_stopped() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}
