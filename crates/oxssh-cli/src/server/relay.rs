//! One forwarded connection relayed to its channel: the socket is read only as far as
//! a small budget of chunks allows (refilled as the channel window takes them), and
//! written through a bounded queue, so a stalled peer stalls only its own channel.
//! EOF and close are passed on in both directions, as sshd does.

use std::collections::VecDeque;
use std::sync::Arc;

use oxssh_proto::connection::ChannelId;
use oxssh_proto::TransportError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::conn::{Conn, STDIN_CHUNK};
use super::forward::FwdMsg;

/// Bytes per read from a forwarded socket.
const CHUNK: usize = 64 * 1024;
/// Chunks read ahead per relay, waiting for window.
const READ_AHEAD: usize = 4;
/// Chunks queued towards a forwarded socket.
const WRITE_QUEUE: usize = 4;

/// A byte stream a channel is relayed to.
pub(super) trait Socket: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Socket for T {}

/// Read data waiting for window.
pub(super) struct Pending {
    pub data: Vec<u8>,
    pub sent: usize,
    pub _permit: OwnedSemaphorePermit,
}

/// One channel relayed to a socket.
pub(super) struct Relay {
    pub pending: VecDeque<Pending>,
    /// Towards the socket; dropped after the client's EOF.
    pub to_socket: Option<mpsc::Sender<Vec<u8>>>,
    pub socket_eof: bool,
    eof_sent: bool,
    client_eof: bool,
    pub write_done: bool,
    close_sent: bool,
    /// The client's CLOSE came: what it sent before still goes to the socket, then
    /// the channel is released.
    peer_closed: bool,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Relay {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Relay {
    pub(super) fn start(
        id: ChannelId,
        socket: Box<dyn Socket>,
        events: mpsc::UnboundedSender<FwdMsg>,
    ) -> Self {
        let (reader, writer) = tokio::io::split(socket);
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let read_task = tokio::spawn(read_socket(reader, id, events.clone()));
        let write_task = tokio::spawn(write_socket(writer, rx, id, events));
        Self {
            pending: VecDeque::new(),
            to_socket: Some(tx),
            socket_eof: false,
            eof_sent: false,
            client_eof: false,
            write_done: false,
            close_sent: false,
            peer_closed: false,
            tasks: [read_task, write_task],
        }
    }
}

async fn read_socket(
    mut reader: tokio::io::ReadHalf<Box<dyn Socket>>,
    id: ChannelId,
    events: mpsc::UnboundedSender<FwdMsg>,
) {
    let budget = Arc::new(Semaphore::new(READ_AHEAD));
    loop {
        let Ok(permit) = budget.clone().acquire_owned().await else {
            break;
        };
        let mut data = vec![0u8; CHUNK];
        match reader.read(&mut data).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                data.truncate(n);
                if events.send(FwdMsg::Data { id, data, permit }).is_err() {
                    return;
                }
            }
        }
    }
    let _ = events.send(FwdMsg::ReadEof { id });
}

async fn write_socket(
    mut writer: tokio::io::WriteHalf<Box<dyn Socket>>,
    mut queue: mpsc::Receiver<Vec<u8>>,
    id: ChannelId,
    events: mpsc::UnboundedSender<FwdMsg>,
) {
    while let Some(data) = queue.recv().await {
        let ok = writer.write_all(&data).await.is_ok();
        let _ = events.send(FwdMsg::Drained);
        if !ok {
            break;
        }
    }
    let _ = writer.shutdown().await;
    let _ = events.send(FwdMsg::WriteDone { id });
}

impl Conn {
    /// A channel we opened was confirmed (or refused): relay its socket, or drop it.
    pub(super) fn open_answered(&mut self, id: ChannelId, ok: bool) {
        if let Some(socket) = self.fwd.opening.remove(&id) {
            if ok {
                let relay = Relay::start(id, socket, self.fwd.events());
                self.fwd.relays.insert(id, relay);
            }
        }
        if !ok {
            self.core.release(id);
        }
    }

    /// The client closed a channel; `false` when it is not a relay. A relay is released
    /// once the data the client sent before closing reached its socket.
    pub(super) fn relay_closed(&mut self, id: ChannelId) -> bool {
        match self.fwd.relays.get_mut(&id) {
            Some(r) => {
                r.peer_closed = true;
                r.client_eof = true;
                true
            }
            None => false,
        }
    }

    /// The client sent EOF on a relayed channel.
    pub(super) fn relay_client_eof(&mut self, id: ChannelId) {
        if let Some(r) = self.fwd.relays.get_mut(&id) {
            r.client_eof = true;
        }
    }

    /// Moves relayed data both ways as far as windows and queues allow, passes EOFs on,
    /// and closes channels whose both directions are done.
    pub(super) fn pump_relays(&mut self) -> Result<(), TransportError> {
        let ids: Vec<ChannelId> = self.fwd.relays.keys().copied().collect();
        for id in ids {
            let Some(r) = self.fwd.relays.get_mut(&id) else {
                continue;
            };
            if r.close_sent && !r.peer_closed {
                continue;
            }
            // Socket towards the client.
            while !r.eof_sent && !r.peer_closed {
                let Some(chunk) = r.pending.front_mut() else {
                    break;
                };
                let rest = chunk.data.get(chunk.sent..).unwrap_or_default();
                let n = self.core.write(id, rest, false)?;
                chunk.sent += n;
                if chunk.sent < chunk.data.len() {
                    break;
                }
                r.pending.pop_front();
            }
            if r.socket_eof && r.pending.is_empty() && !r.eof_sent && !r.peer_closed {
                self.core.send_eof(id)?;
                r.eof_sent = true;
            }
            // Client towards the socket.
            let mut input_done = false;
            loop {
                let permit = match r.to_socket.as_ref().map(mpsc::Sender::try_reserve) {
                    Some(Ok(permit)) => Some(permit),
                    Some(Err(mpsc::error::TrySendError::Full(()))) => break,
                    // The socket is done for writing: discard, keep the window open.
                    _ => None,
                };
                let data = self.core.read_owned(id, STDIN_CHUNK)?;
                if data.is_empty() {
                    input_done = true;
                    break;
                }
                if let Some(permit) = permit {
                    permit.send(data);
                }
            }
            if r.client_eof && input_done {
                // Everything the client sent is queued: the socket sees EOF after it.
                r.to_socket = None;
            }
            if r.peer_closed {
                // Nothing more goes to the client: let the reader's budget go.
                r.pending.clear();
                if r.write_done {
                    self.fwd.relays.remove(&id);
                    self.core.release(id);
                }
            } else if r.eof_sent && r.write_done && !r.close_sent {
                r.close_sent = true;
                self.core.close(id)?;
            }
        }
        Ok(())
    }
}
