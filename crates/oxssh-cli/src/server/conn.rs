//! One connection: the task that owns the byte stream, feeds the sans-IO core, hands
//! authentication attempts to the policy (`login.rs`) and runs session channels.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Instant;

use oxssh_keys::{KeyOptions, PublicKey};
use oxssh_os::Pam;
use oxssh_proto::connection::{ChannelId, ChannelRequestKind, ConnectionConfig, ConnectionEvent};
use oxssh_proto::{ServerConnection, ServerEvent, TransportError};
use tokio::sync::mpsc;

use super::auth::{Candidate, Endpoints};
use super::daemon::StartupSlot;
use super::forward::{Forwards, FwdMsg};
use super::log;
use super::session::{signal_name, PtyRequest, Session, SessionMsg};
use super::settings::Settings;
use super::stream::Stream;

/// Bytes moved from a channel to a forwarded socket per step.
pub(super) const STDIN_CHUNK: usize = 32 * 1024;

/// Longest wait to write the last bytes of a closing connection.
const FINAL_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a connection ended, for the log.
type End = String;

/// A logged-in user: who, with which configuration, and the options of the key used.
#[derive(Debug)]
pub(super) struct Login {
    pub candidate: Candidate,
    pub key_options: Option<KeyOptions>,
    /// PAM's account stack said the password expired: the session only changes it.
    pub password_change: bool,
}

pub(super) struct Conn {
    pub core: ServerConnection,
    pub settings: Arc<Settings>,
    pub ends: Endpoints,
    pub sessions: HashMap<ChannelId, Session>,
    pub events: mpsc::UnboundedSender<SessionMsg>,
    /// The last user looked up (`None` inside: no such user).
    pub candidate: Option<(String, Option<Candidate>)>,
    /// The key or method that satisfied the policy, until the core says authenticated.
    pub accepted: Option<Login>,
    /// The last key a query was answered PK_OK for: (user, key, its authorized_keys
    /// line's options). The signed attempt that follows uses them instead of reading the
    /// user's authorized_keys files a second time.
    pub queried_key: Option<(String, PublicKey, KeyOptions)>,
    /// After authentication.
    pub login: Option<Login>,
    /// The PAM transaction, for the user it was started for.
    pub pam: Option<(String, Pam)>,
    /// Whether the PAM session stack was opened.
    pub pam_session: bool,
    /// Released at authentication (MaxStartups counts unauthenticated connections).
    pub startup: Option<StartupSlot>,
    /// `ClientAliveInterval` probing, once logged in.
    pub alive: Option<ClientAlive>,
    /// Forwarded connections, listeners and the agent socket.
    pub fwd: Forwards,
}

/// `ClientAliveInterval`/`ClientAliveCountMax`: after `interval` without a packet from
/// the client, ask for a reply (`keepalive@openssh.com`); after `count_max` probes
/// without one, end the connection.
#[derive(Debug)]
pub(super) struct ClientAlive {
    interval: std::time::Duration,
    count_max: u32,
    unanswered: u32,
    next: Instant,
}

impl ClientAlive {
    fn heard_from_client(&mut self, now: Instant) {
        self.unanswered = 0;
        self.next = now + self.interval;
    }
}

/// Serves one connection until it ends.
pub(crate) async fn serve(
    stream: Stream,
    ends: Endpoints,
    settings: Arc<Settings>,
    startup: Option<StartupSlot>,
) {
    let config = settings.for_connection(&ends.context(None));
    let core = match ServerConnection::new(
        settings.transport.clone(),
        // Global requests (tcpip-forward) are answered here, by the forwarding policy.
        ConnectionConfig {
            reject_global_requests: false,
            ..ConnectionConfig::default()
        },
        settings.provider.clone(),
        settings.host_keys.clone(),
        Settings::auth_config(&config),
        Instant::now(),
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{}: cannot start: {e}", ends.peer);
            return;
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let mut conn = Conn {
        core,
        settings,
        ends,
        sessions: HashMap::new(),
        events: tx,
        candidate: None,
        accepted: None,
        queried_key: None,
        login: None,
        pam: None,
        pam_session: false,
        startup,
        alive: None,
        fwd: Forwards::new(),
    };
    let end = conn.run(&stream, rx).await;
    // Best effort: a DISCONNECT may be waiting.
    conn.flush(&stream).await;
    conn.sessions.clear();
    if let Some((_, mut pam)) = conn.pam.take() {
        if conn.pam_session {
            let _ = pam.close_session().await;
        }
    }
    let who = match (&conn.login, &conn.candidate) {
        (Some(login), _) => log::Who::User(&login.candidate.user.name),
        (None, Some((user, candidate))) => log::Who::Authenticating {
            user,
            invalid: candidate.is_none(),
        },
        (None, None) => log::Who::Nobody,
    };
    log::disconnected(&conn.settings, conn.ends, who, &end);
}

impl Conn {
    async fn run(&mut self, stream: &Stream, mut rx: mpsc::UnboundedReceiver<SessionMsg>) -> End {
        let mut fwd_rx: Option<mpsc::UnboundedReceiver<FwdMsg>> = None;
        loop {
            if let Err(e) = self.step().await {
                return e;
            }
            if fwd_rx.is_none() {
                fwd_rx = self.fwd.take_receiver();
            }
            let forwarded = async {
                match fwd_rx.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let want_write = !self.core.transmit().is_empty();
            let deadline = self.core.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let alive_at = self.alive.as_ref().map(|a| a.next);
            let probe = async {
                match alive_at {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            // Last: it borrows the sessions and the core until a branch wins.
            let (sessions, core) = (&mut self.sessions, &mut self.core);
            let children =
                std::future::poll_fn(|cx| super::childio::poll_children(sessions, core, cx));
            tokio::select! {
                ready = stream.readable() => {
                    if let Err(e) = ready {
                        return e.to_string();
                    }
                    let read = stream.read_into(&mut self.core);
                    match read {
                        Ok(true) => {
                            if let Some(alive) = self.alive.as_mut() {
                                alive.heard_from_client(Instant::now());
                            }
                        }
                        Ok(false) => {}
                        Err(end) => return end,
                    }
                }
                ready = stream.writable(), if want_write => {
                    if let Err(e) = ready {
                        return e.to_string();
                    }
                    match stream.try_write(self.core.transmit()) {
                        Ok(n) => self.core.advance_transmit(n),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return e.to_string(),
                    }
                }
                moved = children => {
                    if let Err(e) = moved {
                        return e.to_string();
                    }
                }
                Some(msg) = rx.recv() => self.on_session_msg(msg),
                Some(msg) = forwarded => {
                    if let Err(e) = self.on_forward_msg(msg) {
                        return e.to_string();
                    }
                }
                () = sleep => {
                    if let Err(e) = self.core.handle_timeout(Instant::now()) {
                        return e.to_string();
                    }
                }
                () = probe => {
                    if let Err(end) = self.probe_client() {
                        return end;
                    }
                }
            }
        }
    }

    /// Writes what the core queued (a DISCONNECT, once the connection ends), for at
    /// most a few seconds.
    async fn flush(&mut self, stream: &Stream) {
        let write_all = async {
            while !self.core.transmit().is_empty() {
                if stream.writable().await.is_err() {
                    return;
                }
                match stream.try_write(self.core.transmit()) {
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
            let sessions = &mut self.sessions;
            let mut to_child = |id: ChannelId, data: &[u8]| match sessions.get_mut(&id) {
                Some(s) if s.started => s.stdin.as_mut().map_or(data.len(), |i| i.offer(data)),
                _ => 0,
            };
            let event = match self.core.poll_event_into(&mut to_child) {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(e) => return Err(e.to_string()),
            };
            self.on_event(event).await.map_err(|e| e.to_string())?;
        }
        self.pump().map_err(|e| e.to_string())
    }

    async fn on_event(&mut self, event: ServerEvent) -> Result<(), TransportError> {
        match event {
            ServerEvent::AuthRequest(attempt) => self.on_auth(attempt).await,
            ServerEvent::AuthRefused {
                user,
                method,
                reason,
            } => {
                tracing::debug!("{method} for {user} refused by the core: {reason}");
                Ok(())
            }
            ServerEvent::Authenticated { .. } => {
                self.login = self.accepted.take();
                // No longer a pending start-up (MaxStartups).
                self.startup = None;
                self.alive = self.login.as_ref().and_then(|l| {
                    let config = &l.candidate.config;
                    let interval =
                        std::time::Duration::from_secs(u64::from(config.client_alive_interval));
                    (!interval.is_zero()).then(|| ClientAlive {
                        interval,
                        count_max: config.client_alive_count_max,
                        unanswered: 0,
                        next: Instant::now() + interval,
                    })
                });
                Ok(())
            }
            ServerEvent::Connection(ev) => self.on_connection(ev).await,
            _ => Ok(()),
        }
    }

    async fn on_connection(&mut self, ev: ConnectionEvent) -> Result<(), TransportError> {
        match ev {
            ConnectionEvent::OpenRequested {
                id,
                channel_type,
                data,
            } => {
                let max = self
                    .login
                    .as_ref()
                    .map_or(10, |l| l.candidate.config.max_sessions);
                if channel_type != oxssh_wire::forward::channel_type::SESSION {
                    self.open_requested(id, &channel_type, &data)
                } else if self.sessions.len() >= max as usize {
                    // SSH_OPEN_RESOURCE_SHORTAGE? sshd answers "open failed".
                    self.core.reject_open(id, 1, "open failed")
                } else {
                    self.sessions.insert(id, Session::default());
                    self.core.accept_open(id)
                }
            }
            ConnectionEvent::Request {
                id,
                request,
                want_reply,
            } => {
                let ok = self.on_request(id, request).await;
                if want_reply {
                    self.core.reply_request(id, ok)?;
                }
                Ok(())
            }
            ConnectionEvent::Eof(id) => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.client_eof = true;
                }
                self.relay_client_eof(id);
                Ok(())
            }
            ConnectionEvent::Closed(id) => {
                // Dropping the session hangs up a command still running; dropping a
                // relay closes its socket.
                self.sessions.remove(&id);
                if !self.relay_closed(id) {
                    self.core.release(id);
                }
                Ok(())
            }
            ConnectionEvent::OpenConfirmed(id) => {
                self.open_answered(id, true);
                Ok(())
            }
            ConnectionEvent::OpenFailed { id, .. } => {
                self.open_answered(id, false);
                Ok(())
            }
            ConnectionEvent::GlobalRequest {
                name,
                want_reply,
                data,
            } => {
                if self.login.is_none() {
                    return if want_reply {
                        self.core.reply_global(false, &[])
                    } else {
                        Ok(())
                    };
                }
                self.global_request(&name, want_reply, &data).await
            }
            _ => Ok(()),
        }
    }

    /// Runs a channel request; returns whether it succeeded.
    async fn on_request(&mut self, id: ChannelId, request: ChannelRequestKind) -> bool {
        let Some(login) = self.login.as_ref() else {
            return false;
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        let config = &login.candidate.config;
        match request {
            ChannelRequestKind::Env { name, value } if !session.started => {
                let ok = config
                    .accept_env
                    .iter()
                    .any(|pattern| oxssh_config::match_pattern(&name, pattern));
                if ok {
                    session.env.push((name, value));
                } else {
                    tracing::debug!("Ignored env {name}");
                }
                ok
            }
            ChannelRequestKind::PtyReq { term, size, modes } if !session.started => {
                let key_allows = login
                    .key_options
                    .as_ref()
                    .is_none_or(KeyOptions::pty_allowed);
                if !config.permit_tty || !key_allows {
                    tracing::info!("Pty allocation disabled.");
                    return false;
                }
                session.pty_request = Some(PtyRequest {
                    term,
                    size: oxssh_os::WindowSize {
                        cols: size.cols,
                        rows: size.rows,
                        width_px: size.width_px,
                        height_px: size.height_px,
                    },
                    modes,
                });
                true
            }
            ChannelRequestKind::Exec { command } if !session.started => {
                let command = String::from_utf8_lossy(&command).into_owned();
                self.start(id, Run::Command(command)).await
            }
            ChannelRequestKind::Shell if !session.started => self.start(id, Run::Shell).await,
            ChannelRequestKind::Subsystem { name } if !session.started => {
                self.start(id, Run::Subsystem(name)).await
            }
            ChannelRequestKind::WindowChange(size) => session.pty.as_ref().is_some_and(|pty| {
                pty.resize(oxssh_os::WindowSize {
                    cols: size.cols,
                    rows: size.rows,
                    width_px: size.width_px,
                    height_px: size.height_px,
                })
                .is_ok()
            }),
            ChannelRequestKind::Signal { name } => session.signal(&name),
            ChannelRequestKind::AuthAgent => self.agent_request(),
            _ => false,
        }
    }

    /// Starts what the client asked for, or the forced command instead.
    async fn start(&mut self, id: ChannelId, run: Run) -> bool {
        let pam_env = self.open_pam_session(id).await;
        let Some(login) = self.login.as_ref() else {
            return false;
        };
        let on_pty = self
            .sessions
            .get(&id)
            .is_some_and(|s| s.pty_request.is_some());
        // An expired password: the session changes it and ends, as sshd's do_pwchange.
        let run = if login.password_change {
            Run::Command(super::environment::password_change_command(on_pty))
        } else {
            run
        };
        let Some(spec) = super::environment::session_spec(
            &login.candidate,
            login
                .key_options
                .as_ref()
                .filter(|_| !login.password_change),
            self.ends,
            &run,
            self.sessions
                .get(&id)
                .map(|s| s.env.as_slice())
                .unwrap_or_default(),
            &pam_env,
            login.password_change,
        ) else {
            return false;
        };
        let spec = match self.fwd.agent_path() {
            Some(path) => spec.env("SSH_AUTH_SOCK", path),
            None => spec,
        };
        let records = oxssh_os::LoginRecords::system();
        // sshd greets interactive logins only: a pty and no command.
        let greeting = (on_pty && run == Run::Shell && !login.password_change).then(|| {
            super::records::greeting(&login.candidate.config, &login.candidate.user, &records)
        });
        let account = login.candidate.user.clone();
        let user = login.candidate.user.name.clone();
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        match session.start(id, spec, greeting, self.events.clone()) {
            Ok(()) => {
                let tty = session.pty.as_ref().map(|pty| {
                    let path = pty.path().to_string_lossy();
                    path.strip_prefix("/dev/").unwrap_or(&path).to_owned()
                });
                if let (Some(tty), Some(pid)) = (&tty, session.pid) {
                    super::records::login(&records, pid, tty, &account, self.ends.peer.ip());
                    session.login_record = Some(tty.clone());
                }
                log::session_started(&self.settings, self.ends, &user, &run, tty.as_deref(), id.0);
                true
            }
            Err(e) => {
                tracing::error!("session for {user}: {e}");
                false
            }
        }
    }

    /// A `ClientAliveInterval` passed in silence: probe, or give up after
    /// `ClientAliveCountMax` unanswered probes (sshd's message and reason).
    fn probe_client(&mut self) -> Result<(), End> {
        let Some(alive) = self.alive.as_mut() else {
            return Ok(());
        };
        if alive.unanswered >= alive.count_max {
            let user = self
                .login
                .as_ref()
                .map_or("", |l| l.candidate.user.name.as_str());
            let text = format!(
                "Timeout, client not responding from user {user} {} port {}",
                self.ends.peer.ip(),
                self.ends.peer.port()
            );
            tracing::info!("{text}");
            let _ = self
                .core
                .disconnect(oxssh_wire::DisconnectReason::ByApplication, &text);
            return Err(text);
        }
        alive.unanswered += 1;
        alive.next = Instant::now() + alive.interval;
        self.core
            .global_request("keepalive@openssh.com", true, &[])
            .map_err(|e| e.to_string())
    }

    /// Opens PAM's session stack once per connection (sshd's `do_pam_session`), on the
    /// first session's terminal when it has one; returns PAM's environment.
    async fn open_pam_session(
        &mut self,
        id: ChannelId,
    ) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        let Some((_, pam)) = self.pam.as_mut() else {
            return Vec::new();
        };
        if !self.pam_session {
            if self
                .sessions
                .get(&id)
                .is_some_and(|s| s.pty_request.is_some())
            {
                let _ = pam.set_tty("ssh").await;
            }
            match pam.open_session().await {
                Ok(env) => {
                    self.pam_session = true;
                    return env;
                }
                Err(e) => {
                    tracing::error!("PAM session: {e}");
                    return Vec::new();
                }
            }
        }
        pam.env().await.unwrap_or_default()
    }

    fn on_session_msg(&mut self, msg: SessionMsg) {
        match msg {
            SessionMsg::Exited { id, status } => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.exit = Some(status);
                }
            }
        }
    }

    /// Moves data: queued output (a greeting) into the channels as far as their windows
    /// allow, channel input towards the children as far as their stdin takes it (the
    /// child's own output moves in `childio`); finishes sessions whose child exited
    /// and whose output went out.
    fn pump(&mut self) -> Result<(), TransportError> {
        if !self.core.is_authenticated() {
            return Ok(());
        }
        self.pump_relays()?;
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
            // Input towards the child, once it runs: as much as the pipe takes now,
            // straight from the channel's buffer (the rest waits there, under its
            // window, for `childio::poll_children`).
            let input_done = if !s.started {
                false
            } else if let Some(input) = s.stdin.as_mut() {
                input.push(&mut self.core, id)?.is_ready()
            } else {
                // No stdin (or it was closed): discard, keep the window open.
                loop {
                    let n = self.core.peek(id).len();
                    if n == 0 {
                        break true;
                    }
                    self.core.consume(id, n)?;
                }
            };
            if s.client_eof && input_done && s.pty.is_none() {
                // Everything the client sent reached the child: it sees EOF now.
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

/// What a session runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Run {
    /// The user's login shell.
    Shell,
    /// `exec`.
    Command(String),
    /// `subsystem`.
    Subsystem(String),
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
