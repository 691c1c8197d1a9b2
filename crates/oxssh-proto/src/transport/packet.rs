//! The binary packet protocol (RFC 4253 §6): framing, padding, sequence numbers, and
//! sealing/opening in place in one reusable buffer per direction.

use std::ops::Range;

use crate::crypto::{NoneOpener, NoneSealer, Opener, Sealer, SecureRandom};
use crate::error::{PeerMisbehaved, TransportError};

/// Minimum padding (RFC 4253 §6).
const MIN_PADDING: usize = 4;
/// Smallest `packet_length`: the padding-length byte and the minimum padding. With the
/// length field counted (no AAD) block alignment already makes it 12 or more (RFC 4253
/// §6's 16-byte minimum); AEAD and EtM ciphers leave the length out of the alignment, so
/// OpenSSH sends 8-byte packets for 1-3 byte payloads, and accepts them.
const MIN_PACKET_LEN: usize = 1 + MIN_PADDING;

/// Outgoing packets: pads, seals and queues ciphertext for the socket.
pub struct PacketWriter {
    sealer: Box<dyn Sealer>,
    seq: u32,
    /// Storage, all of it initialised: `out_start..out_end` is ciphertext waiting for
    /// the socket, `out_end..` is room the next packet is built in (reused, so a
    /// packet's data area is not zeroed each time).
    out: Vec<u8>,
    out_start: usize,
    out_end: usize,
    /// Bytes and packets sealed under the current keys.
    pub(crate) counters: TrafficCounters,
}

/// Traffic under the current keys, for re-key limits.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TrafficCounters {
    pub bytes: u64,
    pub packets: u64,
}

impl std::fmt::Debug for PacketWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketWriter")
            .field("seq", &self.seq)
            .field("queued", &(self.out_end - self.out_start))
            .finish_non_exhaustive()
    }
}

impl Default for PacketWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PacketWriter {
    /// A writer with no encryption (before the first NEWKEYS).
    pub fn new() -> Self {
        Self {
            sealer: Box::new(NoneSealer),
            seq: 0,
            out: Vec::with_capacity(4096),
            out_start: 0,
            out_end: 0,
            counters: TrafficCounters::default(),
        }
    }

    /// Appends raw bytes (the identification line) to the output.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        if let Some(room) = self.room(bytes.len()).get_mut(..bytes.len()) {
            room.copy_from_slice(bytes);
        }
        self.out_end += bytes.len();
    }

    /// Frames, pads and seals one payload into the output buffer.
    pub fn write_packet(
        &mut self,
        payload: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<(), TransportError> {
        self.write_packet_parts(&[payload], rng)
    }

    /// As [`PacketWriter::write_packet`] for a payload given in pieces (a message header
    /// and its data), copied once, straight into the packet buffer.
    pub fn write_packet_parts(
        &mut self,
        parts: &[&[u8]],
        rng: &dyn SecureRandom,
    ) -> Result<(), TransportError> {
        let payload_len: usize = parts.iter().map(|p| p.len()).sum();
        let frame = self.frame(payload_len)?;
        let mut at = 5;
        let room = self.room(frame.total);
        for part in parts {
            if let Some(dst) = room.get_mut(at..at + part.len()) {
                dst.copy_from_slice(part);
            }
            at += part.len();
        }
        self.seal_framed(frame, rng)
    }

    /// Builds one packet in place: `fill` writes the payload straight into the output
    /// buffer (at most `max_payload` bytes of it, which hold whatever was there before)
    /// and returns its length; then the packet is framed, padded and sealed there. When
    /// `fill` fails or writes nothing, the output is as it was and no sequence number
    /// is used. The bytes sent are those [`PacketWriter::write_packet`] sends for the
    /// same payload.
    pub fn write_packet_with<E>(
        &mut self,
        max_payload: usize,
        rng: &dyn SecureRandom,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<Result<usize, E>, TransportError> {
        // Room for the longest framing: padding is at most one block plus the minimum.
        let worst = 5 + max_payload + self.sealer.block_size().max(8) + MIN_PADDING;
        let worst = worst + self.sealer.tag_len();
        let payload = self.room(worst).get_mut(5..5 + max_payload);
        let n = match payload.map(fill) {
            Some(Ok(n)) => n.min(max_payload),
            Some(Err(e)) => return Ok(Err(e)),
            None => 0,
        };
        if n == 0 {
            return Ok(Ok(0));
        }
        let frame = self.frame(n)?;
        self.seal_framed(frame, rng)?;
        Ok(Ok(n))
    }

    /// Sizes the packet for a payload of `payload_len` bytes (RFC 4253 §6).
    fn frame(&self, payload_len: usize) -> Result<Frame, TransportError> {
        let block = self.sealer.block_size().max(8);
        let aad = self.sealer.aad_len();
        // Padding covers everything but the length field when it is AAD (AEAD, EtM).
        let unpadded = 4 - aad + 1 + payload_len;
        let mut padding = block - unpadded % block;
        if padding < MIN_PADDING {
            padding += block;
        }
        let packet_len = 1 + payload_len + padding;
        let wire_packet_len = u32::try_from(packet_len)
            .map_err(|_| TransportError::ApiMisuse("payload too large"))?;
        Ok(Frame {
            payload_len,
            padding,
            packet_len,
            wire_packet_len,
            total: 4 + packet_len + self.sealer.tag_len(),
        })
    }

    /// At least `n` initialised bytes after the queued output (grown, and zeroed, only
    /// past the largest size it had).
    fn room(&mut self, n: usize) -> &mut [u8] {
        let end = self.out_end + n;
        if self.out.len() < end {
            self.out.resize(end, 0);
        }
        self.out.get_mut(self.out_end..).unwrap_or_default()
    }

    /// Completes the packet whose payload sits at `out_end + 5` (room for `frame.total`
    /// bytes there): length fields, random padding, seal; then queues it.
    fn seal_framed(&mut self, frame: Frame, rng: &dyn SecureRandom) -> Result<(), TransportError> {
        let start = self.out_end;
        let region = self
            .out
            .get_mut(start..start + frame.total)
            .ok_or(TransportError::ApiMisuse("packet room"))?;
        let (packet, tag) = region.split_at_mut(4 + frame.packet_len);
        let (header, body) = packet.split_at_mut(5);
        if let Some(len) = header.get_mut(..4) {
            len.copy_from_slice(&frame.wire_packet_len.to_be_bytes());
        }
        if let Some(pad_len) = header.get_mut(4) {
            // INVARIANT: padding < 2 * block <= 512 for any sane cipher, fits a byte.
            *pad_len = u8::try_from(frame.padding).unwrap_or(u8::MAX);
        }
        if let Some(pad) = body.get_mut(frame.payload_len..) {
            rng.fill(pad).map_err(TransportError::Crypto)?;
        }
        self.sealer.seal(self.seq, packet, tag);
        self.seq = self.seq.wrapping_add(1);
        self.out_end += frame.total;
        self.counters.bytes += frame.total as u64;
        self.counters.packets += 1;
        Ok(())
    }

    /// Switches to new keys (after we send NEWKEYS).
    pub fn set_sealer(&mut self, sealer: Box<dyn Sealer>, reset_seq: bool) {
        self.sealer = sealer;
        if reset_seq {
            self.seq = 0;
        }
        self.counters = TrafficCounters::default();
    }

    /// Sequence number of the next packet.
    pub fn seq(&self) -> u32 {
        self.seq
    }

    pub(crate) fn set_seq(&mut self, seq: u32) {
        self.seq = seq;
    }

    /// Ciphertext waiting for the socket.
    pub fn pending(&self) -> &[u8] {
        self.out
            .get(self.out_start..self.out_end)
            .unwrap_or_default()
    }

    /// Marks `n` bytes of [`PacketWriter::pending`] as written.
    pub fn advance(&mut self, n: usize) {
        self.out_start = (self.out_start + n).min(self.out_end);
        if self.out_start == self.out_end {
            self.out_start = 0;
            self.out_end = 0;
        }
    }
}

/// One packet's sizes (RFC 4253 §6).
#[derive(Debug, Clone, Copy)]
struct Frame {
    payload_len: usize,
    padding: usize,
    /// `packet_length`: padding-length byte, payload and padding.
    packet_len: usize,
    wire_packet_len: u32,
    /// Bytes on the wire: length field, packet and tag.
    total: usize,
}

/// Incoming packets: buffers ciphertext, checks lengths and padding, opens in place.
pub struct PacketReader {
    opener: Box<dyn Opener>,
    seq: u32,
    /// Storage, all of it initialised: `start..end` is ciphertext not yet returned as
    /// packets, `end..` is room a socket read can fill in place ([`PacketReader::spare`]).
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pending_len: Option<usize>,
    max_packet_len: usize,
    pub(crate) counters: TrafficCounters,
}

impl std::fmt::Debug for PacketReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketReader")
            .field("seq", &self.seq)
            .field("buffered", &(self.end - self.start))
            .finish_non_exhaustive()
    }
}

/// One opened packet: its sequence number and where its payload sits in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPacket {
    /// Sequence number it arrived with.
    pub seq: u32,
    /// Payload range inside the reader's buffer.
    pub payload: Range<usize>,
}

impl PacketReader {
    /// A reader with no encryption, accepting packets up to `max_packet_len`.
    pub fn new(max_packet_len: u32) -> Self {
        Self {
            opener: Box::new(NoneOpener),
            seq: 0,
            buf: Vec::new(),
            start: 0,
            end: 0,
            pending_len: None,
            max_packet_len: (max_packet_len as usize).max(35_000),
            counters: TrafficCounters::default(),
        }
    }

    /// Appends ciphertext from the socket. Space of packets already returned is reclaimed.
    pub fn feed(&mut self, data: &[u8]) {
        self.make_room(data.len());
        let end = self.end + data.len();
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        if let Some(room) = self.buf.get_mut(self.end..end) {
            room.copy_from_slice(data);
        }
        self.end = end;
    }

    /// Room of at least `min` bytes after the buffered ciphertext, for a socket read
    /// straight into the buffer (no copy through a read buffer), if the buffer already
    /// has that much capacity: an idle connection keeps a small buffer and its caller
    /// reads into a shared one and [`PacketReader::feed`]s instead. Mark what was read
    /// with [`PacketReader::filled`].
    pub fn spare(&mut self, min: usize) -> Option<&mut [u8]> {
        if self.buf.len() - self.end < min {
            self.compact();
        }
        self.buf
            .get_mut(self.end..)
            .filter(|room| room.len() >= min)
    }

    /// The first `n` bytes of [`PacketReader::spare`] hold ciphertext now.
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Bytes received but not yet returned as packets.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Makes room for `more` bytes: drops packets already returned when the room after
    /// the buffered bytes is short, so that a partial packet moves at most once.
    fn make_room(&mut self, more: usize) {
        if self.buf.len() - self.end < more {
            self.compact();
        }
    }

    /// Moves the buffered bytes to the front, dropping packets already returned.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Switches to new keys (after we receive NEWKEYS).
    pub fn set_opener(&mut self, opener: Box<dyn Opener>, reset_seq: bool) {
        self.opener = opener;
        if reset_seq {
            self.seq = 0;
        }
        self.counters = TrafficCounters::default();
    }

    /// Sequence number the next packet will carry.
    pub fn seq(&self) -> u32 {
        self.seq
    }

    pub(crate) fn set_seq(&mut self, seq: u32) {
        self.seq = seq;
    }

    /// The payload of a packet returned by [`PacketReader::next_packet`].
    pub fn payload(&self, range: &Range<usize>) -> &[u8] {
        self.buf.get(range.clone()).unwrap_or_default()
    }

    /// Opens the next complete packet, if one is buffered. Its payload stays valid
    /// until the next [`PacketReader::feed`] or [`PacketReader::spare`].
    pub fn next_packet(&mut self) -> Result<Option<OpenedPacket>, PeerMisbehaved> {
        let packet_len = match self.pending_len {
            Some(len) => len,
            None => {
                let header_len = self.opener.header_len();
                let buffered = self.buf.get_mut(self.start..self.end).unwrap_or_default();
                let Some(header) = buffered.get_mut(..header_len) else {
                    return Ok(None);
                };
                let len = self.opener.packet_length(self.seq, header) as usize;
                self.check_length(len)?;
                self.pending_len = Some(len);
                len
            }
        };
        let tag_len = self.opener.tag_len();
        let total = 4 + packet_len + tag_len;
        let buffered = self.buf.get_mut(self.start..self.end).unwrap_or_default();
        let Some(region) = buffered.get_mut(..total) else {
            return Ok(None);
        };
        let (packet, tag) = region.split_at_mut(4 + packet_len);
        self.opener
            .open(self.seq, packet, tag)
            .map_err(|_| PeerMisbehaved::BadMac)?;
        let padding = usize::from(*packet.get(4).ok_or(PeerMisbehaved::BadPadding)?);
        if padding < MIN_PADDING || padding + 1 >= packet_len {
            return Err(PeerMisbehaved::BadPadding);
        }
        let payload_start = self.start + 5;
        let payload_end = self.start + 4 + packet_len - padding;
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.start += total;
        self.pending_len = None;
        self.counters.bytes += total as u64;
        self.counters.packets += 1;
        Ok(Some(OpenedPacket {
            seq,
            payload: payload_start..payload_end,
        }))
    }

    fn check_length(&self, len: usize) -> Result<(), PeerMisbehaved> {
        let block = self.opener.block_size().max(8);
        let aligned = if self.opener.aad_len() == 0 {
            (4 + len) % block == 0
        } else {
            len % block == 0
        };
        if len > self.max_packet_len || len < MIN_PACKET_LEN || !aligned {
            return Err(PeerMisbehaved::BadPacketLength(
                u32::try_from(len).unwrap_or(u32::MAX),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::crypto::CryptoError;

    struct ZeroRandom;
    impl SecureRandom for ZeroRandom {
        fn fill(&self, dest: &mut [u8]) -> Result<(), CryptoError> {
            dest.fill(0xaa);
            Ok(())
        }
    }

    #[test]
    fn plaintext_packets_round_trip_with_valid_padding() {
        let mut w = PacketWriter::new();
        let mut r = PacketReader::new(35_000);
        for len in [1usize, 2, 3, 4, 5, 11, 12, 100, 1000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            w.write_packet(&payload, &ZeroRandom).unwrap();
            let wire = w.pending().to_vec();
            assert_eq!(wire.len() % 8, 0);
            assert!(wire.len() >= 16, "RFC 4253 §6 minimum without AAD");
            w.advance(wire.len());
            // Feed one byte at a time: partial input never yields a packet early.
            for (i, b) in wire.iter().enumerate() {
                r.feed(std::slice::from_ref(b));
                let got = r.next_packet().unwrap();
                if i + 1 < wire.len() {
                    assert!(got.is_none());
                } else {
                    let p = got.unwrap();
                    assert_eq!(r.payload(&p.payload), &payload[..]);
                }
            }
        }
        assert_eq!(r.seq(), 9);
    }

    #[test]
    fn socket_reads_land_in_place_once_the_buffer_has_room() {
        let mut w = PacketWriter::new();
        let mut r = PacketReader::new(35_000);
        assert!(r.spare(1).is_none(), "an idle reader owns no room");
        let payloads: Vec<Vec<u8>> = (0..40).map(|i| vec![i as u8; 1000 + i * 37]).collect();
        for p in &payloads {
            w.write_packet(p, &ZeroRandom).unwrap();
        }
        let wire = w.pending().to_vec();
        // The first read goes through `feed`, which sizes the buffer; the rest land in
        // place in odd-sized pieces, splitting packets anywhere.
        let (first, mut rest) = wire.split_at(20_000);
        r.feed(first);
        let mut got = Vec::new();
        let mut in_place = 0;
        loop {
            while let Some(p) = r.next_packet().unwrap() {
                got.push(r.payload(&p.payload).to_vec());
            }
            if rest.is_empty() {
                break;
            }
            let room = r
                .spare(1000)
                .expect("room once the first read sized the buffer");
            let n = room.len().min(rest.len()).min(1_333);
            room[..n].copy_from_slice(&rest[..n]);
            r.filled(n);
            rest = &rest[n..];
            in_place += 1;
        }
        assert_eq!(got, payloads);
        assert!(in_place > 20);
        assert_eq!(r.buffered(), 0);
        assert!(r.spare(1 << 20).is_none(), "room is never grown by asking");
    }

    #[test]
    fn oversized_and_misaligned_lengths_are_refused_before_buffering() {
        let mut r = PacketReader::new(35_000);
        r.feed(&[0xff, 0xff, 0xff, 0xf0, 4]);
        assert!(matches!(
            r.next_packet(),
            Err(PeerMisbehaved::BadPacketLength(_))
        ));
        let mut r = PacketReader::new(35_000);
        r.feed(&[0, 0, 0, 13, 4]);
        assert!(matches!(
            r.next_packet(),
            Err(PeerMisbehaved::BadPacketLength(13))
        ));
    }

    #[test]
    fn short_padding_is_refused() {
        let mut r = PacketReader::new(35_000);
        // length 12, padding 3: too little padding.
        r.feed(&[0, 0, 0, 12, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(r.next_packet(), Err(PeerMisbehaved::BadPadding));
        let mut r = PacketReader::new(35_000);
        // padding as long as the whole packet.
        r.feed(&[0, 0, 0, 12, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(r.next_packet(), Err(PeerMisbehaved::BadPadding));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut w = PacketWriter::new();
        let mut r = PacketReader::new(35_000);
        w.set_seq(u32::MAX);
        r.set_seq(u32::MAX);
        for _ in 0..2 {
            w.write_packet(b"x", &ZeroRandom).unwrap();
        }
        r.feed(w.pending());
        assert_eq!(r.next_packet().unwrap().unwrap().seq, u32::MAX);
        assert_eq!(r.next_packet().unwrap().unwrap().seq, 0);
        assert_eq!(w.seq(), 1);
    }
}
