//! The client connection: transport, then the `ssh-userauth` service, then the
//! connection protocol, behind one sans-IO object. Callers feed bytes, poll events,
//! write out [`ClientConnection::transmit`] and call the request methods.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxssh_keys::PublicKey;
use oxssh_wire::names::service;
use oxssh_wire::transport::{Message, ServiceAccept, ServiceRequest};
use oxssh_wire::DisconnectReason;

use crate::auth::{AuthClient, AuthEvent};
use crate::connection::{
    ChannelId, ChannelRequestKind, Connection, ConnectionConfig, ConnectionEvent, DataSink,
};
use crate::crypto::CryptoProvider;
use crate::error::{PeerMisbehaved, TransportError};
use crate::transport::{copy_payload, Event, Negotiated, Role, Transport};
use crate::TransportConfig;

/// What the client connection has to tell its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server proved it holds this host key: verify it, then call
    /// [`ClientConnection::accept_host_key`] or [`ClientConnection::reject_host_key`].
    HostKey {
        /// The key.
        key: PublicKey,
        /// The negotiated signature algorithm.
        algorithm: String,
    },
    /// A key exchange completed.
    KexComplete {
        /// Whether it was the first.
        initial: bool,
        /// The algorithms in force.
        negotiated: Negotiated,
    },
    /// The server accepted `ssh-userauth`: authentication requests may be sent.
    AuthReady,
    /// An answer from the authentication service.
    Auth(AuthEvent),
    /// A connection-protocol event (after authentication).
    Connection(ConnectionEvent),
    /// SSH_MSG_DEBUG from the server.
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
    /// SERVICE_REQUEST sent.
    ExpectServiceAccept,
    /// Authenticating.
    Authenticating,
    /// Authenticated: channels may be used.
    Connected,
}

/// Keepalive probes (OpenSSH's ServerAliveInterval / ServerAliveCountMax): after
/// `interval` without hearing from the server, ask it for a reply; give up after
/// `count_max` unanswered probes.
#[derive(Debug, Clone)]
struct Keepalive {
    interval: Duration,
    count_max: u32,
    /// When we last noticed input (at a timer tick, since `recv` is not told the time).
    last_heard: Instant,
    heard_since_tick: bool,
    unanswered: u32,
}

/// The global request name OpenSSH uses for keepalives.
const KEEPALIVE: &str = "keepalive@openssh.com";

/// A client connection, sans I/O.
#[derive(Debug)]
pub struct ClientConnection {
    transport: Transport,
    stage: Stage,
    auth: AuthClient,
    connection: Connection,
    events: VecDeque<ClientEvent>,
    keepalive: Option<Keepalive>,
    now: Instant,
    scratch: Vec<u8>,
    /// Our global requests awaiting a reply, in order: `true` for keepalive probes,
    /// whose replies are consumed here rather than passed to the caller.
    pending_globals: VecDeque<bool>,
}

impl ClientConnection {
    /// Starts a connection that will authenticate as `user`.
    pub fn new(
        user: &str,
        transport: Arc<TransportConfig>,
        connection: ConnectionConfig,
        provider: Arc<CryptoProvider>,
        now: Instant,
    ) -> Result<Self, TransportError> {
        Ok(Self {
            transport: Transport::new(transport, provider, Role::Client, now)?,
            stage: Stage::Handshake,
            auth: AuthClient::new(user),
            connection: Connection::new(connection),
            events: VecDeque::new(),
            keepalive: None,
            now,
            scratch: Vec::new(),
            pending_globals: VecDeque::new(),
        })
    }

    /// Probes the server after `interval` of silence; after `count_max` unanswered
    /// probes the connection fails with [`TransportError::Unresponsive`].
    pub fn set_keepalive(&mut self, interval: Duration, count_max: u32) {
        self.keepalive = Some(Keepalive {
            interval,
            count_max,
            last_heard: self.now,
            heard_since_tick: false,
            unanswered: 0,
        });
    }

    /// The transport underneath (peer version, session id, extensions).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The channel table.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Whether authentication succeeded.
    pub fn is_authenticated(&self) -> bool {
        self.stage == Stage::Connected
    }

    /// Feeds bytes from the socket.
    pub fn recv(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        if let Some(k) = &mut self.keepalive {
            k.heard_since_tick |= !data.is_empty();
        }
        self.transport.recv(data)
    }

    /// Room to read socket bytes into in place (see
    /// [`Transport::recv_space`](crate::transport::Transport::recv_space)).
    pub fn recv_space(&mut self, min: usize) -> Option<&mut [u8]> {
        self.transport.recv_space(min)
    }

    /// Takes the first `n` bytes of [`ClientConnection::recv_space`] as received.
    pub fn recv_filled(&mut self, n: usize) -> Result<usize, TransportError> {
        if let Some(k) = &mut self.keepalive {
            k.heard_since_tick |= n > 0;
        }
        self.transport.recv_filled(n)
    }

    /// Ciphertext to write to the socket.
    pub fn transmit(&self) -> &[u8] {
        self.transport.transmit()
    }

    /// Marks `n` bytes of [`ClientConnection::transmit`] written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.transport.advance_transmit(n);
    }

    /// When [`ClientConnection::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let keepalive = self
            .keepalive
            .as_ref()
            .filter(|_| self.stage == Stage::Connected)
            .map(|k| k.last_heard + k.interval);
        match (self.transport.poll_timeout(), keepalive) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Tells the time: transport timers, then keepalive probes.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), TransportError> {
        self.now = now;
        self.transport.handle_timeout(now)?;
        if self.stage != Stage::Connected {
            return Ok(());
        }
        let Some(k) = &mut self.keepalive else {
            return Ok(());
        };
        if k.heard_since_tick {
            k.heard_since_tick = false;
            k.last_heard = now;
            k.unanswered = 0;
            return Ok(());
        }
        if now < k.last_heard + k.interval {
            return Ok(());
        }
        k.last_heard = now;
        k.unanswered += 1;
        if k.unanswered > k.count_max {
            self.transport
                .disconnect(DisconnectReason::ByApplication, "keepalive timeout");
            return Err(TransportError::Unresponsive);
        }
        self.pending_globals.push_back(true);
        self.connection
            .global_request(&mut self.transport, KEEPALIVE, true, &[])
    }

    /// Ends the connection with SSH_MSG_DISCONNECT.
    pub fn disconnect(&mut self, reason: DisconnectReason, description: &str) -> TransportError {
        self.transport.disconnect(reason, description)
    }

    /// Accepts a channel the server opened ([`ConnectionEvent::OpenRequested`]).
    pub fn accept_open(&mut self, id: ChannelId) -> Result<(), TransportError> {
        self.connection.accept_open(&mut self.transport, id)
    }

    /// Refuses a channel the server opened, with an RFC 4254 §5.1 reason code.
    pub fn reject_open(
        &mut self,
        id: ChannelId,
        reason: u32,
        description: &str,
    ) -> Result<(), TransportError> {
        self.connection
            .reject_open(&mut self.transport, id, reason, description)
    }

    /// The host certificate presented with the key of [`ClientEvent::HostKey`], if any
    /// (see [`Transport::host_certificate`]).
    pub fn host_certificate(&self) -> Option<&oxssh_keys::certificate::Certificate> {
        self.transport.host_certificate()
    }

    /// Accepts the host key announced by [`ClientEvent::HostKey`].
    pub fn accept_host_key(&mut self) -> Result<(), TransportError> {
        self.transport.accept_host_key()
    }

    /// Refuses the host key; the connection ends.
    pub fn reject_host_key(&mut self, description: &str) -> TransportError {
        self.transport.reject_host_key(description)
    }

    /// The next event; `Ok(None)` when more input is needed.
    pub fn poll_event(&mut self) -> Result<Option<ClientEvent>, TransportError> {
        self.poll_event_into(&mut |_, _| 0)
    }

    /// As [`ClientConnection::poll_event`], offering channel data to `sink` straight
    /// from the decrypted packet before it is buffered (see [`DataSink`]).
    pub fn poll_event_into(
        &mut self,
        sink: &mut DataSink<'_>,
    ) -> Result<Option<ClientEvent>, TransportError> {
        loop {
            // Windows of dropped extended data.
            if let Err(e) = self.connection.refill_windows(&mut self.transport) {
                return Err(self.fail(e));
            }
            if let Some(ev) = self.events.pop_front() {
                return Ok(Some(ev));
            }
            if let Some(ev) = self.connection.poll_event() {
                if let Some(ev) = self.filter_connection_event(ev)? {
                    return Ok(Some(ClientEvent::Connection(ev)));
                }
                continue;
            }
            let payload = match self.transport.poll_event()? {
                None => return Ok(None),
                Some(Event::HostKey { key, algorithm }) => {
                    return Ok(Some(ClientEvent::HostKey { key, algorithm }))
                }
                Some(Event::KexComplete {
                    initial,
                    negotiated,
                }) => {
                    if initial {
                        self.transport.send(
                            &ServiceRequest {
                                service: service::USERAUTH.to_owned(),
                            }
                            .to_payload(),
                        )?;
                        self.stage = Stage::ExpectServiceAccept;
                    }
                    return Ok(Some(ClientEvent::KexComplete {
                        initial,
                        negotiated,
                    }));
                }
                Some(Event::Debug {
                    always_display,
                    message,
                }) => {
                    return Ok(Some(ClientEvent::Debug {
                        always_display,
                        message,
                    }))
                }
                Some(Event::Payload(p)) if self.stage == Stage::Connected => {
                    // Channel data goes from the decrypted packet straight to its channel.
                    match self.connection.handle_data_into(p, sink) {
                        Some(Ok(())) => continue,
                        Some(Err(e)) => return Err(self.fail(e)),
                        None => copy_payload(&mut self.scratch, p),
                    }
                }
                Some(Event::Payload(p)) => copy_payload(&mut self.scratch, p),
            };
            let result = self.dispatch(&payload);
            self.scratch = payload;
            if let Err(e) = result {
                return Err(self.fail(e));
            }
        }
    }

    /// Records a fatal error on the transport (which sends the DISCONNECT).
    fn fail(&mut self, e: TransportError) -> TransportError {
        match e.disconnect_reason() {
            Some(reason) => {
                self.transport.disconnect(reason, &e.to_string());
                e
            }
            None => e,
        }
    }

    fn dispatch(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let number = payload.first().copied().unwrap_or_default();
        match (self.stage, number) {
            (Stage::ExpectServiceAccept, 6) => {
                let accept = ServiceAccept::decode(payload)?;
                if accept.service != service::USERAUTH {
                    return Err(PeerMisbehaved::Auth("accepted the wrong service").into());
                }
                self.stage = Stage::Authenticating;
                self.events.push_back(ClientEvent::AuthReady);
            }
            (Stage::ExpectServiceAccept | Stage::Authenticating, 50..=79) => {
                let event = self.auth.handle(payload)?;
                if event == AuthEvent::Success {
                    self.stage = Stage::Connected;
                    // Packets after USERAUTH_SUCCESS are compressed (zlib@openssh.com).
                    self.transport.enable_delayed_compression();
                }
                self.events.push_back(ClientEvent::Auth(event));
            }
            (Stage::Connected, 80..=127) => {
                self.connection.handle(&mut self.transport, payload)?;
            }
            (_, number) => {
                return Err(PeerMisbehaved::UnexpectedMessage {
                    number,
                    phase: "service",
                }
                .into())
            }
        }
        Ok(())
    }

    /// Client policy for connection events: answer what a client never accepts.
    fn filter_connection_event(
        &mut self,
        ev: ConnectionEvent,
    ) -> Result<Option<ConnectionEvent>, TransportError> {
        match ev {
            // Channels the server opens (forwarded connections, agent requests) are the
            // caller's to accept or refuse.
            ConnectionEvent::GlobalReply { success, data } => {
                match self.pending_globals.pop_front() {
                    // A keepalive answer: proof of life, nothing for the caller.
                    Some(true) => Ok(None),
                    Some(false) => Ok(Some(ConnectionEvent::GlobalReply { success, data })),
                    None => Err(PeerMisbehaved::Channel("global reply to no request").into()),
                }
            }
            // keepalive@openssh.com and other requests we do not know: answer failure.
            ConnectionEvent::Request {
                id,
                request: ChannelRequestKind::Other { .. },
                want_reply,
            } => {
                if want_reply {
                    self.connection
                        .reply_request(&mut self.transport, id, false)?;
                }
                Ok(None)
            }
            other => Ok(Some(other)),
        }
    }

    fn auth_send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        if self.stage != Stage::Authenticating {
            return Err(TransportError::ApiMisuse("authentication not ready"));
        }
        self.transport.send(payload)
    }

    /// Sends `none` to learn the methods that can continue.
    pub fn auth_none(&mut self) -> Result<(), TransportError> {
        let p = self.auth.none()?;
        self.auth_send(&p)
    }

    /// Asks whether a public key would be accepted.
    pub fn auth_publickey_query(
        &mut self,
        algorithm: &str,
        key: &[u8],
    ) -> Result<(), TransportError> {
        let p = self.auth.publickey_query(algorithm, key)?;
        self.auth_send(&p)
    }

    /// The bytes a public-key signature must cover for this session.
    pub fn auth_publickey_signed_data(&self, algorithm: &str, key: &[u8]) -> Vec<u8> {
        self.auth.publickey_signed_data(
            self.transport.session_id().unwrap_or_default(),
            algorithm,
            key,
        )
    }

    /// Sends a signed public-key attempt (`signature` is the SSH signature blob).
    pub fn auth_publickey(
        &mut self,
        algorithm: &str,
        key: &[u8],
        signature: &[u8],
    ) -> Result<(), TransportError> {
        let p = self.auth.publickey_signed(algorithm, key, signature)?;
        self.auth_send(&p)
    }

    /// Sends a password attempt (or a change, answering a change request).
    pub fn auth_password(
        &mut self,
        password: &str,
        new_password: Option<&str>,
    ) -> Result<(), TransportError> {
        let p = self.auth.password(password, new_password)?;
        self.auth_send(&p)
    }

    /// Starts keyboard-interactive.
    pub fn auth_keyboard_interactive(&mut self) -> Result<(), TransportError> {
        let p = self.auth.keyboard_interactive("")?;
        self.auth_send(&p)
    }

    /// Answers keyboard-interactive prompts.
    pub fn auth_info_response(&mut self, answers: &[&str]) -> Result<(), TransportError> {
        let p = self.auth.info_response(answers)?;
        self.auth_send(&p)
    }

    fn connected(&self) -> Result<(), TransportError> {
        if self.stage == Stage::Connected {
            Ok(())
        } else {
            Err(TransportError::ApiMisuse("not authenticated"))
        }
    }

    /// Opens a `session` channel (RFC 4254 §6.1).
    pub fn open_session(&mut self) -> Result<ChannelId, TransportError> {
        self.connected()?;
        self.connection
            .open_channel(&mut self.transport, "session", &[])
    }

    /// Opens a channel of any type with its type-specific data.
    pub fn open_channel(
        &mut self,
        channel_type: &str,
        data: &[u8],
    ) -> Result<ChannelId, TransportError> {
        self.connected()?;
        self.connection
            .open_channel(&mut self.transport, channel_type, data)
    }

    /// Sends a channel request.
    pub fn channel_request(
        &mut self,
        id: ChannelId,
        request: &ChannelRequestKind,
        want_reply: bool,
    ) -> Result<(), TransportError> {
        self.connection
            .request(&mut self.transport, id, request, want_reply)
    }

    /// Writes as much as the window allows; returns the bytes taken.
    pub fn write(&mut self, id: ChannelId, data: &[u8]) -> Result<usize, TransportError> {
        self.connection.write(&mut self.transport, id, data, false)
    }

    /// Sends one data packet whose data `fill` writes in place, straight into the
    /// outgoing packet buffer (see [`Connection::write_with`]).
    pub fn write_with<E>(
        &mut self,
        id: ChannelId,
        max: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Result<usize, E>, TransportError> {
        self.connection
            .write_with(&mut self.transport, id, max, false, fill)
    }

    /// Reads stdout data (or stderr when `stderr`).
    pub fn read(
        &mut self,
        id: ChannelId,
        buf: &mut [u8],
        stderr: bool,
    ) -> Result<usize, TransportError> {
        self.connection.read(&mut self.transport, id, buf, stderr)
    }

    /// The oldest buffered data (or stderr) of a channel as one slice, left buffered
    /// until [`ClientConnection::consume`] (see
    /// [`Connection::peek`](crate::connection::Connection::peek)).
    pub fn peek(&self, id: ChannelId, stderr: bool) -> &[u8] {
        self.connection.peek(id, stderr)
    }

    /// Drops the first `n` bytes [`ClientConnection::peek`] showed; refills the window.
    pub fn consume(&mut self, id: ChannelId, n: usize, stderr: bool) -> Result<(), TransportError> {
        self.connection.consume(&mut self.transport, id, n, stderr)
    }

    /// Sends EOF on a channel.
    pub fn send_eof(&mut self, id: ChannelId) -> Result<(), TransportError> {
        self.connection.send_eof(&mut self.transport, id)
    }

    /// Closes a channel.
    pub fn close(&mut self, id: ChannelId) -> Result<(), TransportError> {
        self.connection.close(&mut self.transport, id)
    }

    /// Forgets a closed channel.
    pub fn release(&mut self, id: ChannelId) {
        self.connection.release(id);
    }

    /// Starts a key re-exchange.
    pub fn rekey(&mut self) -> Result<(), TransportError> {
        self.transport.rekey()
    }

    /// Sends a global request (e.g. `keepalive@openssh.com`).
    pub fn global_request(
        &mut self,
        name: &str,
        want_reply: bool,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.connected()?;
        if want_reply {
            self.pending_globals.push_back(false);
        }
        self.connection
            .global_request(&mut self.transport, name, want_reply, data)
    }
}
