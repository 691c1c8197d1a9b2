//! The connection protocol (RFC 4254), shared by both roles: the channel table, flow
//! control in bytes per channel, channel and global requests, and the EOF/CLOSE
//! lifecycle. It sends through a [`Transport`] the caller passes in and queues
//! [`ConnectionEvent`]s; role-specific policy (what to accept) belongs to the caller.

pub mod channel;
mod event;
mod inbound;
pub mod requests;

use std::collections::{BTreeMap, VecDeque};

use oxssh_wire::connection::{self as msgs, data, num, open_failure};
use oxssh_wire::transport::Message;
use oxssh_wire::Reader;

use crate::error::{PeerMisbehaved, TransportError};
use crate::transport::Transport;
use channel::{drain_into, DEFAULT_MAX_PACKET, DEFAULT_WINDOW};
pub use channel::{Channel, ChannelId, Lifecycle};
pub use event::ConnectionEvent;
pub use inbound::DataSink;
pub use requests::{ChannelRequestKind, WindowSize};

/// Limits and sizes for the connection layer.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Most channels open at once; further opens are refused (resource shortage).
    pub max_channels: usize,
    /// Receive window we advertise per channel.
    pub window: u32,
    /// Largest data payload we accept per packet.
    pub max_packet: u32,
    /// Answer every global request from the peer with failure (a client's policy).
    pub reject_global_requests: bool,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            max_channels: 1024,
            window: DEFAULT_WINDOW,
            max_packet: DEFAULT_MAX_PACKET,
            reject_global_requests: true,
        }
    }
}

/// The channel table and its protocol.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    channels: BTreeMap<ChannelId, Channel>,
    next_id: u32,
    events: VecDeque<ConnectionEvent>,
    /// A channel data packet's header (the data itself goes straight into the packet).
    scratch: Vec<u8>,
    /// Channels whose data a [`DataSink`] took or which dropped data: their window may
    /// be due a refill.
    drained_directly: Vec<ChannelId>,
}

/// The longest channel data header: message number, channel, data type, length.
const CHANNEL_DATA_HEADER: usize = 1 + 4 + 4 + 4;

fn misbehaved(what: &'static str) -> TransportError {
    PeerMisbehaved::Channel(what).into()
}

fn misuse(what: &'static str) -> TransportError {
    TransportError::ApiMisuse(what)
}

impl Connection {
    /// An empty table.
    pub fn new(config: ConnectionConfig) -> Self {
        Self {
            config,
            channels: BTreeMap::new(),
            next_id: 0,
            events: VecDeque::new(),
            scratch: Vec::with_capacity(CHANNEL_DATA_HEADER),
            drained_directly: Vec::new(),
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.events.pop_front()
    }

    /// A channel's state.
    pub fn channel(&self, id: ChannelId) -> Option<&Channel> {
        self.channels.get(&id)
    }

    /// Every channel not yet released, by our number (for `~#`-style listings).
    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        self.channels.values()
    }

    /// Number of channels not yet released.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    fn allocate(&mut self, channel_type: &str, lifecycle: Lifecycle) -> Option<ChannelId> {
        if self.channels.len() >= self.config.max_channels {
            return None;
        }
        // Find a free number; the table is bounded, so this terminates quickly.
        while self.channels.contains_key(&ChannelId(self.next_id)) {
            self.next_id = self.next_id.wrapping_add(1);
        }
        let id = ChannelId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let mut channel = Channel::new(id, channel_type, lifecycle);
        channel.local_window = self.config.window;
        channel.local_window_size = self.config.window;
        channel.local_max_packet = self.config.max_packet;
        self.channels.insert(id, channel);
        Some(id)
    }

    fn get_mut(&mut self, id: ChannelId) -> Result<&mut Channel, TransportError> {
        self.channels
            .get_mut(&id)
            .ok_or_else(|| misuse("no such channel"))
    }

    /// Opens a channel of `channel_type` with type-specific `data` (RFC 4254 §5.1).
    pub fn open_channel(
        &mut self,
        tx: &mut Transport,
        channel_type: &str,
        data: &[u8],
    ) -> Result<ChannelId, TransportError> {
        let id = self
            .allocate(channel_type, Lifecycle::Opening)
            .ok_or_else(|| misuse("too many channels"))?;
        tx.send(
            &msgs::ChannelOpen {
                channel_type: channel_type.to_owned(),
                sender: id.0,
                window: self.config.window,
                max_packet: self.config.max_packet,
                data: data.to_vec(),
            }
            .to_payload(),
        )?;
        Ok(id)
    }

    /// Accepts a channel the peer offered.
    pub fn accept_open(&mut self, tx: &mut Transport, id: ChannelId) -> Result<(), TransportError> {
        let (window, max_packet) = (self.config.window, self.config.max_packet);
        let channel = self.get_mut(id)?;
        if channel.lifecycle != Lifecycle::Offered {
            return Err(misuse("channel was not offered"));
        }
        channel.lifecycle = Lifecycle::Open;
        let remote = channel.remote_id;
        tx.send(
            &msgs::ChannelOpenConfirmation {
                recipient: remote,
                sender: id.0,
                window,
                max_packet,
                data: Vec::new(),
            }
            .to_payload(),
        )
    }

    /// Refuses a channel the peer offered.
    pub fn reject_open(
        &mut self,
        tx: &mut Transport,
        id: ChannelId,
        reason: u32,
        description: &str,
    ) -> Result<(), TransportError> {
        let channel = self
            .channels
            .remove(&id)
            .ok_or_else(|| misuse("no such channel"))?;
        tx.send(
            &msgs::ChannelOpenFailure {
                recipient: channel.remote_id,
                reason,
                description: description.to_owned(),
                language: String::new(),
            }
            .to_payload(),
        )
    }

    /// Sends a channel request.
    pub fn request(
        &mut self,
        tx: &mut Transport,
        id: ChannelId,
        request: &ChannelRequestKind,
        want_reply: bool,
    ) -> Result<(), TransportError> {
        let channel = self.get_mut(id)?;
        if channel.lifecycle != Lifecycle::Open || channel.close_sent {
            return Err(misuse("channel not open"));
        }
        if want_reply {
            channel.pending_replies += 1;
        }
        let remote = channel.remote_id;
        tx.send(
            &msgs::ChannelRequest {
                recipient: remote,
                request_type: request.name().to_owned(),
                want_reply,
                data: request.encode_data(),
            }
            .to_payload(),
        )
    }

    /// Answers a peer's request that wanted a reply.
    pub fn reply_request(
        &mut self,
        tx: &mut Transport,
        id: ChannelId,
        success: bool,
    ) -> Result<(), TransportError> {
        let channel = self.get_mut(id)?;
        let recipient = channel.remote_id;
        if channel.close_sent {
            return Ok(());
        }
        let payload = if success {
            msgs::ChannelSuccess { recipient }.to_payload()
        } else {
            msgs::ChannelFailure { recipient }.to_payload()
        };
        tx.send(&payload)
    }

    /// Sends as much of `bytes` as the peer's window allows; returns how much was taken.
    /// `stderr` sends extended data (servers only).
    pub fn write(
        &mut self,
        tx: &mut Transport,
        id: ChannelId,
        bytes: &[u8],
        stderr: bool,
    ) -> Result<usize, TransportError> {
        let channel = writable(&mut self.channels, id)?;
        let budget = usize::try_from(channel.remote_window)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let chunk_size = (channel.remote_max_packet as usize).max(1);
        let mut sent = 0;
        let extended = stderr.then_some(msgs::EXTENDED_DATA_STDERR);
        for chunk in bytes.get(..budget).unwrap_or_default().chunks(chunk_size) {
            // Only the header goes through the scratch buffer; the data is copied once,
            // straight into the packet.
            self.scratch.clear();
            data::encode_header(&mut self.scratch, channel.remote_id, extended, chunk.len());
            tx.send_parts(&[&self.scratch, chunk])?;
            sent += chunk.len();
        }
        channel.remote_window -= sent as u64;
        Ok(sent)
    }

    /// Sends one data (or `stderr`: extended data) packet whose data `fill` writes
    /// straight into the outgoing packet buffer: at most `max` bytes, and no more than
    /// the peer's window and packet size allow. Returns how many bytes `fill` wrote
    /// (0 when the window is closed; `fill` is then not called), or its error; either
    /// way nothing is sent and no window is used unless it wrote something.
    pub fn write_with<E>(
        &mut self,
        tx: &mut Transport,
        id: ChannelId,
        max: usize,
        stderr: bool,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Result<usize, E>, TransportError> {
        let channel = writable(&mut self.channels, id)?;
        let budget = usize::try_from(channel.remote_window)
            .unwrap_or(usize::MAX)
            .min(channel.remote_max_packet as usize)
            .min(max);
        if budget == 0 {
            return Ok(Ok(0));
        }
        let extended = stderr.then_some(msgs::EXTENDED_DATA_STDERR);
        let recipient = channel.remote_id;
        let scratch = &mut self.scratch;
        scratch.clear();
        data::encode_header(scratch, recipient, extended, 0);
        let header_len = scratch.len();
        let sent = tx.send_with(header_len + budget, |payload| {
            let Some((header, room)) = payload.split_at_mut_checked(header_len) else {
                return Ok(0);
            };
            let n = fill(room.get_mut(..budget).unwrap_or_default())?.min(budget);
            if n == 0 {
                return Ok(0);
            }
            scratch.clear();
            data::encode_header(scratch, recipient, extended, n);
            header.copy_from_slice(scratch);
            Ok(header_len + n)
        })?;
        let sent = sent.map(|len| len.saturating_sub(header_len));
        if let Ok(n) = sent {
            channel.remote_window -= n as u64;
        }
        Ok(sent)
    }

    /// Reads buffered data (or stderr); refills the window once half of it is consumed.
    pub fn read(
        &mut self,
        tx: &mut Transport,
        id: ChannelId,
        buf: &mut [u8],
        stderr: bool,
    ) -> Result<usize, TransportError> {
        let channel = self.get_mut(id)?;
        let queue = if stderr {
            &mut channel.stderr
        } else {
            &mut channel.stdout
        };
        let n = drain_into(queue, buf);
        refill_window(tx, channel)?;
        Ok(n)
    }

    /// [`Connection::read`] into a new buffer of at most `max` bytes: one copy, for
    /// callers that hand the data on as an owned buffer anyway.
    pub fn read_owned(
        &mut self,
        tx: &mut Transport,
        id: ChannelId,
        max: usize,
        stderr: bool,
    ) -> Result<Vec<u8>, TransportError> {
        let channel = self.get_mut(id)?;
        let queue = if stderr {
            &mut channel.stderr
        } else {
            &mut channel.stdout
        };
        let n = max.min(queue.len());
        let mut out = Vec::with_capacity(n);
        let (front, back) = queue.as_slices();
        let first = n.min(front.len());
        out.extend_from_slice(front.get(..first).unwrap_or_default());
        out.extend_from_slice(back.get(..n - first).unwrap_or_default());
        queue.drain(..n);
        refill_window(tx, channel)?;
        Ok(out)
    }

    /// The oldest buffered data (or stderr) as one contiguous slice, left in place: a
    /// caller that hands it to a non-blocking sink (a pipe) copies it only there, then
    /// says with [`Connection::consume`] how much the sink took. Empty when nothing is
    /// buffered; the rest, if any, follows once this much is consumed.
    pub fn peek(&self, id: ChannelId, stderr: bool) -> &[u8] {
        match self.channels.get(&id) {
            Some(c) if stderr => c.stderr.as_slices().0,
            Some(c) => c.stdout.as_slices().0,
            None => &[],
        }
    }

    /// Drops the first `n` bytes of buffered data (or stderr), as far as there are
    /// that many, after [`Connection::peek`]; refills the window as [`Connection::read`].
    pub fn consume(
        &mut self,
        tx: &mut Transport,
        id: ChannelId,
        n: usize,
        stderr: bool,
    ) -> Result<(), TransportError> {
        let channel = self.get_mut(id)?;
        let queue = if stderr {
            &mut channel.stderr
        } else {
            &mut channel.stdout
        };
        queue.drain(..n.min(queue.len()));
        refill_window(tx, channel)
    }

    /// Sends EOF: we will write no more (RFC 4254 §5.3).
    pub fn send_eof(&mut self, tx: &mut Transport, id: ChannelId) -> Result<(), TransportError> {
        let channel = self.get_mut(id)?;
        if channel.eof_sent || channel.close_sent || channel.lifecycle != Lifecycle::Open {
            return Ok(());
        }
        channel.eof_sent = true;
        let recipient = channel.remote_id;
        tx.send(&msgs::ChannelEof { recipient }.to_payload())
    }

    /// Sends CLOSE; the channel is closed once the peer's CLOSE arrives too.
    pub fn close(&mut self, tx: &mut Transport, id: ChannelId) -> Result<(), TransportError> {
        let channel = self.get_mut(id)?;
        if channel.close_sent || channel.lifecycle != Lifecycle::Open {
            return Ok(());
        }
        channel.close_sent = true;
        let recipient = channel.remote_id;
        tx.send(&msgs::ChannelClose { recipient }.to_payload())
    }

    /// Forgets a closed channel and its unread data; its number may be reused.
    pub fn release(&mut self, id: ChannelId) {
        if self
            .channels
            .get(&id)
            .is_some_and(|c| c.lifecycle == Lifecycle::Closed)
        {
            self.channels.remove(&id);
        }
    }

    /// Sends a global request (RFC 4254 §4).
    pub fn global_request(
        &mut self,
        tx: &mut Transport,
        name: &str,
        want_reply: bool,
        data: &[u8],
    ) -> Result<(), TransportError> {
        tx.send(
            &msgs::GlobalRequest {
                name: name.to_owned(),
                want_reply,
                data: data.to_vec(),
            }
            .to_payload(),
        )
    }

    /// Answers a peer's global request.
    pub fn reply_global(
        &mut self,
        tx: &mut Transport,
        success: bool,
        data: &[u8],
    ) -> Result<(), TransportError> {
        if success {
            tx.send(
                &msgs::RequestSuccess {
                    data: data.to_vec(),
                }
                .to_payload(),
            )
        } else {
            tx.send(&msgs::RequestFailure.to_payload())
        }
    }

    /// Whether `payload` belongs to the connection protocol (numbers 80..=127).
    pub fn owns(payload: &[u8]) -> bool {
        payload.first().is_some_and(|n| (80..=127).contains(n))
    }

    /// Handles one connection-protocol message from the peer.
    pub fn handle(&mut self, tx: &mut Transport, payload: &[u8]) -> Result<(), TransportError> {
        let number = payload.first().copied().unwrap_or_default();
        if let Some(result) = self.handle_data(payload) {
            return result.and_then(|()| self.refill_windows(tx));
        }
        match number {
            num::CHANNEL_WINDOW_ADJUST => {
                let m = msgs::ChannelWindowAdjust::decode(payload)?;
                let channel = self.remote(m.recipient)?;
                // RFC 4254 §5.2: the window may not exceed 2^32 - 1.
                channel.remote_window =
                    (channel.remote_window + u64::from(m.bytes)).min(u64::from(u32::MAX));
                let id = channel.id;
                self.events.push_back(ConnectionEvent::Writable(id));
                Ok(())
            }
            num::GLOBAL_REQUEST => {
                let m = msgs::GlobalRequest::decode(payload)?;
                if self.config.reject_global_requests {
                    if m.want_reply {
                        tx.send(&msgs::RequestFailure.to_payload())?;
                    }
                } else {
                    self.events.push_back(ConnectionEvent::GlobalRequest {
                        name: m.name,
                        want_reply: m.want_reply,
                        data: m.data,
                    });
                }
                Ok(())
            }
            num::REQUEST_SUCCESS => {
                let m = msgs::RequestSuccess::decode(payload)?;
                self.events.push_back(ConnectionEvent::GlobalReply {
                    success: true,
                    data: m.data,
                });
                Ok(())
            }
            num::REQUEST_FAILURE => {
                msgs::RequestFailure::decode(payload)?;
                self.events.push_back(ConnectionEvent::GlobalReply {
                    success: false,
                    data: Vec::new(),
                });
                Ok(())
            }
            num::CHANNEL_OPEN => self.receive_open(tx, payload),
            num::CHANNEL_OPEN_CONFIRMATION => self.receive_confirmation(payload),
            num::CHANNEL_OPEN_FAILURE => {
                let m = msgs::ChannelOpenFailure::decode(payload)?;
                let id = ChannelId(m.recipient);
                match self.channels.get_mut(&id) {
                    Some(c) if c.lifecycle == Lifecycle::Opening => {
                        c.lifecycle = Lifecycle::Closed;
                    }
                    _ => return Err(misbehaved("open failure for a channel not opening")),
                }
                self.events.push_back(ConnectionEvent::OpenFailed {
                    id,
                    reason: m.reason,
                    description: m.description,
                });
                Ok(())
            }
            num::CHANNEL_EOF => {
                let m = msgs::ChannelEof::decode(payload)?;
                let channel = self.remote(m.recipient)?;
                channel.eof_received = true;
                let id = channel.id;
                self.events.push_back(ConnectionEvent::Eof(id));
                Ok(())
            }
            num::CHANNEL_CLOSE => {
                let m = msgs::ChannelClose::decode(payload)?;
                let channel = self.remote(m.recipient)?;
                channel.close_received = true;
                channel.lifecycle = Lifecycle::Closed;
                let (id, recipient, answer) = (channel.id, channel.remote_id, !channel.close_sent);
                channel.close_sent = true;
                if answer {
                    tx.send(&msgs::ChannelClose { recipient }.to_payload())?;
                }
                self.events.push_back(ConnectionEvent::Closed(id));
                Ok(())
            }
            num::CHANNEL_REQUEST => {
                let m = msgs::ChannelRequest::decode(payload)?;
                let channel = self.remote(m.recipient)?;
                let id = channel.id;
                let request = ChannelRequestKind::decode(&m.request_type, &m.data)?;
                self.events.push_back(ConnectionEvent::Request {
                    id,
                    request,
                    want_reply: m.want_reply,
                });
                Ok(())
            }
            num::CHANNEL_SUCCESS | num::CHANNEL_FAILURE => {
                // Both replies carry only the recipient channel.
                let mut r = Reader::new(payload);
                r.u8()?;
                let recipient = r.u32()?;
                r.finish()?;
                let channel = self.remote(recipient)?;
                if channel.pending_replies == 0 {
                    return Err(misbehaved("reply to no request"));
                }
                channel.pending_replies -= 1;
                let id = channel.id;
                self.events.push_back(ConnectionEvent::RequestReply {
                    id,
                    success: number == num::CHANNEL_SUCCESS,
                });
                Ok(())
            }
            _ => {
                // Unassigned connection numbers (101..=127).
                Err(PeerMisbehaved::UnexpectedMessage {
                    number,
                    phase: "connection",
                }
                .into())
            }
        }
    }

    /// The open channel our number `recipient` names, for messages from the peer.
    fn remote(&mut self, recipient: u32) -> Result<&mut Channel, TransportError> {
        // After our CLOSE the channel stays Open until the peer's CLOSE: messages racing
        // it are legal and consumed.
        match self.channels.get_mut(&ChannelId(recipient)) {
            Some(c) if c.lifecycle == Lifecycle::Open => Ok(c),
            _ => Err(misbehaved("message for an unknown or closed channel")),
        }
    }

    fn receive_open(&mut self, tx: &mut Transport, payload: &[u8]) -> Result<(), TransportError> {
        let m = msgs::ChannelOpen::decode(payload)?;
        let Some(id) = self.allocate(&m.channel_type, Lifecycle::Offered) else {
            return tx.send(
                &msgs::ChannelOpenFailure {
                    recipient: m.sender,
                    reason: open_failure::RESOURCE_SHORTAGE,
                    description: "too many channels".into(),
                    language: String::new(),
                }
                .to_payload(),
            );
        };
        let channel = self.get_mut(id)?;
        channel.remote_id = m.sender;
        channel.remote_window = u64::from(m.window);
        channel.remote_max_packet = m.max_packet;
        self.events.push_back(ConnectionEvent::OpenRequested {
            id,
            channel_type: m.channel_type,
            data: m.data,
        });
        Ok(())
    }

    fn receive_confirmation(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let m = msgs::ChannelOpenConfirmation::decode(payload)?;
        let id = ChannelId(m.recipient);
        match self.channels.get_mut(&id) {
            Some(c) if c.lifecycle == Lifecycle::Opening => {
                c.lifecycle = Lifecycle::Open;
                c.remote_id = m.sender;
                c.remote_window = u64::from(m.window);
                c.remote_max_packet = m.max_packet;
            }
            _ => return Err(misbehaved("confirmation for a channel not opening")),
        }
        self.events.push_back(ConnectionEvent::OpenConfirmed(id));
        Ok(())
    }
}

/// An open channel we may still send data on.
fn writable(
    channels: &mut BTreeMap<ChannelId, Channel>,
    id: ChannelId,
) -> Result<&mut Channel, TransportError> {
    let channel = channels
        .get_mut(&id)
        .ok_or_else(|| misuse("no such channel"))?;
    if channel.lifecycle != Lifecycle::Open || channel.eof_sent || channel.close_sent {
        return Err(misuse("channel not writable"));
    }
    Ok(channel)
}

/// Sends a WINDOW_ADJUST once the application has consumed half the window.
fn refill_window(tx: &mut Transport, channel: &mut Channel) -> Result<(), TransportError> {
    if let Some(refill) = channel.window_refill() {
        channel.local_window += refill;
        let recipient = channel.remote_id;
        tx.send(
            &msgs::ChannelWindowAdjust {
                recipient,
                bytes: refill,
            }
            .to_payload(),
        )?;
    }
    Ok(())
}
