//! One connection: the task that owns the socket, feeds the sans-IO core, answers
//! authentication for the served account and runs sessions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Instant;

use oxssh_keys::HashAlg;
use oxssh_proto::auth::{AttemptMethod, AuthAttempt, AuthConfig};
use oxssh_proto::connection::{ChannelId, ChannelRequestKind, ConnectionConfig, ConnectionEvent};
use oxssh_proto::{ServerConnection, ServerEvent, TransportError};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::session::{env_accepted, signal_name, Chunk, Session, SessionMsg};
use super::{auth, Context};

/// Bytes per socket read.
const READ_CHUNK: usize = 256 * 1024;
/// Bytes moved from a channel to the child's stdin per step.
const STDIN_CHUNK: usize = 32 * 1024;
/// Longest wait to write the last bytes of a closing connection.
const FINAL_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a connection ended, for the log.
type End = String;

struct Conn {
    core: ServerConnection,
    ctx: Arc<Context>,
    peer: SocketAddr,
    sessions: HashMap<ChannelId, Session>,
    events: mpsc::UnboundedSender<SessionMsg>,
}

/// Serves one connection until it ends.
pub(crate) async fn serve(sock: TcpStream, peer: SocketAddr, ctx: Arc<Context>) {
    let auth = AuthConfig {
        password_authentication: false,
        kbd_interactive_authentication: false,
        ..AuthConfig::default()
    };
    let core = match ServerConnection::new(
        ctx.transport.clone(),
        ConnectionConfig::default(),
        ctx.provider.clone(),
        vec![ctx.host_key.clone()],
        auth,
        Instant::now(),
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{peer}: cannot start: {e}");
            return;
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let mut conn = Conn {
        core,
        ctx,
        peer,
        sessions: HashMap::new(),
        events: tx,
    };
    let end = conn.run(&sock, rx).await;
    // Best effort: a DISCONNECT may be waiting.
    conn.flush(&sock).await;
    tracing::info!(
        "Connection closed by {} port {}: {end}",
        peer.ip(),
        peer.port()
    );
    // Dropping the sessions kills children still running.
}

impl Conn {
    async fn run(&mut self, sock: &TcpStream, mut rx: mpsc::UnboundedReceiver<SessionMsg>) -> End {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            if let Err(e) = self.step().await {
                return e;
            }
            let want_write = !self.core.transmit().is_empty();
            let deadline = self.core.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ready = sock.readable() => {
                    if let Err(e) = ready {
                        return e.to_string();
                    }
                    match sock.try_read(&mut buf) {
                        Ok(0) => return "end of stream".into(),
                        Ok(n) => {
                            let data = buf.get(..n).unwrap_or_default();
                            if let Err(e) = self.core.recv(data) {
                                return e.to_string();
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return e.to_string(),
                    }
                }
                ready = sock.writable(), if want_write => {
                    if let Err(e) = ready {
                        return e.to_string();
                    }
                    match sock.try_write(self.core.transmit()) {
                        Ok(n) => self.core.advance_transmit(n),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return e.to_string(),
                    }
                }
                Some(msg) = rx.recv() => self.on_session_msg(msg),
                () = sleep => {
                    if let Err(e) = self.core.handle_timeout(Instant::now()) {
                        return e.to_string();
                    }
                }
            }
        }
    }

    /// Writes what the core queued (a DISCONNECT, once the connection ends), for at
    /// most a few seconds.
    async fn flush(&mut self, sock: &TcpStream) {
        let write_all = async {
            while !self.core.transmit().is_empty() {
                if sock.writable().await.is_err() {
                    return;
                }
                match sock.try_write(self.core.transmit()) {
                    Ok(n) => self.core.advance_transmit(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        };
        let _ = tokio::time::timeout(FINAL_FLUSH, write_all).await;
    }

    /// Handles every pending event, then moves session data both ways.
    async fn step(&mut self) -> Result<(), End> {
        loop {
            let event = match self.core.poll_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(e) => return Err(describe(&e)),
            };
            self.on_event(event).await.map_err(|e| describe(&e))?;
        }
        self.pump().map_err(|e| describe(&e))
    }

    async fn on_event(&mut self, event: ServerEvent) -> Result<(), TransportError> {
        match event {
            ServerEvent::AuthRequest(attempt) => self.on_auth(attempt).await,
            ServerEvent::AuthRefused {
                user,
                method,
                reason,
            } => {
                tracing::info!(
                    "Failed {method} for {user} from {} port {}: {reason}",
                    self.peer.ip(),
                    self.peer.port()
                );
                Ok(())
            }
            ServerEvent::Authenticated { user, method } => {
                tracing::info!(
                    "Accepted {} for {user} from {} port {}",
                    method.map_or("none", |m| m.name()),
                    self.peer.ip(),
                    self.peer.port()
                );
                Ok(())
            }
            ServerEvent::Connection(ev) => self.on_connection(ev),
            _ => Ok(()),
        }
    }

    async fn on_auth(&mut self, attempt: AuthAttempt) -> Result<(), TransportError> {
        let started = Instant::now();
        let account = &self.ctx.account;
        let keys = account.home.join(".ssh/authorized_keys");
        let (key, query) = match &attempt.method {
            AttemptMethod::PublicKeyQuery { key, .. } => (Some(key), true),
            AttemptMethod::PublicKey { key, .. } => (Some(key), false),
            _ => (None, false),
        };
        let authorized =
            attempt.user == account.name && key.is_some_and(|k| auth::is_authorized(&keys, k));
        match (authorized, query, key) {
            (true, true, _) => self.core.pk_ok(),
            (true, false, Some(key)) => {
                tracing::debug!(
                    "publickey {} for {} accepted",
                    key.fingerprint(HashAlg::Sha256),
                    attempt.user
                );
                self.core.accept()
            }
            _ => {
                if let Some(key) = key.filter(|_| !query) {
                    tracing::info!(
                        "Failed publickey for {} from {} port {}: {} {}",
                        attempt.user,
                        self.peer.ip(),
                        self.peer.port(),
                        key.key_type(),
                        key.fingerprint(HashAlg::Sha256)
                    );
                }
                let delay = self.core.failure_delay(started.elapsed());
                tokio::time::sleep(delay).await;
                self.core.reject()
            }
        }
    }

    fn on_connection(&mut self, ev: ConnectionEvent) -> Result<(), TransportError> {
        match ev {
            ConnectionEvent::OpenRequested {
                id, channel_type, ..
            } => {
                if channel_type == "session" {
                    self.sessions.insert(id, Session::default());
                    self.core.accept_open(id)
                } else {
                    // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED
                    self.core
                        .reject_open(id, 1, "only session channels are supported")
                }
            }
            ConnectionEvent::Request {
                id,
                request,
                want_reply,
            } => {
                let ok = self.on_request(id, request);
                if want_reply {
                    self.core.reply_request(id, ok)?;
                }
                Ok(())
            }
            ConnectionEvent::Eof(id) => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.client_eof = true;
                }
                Ok(())
            }
            ConnectionEvent::Closed(id) => {
                // Dropping the session kills its child if still running.
                self.sessions.remove(&id);
                self.core.release(id);
                Ok(())
            }
            ConnectionEvent::GlobalRequest {
                want_reply: true, ..
            } => self.core.reply_global(false, &[]),
            _ => Ok(()),
        }
    }

    /// Runs a channel request; returns whether it succeeded.
    fn on_request(&mut self, id: ChannelId, request: ChannelRequestKind) -> bool {
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        match request {
            ChannelRequestKind::Env { name, value } if !session.started => {
                let ok = env_accepted(&name);
                if ok {
                    session.env.push((name, value));
                } else {
                    tracing::debug!("refused env {name}");
                }
                ok
            }
            ChannelRequestKind::Exec { command } if !session.started => {
                tracing::info!(
                    "exec for {}: {}",
                    self.ctx.account.name,
                    String::from_utf8_lossy(&command)
                );
                start(session, id, &self.ctx, Some(&command), &self.events)
            }
            ChannelRequestKind::Shell if !session.started => {
                start(session, id, &self.ctx, None, &self.events)
            }
            ChannelRequestKind::PtyReq { .. } => {
                tracing::debug!("pty-req refused: no pty support yet");
                false
            }
            _ => false,
        }
    }

    fn on_session_msg(&mut self, msg: SessionMsg) {
        match msg {
            SessionMsg::Output {
                id,
                stderr,
                data,
                permit,
            } => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.pending.push_back(Chunk {
                        stderr,
                        data,
                        sent: 0,
                        _permit: permit,
                    });
                }
            }
            SessionMsg::OutputEof { id } => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.open_streams = s.open_streams.saturating_sub(1);
                }
            }
            SessionMsg::StdinReady => {}
            SessionMsg::Exited { id, status } => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.exit = Some(status);
                }
            }
        }
    }

    /// Moves data: child output into the channels as far as their windows allow,
    /// channel input into the children as far as their stdin queues allow; finishes
    /// sessions whose child exited and whose output went out.
    fn pump(&mut self) -> Result<(), TransportError> {
        if !self.core.is_authenticated() {
            return Ok(());
        }
        let mut buf = vec![0u8; STDIN_CHUNK];
        let ids: Vec<ChannelId> = self.sessions.keys().copied().collect();
        for id in ids {
            let Some(s) = self.sessions.get_mut(&id) else {
                continue;
            };
            if s.finished {
                continue;
            }
            // Output towards the client.
            while let Some(chunk) = s.pending.front_mut() {
                let rest = chunk.data.get(chunk.sent..).unwrap_or_default();
                let n = self.core.write(id, rest, chunk.stderr)?;
                chunk.sent += n;
                if chunk.sent < chunk.data.len() {
                    break;
                }
                s.pending.pop_front();
            }
            // Input towards the child, once it runs.
            let mut input_done = false;
            while s.started && !input_done {
                let permit = match s.stdin.as_ref().map(|tx| tx.try_reserve()) {
                    Some(Ok(permit)) => Some(permit),
                    Some(Err(mpsc::error::TrySendError::Full(()))) => break,
                    // The child closed its stdin: discard, keep the window open.
                    _ => None,
                };
                let n = self.core.read(id, &mut buf)?;
                if n == 0 {
                    input_done = true;
                    break;
                }
                if let Some(permit) = permit {
                    permit.send(buf.get(..n).unwrap_or_default().to_vec());
                }
            }
            if s.client_eof && input_done {
                // Everything the client sent is queued: the child sees EOF after it.
                s.stdin = None;
            }
            if s.ready_to_finish() {
                s.finished = true;
                let status = s.exit;
                finish(&mut self.core, id, status)?;
            }
        }
        Ok(())
    }
}

fn start(
    session: &mut Session,
    id: ChannelId,
    ctx: &Context,
    command: Option<&[u8]>,
    events: &mpsc::UnboundedSender<SessionMsg>,
) -> bool {
    match session.start(id, &ctx.account, command, events.clone()) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("cannot run {}: {e}", ctx.account.shell.display());
            false
        }
    }
}

/// exit-status (or exit-signal), EOF, CLOSE: OpenSSH's order.
fn finish(
    core: &mut ServerConnection,
    id: ChannelId,
    status: Option<std::process::ExitStatus>,
) -> Result<(), TransportError> {
    if let Some(status) = status {
        let request = match (status.code(), status.signal()) {
            (Some(code), _) => ChannelRequestKind::ExitStatus(code as u32),
            (None, Some(sig)) => ChannelRequestKind::ExitSignal {
                signal: signal_name(sig),
                core_dumped: status.core_dumped(),
                message: String::new(),
                language: String::new(),
            },
            (None, None) => ChannelRequestKind::ExitStatus(255),
        };
        core.channel_request(id, &request, false)?;
    }
    core.send_eof(id)?;
    core.close(id)
}

fn describe(e: &TransportError) -> String {
    e.to_string()
}
