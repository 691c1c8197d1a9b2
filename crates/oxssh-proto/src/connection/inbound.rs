//! Channel data from the peer, the bulk of a busy connection: checked against the
//! channel's window and maximum packet, offered to a [`DataSink`] straight from the
//! decrypted packet, and buffered for the application as far as the sink left it.

use oxssh_wire::connection::{self as msgs, data, num};

use super::{misbehaved, refill_window, Channel, ChannelId, Connection, ConnectionEvent};
use crate::error::TransportError;
use crate::transport::Transport;

/// Takes a channel's data straight from the decrypted packet, before it is buffered:
/// given the channel and the bytes, returns how many it consumed (the rest is buffered
/// as usual). Only offered data that nothing buffered precedes, so order is kept.
pub type DataSink<'a> = dyn FnMut(ChannelId, &[u8]) -> usize + 'a;

impl Connection {
    /// Handles `payload` when it is channel data (the bulk of a busy connection), which
    /// needs no transport: the caller can pass the decrypted packet straight through
    /// instead of copying it out first. `None` when it is another message.
    pub fn handle_data(&mut self, payload: &[u8]) -> Option<Result<(), TransportError>> {
        self.handle_data_into(payload, &mut |_, _| 0)
    }

    /// As [`Connection::handle_data`], offering the data to `sink` before buffering it;
    /// call [`Connection::refill_windows`] once the packet is no longer borrowed.
    pub fn handle_data_into(
        &mut self,
        payload: &[u8],
        sink: &mut DataSink<'_>,
    ) -> Option<Result<(), TransportError>> {
        match payload.first().copied() {
            Some(num::CHANNEL_DATA) => Some(
                data::decode(payload)
                    .map_err(TransportError::from)
                    .and_then(|(recipient, bytes)| self.receive_data(recipient, bytes, sink)),
            ),
            Some(num::CHANNEL_EXTENDED_DATA) => Some(
                data::decode_extended(payload)
                    .map_err(TransportError::from)
                    .and_then(|(recipient, kind, bytes)| {
                        // Only stderr is defined; other types are consumed and dropped.
                        let stderr = kind == msgs::EXTENDED_DATA_STDERR;
                        self.receive_extended(recipient, bytes, stderr)
                    }),
            ),
            _ => None,
        }
    }

    /// Sends the window adjustments due after a [`DataSink`] took data.
    pub fn refill_windows(&mut self, tx: &mut Transport) -> Result<(), TransportError> {
        while let Some(id) = self.drained_directly.pop() {
            if let Some(channel) = self.channels.get_mut(&id) {
                refill_window(tx, channel)?;
            }
        }
        Ok(())
    }

    /// Channel data: offered to `sink` when nothing is buffered ahead of it, the rest
    /// buffered.
    fn receive_data(
        &mut self,
        recipient: u32,
        bytes: &[u8],
        sink: &mut DataSink<'_>,
    ) -> Result<(), TransportError> {
        let channel = self.accept_data(recipient, bytes)?;
        if channel.close_sent || bytes.is_empty() {
            return Ok(());
        }
        let id = channel.id;
        let mut rest = bytes;
        if channel.stdout.is_empty() {
            let taken = sink(id, bytes);
            rest = bytes.get(taken..).unwrap_or_default();
            if taken > 0 {
                self.drained_directly.push(id);
            }
        }
        self.buffer_data(id, rest, false);
        Ok(())
    }

    /// Extended data: stderr is buffered, other types are dropped.
    fn receive_extended(
        &mut self,
        recipient: u32,
        bytes: &[u8],
        stderr: bool,
    ) -> Result<(), TransportError> {
        let channel = self.accept_data(recipient, bytes)?;
        if channel.close_sent || bytes.is_empty() {
            return Ok(());
        }
        let id = channel.id;
        if stderr {
            self.buffer_data(id, bytes, true);
        } else {
            // Undefined type: dropped, as OpenSSH does; its window is given back.
            self.drained_directly.push(id);
        }
        Ok(())
    }

    /// Checks data against the channel's maximum packet, window and EOF, and takes it
    /// out of the window.
    fn accept_data(
        &mut self,
        recipient: u32,
        bytes: &[u8],
    ) -> Result<&mut Channel, TransportError> {
        let channel = self.remote(recipient)?;
        if bytes.len() > channel.local_max_packet as usize {
            return Err(misbehaved("data packet larger than the maximum"));
        }
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        if len > channel.local_window {
            return Err(misbehaved("data beyond the window"));
        }
        if channel.eof_received {
            return Err(misbehaved("data after EOF"));
        }
        channel.local_window -= len;
        Ok(channel)
    }

    /// Buffers data for the application, announcing it when the channel had none.
    fn buffer_data(&mut self, id: ChannelId, bytes: &[u8], stderr: bool) {
        let Some(channel) = self.channels.get_mut(&id) else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        let was_empty = channel.buffered() == 0;
        if stderr {
            channel.stderr.extend(bytes);
        } else {
            channel.stdout.extend(bytes);
        }
        if was_empty {
            self.events.push_back(ConnectionEvent::Readable(id));
        }
    }
}
