//! The server connection: transport, then the `ssh-userauth` service, then the
//! connection protocol, behind one sans-IO object, mirroring
//! [`ClientConnection`](crate::ClientConnection).
//!
//! Callers feed bytes, poll [`ServerEvent`]s, write out [`ServerConnection::transmit`]
//! and answer. Policy never runs inside a protocol step: an
//! [`ServerEvent::AuthRequest`] is answered later through [`ServerConnection::accept`],
//! [`ServerConnection::reject`], [`ServerConnection::pk_ok`],
//! [`ServerConnection::info_request`] or [`ServerConnection::password_change_request`],
//! and until then no further input is handled (a slow PAM check stalls only this
//! connection's authentication, in order). Channel opens and requests surface as
//! [`ServerEvent::Connection`] for the caller to accept or refuse.
//!
//! Timing: before answering any attempt with something other than `accept`, the
//! caller should wait [`ServerConnection::failure_delay`] (measured from when it polled
//! the attempt), so a failure takes as long whether or not the user exists.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxssh_wire::names::service;
use oxssh_wire::transport::{Message, ServiceAccept, ServiceRequest};
use oxssh_wire::userauth::Prompt;
use oxssh_wire::DisconnectReason;
use zeroize::{Zeroize, Zeroizing};

use crate::auth::server::{AuthAttempt, AuthConfig, AuthServer, AuthStep, Method};
use crate::connection::{
    ChannelId, ChannelRequestKind, Connection, ConnectionConfig, ConnectionEvent, DataSink,
};
use crate::crypto::{CryptoProvider, HashAlg, SigningKey};
use crate::error::{PeerMisbehaved, TransportError};
use crate::transport::{copy_payload, Event, Negotiated, Role, Transport};
use crate::TransportConfig;

/// What the server connection has to tell its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A key exchange completed.
    KexComplete {
        /// Whether it was the first.
        initial: bool,
        /// The algorithms in force.
        negotiated: Negotiated,
    },
    /// An authentication attempt for the policy: answer it (after the failure delay
    /// unless accepting). Nothing else is processed until then.
    AuthRequest(AuthAttempt),
    /// The core refused an attempt itself (bad signature, algorithm not accepted,
    /// method not allowed now...): for the auth log; nothing to answer.
    AuthRefused {
        /// User name as sent.
        user: String,
        /// Method name as sent.
        method: String,
        /// Why.
        reason: &'static str,
    },
    /// A method succeeded but `AuthenticationMethods` requires more.
    PartialSuccess {
        /// The user.
        user: String,
        /// The method that succeeded.
        method: Method,
    },
    /// The user is authenticated; channels may follow.
    Authenticated {
        /// The user.
        user: String,
        /// The method that completed authentication (`None` for `none`).
        method: Option<Method>,
    },
    /// A connection-protocol event (after authentication).
    Connection(ConnectionEvent),
    /// SSH_MSG_DEBUG from the client.
    Debug {
        /// Whether to show it.
        always_display: bool,
        /// The text.
        message: String,
    },
}

/// Which service stage we are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Transport handshake running.
    Handshake,
    /// Waiting for SERVICE_REQUEST `ssh-userauth`.
    ExpectServiceRequest,
    /// Authenticating.
    Authenticating,
    /// Authenticated: connection protocol.
    Connected,
}

impl Stage {
    fn phase(self) -> &'static str {
        match self {
            Self::Handshake => "key exchange",
            Self::ExpectServiceRequest => "service request",
            Self::Authenticating => "user authentication",
            Self::Connected => "connection",
        }
    }
}

/// OpenSSH's minimum failure delay (MIN_FAIL_DELAY_SECONDS).
const MIN_FAIL_DELAY: Duration = Duration::from_millis(5);
/// Past this, no delay is added (MAX_FAIL_DELAY_SECONDS).
const MAX_FAIL_DELAY: Duration = Duration::from_secs(5);

/// A server connection, sans I/O.
#[derive(Debug)]
pub struct ServerConnection {
    transport: Transport,
    stage: Stage,
    auth: AuthServer,
    connection: Connection,
    events: VecDeque<ServerEvent>,
    /// LoginGraceTime: when an unauthenticated connection ends.
    grace_deadline: Option<Instant>,
    /// Sticky: errors the transport does not know (login grace timeout).
    error: Option<TransportError>,
    scratch: Vec<u8>,
    provider: Arc<CryptoProvider>,
    /// Keys the failure delay per user (OpenSSH's per-server `timing_secret`).
    timing_secret: TimingSecret,
}

/// Random bytes, zeroized on drop and kept out of `Debug`.
struct TimingSecret(Zeroizing<[u8; 32]>);

impl TimingSecret {
    fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl std::fmt::Debug for TimingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TimingSecret(<redacted>)")
    }
}

impl ServerConnection {
    /// Starts serving a connection accepted at `now` (LoginGraceTime counts from here).
    pub fn new(
        transport: Arc<TransportConfig>,
        connection: ConnectionConfig,
        provider: Arc<CryptoProvider>,
        host_keys: Vec<Arc<dyn SigningKey>>,
        auth: AuthConfig,
        now: Instant,
    ) -> Result<Self, TransportError> {
        let mut timing_secret = Zeroizing::new([0u8; 32]);
        provider
            .random
            .fill(timing_secret.as_mut_slice())
            .map_err(TransportError::Crypto)?;
        let grace_deadline = auth
            .login_grace_time
            .filter(|t| !t.is_zero())
            .map(|t| now + t);
        Ok(Self {
            transport: Transport::new(
                transport,
                provider.clone(),
                Role::Server { host_keys },
                now,
            )?,
            stage: Stage::Handshake,
            auth: AuthServer::new(auth, provider.clone())?,
            connection: Connection::new(connection),
            events: VecDeque::new(),
            grace_deadline,
            error: None,
            scratch: Vec::new(),
            provider,
            timing_secret: TimingSecret(timing_secret),
        })
    }

    /// The transport underneath (peer version, session id, extensions).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The channel table.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The authentication state (user, failures so far).
    pub fn auth(&self) -> &AuthServer {
        &self.auth
    }

    /// Whether authentication succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.stage == Stage::Connected
    }

    /// The authenticated user, once known.
    pub fn user(&self) -> Option<&str> {
        self.auth.user().filter(|_| self.is_authenticated())
    }

    /// The sticky error, once the connection has stopped.
    pub fn error(&self) -> Option<&TransportError> {
        self.error.as_ref().or(self.transport.error())
    }

    fn check_open(&self) -> Result<(), TransportError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Feeds bytes from the socket.
    pub fn recv(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        self.check_open()?;
        self.transport.recv(data).map_err(|e| self.fail(e))
    }

    /// Room to read socket bytes into in place (see [`Transport::recv_space`]).
    pub fn recv_space(&mut self, min: usize) -> Option<&mut [u8]> {
        self.transport.recv_space(min)
    }

    /// Takes the first `n` bytes of [`ServerConnection::recv_space`] as received.
    pub fn recv_filled(&mut self, n: usize) -> Result<usize, TransportError> {
        self.check_open()?;
        self.transport.recv_filled(n).map_err(|e| self.fail(e))
    }

    /// Ciphertext to write to the socket.
    pub fn transmit(&self) -> &[u8] {
        self.transport.transmit()
    }

    /// Marks `n` bytes of [`ServerConnection::transmit`] written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.transport.advance_transmit(n);
    }

    /// When [`ServerConnection::handle_timeout`] is due (kex, rekey, login grace).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        let grace = self.grace_deadline.filter(|_| !self.is_authenticated());
        match (self.transport.poll_timeout(), grace) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Tells the time: transport timers, then LoginGraceTime. An unauthenticated
    /// connection past its grace time ends with [`TransportError::LoginGraceTimeout`]
    /// and, as OpenSSH, no DISCONNECT: the caller closes the socket.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), TransportError> {
        self.check_open()?;
        self.transport
            .handle_timeout(now)
            .map_err(|e| self.fail(e))?;
        match self.grace_deadline {
            Some(deadline) if !self.is_authenticated() && now >= deadline => {
                Err(self.fail(TransportError::LoginGraceTimeout))
            }
            _ => Ok(()),
        }
    }

    /// Ends the connection with SSH_MSG_DISCONNECT.
    pub fn disconnect(&mut self, reason: DisconnectReason, description: &str) -> TransportError {
        self.fail(TransportError::LocallyClosed {
            reason,
            description: description.to_owned(),
        })
    }

    /// Records a fatal error, sending the DISCONNECT it calls for (once).
    fn fail(&mut self, e: TransportError) -> TransportError {
        if let Some(existing) = &self.error {
            return existing.clone();
        }
        match &e {
            TransportError::LocallyClosed {
                reason,
                description,
            } => {
                self.transport.disconnect(*reason, description);
            }
            other => {
                if let Some(reason) = other.disconnect_reason() {
                    self.transport.disconnect(reason, &other.to_string());
                }
            }
        }
        self.error = Some(e.clone());
        e
    }

    /// The next event; `Ok(None)` when more input (or an answer) is needed.
    pub fn poll_event(&mut self) -> Result<Option<ServerEvent>, TransportError> {
        self.poll_event_into(&mut |_, _| 0)
    }

    /// As [`ServerConnection::poll_event`], offering channel data to `sink` straight
    /// from the decrypted packet before it is buffered (see [`DataSink`]).
    pub fn poll_event_into(
        &mut self,
        sink: &mut DataSink<'_>,
    ) -> Result<Option<ServerEvent>, TransportError> {
        self.check_open()?;
        loop {
            if let Err(e) = self.connection.refill_windows(&mut self.transport) {
                return Err(self.fail(e));
            }
            if let Some(ev) = self.events.pop_front() {
                return Ok(Some(ev));
            }
            if let Some(ev) = self.connection.poll_event() {
                return Ok(Some(ServerEvent::Connection(ev)));
            }
            if self.auth.awaits_answer() {
                return Ok(None);
            }
            let mut payload = match self.transport.poll_event() {
                Err(e) => return Err(self.fail(e)),
                Ok(None) => return Ok(None),
                Ok(Some(Event::KexComplete {
                    initial,
                    negotiated,
                })) => {
                    if initial {
                        self.stage = Stage::ExpectServiceRequest;
                    }
                    return Ok(Some(ServerEvent::KexComplete {
                        initial,
                        negotiated,
                    }));
                }
                Ok(Some(Event::Debug {
                    always_display,
                    message,
                })) => {
                    return Ok(Some(ServerEvent::Debug {
                        always_display,
                        message,
                    }))
                }
                Ok(Some(Event::Payload(p))) if self.stage == Stage::Connected => {
                    // Channel data goes from the decrypted packet straight to its channel.
                    match self.connection.handle_data_into(p, sink) {
                        Some(Ok(())) => continue,
                        Some(Err(e)) => return Err(self.fail(e)),
                        None => copy_payload(&mut self.scratch, p),
                    }
                }
                Ok(Some(Event::Payload(p))) => copy_payload(&mut self.scratch, p),
                // Host-key decisions are the client's; nothing else is defined.
                Ok(Some(_)) => continue,
            };
            let result = self.dispatch(&payload);
            if payload.first().is_some_and(|n| (50..=79).contains(n)) {
                // Passwords and keyboard-interactive answers passed through this buffer.
                payload.zeroize();
            }
            self.scratch = payload;
            if let Err(e) = result {
                return Err(self.fail(e));
            }
        }
    }

    fn dispatch(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let number = payload.first().copied().unwrap_or_default();
        match (self.stage, number) {
            // Until authentication succeeds a client may ask for the service again, as
            // Paramiko does before every method it tries; sshd accepts it each time.
            (Stage::ExpectServiceRequest | Stage::Authenticating, 5) => {
                let request = ServiceRequest::decode(payload)?;
                if request.service != service::USERAUTH {
                    // RFC 4253 §10: refuse with a DISCONNECT.
                    return Err(TransportError::LocallyClosed {
                        reason: DisconnectReason::ServiceNotAvailable,
                        description: format!("bad service request {}", request.service),
                    });
                }
                self.stage = Stage::Authenticating;
                self.transport.send(
                    &ServiceAccept {
                        service: service::USERAUTH.to_owned(),
                    }
                    .to_payload(),
                )
            }
            (Stage::Authenticating, 50..=79) => {
                let session_id = self.transport.session_id().unwrap_or_default().to_vec();
                self.auth.handle(payload, &session_id)?;
                self.flush_auth()
            }
            // RFC 4252 §5.1: requests after success are silently ignored.
            (Stage::Connected, 50) => Ok(()),
            (Stage::Connected, 80..=127) => self.connection.handle(&mut self.transport, payload),
            (stage, number) => Err(PeerMisbehaved::UnexpectedMessage {
                number,
                phase: stage.phase(),
            }
            .into()),
        }
    }

    /// Sends what authentication queued and surfaces its steps; on success, switches
    /// to the connection protocol and starts delayed compression.
    fn flush_auth(&mut self) -> Result<(), TransportError> {
        while let Some(payload) = self.auth.poll_output() {
            self.transport.send(&payload)?;
        }
        if self.auth.is_authenticated() && self.stage == Stage::Authenticating {
            self.stage = Stage::Connected;
            // USERAUTH_SUCCESS is queued: everything after it is compressed.
            self.transport.enable_delayed_compression();
        }
        while let Some(step) = self.auth.poll_step() {
            self.events.push_back(match step {
                AuthStep::Request(attempt) => ServerEvent::AuthRequest(attempt),
                AuthStep::Refused {
                    user,
                    method,
                    reason,
                } => ServerEvent::AuthRefused {
                    user,
                    method,
                    reason,
                },
                AuthStep::PartialSuccess { user, method } => {
                    ServerEvent::PartialSuccess { user, method }
                }
                AuthStep::Success { user, method } => ServerEvent::Authenticated { user, method },
            });
        }
        Ok(())
    }

    /// Runs one answer: API misuse leaves the connection as it was; anything else
    /// (MaxAuthTries reached) is fatal.
    fn answer(
        &mut self,
        f: impl FnOnce(&mut AuthServer) -> Result<(), TransportError>,
    ) -> Result<(), TransportError> {
        self.check_open()?;
        match f(&mut self.auth) {
            Err(e @ TransportError::ApiMisuse(_)) => Err(e),
            Err(e) => Err(self.fail(e)),
            Ok(()) => self.flush_auth().map_err(|e| self.fail(e)),
        }
    }

    /// How long to wait, `elapsed` after polling an [`ServerEvent::AuthRequest`], before
    /// answering it with anything but [`ServerConnection::accept`] (OpenSSH's
    /// `ensure_minimum_time_since(user_specific_delay(user))`). The delay depends only on
    /// the user name and a per-connection secret, never on whether the user exists, so
    /// the time of a failure reveals nothing; a check slower than it doubles the target.
    pub fn failure_delay(&self, elapsed: Duration) -> Duration {
        if elapsed > MAX_FAIL_DELAY {
            return Duration::ZERO;
        }
        let user = self.auth.user().unwrap_or_default();
        let hash = self.provider.digest(
            HashAlg::Sha512,
            &[self.timing_secret.as_slice(), user.as_bytes()],
        );
        let word = hash
            .first_chunk::<4>()
            .map_or(0, |b| u32::from_be_bytes(*b));
        // 0 to 4.29 ms on top of the minimum, as OpenSSH.
        let mut target = MIN_FAIL_DELAY + Duration::from_nanos(u64::from(word) / 1000);
        while target < elapsed {
            target *= 2;
        }
        target - elapsed
    }

    /// The attempt succeeded (USERAUTH_SUCCESS, or partial success under
    /// `AuthenticationMethods`). A public-key query must be answered with `pk_ok`.
    pub fn accept(&mut self) -> Result<(), TransportError> {
        self.answer(AuthServer::accept)
    }

    /// The attempt failed. At `MaxAuthTries` this ends the connection with
    /// [`TransportError::TooManyAuthFailures`].
    pub fn reject(&mut self) -> Result<(), TransportError> {
        self.answer(AuthServer::reject)
    }

    /// Answers a public-key query: the key would be accepted.
    pub fn pk_ok(&mut self) -> Result<(), TransportError> {
        self.answer(AuthServer::pk_ok)
    }

    /// Answers keyboard-interactive with prompts (one more round).
    pub fn info_request(
        &mut self,
        name: &str,
        instruction: &str,
        prompts: Vec<Prompt>,
    ) -> Result<(), TransportError> {
        self.answer(|a| a.info_request(name, instruction, prompts))
    }

    /// Answers a password attempt: the password expired, ask for a new one.
    pub fn password_change_request(&mut self, prompt: &str) -> Result<(), TransportError> {
        self.answer(|a| a.password_change_request(prompt))
    }

    fn connected(&self) -> Result<(), TransportError> {
        self.check_open()?;
        if self.stage == Stage::Connected {
            Ok(())
        } else {
            Err(TransportError::ApiMisuse("not authenticated"))
        }
    }

    /// Accepts a channel the client opened ([`ConnectionEvent::OpenRequested`]).
    pub fn accept_open(&mut self, id: ChannelId) -> Result<(), TransportError> {
        self.connected()?;
        self.connection.accept_open(&mut self.transport, id)
    }

    /// Refuses a channel the client opened (RFC 4254 §5.1 reason code).
    pub fn reject_open(
        &mut self,
        id: ChannelId,
        reason: u32,
        description: &str,
    ) -> Result<(), TransportError> {
        self.connected()?;
        self.connection
            .reject_open(&mut self.transport, id, reason, description)
    }

    /// Answers a channel request that wanted a reply.
    pub fn reply_request(&mut self, id: ChannelId, success: bool) -> Result<(), TransportError> {
        self.connected()?;
        self.connection
            .reply_request(&mut self.transport, id, success)
    }

    /// Answers a global request that wanted a reply.
    pub fn reply_global(&mut self, success: bool, data: &[u8]) -> Result<(), TransportError> {
        self.connected()?;
        self.connection
            .reply_global(&mut self.transport, success, data)
    }

    /// Sends a channel request (`exit-status`, `exit-signal`, ...).
    pub fn channel_request(
        &mut self,
        id: ChannelId,
        request: &ChannelRequestKind,
        want_reply: bool,
    ) -> Result<(), TransportError> {
        self.connected()?;
        self.connection
            .request(&mut self.transport, id, request, want_reply)
    }

    /// Opens a channel towards the client (forwarded connections, later issues).
    pub fn open_channel(
        &mut self,
        channel_type: &str,
        data: &[u8],
    ) -> Result<ChannelId, TransportError> {
        self.connected()?;
        self.connection
            .open_channel(&mut self.transport, channel_type, data)
    }

    /// Writes stdout (or stderr when `stderr`) as far as the window allows; returns
    /// the bytes taken.
    pub fn write(
        &mut self,
        id: ChannelId,
        data: &[u8],
        stderr: bool,
    ) -> Result<usize, TransportError> {
        self.connected()?;
        self.connection.write(&mut self.transport, id, data, stderr)
    }

    /// Sends one data packet of stdout (or stderr when `stderr`) that `fill` writes in
    /// place, straight into the outgoing packet buffer (see [`Connection::write_with`]).
    pub fn write_with<E>(
        &mut self,
        id: ChannelId,
        max: usize,
        stderr: bool,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Result<usize, E>, TransportError> {
        self.connected()?;
        self.connection
            .write_with(&mut self.transport, id, max, stderr, fill)
    }

    /// Reads what the client sent on a channel (its stdin).
    pub fn read(&mut self, id: ChannelId, buf: &mut [u8]) -> Result<usize, TransportError> {
        self.connected()?;
        self.connection.read(&mut self.transport, id, buf, false)
    }

    /// [`ServerConnection::read`] into a new buffer of at most `max` bytes (empty when
    /// nothing is buffered).
    pub fn read_owned(&mut self, id: ChannelId, max: usize) -> Result<Vec<u8>, TransportError> {
        self.connected()?;
        self.connection
            .read_owned(&mut self.transport, id, max, false)
    }

    /// What the client sent on a channel (its stdin), the oldest part as one slice,
    /// left buffered until [`ServerConnection::consume`] (see
    /// [`Connection::peek`](crate::connection::Connection::peek)).
    pub fn peek(&self, id: ChannelId) -> &[u8] {
        self.connection.peek(id, false)
    }

    /// Drops the first `n` bytes [`ServerConnection::peek`] showed; refills the window.
    pub fn consume(&mut self, id: ChannelId, n: usize) -> Result<(), TransportError> {
        self.connected()?;
        self.connection.consume(&mut self.transport, id, n, false)
    }

    /// Sends EOF on a channel.
    pub fn send_eof(&mut self, id: ChannelId) -> Result<(), TransportError> {
        self.connected()?;
        self.connection.send_eof(&mut self.transport, id)
    }

    /// Closes a channel.
    pub fn close(&mut self, id: ChannelId) -> Result<(), TransportError> {
        self.connected()?;
        self.connection.close(&mut self.transport, id)
    }

    /// Forgets a closed channel.
    pub fn release(&mut self, id: ChannelId) {
        self.connection.release(id);
    }

    /// Sends a global request.
    pub fn global_request(
        &mut self,
        name: &str,
        want_reply: bool,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.connected()?;
        self.connection
            .global_request(&mut self.transport, name, want_reply, data)
    }

    /// Starts a key re-exchange.
    pub fn rekey(&mut self) -> Result<(), TransportError> {
        self.check_open()?;
        self.transport.rekey()
    }

    /// Sends `payload` as one packet without the connection layer's checks, so tests can
    /// play a server that breaks the protocol (data beyond the window, unknown channels)
    /// and prove that clients survive it. Not for real servers.
    #[doc(hidden)]
    pub fn send_unchecked_for_test(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        self.check_open()?;
        self.transport.send(payload)
    }
}
