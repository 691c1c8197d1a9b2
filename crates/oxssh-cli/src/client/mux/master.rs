//! The master side of connection sharing: a Unix socket at the ControlPath (created
//! atomically, mode 0600) whose clients, OpenSSH's `ssh -S` or `oxssh -S`, speak
//! PROTOCOL.mux. Each client must run as our user (or root), checked with
//! `SO_PEERCRED` as OpenSSH checks with `getpeereid`. Sessions run on the shared
//! connection with the client's own stdin, stdout and stderr (passed by `SCM_RIGHTS`);
//! the client gets the exit status. Alive checks, terminate and stop-listening are
//! answered; forwarding requests are served on the connection's [`Forwarding`]
//! (`forward.rs`); stdio forwards (`ssh -W` through the master) in `stdio.rs`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oxssh::{Client, ExitStatus};
use tokio::io::Interest;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{watch, Notify};

use super::codec::{self, Message, NewSession, Writer};
use super::fdio::FdIo;
use super::forward::MasterPolicy;
use crate::client::forward::Forwarding;
use crate::ssh::tty;
use crate::ssh::tty_modes::TtyModes;

/// How long a new client may take to say hello or pass its descriptors.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// How long a client may sit idle between requests (a session's own wait is unbounded,
/// as a shell's is).
const REQUEST_LIMIT: Duration = Duration::from_secs(300);
/// How long a confirmation prompt may wait for the user.
const ASK_LIMIT: Duration = Duration::from_secs(120);

/// What a master needs besides the connection.
#[derive(Debug, Clone)]
pub struct MasterSettings {
    /// `SendEnv` patterns the clients' environment strings are filtered through.
    pub send_env: Vec<String>,
    /// `SetEnv` values added to every session.
    pub set_env: Vec<(String, String)>,
    /// `ControlMaster ask|autoask`: confirm sessions and `-O exit` through askpass.
    pub ask: bool,
    /// The host name for the confirmation prompts.
    pub host: String,
    /// `GatewayPorts`, for the forwarding prompts' wording.
    pub gateway_ports: bool,
    /// Say nothing but errors (`-q`, `LogLevel QUIET`).
    pub quiet: bool,
    /// The master's own `ForwardAgent`: a client's `-A` is honoured only with it, as
    /// OpenSSH's master does (the agent channels reach the master's agent).
    pub forward_agent: bool,
}

/// OpenSSH's `ask_permission`: `SSH_ASKPASS` (default `/usr/bin/ssh-askpass`) is run with
/// `question`; an empty answer or `yes` allows. No askpass, or any failure, refuses.
pub(super) async fn confirmed(question: String) -> bool {
    let program = std::env::var_os("SSH_ASKPASS")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/bin/ssh-askpass".into());
    let run = tokio::process::Command::new(program)
        .arg(question)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(ASK_LIMIT, run).await {
        Ok(Ok(out)) if out.status.success() => {
            let answer = String::from_utf8_lossy(&out.stdout);
            let answer = answer.trim_end_matches(['\r', '\n']);
            answer.is_empty() || answer.eq_ignore_ascii_case("yes")
        }
        _ => false,
    }
}

/// A listening socket at the ControlPath.
#[derive(Debug)]
pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

/// Creates the control socket at `path` as OpenSSH does: bound under a temporary name
/// with mode 0600, then linked into place, so a socket already there is never
/// replaced. `Ok(None)` (after OpenSSH's message) when one exists.
///
/// # Errors
/// The message to print when the socket cannot be created.
pub fn listen(path: &Path) -> Result<Option<Listener>, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".{:08x}{:08x}", std::process::id(), nanos));
    let temp = PathBuf::from(temp);
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = std::os::unix::net::UnixListener::bind(&temp);
    nix::sys::stat::umask(old);
    let bound = bound.map_err(|e| format!("ControlSocket {} bind: {e}", temp.display()))?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "ControlSocket {} already exists, disabling multiplexing",
                path.display()
            );
            return Ok(None);
        }
        Err(e) => return Err(format!("ControlSocket {} link: {e}", path.display())),
    }
    bound
        .set_nonblocking(true)
        .map_err(|e| format!("ControlSocket: {e}"))?;
    let listener = UnixListener::from_std(bound).map_err(|e| format!("ControlSocket: {e}"))?;
    Ok(Some(Listener {
        listener,
        path: path.to_owned(),
    }))
}

/// A running master: the accept loop and the sessions it started.
#[derive(Debug, Clone)]
pub struct Master {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    client: Client,
    forwarding: Option<Forwarding>,
    settings: MasterSettings,
    path: PathBuf,
    active: AtomicUsize,
    changed: Notify,
    next_session: AtomicU32,
    terminate: watch::Sender<bool>,
    stop: watch::Sender<bool>,
}

impl Master {
    /// Starts accepting clients on `listener` for `client`'s connection; their
    /// forwarding requests go to `forwarding`.
    pub fn start(
        listener: Listener,
        client: Client,
        forwarding: Option<Forwarding>,
        settings: MasterSettings,
    ) -> Self {
        let state = Arc::new(State {
            client,
            forwarding,
            settings,
            path: listener.path.clone(),
            active: AtomicUsize::new(0),
            changed: Notify::new(),
            next_session: AtomicU32::new(0),
            terminate: watch::channel(false).0,
            stop: watch::channel(false).0,
        });
        tokio::spawn(accept_loop(listener, state.clone()));
        Self { state }
    }

    /// Resolves when a client asked the master to exit (`-O exit`).
    pub async fn terminated(&self) {
        let mut rx = self.state.terminate.subscribe();
        let _ = rx.wait_for(|t| *t).await;
    }

    /// Sessions running for clients.
    pub fn active(&self) -> usize {
        self.state.active.load(Ordering::SeqCst)
    }

    /// Resolves when the number of running sessions changes.
    pub async fn changed(&self) {
        self.state.changed.notified().await;
    }

    /// Stops accepting clients and removes the socket.
    pub fn stop_listening(&self) {
        self.state.stop.send_replace(true);
        let _ = std::fs::remove_file(&self.state.path);
    }
}

async fn accept_loop(listener: Listener, state: Arc<State>) {
    let mut stop = state.stop.subscribe();
    loop {
        tokio::select! {
            accepted = listener.listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_client(stream, state.clone()));
                }
                Err(e) => {
                    tracing::debug!("mux accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = async {
                let _ = stop.wait_for(|s| *s).await;
            } => break,
        }
    }
    let _ = std::fs::remove_file(&listener.path);
}

/// OpenSSH's check: the client must be our user or root.
fn peer_allowed(stream: &UnixStream) -> bool {
    let ours = nix::unistd::getuid().as_raw();
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == 0 || cred.uid() == ours => true,
        Ok(cred) => {
            tracing::error!(
                "multiplex uid mismatch: peer euid {} != uid {ours}",
                cred.uid()
            );
            false
        }
        Err(e) => {
            tracing::error!("getpeereid failed: {e}");
            false
        }
    }
}

async fn serve_client(mut stream: UnixStream, state: Arc<State>) {
    if !peer_allowed(&stream) {
        return;
    }
    let hello = async {
        codec::write(&mut stream, &codec::hello()).await?;
        codec::read(&mut stream).await
    };
    let version_ok = match tokio::time::timeout(HANDSHAKE_LIMIT, hello).await {
        Ok(Ok(Some(m))) if m.kind == codec::HELLO => m.reader().u32().ok() == Some(codec::VERSION),
        _ => false,
    };
    if !version_ok {
        tracing::error!("mux client: bad or missing hello");
        return;
    }
    loop {
        let message = match tokio::time::timeout(REQUEST_LIMIT, codec::read(&mut stream)).await {
            Ok(Ok(Some(m))) => m,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                tracing::debug!("mux client: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!("mux client: no request in {}s", REQUEST_LIMIT.as_secs());
                return;
            }
        };
        let asked = match message.kind {
            codec::C_NEW_SESSION => Some("Allow shared connection to"),
            codec::C_NEW_STDIO_FWD => None,
            codec::C_TERMINATE => Some("Terminate shared connection to"),
            _ => None,
        };
        if let (Some(question), true) = (asked, state.settings.ask) {
            if !confirmed(format!("{question} {}? ", state.settings.host)).await {
                let request_id = message.reader().u32().unwrap_or(0);
                let denied = failure(codec::S_PERMISSION_DENIED, request_id, "Permission denied");
                let _ = codec::write(&mut stream, &denied).await;
                return;
            }
        }
        if message.kind == codec::C_NEW_SESSION {
            new_session(stream, &message, state).await;
            return;
        }
        if message.kind == codec::C_NEW_STDIO_FWD {
            let ask = state.settings.ask;
            state.active.fetch_add(1, Ordering::SeqCst);
            state.changed.notify_waiters();
            super::stdio::serve(stream, &message, &state.client, ask).await;
            state.active.fetch_sub(1, Ordering::SeqCst);
            state.changed.notify_waiters();
            return;
        }
        let reply = if matches!(message.kind, codec::C_OPEN_FWD | codec::C_CLOSE_FWD) {
            let policy = MasterPolicy {
                ask: state.settings.ask,
                host: state.settings.host.clone(),
                quiet: state.settings.quiet,
                gateway_ports: state.settings.gateway_ports,
            };
            match super::forward::answer(&message, state.forwarding.as_ref(), &policy).await {
                Some(reply) => reply,
                None => return,
            }
        } else {
            answer(&message, &state)
        };
        if codec::write(&mut stream, &reply).await.is_err() {
            return;
        }
        if message.kind == codec::C_TERMINATE {
            state.terminate.send_replace(true);
        }
    }
}

pub(super) fn failure(kind: u32, request_id: u32, reason: &str) -> Vec<u8> {
    Writer::new(kind)
        .u32(request_id)
        .string(reason.as_bytes())
        .finish()
}

/// The reply to a request answered at once.
fn answer(message: &Message, state: &State) -> Vec<u8> {
    let request_id = message.reader().u32().unwrap_or(0);
    match message.kind {
        codec::C_ALIVE_CHECK => Writer::new(codec::S_ALIVE)
            .u32(request_id)
            .u32(std::process::id())
            .finish(),
        codec::C_TERMINATE => Writer::new(codec::S_OK).u32(request_id).finish(),
        codec::C_STOP_LISTENING => {
            state.stop.send_replace(true);
            let _ = std::fs::remove_file(&state.path);
            Writer::new(codec::S_OK).u32(request_id).finish()
        }
        kind => {
            tracing::error!("unsupported mux message 0x{kind:08x}");
            failure(codec::S_FAILURE, request_id, "unsupported request")
        }
    }
}

/// Receives the `N` descriptors a client passes after its request (stdin, stdout and,
/// for a session, stderr).
pub(super) async fn receive_fds<const N: usize>(stream: &UnixStream) -> Option<[OwnedFd; N]> {
    let mut fds = Vec::with_capacity(N);
    for _ in 0..N {
        let received = tokio::time::timeout(
            HANDSHAKE_LIMIT,
            stream.async_io(Interest::READABLE, || {
                oxssh_os::fdpass::recv_fd(stream.as_fd())
            }),
        )
        .await;
        match received {
            Ok(Ok(fd)) => fds.push(fd),
            _ => return None,
        }
    }
    fds.try_into().ok()
}

async fn new_session(mut stream: UnixStream, message: &Message, state: Arc<State>) {
    let request = match NewSession::decode(&mut message.reader()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("mux client: {e}");
            return;
        }
    };
    tracing::debug!("mux: new session request {}", request.request_id);
    let Some(fds) = receive_fds(&stream).await else {
        tracing::info!("mux: did not receive file descriptors");
        let reply = failure(
            codec::S_FAILURE,
            request.request_id,
            "did not receive file descriptors",
        );
        let _ = codec::write(&mut stream, &reply).await;
        return;
    };
    // The terminal as the client left it: read before our answer, after which the
    // client switches it to raw mode. Window changes are listened for before the size
    // is read: one between the two would otherwise be lost (the client relays
    // SIGWINCH to us by pid).
    let terminal = if request.want_tty {
        let winch =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
        let modes = tty::terminal_attributes(&fds[0])
            .map(|t| TtyModes::from_termios(&t).encode(false))
            .unwrap_or_else(|_| vec![0]);
        let size = terminal_size(&fds[0]);
        Some(Terminal { modes, size, winch })
    } else {
        None
    };
    let session_id = state.next_session.fetch_add(1, Ordering::SeqCst);
    let channel = match state.client.open_session().await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!("mux: session open failed: {e}");
            let reply = failure(
                codec::S_FAILURE,
                request.request_id,
                &format!("session open failed: {e}"),
            );
            let _ = codec::write(&mut stream, &reply).await;
            return;
        }
    };
    let opened = Writer::new(codec::S_SESSION_OPENED)
        .u32(request.request_id)
        .u32(session_id)
        .finish();
    if codec::write(&mut stream, &opened).await.is_err() {
        return;
    }
    state.active.fetch_add(1, Ordering::SeqCst);
    state.changed.notify_waiters();
    let (reader, mut writer) = stream.into_split();
    let status = tokio::select! {
        status = run_session(&state, channel, &request, fds, terminal, session_id, &mut writer) => status,
        () = client_gone(reader) => None,
    };
    tracing::debug!("mux: session {session_id} ended: {status:?}");
    if let Some(status) = status {
        let code = match status {
            ExitStatus::Code(c) => c,
            _ => 255,
        };
        let exit = Writer::new(codec::S_EXIT_MESSAGE)
            .u32(session_id)
            .u32(code)
            .finish();
        let _ = codec::write(&mut writer, &exit).await;
    }
    state.active.fetch_sub(1, Ordering::SeqCst);
    state.changed.notify_waiters();
}

/// Resolves when the client closes its end (it was killed, or its user hit ^C): its
/// session is then closed too, as OpenSSH's master does.
pub(super) async fn client_gone(mut reader: OwnedReadHalf) {
    loop {
        match codec::read(&mut reader).await {
            Ok(Some(_)) => continue,
            _ => return,
        }
    }
}

/// The client's `NAME=value` strings that our `SendEnv` lets through, then `SetEnv`.
fn environment(settings: &MasterSettings, strings: &[String]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = strings
        .iter()
        .filter_map(|s| s.split_once('='))
        .filter(|(name, _)| {
            settings.send_env.iter().any(|pattern| {
                !pattern.starts_with('-') && oxssh_config::match_pattern(name, pattern)
            })
        })
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    env.extend(settings.set_env.iter().cloned());
    env
}

/// The size of the client's terminal (zeros when unknown, as ssh sends).
fn terminal_size(fd: &OwnedFd) -> tty::WindowSize {
    oxssh_os::pty::window_size(fd.as_fd())
        .map(|s| tty::WindowSize {
            cols: s.cols,
            rows: s.rows,
            width_px: s.width_px,
            height_px: s.height_px,
        })
        .unwrap_or_default()
}

fn to_wire(size: tty::WindowSize) -> oxssh::WindowSize {
    oxssh::WindowSize {
        cols: size.cols,
        rows: size.rows,
        width_px: size.width_px,
        height_px: size.height_px,
    }
}

/// A client's terminal when it asked for the session, and its window changes since.
struct Terminal {
    modes: Vec<u8>,
    size: tty::WindowSize,
    winch: Option<tokio::signal::unix::Signal>,
}

/// Runs one client's session to its end; `None` when the connection failed.
async fn run_session(
    state: &State,
    mut channel: oxssh::Channel,
    request: &NewSession,
    fds: [OwnedFd; 3],
    terminal: Option<Terminal>,
    session_id: u32,
    control: &mut OwnedWriteHalf,
) -> Option<ExitStatus> {
    let [stdin_fd, stdout_fd, stderr_fd] = fds;
    for (name, value) in environment(&state.settings, &request.env) {
        let _ = channel.env(&name, &value);
    }
    if request.want_agent && state.settings.forward_agent {
        let _ = channel.request_agent_forwarding();
    }
    let tty_fd = stdin_fd.try_clone().ok();
    let mut winch = None;
    if let Some(Terminal {
        modes,
        size,
        winch: w,
    }) = terminal
    {
        winch = w;
        if channel
            .request_pty(&request.term, to_wire(size), modes)
            .await
            .is_err()
        {
            let fail = Writer::new(codec::S_TTY_ALLOC_FAIL)
                .u32(session_id)
                .finish();
            let _ = codec::write(control, &fail).await;
        }
    }
    let started = if request.subsystem {
        channel
            .subsystem(&String::from_utf8_lossy(&request.command))
            .await
    } else if request.command.is_empty() {
        channel.shell().await
    } else {
        channel
            .exec(&String::from_utf8_lossy(&request.command))
            .await
    };
    if let Err(e) = started {
        let mut err = FdIo::new(stderr_fd);
        let _ = err.write_all(format!("{e}\r\n").as_bytes()).await;
        return Some(ExitStatus::Code(255));
    }
    let stdin = FdIo::new(stdin_fd);
    let mut stdout = FdIo::new(stdout_fd);
    let mut stderr_out = FdIo::new(stderr_fd);
    let writer = channel.writer();
    // Escapes on a pty session, as for our own (OpenSSH's master filters its clients'
    // input the same way); `~.` ends this client's session only.
    let escape = u8::try_from(request.escape)
        .ok()
        .filter(|_| request.want_tty);
    let (disconnect_tx, mut disconnect) = tokio::sync::oneshot::channel::<()>();
    let stdin_task = tokio::spawn(pump_stdin(stdin, writer, escape, disconnect_tx));
    let mut stderr = channel.stderr();
    let stderr_task = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0
                || stderr_out
                    .write_all(buf.get(..n).unwrap_or_default())
                    .await
                    .is_err()
            {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdin_done = false;
    loop {
        use tokio::io::AsyncReadExt;
        tokio::select! {
            read = channel.read(&mut buf) => match read {
                Ok(0) => break,
                Ok(n) => {
                    if stdout.write_all(buf.get(..n).unwrap_or_default()).await.is_err() {
                        break;
                    }
                }
                Err(_) => break,
            },
            said = &mut disconnect, if !stdin_done => {
                // A oneshot must not be polled again once it has answered.
                stdin_done = true;
                if said.is_ok() {
                    stderr_task.abort();
                    stdin_task.abort();
                    let _ = stdin_task.await;
                    return Some(ExitStatus::Code(255));
                }
            }
            Some(()) = async {
                match winch.as_mut() {
                    Some(w) => w.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Some(fd) = &tty_fd {
                    let size = terminal_size(fd);
                    tracing::debug!("mux: window change {}x{}", size.cols, size.rows);
                    if let Err(e) = channel.window_change(to_wire(size)) {
                        tracing::debug!("mux: window change: {e}");
                    }
                }
            }
        }
    }
    let _ = stderr_task.await;
    let status = channel.wait().await.ok();
    stdin_task.abort();
    // Restores the descriptors' flags before the client is told to exit.
    drop(stdout);
    let _ = stdin_task.await;
    status
}

/// Copies the client's stdin to the channel (through the escape filter on a pty), then
/// sends EOF; returns the descriptor so its flags are restored where the caller decides.
async fn pump_stdin(
    mut stdin: FdIo,
    mut writer: oxssh::ChannelWriter,
    escape: Option<u8>,
    disconnect: tokio::sync::oneshot::Sender<()>,
) -> FdIo {
    use crate::ssh::escape::{EscapeAction, EscapeConfig, EscapeFilter, EscapeOutput};
    use tokio::io::AsyncWriteExt;
    let mut filter = escape.map(|e| EscapeFilter::new(EscapeConfig::new(e)));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let input = buf.get(..n).unwrap_or_default();
        let Some(filter) = filter.as_mut() else {
            if writer.write_all(input).await.is_err() {
                return stdin;
            }
            continue;
        };
        for output in filter.process(input) {
            match output {
                EscapeOutput::Send(bytes) => {
                    if writer.write_all(&bytes).await.is_err() {
                        return stdin;
                    }
                }
                EscapeOutput::Action(EscapeAction::Disconnect) => {
                    let _ = disconnect.send(());
                    return stdin;
                }
                // Help text, ~B, ~R and the like are not offered to shared sessions.
                EscapeOutput::Print(_) | EscapeOutput::Action(_) => {}
            }
        }
        if filter.is_stopped() {
            return stdin;
        }
    }
    let _ = writer.shutdown().await;
    stdin
}
