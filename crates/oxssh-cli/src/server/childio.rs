//! A session child's standard streams, driven by the connection task itself. Input
//! from the channel goes to the child's stdin without blocking, straight from the
//! channel's receive buffer: what the pipe does not take stays there, under the
//! channel's window, and is copied once, into the pipe. Output is read only as far as
//! the channel window (and the socket's backlog) lets it out, and goes straight into
//! the channel. No task per stream, no queue between tasks: a bulk transfer costs no
//! wake-ups across worker threads, and flow control bounds what is held in memory
//! (the kernel's pipe buffer, the channel's window, one read buffer per worker thread).

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use oxssh_proto::connection::channel::MIN_IN_PLACE_PACKET;
use oxssh_proto::connection::{ChannelId, Lifecycle};
use oxssh_proto::{ServerConnection, TransportError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::session::Session;

/// Bytes per read of the child's output: large reads mean fewer steps per byte (128 KiB
/// beat 32 KiB by ~10% on downloads through `ssh`); the pipe holds 256 KiB.
const OUTPUT_CHUNK: usize = 256 * 1024;
/// The child's output is not read while more than this much ciphertext waits for
/// the socket: a slow client holds the child back even when its window is large.
const TRANSMIT_BACKLOG: usize = 1024 * 1024;

thread_local! {
    /// Where a worker thread reads children's output into; it goes into the channel
    /// before the next `await`, so one buffer per thread serves every session.
    static OUTPUT_BUFFER: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(vec![0; OUTPUT_CHUNK]);
}

/// The child's stdin (a pipe, or the pty master).
pub(crate) struct ChildInput {
    sink: Box<dyn AsyncWrite + Send + Unpin>,
    /// The child closed its stdin: further input is discarded (the window stays open).
    broken: bool,
}

impl std::fmt::Debug for ChildInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildInput")
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl ChildInput {
    pub fn new(sink: Box<dyn AsyncWrite + Send + Unpin>) -> Self {
        Self {
            sink,
            broken: false,
        }
    }

    /// Writes what channel `id` holds to the child, as far as the pipe takes it now,
    /// without registering for a wake-up (the connection task's next poll does that).
    /// Ready once all of it went (or was discarded: the child closed its stdin).
    pub fn push(
        &mut self,
        core: &mut ServerConnection,
        id: ChannelId,
    ) -> Poll<Result<(), TransportError>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.poll_write(core, id, &mut cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ if core.peek(id).is_empty() => Poll::Ready(Ok(())),
            _ => Poll::Pending,
        }
    }

    /// Writes `data`, fresh from the client with nothing buffered ahead of it, to the
    /// child as far as the pipe takes it now; returns how much it took (all of it once
    /// the child closed its stdin: discarded). The rest is buffered by the caller.
    pub fn offer(&mut self, data: &[u8]) -> usize {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.write_some(data, &mut cx) {
            Poll::Ready(n) => n,
            Poll::Pending => 0,
        }
    }

    /// One write of `data` to the child: how much went (all of it, discarded, once the
    /// child closed its stdin), pending with the waker registered when the pipe is full.
    fn write_some(&mut self, data: &[u8], cx: &mut Context<'_>) -> Poll<usize> {
        if self.broken {
            return Poll::Ready(data.len());
        }
        match Pin::new(&mut *self.sink).poll_write(cx, data) {
            Poll::Ready(Ok(n)) if n > 0 => Poll::Ready(n),
            Poll::Ready(_) => {
                self.broken = true;
                Poll::Ready(data.len())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Moves buffered input of channel `id` into the child; ready once some of it
    /// went (or was discarded), pending with the waker registered when the pipe is
    /// full, pending without when there is nothing to write.
    fn poll_write(
        &mut self,
        core: &mut ServerConnection,
        id: ChannelId,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        let mut progress = false;
        loop {
            let data = core.peek(id);
            if data.is_empty() {
                break;
            }
            let Poll::Ready(taken) = self.write_some(data, cx) else {
                break;
            };
            if let Err(e) = core.consume(id, taken) {
                return Poll::Ready(Err(e));
            }
            progress = true;
        }
        if progress {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

/// One of the child's output streams (stdout, stderr, or the pty master).
pub(crate) struct ChildOutput {
    source: Box<dyn AsyncRead + Send + Unpin>,
    stderr: bool,
    eof: bool,
}

impl std::fmt::Debug for ChildOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildOutput")
            .field("stderr", &self.stderr)
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl ChildOutput {
    pub fn new(source: Box<dyn AsyncRead + Send + Unpin>, stderr: bool) -> Self {
        Self {
            source,
            stderr,
            eof: false,
        }
    }

    pub fn is_open(&self) -> bool {
        !self.eof
    }

    /// Whether a read of `read` bytes whose poll came to `polled` moved anything: data,
    /// or the end of the output (nothing read, or an error reading: the child's end went
    /// away), which is noted.
    fn settle(&mut self, polled: Poll<std::io::Result<()>>, read: usize) -> bool {
        match polled {
            Poll::Pending => false,
            Poll::Ready(Ok(())) if read > 0 => true,
            Poll::Ready(_) => {
                self.eof = true;
                true
            }
        }
    }
}

/// How much output channel `id` can send right now.
fn room(core: &ServerConnection, id: ChannelId) -> usize {
    if core.transmit().len() >= TRANSMIT_BACKLOG {
        return 0;
    }
    match core.connection().channel(id) {
        Some(c) if c.lifecycle == Lifecycle::Open && !c.eof_sent && !c.close_sent => {
            usize::try_from(c.remote_window)
                .unwrap_or(usize::MAX)
                .min(OUTPUT_CHUNK)
        }
        _ => 0,
    }
}

/// Whether channel `id`'s output is read straight into its data packets: when the
/// client takes large packets ([`MIN_IN_PLACE_PACKET`]).
fn in_place(core: &ServerConnection, id: ChannelId) -> bool {
    core.connection()
        .channel(id)
        .is_some_and(|c| c.remote_max_packet >= MIN_IN_PLACE_PACKET)
}

/// Reads the child's output (at most `max` bytes) into a data packet of channel
/// `id`, which is then sent; whether anything moved (data, or the end of output).
fn read_into_packet(
    core: &mut ServerConnection,
    id: ChannelId,
    output: &mut ChildOutput,
    max: usize,
    cx: &mut Context<'_>,
) -> Result<bool, TransportError> {
    let source = &mut output.source;
    let mut polled = Poll::Pending;
    let Ok(sent) = core.write_with(id, max, output.stderr, |room| {
        let mut read_buf = ReadBuf::new(room);
        polled = Pin::new(&mut **source).poll_read(cx, &mut read_buf);
        Ok::<_, std::convert::Infallible>(read_buf.filled().len())
    })?;
    Ok(output.settle(polled, sent))
}

/// Moves bytes between the sessions' children and their channels: queued input into
/// the children, output into the channels as far as their windows allow. Ready when
/// anything moved (the caller then steps the core and comes back); pending otherwise,
/// with every stream that could move registered for a wake-up.
pub(crate) fn poll_children(
    sessions: &mut HashMap<ChannelId, Session>,
    core: &mut ServerConnection,
    cx: &mut Context<'_>,
) -> Poll<Result<(), TransportError>> {
    let mut progress = false;
    for (&id, s) in sessions.iter_mut() {
        if s.finished {
            continue;
        }
        if let Some(input) = s.stdin.as_mut() {
            if s.started {
                if let Poll::Ready(moved) = input.poll_write(core, id, cx) {
                    moved?;
                    progress = true;
                }
            }
        }
        // A greeting still waiting goes first.
        if !s.pending.is_empty() {
            continue;
        }
        for output in s.outputs.iter_mut().filter(|o| o.is_open()) {
            let max = room(core, id);
            if max == 0 {
                break;
            }
            if in_place(core, id) {
                progress |= read_into_packet(core, id, output, max, cx)?;
                continue;
            }
            let read = OUTPUT_BUFFER.with_borrow_mut(|buf| {
                let window = buf.get_mut(..max).unwrap_or_default();
                let mut read_buf = ReadBuf::new(window);
                let polled = Pin::new(&mut *output.source).poll_read(cx, &mut read_buf);
                let data = read_buf.filled();
                if matches!(polled, Poll::Ready(Ok(()))) && !data.is_empty() {
                    core.write(id, data, output.stderr)?;
                }
                Ok::<_, TransportError>(output.settle(polled, data.len()))
            });
            progress |= read?;
        }
    }
    if progress {
        Poll::Ready(Ok(()))
    } else {
        Poll::Pending
    }
}
