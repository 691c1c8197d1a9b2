//! A session child's standard streams, driven by the connection task itself. Input
//! from the channel is written to the child's stdin without blocking, holding back
//! only the one chunk the pipe has not taken yet; output is read only as far as the
//! channel window (and the socket's backlog) lets it out, and goes straight into the
//! channel. No task per stream, no queue between tasks: a bulk transfer costs no
//! wake-ups across worker threads, and flow control bounds what is held in memory
//! (the kernel's pipe buffer, one input chunk, one read buffer per worker thread).

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use oxssh_proto::connection::{ChannelId, Lifecycle};
use oxssh_proto::{ServerConnection, TransportError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::session::Session;

/// Bytes taken from a channel towards the child's stdin per step.
pub(super) const INPUT_CHUNK: usize = 128 * 1024;
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
    /// The chunk being written, and how much of it the child took.
    queued: Vec<u8>,
    written: usize,
    /// The child closed its stdin: further input is discarded (the window stays open).
    broken: bool,
}

impl std::fmt::Debug for ChildInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildInput")
            .field("queued", &(self.queued.len() - self.written))
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl ChildInput {
    pub fn new(sink: Box<dyn AsyncWrite + Send + Unpin>) -> Self {
        Self {
            sink,
            queued: Vec::new(),
            written: 0,
            broken: false,
        }
    }

    /// Whether everything handed over reached the child: the next chunk may come.
    pub fn is_idle(&self) -> bool {
        self.written >= self.queued.len()
    }

    /// Hands over the next chunk (only when [`ChildInput::is_idle`]) and writes what
    /// the pipe takes now, if the runtime already knows it writable.
    pub fn queue(&mut self, data: Vec<u8>) {
        if self.broken {
            return;
        }
        self.queued = data;
        self.written = 0;
        let mut cx = Context::from_waker(std::task::Waker::noop());
        // Pending: the connection task's poll registers its waker next.
        let _ = self.poll_write(&mut cx);
    }

    /// Writes the queued chunk; ready once some of it went (or the child is gone).
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut progress = false;
        while !self.is_idle() {
            let rest = self.queued.get(self.written..).unwrap_or_default();
            match Pin::new(&mut *self.sink).poll_write(cx, rest) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    self.written += n;
                    progress = true;
                }
                Poll::Ready(_) => {
                    self.broken = true;
                    self.queued = Vec::new();
                    self.written = 0;
                    return Poll::Ready(());
                }
                Poll::Pending => break,
            }
        }
        if self.is_idle() {
            // A drained chunk's memory goes back now, not with the next one.
            self.queued = Vec::new();
            self.written = 0;
        }
        if progress {
            Poll::Ready(())
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
            progress |= input.poll_write(cx).is_ready();
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
            let read = OUTPUT_BUFFER.with_borrow_mut(|buf| {
                let window = buf.get_mut(..max).unwrap_or_default();
                let mut read_buf = ReadBuf::new(window);
                match Pin::new(&mut *output.source).poll_read(cx, &mut read_buf) {
                    Poll::Pending => Ok(false),
                    // The end, or an error reading (the child's end went away).
                    Poll::Ready(Err(_)) => {
                        output.eof = true;
                        Ok(true)
                    }
                    Poll::Ready(Ok(())) if read_buf.filled().is_empty() => {
                        output.eof = true;
                        Ok(true)
                    }
                    Poll::Ready(Ok(())) => core
                        .write(id, read_buf.filled(), output.stderr)
                        .map(|_| true),
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn input_holds_back_only_what_the_pipe_refuses_until_the_child_reads() {
        let pipe = tokio::net::unix::pipe::pipe();
        assert!(pipe.is_ok());
        let Ok((tx, mut rx)) = pipe else { return };
        let mut input = ChildInput::new(Box::new(tx));
        // More than a default pipe holds: the rest waits in the input.
        input.queue(vec![7u8; 512 * 1024]);
        assert!(!input.is_idle());
        // The child reads while the input is driven as the connection task does.
        let write = async {
            while !input.is_idle() {
                std::future::poll_fn(|cx| input.poll_write(cx)).await;
            }
        };
        let read = async {
            let mut received = 0;
            let mut buf = vec![0u8; 64 * 1024];
            while received < 512 * 1024 {
                match rx.read(&mut buf).await {
                    Ok(n) if n > 0 => received += n,
                    _ => break,
                }
            }
            received
        };
        let ((), received) = tokio::join!(write, read);
        assert_eq!(received, 512 * 1024);
        assert!(input.is_idle());
    }

    #[tokio::test]
    async fn input_to_a_child_that_closed_its_stdin_is_discarded() {
        let pipe = tokio::net::unix::pipe::pipe();
        assert!(pipe.is_ok());
        let Ok((tx, rx)) = pipe else { return };
        drop(rx);
        let mut input = ChildInput::new(Box::new(tx));
        input.queue(vec![1u8; 1024]);
        std::future::poll_fn(|cx| input.poll_write(cx)).await;
        // The write failed (EPIPE): nothing is held, and later input is dropped.
        assert!(input.is_idle());
        input.queue(vec![2u8; 1024]);
        assert!(input.is_idle());
    }
}
