//! The transport layer (RFC 4253) as a sans-IO state machine shared by client and server.
//!
//! Bytes go in with [`Transport::recv`], events come out of [`Transport::poll_event`],
//! ciphertext for the socket is read from [`Transport::transmit`]. Time is told, never
//! read: [`Transport::poll_timeout`] says when [`Transport::handle_timeout`] is due.

mod in_place;
mod kex;
pub mod keys;
pub mod negotiate;
pub mod packet;
pub mod version;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use oxssh_keys::PublicKey;
use oxssh_wire::msg::num;
use oxssh_wire::transport::{self as msgs, Message};
use oxssh_wire::DisconnectReason;

use crate::config::TransportConfig;
use crate::crypto::{CryptoProvider, SigningKey};
use crate::error::{PeerMisbehaved, TransportError};
use kex::KexState;
pub use keys::Side;
pub use negotiate::Negotiated;
use packet::{PacketReader, PacketWriter};
use version::{PeerVersion, VersionReader};

/// Our role and what it needs.
#[derive(Clone)]
pub enum Role {
    /// We connected; we verify the server's host key.
    Client,
    /// We accepted; we prove our identity with these host keys.
    Server {
        /// Host keys, at most one per key type.
        host_keys: Vec<Arc<dyn SigningKey>>,
    },
}

impl std::fmt::Debug for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client => f.write_str("Client"),
            Self::Server { host_keys } => f
                .debug_struct("Server")
                .field("host_keys", &host_keys.len())
                .finish(),
        }
    }
}

/// What the transport has to tell its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Client, first key exchange: the server proved it holds this key (its signature
    /// over the exchange hash verified). Call [`Transport::accept_host_key`] or
    /// [`Transport::reject_host_key`]; nothing else proceeds until then.
    HostKey {
        /// The server's host key.
        key: PublicKey,
        /// The negotiated signature algorithm.
        algorithm: String,
    },
    /// A key exchange finished; after the first one the transport carries services.
    KexComplete {
        /// Whether this was the first key exchange.
        initial: bool,
        /// The algorithms now in force.
        negotiated: Negotiated,
    },
    /// A message for a layer above the transport (service request/accept, numbers 50+).
    Payload(&'a [u8]),
    /// SSH_MSG_DEBUG from the peer.
    Debug {
        /// Whether the peer asked for it to be shown.
        always_display: bool,
        /// The text.
        message: String,
    },
}

/// An event owned by the queue (everything but payloads, which are borrowed).
type QueuedEvent = Event<'static>;

/// Where the byte stream stands.
#[derive(Debug)]
enum Input {
    /// Waiting for the peer's identification line.
    Version(VersionReader),
    /// Binary packets.
    Packets,
}

/// The outcome of handling one packet.
enum Step {
    /// Nothing for the caller; keep going.
    Continue,
    /// A payload for the caller at this range of the reader's buffer.
    Payload(std::ops::Range<usize>),
    /// A payload for the caller in the decompression buffer.
    Inflated,
}

/// Largest payload a compressed packet may inflate to (the packet size limit).
const MAX_INFLATED_PAYLOAD: usize = 256 * 1024;

/// Compression state: the methods negotiated for the current keys, and the streams,
/// which live for the whole connection once started (OpenSSH does the same).
#[derive(Default)]
struct CompressionState {
    out_method: Option<&'static dyn crate::crypto::CompressionAlgorithm>,
    in_method: Option<&'static dyn crate::crypto::CompressionAlgorithm>,
    deflate: Option<Box<dyn crate::crypto::Compressor>>,
    inflate: Option<Box<dyn crate::crypto::Decompressor>>,
    authenticated: bool,
    deflated: Vec<u8>,
    inflated: Vec<u8>,
}

impl std::fmt::Debug for CompressionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressionState")
            .field("deflate", &self.deflate.is_some())
            .field("inflate", &self.inflate.is_some())
            .finish_non_exhaustive()
    }
}

impl CompressionState {
    /// Delayed compression is negotiated but login has not happened: a re-key now could
    /// race the switch (the peer's kex packets would cross our USERAUTH_SUCCESS), so
    /// automatic re-keys wait, as OpenSSH's sshd never re-keys before login.
    fn awaiting_login(&self) -> bool {
        !self.authenticated
            && [self.out_method, self.in_method]
                .iter()
                .flatten()
                .any(|m| m.is_delayed())
    }

    /// Starts the streams whose method is in force now (delayed ones after login).
    /// `outgoing` is false while earlier payloads still wait in the queue: they were
    /// produced before compression began and must leave uncompressed.
    fn start_ready(&mut self, outgoing: bool) {
        let ready = |m: &dyn crate::crypto::CompressionAlgorithm, authenticated: bool| {
            !m.is_delayed() || authenticated
        };
        if let Some(m) = self.out_method.filter(|_| outgoing) {
            if self.deflate.is_none() && ready(m, self.authenticated) {
                self.deflate = Some(m.compressor());
            }
        }
        if let Some(m) = self.in_method {
            if self.inflate.is_none() && ready(m, self.authenticated) {
                self.inflate = Some(m.decompressor());
            }
        }
    }
}

/// One SSH transport connection, either role.
pub struct Transport {
    config: Arc<TransportConfig>,
    provider: Arc<CryptoProvider>,
    role: Role,
    now: Instant,
    input: Input,
    our_version: String,
    peer_version: Option<PeerVersion>,
    writer: PacketWriter,
    reader: PacketReader,
    kex: KexState,
    session_id: Option<Vec<u8>>,
    server_host_key: Option<PublicKey>,
    /// The host certificate the server presented with that key, if any.
    server_host_certificate: Option<Box<oxssh_keys::certificate::Certificate>>,
    strict_kex: bool,
    initial_kex_done: bool,
    events: VecDeque<QueuedEvent>,
    queued_payloads: VecDeque<Vec<u8>>,
    peer_extensions: Option<msgs::ExtInfo>,
    compression: CompressionState,
    error: Option<TransportError>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("role", &self.role)
            .field("peer_version", &self.peer_version)
            .field("initial_kex_done", &self.initial_kex_done)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Starts a transport: our identification line and KEXINIT are queued at once.
    pub fn new(
        config: Arc<TransportConfig>,
        provider: Arc<CryptoProvider>,
        role: Role,
        now: Instant,
    ) -> Result<Self, TransportError> {
        if let Role::Server { host_keys } = &role {
            if host_keys.is_empty() {
                return Err(TransportError::Config(
                    "a server needs at least one host key",
                ));
            }
        }
        let allow_preamble = matches!(role, Role::Client);
        let line = version::identification_line(&config.software_version);
        let mut writer = PacketWriter::new();
        writer.write_raw(line.as_bytes());
        let mut transport = Self {
            input: Input::Version(VersionReader::new(
                allow_preamble,
                config.max_preamble_lines,
            )),
            our_version: line.trim_end().to_owned(),
            peer_version: None,
            reader: PacketReader::new(config.max_packet_len),
            writer,
            kex: KexState::Idle { since: now },
            session_id: None,
            server_host_key: None,
            server_host_certificate: None,
            strict_kex: false,
            initial_kex_done: false,
            events: VecDeque::new(),
            queued_payloads: VecDeque::new(),
            peer_extensions: None,
            compression: CompressionState::default(),
            error: None,
            config,
            provider,
            role,
            now,
        };
        transport.start_kex()?;
        Ok(transport)
    }

    /// Our side.
    pub fn side(&self) -> Side {
        match self.role {
            Role::Client => Side::Client,
            Role::Server { .. } => Side::Server,
        }
    }

    /// The peer's identification, once received.
    pub fn peer_version(&self) -> Option<&PeerVersion> {
        self.peer_version.as_ref()
    }

    /// The session identifier (the first exchange hash), once the first kex computed it.
    pub fn session_id(&self) -> Option<&[u8]> {
        self.session_id.as_deref()
    }

    /// Whether strict key exchange is in force.
    pub fn strict_kex(&self) -> bool {
        self.strict_kex
    }

    /// The extensions the peer announced with EXT_INFO (RFC 8308), if any.
    pub fn peer_extensions(&self) -> Option<&msgs::ExtInfo> {
        self.peer_extensions.as_ref()
    }

    /// Whether the first key exchange finished and services may run.
    pub fn is_established(&self) -> bool {
        self.initial_kex_done && self.error.is_none()
    }

    /// The sticky error, once the transport has stopped.
    pub fn error(&self) -> Option<&TransportError> {
        self.error.as_ref()
    }

    /// Feeds bytes from the socket; returns how many were consumed (all of them: the
    /// transport buffers partial packets itself, bounded by the packet size limit).
    pub fn recv(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        self.check_open()?;
        let rest = match &mut self.input {
            Input::Packets => data,
            Input::Version(reader) => match reader.feed(data) {
                Err(e) => return Err(self.fail(e.into())),
                Ok((_, None)) => return Ok(data.len()),
                Ok((used, Some(version))) => {
                    self.peer_version = Some(version);
                    self.input = Input::Packets;
                    data.get(used..).unwrap_or_default()
                }
            },
        };
        self.reader.feed(rest);
        Ok(data.len())
    }

    /// Room of at least `min` bytes to read socket bytes into in place, when the input
    /// buffer already has it (see `PacketReader::spare`); hand what arrived to
    /// [`Transport::recv_filled`]. `None`: read elsewhere and use [`Transport::recv`].
    pub fn recv_space(&mut self, min: usize) -> Option<&mut [u8]> {
        self.check_open().ok()?;
        // The version line is read through `recv`: it goes to its own reader.
        match self.input {
            Input::Packets => self.reader.spare(min),
            Input::Version(_) => None,
        }
    }

    /// Takes the first `n` bytes of [`Transport::recv_space`] as received, as
    /// [`Transport::recv`] would take them.
    pub fn recv_filled(&mut self, n: usize) -> Result<usize, TransportError> {
        self.check_open()?;
        if let Input::Version(_) = self.input {
            return Err(TransportError::ApiMisuse(
                "recv_filled before the version line",
            ));
        }
        self.reader.filled(n);
        Ok(n)
    }

    /// Ciphertext waiting to be written to the socket.
    pub fn transmit(&self) -> &[u8] {
        self.writer.pending()
    }

    /// Marks `n` bytes of [`Transport::transmit`] as written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.writer.advance(n);
    }

    /// Sends a payload for a layer above the transport. During a key exchange it is
    /// queued and sent after our NEWKEYS.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        self.send_parts(&[payload])
    }

    /// Sends a payload given in pieces (e.g. a channel-data header and the data), without
    /// first joining them: on the data path the bytes are copied once, into the packet.
    pub fn send_parts(&mut self, parts: &[&[u8]]) -> Result<(), TransportError> {
        self.check_open()?;
        if parts.iter().all(|p| p.is_empty()) {
            return Err(TransportError::ApiMisuse("empty payload"));
        }
        if self.kex.blocks_sending() || !self.initial_kex_done {
            self.queued_payloads.push_back(parts.concat());
            return Ok(());
        }
        self.write_parts(parts)?;
        self.maybe_rekey()
    }

    /// Starts a key re-exchange now (either side may), unless one is running.
    pub fn rekey(&mut self) -> Result<(), TransportError> {
        self.check_open()?;
        if self.initial_kex_done && !self.kex.is_running() {
            self.start_kex()?;
        }
        Ok(())
    }

    /// Client: the host certificate (`PROTOCOL.certkeys`) the server presented with the
    /// key of [`Event::HostKey`], when a `*-cert-v01@openssh.com` algorithm was
    /// negotiated. Its CA signature is verified; whether the CA is trusted for this host
    /// (and the certificate valid now) is the caller's decision.
    pub fn host_certificate(&self) -> Option<&oxssh_keys::certificate::Certificate> {
        self.server_host_certificate.as_deref()
    }

    /// Client: accepts the host key announced by [`Event::HostKey`].
    pub fn accept_host_key(&mut self) -> Result<(), TransportError> {
        self.check_open()?;
        let result = self.host_key_accepted();
        result.map_err(|e| self.fail(e))
    }

    /// Client: refuses the host key; the connection ends with HOST_KEY_NOT_VERIFIABLE.
    pub fn reject_host_key(&mut self, description: &str) -> TransportError {
        self.disconnect(DisconnectReason::HostKeyNotVerifiable, description)
    }

    /// Ends the connection with SSH_MSG_DISCONNECT; the returned error is now sticky.
    pub fn disconnect(&mut self, reason: DisconnectReason, description: &str) -> TransportError {
        if let Some(e) = &self.error {
            return e.clone();
        }
        self.send_disconnect(reason, description);
        let err = TransportError::LocallyClosed {
            reason,
            description: description.to_owned(),
        };
        self.error = Some(err.clone());
        err
    }

    /// The next event. Returns `Ok(None)` when more input is needed.
    pub fn poll_event(&mut self) -> Result<Option<Event<'_>>, TransportError> {
        self.check_open()?;
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Ok(Some(ev));
            }
            if self.kex.awaits_host_key_decision() {
                return Ok(None);
            }
            let packet = match self.reader.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fail(e.into())),
            };
            match self.handle_packet(packet.seq, packet.payload) {
                Ok(Step::Continue) => {}
                Ok(Step::Payload(range)) => {
                    return Ok(Some(Event::Payload(self.reader.payload(&range))));
                }
                Ok(Step::Inflated) => {
                    return Ok(Some(Event::Payload(&self.compression.inflated)));
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// When [`Transport::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        match &self.kex {
            KexState::Running(run) => Some(run.started + self.config.kex_timeout),
            KexState::Idle { since } => self.config.rekey_interval.map(|i| *since + i),
        }
    }

    /// Tells the transport the time; fires the kex timeout and time-based re-key.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), TransportError> {
        self.check_open()?;
        self.now = now;
        let Some(deadline) = self.poll_timeout() else {
            return Ok(());
        };
        if now < deadline {
            return Ok(());
        }
        if self.kex.is_running() {
            return Err(self.fail(TransportError::KexTimeout));
        }
        if self.initial_kex_done && !self.compression.awaiting_login() {
            self.start_kex()?;
        }
        Ok(())
    }

    /// Sets both sequence numbers (tests of wrap-around only).
    #[doc(hidden)]
    pub fn set_sequence_numbers_for_test(&mut self, send: u32, recv: u32) {
        self.writer.set_seq(send);
        self.reader.set_seq(recv);
    }

    fn check_open(&self) -> Result<(), TransportError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records a fatal error, sends the matching DISCONNECT, and returns the error.
    fn fail(&mut self, err: TransportError) -> TransportError {
        if let Some(existing) = &self.error {
            return existing.clone();
        }
        if let Some(reason) = err.disconnect_reason() {
            self.send_disconnect(reason, &err.to_string());
        }
        self.error = Some(err.clone());
        err
    }

    fn send_disconnect(&mut self, reason: DisconnectReason, description: &str) {
        let msg = msgs::Disconnect {
            reason,
            description: description.to_owned(),
            language: String::new(),
        };
        // Best effort: the connection is ending either way.
        let _ = self
            .writer
            .write_packet(&msg.to_payload(), self.provider.random);
    }

    /// Seals one payload now, compressed when compression is on.
    fn write(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        self.write_parts(&[payload])
    }

    /// Seals one payload given in pieces now, compressed when compression is on.
    fn write_parts(&mut self, parts: &[&[u8]]) -> Result<(), TransportError> {
        let Some(deflate) = &mut self.compression.deflate else {
            return self.writer.write_packet_parts(parts, self.provider.random);
        };
        // The compressor takes one slice per packet (each call ends in a flush).
        let joined;
        let payload = match parts {
            [one] => *one,
            _ => {
                joined = parts.concat();
                &joined
            }
        };
        self.compression.deflated.clear();
        deflate
            .compress(payload, &mut self.compression.deflated)
            .map_err(TransportError::Crypto)?;
        self.writer
            .write_packet(&self.compression.deflated, self.provider.random)
    }

    /// After user authentication succeeded (client: on USERAUTH_SUCCESS; server: after
    /// sending it): starts delayed compression (`zlib@openssh.com`) where negotiated.
    pub fn enable_delayed_compression(&mut self) {
        self.compression.authenticated = true;
        let nothing_queued = self.queued_payloads.is_empty() && !self.kex.blocks_sending();
        self.compression.start_ready(nothing_queued);
    }

    fn write_message<M: Message>(&mut self, msg: &M) -> Result<(), TransportError> {
        self.write(&msg.to_payload())
    }

    /// Sends what upper layers queued during the key exchange.
    fn flush_queued(&mut self) -> Result<(), TransportError> {
        while let Some(payload) = self.queued_payloads.pop_front() {
            self.write(&payload)?;
        }
        // Payloads queued before login went out as they were; what follows is compressed.
        self.compression.start_ready(true);
        Ok(())
    }

    fn maybe_rekey(&mut self) -> Result<(), TransportError> {
        if !self.initial_kex_done || self.kex.is_running() || self.compression.awaiting_login() {
            return Ok(());
        }
        let limits = [self.writer.counters, self.reader.counters];
        if limits
            .iter()
            .any(|c| c.bytes >= self.config.rekey_bytes || c.packets >= self.config.rekey_packets)
        {
            self.start_kex()?;
        }
        Ok(())
    }

    /// Dispatches one packet by its message number (RFC 4253 §7-§11).
    fn handle_packet(
        &mut self,
        seq: u32,
        range: std::ops::Range<usize>,
    ) -> Result<Step, TransportError> {
        self.maybe_rekey()?;
        let inflated = match &mut self.compression.inflate {
            Some(inflate) => {
                self.compression.inflated.clear();
                inflate
                    .decompress(
                        self.reader.payload(&range),
                        &mut self.compression.inflated,
                        MAX_INFLATED_PAYLOAD,
                    )
                    .map_err(|_| PeerMisbehaved::Compression)?;
                true
            }
            None => false,
        };
        let payload = if inflated {
            self.compression.inflated.as_slice()
        } else {
            self.reader.payload(&range)
        };
        let number = *payload
            .first()
            .ok_or(PeerMisbehaved::Decode(oxssh_wire::DecodeError::Truncated))?;
        if self.strict_kex && !self.initial_kex_done && !kex::is_kex_message(number) {
            return Err(PeerMisbehaved::StrictKexViolation(number).into());
        }
        match number {
            num::DISCONNECT => {
                let msg = msgs::Disconnect::decode(payload)?;
                let err = TransportError::PeerDisconnected {
                    reason: msg.reason,
                    description: msg.description,
                };
                self.error = Some(err.clone());
                Err(err)
            }
            num::IGNORE | num::UNIMPLEMENTED => Ok(Step::Continue),
            num::DEBUG => {
                let msg = msgs::Debug::decode(payload)?;
                self.events.push_back(Event::Debug {
                    always_display: msg.always_display,
                    message: msg.message,
                });
                Ok(Step::Continue)
            }
            n if kex::is_kex_message(n) => {
                let payload = payload.to_vec();
                self.handle_kex_message(seq, &payload)?;
                Ok(Step::Continue)
            }
            _ if self.kex.peer_kexinit_received() || !self.initial_kex_done => {
                Err(PeerMisbehaved::UnexpectedMessage {
                    number,
                    phase: "key exchange",
                }
                .into())
            }
            num::EXT_INFO => {
                self.peer_extensions = Some(msgs::ExtInfo::decode(payload)?);
                Ok(Step::Continue)
            }
            num::SERVICE_REQUEST | num::SERVICE_ACCEPT | num::USERAUTH_FIRST..=127 => {
                Ok(if inflated {
                    Step::Inflated
                } else {
                    Step::Payload(range)
                })
            }
            _ => {
                self.write_message(&msgs::Unimplemented { sequence: seq })?;
                Ok(Step::Continue)
            }
        }
    }
}

/// A packet's payload copied out of the transport's buffer into `buffer`'s allocation
/// (taken; the caller puts it back), so it can be dispatched while the transport sends:
/// no allocation per packet.
pub(crate) fn copy_payload(buffer: &mut Vec<u8>, payload: &[u8]) -> Vec<u8> {
    let mut copy = std::mem::take(buffer);
    copy.clear();
    copy.extend_from_slice(payload);
    copy
}
