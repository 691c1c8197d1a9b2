//! One channel's state: its lifecycle, both windows (RFC 4254 §5.2) and the bytes
//! received but not yet read. Flow control is per channel and counted in bytes, so a
//! consumer that stops reading closes only its own window.

use std::collections::VecDeque;

/// A channel number on our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

/// Where a channel is in its life (RFC 4254 §5.1, §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// We sent CHANNEL_OPEN and wait for the answer.
    Opening,
    /// The peer asked to open it; the application has not answered yet.
    Offered,
    /// Open: data may flow.
    Open,
    /// Gone from the peer's view (both CLOSEs exchanged, or the open failed);
    /// buffered data may still be read until the application releases it.
    Closed,
}

/// Receive window we advertise per channel: twice OpenSSH's session default (2 MiB).
/// A bulk sender to us otherwise runs out of window while we still decrypt and hand
/// on the first half: with 2 MiB oxssh waited ~40% of an upload to oxsshd for
/// WINDOW_ADJUSTs, and 4 MiB gave 1.2-1.5x its throughput (16 MiB was slower: the
/// data no longer stays in cache). It bounds what a channel's peer can make us hold.
pub const DEFAULT_WINDOW: u32 = 4 * 1024 * 1024;
/// Largest data payload we accept per packet. Four times OpenSSH's session default
/// (32 KiB): bulk transfers need a quarter of the packets, each with its own AEAD/MAC
/// setup, header and window bookkeeping. Every peer honours the maximum we advertise,
/// and such a packet (plus header, padding and MAC) stays well under the 256 KiB
/// packet length OpenSSH's and our transport accept (`PACKET_MAX_SIZE`).
pub const DEFAULT_MAX_PACKET: u32 = 128 * 1024;
/// Least peer packet size for which data is best read straight into each packet
/// (`write_with`) rather than through a large buffer: below it (OpenSSH takes 32 KiB)
/// every packet would cost a read, or an SFTP request, of its own, which costs more
/// than the copy it saves.
pub const MIN_IN_PLACE_PACKET: u32 = 64 * 1024;

/// The state of one channel.
#[derive(Debug)]
pub struct Channel {
    /// Our number.
    pub id: ChannelId,
    /// The peer's number, once known.
    pub remote_id: u32,
    /// Life-cycle stage.
    pub lifecycle: Lifecycle,
    /// The channel type (`session`, ...).
    pub channel_type: String,
    /// Bytes we may still send before the peer adjusts its window.
    pub remote_window: u64,
    /// Largest data payload the peer accepts per packet.
    pub remote_max_packet: u32,
    /// Bytes the peer may still send us.
    pub local_window: u32,
    /// The window size we restore to when the application reads.
    pub local_window_size: u32,
    /// Largest data payload we accept.
    pub local_max_packet: u32,
    /// Received data not yet read.
    pub stdout: VecDeque<u8>,
    /// Received extended data (stderr) not yet read.
    pub stderr: VecDeque<u8>,
    /// The peer sent EOF.
    pub eof_received: bool,
    /// We sent EOF.
    pub eof_sent: bool,
    /// The peer sent CLOSE.
    pub close_received: bool,
    /// We sent CLOSE.
    pub close_sent: bool,
    /// Requests we sent with want_reply, awaiting SUCCESS/FAILURE in order.
    pub pending_replies: usize,
}

impl Channel {
    /// A new channel with our default window.
    pub fn new(id: ChannelId, channel_type: &str, lifecycle: Lifecycle) -> Self {
        Self {
            id,
            remote_id: 0,
            lifecycle,
            channel_type: channel_type.to_owned(),
            remote_window: 0,
            remote_max_packet: 0,
            local_window: DEFAULT_WINDOW,
            local_window_size: DEFAULT_WINDOW,
            local_max_packet: DEFAULT_MAX_PACKET,
            stdout: VecDeque::new(),
            stderr: VecDeque::new(),
            eof_received: false,
            eof_sent: false,
            close_received: false,
            close_sent: false,
            pending_replies: 0,
        }
    }

    /// Bytes waiting to be read, both streams.
    pub fn buffered(&self) -> usize {
        self.stdout.len() + self.stderr.len()
    }

    /// How much to add back to our window after the application read, if it is worth a
    /// WINDOW_ADJUST: once half the window is consumed (as OpenSSH does).
    pub fn window_refill(&self) -> Option<u32> {
        if !matches!(self.lifecycle, Lifecycle::Open) || self.close_sent || self.eof_received {
            return None;
        }
        // Count buffered bytes as still in use: the window covers what we hold.
        let in_use = self.local_window as u64 + self.buffered() as u64;
        let free = (self.local_window_size as u64).saturating_sub(in_use);
        if free >= u64::from(self.local_window_size / 2) {
            u32::try_from(free).ok()
        } else {
            None
        }
    }
}

/// Copies up to `out.len()` bytes from the front of `queue`.
pub fn drain_into(queue: &mut VecDeque<u8>, out: &mut [u8]) -> usize {
    let n = out.len().min(queue.len());
    let (front, back) = queue.as_slices();
    let first = n.min(front.len());
    if let (Some(dst), Some(src)) = (out.get_mut(..first), front.get(..first)) {
        dst.copy_from_slice(src);
    }
    let second = n - first;
    if let (Some(dst), Some(src)) = (out.get_mut(first..n), back.get(..second)) {
        dst.copy_from_slice(src);
    }
    queue.drain(..n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_handles_wrapped_queues() {
        let mut q: VecDeque<u8> = VecDeque::with_capacity(4);
        q.extend([1, 2, 3]);
        q.pop_front();
        q.extend([4, 5]);
        let mut out = [0u8; 3];
        assert_eq!(drain_into(&mut q, &mut out), 3);
        assert_eq!(out, [2, 3, 4]);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![5]);
    }

    #[test]
    fn window_refills_after_half_is_read() {
        let mut c = Channel::new(ChannelId(0), "session", Lifecycle::Open);
        c.local_window = DEFAULT_WINDOW - 100;
        assert_eq!(c.window_refill(), None);
        c.local_window = DEFAULT_WINDOW / 2 - 1;
        c.stdout.extend(std::iter::repeat_n(0u8, 10));
        assert_eq!(c.window_refill(), None, "buffered bytes still count");
        c.stdout.clear();
        assert_eq!(c.window_refill(), Some(DEFAULT_WINDOW / 2 + 1));
    }
}
