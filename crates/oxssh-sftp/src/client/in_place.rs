//! WRITE requests read from the file straight into the packet that carries them, for
//! streams that can build a packet in place (an SSH channel: [`InPlaceWrite`]). The
//! copy path reads into the request queue, which the stream then copies into packets.

use std::fs::File;
use std::io;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};

use super::{read_full_at, Result, Sftp};
use crate::codec;

/// A request stream that sends one message built in place in its own outgoing buffer,
/// such as an SSH channel's writer (an SFTP message then fits one packet).
pub trait InPlaceWrite: Send + std::fmt::Debug {
    /// Once at least `min` bytes may go as one message, calls `fill` with room for up
    /// to `max` (fewer when the stream allows fewer) and sends the bytes it says it
    /// wrote; returns that count, or `fill`'s error. `InvalidInput`: the stream can
    /// never take `min` bytes at once.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        min: usize,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>>;
}

/// Least file data a WRITE built in place waits for room for: smaller requests only
/// when the file has less left.
const MIN_DATA: usize = 16 * 1024;

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Sftp<R, W> {
    /// Sends a WRITE of `file`'s data at `offset` (at most `max` bytes) for `handle`,
    /// read straight into the packet: `Some((id, length))`, length 0 at the end of the
    /// file. `None`: no in-place stream (or it cannot take such a request); use the
    /// request queue.
    pub(super) async fn send_write_in_place(
        &mut self,
        handle: &[u8],
        offset: u64,
        max: usize,
        file: &File,
    ) -> Result<Option<(u32, usize)>> {
        if self.in_place.is_none() {
            return Ok(None);
        }
        // Requests already queued go first.
        self.flush().await?;
        let Some(stream) = self.in_place.as_mut() else {
            return Ok(None);
        };
        let id = self.next_id;
        let header = codec::write_header_len(handle);
        let min = header + max.min(MIN_DATA);
        let mut fill = |room: &mut [u8]| {
            codec::encode_write_into(room, id, handle, offset, |data| {
                read_full_at(file, data, offset)
            })
        };
        let sent =
            std::future::poll_fn(|cx| stream.poll_write_with(cx, min, header + max, &mut fill));
        match sent.await {
            Ok(0) => Ok(Some((id, 0))),
            Ok(len) => {
                self.next_id = self.next_id.wrapping_add(1);
                Ok(Some((id, len.saturating_sub(header))))
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                self.in_place = None;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}
