//! The server's packets, framed straight out of the stream into one buffer: a large
//! answer (a 255 KiB DATA) is read into place once and handed out as a slice of the
//! buffer, not copied through a `BufReader` and again into a packet buffer; small ones
//! come several to a read.

use std::io;
use std::ops::Range;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Error, Result};
use crate::codec::MAX_PACKET;

/// The most read ahead of the packet being framed, for many small answers per read.
const READ_AHEAD: usize = 64 * 1024;

/// The stream's packets.
#[derive(Debug)]
pub(super) struct Inbound<R> {
    reader: R,
    /// `buf[start..end]` is received and not yet framed; allocated once.
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: AsyncRead + Unpin> Inbound<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: vec![0; 4 + MAX_PACKET + READ_AHEAD],
            start: 0,
            end: 0,
        }
    }

    /// Reads the next packet; where its body (type byte first) is in [`Inbound::get`].
    /// Valid until the next call.
    pub async fn next(&mut self) -> Result<Range<usize>> {
        if self.start == self.end {
            // Nothing kept: start over at the front, so a large packet fits in place.
            self.start = 0;
            self.end = 0;
        }
        self.fill_to(4).await?;
        let len = self
            .buf
            .get(self.start..self.start + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_be_bytes) as usize;
        if len == 0 || len > MAX_PACKET {
            return Err(Error::Protocol(format!("bad packet length {len}")));
        }
        self.fill_to(4 + len).await?;
        let body = self.start + 4..self.start + 4 + len;
        self.start = body.end;
        Ok(body)
    }

    /// Bytes of the buffer (a body [`Inbound::next`] gave).
    pub fn get(&self, range: Range<usize>) -> &[u8] {
        self.buf.get(range).unwrap_or_default()
    }

    /// Reads until `want` bytes (at most `4 + MAX_PACKET`) are buffered from `start`:
    /// what is missing of a large packet exactly, a small one with some read ahead.
    async fn fill_to(&mut self, want: usize) -> Result<()> {
        while self.end - self.start < want {
            if self.start + want > self.buf.len() {
                // Only the partial packet moves (what was read ahead of it is framed).
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let missing = want - (self.end - self.start);
            let until = (self.end + missing.max(READ_AHEAD)).min(self.buf.len());
            let room = self.buf.get_mut(self.end..until).unwrap_or_default();
            let n = self.reader.read(room).await?;
            if n == 0 {
                return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            self.end += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn packet(body: &[u8]) -> Vec<u8> {
        let mut p = (body.len() as u32).to_be_bytes().to_vec();
        p.extend_from_slice(body);
        p
    }

    /// Packets of every size come out whole and in order however the stream splits
    /// them (the pipe hands over at most 1000 bytes at a time here), including ones
    /// that straddle the read ahead and the buffer's end.
    #[tokio::test]
    async fn frames_packets_across_any_split() {
        let sizes = [
            1,
            5,
            300,
            MAX_PACKET,
            17,
            READ_AHEAD - 3,
            MAX_PACKET - 1,
            2,
            9000,
        ];
        let bodies: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 31 + j * 7) as u8).collect())
            .collect();
        let stream: Vec<u8> = bodies.iter().flat_map(|b| packet(b)).collect();
        let (mut tx, rx) = tokio::io::duplex(1000);
        let writer = tokio::spawn(async move {
            tx.write_all(&stream).await.unwrap();
        });
        let mut inbound = Inbound::new(rx);
        for body in &bodies {
            let range = inbound.next().await.unwrap();
            assert_eq!(inbound.get(range), &body[..]);
        }
        writer.await.unwrap();
        assert!(matches!(inbound.next().await, Err(Error::Io(_))));
    }

    #[tokio::test]
    async fn refuses_empty_and_oversized_lengths() {
        for len in [0u32, MAX_PACKET as u32 + 1] {
            let bytes = len.to_be_bytes();
            let mut inbound = Inbound::new(&bytes[..]);
            assert!(matches!(inbound.next().await, Err(Error::Protocol(_))));
        }
    }
}
