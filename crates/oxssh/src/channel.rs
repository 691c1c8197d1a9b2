//! A channel as `AsyncRead` (stdout) + `AsyncWrite` (stdin), with a separate stderr
//! reader, session requests, and the exit status. Reading refills the window; a
//! reader that stops reading stalls only its own channel.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use oxssh_proto::connection::{ChannelId, ChannelRequestKind, WindowSize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::shared::{ExitStatus, Shared, StdoutSink, StdoutSinkFn};
use crate::Error;

/// An open channel. Dropping it closes the channel.
#[derive(Debug)]
pub struct Channel {
    shared: Arc<Shared>,
    id: ChannelId,
}

/// The stderr (extended data) stream of a channel.
#[derive(Debug)]
pub struct ChannelStderr {
    shared: Arc<Shared>,
    id: ChannelId,
}

/// A second writing handle, so one task can write while another reads the channel.
/// Shutting it down sends EOF; dropping it does not close the channel.
#[derive(Debug)]
pub struct ChannelWriter {
    shared: Arc<Shared>,
    id: ChannelId,
}

impl Channel {
    pub(crate) fn new(shared: Arc<Shared>, id: ChannelId) -> Self {
        Self { shared, id }
    }

    /// Our channel number.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// A writer for the channel's stdin, usable from another task.
    pub fn writer(&self) -> ChannelWriter {
        ChannelWriter {
            shared: self.shared.clone(),
            id: self.id,
        }
    }

    /// A reader for the channel's stderr.
    pub fn stderr(&self) -> ChannelStderr {
        ChannelStderr {
            shared: self.shared.clone(),
            id: self.id,
        }
    }

    async fn request(&self, request: ChannelRequestKind, what: &'static str) -> Result<(), Error> {
        {
            let mut inner = self.shared.lock();
            if let Some(e) = &inner.error {
                return Err(e.clone());
            }
            inner.conn.channel_request(self.id, &request, true)?;
        }
        self.shared.driver.notify_one();
        let id = self.id;
        let ok = self
            .shared
            .wait_for(|inner| {
                let slot = inner.slot(id);
                match slot.replies.pop_front() {
                    Some(ok) => Some(Ok(ok)),
                    None if slot.closed => Some(Err(Error::Closed)),
                    None => None,
                }
            })
            .await?;
        if ok {
            Ok(())
        } else {
            Err(Error::RequestFailed(what))
        }
    }

    fn notify(&self, request: ChannelRequestKind) -> Result<(), Error> {
        {
            let mut inner = self.shared.lock();
            if let Some(e) = &inner.error {
                return Err(e.clone());
            }
            inner.conn.channel_request(self.id, &request, false)?;
        }
        self.shared.driver.notify_one();
        Ok(())
    }

    /// Requests a pseudo-terminal (RFC 4254 §6.2); `modes` is the encoded terminal modes.
    pub async fn request_pty(
        &self,
        term: &str,
        size: WindowSize,
        modes: Vec<u8>,
    ) -> Result<(), Error> {
        self.request(
            ChannelRequestKind::PtyReq {
                term: term.to_owned(),
                size,
                modes,
            },
            "pty-req",
        )
        .await
    }

    /// Runs a command (RFC 4254 §6.5).
    pub async fn exec(&self, command: &str) -> Result<(), Error> {
        self.request(
            ChannelRequestKind::Exec {
                command: command.as_bytes().to_vec(),
            },
            "exec",
        )
        .await
    }

    /// Starts the user's shell.
    pub async fn shell(&self) -> Result<(), Error> {
        self.request(ChannelRequestKind::Shell, "shell").await
    }

    /// Starts a subsystem (`sftp`).
    pub async fn subsystem(&self, name: &str) -> Result<(), Error> {
        self.request(
            ChannelRequestKind::Subsystem {
                name: name.to_owned(),
            },
            "subsystem",
        )
        .await
    }

    /// Sets an environment variable; like OpenSSH, no reply is asked for.
    pub fn env(&self, name: &str, value: &str) -> Result<(), Error> {
        self.notify(ChannelRequestKind::Env {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }

    /// Reports a new terminal size.
    pub fn window_change(&self, size: WindowSize) -> Result<(), Error> {
        self.notify(ChannelRequestKind::WindowChange(size))
    }

    /// Delivers a signal (`INT`, `TERM`, ...).
    pub fn signal(&self, name: &str) -> Result<(), Error> {
        self.notify(ChannelRequestKind::Signal {
            name: name.to_owned(),
        })
    }

    /// Sends EOF: no more input.
    pub fn send_eof(&self) -> Result<(), Error> {
        {
            let mut inner = self.shared.lock();
            inner.conn.send_eof(self.id)?;
        }
        self.shared.driver.notify_one();
        Ok(())
    }

    /// Asks the server to forward agent connections to us (OpenSSH PROTOCOL
    /// `auth-agent-req@openssh.com`); like OpenSSH, no reply is asked for.
    pub fn request_agent_forwarding(&self) -> Result<(), Error> {
        self.notify(ChannelRequestKind::AuthAgent)
    }

    /// Sends BREAK (RFC 4335) of `ms` milliseconds.
    pub fn send_break(&self, ms: u32) -> Result<(), Error> {
        self.notify(ChannelRequestKind::Break(ms))
    }

    /// Waits until the channel closes; returns how the remote command ended.
    pub async fn wait(&self) -> Result<ExitStatus, Error> {
        let id = self.id;
        self.shared
            .wait_for(|inner| {
                let slot = inner.slot(id);
                if slot.closed {
                    slot.exit.clone().map(Ok)
                } else {
                    None
                }
            })
            .await
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        if let Some(slot) = inner.channels.get_mut(&self.id) {
            slot.stdout_sink = None;
        }
        if inner.error.is_none() {
            let _ = inner.conn.close(self.id);
        }
        if inner.slot(self.id).closed {
            inner.conn.release(self.id);
            inner.channels.remove(&self.id);
        }
        drop(inner);
        self.shared.driver.notify_one();
    }
}

/// Reads stdout (or stderr) into `buf`, registering the waker when nothing is there.
fn poll_read_stream(
    shared: &Shared,
    id: ChannelId,
    stderr: bool,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<std::io::Result<()>> {
    let mut inner = shared.lock();
    let n = match inner.conn.read(id, buf.initialize_unfilled(), stderr) {
        Ok(n) => n,
        Err(e) => return Poll::Ready(Err(Error::from(e).into())),
    };
    if n > 0 {
        buf.advance(n);
        drop(inner);
        // The read may have queued a window adjustment.
        shared.driver.notify_one();
        return Poll::Ready(Ok(()));
    }
    if inner.error.is_some() {
        return Poll::Ready(Ok(()));
    }
    let slot = inner.slot(id);
    if slot.eof || slot.closed {
        return Poll::Ready(Ok(()));
    }
    let waker = Some(cx.waker().clone());
    if stderr {
        slot.stderr_waker = waker;
    } else {
        slot.read_waker = waker;
    }
    Poll::Pending
}

impl Channel {
    /// Waits until stdout data is buffered (`true`) or the stream has ended (`false`:
    /// EOF, close, or a failed connection, which the next read reports).
    pub async fn readable(&self) -> bool {
        std::future::poll_fn(|cx| {
            let mut inner = self.shared.lock();
            if !inner.conn.peek(self.id, false).is_empty() {
                return Poll::Ready(true);
            }
            if inner.error.is_some() {
                return Poll::Ready(false);
            }
            let slot = inner.slot(self.id);
            if slot.eof || slot.closed {
                return Poll::Ready(false);
            }
            slot.read_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Lets `sink` take this channel's stdout straight from each decrypted packet while
    /// nothing is buffered ahead (no copy into the channel's buffer; what it leaves is
    /// buffered and read as usual, in order). `sink` runs on the connection's driver
    /// under its lock: it must not block, and returns how much it took (0 when full).
    pub fn set_stdout_sink(&self, sink: Box<StdoutSinkFn>) {
        self.shared.lock().slot(self.id).stdout_sink = Some(StdoutSink(sink));
    }

    /// Hands the oldest buffered stdout data to `write` where it lies, without copying
    /// it out first (e.g. to a non-blocking pipe), and drops what `write` says it took,
    /// which reopens the window. `Ok(0)`: nothing was buffered. `write` runs under the
    /// connection's lock: it must not block.
    pub fn take_with<F>(&self, write: F) -> std::io::Result<usize>
    where
        F: FnOnce(&[u8]) -> std::io::Result<usize>,
    {
        let mut inner = self.shared.lock();
        let data = inner.conn.peek(self.id, false);
        if data.is_empty() {
            return Ok(0);
        }
        let n = write(data)?.min(data.len());
        inner.conn.consume(self.id, n, false).map_err(Error::from)?;
        drop(inner);
        // The read may have queued a window adjustment.
        self.shared.driver.notify_one();
        Ok(n)
    }
}

impl AsyncRead for Channel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        poll_read_stream(&self.shared, self.id, false, cx, buf)
    }
}

impl AsyncRead for ChannelStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        poll_read_stream(&self.shared, self.id, true, cx, buf)
    }
}

fn poll_write_stream(
    shared: &Shared,
    id: ChannelId,
    cx: &mut Context<'_>,
    data: &[u8],
) -> Poll<std::io::Result<usize>> {
    let mut inner = shared.lock();
    if let Some(e) = &inner.error {
        return Poll::Ready(Err(e.clone().into()));
    }
    if inner.slot(id).closed {
        return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
    }
    match inner.conn.write(id, data) {
        Ok(0) if !data.is_empty() => {
            inner.slot(id).write_waker = Some(cx.waker().clone());
            Poll::Pending
        }
        Ok(n) => {
            drop(inner);
            shared.driver.notify_one();
            Poll::Ready(Ok(n))
        }
        Err(e) => Poll::Ready(Err(Error::from(e).into())),
    }
}

/// One data packet filled in place by `fill` (taken when it runs), once at least `min`
/// bytes may go; see [`ChannelWriter::write_with`].
fn poll_write_with<F>(
    shared: &Shared,
    id: ChannelId,
    cx: &mut Context<'_>,
    (min, max): (usize, usize),
    fill: &mut Option<F>,
) -> Poll<std::io::Result<usize>>
where
    F: FnOnce(&mut [u8]) -> std::io::Result<usize>,
{
    let mut inner = shared.lock();
    if let Some(e) = &inner.error {
        return Poll::Ready(Err(e.clone().into()));
    }
    if inner.slot(id).closed {
        return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
    }
    let Some(channel) = inner.conn.connection().channel(id) else {
        return Poll::Ready(Err(std::io::ErrorKind::NotConnected.into()));
    };
    let packet = channel.remote_max_packet as usize;
    if min > packet {
        return Poll::Ready(Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "more than the peer takes in one packet",
        )));
    }
    let room = usize::try_from(channel.remote_window)
        .unwrap_or(usize::MAX)
        .min(packet)
        .min(max);
    if room < min.max(1) {
        inner.slot(id).write_waker = Some(cx.waker().clone());
        return Poll::Pending;
    }
    let Some(fill) = fill.take() else {
        return Poll::Ready(Ok(0));
    };
    match inner.conn.write_with(id, max, fill) {
        Ok(Ok(n)) => {
            drop(inner);
            if n > 0 {
                shared.driver.notify_one();
            }
            Poll::Ready(Ok(n))
        }
        Ok(Err(e)) => Poll::Ready(Err(e)),
        Err(e) => Poll::Ready(Err(Error::from(e).into())),
    }
}

fn send_eof(shared: &Shared, id: ChannelId) -> std::io::Result<()> {
    shared
        .lock()
        .conn
        .send_eof(id)
        .map_err(|e| std::io::Error::from(Error::from(e)))?;
    shared.driver.notify_one();
    Ok(())
}

impl AsyncWrite for Channel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        poll_write_stream(&self.shared, self.id, cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // The driver sends as soon as it is woken; nothing is held here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(send_eof(&self.shared, self.id))
    }
}

impl ChannelWriter {
    /// The largest data packet the peer takes on this channel (its maximum packet
    /// size), or `None` once the channel is gone.
    pub fn peer_max_packet(&self) -> Option<u32> {
        let inner = self.shared.lock();
        let channel = inner.conn.connection().channel(self.id)?;
        Some(channel.remote_max_packet)
    }

    /// Sends one data packet whose bytes `fill` writes straight into the connection's
    /// outgoing packet buffer (a read from a file or a pipe), where it is sealed: no
    /// copy through a buffer of the caller's. Waits until at least `min` bytes (1 at
    /// least) may go in one packet; `fill` then gets room for as many as the peer's
    /// window and packet size allow, at most `max`, and returns how many it wrote. It
    /// runs with the connection locked: it must not block for long (a non-blocking
    /// read). Returns what `fill` returned: 0 or an error sends nothing. `min` above
    /// the peer's packet size fails with `InvalidInput`.
    pub async fn write_with<F>(&mut self, min: usize, max: usize, fill: F) -> std::io::Result<usize>
    where
        F: FnOnce(&mut [u8]) -> std::io::Result<usize>,
    {
        let mut fill = Some(fill);
        std::future::poll_fn(|cx| poll_write_with(&self.shared, self.id, cx, (min, max), &mut fill))
            .await
    }

    /// The polling form of [`ChannelWriter::write_with`], for `poll`-style writers:
    /// `fill` runs only when this returns `Ready`.
    pub fn poll_write_with<F>(
        &mut self,
        cx: &mut Context<'_>,
        min: usize,
        max: usize,
        fill: F,
    ) -> Poll<std::io::Result<usize>>
    where
        F: FnOnce(&mut [u8]) -> std::io::Result<usize>,
    {
        poll_write_with(&self.shared, self.id, cx, (min, max), &mut Some(fill))
    }
}

impl AsyncWrite for ChannelWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        poll_write_stream(&self.shared, self.id, cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(send_eof(&self.shared, self.id))
    }
}
